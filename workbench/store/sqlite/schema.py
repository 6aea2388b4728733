"""The SQLite store's schema, and the migrations that bring older files up to it.

Layout of the file (an ordinary SQLite database that sqlite-utils and Datasette open):

- ``logs``: one row per log, with its attributes (see `workbench.store.attributes`).
- ``cases``, ``activities``, ``resources``: integer keys for the repeated strings.
- ``events``: the append-only log. ``position`` is the rowid; triggers refuse UPDATE and
  DELETE unless the log is being dropped on purpose. ``head`` holds the largest position
  ever allocated. An event id derived from the event's content is not stored (NULL).
- ``attributes_<log>`` (and ``attributes_<log>_<n>``): the attribute values, by position.
- ``event_ranges``: one row per committed write, for reads cut by time.
- the object-centric tables, ``ingest_jobs`` and ``rejects``, ``projections`` and
  ``projection_changes``, and ``user_projections``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, Final

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
-- The largest position ever allocated, so that a position is never used again, even after
-- the log that held the last ones is dropped (cheaper than AUTOINCREMENT, which updates
-- its counter for every row; files from before it keep their AUTOINCREMENT, and both hold).
CREATE TABLE IF NOT EXISTS head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    position INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    position INTEGER PRIMARY KEY,
    log_id INTEGER NOT NULL,
    case_key INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    -- NULL for the id derived from the event's content as the first of its case, time and
    -- activity (case@time/activity#0): derived again on read, it needs no text and no
    -- entry in events_by_id. Files from before this keep every id (NOT NULL).
    event_id TEXT,
    activity_key INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL,
    resource_key INTEGER,
    lifecycle TEXT,
    correlation_id TEXT,
    causation_id TEXT
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS events_by_case ON events (case_key, revision);
CREATE UNIQUE INDEX IF NOT EXISTS events_by_id ON events (log_id, event_id)
    WHERE event_id IS NOT NULL;
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
    message TEXT,
    pid INTEGER,
    host TEXT,
    actor TEXT
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
-- Stored projections and case-state snapshots, each an Arrow IPC frame with the
-- position it covers. Rebuildable from the events at any time.
CREATE TABLE IF NOT EXISTS projections (
    log_id INTEGER NOT NULL,
    view TEXT NOT NULL DEFAULT '',  -- the object type of a LOG/TYPE view, or ''
    name TEXT NOT NULL,
    at INTEGER NOT NULL,
    position INTEGER NOT NULL,
    refreshed_at INTEGER NOT NULL,
    seconds REAL NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (log_id, view, name, at)
);
-- Changes to a stored projection since it was last written whole: the rows of the cases
-- that changed (replacing those cases' rows), in order. Small catch-ups write only these.
CREATE TABLE IF NOT EXISTS projection_changes (
    log_id INTEGER NOT NULL,
    view TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL,
    at INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    position INTEGER NOT NULL,
    replaced TEXT NOT NULL,
    rows INTEGER NOT NULL DEFAULT 0,
    data BLOB NOT NULL,
    PRIMARY KEY (log_id, view, name, at, seq)
);
-- Projections users define in SQL over the table `events`.
CREATE TABLE IF NOT EXISTS user_projections (
    name TEXT PRIMARY KEY,
    query TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT ''
);
-- Alert rules (a condition over a projection, as JSON), the state of their last check,
-- and their firings with the position that triggered each.
CREATE TABLE IF NOT EXISTS alert_rules (
    name TEXT PRIMARY KEY,
    log TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    checked_position INTEGER,
    holding INTEGER NOT NULL DEFAULT 0
);
-- The people who may use a shared workbench: a role and a password hash (Argon2id, never
-- the password), and the audit trail of writes, logins and failed logins.
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    changed_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_by_actor ON audit (actor, action, at);
-- Per-log access: a log with grants is seen only by the users and @groups they name.
CREATE TABLE IF NOT EXISTS grants (
    log TEXT NOT NULL,
    principal TEXT NOT NULL,
    role TEXT NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (log, principal)
);
CREATE TABLE IF NOT EXISTS user_groups (
    name TEXT NOT NULL,
    grp TEXT NOT NULL,
    PRIMARY KEY (name, grp)
);
-- Working calendars as recorded facts: every change is a new row (a removal too), so that a
-- calendar can be read as it was known at any moment.
CREATE TABLE IF NOT EXISTS calendars (
    name TEXT NOT NULL,
    definition TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    removed INTEGER NOT NULL DEFAULT 0
);
-- Secret keys the store keeps for itself (the key of its pseudonyms), made on first use.
CREATE TABLE IF NOT EXISTS store_keys (
    name TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_firings (
    rule TEXT NOT NULL,
    log TEXT NOT NULL,
    position INTEGER NOT NULL,
    moment INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL,
    value REAL,
    message TEXT NOT NULL,
    PRIMARY KEY (rule, position)
);
"""


# Columns and tables added since the first version, and how to add them to an older file.
_ADDED_COLUMNS: Final = {
    ("logs", "kind"): "ALTER TABLE logs ADD COLUMN kind TEXT NOT NULL DEFAULT 'case'",
    ("rejects", "place"): "ALTER TABLE rejects ADD COLUMN place TEXT",
    ("ingest_jobs", "last_position"): "ALTER TABLE ingest_jobs ADD COLUMN last_position INTEGER",
    ("ingest_jobs", "pid"): "ALTER TABLE ingest_jobs ADD COLUMN pid INTEGER",
    ("ingest_jobs", "host"): "ALTER TABLE ingest_jobs ADD COLUMN host TEXT",
    ("ingest_jobs", "actor"): "ALTER TABLE ingest_jobs ADD COLUMN actor TEXT",
}
# Stored projections before they were keyed by view (derived data, dropped on upgrade).
_OLD_DERIVED: Final = ("materialized", "materialized_changes")


Run = Callable[[str], list[Any]]  # runs one statement, returns its rows


def _columns(run: Run, table: str) -> set[str]:
    return {row[1] for row in run(f"PRAGMA table_info({table})")}


def _tables(run: Run) -> set[str]:
    return {row[0] for row in run("SELECT name FROM sqlite_master")}


def create(run: Run) -> None:
    """Create what is missing, after bringing an older file's tables up to date, in one
    transaction: another process opening the file meanwhile sees all of it or none."""
    run("BEGIN IMMEDIATE")
    try:
        tables = _tables(run)
        if "logs" in tables:
            _migrate(run, tables)
        for statement in _statements(SCHEMA):
            run(statement)
        _start_head(run)
    except BaseException:
        run("ROLLBACK")
        raise
    run("COMMIT")


def _start_head(run: Run) -> None:
    """The head of a new file, or of one from before the table: the largest position its
    AUTOINCREMENT counter or its events ever reached."""
    if run("SELECT 1 FROM head"):
        return
    counted = run("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")
    sequence = "(SELECT max(seq) FROM sqlite_sequence WHERE name = 'events')" if counted else "NULL"
    run(
        "INSERT INTO head (id, position) SELECT 1, max(coalesce("
        f"{sequence}, 0), coalesce((SELECT max(position) FROM events), 0))"
    )


def _statements(script: str) -> list[str]:
    """The statements of a script, each complete (triggers hold semicolons of their own)."""
    found, pending = [], ""
    for line in script.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        pending += line
        if sqlite3.complete_statement(pending):
            found.append(pending.strip())
            pending = ""
    return [statement for statement in found if statement]


def _migrate(run: Run, tables: set[str]) -> None:
    # Stored projections are derived data: older tables are dropped, not converted, and
    # the results are computed again when next asked for.
    for table in (*_OLD_DERIVED, "projections", "projection_changes"):
        if table in tables and "view" not in _columns(run, table):
            run(f"DROP TABLE {table}")
    for (table, column), statement in _ADDED_COLUMNS.items():
        if table in tables and column not in _columns(run, table):
            run(statement)


def needs_changes(run: Run) -> bool:
    """Whether `create` would change the file (a read-only store must not need to)."""
    tables = _tables(run)
    expected = {
        "logs",
        "head",
        "events",
        "ingest_jobs",
        "rejects",
        "projections",
        "user_projections",
        "alert_rules",
        "alert_firings",
        "users",
        "audit",
        "grants",
        "user_groups",
        "store_keys",
        "calendars",
    }
    if not expected <= tables:
        return True
    if any(column not in _columns(run, table) for table, column in _ADDED_COLUMNS):
        return True
    return "view" not in _columns(run, "projections") or any(
        table in tables for table in _OLD_DERIVED
    )
