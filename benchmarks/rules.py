"""Declare rules and the temporal profile against pm4py on BPI Challenge 2012, in fresh
processes, same run: Declare discovery (every template, support and confidence 0.5), then
the check of the discovered rules against every case; the temporal profile discovered,
then every case checked against it (zeta 6); the log skeleton, discovered and checked.
The answers must be equal (per template, the rules and their counts; the cases fitting and
the deviations; the skeleton's relations on which the definitions agree), leaving out what
pm4py reads otherwise than its definition (nonsuccession, nonchainsuccession; the
skeleton's always-after, always-before and equivalence, so each side checks its own).
pm4py reads its log and gets its model beforehand (not timed); Workbench reads the log
as its commands do, from the read model (timed). Medians of --runs.

    python benchmarks/rules.py [--runs 3]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import OUT, QUIET_PM4PY, Measurement, measure, report

LOGS = Path(__file__).resolve().parent.parent.parent / "shared" / "logs"
LEFT_OUT = ("nonsuccession", "nonchainsuccession")

THEIRS_DISCOVER = """
from pm4py.algo.discovery.declare.variants import classic
model = classic.apply(frame, parameters={"min_support_ratio": 0.5, "min_confidence_ratio": 0.5})
result = sorted([t, len(r), sum(v["support"] + v["confidence"] for v in r.values())]
                for t, r in model.items() if t not in LEFT_OUT)
"""

OURS_DISCOVER = """
found = rules.discover(Workbench({db!r}).events("bpic"), min_support=0.5, min_confidence=0.5)
per = {{}}
for rule in found:
    if rule.template not in LEFT_OUT:
        count, total = per.get(rule.template, (0, 0))
        per[rule.template] = (count + 1, total + rule.support + rule.confidence)
result = sorted([t, c, s] for t, (c, s) in per.items())
"""

THEIRS_CHECK = """
from pm4py.algo.conformance.declare.variants import classic as conformance
checked = conformance.apply(frame, model)
result = [sum(c["is_fit"] for c in checked), sum(c["no_dev_total"] for c in checked)]
"""

OURS_CHECK = """
checked = rules.check(Workbench({db!r}).events("bpic"), found)
result = [sum(not c.violated for c in checked.cases), sum(len(c.violated) for c in checked.cases)]
"""

SETUP = """
LEFT_OUT = {left_out!r}
from workbench import EventStore, mining, rules
from workbench.application import Workbench
"""

THEIRS_MODEL = """
from pm4py.algo.discovery.declare.variants import classic
model = classic.apply(frame, parameters={"min_support_ratio": 0.5, "min_confidence_ratio": 0.5})
model = {t: r for t, r in model.items() if t not in LEFT_OUT}
"""

OURS_RULES = """
found = rules.discover(Workbench({db!r}).events("bpic"), min_support=0.5, min_confidence=0.5)
found = [rule for rule in found if rule.template not in LEFT_OUT]
"""

THEIRS_PROFILE = """
profile = pm4py.discover_temporal_profile(frame)
result = [len(profile), round(sum(m for m, _ in profile.values()), 3)]
"""

OURS_PROFILE = """
from workbench import temporal_profile
profile = temporal_profile.discover(Workbench({db!r}).events("bpic"))
result = [len(profile), round(sum(g.mean_seconds for g in profile), 3)]
"""

THEIRS_PROFILE_CHECK = """
checked = pm4py.conformance_temporal_profile(frame, profile, zeta=6.0)
result = [sum(len(c) for c in checked), sum(1 for c in checked if not c)]
"""

OURS_PROFILE_CHECK = """
checked = temporal_profile.check(Workbench({db!r}).events("bpic"), profile, 6.0)
result = [sum(len(d) for d in checked.deviations.values()),
          sum(1 for d in checked.deviations.values() if not d)]
"""

THEIRS_SKELETON = """
skeleton = pm4py.discover_log_skeleton(frame, noise_threshold=0.0)
result = [sorted(map(list, skeleton["never_together"])),
          sorted(map(list, skeleton["directly_follows"])),
          sorted([a, sorted(c)] for a, c in skeleton["activ_freq"].items())]
"""

OURS_SKELETON = """
from workbench import skeleton as skeletons
skeleton = skeletons.discover(Workbench({db!r}).events("bpic"))
result = [sorted(map(list, skeleton.relations["never_together"])),
          sorted(map(list, skeleton.relations["directly_follows"])),
          sorted([a, sorted(c)] for a, c in skeleton.counts.items())]
"""

THEIRS_SKELETON_CHECK = """
checked = pm4py.conformance_log_skeleton(frame, skeleton)
result = sum(1 for c in checked if c["is_fit"])
"""

OURS_SKELETON_CHECK = """
checked = skeletons.check(Workbench({db!r}).events("bpic"), skeleton)
result = sum(1 for d in checked.deviations.values() if not d)
"""


def compare(
    title: str,
    ours_setup: str,
    ours: str,
    theirs_setup: str,
    theirs: str,
    runs: int,
    *,
    equal: bool = True,
) -> None:
    """Time both sides alternately; with ``equal``, their answers must be the same (else
    each checks its own reading, and the cases that fit are shown)."""
    mine: list[Measurement] = []
    pm4py: list[Measurement] = []
    for _ in range(runs):
        pm4py.append(measure(theirs_setup, theirs))
        mine.append(measure(ours_setup, ours))
    if equal:
        results = {repr(run.result) for run in mine} | {repr(run.result) for run in pm4py}
        assert len(results) == 1, (mine[0].result, pm4py[0].result)
    report(title, mine, pm4py, goal=0.2)
    if not equal:
        print(f"  cases that fit: workbench {mine[0].result:,}, pm4py {pm4py[0].result:,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    from ingest.jobs import ingest
    from workbench import EventStore

    db = OUT / "rules.db"
    if not db.exists():
        with EventStore(db) as store:
            ingest(store, LOGS / "bpic2012.xes.gz", log="bpic")
    from workbench.application import Workbench

    with Workbench(db) as bench:  # the read model, as every command reads the log
        bench.events("bpic").collect()
    setup = SETUP.format(left_out=LEFT_OUT)
    quiet = QUIET_PM4PY
    load = setup + quiet + f"frame = mining.to_pandas(EventStore({str(db)!r}).scan('bpic'))\n"
    compare(
        "BPI Challenge 2012: Declare discovery (18 templates, support and confidence 0.5)",
        setup,
        OURS_DISCOVER.format(db=str(db)),
        load,
        THEIRS_DISCOVER,
        options.runs,
    )
    compare(
        "BPI Challenge 2012: checking every case against the discovered rules",
        setup + OURS_RULES.format(db=str(db)),
        OURS_CHECK.format(db=str(db)),
        load + THEIRS_MODEL,
        THEIRS_CHECK,
        options.runs,
    )
    compare(
        "BPI Challenge 2012: temporal profile",
        setup,
        OURS_PROFILE.format(db=str(db)),
        load,
        THEIRS_PROFILE,
        options.runs,
    )
    compare(
        "BPI Challenge 2012: every case against the temporal profile (zeta 6)",
        setup + OURS_PROFILE.format(db=str(db)).replace("result =", "_ ="),
        OURS_PROFILE_CHECK.format(db=str(db)),
        load + THEIRS_PROFILE.replace("result =", "_ ="),
        THEIRS_PROFILE_CHECK,
        options.runs,
    )
    compare(
        "BPI Challenge 2012: log skeleton (never together, directly follows, counts equal)",
        setup,
        OURS_SKELETON.format(db=str(db)),
        load,
        THEIRS_SKELETON,
        options.runs,
    )
    compare(
        "BPI Challenge 2012: every case against the log skeleton (each its own skeleton)",
        setup + OURS_SKELETON.format(db=str(db)).replace("result =", "_ ="),
        OURS_SKELETON_CHECK.format(db=str(db)),
        load + THEIRS_SKELETON.replace("result =", "_ ="),
        THEIRS_SKELETON_CHECK,
        options.runs,
        equal=False,
    )


if __name__ == "__main__":
    main()
