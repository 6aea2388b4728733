"""Spark reading a PostgreSQL store through JDBC against Spark reading the log's Parquet
segments, and Polars: `workbench dfg --json` on a generated log imported into PostgreSQL,
each in a fresh process in the same run (wall time, Spark's start included). The three
outputs must be equal.

    python benchmarks/spark_jdbc.py --postgres postgresql://USER@HOST:PORT/DB [--events 1000000]

The database is emptied first: give one for the benchmark only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import OUT
from sample_data.generator import write


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", required=True, help="a database for the benchmark only")
    parser.add_argument("--events", type=int, default=1_000_000)
    options = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    source = OUT / f"orders-{options.events}.csv"
    if not source.exists():
        write(source, events=options.events)
    import psycopg

    with psycopg.connect(options.postgres, autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")
    segments = OUT / "jdbc-segments"
    environment = {**os.environ, "WORKBENCH_DB": options.postgres}
    workbench = [sys.executable, "-m", "workbench"]

    def run(*args: str, **extra: str) -> tuple[float, str]:
        started = time.perf_counter()
        done = subprocess.run(
            [*workbench, *args],
            env={**environment, **extra},
            capture_output=True,
            text=True,
            check=True,
        )
        return time.perf_counter() - started, done.stdout

    seconds, _ = run("ingest", str(source), "--log", "orders")
    print(f"import into PostgreSQL: {seconds:.1f} s")
    outputs = {}
    spark = ("dfg", "orders", "--json", "--engine", "spark", "--spark-master", "local[2]")
    for name, extra in (
        ("Spark, JDBC", {"WORKBENCH_SPARK_SOURCE": "jdbc"}),
        ("Spark, Parquet segments", {"WORKBENCH_SPARK_SOURCE": "segments"}),
    ):
        seconds, text = run(*spark, WORKBENCH_SEGMENTS=str(segments), **extra)
        outputs[name] = json.loads(text)
        print(f"{name}: {seconds:.1f} s")
    seconds, text = run("dfg", "orders", "--json")
    outputs["Polars"] = json.loads(text)
    print(f"Polars: {seconds:.1f} s")
    first = next(iter(outputs.values()))
    assert all(output == first for output in outputs.values()), "the engines disagree"
    print("all outputs equal")


if __name__ == "__main__":
    main()
