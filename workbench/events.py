"""The event record, the column vocabulary, expected-revision markers and errors."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import polars as pl

UTC_MICROS: Final = pl.Datetime("us", "UTC")

#: The columns every scan returns, in this order, before the attributes.
VOCABULARY: Final[dict[str, pl.DataType]] = {
    "position": pl.Int64(),
    "event_id": pl.String(),
    "log": pl.String(),
    "case_id": pl.String(),
    "revision": pl.Int64(),
    "activity": pl.String(),
    "timestamp": UTC_MICROS,
    "recorded_at": UTC_MICROS,
    "resource": pl.String(),
    "lifecycle": pl.String(),
    "correlation_id": pl.String(),
    "causation_id": pl.String(),
}

#: Columns a caller supplies when writing; the store assigns the rest.
WRITABLE: Final = (
    "event_id",
    "case_id",
    "activity",
    "timestamp",
    "resource",
    "lifecycle",
    "correlation_id",
    "causation_id",
)


def as_utc(moment: datetime) -> datetime:
    """A moment with a time zone: a naive one is taken as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_time(text: str) -> datetime:
    """An ISO 8601 time (``Z`` allowed); without an offset it is UTC. Raises ValueError.

    >>> parse_time("2024-03-01T09:30+01:00").isoformat()
    '2024-03-01T09:30:00+01:00'
    >>> parse_time("2024-03-01").isoformat()
    '2024-03-01T00:00:00+00:00'
    """
    return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


class ExpectedRevision(enum.Enum):
    """Markers for `append(..., expected_revision=...)` besides an exact revision."""

    ANY = "any"
    NO_STREAM = "no stream"
    STREAM_EXISTS = "stream exists"

    def __repr__(self) -> str:
        return self.name


ANY: Final = ExpectedRevision.ANY
NO_STREAM: Final = ExpectedRevision.NO_STREAM
STREAM_EXISTS: Final = ExpectedRevision.STREAM_EXISTS


@dataclass(frozen=True)
class Event:
    """One thing that happened in one case."""

    activity: str
    timestamp: datetime
    event_id: str | None = None
    resource: str | None = None
    lifecycle: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AppendResult:
    """Where an append landed: the global position of its last event and the case's revision."""

    position: int
    revision: int


class WorkbenchError(Exception):
    """Base class of the errors Workbench reports to users (one clear line, no traceback)."""


class WrongExpectedRevision(WorkbenchError):
    """The case has moved on since the writer decided; nothing was written."""

    def __init__(
        self, log: str, case_id: str, expected: int | ExpectedRevision, actual: int | None
    ) -> None:
        self.log = log
        self.case_id = case_id
        self.expected = expected
        self.actual = actual
        shown = "no stream" if actual is None else f"revision {actual}"
        wanted = (
            expected.value if isinstance(expected, ExpectedRevision) else f"revision {expected}"
        )
        super().__init__(
            f"case {case_id!r} in log {log!r}: expected {wanted}, but it is at {shown}"
        )


class DuplicateEvents(WorkbenchError):
    """A batch repeats stored event ids without being an exact retry of an earlier append."""


class UnknownLog(WorkbenchError):
    """No log of that name is in the store."""

    def __init__(self, log: str) -> None:
        self.log = log
        super().__init__(f"no log named {log!r} in the store (see `workbench logs`)")


class InvalidEvents(WorkbenchError):
    """Events that cannot be stored as given (missing case, activity or timestamp, bad names)."""


class InvalidName(WorkbenchError):
    """A log name the store refuses: empty, too long, with control characters or ``/``."""


class StoreError(WorkbenchError):
    """The store cannot do what was asked; the message names the store and the reason."""

    def __init__(self, store: str, reason: str) -> None:
        self.store = store
        self.reason = reason
        super().__init__(f"store {store}: {reason}")


class StoreBusy(StoreError):
    """Another process held the store's write lock for longer than the timeout."""


class StoreReadOnly(StoreError):
    """The store can be read but not written (a read-only file or file system)."""
