"""Commands from a cold start on a million events, whole process: what a user waits for
when they type one. Each runs three times in a new process; the median is shown with the
peak resident memory of that process, against pm4py reading the same log from Parquet and
computing the directly-follows graph, also as a whole process.

    python benchmarks/cli.py [--events 1000000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import OUT
from sample_data.generator import write

if TYPE_CHECKING:
    from workbench.store import LogSummary

GOALS = {"--help": (0.3, 100), "stats": (1.5, 500), "dfg": (1.5, 500), "state --at": (1.5, 500)}
RUNS = 3


# Runs one command and reports its wall time and peak memory: a new process whose only
# child is the command, so the children's peak is the command's own (the benchmark's
# earlier children, pm4py among them, do not count).
_WRAPPER = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"code": done.returncode, "seconds": seconds, "peak": peak,
                  "error": done.stderr.decode(errors="replace")}))
"""


def run(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident MB of one process."""
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *command], capture_output=True, text=True, check=True
    )
    found = json.loads(done.stdout)
    if found["code"] != 0:
        raise SystemExit(f"{' '.join(command)} failed: {found['error']}")
    return found["seconds"], found["peak"]


def median(command: list[str]) -> tuple[float, float, list[float]]:
    runs = [run(command) for _ in range(RUNS)]
    seconds = sorted(runs)[len(runs) // 2]
    return seconds[0], seconds[1], [r[0] for r in runs]


def orders(events: int) -> tuple[Path, Path, LogSummary]:
    """A store holding ``events`` generated orders as `workbench ingest` leaves it (read
    model included), the same log in Parquet for pm4py, and the log's summary; made once
    and kept in benchmarks/out."""
    from ingest.jobs import ingest
    from workbench import EventStore
    from workbench.readmodel import ReadModel

    OUT.mkdir(exist_ok=True)
    source = OUT / f"orders-{events}.csv"
    if not source.exists():
        write(source, events=events, seed=1)
    db = OUT / f"cli-{events}.db"
    parquet = OUT / f"orders-{events}.parquet"
    with EventStore(db) as store:
        if not store.has_log("orders"):
            ingest(store, source, log="orders")
        ReadModel(store).refresh("orders")
        summary = next(one for one in store.logs() if one.log == "orders")
        if not parquet.exists():
            store.scan("orders").sink_parquet(parquet)
    return db, parquet, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    options = parser.parse_args()
    db, parquet, summary = orders(options.events)
    assert summary.first_timestamp is not None
    assert summary.last_timestamp is not None
    middle = summary.first_timestamp + (summary.last_timestamp - summary.first_timestamp) / 2
    tool = str(Path(sys.executable).with_name("workbench"))
    commands = {
        "--help": [tool, "--help"],
        "stats": [tool, "--db", str(db), "stats", "orders"],
        "dfg": [tool, "--db", str(db), "dfg", "orders"],
        "state --at": [tool, "--db", str(db), "state", "orders", "--at", middle.isoformat()],
    }
    pm4py = (
        "import pandas as pd, pm4py;"
        f"frame = pd.read_parquet({str(parquet)!r});"
        "frame = pm4py.format_dataframe(frame, case_id='case_id', activity_key='activity',"
        " timestamp_key='timestamp');"
        "pm4py.discover_dfg(frame)"
    )
    reference, reference_mb, reference_runs = median([sys.executable, "-c", pm4py])
    print(f"\ncommands from a cold start, {summary.events:,} events (median of {RUNS})")
    print(
        f"  {'pm4py: read Parquet, DFG':<26} {reference:6.2f} s {reference_mb:6.0f} MB   runs: "
        + " ".join(f"{r:.2f}" for r in reference_runs)
    )
    for name, command in commands.items():
        seconds, peak, runs = median(command)
        goal_seconds, goal_mb = GOALS[name]
        verdict = "met" if seconds <= goal_seconds and peak <= goal_mb else "NOT met"
        print(
            f"  workbench {name:<16} {seconds:6.2f} s {peak:6.0f} MB   runs: "
            + " ".join(f"{r:.2f}" for r in runs)
            + f"   {seconds / reference:.2f} x pm4py; goal <= {goal_seconds} s,"
            f" <= {goal_mb} MB: {verdict}"
        )


if __name__ == "__main__":
    main()
