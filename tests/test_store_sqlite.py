"""What only the SQLite store has: its triggers, query plans, and an ordinary file that other
tools open; and opening a file that is not a store, or one that cannot be written."""

from __future__ import annotations

import sqlite3

import pytest

from workbench import EventStore


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


def test_a_file_from_before_the_head_table_keeps_its_positions_unused(tmp_path, events) -> None:
    # Such a file counted positions with AUTOINCREMENT: its counter is where `head` starts.
    from workbench.store.sqlite import schema

    path = tmp_path / "older.db"
    with EventStore(path) as store:
        store.append("keep", "c1", events[:2])
        store.append("gone", "c1", events[2:4])
    with sqlite3.connect(path) as connection:  # as the older version made it
        connection.execute("DROP TABLE head")
        connection.execute("ALTER TABLE events RENAME TO newer_events")
        connection.execute(
            schema.SCHEMA[schema.SCHEMA.index("CREATE TABLE IF NOT EXISTS events") :]
            .split(") STRICT;")[0]
            .replace("position INTEGER PRIMARY KEY,", "position INTEGER PRIMARY KEY AUTOINCREMENT,")
            + ") STRICT"
        )
        connection.execute("INSERT INTO events SELECT * FROM newer_events")
        connection.execute("DROP TABLE newer_events")
        connection.execute("INSERT INTO dropping_logs SELECT log_id FROM logs WHERE name = 'gone'")
        connection.execute("DELETE FROM events WHERE position > 2")
        assert connection.execute("SELECT seq FROM sqlite_sequence").fetchone() == (4,)
    with EventStore(path) as store:
        assert store.append("keep", "c2", events[4:5]).position == 5
