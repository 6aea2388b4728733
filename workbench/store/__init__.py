"""The event store: one contract (`EventStore`), a recorder per backend (SQLite, PostgreSQL).

- `eventstore`: the rules (revisions, retries, imports, cuts, views), no SQL;
- `frames`: what the store accepts, and derived event ids; `attributes`: how attributes are
  typed and kept; `names`: log names and ``LOG/TYPE`` views;
- `jobs`: the ingest ledger; `projections`: stored projection results; `queries`: the
  projections users define in SQL; `rules`: alert rules and their firings; `records`:
  the frozen values all of them return;
- `recorder`: what a backend implements; `sqlite` and `postgres`: the two backends.
"""

from workbench.store.eventstore import UNTIMED, EventStore, open_recorder, recorder_for
from workbench.store.frames import (
    Prepared,
    derive_event_ids,
    from_micros,
    normalize,
    prepare,
    to_micros,
)
from workbench.store.names import LogName, check_log_name, public_location
from workbench.store.records import (
    ImportResult,
    Job,
    JobProgress,
    LogSummary,
    Objects,
    Query,
    StoredProjection,
)
from workbench.store.rules import Firing, Rules, StoredRule

__all__ = [
    "UNTIMED",
    "EventStore",
    "Firing",
    "ImportResult",
    "Job",
    "JobProgress",
    "LogName",
    "LogSummary",
    "Objects",
    "Prepared",
    "Query",
    "Rules",
    "StoredProjection",
    "StoredRule",
    "check_log_name",
    "derive_event_ids",
    "from_micros",
    "normalize",
    "open_recorder",
    "prepare",
    "public_location",
    "recorder_for",
    "to_micros",
]
