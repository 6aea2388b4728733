"""Shared fixtures: a fresh store, a few events, and the real logs beside the project."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from workbench import Event, EventStore

LOGS = Path(__file__).resolve().parent.parent.parent / "shared" / "logs"


def real_log(name: str) -> Path:
    """A log from the shared folder, or a skip when the folder is absent (a clone elsewhere)."""
    path = LOGS / name
    if not path.exists():
        pytest.skip(f"the real event logs are not beside the project ({path} is missing)")
    return path


def committed_rows(db: Path) -> int:
    """How many source rows the ingest jobs of a store have committed (read while it runs)."""
    try:
        with sqlite3.connect(db, timeout=30) as connection:
            row = connection.execute("SELECT max(rows_committed) FROM ingest_jobs").fetchone()
    except sqlite3.OperationalError:
        return 0
    return int(row[0] or 0)


@pytest.fixture
def store(tmp_path: Path) -> EventStore:
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
