"""The dashboard set (directly-follows with frequency and times, variants, start and end
activities, case table) on a partitioned Parquet dataset, computed by Spark in local[2] and
by Polars (streaming engine where it can), in fresh processes in the same run: seconds and
peak memory of each (for Spark, the driver JVM's too). On one machine Spark is not
expected to win; the point is that it runs within memory and scales out on a cluster.

The dataset is generated chunk by chunk into one folder per month, as
`workbench export --format parquet --partition-by month` lays it out, with positions.

    python benchmarks/spark.py [--events 50000000] [--runs 1]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import OUT, Measurement, measure, median
from sample_data.generator import frames

POLARS = """
import polars as pl
from workbench import projections
events = pl.scan_parquet({path!r} + "/**/*.parquet", hive_partitioning=True).drop("month")
events = events.select("position", "case_id", "activity", "timestamp", "lifecycle")
events = events.sort(*projections.ORDER).collect(engine="streaming").lazy()
frames = pl.collect_all(
    [projections.directly_follows(events, presorted=True),
     projections.variants(events, presorted=True),
     projections.start_activities(events, presorted=True),
     projections.end_activities(events, presorted=True),
     projections.cases(events, presorted=True)],
    engine="streaming",
)
result = [frames[-1].height, 0]
"""

SPARK = """
from workbench.engines import spark
spark.CONFIG["spark.driver.memory"] = {memory!r} or spark.CONFIG["spark.driver.memory"]
session = spark.session("local[2]")
events = spark.read_parquet(session, {path!r}, partition="month")
events = events.select("position", "case_id", "activity", "timestamp", "lifecycle")
events = spark.prepared(events)  # read once, partitioned by case, as a command does
rows = spark.persisted(spark.per_case(events))
spark.directly_follows(events)
spark.variants(events, rows=rows)
spark.start_activities(events, rows=rows)
spark.end_activities(events, rows=rows)
height = spark.cases(events, rows=rows).height
from benchmarks.spark import java_peak
result = [height, java_peak()]  # the driver JVM's peak, read while it runs
"""


def dataset(events: int) -> Path:
    """The generated log as Parquet, one folder per month (made once)."""
    folder = OUT / f"dataset-{events}"
    done = folder / "_SUCCESS"
    if done.exists():
        return folder
    import polars as pl

    started, position = time.perf_counter(), 0
    for index, chunk in enumerate(frames(events=events, seed=1)):
        chunk = chunk.with_columns(
            position=pl.int_range(position + 1, position + chunk.height + 1, dtype=pl.Int64),
            month=pl.col("timestamp").dt.strftime("%Y-%m"),
        )
        position += chunk.height
        for (month,), part in chunk.group_by("month"):
            target = folder / f"month={month}"
            target.mkdir(parents=True, exist_ok=True)
            part.drop("month").write_parquet(target / f"part-{index:05d}.parquet")
    done.touch()
    print(f"generated {position:,} events in {time.perf_counter() - started:.0f} s: {folder}")
    return folder


def java_peak() -> float:
    """Peak resident memory (MB) of the Java processes running now (VmHWM)."""
    peak = 0.0
    for pid in _java_pids():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM"):
                peak = max(peak, int(line.split()[1]) / 1024)
    return peak


def _java_pids() -> set[int]:
    found = subprocess.run(["pgrep", "java"], capture_output=True, text=True, check=False)
    return {int(pid) for pid in found.stdout.split()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--driver-memory", help="the driver's heap (default: the engine's)")
    options = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    path = str(dataset(options.events))
    ours: list[Measurement] = []
    theirs: list[Measurement] = []
    for _ in range(options.runs):
        ours.append(measure("import polars", POLARS.format(path=path)))
        print(f"  Polars run: {ours[-1].seconds:.1f} s, {ours[-1].peak_mb:,.0f} MB", flush=True)
        # The JVM is a child of the measured process: its peak is read while it lives.
        theirs.append(
            measure("import pyspark", SPARK.format(path=path, memory=options.driver_memory))
        )
    assert {run.result[0] for run in ours} == {run.result[0] for run in theirs}, (ours, theirs)
    polars_run, spark_run = median(ours), median(theirs)
    print(f"\ndashboard set on {options.events:,} generated events (partitioned Parquet)")
    print(f"  Polars       {polars_run.seconds:8.1f} s  {polars_run.peak_mb:8,.0f} MB peak")
    print(
        f"  Spark local[2] {spark_run.seconds:6.1f} s  {spark_run.peak_mb:8,.0f} MB peak (Python)"
        f" + {spark_run.result[1]:,.0f} MB (JVM)"
    )
    print(f"  Spark / Polars: {spark_run.seconds / polars_run.seconds:.1f} x the time")


if __name__ == "__main__":
    main()
