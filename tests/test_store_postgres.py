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


def _role_url(url: str, role: str) -> str:
    """The same database and schema, connecting as another role."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.netloc.split("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{role}@{host}"))


def test_a_read_only_role_reads_and_the_triggers_hold_for_any_role(pg_store, events) -> None:
    """As docs/postgresql.md sets them up: a viewer's role with SELECT only reads the store
    through Workbench and cannot write; a role that is not the owner, even one granted
    UPDATE and DELETE, is refused by the append-only triggers."""
    import uuid

    import psycopg

    pg_store.append("demo", "c1", events)
    url = pg_store.recorder.url  # type: ignore[attr-defined]
    suffix = uuid.uuid4().hex[:8]
    reader, writer = f"wb_viewer_{suffix}", f"wb_writer_{suffix}"
    with psycopg.connect(url, autocommit=True) as admin:
        schema = admin.execute("SELECT current_schema()").fetchone()[0]  # type: ignore[index]
        admin.execute(f"CREATE ROLE {reader} LOGIN")
        admin.execute(f"GRANT USAGE ON SCHEMA {schema} TO {reader}")
        admin.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {reader}")
        admin.execute(f"CREATE ROLE {writer} LOGIN")
        admin.execute(f"GRANT USAGE ON SCHEMA {schema} TO {writer}")
        admin.execute(f"GRANT SELECT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {writer}")
    try:
        with EventStore(_role_url(url, reader)) as viewer:
            assert viewer.read("demo").height == len(events)
            assert [summary.log for summary in viewer.logs()] == ["demo"]
            with pytest.raises(WorkbenchError) as refused:
                viewer.append("demo", "c2", events[:1])
            assert "permission denied" in str(refused.value)
            assert "\n" not in str(refused.value)
        with psycopg.connect(_role_url(url, writer), autocommit=True) as raw:
            for statement in ("UPDATE events SET revision = 9", "DELETE FROM events"):
                with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                    raw.execute(statement)
        assert pg_store.read("demo").height == len(events)
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            for role in (reader, writer):
                admin.execute(f"DROP OWNED BY {role}")
                admin.execute(f"DROP ROLE {role}")
