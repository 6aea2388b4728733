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
