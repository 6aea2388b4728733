"""Import BPI Challenge 2012 (XES, 262,200 events): pm4py.read_xes vs a durable workbench ingest.

pm4py side, twice: `pm4py.read_xes` as installed (it picks rustxes, the same Rust parser
Workbench uses, when that package is present, as it is here), and with its pure-Python
default importer (`variant="iterparse"`, what pm4py uses without rustxes). Workbench side:
`ingest` into a new store on disk (parse, map, type, write, index, commit). All run in fresh
processes, alternating, in the same run; the medians of --runs are reported.

Then where the time goes, in fresh processes too: rustxes' parse of the whole file alone
(most of `pm4py.read_xes`); Workbench's own parse alone (`ingest.xes.lines`: unpacking,
cutting into pieces and parsing, on its thread); and the store's durable, indexed write
alone of the same events already parsed and converted in memory (what no parser, however
fast, takes off an import). An import runs the last two side by side.

    python benchmarks/import_xes.py [--runs 3]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import OUT, Measurement, measure, median, report

LOG = Path(__file__).resolve().parent.parent.parent / "shared" / "logs" / "bpic2012.xes.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--log", type=Path, default=LOG)
    options = parser.parse_args()
    if not options.log.exists():
        raise SystemExit(f"{options.log} is missing: the benchmark needs the shared logs")
    OUT.mkdir(exist_ok=True)
    db = OUT / "xes.db"
    pm4py_setup = "import pm4py"
    steps = {
        "as installed (rustxes)": f"result = len(pm4py.read_xes({str(options.log)!r}))",
        "iterparse (pure Python)": (
            f"result = len(pm4py.read_xes({str(options.log)!r}, variant='iterparse'))"
        ),
    }
    our_setup = (
        "from ingest.jobs import ingest\nfrom workbench import EventStore\n"
        f"store = EventStore({str(db)!r})"
    )
    our_step = f"result = ingest(store, {str(options.log)!r}, log='bpic').events_added"
    theirs: dict[str, list[Measurement]] = {name: [] for name in steps}
    ours: list[Measurement] = []
    for _ in range(options.runs):
        for name, step in steps.items():
            theirs[name].append(measure(pm4py_setup, step))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        ours.append(measure(our_setup, our_step))
    for name, runs in theirs.items():
        assert {run.result for run in ours} == {run.result for run in runs}, (ours, runs)
        report(f"XES import, {options.log.name}, pm4py {name}", ours, runs, goal=1.0)
    parse_setup = "import rustxes"
    parse_step = f"result = rustxes.import_xes({str(options.log)!r})[0].height"
    lines_setup = "from pathlib import Path\nfrom ingest.xes.handoff import Reader"
    lines_step = (
        f"reader = Reader(Path({str(options.log)!r}), lambda text: None)\n"
        "result = sum(frame.height for frame in reader)\n"
        "assert reader.complete"
    )
    write_setup = (
        "from pathlib import Path\nfrom ingest import xes\nfrom workbench import EventStore\n"
        "from workbench.store.eventstore import prepare\n"
        f"batches = [prepare(batch.frame()) for batch in xes.read(Path({str(options.log)!r}))]\n"
        f"store = EventStore({str(db)!r})"
    )
    write_step = (
        "result = head = 0\n"
        "for batch in batches:\n"
        "    written = store.import_frame('bpic', batch, head=head)\n"
        "    head, result = written.position, result + written.events_added"
    )
    parses: list[Measurement] = []
    lines: list[Measurement] = []
    writes: list[Measurement] = []
    for _ in range(options.runs):
        parses.append(measure(parse_setup, parse_step))
        lines.append(measure(lines_setup, lines_step))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        writes.append(measure(write_setup, write_step))
    pm4py = median(theirs["as installed (rustxes)"]).seconds
    print(f"\nWhere the time goes, {options.log.name} (medians; pm4py.read_xes: {pm4py:.2f} s)")
    for title, runs in (
        ("rustxes' parse alone", parses),
        ("Workbench's parse alone (ingest.xes.lines)", lines),
        ("the store's write alone, of the parsed events", writes),
    ):
        taken = median(runs).seconds
        print(
            f"  {title:47} {taken:5.2f} s = {taken / pm4py:.2f} x pm4py.read_xes   runs: "
            + " ".join(f"{run.seconds:.2f}" for run in runs)
        )


if __name__ == "__main__":
    main()
