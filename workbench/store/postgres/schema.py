"""The PostgreSQL store's schema: the same tables and rules as the SQLite file.

Positions come from the one row of ``head``, updated in the transaction that appends,
after the writer has locked ``events``: they are gap-free (a rolled-back or refused append
uses up nothing, unlike a sequence) and commit in order. Triggers refuse UPDATE, DELETE
and TRUNCATE of events, attribute values, objects and links, unless the log is being
dropped on purpose. Text that identifies things (case ids, event ids, names) uses the
``C`` collation: byte order, the same as SQLite's, and much cheaper to index.
"""

from __future__ import annotations

from typing import Final

#: Bump when the schema changes; `create` brings older databases up to date.
VERSION: Final = 7

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS workbench_schema (version integer NOT NULL);
CREATE TABLE IF NOT EXISTS logs (
    log_id bigserial PRIMARY KEY,
    name text COLLATE "C" NOT NULL UNIQUE,
    created_at bigint NOT NULL,
    attribute_types text NOT NULL DEFAULT '{}',
    kind text NOT NULL DEFAULT 'case'
);
CREATE TABLE IF NOT EXISTS cases (
    case_key bigint PRIMARY KEY,
    log_id bigint NOT NULL REFERENCES logs(log_id),
    case_id text COLLATE "C" NOT NULL,
    UNIQUE (log_id, case_id)
);
CREATE TABLE IF NOT EXISTS activities (
    activity_key bigint PRIMARY KEY,
    log_id bigint NOT NULL REFERENCES logs(log_id),
    name text COLLATE "C" NOT NULL,
    UNIQUE (log_id, name)
);
CREATE TABLE IF NOT EXISTS resources (
    resource_key bigint PRIMARY KEY,
    log_id bigint NOT NULL REFERENCES logs(log_id),
    name text COLLATE "C" NOT NULL,
    UNIQUE (log_id, name)
);
CREATE TABLE IF NOT EXISTS events (
    position bigint PRIMARY KEY,
    log_id bigint NOT NULL,
    case_key bigint NOT NULL,
    revision bigint NOT NULL,
    event_id text COLLATE "C" NOT NULL,
    activity_key bigint NOT NULL,
    "timestamp" bigint NOT NULL,
    recorded_at bigint NOT NULL,
    resource_key bigint,
    lifecycle text,
    correlation_id text,
    causation_id text
);
CREATE UNIQUE INDEX IF NOT EXISTS events_by_case ON events (case_key, revision);
CREATE UNIQUE INDEX IF NOT EXISTS events_by_id ON events (log_id, event_id);
-- The last position given out and the transaction time of the last append.
CREATE TABLE IF NOT EXISTS head (
    id integer PRIMARY KEY CHECK (id = 1),
    position bigint NOT NULL,
    recorded_at bigint NOT NULL
);
INSERT INTO head (id, position, recorded_at) VALUES (1, 0, 0) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS event_ranges (
    log_id bigint NOT NULL,
    first_position bigint NOT NULL,
    last_position bigint NOT NULL,
    min_timestamp bigint NOT NULL,
    max_timestamp bigint NOT NULL,
    recorded_at bigint NOT NULL,
    PRIMARY KEY (log_id, first_position)
);
CREATE TABLE IF NOT EXISTS dropping_logs (log_id bigint PRIMARY KEY);
CREATE TABLE IF NOT EXISTS objects (
    log_id bigint NOT NULL,
    object_id text COLLATE "C" NOT NULL,
    object_type text COLLATE "C" NOT NULL,
    PRIMARY KEY (log_id, object_id)
);
CREATE TABLE IF NOT EXISTS object_attributes (
    log_id bigint NOT NULL,
    object_id text COLLATE "C" NOT NULL,
    name text COLLATE "C" NOT NULL,
    changed_at bigint NOT NULL,
    kind text NOT NULL,
    value text,
    PRIMARY KEY (log_id, object_id, name, changed_at)
);
CREATE TABLE IF NOT EXISTS event_objects (
    log_id bigint NOT NULL,
    event_id text COLLATE "C" NOT NULL,
    object_id text COLLATE "C" NOT NULL,
    qualifier text COLLATE "C" NOT NULL DEFAULT '',
    PRIMARY KEY (log_id, event_id, object_id, qualifier)
);
CREATE INDEX IF NOT EXISTS event_objects_by_object ON event_objects (log_id, object_id);
CREATE TABLE IF NOT EXISTS object_objects (
    log_id bigint NOT NULL,
    source_id text COLLATE "C" NOT NULL,
    target_id text COLLATE "C" NOT NULL,
    qualifier text COLLATE "C" NOT NULL DEFAULT '',
    PRIMARY KEY (log_id, source_id, target_id, qualifier)
);
CREATE TABLE IF NOT EXISTS ingest_jobs (
    job_id bigserial PRIMARY KEY,
    log text COLLATE "C" NOT NULL,
    source text NOT NULL,
    sha256 text NOT NULL,
    format text NOT NULL,
    mapping text NOT NULL DEFAULT '{}',
    status text NOT NULL,
    events_read bigint NOT NULL DEFAULT 0,
    events_added bigint NOT NULL DEFAULT 0,
    duplicates bigint NOT NULL DEFAULT 0,
    rejected bigint NOT NULL DEFAULT 0,
    rows_committed bigint NOT NULL DEFAULT 0,
    last_position bigint,
    started_at text NOT NULL,
    finished_at text,
    seconds double precision,
    message text,
    pid bigint,
    host text,
    actor text
);
-- Added in version 5 (a table made before it has no such column).
ALTER TABLE ingest_jobs ADD COLUMN IF NOT EXISTS actor text;
CREATE INDEX IF NOT EXISTS ingest_jobs_by_content ON ingest_jobs (log, sha256);
CREATE TABLE IF NOT EXISTS rejects (
    reject_id bigserial PRIMARY KEY,
    job_id bigint NOT NULL,
    log text COLLATE "C" NOT NULL,
    source text NOT NULL,
    line bigint,
    place text,
    field text,
    value text,
    reason text NOT NULL
);
CREATE INDEX IF NOT EXISTS rejects_by_log ON rejects (log, job_id);
CREATE TABLE IF NOT EXISTS projections (
    log_id bigint NOT NULL,
    view text COLLATE "C" NOT NULL DEFAULT '',
    name text COLLATE "C" NOT NULL,
    at bigint NOT NULL,
    position bigint NOT NULL,
    refreshed_at bigint NOT NULL,
    seconds double precision NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (log_id, view, name, at)
);
CREATE TABLE IF NOT EXISTS projection_changes (
    log_id bigint NOT NULL,
    view text COLLATE "C" NOT NULL DEFAULT '',
    name text COLLATE "C" NOT NULL,
    at bigint NOT NULL,
    seq bigint NOT NULL,
    position bigint NOT NULL,
    replaced text NOT NULL,
    rows bigint NOT NULL DEFAULT 0,
    data bytea NOT NULL,
    PRIMARY KEY (log_id, view, name, at, seq)
);
CREATE TABLE IF NOT EXISTS user_projections (
    name text COLLATE "C" PRIMARY KEY,
    query text NOT NULL,
    description text NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS alert_rules (
    name text COLLATE "C" PRIMARY KEY,
    log text COLLATE "C" NOT NULL,
    definition text NOT NULL,
    created_at bigint NOT NULL,
    checked_position bigint,
    holding integer NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS users (
    name text COLLATE "C" PRIMARY KEY,
    role text NOT NULL,
    password text NOT NULL,
    created_at bigint NOT NULL,
    changed_at bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    at bigint NOT NULL,
    actor text COLLATE "C" NOT NULL,
    action text COLLATE "C" NOT NULL,
    target text NOT NULL DEFAULT '',
    detail text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_by_actor ON audit (actor, action, at);
CREATE TABLE IF NOT EXISTS grants (
    log text COLLATE "C" NOT NULL,
    principal text COLLATE "C" NOT NULL,
    role text NOT NULL,
    granted_at bigint NOT NULL,
    PRIMARY KEY (log, principal)
);
CREATE TABLE IF NOT EXISTS user_groups (
    name text COLLATE "C" NOT NULL,
    grp text COLLATE "C" NOT NULL,
    PRIMARY KEY (name, grp)
);
CREATE TABLE IF NOT EXISTS calendars (
    name text COLLATE "C" NOT NULL,
    definition text NOT NULL,
    recorded_at bigint NOT NULL,
    removed integer NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS store_keys (
    name text COLLATE "C" PRIMARY KEY,
    secret text NOT NULL,
    created_at bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_firings (
    rule text COLLATE "C" NOT NULL,
    log text COLLATE "C" NOT NULL,
    position bigint NOT NULL,
    moment bigint NOT NULL,
    recorded_at bigint NOT NULL,
    value double precision,
    message text NOT NULL,
    PRIMARY KEY (rule, position)
);
CREATE OR REPLACE FUNCTION workbench_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM dropping_logs WHERE log_id = OLD.log_id) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'append-only: % on % is refused (use `workbench drop`)', TG_OP, TG_TABLE_NAME;
END $$;
CREATE OR REPLACE FUNCTION workbench_attributes_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND EXISTS (SELECT 1 FROM dropping_logs WHERE log_id = TG_ARGV[0]::bigint) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'append-only: % on % is refused (use `workbench drop`)', TG_OP, TG_TABLE_NAME;
END $$;
CREATE OR REPLACE FUNCTION workbench_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'append-only: TRUNCATE of % is refused (use `workbench drop`)',
        TG_TABLE_NAME;
END $$;
"""

#: The append-only tables (those with a ``log_id``) and their triggers.
APPEND_ONLY: Final = ("events", "objects", "object_attributes", "event_objects", "object_objects")


def triggers(table: str, function: str = "workbench_append_only()") -> list[str]:
    """The statements that make a table append-only (rows and TRUNCATE)."""
    return [
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
        f" FOR EACH ROW EXECUTE FUNCTION {function}",
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
        " FOR EACH STATEMENT EXECUTE FUNCTION workbench_refuse_truncate()",
    ]


def statements() -> list[str]:
    """Everything `create` runs, in order."""
    found = [SCHEMA]
    for table in APPEND_ONLY:
        found.extend(triggers(table))
    found.append("DELETE FROM workbench_schema")
    found.append(f"INSERT INTO workbench_schema (version) VALUES ({VERSION})")
    return found
