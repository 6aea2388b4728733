"""A killed import leaves whole batches only, and running it again completes the log, on
every backend."""

from __future__ import annotations

import json
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
def test_sigkill_mid_import_then_resume(backend, location, tmp_path: Path) -> None:
    source = tmp_path / "orders.csv"
    rows = write(source, events=120_000, seed=3)
    env = {**os.environ, "WORKBENCH_BATCH_ROWS": "5000"}
    command = [sys.executable, "-m", "workbench", "--db", location, "ingest", str(source), "--json"]
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while committed_rows(location) < 20_000 and time.monotonic() < deadline:
        if child.poll() is not None:
            break
        time.sleep(0.02)
    assert child.poll() is None, "the import finished before it could be killed"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()

    if backend == "sqlite":
        with sqlite3.connect(location) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with EventStore(location) as store:
        (job,) = store.ledger.jobs()
        stored = store.read("orders").height
    assert job.status == "interrupted", "a job whose process is gone is not running"
    assert 0 < job.rows_committed < rows
    assert job.rows_committed % 5000 == 0, "a batch was half-written"
    assert stored == job.rows_committed, "events and the job's record disagree"

    finished = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert finished.returncode == 0, finished.stderr
    with EventStore(location) as store:
        frame = store.read("orders")
        (job,) = store.ledger.jobs()
    assert frame.height == rows
    assert frame["event_id"].n_unique() == rows
    assert job.status == "completed"
    assert job.events_added == rows
    assert job.events_read == rows
    # The summary says what this run did, and that it resumed the job.
    summary = json.loads(finished.stdout)
    assert summary["resumed_after"] == stored
    assert summary["events_added"] == rows - stored
    assert summary["events_read"] == rows - stored
