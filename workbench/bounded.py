"""Work that keeps a limit: a wall-clock budget and a memory ceiling that hold.

A long computation (alignments, token replay, discovery) runs in a worker process and sends
each result as it finishes. The caller keeps the results that arrived and stops the worker
the moment the budget runs out or the worker's resident memory passes the ceiling, however
long one step of the work would still take: a limit is kept in wall-clock time, not checked
between steps. Without a limit the work runs here, in this process.

Workers are new interpreters, never forks (a process that has run Polars must not fork),
and they do not re-run the caller's main module: a script without a ``__main__`` guard, a
notebook and the app all work.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from workbench.events import WorkbenchError

P = TypeVar("P")
T = TypeVar("T")
POLL = 0.02  # seconds between looks at the worker's memory
DRAIN = 0.2  # seconds spent taking results already sent, once the limit is reached

Reason = Literal["time", "memory"]


class WorkerFailed(WorkbenchError):
    """The work raised an error (its message is the work's own) or its process died."""


def physical_memory() -> int:
    """This machine's memory in bytes (0 when the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def default_memory() -> int:
    """The memory ceiling when none is given: half of this machine's memory, at most 8 GB."""
    half = physical_memory() // 2
    return min(half, 8 * 1024**3) if half else 8 * 1024**3


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes from ``512MB``, ``2GB``, ``1.5G`` or a plain number of bytes; ValueError naming
    the text otherwise."""
    found = _SIZE.match(text)
    if not found:
        raise ValueError(f"{text!r} is not a size: give one such as 512MB or 2GB")
    number, unit = float(found.group(1)), found.group(2).lower()
    size = int(number * 1024 ** " kmgt".index(unit or " "))
    if size <= 0:
        raise ValueError(f"{text!r} leaves no memory: give a positive size")
    return size


def human_size(size: int) -> str:
    """``2.0 GB``, ``512 MB``."""
    if size >= 1024**3:
        return f"{size / 1024**3:.1f} GB"
    return f"{size / 1024**2:.0f} MB"


@dataclass(frozen=True)
class Limit:
    """A wall-clock budget in seconds, counted from ``started`` (`time.monotonic`), and a
    ceiling on the worker's resident memory in bytes; either may be None."""

    seconds: float | None = None
    memory: int | None = None
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.seconds is not None and not self.seconds > 0:
            raise ValueError(
                f"a time budget of {self.seconds:g} s leaves no time: give a positive number"
            )
        if self.memory is not None and self.memory <= 0:
            raise ValueError(f"a memory ceiling of {self.memory} bytes: give a positive size")

    @property
    def deadline(self) -> float | None:
        return None if self.seconds is None else self.started + self.seconds

    def describe(self, reason: Reason) -> str:
        """What was reached, for a note: ``the time budget of 30 s``."""
        if reason == "time":
            return f"the time budget of {self.seconds:g} s"
        return f"the memory ceiling of {human_size(self.memory or 0)}"


@dataclass
class Outcome(Generic[T]):
    """The results that arrived, in order, and why the work stopped early (None: it
    finished)."""

    results: list[T]
    stopped: Reason | None = None


def run(
    work: Callable[[P], Iterator[T]],
    payload: P,
    limit: Limit | None = None,
    *,
    progress: Callable[[int], None] | None = None,
) -> Outcome[T]:
    """Run ``work(payload)`` and collect what it yields, within ``limit``.

    ``work`` must be a module-level function and ``payload`` picklable: with a limit they
    go to a worker process, which is killed when the limit is reached. Errors in
    the work are raised here as `WorkerFailed` with the work's message."""
    if limit is None or (limit.seconds is None and limit.memory is None):
        results: list[T] = []
        for result in work(payload):
            results.append(result)
            if progress is not None:
                progress(len(results))
        return Outcome(results)
    return _in_worker(work, payload, limit, progress)


@dataclass
class _Worker:
    """A worker process: it imports what the work needs, then waits for the work."""

    process: subprocess.Popen[bytes]
    tasks: Connection  # where the work and its payload are sent
    results: Connection  # where the worker sends what it yields

    def alive(self) -> bool:
        return self.process.poll() is None


_spare: list[_Worker] = []  # at most one: a prepared worker waiting for its first work
_spare_lock = threading.Lock()


#: The niceness of what is imported ahead of work: pages and commands go first. Not the
#: lowest, and not Linux's idle class: work that waits for such a thread (a job for the
#: imports, a page for the import lock) would wait as long as the machine is busy.
BACKGROUND = 10


def _lower_priority(thread: int = 0) -> None:
    """Lower a thread's CPU priority (0: the calling one) to `BACKGROUND`, where allowed."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, thread, BACKGROUND)


def prepare() -> None:
    """Start a worker in the background that imports the aligners, token replay and pm4py
    (quietly) and then waits: the next `run` with a limit uses it instead of one started
    anew, and starts the next spare. For a long-lived process (the app), where a job should
    not wait for a worker to start. Such a worker imports at a lower CPU priority, so that
    the pages of the app answer first; the work it is given runs at the app's own."""
    with _spare_lock:
        if not (_spare and _spare[0].alive()):
            _spare[:] = [_start(prepared=True)]


def _start(prepared: bool) -> _Worker:
    """A new interpreter (not a fork, and not a re-run of this program's main module, as
    multiprocessing's spawn would do) running `_child`, on two pipes."""
    task_out, task_in = os.pipe()
    result_out, result_in = os.pipe()
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from workbench.bounded import _child; _child()",
            str(task_out),
            str(result_in),
            *(["prepared"] if prepared else []),
        ],
        pass_fds=(task_out, result_in),
        env=environment,
        stdin=subprocess.DEVNULL,
    )
    os.close(task_out)
    os.close(result_in)
    return _Worker(
        process, Connection(task_in, readable=False), Connection(result_out, writable=False)
    )


#: Workers that finished their work, waiting for more: the next work starts at once.
_idle: list[_Worker] = []
IDLE = 2  # workers kept waiting
IDLE_MEMORY = 768 * 1024**2  # a worker holding more than this is not kept


def _take() -> _Worker:
    """A worker that finished its last work, a spare one that was prepared (and the next
    one started), else a new one."""
    with _spare_lock:
        while _idle:
            worker = _idle.pop()
            if worker.alive():
                return worker
        if _spare and _spare[0].alive():
            worker, _spare[:] = _spare[0], [_start(prepared=True)]
            return worker
    return _start(prepared=False)


def _in_worker(
    work: Callable[[P], Iterator[T]],
    payload: P,
    limit: Limit,
    progress: Callable[[int], None] | None,
) -> Outcome[T]:
    worker = _take()
    process, receiver = worker.process, worker.results
    with contextlib.suppress(OSError):  # a worker that died before it took the work
        worker.tasks.send((work, payload))  # is found below, by its exit code
    results: list[T] = []
    stopped: Reason | None = None
    deadline = limit.deadline
    finished = False  # the worker answered in full, and waits for more work
    try:
        while True:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                stopped = "time"
                break
            wait = POLL if deadline is None else min(POLL, deadline - now)
            if receiver.poll(wait):
                try:
                    kind, value = receiver.recv()
                except EOFError:
                    raise WorkerFailed(_death(process.wait(1))) from None
                if kind == "done":
                    finished = True
                    break
                if kind == "error":
                    finished = True
                    raise WorkerFailed(value)
                results.append(value)
                if progress is not None:
                    progress(len(results))
            elif process.poll() is not None and not receiver.poll(0):
                raise WorkerFailed(_death(process.returncode))
            if limit.memory is not None and _resident(process.pid) > limit.memory:
                stopped = "memory"
                break
        if stopped is not None:
            # Results already sent count: take them, briefly, before the worker goes.
            until = time.monotonic() + DRAIN
            while time.monotonic() < until and receiver.poll(0):
                try:
                    kind, value = receiver.recv()
                except EOFError:
                    break
                if kind != "item":
                    break
                results.append(value)
    finally:
        if not (finished and _keep(worker)):
            if process.poll() is None:
                process.kill()
            process.wait()
            worker.tasks.close()
            receiver.close()
    return Outcome(results, stopped)


@atexit.register
def _shutdown() -> None:
    """End the workers kept waiting: a closed pipe tells each to stop."""
    with _spare_lock:
        waiting = [*_idle, *_spare]
        _idle.clear()
        _spare.clear()
    for worker in waiting:
        worker.tasks.close()
    for worker in waiting:
        try:
            worker.process.wait(2)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()
        worker.results.close()


def _keep(worker: _Worker) -> bool:
    """Keep a worker that finished its work for the next, unless enough wait already or it
    holds much memory; True when kept."""
    with _spare_lock:
        if len(_idle) >= IDLE or not worker.alive():
            return False
        if _resident(worker.process.pid) > IDLE_MEMORY:
            return False
        _idle.append(worker)
        return True


def _child() -> None:
    """The worker's program: its pipes, and whether to import the mining modules first,
    are its arguments."""
    tasks, sender = int(sys.argv[1]), int(sys.argv[2])
    _wait(
        sys.argv[3:] == ["prepared"],
        Connection(tasks, writable=False),
        Connection(sender, readable=False),
    )


def _wait(prepared: bool, tasks: Connection, sender: Connection) -> None:
    """The worker: import what the work will need (``prepared``: the aligners, replay and
    pm4py), then do each work it is given, until the parent closes the pipe (or goes
    away)."""
    if prepared:
        import numpy  # noqa: F401  (its BLAS threads started here, at the work's priority)

        importing = threading.Thread(target=_import_ahead, name="import ahead")
        importing.start()
        importing.join()
    while True:
        try:
            work, payload = tasks.recv()
        except EOFError:  # the parent went away, or keeps no worker waiting
            return
        except Exception as error:  # what the parent sent does not unpickle here
            sender.send(("error", f"the work could not be handed to a worker: {error!r}"))
            continue
        _serve(work, payload, sender)


def _import_ahead() -> None:
    """Import what prepared work needs (the aligners, replay and pm4py), on a thread of
    the `BACKGROUND` priority: threads inherit it, and the work runs on another."""
    _lower_priority(threading.get_native_id())
    from workbench import aligners, replay  # noqa: F401  (imported ahead of the work)
    from workbench.models import pm4py

    pm4py()


def _serve(work: Callable[[Any], Iterator[Any]], payload: Any, sender: Connection) -> None:
    """Send each result of the work, then ``done``; or the error's message."""
    try:
        for result in work(payload):
            sender.send(("item", result))
        sender.send(("done", None))
    except MemoryError:
        sender.send(("error", "the work ran out of memory"))
    except Exception as error:
        sender.send(("error", str(error) or type(error).__name__))


def _death(code: int | None) -> str:
    if code is not None and code < 0:
        return f"the worker process was stopped by signal {-code}"
    return f"the worker process ended unexpectedly (exit code {code})"


def _resident(pid: int | None) -> int:
    """The process's resident memory in bytes (0 when it cannot be read)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"^VmRSS:\s+(\d+)\s+kB", text, re.MULTILINE)
    return int(found.group(1)) * 1024 if found else 0
