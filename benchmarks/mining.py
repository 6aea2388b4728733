"""Discovery and conformance against pm4py's plain path, in fresh processes, same run.

BPI Challenge 2012: inductive miner (noise 0.2) plus token replay (fitness and precision).
Receipt: the same model, then alignments (Workbench: r4pm; pm4py: its own A*). The
numbers must be equal (fitness, and precision, to 9 decimals). pm4py reads its log
beforehand (not timed); Workbench reads from the store (timed). Medians of --runs.

    python benchmarks/mining.py [--runs 3]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import OUT, QUIET_PM4PY, Measurement, measure, report

LOGS = Path(__file__).resolve().parent.parent.parent / "shared" / "logs"

THEIRS = """
keys = dict(activity_key="concept:name", timestamp_key="time:timestamp",
            case_id_key="case:concept:name")
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
analysis = mining.analyse(store.scan({log!r}), noise=0.2, method={method!r})
result = [round(analysis.conformance.fitness, 9)]
if {method!r} == "tokens":
    result.append(round(analysis.conformance.precision, 9))
"""


def compare(title: str, db: Path, log: str, load: str, method: str, runs: int) -> None:
    quiet = QUIET_PM4PY
    ours: list[Measurement] = []
    theirs: list[Measurement] = []
    for _ in range(runs):
        theirs.append(measure(quiet + load, THEIRS.format(method=method)))
        ours.append(measure("", OURS.format(db=str(db), log=log, method=method)))
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
    with EventStore(db) as store:
        ingest(store, LOGS / "bpic2012.xes.gz", log="bpic")
        ingest(store, LOGS / "receipt.csv", log="receipt")
    bpic = (
        "from workbench import EventStore, mining\n"
        f"frame = mining.to_pandas(EventStore({str(db)!r}).scan('bpic'))\n"
    )
    receipt = bpic.replace("'bpic'", "'receipt'")
    compare(
        "BPI Challenge 2012: inductive + token replay", db, "bpic", bpic, "tokens", options.runs
    )
    compare("receipt: inductive + alignments", db, "receipt", receipt, "alignments", options.runs)


if __name__ == "__main__":
    main()
