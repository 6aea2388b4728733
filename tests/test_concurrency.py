"""Optimistic concurrency across processes: of racing writers, exactly one wins each round."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from workbench import NO_STREAM, Event, EventStore, WrongExpectedRevision

WRITERS = 8
ROUNDS = 25


def _writer(path: str, name: int, barrier, results) -> None:  # type: ignore[no-untyped-def]
    with EventStore(path) as store:
        for round_ in range(ROUNDS):
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
def test_racing_writers_exactly_one_wins_each_round(tmp_path: Path) -> None:
    path = str(tmp_path / "race.db")
    EventStore(path).close()  # create the schema before the race
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WRITERS)
    results = context.Queue()
    processes = [
        context.Process(target=_writer, args=(path, name, barrier, results))
        for name in range(WRITERS)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in range(WRITERS * ROUNDS)]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    for round_ in range(ROUNDS):
        winners = [rev for r, _, rev in outcomes if r == round_ and rev is not None]
        assert winners == [round_], f"round {round_}: winners {winners}"
    with EventStore(path) as store:
        frame = store.read("race")
    assert frame["position"].to_list() == list(range(1, ROUNDS + 1))
    assert frame["revision"].to_list() == list(range(ROUNDS))
    assert frame["activity"].to_list() == [f"step {r}" for r in range(ROUNDS)]
