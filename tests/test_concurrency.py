"""Many processes at once, on every backend: of racing writers exactly one wins each round,
positions have no gaps, a reader catching up by position sees every event once, and opening
a store under load waits instead of failing."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sample_data.generator import write
from workbench import NO_STREAM, Event, EventStore, WorkbenchError, WrongExpectedRevision

WRITERS = 8
ROUNDS = {"sqlite": 25, "postgres": 40}


def _racer(location: str, name: int, rounds: int, barrier: Any, results: Any) -> None:
    with EventStore(location) as store:
        for round_ in range(rounds):
            barrier.wait()
            expected = NO_STREAM if round_ == 0 else round_ - 1
            event = Event(
                activity=f"step {round_}",
                timestamp=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=round_),
                resource=f"writer {name}",
            )
            try:
                result = store.append("race", "case-1", [event], expected_revision=expected)
            except WrongExpectedRevision:
                results.put((round_, name, None))
            else:
                results.put((round_, name, result.revision))


@pytest.mark.slow
def test_racing_writers_exactly_one_wins_each_round(backend, location) -> None:
    rounds = ROUNDS[backend]
    EventStore(location).close()  # create the schema before the race
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WRITERS)
    results = context.Queue()
    processes = [
        context.Process(target=_racer, args=(location, name, rounds, barrier, results))
        for name in range(WRITERS)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=180) for _ in range(WRITERS * rounds)]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    for round_ in range(rounds):
        winners = [rev for r, _, rev in outcomes if r == round_ and rev is not None]
        assert winners == [round_], f"round {round_}: winners {winners}"
    with EventStore(location) as store:
        frame = store.read("race")
    assert frame["position"].to_list() == list(range(1, rounds + 1))
    assert frame["revision"].to_list() == list(range(rounds))
    assert frame["activity"].to_list() == [f"step {r}" for r in range(rounds)]


def _appender(location: str, name: int, count: int, errors: Any) -> None:
    """Open the store and append ``count`` single events, reporting any error's text."""
    try:
        with EventStore(location) as store:
            for index in range(count):
                event = Event(
                    activity="tick",
                    timestamp=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=index),
                    event_id=f"w{name}-{index}",
                )
                store.append("ticks", f"writer-{name}", [event])
    except WorkbenchError as error:  # the store's own error is allowed to name a timeout
        errors.put(f"store error: {error}")
    except Exception as error:  # anything else (a driver's raw error) fails the test
        errors.put(f"raw error {type(error).__name__}: {error}")


@pytest.mark.slow
def test_positions_have_no_gaps_after_refused_and_rolled_back_appends(any_store) -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    any_store.append("log", "a", [Event("x", start, event_id="a0")], expected_revision=NO_STREAM)
    late = [Event("y", start, event_id="a1")]
    with pytest.raises(WrongExpectedRevision):
        any_store.append("log", "a", late, expected_revision=NO_STREAM)
    with pytest.raises(WorkbenchError):  # a partly overlapping batch is refused
        any_store.append("log", "b", [Event("x", start, event_id="a0"), Event("y", start)])

    def allocate_then_fail() -> None:
        with any_store.recorder.transaction() as tx:
            tx.allocate(5)  # positions taken, then the transaction rolls back
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        allocate_then_fail()
    any_store.append("log", "a", late, expected_revision=0)
    any_store.append("log", "c", [Event("z", start, event_id=f"c{i}") for i in range(3)])
    assert any_store.read("log")["position"].to_list() == [1, 2, 3, 4, 5]


def _reader(location: str, seconds: float, seen: Any) -> None:
    """Catch up by position until nothing new arrives for a while after ``seconds``."""
    last, quiet_since, deadline = 0, time.monotonic(), time.monotonic() + seconds
    with EventStore(location) as store:
        while True:
            if not store.has_log("ticks"):
                time.sleep(0.01)
                continue
            import polars as pl

            fresh = store.scan("ticks").filter(pl.col("position") > last).collect()
            if fresh.height:
                seen.put(fresh["event_id"].to_list())
                last = int(fresh["position"].max())  # type: ignore[arg-type]
                quiet_since = time.monotonic()
            elif time.monotonic() > deadline and time.monotonic() - quiet_since > 2:
                seen.put(None)
                return
            time.sleep(0.005)


@pytest.mark.slow
def test_a_reader_catching_up_by_position_sees_every_event_once(location) -> None:
    EventStore(location).close()
    context = multiprocessing.get_context("spawn")
    errors, seen = context.Queue(), context.Queue()
    reader = context.Process(target=_reader, args=(location, 3.0, seen))
    reader.start()
    writers = [
        context.Process(target=_appender, args=(location, name, 60, errors)) for name in range(4)
    ]
    for process in writers:
        process.start()
    for process in writers:
        process.join(timeout=120)
    ids: list[str] = []
    while (chunk := seen.get(timeout=120)) is not None:
        ids.extend(chunk)
    reader.join(timeout=30)
    assert errors.empty(), errors.get()
    assert len(ids) == len(set(ids)) == 4 * 60


@pytest.mark.slow
@pytest.mark.parametrize("attempt", range(3))
def test_opening_under_load_waits_instead_of_failing(tmp_path: Path, attempt) -> None:
    """SQLite: 8 processes open the store and append while another imports a file."""
    location = str(tmp_path / "busy.db")
    source = tmp_path / "orders.csv"
    write(source, events=150_000, seed=attempt)
    importer = subprocess.Popen(
        [sys.executable, "-m", "workbench", "--db", location, "ingest", str(source), "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    context = multiprocessing.get_context("spawn")
    errors = context.Queue()
    processes = [
        context.Process(target=_appender, args=(location, name, 10, errors))
        for name in range(WRITERS)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=180)
        assert process.exitcode == 0
    _, stderr = importer.communicate(timeout=300)
    assert importer.returncode == 0, stderr
    found = []
    while not errors.empty():
        found.append(errors.get())
    assert found == []
    with EventStore(location) as store:
        assert store.read("ticks").height == WRITERS * 10


def test_a_subscriber_sees_every_event_once_in_position_order_while_4_writers_append(
    backend, location
) -> None:
    import threading

    writers, count = 4, 60
    with EventStore(location) as store:
        store.append("ticks", "seed", [Event("seed", datetime(2024, 1, 1, tzinfo=UTC))])
    context = multiprocessing.get_context("spawn")
    errors = context.Queue()
    processes = [
        context.Process(target=_appender, args=(location, name, count, errors))
        for name in range(writers)
    ]
    seen: list[tuple[int, str]] = []
    stop = threading.Event()
    with EventStore(location) as reader:
        subscription = reader.subscribe("ticks", poll=0.05, stop=stop, idle=60)
        first = next(subscription)  # caught up with what was there
        seen.extend(first.select("position", "event_id").rows())
        for process in processes:
            process.start()
        for batch in subscription:
            seen.extend(batch.select("position", "event_id").rows())
            if len(seen) >= 1 + writers * count:
                stop.set()
        for process in processes:
            process.join(timeout=120)
            assert process.exitcode == 0
    assert errors.empty()
    positions = [position for position, _ in seen]
    assert positions == sorted(positions)
    ids = [event_id for _, event_id in seen]
    assert len(ids) == len(set(ids)) == 1 + writers * count
    assert {f"w{w}-{i}" for w in range(writers) for i in range(count)} <= set(ids)
