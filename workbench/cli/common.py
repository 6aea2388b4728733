"""What every command shares: the app, the store it opens, output, errors, and the options
declared once (the store, JSON output, the log, and the filter flags).

Data is never markup: the consoles print text as it is (a log name ``[x]``, an activity
``Check [manual]`` or a value ``[/bold]`` is shown, not interpreted), and JSON is written
with the standard library.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import polars as pl
import typer
from rich.console import Console
from rich.text import Text

from workbench.application import Cut, Workbench, moment
from workbench.events import WorkbenchError
from workbench.filters import Filters
from workbench.store import EventStore

if TYPE_CHECKING:
    from workbench.readmodel import ReadModel

app = typer.Typer(
    help="Workbench: import event logs, explore them, rebuild any moment.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)

out = Console(markup=False, highlight=False, emoji=False)
err = Console(stderr=True, markup=False, highlight=False, emoji=False, soft_wrap=True)

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
        error = outcome.get("error")
        if error is None:
            return outcome.get("value")
        if isinstance(error, WorkbenchError):
            fail(str(error))
        if isinstance(error, KeyboardInterrupt):
            _interrupted()
            raise typer.Exit(130) from None
        raise error

    (on or app).command(name, epilog=epilog)(run)
    return function


def _interrupted() -> None:
    err.print(
        Text.assemble(
            ("interrupted:", "yellow"),
            " stopped by the user; what was committed is kept, and an import resumes"
            " where it stopped when run again",
        )
    )


# ------------------------------------------------------------------ the store

DEFAULT_DB = "workbench.db"
DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        metavar="STORE",
        envvar="WORKBENCH_DB",
        help="The store: a file (SQLite, created if missing) or a postgresql:// URL.",
        show_default=True,
    ),
]
TimeoutOption = Annotated[
    float,
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        envvar="WORKBENCH_TIMEOUT",
        help="Seconds to wait for another process that is writing to the store.",
        show_default=True,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
LogArgument = Annotated[str, typer.Argument(help="The log (or LOG/TYPE view).")]


class _Session:
    """The application of one invocation, opened on first use and closed when the command
    ends."""

    location: str = DEFAULT_DB
    timeout: float = 60.0
    opened: Workbench | None = None

    def close(self) -> None:
        if self.opened is not None:
            self.opened.close()
            self.opened = None


session = _Session()


def workbench() -> Workbench:
    """The application over the store named by ``--db``."""
    if session.opened is None:
        session.opened = Workbench(session.location, timeout=session.timeout)
    return session.opened


def store() -> EventStore:
    """The store named by ``--db``."""
    return workbench().store


def read_model() -> ReadModel:
    """The store's read model (columnar segments beside it); events written while it is open
    become segments as they commit."""
    return workbench().model


def is_url(location: str) -> bool:
    """Whether a store location is a server URL rather than a file."""
    return bool(re.match(r"^[a-z][a-z0-9+.-]*://", location))


# ------------------------------------------------------------------ output


def fail(message: str) -> NoReturn:
    """Print one line, ``error: ...``, and exit with code 2."""
    err.print(Text.assemble(("error:", "red"), " ", message))
    raise typer.Exit(2)


def warn(message: str) -> None:
    """Print one line, ``warning: ...``, to stderr."""
    err.print(Text.assemble(("warning:", "yellow"), " ", message))


def heading(title: str, rest: str = "") -> None:
    """A bold title (data shown as it is) followed by plain text."""
    out.print(Text.assemble((title, "bold"), rest))


def emit_json(value: Any) -> None:
    """Print a JSON document (times as ISO 8601 text)."""
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=_jsonable) + "\n")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return str(value)


def records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows ready for JSON: times as ISO 8601 text, durations as seconds."""
    converted = frame.with_columns(
        pl.col(name).dt.total_microseconds().truediv(1e6)
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Duration)
    )
    return [
        {
            key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in row.items()
        }
        for row in converted.to_dicts()
    ]


def seconds(value: timedelta | None) -> float | None:
    """A duration as seconds (None stays None)."""
    return None if value is None else value.total_seconds()


def write_text(text: str, output: Path | None) -> None:
    """Text to stdout, or to a file whose folder must exist."""
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    check_output(output)
    output.write_text(text, encoding="utf-8")


def check_output(output: Path) -> None:
    """Refuse an output file in a folder that does not exist, or that is a folder."""
    if output.is_dir():
        fail(f"--output {output}: is a folder; give a file name")
    if not output.parent.is_dir():
        fail(f"--output {output}: the folder {output.parent} does not exist")


# ------------------------------------------------------------------ logs and moments


def existing_log(log: str) -> str:
    """The log name, if the store has that log or view; else one line and exit code 2."""
    if not store().has_log(log):
        fail(f"no log named {log!r} in the store (see `workbench logs`)")
    return log


KnownAtOption = Annotated[
    str | None,
    typer.Option("--known-at", help="As the store knew it then: a time, or a position (digits)."),
]


# ------------------------------------------------------------------ the filter flags


@dataclass(frozen=True)
class FilterFlags:
    """The common filters and time cuts, as given on the command line."""

    start: str | None = None
    end: str | None = None
    activity: list[str] | None = None
    attribute: list[str] | None = None
    as_of: str | None = None
    known_at: str | None = None
    lifecycle: list[str] | None = None

    def parse(self) -> tuple[Cut, Filters]:
        """The flags as a `Cut` and `Filters`, parsed once."""
        from workbench.filters import Contains, Lifecycle, TimeRange

        cut = Cut.parse(as_of=self.as_of, known_at=self.known_at)
        items: list[Any] = []
        if self.start or self.end:
            low = moment(self.start, "--from") if self.start else None
            high = moment(self.end, "--to") if self.end else None
            if low is not None and high is not None and high < low:
                fail(f"--to {self.end} is before --from {self.start}")
            items.append(TimeRange(low, high))
        if self.lifecycle:
            items.append(Lifecycle(tuple(self.lifecycle)))
        if self.activity:
            items.append(Contains(tuple(self.activity)))
        for pair in self.attribute or []:
            items.append(attribute_filter(pair, "--attribute"))
        return cut, Filters(tuple(items))


_FILTER_FLAGS: dict[str, Any] = {
    "start": Annotated[
        str | None,
        typer.Option("--from", help="Cases active from this time (ISO 8601, UTC if no offset)."),
    ],
    "end": Annotated[str | None, typer.Option("--to", help="Cases active until this time.")],
    "activity": Annotated[
        list[str] | None, typer.Option("--activity", help="Cases with this activity (repeatable).")
    ],
    "attribute": Annotated[
        list[str] | None,
        typer.Option(
            "--attribute",
            help=r"Cases with KEY=VALUE (VALUE may be a,b,c; \, is a comma within a value;"
            " repeatable).",
        ),
    ],
    "as_of": Annotated[
        str | None, typer.Option("--as-of", help="The log as it happened up to this time.")
    ],
    "known_at": KnownAtOption,
    "lifecycle": Annotated[
        list[str] | None,
        typer.Option(
            "--lifecycle", help="Only events with this lifecycle, e.g. complete (repeatable)."
        ),
    ],
}


def with_filters(function: F, *, cuts: bool = True) -> F:
    """Give a command the filter flags, and unless ``cuts`` is False the cut flags
    (``--as-of``, ``--known-at``), parsed once: it receives ``filters: Filters`` and, with
    the cut flags, ``cut: Cut``."""
    signature = inspect.signature(function, eval_str=True)
    kept = [p for p in signature.parameters.values() if p.name not in ("cut", "filters")]
    names = [n for n in _FILTER_FLAGS if cuts or n not in ("as_of", "known_at")]
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=kind)
        for name, kind in _FILTER_FLAGS.items()
        if name in names
    ]

    @functools.wraps(function)
    def run(**given: Any) -> Any:
        cut, filters = FilterFlags(**{name: given.pop(name) for name in names}).parse()
        return function(**given, filters=filters, **({"cut": cut} if cuts else {}))

    run.__signature__ = signature.replace(parameters=[*kept, *added])  # type: ignore[attr-defined]
    run.__annotations__ = {
        **{p.name: p.annotation for p in kept},
        **{p.name: p.annotation for p in added},
    }
    return run  # type: ignore[return-value]


def attribute_filter(pair: str, flag: str) -> Any:
    """A ``KEY=VALUES`` flag as an `Attribute` filter."""
    from workbench.filters import Attribute

    key, sep, values = pair.partition("=")
    if not sep or not key:
        fail(f"{flag} {pair!r}: write KEY=VALUE")
    return Attribute(key, attribute_values(values))


def attribute_values(text: str) -> tuple[str, ...]:
    """The values of ``--attribute KEY=VALUES``: split at commas, where ``\\,`` is a comma
    within a value and ``\\\\`` a backslash.

    >>> attribute_values(r"north,south")
    ('north', 'south')
    >>> attribute_values(r"Smith\\, J.,Lee")
    ('Smith, J.', 'Lee')
    """
    values, current, escaped = [], [], False
    for character in text:
        if escaped:
            current.append(character if character in ",\\" else "\\" + character)
            escaped = False
        elif character == "\\":
            escaped = True
        elif character == ",":
            values.append("".join(current))
            current = []
        else:
            current.append(character)
    if escaped:
        current.append("\\")
    values.append("".join(current))
    return tuple(values)


EngineOption = Annotated[
    str,
    typer.Option(
        "--engine",
        help="polars (on this machine) or spark (Apache Spark: see --spark-master).",
    ),
]
SparkMasterOption = Annotated[
    str | None,
    typer.Option(
        "--spark-master",
        help="Where Spark runs: local[*] (default), spark://host:7077, yarn, sc://host.",
    ),
]


def engine_of(engine: str, master: str | None) -> Workbench:
    """The application, computing on ``engine`` (refused when it does not exist)."""
    found = workbench()
    found.use(engine, master)
    return found


def untimed_note(log: str) -> str | None:
    """A note for time-based output when the log was imported without times."""
    summary = store().summary(log)
    if summary.timed:
        return None
    return "this log has no times (imported with --no-times): durations and dates are not shown"
