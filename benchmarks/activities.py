"""Service times per activity on a log of intervals (a start and a completion per event):
`workbench activities` (Workbench.activities: every activity's events, cases, resources,
mean, median and p90 service and waiting time) against pm4py's get_service_time (mean and
median service time), on the same events. The log is the generated order-to-cash log with
each completion given a start up to 90 minutes before it.

Workbench computes cold in a fresh process (opening the store is timed) through the read
model; pm4py from an in-memory pandas DataFrame (loaded beforehand, not timed). Fresh
processes, alternating, in the same run; medians of --runs. Both must give the same mean
service time per activity (to the millisecond).

    python benchmarks/activities.py [--events 1000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import OUT, Measurement, measure, report
from sample_data.generator import frames

OURS = """
from workbench.application import Workbench
with Workbench({db!r}) as bench:
    table = bench.activities("intervals")
result = repr(sorted(
    (row["activity"], round(row["mean_service"].total_seconds(), 3))
    for row in table.iter_rows(named=True)
))
"""

# The same computation on the events already in memory (read beforehand, not timed), as
# pm4py's frame is: the work itself, side by side.
IN_MEMORY_SETUP = """
from workbench import EventStore, projections
from workbench.readmodel import ReadModel
with EventStore({db!r}) as store:
    events = ReadModel(store).read("intervals", coded=True).lazy()
"""

IN_MEMORY = """
table = projections.activities(events, presorted=True).collect()
result = repr(sorted(
    (str(row["activity"]), round(row["mean_service"].total_seconds(), 3))
    for row in table.iter_rows(named=True)
))
"""

THEIRS = """
import pm4py
means = pm4py.get_service_time(frame, start_timestamp_key="start_timestamp",
                               aggregation_measure="mean")
medians = pm4py.get_service_time(frame, start_timestamp_key="start_timestamp",
                                 aggregation_measure="median")
result = repr(sorted((activity, round(value, 3)) for activity, value in means.items()))
"""


def interval_log(path: Path, events: int) -> None:
    """The generated log's completions (and events without a lifecycle), each with a start
    up to 90 minutes before it, as a CSV with a start_timestamp column."""
    import polars as pl

    parts = []
    for frame in frames(events=events, seed=3):
        done = frame.filter(
            pl.col("lifecycle").is_null() | (pl.col("lifecycle").str.to_lowercase() == "complete")
        )
        took = (pl.col("timestamp").dt.epoch("s") * 7919 % 5400).cast(pl.Int64)
        parts.append(
            done.with_columns(
                start_timestamp=pl.col("timestamp") - pl.duration(seconds=took)
            ).select("case_id", "activity", "start_timestamp", "timestamp", "resource")
        )
    pl.concat(parts).write_csv(path, datetime_format="%Y-%m-%dT%H:%M:%S%.fZ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    from ingest.jobs import ingest
    from workbench import EventStore
    from workbench.readmodel import ReadModel

    source = OUT / f"intervals-{options.events}.csv"
    if not source.exists():
        interval_log(source, options.events)
    db = OUT / f"activities-{options.events}.db"
    with EventStore(db) as store:
        ingest(store, source, log="intervals")
        ReadModel(store).refresh("intervals")
    load = (
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    import pm4py\n"
        "import pandas\n"
        f"frame = pandas.read_csv({str(source)!r})\n"
        "for name in ('timestamp', 'start_timestamp'):\n"
        "    frame[name] = pandas.to_datetime(frame[name], utc=True, format='ISO8601')\n"
        "frame = pm4py.format_dataframe(frame, case_id='case_id', activity_key='activity',"
        " timestamp_key='timestamp')\n"
    )
    ours: list[Measurement] = []
    held: list[Measurement] = []
    theirs: list[Measurement] = []
    for _ in range(options.runs):
        theirs.append(measure(load, THEIRS))
        ours.append(
            measure("import workbench.application, workbench.projections", OURS.format(db=str(db)))
        )
        held.append(measure(IN_MEMORY_SETUP.format(db=str(db)), IN_MEMORY))
    for found in (ours, held):
        assert {run.result for run in found} == {run.result for run in theirs}, (found, theirs)
    events = sum(1 for _ in source.open()) - 1
    title = f"service times per activity, {events:,} interval events"
    report(f"{title}: cold, opening the store", ours, theirs, goal=0.5)
    report(f"{title}: both in memory", held, theirs, goal=0.5)
    print(
        "  (pm4py: mean and median service time; Workbench also waiting times and the p90 of both)"
    )


if __name__ == "__main__":
    main()
