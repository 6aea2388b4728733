"""Generate an order-to-cash event log: python -m sample_data OUTPUT --events N [--seed S].

OUTPUT ends in .csv, .csv.gz, .parquet or .jsonl (CloudEvents).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sample_data.demo import build_demo
from sample_data.generator import write


def main() -> None:
    """Write a generated log (CSV, Parquet or CloudEvents JSON lines), or rebuild the demo."""
    parser = argparse.ArgumentParser(prog="python -m sample_data", description=__doc__)
    parser.add_argument("output", type=Path, nargs="?", help="the file to write")
    parser.add_argument("--events", type=int, default=100_000, help="about how many events")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--demo", action="store_true", help="rebuild the bundled demo files")
    options = parser.parse_args()
    if options.demo:
        on_time, late = build_demo()
        print(f"demo: {on_time:,} events, then {late:,} late ones")
        return
    if options.output is None:
        parser.error("give an output file, or --demo")
    rows = write(options.output, events=options.events, seed=options.seed)
    print(f"{options.output}: {rows:,} events")


if __name__ == "__main__":
    main()
