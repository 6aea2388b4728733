"""Logs of intervals (a start time per event): import."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from workbench import EventStore
from workbench.cli import app

START = datetime(2024, 3, 1, 8, tzinfo=UTC)


def _cli(db: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--db", str(db), *args])
    return result.exit_code, result.output


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


# ------------------------------------------------------------------ import


def test_a_start_time_column_is_found_checked_and_kept(tmp_path) -> None:
    source = tmp_path / "shifts.csv"
    source.write_text(
        "case,activity,Start Time,End Time,who\n"
        "c1,a,2024-01-01 09:00,2024-01-01 10:00,x\n"
        "c1,b,2024-01-01 11:00,2024-01-01 10:30,y\n"  # starts after it ends
        "c1,c,soon,2024-01-01 12:00,y\n"  # unreadable
        "c1,d,,2024-01-01 13:00,y\n"  # no start: took no time
    )
    db = tmp_path / "s.db"
    code, output = _cli(db, "ingest", str(source), "--log", "shifts")
    assert code == 0, output
    assert "2 rejected" in output
    code, output = _cli(db, "rejects", "shifts", "--json")
    rejects = json.loads(output)
    assert [(r["line"], r["field"], r["value"]) for r in rejects] == [
        (3, "Start Time", "2024-01-01 11:00"),
        (4, "Start Time", "soon"),
    ]
    assert "later than the timestamp" in rejects[0]["reason"]
    assert "cannot read soon as a time" in rejects[1]["reason"]
    with EventStore(db) as store:
        kept = store.scan("shifts").sort("position").collect()
    assert kept["activity"].to_list() == ["a", "d"]
    assert kept["start_timestamp"].to_list() == [datetime(2024, 1, 1, 9, tzinfo=UTC), None]
    assert kept.schema["start_timestamp"] == pl.Datetime("us", "UTC")


def test_the_start_column_can_be_named_and_contradictions_are_refused(tmp_path) -> None:
    source = tmp_path / "odd.csv"
    source.write_text("case,step,begun,finished\nc1,a,2024-01-01 09:00,2024-01-01 10:00\n")
    db = tmp_path / "s.db"
    assert _cli(db, "ingest", str(source), "--log", "plain")[0] == 0
    with EventStore(db) as store:
        assert "start_timestamp" not in store.schema("plain")
    code, output = _cli(
        db, "ingest", str(source), "--log", "odd", "--start-timestamp", "begun", "--json"
    )
    assert code == 0, output
    with EventStore(db) as store:
        assert store.scan("odd").collect()["start_timestamp"].to_list() == [
            datetime(2024, 1, 1, 9, tzinfo=UTC)
        ]
    code, output = _cli(
        db, "ingest", str(source), "--log", "new", "--start-timestamp", "begun", "--no-times"
    )
    assert code == 2
    assert "--start-timestamp 'begun' and --no-times contradict each other" in output
    code, output = _cli(db, "ingest", str(source), "--log", "n", "--start-timestamp", "nowhere")
    assert code == 2
    assert "there is no column 'nowhere' for start_timestamp" in output
