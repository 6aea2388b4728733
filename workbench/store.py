"""The SQLite event store: append with optimistic concurrency, bulk import, reads into Polars.

Layout of the file (an ordinary SQLite database):

- ``logs``: one row per log, with its attribute schema and a running summary.
- ``cases``, ``activities``, ``resources``: integer keys for the repeated strings.
- ``events``: the append-only log. ``position`` is the rowid; triggers refuse UPDATE and
  DELETE unless the log is being dropped on purpose.
- ``ingest_jobs`` and ``rejects``: the record of every import and of every refused row.

Writes hold SQLite's write lock (``BEGIN IMMEDIATE``) from the revision check to the commit,
so optimistic concurrency holds across processes. Each batch is sorted by case before it
is written, so that new positions, the ``(case_key, revision)`` index and derived event
ids all grow in the same order; that keeps a bulk import close to a plain table append.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import polars as pl
import pyarrow as pa
from adbc_driver_sqlite import dbapi as adbc
from polars.io.plugins import register_io_source

from workbench.events import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    UTC_MICROS,
    VOCABULARY,
    WRITABLE,
    AppendResult,
    DuplicateEvents,
    Event,
    ExpectedRevision,
    InvalidEvents,
    UnknownLog,
    WrongExpectedRevision,
    as_utc,
)

_NEVER: Final = 2**62  # an upper bound for positions and microsecond times

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS logs (
    log_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    attribute_types TEXT NOT NULL DEFAULT '{}',
    kind TEXT NOT NULL DEFAULT 'case'  -- 'case', or 'object' for object-centric logs
);
CREATE TABLE IF NOT EXISTS cases (
    case_key INTEGER PRIMARY KEY,
    log_id INTEGER NOT NULL REFERENCES logs(log_id),
    case_id TEXT NOT NULL,
    UNIQUE (log_id, case_id)
);
CREATE TABLE IF NOT EXISTS activities (
    activity_key INTEGER PRIMARY KEY,
    log_id INTEGER NOT NULL REFERENCES logs(log_id),
    name TEXT NOT NULL,
    UNIQUE (log_id, name)
);
CREATE TABLE IF NOT EXISTS resources (
    resource_key INTEGER PRIMARY KEY,
    log_id INTEGER NOT NULL REFERENCES logs(log_id),
    name TEXT NOT NULL,
    UNIQUE (log_id, name)
);
CREATE TABLE IF NOT EXISTS events (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    log_id INTEGER NOT NULL,
    case_key INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    activity_key INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL,
    resource_key INTEGER,
    lifecycle TEXT,
    correlation_id TEXT,
    causation_id TEXT
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS events_by_case ON events (case_key, revision);
CREATE UNIQUE INDEX IF NOT EXISTS events_by_id ON events (log_id, event_id);
-- A block-range index: one row per committed write, with the positions it filled and the
-- valid and transaction times it covers. Reads cut by time skip whole ranges; no per-event
-- time index has to be kept up during imports (random-order index inserts are what make
-- bulk writes slow).
CREATE TABLE IF NOT EXISTS event_ranges (
    log_id INTEGER NOT NULL,
    first_position INTEGER NOT NULL,
    last_position INTEGER NOT NULL,
    min_timestamp INTEGER NOT NULL,
    max_timestamp INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (log_id, first_position)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dropping_logs (log_id INTEGER PRIMARY KEY);
-- Object-centric logs (OCEL): objects with their types, attribute values over time,
-- event-to-object and object-to-object links with qualifiers.
CREATE TABLE IF NOT EXISTS objects (
    log_id INTEGER NOT NULL,
    object_id TEXT NOT NULL,
    object_type TEXT NOT NULL,
    PRIMARY KEY (log_id, object_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS object_attributes (
    log_id INTEGER NOT NULL,
    object_id TEXT NOT NULL,
    name TEXT NOT NULL,
    changed_at INTEGER NOT NULL,  -- microseconds, UTC; the epoch for initial values
    kind TEXT NOT NULL,
    value,
    PRIMARY KEY (log_id, object_id, name, changed_at)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS event_objects (
    log_id INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    object_id TEXT NOT NULL,
    qualifier TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (log_id, event_id, object_id, qualifier)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS event_objects_by_object ON event_objects (log_id, object_id);
CREATE TABLE IF NOT EXISTS object_objects (
    log_id INTEGER NOT NULL,
    source_id TEXT NOT NULL,
    target_id TEXT NOT NULL,
    qualifier TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (log_id, source_id, target_id, qualifier)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS events_refuse_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: UPDATE is refused');
END;
CREATE TRIGGER IF NOT EXISTS events_refuse_delete BEFORE DELETE ON events
WHEN NOT EXISTS (SELECT 1 FROM dropping_logs WHERE log_id = OLD.log_id)
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: DELETE is refused (use `workbench drop`)');
END;
CREATE TRIGGER IF NOT EXISTS objects_refuse_update BEFORE UPDATE ON objects
BEGIN SELECT RAISE(ABORT, 'objects are append-only: UPDATE is refused'); END;
CREATE TRIGGER IF NOT EXISTS object_attributes_refuse_update BEFORE UPDATE ON object_attributes
BEGIN SELECT RAISE(ABORT, 'object attribute values are append-only: UPDATE is refused'); END;
CREATE TRIGGER IF NOT EXISTS event_objects_refuse_update BEFORE UPDATE ON event_objects
BEGIN SELECT RAISE(ABORT, 'links are append-only: UPDATE is refused'); END;
CREATE TRIGGER IF NOT EXISTS object_objects_refuse_update BEFORE UPDATE ON object_objects
BEGIN SELECT RAISE(ABORT, 'links are append-only: UPDATE is refused'); END;
CREATE TRIGGER IF NOT EXISTS objects_refuse_delete BEFORE DELETE ON objects
WHEN NOT EXISTS (SELECT 1 FROM dropping_logs WHERE log_id = OLD.log_id)
BEGIN SELECT RAISE(ABORT, 'append-only: DELETE is refused (use `workbench drop`)'); END;
CREATE TRIGGER IF NOT EXISTS object_attributes_refuse_delete BEFORE DELETE ON object_attributes
WHEN NOT EXISTS (SELECT 1 FROM dropping_logs WHERE log_id = OLD.log_id)
BEGIN SELECT RAISE(ABORT, 'append-only: DELETE is refused (use `workbench drop`)'); END;
CREATE TRIGGER IF NOT EXISTS event_objects_refuse_delete BEFORE DELETE ON event_objects
WHEN NOT EXISTS (SELECT 1 FROM dropping_logs WHERE log_id = OLD.log_id)
BEGIN SELECT RAISE(ABORT, 'append-only: DELETE is refused (use `workbench drop`)'); END;
CREATE TRIGGER IF NOT EXISTS object_objects_refuse_delete BEFORE DELETE ON object_objects
WHEN NOT EXISTS (SELECT 1 FROM dropping_logs WHERE log_id = OLD.log_id)
BEGIN SELECT RAISE(ABORT, 'append-only: DELETE is refused (use `workbench drop`)'); END;
CREATE TABLE IF NOT EXISTS ingest_jobs (
    job_id INTEGER PRIMARY KEY,
    log TEXT NOT NULL,
    source TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    format TEXT NOT NULL,
    mapping TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,
    events_read INTEGER NOT NULL DEFAULT 0,
    events_added INTEGER NOT NULL DEFAULT 0,
    duplicates INTEGER NOT NULL DEFAULT 0,
    rejected INTEGER NOT NULL DEFAULT 0,
    rows_committed INTEGER NOT NULL DEFAULT 0,
    last_position INTEGER,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    seconds REAL,
    message TEXT
);
CREATE INDEX IF NOT EXISTS ingest_jobs_by_content ON ingest_jobs (log, sha256);
CREATE TABLE IF NOT EXISTS rejects (
    reject_id INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL,
    log TEXT NOT NULL,
    source TEXT NOT NULL,
    line INTEGER,
    place TEXT,
    field TEXT,
    value TEXT,
    reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rejects_by_log ON rejects (log, job_id);
-- Derived data: checkpointed projections and case-state snapshots, each an Arrow IPC
-- frame with the position it covers. Rebuildable from the events at any time.
CREATE TABLE IF NOT EXISTS materialized (
    log_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    at INTEGER NOT NULL,
    position INTEGER NOT NULL,
    refreshed_at INTEGER NOT NULL,
    seconds REAL NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (log_id, name, at)
);
-- Changes to a materialized frame since it was last written whole: the rows of the cases
-- that changed (replacing those cases' rows), in order. Small catch-ups write only these.
CREATE TABLE IF NOT EXISTS materialized_changes (
    log_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    at INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    position INTEGER NOT NULL,
    replaced TEXT NOT NULL,
    rows INTEGER NOT NULL DEFAULT 0,
    data BLOB NOT NULL,
    PRIMARY KEY (log_id, name, at, seq)
);
-- Projections users define in SQL over the table `events`.
CREATE TABLE IF NOT EXISTS user_projections (
    name TEXT PRIMARY KEY,
    query TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT ''
);
"""

# Attributes live in one table per log, `attributes_<log_id>`, keyed by position, with a
# column `a1`, `a2`, ... per attribute; the log's `attribute_types` names them and gives
# their types. Table and column names are built from integers only, never from user text.
_ATTRIBUTE_TYPES: Final[dict[str, pl.DataType]] = {
    "Boolean": pl.Boolean(),
    "Int64": pl.Int64(),
    "Float64": pl.Float64(),
    "String": pl.String(),
    "Datetime": UTC_MICROS,
    "Date": pl.Date(),
    "Duration": pl.Duration("us"),
    "Time": pl.Time(),
    "Null": pl.String(),  # only nulls seen so far: the first real type replaces it
}
# The SQLite type each kind is stored as (times as integer microseconds, days, nanoseconds).
_SQL_TYPES: Final[dict[str, str]] = {
    "Boolean": "INTEGER",
    "Int64": "INTEGER",
    "Float64": "REAL",
    "String": "TEXT",
    "Datetime": "INTEGER",
    "Date": "INTEGER",
    "Duration": "INTEGER",
    "Time": "INTEGER",
    "Null": "TEXT",
}
_PHYSICAL: Final[dict[str, pl.DataType]] = {
    "INTEGER": pl.Int64(),
    "REAL": pl.Float64(),
    "TEXT": pl.String(),
}


# The dictionary tables that give integer keys to repeated strings: key column, name column,
# the query for one log's entries, and the query for the largest key in use.
_DICTIONARIES: Final = {
    "cases": (
        "case_key",
        "case_id",
        "SELECT case_key, case_id FROM cases WHERE log_id = ?",
        "SELECT coalesce(max(case_key), 0) FROM cases",
    ),
    "activities": (
        "activity_key",
        "name",
        "SELECT activity_key, name FROM activities WHERE log_id = ?",
        "SELECT coalesce(max(activity_key), 0) FROM activities",
    ),
    "resources": (
        "resource_key",
        "name",
        "SELECT resource_key, name FROM resources WHERE log_id = ?",
        "SELECT coalesce(max(resource_key), 0) FROM resources",
    ),
}


def _attribute_table(log_id: int) -> str:
    return f"attributes_{int(log_id)}"


# The stored column behind each vocabulary column (keys are joined to their names on read).
_STORED_COLUMN: Final = {
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


def _select_list(columns: frozenset[str] | None) -> str:
    """The stored columns a read needs (position always), in a fixed order."""
    wanted = [
        stored
        for name, stored in _STORED_COLUMN.items()
        if name == "position" or columns is None or name in columns
    ]
    return ", ".join(wanted)


@dataclass(frozen=True)
class _Cut:
    """Which events a read keeps: bounds in valid time, transaction time and position."""

    timestamp: int = _NEVER
    recorded: int = _NEVER
    position: int = _NEVER
    cases: tuple[str, ...] | None = None  # read these cases through the case index
    # Keep only events after this time or this position (what a snapshot lacks).
    after: tuple[int, int] = (-_NEVER, _NEVER)
    columns: frozenset[str] | None = None  # what the query uses (None: everything)


def _ipc(frame: pl.DataFrame) -> bytes:
    sink = pa.BufferOutputStream()
    frame.write_ipc(sink, compression="lz4")
    return bytes(sink.getvalue().to_pybytes())


def _replaced(frame: pl.DataFrame, rows: pl.DataFrame, cases: Sequence[str]) -> pl.DataFrame:
    """``frame`` with the rows of ``cases`` replaced by ``rows``."""
    kept = frame.filter(~pl.col("case_id").is_in(list(cases)))
    if rows.is_empty():
        return kept
    return pl.concat([kept, rows.select(kept.columns)], how="vertical_relaxed")


def _span(positions: pl.Series) -> int:
    bounds = positions.cast(pl.Int64)
    return int(bounds.max() or 0) - int(bounds.min() or 0)  # type: ignore[arg-type]


def _case_ids(case_id: str | Sequence[str]) -> tuple[str, ...]:
    return (case_id,) if isinstance(case_id, str) else tuple(case_id)


def _frame(cursor: Any) -> pl.DataFrame:
    frame = pl.from_arrow(cursor.fetch_arrow_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


@dataclass(frozen=True)
class ImportResult:
    """What a bulk import did: events offered, stored, and skipped as already present."""

    events_read: int
    events_added: int
    duplicates: int
    position: int | None


@dataclass(frozen=True)
class JobProgress:
    """What a batch of an ingest job adds to the job's record, in the batch's transaction."""

    job_id: int
    rows: int  # source rows consumed up to and including this batch
    rejects: pl.DataFrame  # line, field, value, reason


@dataclass(frozen=True)
class LogSummary:
    """One log as `logs()` lists it."""

    log: str
    cases: int
    events: int
    first_timestamp: datetime | None
    last_timestamp: datetime | None
    kind: str = "case"  # "case"; "object" (OCEL); "view" (one object type of an OCEL log)
    object_types: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Objects:
    """The object-centric part of an import: objects, their attributes over time, links.

    Frames (any may be empty): ``objects`` (object_id, object_type); ``attributes``
    (object_id, name, changed_at UTC datetime, kind, value as text); ``event_objects``
    (event_id, object_id, qualifier); ``object_objects`` (source_id, target_id, qualifier).
    """

    objects: pl.DataFrame
    attributes: pl.DataFrame
    event_objects: pl.DataFrame
    object_objects: pl.DataFrame


def attribute_type(dtype: pl.DataType) -> str:
    """The name under which an attribute of this Polars type is kept (see `_ATTRIBUTE_TYPES`)."""
    if dtype == pl.Null:
        return "Null"
    if dtype == pl.Boolean:
        return "Boolean"
    if dtype.is_integer():
        return "Int64"
    if dtype.is_float() or dtype.is_decimal():
        return "Float64"
    if isinstance(dtype, pl.Datetime):
        return "Datetime"
    if dtype == pl.Date:
        return "Date"
    if isinstance(dtype, pl.Duration):
        return "Duration"
    if dtype == pl.Time:
        return "Time"
    return "String"


def _widen(old: str, new: str) -> str:
    if old == new or new == "Null":
        return old
    if old == "Null":
        return new
    if {old, new} == {"Int64", "Float64"}:
        return "Float64"
    return "String"


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch, UTC; a naive datetime is taken as UTC."""
    delta = as_utc(moment) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    """The UTC datetime of a microsecond count (inverse of `to_micros`)."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def derive_event_ids(frame: pl.DataFrame, occurrence: pl.Series | None = None) -> pl.Series:
    """Deterministic event ids from each event's content: case, UTC time, activity, occurrence.

    Importing the same records again yields the same ids, so nothing is stored twice. The
    ids sort by case and then by time, the order in which a batch is written.

    >>> frame = pl.DataFrame({"case_id": ["c1", "c1"], "activity": ["a", "a"],
    ...     "timestamp": [datetime(2024, 1, 1, tzinfo=UTC)] * 2})
    >>> derive_event_ids(frame).to_list()
    ['c1@2024-01-01T00:00:00.000000Z/a#0', 'c1@2024-01-01T00:00:00.000000Z/a#1']

    ``occurrence`` numbers repeats of the same case, time and activity; by default they are
    counted within the frame (an importer reading in batches counts across batches).
    """
    moment = pl.col("timestamp").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
    repeat = (
        pl.int_range(pl.len()).over("case_id", "timestamp", "activity")
        if occurrence is None
        else pl.lit(occurrence)
    )
    return frame.select(
        pl.format("{}@{}/{}#{}", pl.col("case_id"), moment, pl.col("activity"), repeat).alias(
            "event_id"
        )
    ).to_series()


def _generated_ids(count: int) -> list[str]:
    """Unique ids for events appended without one; they sort in append order."""
    now = time.time_ns()
    salt = secrets.token_hex(4)
    return [f"{now:016x}{index:06x}-{salt}" for index in range(count)]


def _frame_of_events(case_id: str, events: Sequence[Event]) -> pl.DataFrame:
    """The events of one case as a frame in the writable vocabulary plus attribute columns."""
    ids = [event.event_id for event in events]
    if any(event_id is None for event_id in ids):
        generated = iter(_generated_ids(len(ids)))
        ids = [event_id if event_id is not None else next(generated) for event_id in ids]
    names: list[str] = []
    for event in events:
        names.extend(name for name in event.attributes if name not in names)
    columns: dict[str, pl.Series] = {
        "event_id": pl.Series(ids, dtype=pl.String),
        "case_id": pl.Series([case_id] * len(events), dtype=pl.String),
        "activity": pl.Series([event.activity for event in events], dtype=pl.String),
        "timestamp": pl.Series(
            [to_micros(event.timestamp) for event in events], dtype=pl.Int64
        ).cast(UTC_MICROS),
    }
    for name in ("resource", "lifecycle", "correlation_id", "causation_id"):
        columns[name] = pl.Series([getattr(event, name) for event in events], dtype=pl.String)
    for name in names:
        values = [event.attributes.get(name) for event in events]
        try:
            columns[name] = pl.Series(name, values, strict=True)
        except (TypeError, pl.exceptions.PolarsError):
            columns[name] = pl.Series(name, [None if v is None else str(v) for v in values])
        dtype = columns[name].dtype
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
            columns[name] = columns[name].dt.replace_time_zone("UTC")
    return pl.DataFrame(columns)


def normalize(frame: pl.DataFrame) -> pl.DataFrame:
    """Check and coerce a frame of events to the writable vocabulary; attributes follow.

    Raises `InvalidEvents` naming the problem: a missing required column, empty case ids or
    activities, timestamps that are not datetimes, or attributes named like vocabulary columns.
    """
    missing = [name for name in ("case_id", "activity", "timestamp") if name not in frame.columns]
    if missing:
        raise InvalidEvents(f"events lack the column(s) {', '.join(missing)}")
    clashes = [name for name in frame.columns if name in VOCABULARY and name not in WRITABLE]
    if clashes:
        raise InvalidEvents(f"the store assigns {', '.join(clashes)}; do not supply them")
    timestamp = frame.schema["timestamp"]
    if not isinstance(timestamp, pl.Datetime):
        raise InvalidEvents(f"timestamp must be a datetime column, not {timestamp}")
    if timestamp.time_zone is None:
        frame = frame.with_columns(pl.col("timestamp").dt.replace_time_zone("UTC"))
    frame = frame.with_columns(
        pl.col("timestamp").dt.convert_time_zone("UTC").dt.cast_time_unit("us"),
        pl.col("case_id").cast(pl.String),
        pl.col("activity").cast(pl.String),
    )
    for name in ("case_id", "activity"):
        if frame[name].null_count() or (frame[name] == "").any():
            raise InvalidEvents(f"{name} is empty in some events")
    if frame["timestamp"].null_count():
        raise InvalidEvents("timestamp is empty in some events")
    optional = [
        pl.lit(None, dtype=pl.String).alias(name) for name in WRITABLE if name not in frame.columns
    ]
    frame = frame.with_columns(optional)
    frame = frame.with_columns(
        pl.col(name).cast(pl.String) for name in WRITABLE if name != "timestamp"
    )
    if frame["event_id"].null_count():
        derived = derive_event_ids(frame)
        frame = frame.with_columns(pl.col("event_id").fill_null(derived))
    attributes = [name for name in frame.columns if name not in WRITABLE]
    return frame.select(*WRITABLE, *attributes)


@dataclass(frozen=True)
class Prepared:
    """A frame of events ready to write: normalized, one row per event id, grouped by case.

    `prepare` makes one; it needs no store, so an importer can prepare the next batch on
    another thread while the store writes this one.
    """

    events: pl.DataFrame
    events_read: int


def prepare(frame: pl.DataFrame) -> Prepared:
    """Normalize a frame, drop repeated event ids, and sort it by case (stable)."""
    events_read = frame.height
    if frame.height:
        frame = normalize(frame).unique("event_id", keep="first", maintain_order=True)
        frame = frame.sort("case_id", maintain_order=True)
    return Prepared(events=frame, events_read=events_read)


class EventStore:
    """An append-only event store in one SQLite file.

    >>> import tempfile
    >>> store = EventStore(Path(tempfile.mkdtemp()) / "demo.db")
    >>> store.append("demo", "c1", [Event("register", datetime(2024, 1, 1))])
    AppendResult(position=1, revision=0)
    >>> store.read("demo")["activity"].to_list()
    ['register']
    >>> store.close()
    """

    def __init__(self, path: str | Path, *, timeout: float = 60.0) -> None:
        if str(path) == ":memory:":
            raise ValueError("the store needs a file (it opens two connections to it)")
        self.path = Path(path)
        self.timeout = timeout
        # Polars runs deferred reads on its own threads, and the app serves sessions from
        # several: the connections are shared, their use serialized by this lock.
        self._lock = threading.RLock()
        self._sql = sqlite3.connect(
            self.path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        # Large pages make bulk appends cheaper (fewer B-tree splits); the page size of a
        # database is fixed when its first table is created.
        self._sql.execute("PRAGMA page_size=32768")
        self._pragmas(self._sql.execute)
        self._sql.executescript(SCHEMA)
        _migrate(self._sql)
        self._arrow: Any = None
        # Derived frames read or written by this process: (log, name, at) -> (frame, position).
        self._derived: dict[tuple[str, str, int], tuple[pl.DataFrame, int]] = {}

    def _pragmas(self, execute: Any) -> None:
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=FULL",
            f"PRAGMA busy_timeout={int(self.timeout * 1000)}",
            "PRAGMA cache_size=-65536",
            "PRAGMA temp_store=MEMORY",
        ):
            execute(pragma)

    @property
    def sql(self) -> sqlite3.Connection:
        """The plain sqlite3 connection, for metadata and small reads."""
        return self._sql

    def _cursor(self) -> Any:
        """An ADBC cursor (Arrow in and out), opened on first use."""
        if self._arrow is None:
            self._arrow = adbc.connect(str(self.path), autocommit=True)
            cursor = self._arrow.cursor()
            self._pragmas(cursor.execute)
            cursor.close()
        cursor = self._arrow.cursor()
        cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(1 << 30)})
        return cursor

    def close(self) -> None:
        """Close both connections."""
        if self._arrow is not None:
            self._arrow.close()
            self._arrow = None
        self._sql.close()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ writes

    @contextmanager
    def _write(self) -> Iterator[_Writer]:
        with self._lock:
            cursor = self._cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield _Writer(cursor)
            except BaseException:
                cursor.execute("ROLLBACK")
                cursor.close()
                raise
            cursor.execute("COMMIT")
            cursor.close()

    def append(
        self,
        log: str,
        case_id: str,
        events: Sequence[Event],
        *,
        expected_revision: int | ExpectedRevision = ANY,
    ) -> AppendResult:
        """Append events to one case, if the case is where the writer expects it to be.

        ``expected_revision`` is ``ANY``, ``NO_STREAM`` (the case must not exist),
        ``STREAM_EXISTS`` or the exact revision of the case's last event. A retry of an
        append that already succeeded (same event ids, same case, same order) stores nothing
        and returns the original result.
        """
        if not events:
            raise InvalidEvents("append needs at least one event")
        frame = normalize(_frame_of_events(case_id, events))
        repeated = frame.filter(pl.col("event_id").is_duplicated())["event_id"].unique()
        if repeated.len():
            raise DuplicateEvents(
                f"case {case_id!r} in log {log!r}: the batch repeats event id(s) "
                f"{', '.join(repeated.head(3).to_list())}; nothing was written"
            )
        with self._write() as writer:
            log_id = writer.ensure_log(log)
            stored = writer.stored_ids(log_id, frame["event_id"])
            if stored.height:
                return _retried(log, case_id, frame["event_id"], stored, writer)
            actual = writer.case_revisions(log_id, [case_id]).get(case_id)
            _check_expected(log, case_id, expected_revision, actual)
            position = writer.insert(log_id, frame)
        return AppendResult(
            position=position, revision=(-1 if actual is None else actual) + len(events)
        )

    def import_frame(
        self,
        log: str,
        frame: pl.DataFrame | Prepared,
        *,
        job: JobProgress | None = None,
        objects: Objects | None = None,
    ) -> ImportResult:
        """Append a whole frame of events (many cases) in one transaction.

        Events whose ids are already stored in the log are skipped and counted as duplicates;
        so are repeats of an id within the frame. Event ids missing from the frame are
        derived from the events' content (`derive_event_ids`). With ``job``, the job's
        rejects and progress are recorded in the same transaction, so a crash never leaves
        a job's record out of step with the events it stored. ``objects`` (object-centric
        logs) are written in the same transaction; objects and links already stored are
        skipped, so a resumed job can send them again.
        """
        prepared = frame if isinstance(frame, Prepared) else prepare(frame)
        events_read, frame = prepared.events_read, prepared.events
        with self._write() as writer:
            log_id = writer.ensure_log(log)
            if objects is not None:
                writer.insert_objects(log_id, objects)
            if frame.height and writer.has_events(log_id):
                stored = writer.stored_ids(log_id, frame["event_id"])
                frame = frame.join(
                    stored.select("event_id"), on="event_id", how="anti", maintain_order="left"
                )
            position = writer.insert(log_id, frame) if frame.height else None
            result = ImportResult(
                events_read=events_read,
                events_added=frame.height,
                duplicates=events_read - frame.height,
                position=position,
            )
            if job is not None:
                writer.record_progress(log, job, result)
        return result

    # -------------------------------------------------------------- ingest jobs

    def start_job(
        self, log: str, source: str, sha256: str, format: str, mapping: Mapping[str, Any]
    ) -> tuple[int, int]:
        """Open an ingest job, or resume an unfinished one for the same content.

        Returns the job id and the number of source rows already committed by it.
        """
        with self._lock:
            found = self._sql.execute(
                "SELECT job_id, rows_committed FROM ingest_jobs WHERE log = ? AND sha256 = ?"
                " AND status IN ('running', 'failed') ORDER BY job_id DESC LIMIT 1",
                (log, sha256),
            ).fetchone()
            if found is not None:
                self._sql.execute(
                    "UPDATE ingest_jobs SET status = 'running', message = 'resumed'"
                    " WHERE job_id = ?",
                    (found[0],),
                )
                return int(found[0]), int(found[1])
            cursor = self._sql.execute(
                "INSERT INTO ingest_jobs (log, source, sha256, format, mapping, status, started_at)"
                " VALUES (?, ?, ?, ?, ?, 'running', ?)",
                (log, source, sha256, format, json.dumps(dict(mapping)), _now().isoformat()),
            )
            return int(cursor.lastrowid or 0), 0

    def set_job_mapping(self, job_id: int, mapping: Mapping[str, str]) -> None:
        """Record the column mapping a job settled on."""
        with self._lock:
            self._sql.execute(
                "UPDATE ingest_jobs SET mapping = ? WHERE job_id = ?",
                (json.dumps(dict(mapping)), job_id),
            )

    def finish_job(
        self, job_id: int, *, status: str, seconds: float, message: str | None = None
    ) -> dict[str, Any]:
        """Close a job with its final status; returns its record."""
        with self._lock:
            self._sql.execute(
                "UPDATE ingest_jobs SET status = ?, finished_at = ?, seconds = ?, message = ?"
                " WHERE job_id = ?",
                (status, _now().isoformat(), round(seconds, 3), message, job_id),
            )
        return self.jobs(job_id=job_id)[0]

    def completed_job(self, log: str, sha256: str) -> dict[str, Any] | None:
        """The completed job that already imported this content into this log, if any."""
        found = [
            job
            for job in self.jobs(log=log)
            if job["sha256"] == sha256 and job["status"] == "completed"
        ]
        return found[0] if found else None

    def jobs(self, *, log: str | None = None, job_id: int | None = None) -> list[dict[str, Any]]:
        """Ingest jobs, newest first."""
        with self._lock:
            cursor = self._sql.execute(
                "SELECT * FROM ingest_jobs"
                " WHERE (? IS NULL OR log = ?) AND (? IS NULL OR job_id = ?)"
                " ORDER BY job_id DESC",
                (log, log, job_id, job_id),
            )
            names = [column[0] for column in cursor.description]
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        for row in rows:
            row["mapping"] = json.loads(row["mapping"])
        return rows

    def rejects(self, log: str) -> pl.DataFrame:
        """The rows refused while importing into a log, with file, line, field and reason."""
        with self._lock:
            rows = self._sql.execute(
                "SELECT job_id, source, line, place, field, value, reason FROM rejects"
                " WHERE log = ?"
                " ORDER BY job_id, line, reject_id",
                (log,),
            ).fetchall()
        return pl.DataFrame(
            rows,
            schema={
                "job_id": pl.Int64,
                "source": pl.String,
                "line": pl.Int64,
                "place": pl.String,
                "field": pl.String,
                "value": pl.String,
                "reason": pl.String,
            },
            orient="row",
        )

    def drop(self, log: str) -> int:
        """Remove a log and everything recorded about it; returns the number of events removed."""
        with self._write() as writer:
            log_id = writer.find_log(log)
            if log_id is None:
                raise UnknownLog(log)
            removed = writer.drop(log_id, log)
        for key in [key for key in self._derived if key[0] == log]:
            del self._derived[key]
        return removed

    # ------------------------------------------------------------------- reads

    def log_names(self) -> list[str]:
        """Names of the logs in the store, in order of creation."""
        return [row[0] for row in self._sql.execute("SELECT name FROM logs ORDER BY log_id")]

    def logs(self) -> list[LogSummary]:
        """Every log with its cases, events and time range.

        An object-centric log lists its object types with their counts, and is followed by
        one view per object type (``log/type``), the case-centric view `scan` computes.
        """
        with self._lock:
            rows = self._sql.execute(
                "SELECT l.log_id, l.name, l.kind,"
                " (SELECT count(*) FROM cases c WHERE c.log_id = l.log_id),"
                " coalesce(sum(r.last_position - r.first_position + 1), 0),"
                " min(r.min_timestamp), max(r.max_timestamp)"
                " FROM logs l LEFT JOIN event_ranges r ON r.log_id = l.log_id"
                " GROUP BY l.log_id ORDER BY l.log_id"
            ).fetchall()
            summaries = []
            for log_id, name, kind, cases, events, first, last in rows:
                start = None if first is None else from_micros(first)
                end = None if last is None else from_micros(last)
                if kind != "object":
                    summaries.append(LogSummary(name, cases, events, start, end))
                    continue
                # Events per type count each (event, object) pair once, as the view does.
                types = self._sql.execute(
                    "SELECT object_type, count(*), sum(events) FROM ("
                    " SELECT o.object_type, o.object_id, count(DISTINCT l.event_id) AS events"
                    " FROM objects o LEFT JOIN event_objects l"
                    " ON l.log_id = o.log_id AND l.object_id = o.object_id"
                    " WHERE o.log_id = ? GROUP BY o.object_type, o.object_id"
                    ") GROUP BY object_type ORDER BY object_type",
                    (log_id,),
                ).fetchall()
                counts = {kind_name: objects for kind_name, objects, _ in types}
                summaries.append(
                    LogSummary(name, 0, events, start, end, kind="object", object_types=counts)
                )
                summaries.extend(
                    LogSummary(f"{name}/{object_type}", objects, links, start, end, kind="view")
                    for object_type, objects, links in types
                )
        return summaries

    def head(self, log: str) -> int:
        """The position of the log's last event (0 when it has none)."""
        base, _ = self._resolve(log)
        with self._lock:
            row = self._sql.execute(
                "SELECT max(r.last_position) FROM event_ranges r JOIN logs l"
                " ON l.log_id = r.log_id WHERE l.name = ?",
                (base,),
            ).fetchone()
        return int(row[0] or 0)

    def cases_after(self, log: str, position: int, *, until: datetime | None = None) -> list[str]:
        """The cases that received events after ``position`` (with ``timestamp <= until``, if
        given): the cases a catch-up from a checkpoint at ``position`` recomputes."""
        base, object_type = self._resolve(log)
        if object_type is not None:
            ids = self.scan(base, as_of=until).filter(pl.col("position") > position)
            linked = self.event_objects(base).join(
                self.objects(base).filter(pl.col("object_type") == object_type),
                on="object_id",
            )
            found = linked.join(ids.select("event_id").collect(), on="event_id")["object_id"]
            return sorted(found.unique().to_list())
        bound = _NEVER if until is None else to_micros(until)
        with self._lock:
            # `+e.log_id` keeps SQLite on the rowid range after the checkpoint.
            rows = self._sql.execute(
                "SELECT DISTINCT c.case_id FROM events e JOIN cases c ON c.case_key = e.case_key"
                " WHERE e.position > ? AND e.timestamp <= ?"
                " AND +e.log_id = (SELECT log_id FROM logs WHERE name = ?)",
                (position, bound, base),
            ).fetchall()
        return sorted(row[0] for row in rows)

    def save_materialized(
        self,
        log: str,
        name: str,
        frame: pl.DataFrame,
        *,
        position: int,
        at: int = 0,
        seconds: float = 0.0,
    ) -> None:
        """Store a derived frame under ``name`` (and ``at``), covering events to ``position``."""
        base, _ = self._resolve(log)
        with self._lock:
            self._sql.execute("BEGIN IMMEDIATE")
            try:
                self._sql.execute(
                    "INSERT OR REPLACE INTO materialized"
                    " (log_id, name, at, position, refreshed_at, seconds, data)"
                    " SELECT log_id, ?, ?, ?, ?, ?, ? FROM logs WHERE name = ?",
                    (name, at, position, to_micros(_now()), seconds, _ipc(frame), base),
                )
                self._sql.execute(
                    "DELETE FROM materialized_changes WHERE name = ? AND at = ?"
                    " AND log_id = (SELECT log_id FROM logs WHERE name = ?)",
                    (name, at, base),
                )
            except BaseException:
                self._sql.execute("ROLLBACK")
                raise
            self._sql.execute("COMMIT")
            self._derived[(base, name, at)] = (frame, position)

    def change_materialized(
        self,
        log: str,
        name: str,
        rows: pl.DataFrame,
        replaced: Sequence[str],
        *,
        position: int,
        at: int = 0,
        seconds: float = 0.0,
    ) -> pl.DataFrame:
        """Record that the cases ``replaced`` of a stored frame now have the rows ``rows``
        (keyed by ``case_id``), as of ``position``: a catch-up writes only what changed.
        Returns the frame with the change applied.

        Once the changes outweigh a fifth of the frame, the frame is written whole again.
        """
        base, _ = self._resolve(log)
        current = self.load_materialized(log, name, at=at)
        if current is None:
            raise ValueError(f"nothing materialized as {name!r} for {log!r}")
        frame = _replaced(current[0], rows, replaced)
        with self._lock:
            pending = self._sql.execute(
                "SELECT coalesce(sum(c.rows), 0) FROM materialized_changes c JOIN logs l"
                " ON l.log_id = c.log_id WHERE l.name = ? AND c.name = ? AND c.at = ?",
                (base, name, at),
            ).fetchone()[0]
        if (pending + rows.height) * 5 > frame.height:
            self.save_materialized(log, name, frame, position=position, at=at, seconds=seconds)
            return frame
        data = _ipc(rows)
        with self._lock:
            self._sql.execute("BEGIN IMMEDIATE")
            try:
                self._sql.execute(
                    "INSERT INTO materialized_changes"
                    " (log_id, name, at, seq, position, replaced, rows, data)"
                    " SELECT l.log_id, ?2, ?3, coalesce(max(c.seq), 0) + 1, ?4, ?5, ?7, ?6"
                    " FROM logs l"
                    " LEFT JOIN materialized_changes c ON c.log_id = l.log_id AND c.name = ?2"
                    " AND c.at = ?3 WHERE l.name = ?1",
                    (base, name, at, position, json.dumps(list(replaced)), data, rows.height),
                )
                self._sql.execute(
                    "UPDATE materialized SET position = ?, refreshed_at = ?, seconds = ?"
                    " WHERE name = ? AND at = ?"
                    " AND log_id = (SELECT log_id FROM logs WHERE name = ?)",
                    (position, to_micros(_now()), seconds, name, at, base),
                )
            except BaseException:
                self._sql.execute("ROLLBACK")
                raise
            self._sql.execute("COMMIT")
            self._derived[(base, name, at)] = (frame, position)
        return frame

    def load_materialized(
        self, log: str, name: str, *, at: int = 0
    ) -> tuple[pl.DataFrame, int] | None:
        """A stored derived frame (with its recorded changes applied) and the position it
        covers, or None. Kept in memory while the stored position stays the same."""
        base, _ = self._resolve(log)
        with self._lock:
            found = self._sql.execute(
                "SELECT m.position FROM materialized m JOIN logs l ON l.log_id = m.log_id"
                " WHERE l.name = ? AND m.name = ? AND m.at = ?",
                (base, name, at),
            ).fetchone()
            if found is None:
                return None
            cached = self._derived.get((base, name, at))
            if cached is not None and cached[1] == found[0]:
                return cached
            row = self._sql.execute(
                "SELECT m.data, m.position FROM materialized m JOIN logs l ON l.log_id = m.log_id"
                " WHERE l.name = ? AND m.name = ? AND m.at = ?",
                (base, name, at),
            ).fetchone()
            changes = self._sql.execute(
                "SELECT c.replaced, c.data FROM materialized_changes c JOIN logs l"
                " ON l.log_id = c.log_id WHERE l.name = ? AND c.name = ? AND c.at = ?"
                " ORDER BY c.seq",
                (base, name, at),
            ).fetchall()
        frame = pl.read_ipc(row[0])
        for replaced, data in changes:
            frame = _replaced(frame, pl.read_ipc(data), json.loads(replaced))
        self._derived[(base, name, at)] = (frame, int(row[1]))
        return frame, int(row[1])

    def materialized(self, log: str | None = None) -> list[dict[str, Any]]:
        """What is materialized: log, name, at, position, refreshed_at, seconds, bytes."""
        with self._lock:
            rows = self._sql.execute(
                "SELECT l.name, m.name, m.at, m.position, m.refreshed_at, m.seconds,"
                " length(m.data) FROM materialized m JOIN logs l ON l.log_id = m.log_id"
                " WHERE ?1 IS NULL OR l.name = ?1 ORDER BY l.log_id, m.name, m.at",
                (None if log is None else self._resolve(log)[0],),
            ).fetchall()
        keys = ("log", "name", "at", "position", "refreshed_at", "seconds", "bytes")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def define_query(self, name: str, query: str, *, description: str = "") -> None:
        """Keep a user's SQL projection (a query over the table ``events``) in the file."""
        with self._lock:
            self._sql.execute(
                "INSERT OR REPLACE INTO user_projections (name, query, description)"
                " VALUES (?, ?, ?)",
                (name, query, description),
            )

    def remove_query(self, name: str) -> bool:
        """Forget a user's SQL projection; False when there was none of that name."""
        with self._lock:
            cursor = self._sql.execute("DELETE FROM user_projections WHERE name = ?", (name,))
        return cursor.rowcount > 0

    def queries(self) -> list[tuple[str, str, str]]:
        """The users' SQL projections: (name, query, description), by name."""
        with self._lock:
            return [
                (str(name), str(query), str(description))
                for name, query, description in self._sql.execute(
                    "SELECT name, query, description FROM user_projections ORDER BY name"
                )
            ]

    def forget_materialized(self, log: str, name: str | None = None) -> None:
        """Delete derived frames of a log (all, or those called ``name``)."""
        base, _ = self._resolve(log)
        with self._lock:
            for key in [k for k in self._derived if k[0] == base and name in (None, k[1])]:
                del self._derived[key]
            self._sql.execute(
                "DELETE FROM materialized_changes"
                " WHERE log_id = (SELECT log_id FROM logs WHERE name = ?)"
                " AND (?2 IS NULL OR name = ?2)",
                (base, name),
            )
            self._sql.execute(
                "DELETE FROM materialized WHERE log_id = (SELECT log_id FROM logs WHERE name = ?)"
                " AND (?2 IS NULL OR name = ?2)",
                (base, name),
            )

    def _resolve(self, log: str) -> tuple[str, str | None]:
        """(stored log, object type or None) for a log name or a view ``log/type``.

        Raises `UnknownLog` when the name is neither.
        """
        with self._lock:
            if self._sql.execute("SELECT 1 FROM logs WHERE name = ?", (log,)).fetchone():
                return log, None
            if "/" in log:
                base, object_type = log.rsplit("/", 1)
                found = self._sql.execute(
                    "SELECT 1 FROM logs l JOIN objects o ON o.log_id = l.log_id"
                    " WHERE l.name = ? AND l.kind = 'object' AND o.object_type = ? LIMIT 1",
                    (base, object_type),
                ).fetchone()
                if found:
                    return base, object_type
        raise UnknownLog(log)

    def has_log(self, log: str) -> bool:
        """Whether ``log`` names a stored log or a view of an object-centric one."""
        try:
            self._resolve(log)
        except UnknownLog:
            return False
        return True

    def objects(self, log: str) -> pl.DataFrame:
        """The objects of an object-centric log: object_id, object_type."""
        return self._object_table(
            log,
            "SELECT object_id, object_type FROM objects WHERE log_id = ? ORDER BY object_id",
            {"object_id": pl.String, "object_type": pl.String},
        )

    def object_attributes(self, log: str) -> pl.DataFrame:
        """Object attribute values over time: object_id, name, changed_at, kind, value."""
        frame = self._object_table(
            log,
            "SELECT object_id, name, changed_at, kind, CAST(value AS TEXT) FROM object_attributes"
            " WHERE log_id = ? ORDER BY object_id, name, changed_at",
            {
                "object_id": pl.String,
                "name": pl.String,
                "changed_at": pl.Int64,
                "kind": pl.String,
                "value": pl.String,
            },
        )
        return frame.with_columns(pl.col("changed_at").cast(UTC_MICROS))

    def event_objects(self, log: str) -> pl.DataFrame:
        """Event-to-object links: event_id, object_id, qualifier."""
        return self._object_table(
            log,
            "SELECT event_id, object_id, qualifier FROM event_objects WHERE log_id = ?"
            " ORDER BY event_id, object_id, qualifier",
            {"event_id": pl.String, "object_id": pl.String, "qualifier": pl.String},
        )

    def object_objects(self, log: str) -> pl.DataFrame:
        """Object-to-object links: source_id, target_id, qualifier."""
        return self._object_table(
            log,
            "SELECT source_id, target_id, qualifier FROM object_objects WHERE log_id = ?"
            " ORDER BY source_id, target_id, qualifier",
            {"source_id": pl.String, "target_id": pl.String, "qualifier": pl.String},
        )

    def _object_table(
        self, log: str, query: str, schema: Mapping[str, type[pl.DataType]]
    ) -> pl.DataFrame:
        with self._lock:
            found = self._sql.execute("SELECT log_id FROM logs WHERE name = ?", (log,)).fetchone()
            if found is None:
                raise UnknownLog(log)
            rows = self._sql.execute(query, (found[0],)).fetchall()
        return pl.DataFrame(rows, schema=dict(schema), orient="row")

    def attribute_types(self, log: str) -> dict[str, pl.DataType]:
        """The attributes of a log with their Polars types."""
        return {name: _ATTRIBUTE_TYPES[kind] for name, (kind, _) in self._attributes(log).items()}

    def _attributes(self, log: str) -> dict[str, tuple[str, str]]:
        """Each attribute of a log with its kind and its column in the attribute table."""
        with self._lock:
            row = self._sql.execute(
                "SELECT attribute_types FROM logs WHERE name = ?", (log,)
            ).fetchone()
        if row is None:
            raise UnknownLog(log)
        return {name: (kind, column) for name, (kind, column) in json.loads(row[0]).items()}

    def schema(self, log: str) -> pl.Schema:
        """The columns `scan` returns for this log (or view)."""
        base, _ = self._resolve(log)
        return pl.Schema({**VOCABULARY, **self.attribute_types(base)})

    def scan(
        self,
        log: str,
        *,
        as_of: datetime | None = None,
        known_at: datetime | int | None = None,
        case_id: str | Sequence[str] | None = None,
        after: tuple[datetime, int] | None = None,
    ) -> pl.LazyFrame:
        """The events of a log in position order, lazily, as the store holds them.

        ``as_of`` keeps events with ``timestamp <= as_of`` (valid time). ``known_at`` keeps
        what the store knew then: a datetime filters ``recorded_at``, an int filters
        ``position``. Both compose (bitemporal). ``case_id`` (one id or several) reads those
        cases' streams through the case index. ``after=(t, p)`` keeps only the events that
        happened after ``t`` or were appended after position ``p``: what a snapshot taken at
        ``t`` from the events up to ``p`` lacks. The query runs when the frame is collected.
        """
        base, object_type = self._resolve(log)
        if object_type is not None:
            flat = self._flattened(
                log, base, object_type, as_of=as_of, known_at=known_at, case_id=case_id
            )
            if after is None:
                return flat
            return flat.filter((pl.col("timestamp") > after[0]) | (pl.col("position") > after[1]))
        schema = pl.Schema({**VOCABULARY, **self.attribute_types(log)})
        cases = None if case_id is None else _case_ids(case_id)
        cut = _Cut(timestamp=_NEVER if as_of is None else to_micros(as_of), cases=cases)
        if isinstance(known_at, datetime):
            cut = replace(cut, recorded=to_micros(known_at))
        elif known_at is not None:
            cut = replace(cut, position=int(known_at))
        if after is not None:
            cut = replace(cut, after=(to_micros(after[0]), int(after[1])))

        def source(
            with_columns: list[str] | None,
            predicate: pl.Expr | None,
            n_rows: int | None,
            _batch_size: int | None,
        ) -> Iterator[pl.DataFrame]:
            # Polars tells which columns the query uses: only those are read.
            wanted = frozenset(with_columns) if with_columns is not None else None
            frame = self._read(log, schema, replace(cut, columns=wanted))
            if predicate is not None:
                frame = frame.filter(predicate)
            yield frame if n_rows is None else frame.head(n_rows)

        return register_io_source(source, schema=schema)

    def _flattened(
        self,
        name: str,
        log: str,
        object_type: str,
        *,
        as_of: datetime | None,
        known_at: datetime | int | None,
        case_id: str | Sequence[str] | None,
    ) -> pl.LazyFrame:
        """One object type's case-centric view: an event appears once per linked object."""
        wanted = None if case_id is None else json.dumps(_case_ids(case_id))
        events = self.scan(log, as_of=as_of, known_at=known_at)
        schema = events.collect_schema()

        def links() -> pl.DataFrame:
            with self._lock:
                log_id = self._sql.execute(
                    "SELECT log_id FROM logs WHERE name = ?", (log,)
                ).fetchone()[0]
                rows = self._sql.execute(
                    "SELECT DISTINCT l.event_id, l.object_id FROM event_objects l"
                    " JOIN objects o ON o.log_id = l.log_id AND o.object_id = l.object_id"
                    " WHERE l.log_id = ? AND o.object_type = ?"
                    " AND (?3 IS NULL OR l.object_id IN (SELECT value FROM json_each(?3)))",
                    (log_id, object_type, wanted),
                ).fetchall()
            return pl.DataFrame(
                rows, schema={"event_id": pl.String, "object_id": pl.String}, orient="row"
            )

        linked = pl.defer(links, schema={"event_id": pl.String, "object_id": pl.String})
        return (
            events.drop("case_id", "revision")
            .join(linked, on="event_id", how="inner")
            .rename({"object_id": "case_id"})
            .sort("position", "case_id")
            .with_columns(
                pl.lit(name).alias("log"),
                pl.int_range(pl.len(), dtype=pl.Int64).over("case_id").alias("revision"),
            )
            .select(schema.names())
        )

    def read(self, log: str, **options: Any) -> pl.DataFrame:
        """`scan` collected."""
        return self.scan(log, **options).collect()

    def _read(self, log: str, schema: pl.Schema, cut: _Cut) -> pl.DataFrame:
        with self._lock:
            found = self._sql.execute("SELECT log_id FROM logs WHERE name = ?", (log,)).fetchone()
            if found is None:
                raise UnknownLog(log)
            log_id = int(found[0])
            cursor = self._cursor()
            try:
                if cut.cases is None:
                    raw = self._read_log(cursor, log_id, cut)
                else:
                    raw = self._read_case(cursor, log_id, cut)
                if raw is None:
                    return pl.DataFrame(schema=schema)
                raw = self._with_attributes(cursor, log, log_id, raw, cut)
            finally:
                cursor.close()
            if cut.columns is not None:
                schema = pl.Schema({k: v for k, v in schema.items() if k in cut.columns})
            return self._decode(log, log_id, raw, schema)

    def _read_log(self, cursor: Any, log_id: int, cut: _Cut) -> pl.DataFrame | None:
        # The ranges that can hold qualifying events bound the scan.
        first, last = self._sql.execute(
            "SELECT min(first_position), max(last_position) FROM event_ranges"
            " WHERE log_id = ? AND min_timestamp <= ? AND recorded_at <= ? AND first_position <= ?"
            " AND (max_timestamp > ? OR last_position > ?)",
            (log_id, cut.timestamp, cut.recorded, cut.position, *cut.after),
        ).fetchone()
        if first is None:
            return None
        # `+log_id` keeps SQLite on the rowid range: one sequential pass instead of
        # random reads through an index.
        cursor.execute(
            f"SELECT {_select_list(cut.columns)} FROM events"
            " WHERE +log_id = ? AND position BETWEEN ? AND ?"
            " AND timestamp <= ? AND recorded_at <= ? AND (timestamp > ? OR position > ?)",
            (log_id, first, min(last, cut.position), cut.timestamp, cut.recorded, *cut.after),
        )
        return _frame(cursor)

    def _read_case(self, cursor: Any, log_id: int, cut: _Cut) -> pl.DataFrame | None:
        assert cut.cases is not None
        cursor.execute(
            f"SELECT {_select_list(cut.columns)} FROM events WHERE case_key IN"
            " (SELECT case_key FROM cases WHERE log_id = ? AND case_id IN"
            " (SELECT value FROM json_each(?))) AND position <= ?"
            " AND timestamp <= ? AND recorded_at <= ? ORDER BY position",
            (log_id, json.dumps(cut.cases), cut.position, cut.timestamp, cut.recorded),
        )
        frame = _frame(cursor)
        return None if frame.is_empty() else frame

    def _with_attributes(
        self, cursor: Any, log: str, log_id: int, raw: pl.DataFrame, cut: _Cut
    ) -> pl.DataFrame:
        """Join the log's attributes (those the query uses) onto events read from it."""
        raw = raw.cast({"position": pl.Int64})
        attributes = {
            name: spec
            for name, spec in self._attributes(log).items()
            if cut.columns is None or name in cut.columns
        }
        if not attributes or raw.is_empty():
            return raw
        columns = ", ".join(
            f"CAST({column} AS {_SQL_TYPES[kind]}) AS {column}"
            for kind, column in attributes.values()
        )
        table = _attribute_table(log_id)
        if cut.cases is not None:  # a few rows, by the primary key
            cursor.execute(
                f"SELECT position, {columns} FROM {table} WHERE position IN"
                " (SELECT value FROM json_each(?))",
                (json.dumps(raw["position"].to_list()),),
            )
        elif raw.height * 8 < _span(raw["position"]):
            # A sparse selection: look the rows up by position instead of reading the range.
            cursor.execute(
                f"SELECT position, {columns} FROM {table} WHERE position IN"
                " (SELECT value FROM json_each(?))",
                (json.dumps(raw["position"].to_list()),),
            )
        else:  # one sequential pass over the range
            cursor.execute(
                f"SELECT position, {columns} FROM {table} WHERE position BETWEEN ? AND ?",
                (raw["position"].min(), raw["position"].max()),
            )
        values = _frame(cursor).select(
            pl.col("position").cast(pl.Int64),
            *(
                pl.col(column)
                .cast(_PHYSICAL[_SQL_TYPES[kind]])
                .cast(_ATTRIBUTE_TYPES[kind])
                .alias(name)
                for name, (kind, column) in attributes.items()
            ),
        )
        return raw.join(values, on="position", how="left", maintain_order="left")

    def _dictionary(
        self, table: str, log_id: int, name: str, keys: pl.Series | None = None
    ) -> pl.DataFrame:
        """One log's entries of a dictionary table, as (key, ``name``) columns; only those of
        ``keys`` when given (a few cases need not load them all)."""
        key, _, query, _ = _DICTIONARIES[table]
        if keys is None:
            rows = self._sql.execute(query, (log_id,)).fetchall()
        else:
            wanted = json.dumps(keys.drop_nulls().unique().to_list())
            rows = self._sql.execute(
                f"{query} AND {key} IN (SELECT value FROM json_each(?))", (log_id, wanted)
            ).fetchall()
        return pl.DataFrame(rows, schema={key: pl.Int64, name: pl.String}, orient="row")

    def _decode(self, log: str, log_id: int, raw: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
        """Stored columns to the vocabulary: keys to names, integers to UTC times."""
        stored_types = {
            "position": pl.Int64,
            "case_key": pl.Int64,
            "revision": pl.Int64,
            "event_id": pl.String,
            "activity_key": pl.Int64,
            "timestamp": pl.Int64,
            "recorded_at": pl.Int64,
            "resource_key": pl.Int64,
            "lifecycle": pl.String,
            "correlation_id": pl.String,
            "causation_id": pl.String,
        }
        raw = raw.with_columns(
            pl.col(name).cast(dtype) for name, dtype in stored_types.items() if name in raw.columns
        )
        for table, name in (
            ("cases", "case_id"),
            ("activities", "activity"),
            ("resources", "resource"),
        ):
            key = _DICTIONARIES[table][0]
            if key in raw.columns:
                few = raw[key] if table == "cases" and raw.height < 50_000 else None
                raw = raw.join(
                    self._dictionary(table, log_id, name, few),
                    on=key,
                    how="left",
                    maintain_order="left",
                )
        frame = raw.with_columns(
            pl.col(name).cast(UTC_MICROS)
            for name in ("timestamp", "recorded_at")
            if name in raw.columns
        ).with_columns(pl.lit(log, dtype=pl.String).alias("log"))
        missing = [
            pl.lit(None, dtype=dtype).alias(name)
            for name, dtype in schema.items()
            if name not in frame.columns
        ]
        return frame.with_columns(missing).select(list(schema.names()))


class _Writer:
    """The statements of one write transaction, on an ADBC cursor holding the write lock."""

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor

    def fetch(self, query: str, parameters: Sequence[Any] = ()) -> pl.DataFrame:
        self.cursor.execute(query, parameters)
        frame = pl.from_arrow(self.cursor.fetch_arrow_table())
        assert isinstance(frame, pl.DataFrame)
        return frame

    def find_log(self, log: str) -> int | None:
        found = self.fetch("SELECT log_id FROM logs WHERE name = ?", (log,))
        return int(found.item(0, 0)) if found.height else None

    def ensure_log(self, log: str) -> int:
        found = self.find_log(log)
        if found is not None:
            return found
        self.cursor.execute(
            "INSERT INTO logs (name, created_at) VALUES (?, ?)", (log, to_micros(_now()))
        )
        return int(self.fetch("SELECT last_insert_rowid()").item(0, 0))

    def has_events(self, log_id: int) -> bool:
        found = self.fetch("SELECT 1 FROM event_ranges WHERE log_id = ? LIMIT 1", (log_id,))
        return found.height > 0

    def stored_ids(self, log_id: int, event_ids: pl.Series) -> pl.DataFrame:
        """The stored events among these ids, with their case, revision and position."""
        ids = pa.table({"event_id": event_ids.cast(pl.String).to_arrow()})
        self.cursor.adbc_ingest("offered_ids", ids, mode="replace", temporary=True)
        return self.fetch(
            "SELECT e.event_id, c.case_id, e.revision, e.position"
            " FROM temp.offered_ids o JOIN events e ON e.log_id = ? AND e.event_id = o.event_id"
            " JOIN cases c ON c.case_key = e.case_key ORDER BY e.position",
            (log_id,),
        ).cast(
            {
                "event_id": pl.String,
                "case_id": pl.String,
                "revision": pl.Int64,
                "position": pl.Int64,
            }
        )

    def case_revisions(self, log_id: int, case_ids: Sequence[str]) -> dict[str, int]:
        """The current revision of each of these cases that exists."""
        revision = "(SELECT max(revision) FROM events e WHERE e.case_key = c.case_key)"
        if len(case_ids) == 1:
            found = self.fetch(
                f"SELECT c.case_id, {revision} FROM cases c WHERE c.log_id = ? AND c.case_id = ?",
                (log_id, case_ids[0]),
            )
        else:
            offered = pa.table({"case_id": pa.array(case_ids, pa.string())})
            self.cursor.adbc_ingest("offered_cases", offered, mode="replace", temporary=True)
            found = self.fetch(
                f"SELECT c.case_id, {revision} FROM temp.offered_cases o"
                " JOIN cases c ON c.log_id = ? AND c.case_id = o.case_id",
                (log_id,),
            )
        return {str(case): int(rev) for case, rev in found.iter_rows() if rev is not None}

    def _keys(self, table: str, log_id: int, names: pl.Series) -> pl.DataFrame:
        """Integer keys for these names, creating the missing ones in sorted order."""
        key, column, query, top_query = _DICTIONARIES[table]
        wanted = pl.DataFrame({column: names.drop_nulls().unique().sort()})
        known = self.fetch(query, (log_id,))
        known = (
            known.cast({key: pl.Int64, column: pl.String})
            if known.height
            else pl.DataFrame(schema={key: pl.Int64, column: pl.String})
        )
        new = wanted.join(known, on=column, how="anti")
        if new.height:
            top = self.fetch(top_query).item(0, 0)
            new = new.select(
                (pl.int_range(pl.len(), dtype=pl.Int64) + int(top) + 1).alias(key),
                pl.lit(log_id, dtype=pl.Int64).alias("log_id"),
                pl.col(column),
            )
            self.cursor.adbc_ingest(table, new.to_arrow(), mode="append")
            known = pl.concat([known, new.select(key, column)])
        return known.rename({column: "_name"})

    def insert(self, log_id: int, frame: pl.DataFrame) -> int:
        """Write a prepared frame (see `prepare`); returns the position of its last event.

        The frame is grouped by case, so new positions, new case keys and (derived) event
        ids all grow in the order the indexes keep them.
        """
        types = self._merge_attribute_types(log_id, frame)
        cases = self._keys("cases", log_id, frame["case_id"])
        activities = self._keys("activities", log_id, frame["activity"])
        resources = self._keys("resources", log_id, frame["resource"])
        offered = frame["case_id"].unique().to_list()
        base = pl.DataFrame(
            list(self.case_revisions(log_id, offered).items()),
            schema={"case_id": pl.String, "_base": pl.Int64},
            orient="row",
        )
        top = self.fetch("SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'events'")
        last = self.fetch("SELECT recorded_at FROM events ORDER BY position DESC LIMIT 1")
        recorded_at = max(to_micros(_now()), int(last.item(0, 0)) if last.height else 0)
        rows = (
            frame.join(
                cases, left_on="case_id", right_on="_name", how="left", maintain_order="left"
            )
            .join(
                activities, left_on="activity", right_on="_name", how="left", maintain_order="left"
            )
            .join(
                resources, left_on="resource", right_on="_name", how="left", maintain_order="left"
            )
            .join(base, on="case_id", how="left", maintain_order="left")
            .with_columns(
                position=pl.int_range(pl.len(), dtype=pl.Int64) + int(top.item(0, 0)) + 1,
                revision=pl.col("_base").fill_null(-1) + 1 + pl.int_range(pl.len()).over("case_id"),
            )
        )
        stored = rows.select(
            "position",
            pl.lit(log_id, dtype=pl.Int64).alias("log_id"),
            "case_key",
            pl.col("revision").cast(pl.Int64),
            "event_id",
            "activity_key",
            pl.col("timestamp").dt.epoch("us").alias("timestamp"),
            pl.lit(recorded_at, dtype=pl.Int64).alias("recorded_at"),
            "resource_key",
            "lifecycle",
            "correlation_id",
            "causation_id",
        )
        self.cursor.adbc_ingest("events", stored.to_arrow(), mode="append")
        offered_attributes = [name for name in frame.columns if name not in WRITABLE]
        if offered_attributes:
            values = rows.select(
                "position",
                *(_physical(name, *types[name]) for name in offered_attributes),
            )
            self.cursor.adbc_ingest(_attribute_table(log_id), values.to_arrow(), mode="append")
        position = int(stored["position"].max())  # type: ignore[arg-type]
        self.cursor.execute(
            "INSERT INTO event_ranges (log_id, first_position, last_position, min_timestamp,"
            " max_timestamp, recorded_at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                log_id,
                int(stored["position"].min()),  # type: ignore[arg-type]
                position,
                int(stored["timestamp"].min()),  # type: ignore[arg-type]
                int(stored["timestamp"].max()),  # type: ignore[arg-type]
                recorded_at,
            ),
        )
        return position

    def _merge_attribute_types(
        self, log_id: int, frame: pl.DataFrame
    ) -> dict[str, tuple[str, str]]:
        """The log's attributes after this frame: new ones get a column, types widen."""
        found = self.fetch("SELECT attribute_types FROM logs WHERE log_id = ?", (log_id,))
        known = {name: tuple(spec) for name, spec in json.loads(found.item(0, 0)).items()}
        merged = dict(known)
        table = _attribute_table(log_id)
        for name, dtype in frame.schema.items():
            if name in WRITABLE:
                continue
            kind = attribute_type(dtype)
            if name in known:
                merged[name] = (_widen(known[name][0], kind), known[name][1])
                continue
            if not merged:
                self._create_attribute_table(log_id)
            column = f"a{len(merged) + 1}"
            self.cursor.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
            merged[name] = (kind, column)
        if merged != known:
            self.cursor.execute(
                "UPDATE logs SET attribute_types = ? WHERE log_id = ?",
                (json.dumps(merged), log_id),
            )
        return merged

    def _create_attribute_table(self, log_id: int) -> None:
        table = _attribute_table(log_id)
        self.cursor.execute(f"CREATE TABLE {table} (position INTEGER PRIMARY KEY)")
        self.cursor.execute(
            f"CREATE TRIGGER {table}_refuse_update BEFORE UPDATE ON {table}"
            " BEGIN SELECT RAISE(ABORT, 'events are append-only: UPDATE is refused'); END"
        )
        self.cursor.execute(
            f"CREATE TRIGGER {table}_refuse_delete BEFORE DELETE ON {table}"
            f" WHEN NOT EXISTS (SELECT 1 FROM dropping_logs WHERE log_id = {int(log_id)})"
            " BEGIN SELECT RAISE(ABORT,"
            " 'events are append-only: DELETE is refused (use `workbench drop`)'); END"
        )

    def insert_objects(self, log_id: int, objects: Objects) -> None:
        """Add objects, attribute values and links; those already stored are skipped."""
        self.cursor.execute("UPDATE logs SET kind = 'object' WHERE log_id = ?", (log_id,))
        tables = (
            ("objects", objects.objects, ("object_id", "object_type")),
            (
                "object_attributes",
                objects.attributes.with_columns(
                    pl.col("changed_at").cast(UTC_MICROS).dt.epoch("us").fill_null(0)
                ),
                ("object_id", "name", "changed_at", "kind", "value"),
            ),
            ("event_objects", objects.event_objects, ("event_id", "object_id", "qualifier")),
            ("object_objects", objects.object_objects, ("source_id", "target_id", "qualifier")),
        )
        statements = {
            "objects": "INSERT OR IGNORE INTO objects (log_id, object_id, object_type)"
            " SELECT ?, object_id, object_type FROM temp.offered_objects",
            "object_attributes": "INSERT OR IGNORE INTO object_attributes"
            " (log_id, object_id, name, changed_at, kind, value)"
            " SELECT ?, object_id, name, changed_at, kind, value FROM temp.offered_objects",
            "event_objects": "INSERT OR IGNORE INTO event_objects"
            " (log_id, event_id, object_id, qualifier)"
            " SELECT ?, event_id, object_id, qualifier FROM temp.offered_objects",
            "object_objects": "INSERT OR IGNORE INTO object_objects"
            " (log_id, source_id, target_id, qualifier)"
            " SELECT ?, source_id, target_id, qualifier FROM temp.offered_objects",
        }
        for table, frame, columns in tables:
            if frame.is_empty():
                continue
            offered = frame.select(columns)
            if "qualifier" in columns:
                offered = offered.with_columns(pl.col("qualifier").fill_null(""))
            self.cursor.adbc_ingest(
                "offered_objects", offered.to_arrow(), mode="replace", temporary=True
            )
            self.cursor.execute(statements[table], (log_id,))

    def record_progress(self, log: str, job: JobProgress, result: ImportResult) -> None:
        # Rows refused count as rejected events; refused links (no line) do not.
        lines = job.rejects["line"].drop_nulls()
        rejected = lines.n_unique() if lines.len() else 0
        if job.rejects.height:
            source = self.fetch("SELECT source FROM ingest_jobs WHERE job_id = ?", (job.job_id,))
            rows = job.rejects.select(
                pl.lit(job.job_id, dtype=pl.Int64).alias("job_id"),
                pl.lit(log, dtype=pl.String).alias("log"),
                pl.lit(source.item(0, 0), dtype=pl.String).alias("source"),
                pl.col("line").cast(pl.Int64),
                pl.col("place").cast(pl.String),
                pl.col("field").cast(pl.String),
                pl.col("value").cast(pl.String),
                pl.col("reason").cast(pl.String),
            )
            self.cursor.adbc_ingest("rejects", rows.to_arrow(), mode="append")
        self.cursor.execute(
            "UPDATE ingest_jobs SET events_read = events_read + ?, events_added = events_added + ?,"
            " duplicates = duplicates + ?, rejected = rejected + ?, rows_committed = ?,"
            " last_position = coalesce(?, last_position) WHERE job_id = ?",
            (
                result.events_read + rejected,
                result.events_added,
                result.duplicates,
                rejected,
                job.rows,
                result.position,
                job.job_id,
            ),
        )

    def drop(self, log_id: int, log: str) -> int:
        count = int(
            self.fetch("SELECT count(*) FROM events WHERE log_id = ?", (log_id,)).item(0, 0)
        )
        statements = [
            ("INSERT OR IGNORE INTO dropping_logs (log_id) VALUES (?)", (log_id,)),
            ("DELETE FROM events WHERE log_id = ?", (log_id,)),
            ("DELETE FROM cases WHERE log_id = ?", (log_id,)),
            ("DELETE FROM activities WHERE log_id = ?", (log_id,)),
            ("DELETE FROM resources WHERE log_id = ?", (log_id,)),
            ("DELETE FROM event_ranges WHERE log_id = ?", (log_id,)),
            ("DELETE FROM objects WHERE log_id = ?", (log_id,)),
            ("DELETE FROM object_attributes WHERE log_id = ?", (log_id,)),
            ("DELETE FROM event_objects WHERE log_id = ?", (log_id,)),
            ("DELETE FROM object_objects WHERE log_id = ?", (log_id,)),
            (f"DROP TABLE IF EXISTS {_attribute_table(log_id)}", ()),
            ("DELETE FROM rejects WHERE log = ?", (log,)),
            ("DELETE FROM materialized WHERE log_id = ?", (log_id,)),
            ("DELETE FROM materialized_changes WHERE log_id = ?", (log_id,)),
            ("DELETE FROM ingest_jobs WHERE log = ?", (log,)),
            ("DELETE FROM logs WHERE log_id = ?", (log_id,)),
            ("DELETE FROM dropping_logs WHERE log_id = ?", (log_id,)),
        ]
        for statement, parameters in statements:
            self.cursor.execute(statement, parameters)
        return count


def _physical(name: str, kind: str, column: str) -> pl.Expr:
    """An attribute as the value its column stores (see `_SQL_TYPES`)."""
    value = pl.col(name)
    if kind in ("Datetime", "Date", "Duration", "Time"):
        value = value.cast(_ATTRIBUTE_TYPES[kind]).to_physical()
    return value.cast(_PHYSICAL[_SQL_TYPES[kind]]).alias(column)


def _retried(
    log: str, case_id: str, offered: pl.Series, stored: pl.DataFrame, writer: _Writer
) -> AppendResult:
    """The original result of an exact retry, or `DuplicateEvents` for a partial overlap."""
    exact = (
        stored.height == offered.len()
        and stored["event_id"].to_list() == offered.to_list()
        and set(stored["case_id"].to_list()) == {case_id}
        and stored["revision"].diff().drop_nulls().eq(1).all()
    )
    if not exact:
        overlap = stored["event_id"].head(3).to_list()
        raise DuplicateEvents(
            f"case {case_id!r} in log {log!r}: {stored.height} of {offered.len()} event ids are"
            f" already stored ({', '.join(overlap)}...), and the batch is not a retry of one"
            " earlier append; nothing was written"
        )
    return AppendResult(position=int(stored["position"][-1]), revision=int(stored["revision"][-1]))


def _check_expected(
    log: str, case_id: str, expected: int | ExpectedRevision, actual: int | None
) -> None:
    if expected is ANY:
        return
    if expected is NO_STREAM:
        ok = actual is None
    elif expected is STREAM_EXISTS:
        ok = actual is not None
    else:
        ok = actual == expected
    if not ok:
        raise WrongExpectedRevision(log, case_id, expected, actual)


def _migrate(connection: sqlite3.Connection) -> None:
    """Bring a store made by an earlier version up to this schema (columns added since)."""
    added = {
        ("logs", "kind"): "ALTER TABLE logs ADD COLUMN kind TEXT NOT NULL DEFAULT 'case'",
        ("rejects", "place"): "ALTER TABLE rejects ADD COLUMN place TEXT",
        (
            "ingest_jobs",
            "last_position",
        ): "ALTER TABLE ingest_jobs ADD COLUMN last_position INTEGER",
    }
    for (table, column), statement in added.items():
        columns = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
        if column not in columns:
            connection.execute(statement)


def _now() -> datetime:
    return datetime.now(UTC)
