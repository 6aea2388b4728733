"""Shared fixtures: a fresh store, a few events, and the real logs beside the project."""

from __future__ import annotations

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
