"""What only the SQLite store has: its triggers, query plans, and an ordinary file that other
tools open; and opening a file that is not a store, or one that cannot be written."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import polars as pl
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


def _rebuild_events(connection: sqlite3.Connection, old: str, new: str) -> None:
    """The events table made again as an older version made it: its definition today with
    ``old`` replaced by ``new``, holding the same rows."""
    from workbench.store.sqlite import schema

    definition = schema.SCHEMA[schema.SCHEMA.index("CREATE TABLE IF NOT EXISTS events") :]
    connection.execute("ALTER TABLE events RENAME TO newer_events")
    connection.execute(definition.split(") STRICT;")[0].replace(old, new) + ") STRICT")
    connection.execute("INSERT INTO events SELECT * FROM newer_events")
    connection.execute("DROP TABLE newer_events")


def test_a_file_from_before_the_head_table_keeps_its_positions_unused(tmp_path, events) -> None:
    # Such a file counted positions with AUTOINCREMENT: its counter is where `head` starts.
    path = tmp_path / "older.db"
    with EventStore(path) as store:
        store.append("keep", "c1", events[:2])
        store.append("gone", "c1", events[2:4])
    with sqlite3.connect(path) as connection:  # as the older version made it
        connection.execute("DROP TABLE head")
        _rebuild_events(
            connection,
            "position INTEGER PRIMARY KEY,",
            "position INTEGER PRIMARY KEY AUTOINCREMENT,",
        )
        connection.execute("INSERT INTO dropping_logs SELECT log_id FROM logs WHERE name = 'gone'")
        connection.execute("DELETE FROM events WHERE position > 2")
        assert connection.execute("SELECT seq FROM sqlite_sequence").fetchone() == (4,)
    with EventStore(path) as store:
        assert store.append("keep", "c2", events[4:5]).position == 5


def _derived_frame() -> pl.DataFrame:
    moment = datetime(2024, 1, 1, 9, tzinfo=UTC)
    return pl.DataFrame(
        {
            "case_id": ["a", "a", "b"],
            "activity": ["x", "x", "y"],
            "timestamp": [moment, moment, moment + timedelta(seconds=1.5)],
            "event_id": [None, None, "given-1"],
        }
    )


_IDS = ["a@2024-01-01T09:00:00.000000Z/x#0", "a@2024-01-01T09:00:00.000000Z/x#1", "given-1"]


def test_an_id_derived_as_the_first_of_its_kind_is_not_stored(tmp_path) -> None:
    # No text and no index entry: it is derived again on read. Given ids and repeats
    # (``#1``) are stored.
    path = tmp_path / "implicit.db"
    with EventStore(path) as store:
        store.import_frame("log", _derived_frame())
        assert store.read("log")["event_id"].to_list() == _IDS
        again = store.import_frame("log", _derived_frame())
        assert (again.events_added, again.duplicates) == (0, 3)
    with sqlite3.connect(path) as connection:
        stored = [row[0] for row in connection.execute("SELECT event_id FROM events")]
    assert stored == [None, _IDS[1], "given-1"]


def test_a_file_that_stores_every_id_goes_on_storing_every_id(tmp_path, events) -> None:
    # Files from before implicit ids: event_id NOT NULL, every id in the unique index.
    path = tmp_path / "older.db"
    with EventStore(path) as store:
        store.append("keep", "c1", events[:2])
    with sqlite3.connect(path) as connection:  # as the older version made it
        connection.execute("DROP INDEX events_by_id")
        _rebuild_events(connection, "event_id TEXT,", "event_id TEXT NOT NULL,")
        connection.execute("CREATE UNIQUE INDEX events_by_id ON events (log_id, event_id)")
    with EventStore(path) as store:
        store.import_frame("log", _derived_frame(), head=0)
        assert store.read("log")["event_id"].to_list() == _IDS
        again = store.import_frame("log", _derived_frame())
        assert (again.events_added, again.duplicates) == (0, 3)
        assert store.read("keep").height == 2
    with sqlite3.connect(path) as connection:
        stored = connection.execute("SELECT count(*), count(event_id) FROM events").fetchone()
    assert stored == (5, 5)


def test_case_attributes_are_kept_once_per_run_of_equal_values(tmp_path) -> None:
    from tests.test_store_contract import case_attribute_frames
    from workbench.store import attributes

    path = tmp_path / "runs.db"
    first, later = case_attribute_frames()
    with EventStore(path) as store:
        store.import_frame("cases", first)
        store.import_frame("cases", later)
    table = attributes.table_name(1, attributes.CASE_TABLES)
    with sqlite3.connect(path) as connection:
        runs = connection.execute(f"SELECT position, case_key FROM {table} ORDER BY 1").fetchall()
    # a: north, then south; b (the same values as a's last): its first event; and in the
    # later import, each case's first event again.
    assert runs == [(1, 1), (3, 1), (4, 2), (5, 1), (6, 2)]
