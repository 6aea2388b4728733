"""Shared fixtures: fresh stores on every backend, a few events, and the real logs beside the
project.

The store's contract runs on SQLite and on PostgreSQL: tests that take ``any_store`` (or
``location``) run once per backend. PostgreSQL needs a server: ``.ci/run`` starts a
throwaway one and exports its URL as ``WORKBENCH_TEST_POSTGRES``; each test gets a schema
of its own in it, dropped afterwards.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from workbench import Event, EventStore

LOGS = Path(__file__).resolve().parent.parent.parent / "shared" / "logs"
POSTGRES = os.environ.get("WORKBENCH_TEST_POSTGRES")
BACKENDS = ["sqlite", "postgres"]


def real_log(name: str) -> Path:
    """A log from the shared folder, or a skip when the folder is absent (a clone elsewhere)."""
    path = LOGS / name
    if not path.exists():
        pytest.skip(f"the real event logs are not beside the project ({path} is missing)")
    return path


def committed_rows(db: Path | str) -> int:
    """How many source rows the ingest jobs of a store have committed (read while it runs)."""
    if str(db).startswith("postgresql://"):
        import psycopg

        try:
            with psycopg.connect(str(db)) as connection:
                row = connection.execute("SELECT max(rows_committed) FROM ingest_jobs").fetchone()
        except psycopg.Error:
            return 0
        return int(row[0] or 0) if row else 0
    try:
        with sqlite3.connect(db, timeout=30) as connection:
            found = connection.execute("SELECT max(rows_committed) FROM ingest_jobs").fetchone()
    except sqlite3.OperationalError:
        return 0
    return int(found[0] or 0)


def with_schema(url: str, schema: str) -> str:
    """A PostgreSQL URL whose connections work in ``schema``."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


@contextmanager
def fresh_location(backend: str, folder: Path) -> Iterator[str]:
    """Where a new, empty store of this backend can be opened."""
    if backend == "sqlite":
        yield str(folder / f"store-{uuid.uuid4().hex[:8]}.db")
        return
    if not POSTGRES:
        pytest.skip("no PostgreSQL server: set WORKBENCH_TEST_POSTGRES (.ci/run starts one)")
    import psycopg

    schema = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    try:
        yield with_schema(POSTGRES, schema)
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def location(backend: str, tmp_path: Path) -> Iterator[str]:
    """A new store's location, once per backend."""
    with fresh_location(backend, tmp_path) as found:
        yield found


@pytest.fixture
def any_store(location: str) -> Iterator[EventStore]:
    """A new store, once per backend."""
    with EventStore(location) as opened:
        yield opened


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    """A new SQLite store (for tests of what is built on the store, not of the store)."""
    with EventStore(tmp_path / "store.db") as opened:
        yield opened


@pytest.fixture
def events() -> list[Event]:
    start = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
    names = ["register", "check", "approve", "ship", "invoice", "pay"]
    return [
        Event(
            activity=name,
            timestamp=start + timedelta(hours=index),
            event_id=f"e{index}",
            resource="ana" if index % 2 else "ben",
            attributes={"amount": 100 + index, "priority": index % 2 == 0},
        )
        for index, name in enumerate(names)
    ]


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with the demo log (its export and its late events), for tests that only read."""
    from sample_data.demo import load_demo

    db = tmp_path_factory.mktemp("demo") / "demo.db"
    with EventStore(db) as store:
        load_demo(store)
    return db
