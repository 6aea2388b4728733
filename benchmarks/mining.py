"""Discovery and conformance against pm4py's plain path, in fresh processes, same run.

BPI Challenge 2012: inductive miner (noise 0.2) plus token replay (fitness and precision).
Receipt: the same model, then alignments (Workbench: r4pm; pm4py: its own A*). A generated
log of 1,000 traces that are all distinct (`tests/noisy.py`: a random process tree of 30
to 40 activities, played out with noise): token replay against its own model, where no
prefix is shared. The numbers must be equal (fitness, and precision, to 9 decimals). pm4py
reads its log beforehand (not timed); Workbench reads from the store (timed). Medians of
--runs.

    python benchmarks/mining.py [--runs 3]
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import OUT, QUIET_PM4PY, Measurement, measure, report

LOGS = Path(__file__).resolve().parent.parent.parent / "shared" / "logs"

THEIRS = """
keys = dict(activity_key="concept:name", timestamp_key="time:timestamp",
            case_id_key="case:concept:name")
if not {model!r}:
    net, im, fm = pm4py.discover_petri_net_inductive(frame, noise_threshold=0.2, **keys)
if {method!r} == "tokens":
    fitness = pm4py.fitness_token_based_replay(frame, net, im, fm, **keys)["log_fitness"]
    precision = pm4py.precision_token_based_replay(frame, net, im, fm, **keys)
    result = [round(fitness, 9), round(precision, 9)]
else:
    fitness = pm4py.fitness_alignments(frame, net, im, fm, **keys)["log_fitness"]
    result = [round(fitness, 9)]
"""

OURS = """
from workbench import EventStore, mining
store = EventStore({db!r})
if {model!r}:
    checked = mining.token_replay(store.scan({log!r}), model)
else:
    checked = mining.analyse(store.scan({log!r}), noise=0.2, method={method!r}).conformance
result = [round(checked.fitness, 9)]
if {method!r} == "tokens":
    result.append(round(checked.precision, 9))
"""

# With a model given, both read it beforehand (not timed; Workbench also checks that it is
# sound): what is timed is the replay.
THEIRS_MODEL = "net, im, fm = pm4py.read_pnml({model!r})\n"
OURS_MODEL = "from pathlib import Path\nmodel = mining.read_model(Path({model!r}))\n"


def compare(
    title: str, db: Path, log: str, load: str, method: str, runs: int, model: str = ""
) -> None:
    quiet = QUIET_PM4PY
    ours: list[Measurement] = []
    theirs: list[Measurement] = []
    given = bool(model)
    theirs_setup = quiet + load + (THEIRS_MODEL.format(model=model) if given else "")
    ours_setup = "from workbench import mining\n" + (
        OURS_MODEL.format(model=model) if given else ""
    )
    for _ in range(runs):
        theirs.append(measure(theirs_setup, THEIRS.format(method=method, model=model)))
        ours.append(
            measure(ours_setup, OURS.format(db=str(db), log=log, method=method, model=model))
        )
    same = {tuple(run.result) for run in ours} == {tuple(run.result) for run in theirs}
    assert same, (ours, theirs)
    report(title, ours, theirs, goal=0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    from ingest.jobs import ingest
    from workbench import EventStore

    db = OUT / "mining.db"
    model = OUT / "distinct.pnml"
    distinct = distinct_log(model)
    with EventStore(db) as store:
        ingest(store, LOGS / "bpic2012.xes.gz", log="bpic")
        ingest(store, LOGS / "receipt.csv", log="receipt")
        if not store.has_log("distinct"):
            store.import_frame("distinct", distinct)
    bpic = (
        "from workbench import EventStore, mining\n"
        f"frame = mining.to_pandas(EventStore({str(db)!r}).scan('bpic'))\n"
    )
    receipt = bpic.replace("'bpic'", "'receipt'")
    compare(
        "BPI Challenge 2012: inductive + token replay", db, "bpic", bpic, "tokens", options.runs
    )
    compare("receipt: inductive + alignments", db, "receipt", receipt, "alignments", options.runs)
    compare(
        "1,000 distinct noisy traces: token replay against their model",
        db,
        "distinct",
        bpic.replace("'bpic'", "'distinct'"),
        "tokens",
        options.runs,
        str(model),
    )


def distinct_log(pnml: Path) -> pl.DataFrame:
    """The generated log's events (a minute apart in each case), its model written to
    ``pnml``."""
    from tests.noisy import noisy_log
    from workbench.models import pm4py

    model, traces = noisy_log(5, 1_000)
    pm4py().write_pnml(model.net, model.initial, model.final, str(pnml))
    start = datetime(2024, 1, 1, tzinfo=UTC)
    rows = [
        (f"t{n:04}", activity, start + timedelta(minutes=i))
        for n, trace in enumerate(traces)
        for i, activity in enumerate(trace)
    ]
    return pl.DataFrame(
        rows,
        schema={"case_id": pl.String, "activity": pl.String,
                "timestamp": pl.Datetime("us", "UTC")},
        orient="row",
    )  # fmt: skip


if __name__ == "__main__":
    main()
