"""Import 1 M generated events: pm4py loading the CSV into memory vs a durable workbench ingest.

pm4py side: pandas.read_csv + pm4py.format_dataframe (what a pm4py user runs first).
Workbench side: an ingest into a new store (parse, map, type, write, index, commit), and
the same as `workbench ingest` runs it: with the read model writing each committed batch as
a Parquet segment meanwhile and merging them into one at the end.
All run in fresh processes on the same file, alternating, in the same run; each side's
median of --runs runs is reported (timings on a shared machine vary from run to run).

    python benchmarks/import_csv.py [--events 1000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import OUT, Measurement, measure, report
from sample_data.generator import write


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    source = OUT / f"orders-{options.events}.csv"
    if not source.exists():
        rows = write(source, events=options.events, seed=1)
        print(f"generated {source.name}: {rows:,} events")
    db = OUT / "import.db"

    def fresh_store() -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        shutil.rmtree(f"{db}.segments", ignore_errors=True)

    pm4py_setup = "import pandas, pm4py"
    pm4py_step = (
        f"frame = pandas.read_csv({str(source)!r})\n"
        "frame = pm4py.format_dataframe(frame, case_id='case_id', activity_key='activity',"
        " timestamp_key='timestamp')\n"
        "result = len(frame)"
    )
    our_setup = (
        "from ingest.jobs import ingest\nfrom workbench import EventStore\n"
        f"store = EventStore({str(db)!r})"
    )
    our_step = (
        f"summary = ingest(store, {str(source)!r}, log='orders')\nresult = summary.events_added"
    )
    modelled_setup = our_setup + "\nfrom workbench.readmodel import ReadModel"
    modelled_step = (
        "model = ReadModel(store)\n"
        + our_step
        + "\nstatus = model.refresh('orders')\nassert status.lag == 0, status"
    )
    theirs: list[Measurement] = []
    ours: list[Measurement] = []
    modelled: list[Measurement] = []
    for _ in range(options.runs):
        theirs.append(measure(pm4py_setup, pm4py_step))
        fresh_store()
        ours.append(measure(our_setup, our_step))
        fresh_store()
        modelled.append(measure(modelled_setup, modelled_step))
    for runs in (ours, modelled):
        assert {run.result for run in runs} == {run.result for run in theirs}, (runs, theirs)
    events = f"{theirs[0].result:,} events"
    report(f"CSV import, {events}: store only", ours, theirs, goal=0.8)
    report(f"CSV import, {events}: store and read model", modelled, theirs, goal=0.8)


if __name__ == "__main__":
    main()
