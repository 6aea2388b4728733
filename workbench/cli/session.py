"""The application of one invocation (the store named by ``--db``), opened on first use and
closed when the command ends, and the questions about logs every command asks."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated

import typer

from workbench.cli.output import (
    fail,
)

if TYPE_CHECKING:
    from workbench.application import Workbench
    from workbench.readmodel import ReadModel
    from workbench.store import EventStore


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

AsOption = Annotated[
    str | None,
    typer.Option(
        "--as",
        metavar="USER",
        envvar="WORKBENCH_AS",
        help="Act as this user of `workbench users`, with the rights of their role (as the"
        " app would let them).",
    ),
]


class _Session:
    """The application of one invocation, opened on first use and closed when the command
    ends."""

    location: str = DEFAULT_DB
    timeout: float = 60.0
    acting: str | None = None  # --as: the user the command acts as
    opened: Workbench | None = None
    view: Workbench | None = None  # the application as that user uses it

    def close(self) -> None:
        if self.opened is not None:
            self.opened.close()
            self.opened = None
            self.view = None


session = _Session()


def workbench() -> Workbench:
    """The application over the store named by ``--db``."""
    from workbench.application import Workbench

    if session.opened is None:
        session.opened = Workbench(session.location, timeout=session.timeout)
    if session.view is None:
        user = None
        if session.acting is not None:
            from workbench.access import Access

            user = Access(session.opened.store).user(session.acting)
            if user is None:
                fail(f"--as {session.acting}: no such user (see `workbench users list`)")
        session.view = session.opened.acting(user)
    return session.view


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


def existing_log(log: str) -> str:
    """The log name, if the store has that log or view; else one line and exit code 2."""
    if not workbench().has_log(log):
        fail(f"no log named {log!r} in the store (see `workbench logs`)")
    return log


def engine_of(engine: str, master: str | None) -> Workbench:
    """The application, computing on ``engine`` (refused when it does not exist)."""
    found = workbench()
    found.use(engine, master)
    return found


def untimed_note(log: str) -> str | None:
    """A note for time-based output when the log was imported without times."""
    if workbench().timed(log):
        return None
    return "this log has no times (imported with --no-times): durations and dates are not shown"
