"""The query language from a cold start on a million events, whole process: a question
asked with `workbench query` against pm4py answering the same question from the same log
in Parquet, each in a new process, the median of three runs with its peak memory.

    python benchmarks/query.py [--events 1000000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.cli import RUNS, median, orders

#: Each question: the query, and pm4py's way to the same answer (after reading the log).
QUESTIONS = {
    "events per activity": (
        "SELECT activity, count(*) AS n FROM events GROUP BY 1 ORDER BY n DESC",
        "pm4py.get_event_attribute_values(frame, 'concept:name')",
    ),
    "case durations": (
        "SELECT median(duration_seconds), quantile_cont(duration_seconds, 0.9) FROM cases",
        "pm4py.get_all_case_durations(frame)",
    ),
    "the ten busiest paths": (
        "SELECT source, target, frequency FROM dfg ORDER BY frequency DESC LIMIT 10",
        "pm4py.discover_dfg(frame)",
    ),
    "as known at mid-log": (
        "SELECT count(*) FROM events FOR SYSTEM_TIME AS OF {middle}",
        "frame[frame['position'] <= {middle}].shape",
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    options = parser.parse_args()
    db, parquet, summary = orders(options.events)
    events = summary.events
    middle = events // 2  # positions run 1 to the events count in a store of one log
    tool = str(Path(sys.executable).with_name("workbench"))
    read = (
        "import pandas as pd, pm4py;"
        f"frame = pd.read_parquet({str(parquet)!r});"
        "frame = pm4py.format_dataframe(frame, case_id='case_id', activity_key='activity',"
        " timestamp_key='timestamp');"
    )
    print(f"\nquestions from a cold start, {events:,} events (median of {RUNS}, whole process)")
    for name, (sql, pm4py) in QUESTIONS.items():
        ours = [tool, "--db", str(db), "query", sql.format(middle=middle), "--log", "orders"]
        seconds, peak, runs = median(ours)
        theirs, theirs_mb, _ = median([sys.executable, "-c", read + pm4py.format(middle=middle)])
        print(
            f"  {name:<24} workbench {seconds:5.2f} s {peak:5.0f} MB   pm4py {theirs:5.2f} s"
            f" {theirs_mb:5.0f} MB   {seconds / theirs:.2f} x pm4py   runs: "
            + " ".join(f"{r:.2f}" for r in runs)
        )


if __name__ == "__main__":
    main()
