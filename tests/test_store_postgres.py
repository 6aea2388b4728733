"""What only the PostgreSQL store has: its triggers, its head row, and a URL without the
password wherever the store is named."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import fresh_location
from workbench import EventStore, WorkbenchError
from workbench.store import public_location


@pytest.fixture
def pg_store(tmp_path) -> Iterator[EventStore]:  # type: ignore[no-untyped-def]
    with fresh_location("postgres", tmp_path) as location, EventStore(location) as store:
        yield store


def test_the_database_refuses_update_delete_and_truncate(pg_store, events) -> None:
    import psycopg

    pg_store.append("demo", "c1", events)
    url = pg_store.recorder.url  # type: ignore[attr-defined]
    with psycopg.connect(url, autocommit=True) as raw:
        for statement in (
            "UPDATE events SET revision = 9",
            "DELETE FROM events",
            'UPDATE events SET "timestamp" = 0 WHERE position = 1',
            "TRUNCATE events",
            "TRUNCATE attributes_1",
            "DELETE FROM attributes_1",
        ):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                raw.execute(statement)
    assert pg_store.read("demo").height == len(events)


def test_head_counts_the_positions_given_out(pg_store, events) -> None:
    pg_store.append("demo", "c1", events[:4])
    pg_store.append("other", "c1", events[4:])
    with pg_store.recorder.transaction() as tx:
        first, recorded_at = tx.allocate(0)
    assert first == len(events) + 1
    assert recorded_at >= 0


def test_a_store_that_cannot_be_reached_is_one_clear_error() -> None:
    with pytest.raises(WorkbenchError, match=r"store postgresql://ana@127\.0\.0\.1:1/none"):
        EventStore("postgresql://ana:secret@127.0.0.1:1/none", timeout=2)


def test_the_password_never_shows() -> None:
    assert public_location("postgresql://ana:s3cret@db.example:5433/logs?sslmode=require") == (
        "postgresql://ana@db.example:5433/logs?sslmode=require"
    )
