"""The dashboard set: directly-follows (frequency and performance), variants, case table,
start and end activities. Workbench computes them cold in a fresh process (opening the
store is timed): through the read model (the log's Parquet segments, coded, in case order;
names decoded at the end), straight from the store's rows, and served by the checkpointed
projections. pm4py computes the same from an in-memory pandas DataFrame (loaded
beforehand, not timed). Fresh processes, alternating, in the same run; medians of --runs.

    python benchmarks/projections.py [--events 1000000] [--runs 3] [--skip-bpic]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import OUT, Measurement, measure, report
from sample_data.generator import write

BPIC = Path(__file__).resolve().parent.parent.parent / "shared" / "logs" / "bpic2012.xes.gz"

OURS = """
import polars as pl
from workbench import EventStore
store = EventStore({db!r})
from workbench.projections import (cases, directly_follows, end_activities,
                                   start_activities, variants)
from workbench.projections import ordered
# What these metrics use, read once (the store reads only the columns asked for) and put
# in case order once; every metric then starts from the ordered frame.
columns = ["position", "case_id", "activity", "timestamp", "lifecycle"]
events = ordered(store.scan({log!r}).select(columns)).collect().lazy()
frames = pl.collect_all([directly_follows(events, presorted=True),
                         variants(events, presorted=True),
                         start_activities(events, presorted=True),
                         end_activities(events, presorted=True)])
table = cases(events, presorted=True).collect()
result = table.height
"""

# The same set through the read model: the segments are already in case order, so the
# metrics start from them; grouping and joining run on the categorical codes and the
# results are decoded once at the end.
READ_MODEL = """
import polars as pl
from workbench import EventStore
from workbench.projections import (cases, directly_follows, end_activities,
                                   start_activities, variants)
from workbench.readmodel import ReadModel, decoded
store = EventStore({db!r})
columns = ["position", "case_id", "activity", "timestamp", "lifecycle"]
events = ReadModel(store).read({log!r}, coded=True, then=lambda e: e.select(columns)).lazy()
frames = pl.collect_all([directly_follows(events, presorted=True),
                         variants(events, presorted=True),
                         start_activities(events, presorted=True),
                         end_activities(events, presorted=True),
                         cases(events, presorted=True)])
frames = [decoded(frame) for frame in frames]
result = frames[-1].height
"""

# The same set served by the checkpointed projections (brought up to date beforehand): read
# the stored per-case rows from the store file and combine them.
CHECKPOINTED = """
from workbench import EventStore, checkpoints
store = EventStore({db!r})
frames = checkpoints.refresh_many(store, {log!r}, checkpoints.DASHBOARD)
result = frames["cases"].height
"""

THEIRS = """
import pm4py
dfg, start, end = pm4py.discover_dfg(frame)
performance, _, _ = pm4py.discover_performance_dfg(frame)
kinds = pm4py.get_variants(frame)
durations = pm4py.get_all_case_durations(frame)
result = len(durations)
"""


def compare(title: str, db: Path, log: str, load: str, runs: int) -> None:
    quiet = (
        "import contextlib, io\nwith contextlib.redirect_stdout(io.StringIO()):\n    import pm4py\n"
    )
    their_setup = quiet + load
    # Imports are not timed on either side (pm4py's take seconds); opening the store is.
    our_setup = (
        "import workbench.readmodel, workbench.projections, workbench.checkpoints\n"
        "import workbench.store.sqlite.recorder"
    )
    modelled: list[Measurement] = []
    ours: list[Measurement] = []
    theirs: list[Measurement] = []
    served: list[Measurement] = []
    from workbench import EventStore, checkpoints
    from workbench.readmodel import ReadModel

    with EventStore(db) as store:
        checkpoints.refresh_many(store, log, checkpoints.DASHBOARD)
        print(ReadModel(store).refresh(log))
    for _ in range(runs):
        theirs.append(measure(their_setup, THEIRS))
        modelled.append(measure(our_setup, READ_MODEL.format(db=str(db), log=log)))
        ours.append(measure(our_setup, OURS.format(db=str(db), log=log)))
        served.append(measure(our_setup, CHECKPOINTED.format(db=str(db), log=log)))
    assert {run.result for run in modelled} == {run.result for run in theirs}, (modelled, theirs)
    assert {run.result for run in ours} == {run.result for run in theirs}, (ours, theirs)
    assert {run.result for run in served} == {run.result for run in theirs}, (served, theirs)
    report(title + " (cold, through the read model)", modelled, theirs, goal=0.3)
    report(title + " (cold, from the store's rows)", ours, theirs, goal=0.3)
    report(title + " (served by checkpointed projections)", served, theirs, goal=0.3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, action="append")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-bpic", action="store_true")
    options = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    from ingest.jobs import ingest
    from workbench import EventStore

    for events in options.events or [1_000_000]:
        source = OUT / f"orders-{events}.csv"
        if not source.exists():
            write(source, events=events, seed=1)
        db = OUT / f"projections-{events}.db"
        with EventStore(db) as store:
            ingest(store, source, log="orders")
        load = (
            "import pandas\n"
            f"frame = pandas.read_csv({str(source)!r})\n"
            "frame['timestamp'] = pandas.to_datetime(\n"
            "    frame['timestamp'], utc=True, format='ISO8601')\n"
            "frame = pm4py.format_dataframe(frame, case_id='case_id', activity_key='activity',"
            " timestamp_key='timestamp')\n"
        )
        compare(f"dashboard set, {events:,} generated events", db, "orders", load, options.runs)
    if not options.skip_bpic and BPIC.exists():
        db = OUT / "projections-bpic.db"
        with EventStore(db) as store:
            ingest(store, BPIC, log="bpic")
        load = f"frame = pm4py.read_xes({str(BPIC)!r})\n"
        compare("dashboard set, BPI Challenge 2012", db, "bpic", load, options.runs)


if __name__ == "__main__":
    main()
