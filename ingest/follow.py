"""Following a source: a CSV or JSON lines file that grows, or a folder that files are
dropped into, imported as they arrive until stopped.

A growing file is imported up to its last complete line (a line still being written waits
for its end) by the same jobs as any import: batches, rejects, progress. Each round imports
a copy of that prefix, skipping the rows earlier rounds took, so derived ids number repeats
across the whole file; where the rounds stopped is read back from the job ledger, so a
follower killed and started again resumes, and the store's event ids keep anything from
being stored twice. A file dropped into a folder is imported once it has stopped growing.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ingest.errors import IngestError
from ingest.formats import copy_range, detect_format, sniff
from ingest.jobs import Summary, ingest, log_name
from ingest.mapping import ColumnMapping
from ingest.options import ParseOptions
from workbench.store import EventStore

#: The formats whose files grow by lines.
GROWING = ("csv", "jsonl")


def _taken(store: EventStore, log: str, source: str) -> int:
    """Source rows that earlier rounds of following ``source`` took (committed)."""
    rows = [
        job.rows_committed
        for job in store.ledger.jobs(log=log)
        if job.source == source and job.status != "unchanged"
    ]
    return max(rows, default=0)


def _complete(path: Path) -> int:
    """The size of the file up to and including its last line break."""
    with path.open("rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        step = 1 << 16
        end = size
        while end > 0:
            start = max(0, end - step)
            handle.seek(start)
            block = handle.read(end - start)
            found = block.rfind(b"\n")
            if found >= 0:
                return start + found + 1
            end = start
    return 0


def follow_file(
    store: EventStore,
    path: Path,
    *,
    log: str | None = None,
    mapping: ColumnMapping | None = None,
    options: ParseOptions | None = None,
    once: bool = False,
    poll: float = 1.0,
    stop: threading.Event | None = None,
    report: Callable[[Summary], None] | None = None,
    actor: str | None = None,
) -> None:
    """Import what is appended to a CSV or JSON lines file, round after round, until
    ``stop`` is set (or after one round, with ``once``)."""
    log = log or log_name(path)
    kind: str | None = None
    imported = -1
    while True:
        if path.exists():
            size = _complete(path)
            if size and size != imported:
                kind = kind or detect_format(path, sniff(path))
                if kind not in GROWING:
                    raise IngestError(
                        f"{path}: only CSV and JSON lines files are followed as they grow,"
                        f" not {kind}; drop whole files into a folder and follow the folder"
                    )
                if not (kind == "csv" and _one_line(path, size)):
                    with tempfile.TemporaryDirectory(prefix="workbench-follow-") as folder:
                        copy = Path(folder) / path.name
                        summary = _round(
                            store, path, copy, size, log, mapping, options, kind, stop, actor
                        )
                    imported = size
                    if report is not None:
                        report(summary)
        if _done(once, poll, stop):
            return


def _round(
    store: EventStore,
    path: Path,
    copy: Path,
    size: int,
    log: str,
    mapping: ColumnMapping | None,
    options: ParseOptions | None,
    kind: str,
    stop: threading.Event | None,
    actor: str | None = None,
) -> Summary:
    """One round: the file's first ``size`` bytes, copied, imported after the rows that
    earlier rounds took."""
    source = str(path.resolve())
    try:
        with path.open("rb") as reading, copy.open("wb") as writing:
            copy_range(reading.fileno(), writing.fileno(), 0, size)
    except OSError as error:  # the file shrank while it was copied (rotated, truncated)
        return _failed(log, source, kind, IngestError(f"{path}: {error}"))
    try:
        return ingest(
            store,
            copy,
            log=log,
            mapping=mapping,
            options=options,
            format=kind,
            source=source,
            start_row=_taken(store, log, source),
            stop=stop,
            actor=actor,
        )
    except IngestError as error:  # nothing new could be stored (only rejects): go on
        # The message names the file followed, not the round's private copy of it.
        return _failed(log, source, kind, IngestError(str(error).replace(str(copy), str(path))))


def _one_line(path: Path, size: int) -> bool:
    """Whether the first ``size`` bytes of a file are one line: in a CSV file, a header whose
    rows have not come yet (a follower waits for them rather than failing a round)."""
    with path.open("rb") as handle:
        return len(handle.readline(size)) >= size


def _failed(log: str, source: str, kind: str, error: IngestError) -> Summary:
    """A round that stored nothing (only rejects, or a file that cannot be read)."""
    return Summary(
        log=log, events_read=0, events_added=0, duplicates=0, rejected=0, job_id=0,
        status="failed", format=kind, source=source, seconds=0.0, message=str(error),
    )  # fmt: skip


def _done(once: bool, poll: float, stop: threading.Event | None) -> bool:
    """Wait ``poll`` seconds for the next round; True when there is to be none."""
    if once:
        return True
    if stop is not None:
        return stop.wait(poll)
    time.sleep(poll)
    return False


def follow_folder(
    store: EventStore,
    folder: Path,
    *,
    log: str | None = None,
    mapping: ColumnMapping | None = None,
    options: ParseOptions | None = None,
    once: bool = False,
    poll: float = 1.0,
    stop: threading.Event | None = None,
    report: Callable[[Summary], None] | None = None,
    actor: str | None = None,
) -> None:
    """Import each file dropped into ``folder`` once it has stopped growing (its size the
    same at two looks), until ``stop`` is set (or after one look, with ``once``). A file
    imported before is a no-op (the ledger knows its content)."""
    sizes: dict[Path, int] = {}
    done: set[tuple[Path, int]] = set()
    while True:
        for path in sorted(
            p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
        ):
            size = path.stat().st_size
            steady = sizes.get(path) == size or once
            sizes[path] = size
            if not steady or (path, size) in done or size == 0:
                continue
            done.add((path, size))
            try:
                summary = ingest(
                    store, path, log=log, mapping=mapping, options=options, stop=stop, actor=actor
                )
            except IngestError as error:
                summary = _failed(log or log_name(path), str(path), "", error)
            if report is not None:
                report(summary)
        if _done(once, poll, stop):
            return
