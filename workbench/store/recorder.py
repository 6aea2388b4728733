"""The seam between the store's rules and a database: what a recorder must do.

`EventStore` owns the rules (revision checks, retries, normalizing frames, derived ids,
cuts, views of object-centric logs) and no SQL. A recorder owns one database: its
connections, its SQL, its schema and migrations, and the translation of the driver's
errors into the store's own (`StoreError` and its kinds, naming the store). SQLite
(`workbench.store.sqlite`) and PostgreSQL (`workbench.store.postgres`) implement it.

Writes go through a `Transaction` that holds the store's write lock from the first read
to the commit, so that what a writer checks (a case's revision, stored event ids) cannot
change before it writes. Positions are allocated inside it and commit in order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol, TypeVar

import polars as pl

from workbench.events import VOCABULARY
from workbench.store.attributes import Attributes, Column
from workbench.store.records import (
    ImportResult,
    Job,
    JobProgress,
    Objects,
    Query,
    StoredProjection,
)

T = TypeVar("T")

NEVER: Final = 2**62  # an upper bound for positions and microsecond times

#: The stored column behind each vocabulary column (keys are joined to names on read).
STORED_COLUMN: Final = {
    "position": "position",
    "event_id": "event_id",
    "case_id": "case_key",
    "revision": "revision",
    "activity": "activity_key",
    "timestamp": "timestamp",
    "recorded_at": "recorded_at",
    "resource": "resource_key",
    "lifecycle": "lifecycle",
    "correlation_id": "correlation_id",
    "causation_id": "causation_id",
}
STORED_TYPES: Final[dict[str, pl.DataType]] = {
    "position": pl.Int64(),
    "log_id": pl.Int64(),
    "case_key": pl.Int64(),
    "revision": pl.Int64(),
    "event_id": pl.String(),
    "activity_key": pl.Int64(),
    "timestamp": pl.Int64(),
    "recorded_at": pl.Int64(),
    "resource_key": pl.Int64(),
    "lifecycle": pl.String(),
    "correlation_id": pl.String(),
    "causation_id": pl.String(),
}
#: The dictionary tables that give integer keys to repeated strings: key and name columns.
DICTIONARIES: Final = {
    "cases": ("case_key", "case_id"),
    "activities": ("activity_key", "name"),
    "resources": ("resource_key", "name"),
}
#: The object-centric tables, with the columns a read returns.
OBJECT_TABLES: Final[dict[str, dict[str, pl.DataType]]] = {
    "objects": {"object_id": pl.String(), "object_type": pl.String()},
    "object_attributes": {
        "object_id": pl.String(),
        "name": pl.String(),
        "changed_at": pl.Int64(),
        "kind": pl.String(),
        "value": pl.String(),
    },
    "event_objects": {"event_id": pl.String(), "object_id": pl.String(), "qualifier": pl.String()},
    "object_objects": {
        "source_id": pl.String(),
        "target_id": pl.String(),
        "qualifier": pl.String(),
    },
}
RANGE_COLUMNS: Final[dict[str, pl.DataType]] = {
    "first_position": pl.Int64(),
    "last_position": pl.Int64(),
    "min_timestamp": pl.Int64(),
    "max_timestamp": pl.Int64(),
    "recorded_at": pl.Int64(),
}
REJECT_COLUMNS: Final[dict[str, pl.DataType]] = {
    "job_id": pl.Int64(),
    "source": pl.String(),
    "line": pl.Int64(),
    "place": pl.String(),
    "field": pl.String(),
    "value": pl.String(),
    "reason": pl.String(),
}


def now_micros() -> int:
    """The current time in microseconds since the epoch, UTC."""
    delta = datetime.now(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def select_list(columns: frozenset[str] | None) -> list[str]:
    """The stored columns a read needs (position always), in a fixed order; an event id
    kept implicitly is derived again from the case, time and activity."""
    needed = columns
    if columns is not None and "event_id" in columns:
        needed = columns | {"case_id", "timestamp", "activity"}
    if needed is not None and not needed <= VOCABULARY.keys():
        needed = needed | {"case_id"}  # case attributes are kept by case
    return [
        stored
        for name, stored in STORED_COLUMN.items()
        if name == "position" or needed is None or name in needed
    ]


@dataclass(frozen=True)
class Cut:
    """Which events a read keeps: bounds in valid time, transaction time and position."""

    timestamp: int = NEVER
    recorded: int = NEVER
    position: int = NEVER
    cases: tuple[str, ...] | None = None  # read these cases through the case index
    # Keep only events after this time or this position (what a snapshot lacks).
    after: tuple[int, int] = (-NEVER, NEVER)
    columns: frozenset[str] | None = None  # what the query uses (None: everything)


@dataclass(frozen=True)
class LogRow:
    """A stored log with its counts and time range (microseconds), as a recorder lists it."""

    log_id: int
    name: str
    kind: str
    cases: int
    events: int
    first: int | None
    last: int | None


class Transaction(Protocol):
    """The statements of one write, under the store's write lock."""

    #: Whether an id derived as the first of its case, time and activity is kept implicitly
    #: (no text stored): `write_events` then needs no text for it.
    implicit_ids: bool

    def find_log(self, name: str) -> int | None:
        """The id of a log, if it exists."""
        ...

    def ensure_log(self, name: str) -> int:
        """The id of a log, created if missing."""
        ...

    def has_events(self, log_id: int) -> bool:
        """Whether the log holds any event yet."""
        ...

    def head(self, log_id: int) -> int:
        """The last position written to the log (0 when it has no event)."""
        ...

    def stored_ids(self, log_id: int, events: pl.DataFrame) -> pl.DataFrame:
        """The stored events among these (columns ``event_id`` and ``case_id``): event_id,
        case_id, revision, position, in position order."""
        ...

    def case_revisions(self, log_id: int, case_ids: Sequence[str]) -> dict[str, int]:
        """The current revision of each of these cases that exists."""
        ...

    def unless_stored(self, write: Callable[[], T]) -> T | None:
        """``write()``, on the guess that none of the event ids it writes is stored yet:
        its result, or None, with nothing of it kept, when the log's unique index on
        event ids refuses one (the caller then checks the ids first)."""
        ...

    def keys(self, table: str, log_id: int, names: pl.Series) -> pl.DataFrame:
        """Integer keys (column of `DICTIONARIES`) for these names (column ``_name``),
        creating the missing ones (``_new`` is true for those)."""
        ...

    def attributes(self, log_id: int) -> Attributes:
        """The log's attributes as stored now."""
        ...

    def add_attributes(
        self, log_id: int, attributes: Attributes, new_columns: Sequence[Column]
    ) -> None:
        """Add these columns (and the tables they need) and store the log's attributes."""
        ...

    def allocate(self, count: int) -> tuple[int, int]:
        """Positions for ``count`` events: the first one, and the ``recorded_at`` of the
        write in microseconds (never earlier than that of any earlier write)."""
        ...

    def write_events(self, rows: pl.DataFrame) -> None:
        """Append rows with the columns of `STORED_TYPES`, in that order, and ``derived``:
        whether the row's event id is the one derived from its content as the first of its
        case, time and activity (`workbench.store.frames.DERIVED`), which a backend may keep
        implicitly (`implicit_ids`; otherwise every id comes with its text)."""
        ...

    def write_attributes(self, log_id: int, table: int, rows: pl.DataFrame) -> None:
        """Append rows (``position``, ``case_key`` and columns) to one of the log's
        attribute tables."""
        ...

    def write_range(
        self, log_id: int, first: int, last: int, low: int, high: int, recorded_at: int
    ) -> None:
        """Record one write's positions and the valid times and transaction time it covers."""
        ...

    def write_objects(self, log_id: int, objects: Objects) -> None:
        """Add objects, attribute values and links; those already stored are skipped."""
        ...

    def positions_taken(self, first: int, last: int) -> int:
        """How many events (of any log) hold positions from ``first`` to ``last``."""
        ...

    def copy_ranges(self, log_id: int, ranges: pl.DataFrame) -> None:
        """Add ranges (`RANGE_COLUMNS`) copied from another store; those present are kept."""
        ...

    def advance(self, position: int, recorded_at: int) -> None:
        """Make sure later appends get positions after ``position`` and a ``recorded_at``
        no earlier than ``recorded_at`` (after events were copied in with their own)."""
        ...

    def insert_job(self, job: Job, rejects: pl.DataFrame) -> int:
        """Add a job copied from another store (a new id) with its refused rows."""
        ...

    def record_progress(self, log: str, job: JobProgress, result: ImportResult) -> None:
        """Add a batch's rejects and counts to its job's record."""
        ...

    def drop(self, log_id: int, log: str) -> int:
        """Remove a log and everything recorded about it; returns the events removed."""
        ...

    def resumable_job(self, log: str, sha256: str) -> Job | None:
        """The newest job for this content that did not finish (running, failed or
        interrupted)."""
        ...

    def resume_job(self, job_id: int, pid: int, host: str) -> None:
        """Mark a job running again, in this process."""
        ...

    def new_job(
        self,
        log: str,
        source: str,
        sha256: str,
        format: str,
        mapping: Mapping[str, str],
        pid: int,
        host: str,
        started_at: str,
        actor: str | None,
    ) -> int:
        """Open a job (run by ``actor``: who imports); returns its id."""
        ...


class RuleRecorder(Protocol):
    """Where alert rules and their firings are kept (`workbench.store.rules.Rules`)."""

    def save_rule(self, name: str, log: str, definition: str, created_at: int) -> None:
        """Keep a rule's definition (JSON), replacing one of the same name."""
        ...

    def remove_rule(self, name: str) -> bool:
        """Forget a rule; False when there was none of that name."""
        ...

    def rules(self) -> list[tuple[str, str, str, int | None, bool]]:
        """(name, log, definition, position last checked, holding then), by name."""
        ...

    def check_rule(self, name: str, position: int, holding: bool) -> None:
        """Record that a rule was checked at ``position`` and whether it held."""
        ...

    def add_firing(self, row: tuple[str, str, int, int, int, float | None, str]) -> None:
        """Record a firing: rule, log, position, moment, recorded_at, value, message."""
        ...

    def firings(self) -> list[tuple[Any, ...]]:
        """Every firing, in position order."""
        ...


class EventRecorder(Protocol):
    """Where one database keeps its logs and their events (see the module's documentation)."""

    location: str  # how the store is named to users: a path, or a URL without password

    def waiter(self) -> AbstractContextManager[Callable[[float], None]]:
        """A wait for new events (at most the timeout given, in seconds)."""
        ...

    def transaction(self) -> AbstractContextManager[Transaction]:
        """A write transaction holding the write lock; committed when the block ends."""
        ...

    def close(self) -> None:
        """Close the connections."""
        ...

    def analyze(self) -> None:
        """Refresh the query planner's statistics after a large change."""
        ...

    # logs
    def log_id(self, name: str) -> int | None:
        """The id of a log, if it exists."""
        ...

    def log_identity(self, name: str) -> tuple[int, int] | None:
        """A log's id and the moment it was created (microseconds): together they tell a
        log from an earlier one of the same name."""
        ...

    def log_rows(self) -> list[LogRow]:
        """Every log with its counts and time range, in order of creation."""
        ...

    def object_types(self, log_id: int) -> list[tuple[str, int, int]]:
        """An object-centric log's object types: (type, objects, event-object links)."""
        ...

    def has_object_type(self, log_id: int, object_type: str) -> bool:
        """Whether an object-centric log has objects of this type."""
        ...

    def head(self, log_id: int) -> int:
        """The position of the log's last event (0 when it has none)."""
        ...

    def cases_after(self, log_id: int, position: int, until: int) -> list[str]:
        """The cases with events after ``position`` and ``timestamp <= until``."""
        ...

    def attributes(self, log_id: int) -> Attributes:
        """The log's attributes."""
        ...

    def ranges(self, log_id: int) -> pl.DataFrame:
        """The log's committed writes (`RANGE_COLUMNS`), by first position."""
        ...

    # events
    def read_events(self, log_id: int, cut: Cut) -> pl.DataFrame | None:
        """The stored columns (`select_list`) of the events a cut keeps, in position order,
        or None when there are none."""
        ...

    def read_attributes(
        self, log_id: int, table: int, columns: Sequence[Column], events: pl.DataFrame
    ) -> pl.DataFrame:
        """``position`` and the columns (named by `attributes.read_label`, cast to their
        physical type) of one attribute table at these events (``position`` and
        ``case_key``)."""
        ...

    def dictionary(self, table: str, log_id: int, keys: pl.Series | None) -> pl.DataFrame:
        """A log's entries of a dictionary table as (key, name) columns (only ``keys``,
        when given)."""
        ...

    def view_links(
        self, log_id: int, object_type: str, object_ids: Sequence[str] | None
    ) -> pl.DataFrame:
        """Distinct (event_id, object_id) links to objects of one type (only these
        objects, when given)."""
        ...

    def object_table(self, log_id: int, table: str) -> pl.DataFrame:
        """One of `OBJECT_TABLES` for a log, in key order."""
        ...


class LedgerRecorder(Protocol):
    """Where the ingest ledger is kept (`workbench.store.jobs.Ledger`); jobs are opened and
    advanced inside a write `Transaction`."""

    def transaction(self) -> AbstractContextManager[Transaction]:
        """A write transaction holding the write lock; committed when the block ends."""
        ...

    def set_job(self, job_id: int, **values: object) -> None:
        """Update columns of a job's record (mapping, status, finished_at, seconds, message)."""
        ...

    def jobs(self, log: str | None, job_id: int | None) -> list[Job]:
        """Jobs, newest first."""
        ...

    def rejects(self, log: str) -> pl.DataFrame:
        """Refused rows of a log (`REJECT_COLUMNS`), by job and line."""
        ...


class ProjectionRecorder(Protocol):
    """Where stored projection results are kept, keyed by log, view (an object type, or
    ''), name and moment (`workbench.store.projections.StoredProjections`)."""

    def log_id(self, name: str) -> int | None:
        """The id of a log, if it exists."""
        ...

    def save_projection(
        self,
        log_id: int,
        view: str,
        name: str,
        at: int,
        position: int,
        refreshed_at: int,
        seconds: float,
        data: bytes,
    ) -> None:
        """Store a projection's whole result, replacing it and its recorded changes."""
        ...

    def add_projection_change(
        self,
        log_id: int,
        view: str,
        name: str,
        at: int,
        position: int,
        refreshed_at: int,
        seconds: float,
        replaced: str,
        rows: int,
        data: bytes,
    ) -> None:
        """Record the rows of some cases as a change to a stored result, now at ``position``."""
        ...

    def projection_position(self, log_id: int, view: str, name: str, at: int) -> int | None:
        """The position a stored result covers, or None."""
        ...

    def pending_change_rows(self, log_id: int, view: str, name: str, at: int) -> int:
        """Rows in the changes recorded since the result was last stored whole."""
        ...

    def load_projection(
        self, log_id: int, view: str, name: str, at: int
    ) -> tuple[bytes, int, list[tuple[str, bytes]]] | None:
        """A stored result, its position and its changes (replaced cases as JSON, rows)."""
        ...

    def projection_rows(self, log_id: int | None, view: str | None) -> list[StoredProjection]:
        """What is stored, for one log and view or for all (``log`` named as ``LOG/TYPE``
        for a view)."""
        ...

    def forget_projections(self, log_id: int, view: str, name: str | None) -> None:
        """Delete stored results of a log's view (all, or those called ``name``)."""
        ...


class QueryRecorder(Protocol):
    """Where the users' SQL projections are kept (`workbench.store.queries.UserQueries`)."""

    def define_query(self, query: Query) -> None:
        """Keep a user's SQL projection, replacing one of the same name."""
        ...

    def remove_query(self, name: str) -> bool:
        """Forget a user's SQL projection; False when there was none."""
        ...

    def queries(self) -> list[Query]:
        """The users' SQL projections, by name."""
        ...


class UserRecorder(Protocol):
    """Where users and the audit trail are kept (`workbench.store.users.Users`)."""

    def save_user(self, name: str, role: str, password: str, at: int) -> None:
        """Keep a user (a role and a password hash), replacing one of the same name."""
        ...

    def remove_user(self, name: str) -> bool:
        """Forget a user; False when there was none of that name."""
        ...

    def users(self) -> list[tuple[str, str, str, int, int]]:
        """(name, role, password hash, created, changed), by name."""
        ...

    def add_audit(self, at: int, actor: str, action: str, target: str, detail: str) -> None:
        """Record that ``actor`` did ``action`` (on ``target``) at ``at``."""
        ...

    def audit(self, actor: str | None, action: str | None, since: int | None) -> list[Any]:
        """(at, actor, action, target, detail) in time order, of one actor, one action, from
        ``since`` on, where given."""
        ...

    def save_grant(self, log: str, principal: str, role: str, at: int) -> None:
        """Let a user or @group see a log (with at most ``role`` on it), replacing a grant
        to the same one."""
        ...

    def remove_grant(self, log: str | None, principal: str | None) -> int:
        """Take back the grants on a log to a principal (None: to every one, on every log;
        never both None); how many went."""
        ...

    def grants(self) -> list[tuple[str, str, str, int]]:
        """(log, principal, role, granted at), by log and principal."""
        ...

    def set_groups(self, name: str, groups: list[str]) -> None:
        """A user's groups, replacing those they had."""
        ...

    def groups(self) -> list[tuple[str, str]]:
        """(user name, group), by name and group."""
        ...

    def record_calendar(self, name: str, definition: str, at: int, removed: bool) -> None:
        """Record a calendar's definition (or its removal) as known from ``at`` on."""
        ...

    def calendar_rows(self) -> list[tuple[str, str, int, bool]]:
        """(name, definition, recorded at, removed), in the order they were recorded."""
        ...

    def store_key(self, name: str, secret: str, at: int) -> str:
        """The store's secret key of this name: ``secret`` if it has none yet (kept), else
        the one it has (whoever made it first)."""
        ...


class Recorder(
    EventRecorder,
    LedgerRecorder,
    ProjectionRecorder,
    QueryRecorder,
    RuleRecorder,
    UserRecorder,
    Protocol,
):
    """One database holding event logs, with everything a store keeps beside them: what a
    backend implements. Each store-side object takes only the part it uses."""


def object_frames(objects: Objects) -> list[tuple[str, pl.DataFrame]]:
    """The object-centric frames as the tables store them (times as microseconds, no null
    qualifiers)."""
    attributes = objects.attributes.with_columns(
        pl.col("changed_at").cast(pl.Datetime("us", "UTC")).dt.epoch("us").fill_null(0)
    )
    frames = [
        ("objects", objects.objects),
        ("object_attributes", attributes),
        ("event_objects", objects.event_objects),
        ("object_objects", objects.object_objects),
    ]
    found = []
    for table, frame in frames:
        columns = list(OBJECT_TABLES[table])
        chosen = frame.select(columns)
        if "qualifier" in columns:
            chosen = chosen.with_columns(pl.col("qualifier").fill_null(""))
        found.append((table, chosen))
    return found


def rejected_count(job: JobProgress) -> int:
    """Rows refused count as rejected events; refused links (no line) do not."""
    lines = job.rejects["line"].drop_nulls()
    return lines.n_unique() if lines.len() else 0


def reject_rows(job: JobProgress, log: str, source: str) -> pl.DataFrame:
    return job.rejects.select(
        pl.lit(job.job_id, dtype=pl.Int64).alias("job_id"),
        pl.lit(log, dtype=pl.String).alias("log"),
        pl.lit(source, dtype=pl.String).alias("source"),
        pl.col("line").cast(pl.Int64),
        pl.col("place").cast(pl.String),
        pl.col("field").cast(pl.String),
        pl.col("value").cast(pl.String),
        pl.col("reason").cast(pl.String),
    )
