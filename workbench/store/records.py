"""The store's records: frozen values that readers get back, whatever the backend."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import polars as pl


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
    rejects: pl.DataFrame  # line, place, field, value, reason


@dataclass(frozen=True)
class LogSummary:
    """One log as `EventStore.logs` lists it."""

    log: str
    cases: int
    events: int
    first_timestamp: datetime | None
    last_timestamp: datetime | None
    kind: str = "case"  # "case"; "object" (OCEL); "view" (one object type of an OCEL log)
    object_types: Mapping[str, int] = field(default_factory=dict)
    timed: bool = True  # False: imported without times, ordered by position in the file
    warning: str | None = None  # e.g. the last import stopped part-way through its file


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


JOB_STATUSES = ("running", "completed", "partial", "failed", "interrupted")


@dataclass(frozen=True)
class Job:
    """One ingest job as the ledger records it."""

    job_id: int
    log: str
    source: str
    sha256: str
    format: str
    mapping: Mapping[str, str]
    status: str  # one of JOB_STATUSES
    events_read: int
    events_added: int
    duplicates: int
    rejected: int
    rows_committed: int
    last_position: int | None
    started_at: str
    finished_at: str | None
    seconds: float | None
    message: str | None
    pid: int | None = None  # the process that runs (or ran) it, and its host
    host: str | None = None
    actor: str | None = None  # who imported: a user, or the machine's user (None: unknown)

    def as_dict(self) -> dict[str, Any]:
        """The job as plain JSON-ready values."""
        values = asdict(self)
        values["mapping"] = dict(self.mapping)
        return values


@dataclass(frozen=True)
class StoredProjection:
    """A projection's stored result: which log, what it covers, when it was refreshed."""

    log: str
    name: str
    at: int  # the moment (microseconds) of a case-state snapshot; 0 for other projections
    position: int
    refreshed_at: int  # microseconds since the epoch, UTC
    seconds: float
    bytes: int


@dataclass(frozen=True)
class Query:
    """A projection a user defined in SQL over the table ``events``."""

    name: str
    query: str
    description: str = ""


@dataclass(frozen=True)
class SqlSource:
    """A stored log's events as one SQL query over a server store, for engines that read
    the database themselves (Spark's JDBC source): see `EventStore.sql_source`."""

    url: str  # the server's URL, credentials included
    query: str
    attributes: Any  # workbench.store.attributes.Attributes: how to read the attribute columns
    first: int  # the log's first position
    last: int  # the last position read: a fixed upper bound, so every reader sees one prefix
