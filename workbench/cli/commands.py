"""The `workbench` Typer app and how a command is registered and run: its help ends with
its example, its errors are one line, Ctrl-C stops it cleanly."""

from __future__ import annotations

import ast
import functools
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.text import Text
from typer.core import TyperCommand

from workbench.cli.output import (
    err,
    fail,
)

if TYPE_CHECKING:
    pass


app = typer.Typer(
    help="Workbench: import event logs, explore them, rebuild any moment.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


F = TypeVar("F", bound=Callable[..., Any])


#: Set when the user presses Ctrl-C; a stoppable command (an import) checks it between
#: batches and ends after the batch it is writing.
stop_requested = threading.Event()


def command(
    function: F,
    *,
    on: typer.Typer | None = None,
    name: str | None = None,
    stoppable: bool = False,
    paired: tuple[str, ...] = (),
) -> F:
    """Register a command whose help ends with the docstring's ``Example:`` line.

    What goes wrong is one line: Workbench's errors (bad input, an unknown log, a store
    that cannot be opened or is busy) exit with code 2; an interrupt (Ctrl-C) with 130,
    keeping what was committed. The command runs on a worker thread, so that Ctrl-C never
    lands inside a database driver's call (the SQLite driver cannot cancel one, and tries):
    a ``stoppable`` command is asked to stop and finishes its batch; any other ends at once,
    which leaves the store as a crash would, with every committed write kept.
    """
    doc = function.__doc__ or ""
    body, _, example = doc.partition("Example:")
    function.__doc__ = body.rstrip()
    epilog = f"Example: {example.strip()}" if example else None

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        outcome: dict[str, Any] = {}

        done = threading.Event()

        def work() -> None:
            try:
                outcome["value"] = function(*args, **kwargs)
            except BaseException as error:  # handed back to the main thread below
                outcome["error"] = error
            finally:
                done.set()

        stop_requested.clear()
        # SIGTERM stops a command as Ctrl-C does: a follower started in the background of
        # a script (where a non-interactive shell makes it ignore SIGINT) can be stopped.
        terminate = (
            signal.signal(signal.SIGTERM, _terminated)
            if threading.current_thread() is threading.main_thread()
            else None
        )
        # An event, not Thread.join: a join that Ctrl-C interrupts may later return early.
        threading.Thread(target=work, name="workbench command", daemon=True).start()
        try:
            while not done.wait(0.1):
                pass
        except KeyboardInterrupt:
            stop_requested.set()
            if not stoppable:
                _interrupted()
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(130)
            done.wait()
        finally:
            if terminate is not None:
                signal.signal(signal.SIGTERM, terminate)
        error = outcome.get("error")
        if error is None:
            return outcome.get("value")
        from workbench.events import WorkbenchError  # not at start: it loads Polars

        if isinstance(error, WorkbenchError):
            fail(str(error))
        if isinstance(error, KeyboardInterrupt):
            _interrupted()
            raise typer.Exit(130) from None
        raise error

    if paired:
        (on or app).command(name, epilog=epilog, cls=_paired_command(paired))(run)
    else:
        (on or app).command(name, epilog=epilog)(run)
    return function


def _paired_command(names: tuple[str, ...]) -> type[TyperCommand]:
    """A command class whose options ``names`` take two values each time they are given
    (``--segment A B``), which Typer cannot declare: each pair reaches the function as the
    text of a tuple, which `pairs` reads back."""

    class Paired(TyperCommand):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            for param in self.params:
                if param.name in names:
                    param.nargs = 2

    return Paired


def pairs(given: list[str] | None) -> list[tuple[str, str]]:
    """The pairs of a `command`'s ``paired`` option, as given."""
    found = []
    for text in given or []:
        pair = ast.literal_eval(text)
        found.append((str(pair[0]), str(pair[1])))
    return found


def _terminated(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _interrupted() -> None:
    err.print(
        Text.assemble(
            ("interrupted:", "yellow"),
            " stopped by the user; what was committed is kept, and an import resumes"
            " where it stopped when run again",
        )
    )
