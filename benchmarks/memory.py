"""Peak memory of importing 5 M generated events from CSV and from CloudEvents JSON lines.

Large files stream in batches, so the import's peak memory must not grow with the file:
the goal is under 2 GB for 5 M events. Each import runs in a fresh process into a new store.

    python benchmarks/memory.py [--events 5000000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import OUT, measure
from sample_data.generator import write

GOAL_MB = 2048


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5_000_000)
    options = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    for suffix in ("csv", "jsonl"):
        source = OUT / f"orders-{options.events}.{suffix}"
        if not source.exists():
            rows = write(source, events=options.events, seed=1)
            print(f"generated {source.name}: {rows:,} events")
        db = OUT / f"memory-{suffix}.db"
        for extra in ("", "-wal", "-shm"):
            Path(f"{db}{extra}").unlink(missing_ok=True)
        run = measure(
            "from ingest.jobs import ingest\nfrom workbench import EventStore\n"
            f"store = EventStore({str(db)!r})",
            f"result = ingest(store, {str(source)!r}, log='orders').events_added",
        )
        size = source.stat().st_size / 1e6
        verdict = "met" if run.peak_mb < GOAL_MB else "NOT met"
        print(
            f"{suffix:5} {run.result:,} events ({size:,.0f} MB file): {run.seconds:.1f} s,"
            f" peak {run.peak_mb:,.0f} MB (goal < {GOAL_MB:,} MB): {verdict}"
        )


if __name__ == "__main__":
    main()
