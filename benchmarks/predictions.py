"""Predictions for open cases, backtested walking forward (leakage-free: each cut trains on
what was knowable then), on BPI Challenge 2012, its W subprocess (the W_ activities'
complete events: the log Tax et al. reported next-activity accuracy on, 0.76, with a split
that let the future leak), Sepsis and the demo log. Per log: the backtest's time and peak
memory (a fresh process), and its figures beside the baselines'. There is no pm4py
counterpart: pm4py extracts features, it does not predict.

    python benchmarks/predictions.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import OUT, measure

LOGS = Path(__file__).resolve().parent.parent.parent / "shared" / "logs"

STEP = """
import polars as pl
from workbench import EventStore
from workbench.predictions import backtest
from workbench.restatements import knowable
store = EventStore({db!r})
events = knowable(store, {log!r}).collect()
if {w_only!r}:
    events = events.filter(pl.col("activity").str.starts_with("W_")
                           & (pl.col("lifecycle").str.to_lowercase() == "complete"))
result = backtest(events, every={every!r}).overall
"""

#: For reference, not leakage-free: the remaining time's models at each cut of the same
#: walk, trained in hindsight on every case complete at the end of the log but those open
#: at the cut (no bias from the cases not complete yet), scored on the same cases beside
#: the same baseline. What the features and models reach when the future is not hidden.
HINDSIGHT = (
    STEP.split("result =")[0]
    + """
import numpy as np
from workbench import predictions as P
events = events.with_columns(pl.col("case_id").cast(pl.String), pl.col("activity").cast(pl.String))
target, outcome = P.Target.parse("remaining-time"), P.Target.parse("outcome")
first, last = events["timestamp"].min(), events["timestamp"].max()
moments = pl.datetime_range(first, last, {every!r}, eager=True, time_zone="UTC")
truncated = moments.dt.truncate({every!r})
moments = truncated.unique().sort().filter(truncated.unique().sort() > first)
final = P._known(events, last, None, outcome)
truth = final.cases.select("case_id", end_final=pl.col("end"), complete_final=pl.col("complete"))
errors, baseline, inside = [], [], []
with P._one_thread():
    for at in moments.to_list():
        visible = events.filter((pl.col("known") <= at) & (pl.col("timestamp") <= at))
        known = P._known(visible, at, None, outcome)
        then = P._training_points(known)
        if then["case_id"].n_unique() < P.MIN_CASES:
            continue
        points = P._open_points(known).join(truth, on="case_id", how="left")
        points = points.filter(pl.col("complete_final").fill_null(False))
        until = (pl.col("end_final") - pl.lit(at)).dt.total_microseconds() / 1e6
        actual = points.select(until.clip(0.0)).to_series().to_numpy()
        hindsight = P._known(events, last, None, outcome, known.vocabulary)
        training = P._training_points(hindsight)
        training = training.join(points.select("case_id"), on="case_id", how="anti")
        encoding = P._encoding(known, training, target)
        found = P._remaining(
            encoding, P._matrix(encoding, training), training["remaining"].to_numpy(),
            training["share"].to_numpy(), training["held"].to_numpy(),
            P._matrix(encoding, points),
        )
        errors += np.abs(found[:, 1] - actual).tolist()
        baseline += np.abs(P._baseline_remaining(then, points) - actual).tolist()
        inside += ((found[:, 0] <= actual) & (actual <= found[:, 2])).tolist()
result = dict(mae=np.mean(errors), baseline=np.mean(baseline), coverage=np.mean(inside))
"""
)


def show(title: str, db: Path, log: str, every: str, *, w_only: bool = False) -> None:
    run = measure("", STEP.format(db=str(db), log=log, every=every, w_only=w_only))
    found = run.result
    print(f"\n{title} (a cut every {every})")
    print(f"  backtest   {run.seconds:7.2f} s  {run.peak_mb:7.0f} MB peak")
    mae, base = found["mae_seconds"], found["baseline_mae_seconds"]
    print(
        f"  remaining time: MAE {mae / 86_400:.2f} d, baseline {base / 86_400:.2f} d"
        f" ({mae / base:.2f} x; goal <= 0.8), median {found['median_ae_seconds'] / 86_400:.2f} d,"
        f" 10-90 % interval holds {found['interval_coverage']:.0%} (goal 75-85 %),"
        f" {found['remaining_scored']:,} predictions"
    )
    print(
        f"  next activity: {found['next_activity_accuracy']:.3f} right, majority class"
        f" {found['baseline_next_activity_accuracy']:.3f}, {found['next_scored']:,} predictions"
    )
    print(
        f"  end activity: {found['outcome_accuracy']:.3f} right, majority class"
        f" {found['baseline_outcome_accuracy']:.3f}"
    )
    step = HINDSIGHT.format(db=str(db), log=log, every=every, w_only=w_only)
    reference = measure("", step).result
    print(
        f"  for reference, trained in hindsight (not leakage-free): MAE"
        f" {reference['mae'] / 86_400:.2f} d ({reference['mae'] / reference['baseline']:.2f} x"
        f" the baseline), 10-90 % interval holds {reference['coverage']:.0%}"
    )


def main() -> None:
    OUT.mkdir(exist_ok=True)
    from ingest.jobs import ingest
    from sample_data.demo import DEMO_LOG, load_demo
    from workbench import EventStore

    db = OUT / "predictions.db"
    with EventStore(db) as store:
        ingest(store, LOGS / "bpic2012.xes.gz", log="bpic")
        ingest(store, LOGS / "sepsis.xes.gz", log="sepsis")
        if not store.has_log(DEMO_LOG):
            load_demo(store)
    show("BPI Challenge 2012", db, "bpic", "1mo")
    show("BPI Challenge 2012, W subprocess (complete events)", db, "bpic", "1mo", w_only=True)
    show("Sepsis", db, "sepsis", "3mo")
    show("demo", db, DEMO_LOG, "1mo")


if __name__ == "__main__":
    main()
