"""Limits that hold: a time budget and a memory ceiling are kept in wall-clock time, by every
command and page that takes them, with what was finished reported and labelled."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbench import EventStore, bounded, mining
from workbench.application import Workbench
from workbench.cli import app

BUDGET = 5.0
SLACK = 10.0  # seconds a command may take beyond its budget (starting, reading, printing)


def _slowly(payload: tuple[int, float]) -> Iterator[int]:
    """Yields ``count`` numbers, then never finishes."""
    count, pause = payload
    yield from range(count)
    while True:
        time.sleep(pause)


def _counting(payload: int) -> Iterator[int]:
    yield from range(payload)


def _greedily(payload: int) -> Iterator[int]:
    """Holds more and more memory, ``payload`` MB at a time."""
    held = []
    while True:
        held.append(bytearray(payload * 1024 * 1024))
        yield len(held)
        time.sleep(0.01)


def _failing(payload: str) -> Iterator[int]:
    yield 1
    raise ValueError(payload)


def test_a_budget_stops_work_inside_a_step_and_keeps_what_finished() -> None:
    started = time.monotonic()
    outcome = bounded.run(_slowly, (3, 60.0), bounded.Limit(seconds=6.0))
    assert time.monotonic() - started < 6.0 + SLACK
    assert outcome.results == [0, 1, 2]
    assert outcome.stopped == "time"


def test_a_memory_ceiling_stops_work_that_grows() -> None:
    outcome = bounded.run(_greedily, 20, bounded.Limit(seconds=60, memory=400 * 1024**2))
    assert outcome.stopped == "memory"
    # Stopped with at most 400 MB held (the interpreter holds some: a spare worker that
    # the app prepared has pm4py imported), in 20 MB steps.
    assert 1 <= len(outcome.results) <= 20
    unbounded = bounded.run(_counting, 4, None)  # no limit: here, in this process
    assert (unbounded.results, unbounded.stopped) == ([0, 1, 2, 3], None)


def test_errors_in_a_worker_keep_their_message() -> None:
    with pytest.raises(bounded.WorkerFailed, match="the model is odd"):
        bounded.run(_failing, "the model is odd", bounded.Limit(seconds=30))


def _priority(payload: None) -> Iterator[tuple[int, int]]:
    yield os.getpriority(os.PRIO_PROCESS, 0), os.sched_getscheduler(0)


def _thread_priority() -> tuple[int, int]:
    """This thread's niceness and scheduling policy (on Linux, a thread has its own)."""
    thread = threading.get_native_id()
    return os.getpriority(os.PRIO_PROCESS, thread), os.sched_getscheduler(thread)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="threads' priorities: Linux")
def test_a_prepared_worker_imports_at_a_lower_priority_and_works_at_ours(monkeypatch) -> None:
    """What the app's prepared workers import ahead runs at a lower priority, so that a
    page opened meanwhile answers first; a job given to such a worker runs at the app's own
    priority, and so does this thread. Not the idle class: on a busy machine, a job waiting
    for its worker's imports would wait as long as the machine stays busy."""
    before = _thread_priority()
    bounded.prepare()
    assert bounded.run(_priority, None, bounded.Limit(seconds=60)).results == [before]
    imported = []  # what the prepared worker's importing thread does, here on a thread
    monkeypatch.setattr("workbench.models.pm4py", lambda: imported.append(_thread_priority()))
    thread = threading.Thread(target=bounded._import_ahead)
    thread.start()
    thread.join()
    [(niceness, policy)] = imported
    assert niceness >= bounded.BACKGROUND > before[0]
    assert policy == before[1] != os.SCHED_IDLE
    assert _thread_priority() == before


def test_a_script_without_a_main_guard_can_use_a_limit(tmp_path) -> None:
    script = tmp_path / "plain.py"
    script.write_text(
        "from workbench import bounded\n"
        "from tests.test_limits import _slowly\n"
        "print(bounded.run(_slowly, (2, 60.0), bounded.Limit(seconds=10)).results)\n"
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(root)},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[0, 1]"


def test_sizes_are_read_as_people_write_them() -> None:
    assert bounded.parse_size("2GB") == 2 * 1024**3
    assert bounded.parse_size("512 mb") == 512 * 1024**2
    assert bounded.parse_size("1.5G") == int(1.5 * 1024**3)
    with pytest.raises(ValueError, match="not a size"):
        bounded.parse_size("lots")


@pytest.fixture(scope="module")
def hard(tmp_path_factory) -> tuple[Path, Path]:
    """A store with a log whose alignments take minutes, and its model: eight parallel
    branches of five activities (40 transitions), 600 cases with about half their events
    dropped, repeated or misplaced, almost every case a variant of its own."""
    folder = tmp_path_factory.mktemp("hard")
    pm = mining.pm4py()
    from pm4py.objects.process_tree.obj import Operator, ProcessTree

    root = ProcessTree(operator=Operator.PARALLEL)
    branches = []
    for branch in range(8):
        sequence = ProcessTree(operator=Operator.SEQUENCE, parent=root)
        names = [f"t{branch}{step}" for step in range(5)]
        sequence.children.extend(ProcessTree(label=name, parent=sequence) for name in names)
        root.children.append(sequence)
        branches.append(names)
    net, initial, final = pm.convert_to_petri_net(root)
    model = folder / "model.pnml"
    pm.write_pnml(net, initial, final, str(model))
    every = [name for names in branches for name in names]
    rng = random.Random(7)
    rows = []
    for case in range(600):
        done = [0] * 8
        trace: list[str] = []
        while any(n < 5 for n in done):
            branch = rng.choice([b for b in range(8) if done[b] < 5])
            trace.append(branches[branch][done[branch]])
            done[branch] += 1
        noisy: list[str] = []
        for activity in trace:
            draw = rng.random()
            if draw < 0.2:
                continue
            if draw < 0.35:
                noisy.append(rng.choice(every))
            noisy.append(activity)
            if rng.random() < 0.15:
                noisy.append(rng.choice(every))
        start = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=case)
        rows.extend(
            (f"c{case}", activity, start + timedelta(minutes=index))
            for index, activity in enumerate(noisy)
        )
    import polars as pl

    frame = pl.DataFrame(rows, schema=["case_id", "activity", "timestamp"], orient="row")
    db = folder / "hard.db"
    with EventStore(db) as store:
        store.import_frame("hard", frame)
    return db, model


def _within(seconds: float, *arguments: str) -> tuple[str, float]:
    started = time.monotonic()
    result = CliRunner().invoke(app, list(arguments))
    took = time.monotonic() - started
    assert result.exit_code == 0, result.output
    assert took < seconds + SLACK, f"{' '.join(arguments)} took {took:.1f} s"
    return result.output, took


@pytest.mark.parametrize("aligner", ["r4pm", "pm4py"])
def test_alignments_keep_their_budget_and_say_what_they_left(hard, aligner) -> None:
    db, model = hard
    output, _ = _within(
        BUDGET,
        *("--db", str(db), "conformance", "hard", "--model", str(model)),
        *("--method", "alignments", "--aligner", aligner, "--budget", str(BUDGET), "--json"),
    )
    found = json.loads(output)
    assert found["stopped"] is True
    assert found["variants_checked"] < found["variants"]
    assert any(note.startswith("stopped at the time budget of 5 s") for note in found["notes"])


def test_token_replay_and_discovery_keep_their_budget(hard) -> None:
    db, model = hard
    output, _ = _within(
        BUDGET,
        *("--db", str(db), "conformance", "hard", "--model", str(model)),
        *("--budget", str(BUDGET), "--json"),
    )
    assert json.loads(output)["method"] == "tokens"  # finished or stopped, within the budget
    _within(
        BUDGET,
        *("--db", str(db), "discover", "hard", "--output", str(model.with_name("found.pnml"))),
        *("--budget", str(BUDGET)),
    )


def test_a_memory_ceiling_is_kept_and_said(hard) -> None:
    db, model = hard
    with Workbench(db) as bench:
        net = mining.read_model(model)
        result = bench.conformance(
            "hard", net, method="alignments", aligner="r4pm", budget=120, memory=500 * 1024**2
        )
    assert result.stopped
    assert any("the memory ceiling of 500 MB" in note for note in result.notes)


def test_discovery_that_reaches_its_limit_says_nothing_was_found(hard) -> None:
    db, _ = hard
    with Workbench(db) as bench, pytest.raises(mining.Stopped, match="nothing was discovered"):
        bench.discover("hard", budget=30, memory=1024)  # 1 KB: no interpreter fits


def test_the_discovery_page_keeps_its_budget_and_labels_what_it_shows(hard, monkeypatch) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.test_app import APP, close_app_store

    db, _ = hard
    monkeypatch.setenv("WORKBENCH_DB", str(db))
    app = AppTest.from_file(APP, default_timeout=120)
    app.query_params["log"] = "hard"
    app.run()
    app.switch_page("views/mining.py").run()
    next(r for r in app.radio if r.label == "Conformance").set_value("alignments").run()
    next(s for s in app.slider if s.label == "Time budget (s)").set_value(int(BUDGET)).run()
    started = time.monotonic()
    next(b for b in app.button if b.label == "Run").click().run()
    while time.monotonic() - started < BUDGET + SLACK + 30 and not any(
        m.label == "Variants checked" for m in app.main.metric
    ):
        time.sleep(0.25)
        app.run()
    took = time.monotonic() - started
    try:
        assert not app.main.error, [e.value for e in app.main.error]
        checked = next(m.value for m in app.main.metric if m.label == "Variants checked")
        assert took < BUDGET + SLACK, f"the page took {took:.1f} s"
        assert checked.endswith("of 600")
        assert not checked.startswith("600")
        assert any(w.value.startswith("stopped at the time budget of 5 s") for w in app.warning)
    finally:
        close_app_store()
