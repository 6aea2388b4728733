"""A killed import leaves whole batches only, and running it again completes the log."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sample_data.generator import write
from tests.conftest import committed_rows
from workbench import EventStore


@pytest.mark.slow
def test_sigkill_mid_import_then_resume(tmp_path: Path) -> None:
    source = tmp_path / "orders.csv"
    rows = write(source, events=120_000, seed=3)
    db = tmp_path / "store.db"
    env = {**os.environ, "WORKBENCH_BATCH_ROWS": "5000"}
    command = [sys.executable, "-m", "workbench", "--db", str(db), "ingest", str(source), "--json"]
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while committed_rows(db) < 20_000 and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.02)
    assert child.poll() is None, "the import finished before it could be killed"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()

    connection = sqlite3.connect(db)
    assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    committed = connection.execute("SELECT rows_committed FROM ingest_jobs").fetchone()[0]
    stored = connection.execute("SELECT count(*) FROM events").fetchone()[0]
    connection.close()
    assert 0 < committed < rows
    assert committed % 5000 == 0, "a batch was half-written"
    assert stored == committed, "events and the job's record disagree"

    finished = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert finished.returncode == 0, finished.stderr
    with EventStore(db) as store:
        frame = store.read("orders")
        (job,) = store.ledger.jobs()
    assert frame.height == rows
    assert frame["event_id"].n_unique() == rows
    assert job.status == "completed"
    assert job.events_added == rows
