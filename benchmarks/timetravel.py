"""Time travel on 1 M generated events: `state_at` cold and from snapshots, relative to one
plain scan of the log from the store; and the catch-up of the checkpointed dashboard
projections after 1,000 appended events, relative to a full rebuild. Medians of --runs.

    python benchmarks/timetravel.py [--events 1000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import polars as pl

from benchmarks.common import OUT
from sample_data.generator import write


def timed(step: Callable[[], object], runs: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times


def line(name: str, seconds: float, times: list[float], base: float | None = None) -> None:
    ratio = f"  ratio {seconds / base:.3f}" if base else ""
    runs = " ".join(f"{t:.3f}" for t in times)
    print(f"  {name:<34} {seconds:8.3f} s{ratio}   runs: {runs}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    from ingest.jobs import ingest
    from workbench import EventStore, checkpoints, timetravel

    source = OUT / f"orders-{options.events}.csv"
    if not source.exists():
        write(source, events=options.events, seed=1)
    db = OUT / f"timetravel-{options.events}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    built = OUT / f"projections-{options.events}.db"
    if built.exists():
        shutil.copy(built, db)
    with EventStore(db) as store:
        if not store.has_log("orders"):
            ingest(store, source, log="orders")
        store.projections.forget("orders")
        summary = next(s for s in store.logs() if s.log == "orders")
        first, last = summary.first_timestamp, summary.last_timestamp
        assert first is not None
        assert last is not None
        rng = random.Random(5)
        moments = [first + (last - first) * rng.uniform(0.2, 0.95) for _ in range(options.runs)]
        print(f"\ntime travel, {summary.events:,} generated events, {summary.cases:,} cases")

        scan, scan_runs = timed(lambda: store.read("orders"), options.runs)
        line("plain scan (all columns)", scan, scan_runs)
        queue = iter(moments * 2)
        cold, cold_runs = timed(
            lambda: timetravel.state_at(store.scan("orders"), next(queue)).collect(), options.runs
        )
        line("state_at cold", cold, cold_runs, scan)
        started = time.perf_counter()
        taken = checkpoints.take_snapshots(store, "orders", count=24)
        checkpoints.refresh(store, "orders", "completion")
        print(f"  ({len(taken)} snapshots taken in {time.perf_counter() - started:.1f} s)")
        queue = iter(moments * 2)
        warm, warm_runs = timed(
            lambda: checkpoints.state_at(store, "orders", next(queue)), options.runs
        )
        line("state_at from snapshots", warm, warm_runs, scan)
        for moment in moments:  # the two paths agree
            assert checkpoints.state_at(store, "orders", moment).equals(
                timetravel.state_at(store.scan("orders"), moment).collect()
            )

        names = checkpoints.DASHBOARD

        def rebuild() -> None:
            for name in names:
                store.projections.forget("orders", f"projection:{name}")
            checkpoints.refresh_many(store, "orders", names)

        full, full_runs = timed(rebuild, options.runs)
        line("dashboard projections, rebuild", full, full_runs)
        # 1,000 new events: half late events of existing cases, half new cases; three rounds.
        existing = store.scan("orders").select("case_id").unique().collect()["case_id"]
        rounds = []
        for round_ in range(options.runs):
            chosen = existing.sample(500, seed=3 + round_).to_list()
            late = [last - timedelta(days=rng.uniform(1, 60)) for _ in chosen]
            added = pl.DataFrame(
                {
                    "case_id": chosen + [f"NEW-{round_}-{n % 100:03d}" for n in range(500)],
                    "activity": ["Payment Reminder"] * 500 + ["Create Order", "Check Credit"] * 250,
                    "timestamp": late + [last + timedelta(minutes=n) for n in range(500)],
                }
            )
            store.import_frame("orders", added)
            started = time.perf_counter()
            checkpoints.refresh_many(store, "orders", names)
            rounds.append(time.perf_counter() - started)
        catch_up = statistics.median(rounds)
        line("dashboard projections, catch-up", catch_up, rounds, full)
        for name in names:
            projection = checkpoints.registered(store)[name]
            result = projection.compute(store.scan("orders"))
            replay = result.collect() if isinstance(result, pl.LazyFrame) else result
            if name == "cases":
                replay = replay.sort("case_id")
            caught = checkpoints.refresh(store, "orders", name)
            assert caught.sort(caught.columns[:2]).equals(replay.sort(replay.columns[:2])), name
        print("  (caught-up results equal a full replay)")
        print(
            f"  goals: cold <= 1.5 x scan ({cold / scan:.2f}), snapshots <= 0.3 x scan"
            f" ({warm / scan:.2f}), catch-up <= 5 % of rebuild ({catch_up / full:.1%})"
        )


if __name__ == "__main__":
    main()
