"""The event store: one contract (`EventStore`), a recorder per backend (SQLite, PostgreSQL).

- `eventstore`: the rules (revisions, retries, imports, cuts, views), no SQL;
- `frames`: what the store accepts, and derived event ids; `attributes`: how attributes are
  typed and kept; `names`: log names and ``LOG/TYPE`` views;
- `jobs`: the ingest ledger; `projections`: stored projection results; `queries`: the
  projections users define in SQL; `records`: the frozen values all of them return;
- `recorder`: what a backend implements; `sqlite` and `postgres`: the two backends.
"""

from workbench.store.eventstore import UNTIMED, EventStore, open_recorder
from workbench.store.frames import (
    Prepared,
    derive_event_ids,
    from_micros,
    normalize,
    prepare,
    to_micros,
)
from workbench.store.names import LogName, check_log_name
from workbench.store.records import (
    ImportResult,
    Job,
    JobProgress,
    LogSummary,
    Objects,
    Query,
    StoredProjection,
)

__all__ = [
    "UNTIMED",
    "EventStore",
    "ImportResult",
    "Job",
    "JobProgress",
    "LogName",
    "LogSummary",
    "Objects",
    "Prepared",
    "Query",
    "StoredProjection",
    "check_log_name",
    "derive_event_ids",
    "from_micros",
    "normalize",
    "open_recorder",
    "prepare",
    "to_micros",
]
