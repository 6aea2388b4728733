"""A hundred million events on one machine, end to end, whole processes: `workbench
ingest` of a generated log (Parquet) into a new store, then `stats`, `dfg` and `state --at`
from a cold start, each with its wall time and peak resident memory (the goal: the import
within 1.5 GB whatever the log's size, every command completes).

    python benchmarks/scale.py [--events 100000000]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.cli import run
from benchmarks.common import OUT
from sample_data.generator import write

IMPORT_GOAL_MB = 1536


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000_000)
    options = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    source = OUT / f"orders-{options.events}.parquet"
    if not source.exists():
        write(source, events=options.events, seed=1)
    db = OUT / f"scale-{options.events}.db"
    for extra in ("", "-wal", "-shm"):
        Path(f"{db}{extra}").unlink(missing_ok=True)
    shutil.rmtree(f"{db}.segments", ignore_errors=True)
    tool = str(Path(sys.executable).with_name("workbench"))
    seconds, peak = run([tool, "--db", str(db), "ingest", str(source), "--log", "orders"])
    verdict = "met" if peak <= IMPORT_GOAL_MB else "NOT met"
    print(f"\n{options.events:,} generated events ({source.stat().st_size / 1e9:.1f} GB Parquet)")
    print(
        f"  workbench ingest    {seconds:8.1f} s {peak:8,.0f} MB"
        f"   goal <= {IMPORT_GOAL_MB:,} MB: {verdict}"
    )
    from workbench import EventStore

    with EventStore(db) as store:
        summary = store.summary("orders")
    assert summary.first_timestamp is not None
    assert summary.last_timestamp is not None
    middle = summary.first_timestamp + (summary.last_timestamp - summary.first_timestamp) / 2
    print(f"  {summary.events:,} events stored; store {Path(db).stat().st_size / 1e9:.1f} GB")
    for name, command in {
        "stats": ["stats", "orders"],
        "dfg": ["dfg", "orders"],
        "state --at": ["state", "orders", "--at", middle.isoformat()],
    }.items():
        seconds, peak = run([tool, "--db", str(db), *command])
        print(f"  workbench {name:<10}{seconds:8.1f} s {peak:8,.0f} MB")


if __name__ == "__main__":
    main()
