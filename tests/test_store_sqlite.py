"""What only the SQLite store has: its triggers, query plans, and an ordinary file that other
tools open; and opening a file that is not a store, or one that cannot be written."""

from __future__ import annotations

import sqlite3

import pytest


def test_the_database_refuses_update_and_delete_of_events(store, events) -> None:
    store.append("demo", "c1", events)
    raw = sqlite3.connect(store.path)
    for statement in (
        "UPDATE events SET revision = 9",
        "DELETE FROM events",
        "UPDATE events SET timestamp = 0 WHERE position = 1",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute(statement)
    raw.close()
    assert store.read("demo").height == len(events)


def test_the_store_is_a_plain_sqlite_file(store, events) -> None:
    import sqlite_utils

    store.append("demo", "c1", events)
    database = sqlite_utils.Database(store.path)
    assert {"events", "logs", "cases", "ingest_jobs", "rejects"} <= set(database.table_names())
    assert database["events"].count == len(events)


def test_reading_one_case_uses_the_case_index(store, events) -> None:
    store.append("demo", "c1", events)
    plan = store.recorder.query(
        "EXPLAIN QUERY PLAN SELECT * FROM events WHERE case_key = 1 ORDER BY revision"
    )
    assert "events_by_case" in str(plan)
