"""Process-mining metrics as pure functions of a LazyFrame of events (`EventStore.scan`).

Every function takes events in the store's vocabulary and returns a LazyFrame; nothing
here reads the store or knows about time travel, so the same function answers "now", "as
of t" and "as known at r" depending only on the scan it is given. Within a case, events are
ordered by ``(timestamp, position)``: equal timestamps keep the order they were appended.
Durations are Polars Durations; where pm4py computes the same thing, the numbers match its
results on the same events.

>>> import polars as pl
>>> from datetime import datetime
>>> events = pl.LazyFrame({
...     "position": [1, 2, 3, 4], "case_id": ["c1", "c1", "c2", "c2"],
...     "activity": ["a", "b", "a", "b"],
...     "timestamp": [datetime(2024, 1, 1, h) for h in (1, 3, 1, 2)]})
>>> directly_follows(events).select("source", "target", "frequency", "mean_duration").collect()
shape: (1, 4)
┌────────┬────────┬───────────┬───────────────┐
│ source ┆ target ┆ frequency ┆ mean_duration │
│ ---    ┆ ---    ┆ ---       ┆ ---           │
│ str    ┆ str    ┆ u32       ┆ duration[μs]  │
╞════════╪════════╪═══════════╪═══════════════╡
│ a      ┆ b      ┆ 2         ┆ 1h 30m        │
└────────┴────────┴───────────┴───────────────┘
"""

from __future__ import annotations

import polars as pl

from workbench.events import VOCABULARY

ORDER = ("case_id", "timestamp", "position")


def ordered(events: pl.LazyFrame) -> pl.LazyFrame:
    """Events grouped by case, each case in ``(timestamp, position)`` order."""
    return events.sort(*ORDER)


def _steps(events: pl.LazyFrame) -> pl.LazyFrame:
    """Each event with the next event of its case (null at a case's end)."""
    same_case = pl.col("case_id").shift(-1) == pl.col("case_id")
    return (
        ordered(events)
        .select("case_id", "activity", "timestamp")
        .with_columns(
            pl.when(same_case).then(pl.col("activity").shift(-1)).alias("target"),
            pl.when(same_case).then(pl.col("timestamp").shift(-1)).alias("target_time"),
        )
    )


def directly_follows(events: pl.LazyFrame) -> pl.LazyFrame:
    """The directly-follows graph: one row per edge, with frequency and time between.

    Columns: ``source``, ``target``, ``frequency`` (times the pair occurred), ``cases``
    (cases in which it occurred), and the time from the source event to the target event:
    ``mean_duration``, ``median_duration``, ``min_duration``, ``max_duration``,
    ``p90_duration``, ``total_duration``. Most frequent first.
    """
    waits = pl.col("target_time") - pl.col("timestamp")
    return (
        _steps(events)
        .filter(pl.col("target").is_not_null())
        .group_by(pl.col("activity").alias("source"), "target")
        .agg(
            frequency=pl.len(),
            cases=pl.col("case_id").n_unique(),
            mean_duration=waits.mean(),
            median_duration=waits.median(),
            min_duration=waits.min(),
            max_duration=waits.max(),
            p90_duration=waits.quantile(0.9, interpolation="linear"),
            total_duration=waits.sum(),
        )
        .sort(["frequency", "source", "target"], descending=[True, False, False])
    )


def start_activities(events: pl.LazyFrame) -> pl.LazyFrame:
    """How many cases start with each activity (``activity``, ``cases``), most first."""
    return _at_edge(events, first=True)


def end_activities(events: pl.LazyFrame) -> pl.LazyFrame:
    """How many cases end with each activity (``activity``, ``cases``), most first."""
    return _at_edge(events, first=False)


def _at_edge(events: pl.LazyFrame, *, first: bool) -> pl.LazyFrame:
    pick = pl.col("activity").first() if first else pl.col("activity").last()
    return (
        ordered(events)
        .group_by("case_id", maintain_order=True)
        .agg(pick)
        .group_by("activity")
        .agg(cases=pl.len())
        .sort(["cases", "activity"], descending=[True, False])
    )


def cases(events: pl.LazyFrame) -> pl.LazyFrame:
    """One row per case: start, end, duration, events, variant, rework, last activity.

    ``rework`` counts events that repeat an activity already seen in the case. Attributes
    named ``case:*`` and attributes with one value throughout every case are added as the
    case's attributes.
    """
    schema = events.collect_schema()
    attributes = [name for name in schema.names() if name not in VOCABULARY]
    per_case = ordered(events).group_by("case_id", maintain_order=True)
    frame = per_case.agg(
        start=pl.col("timestamp").first(),
        end=pl.col("timestamp").last(),
        events=pl.len(),
        variant=pl.col("activity"),
        rework=pl.len() - pl.col("activity").n_unique(),
        last_activity=pl.col("activity").last(),
        **{f"{name}": pl.col(name).drop_nulls().first() for name in attributes},
        **{f"__distinct_{name}": pl.col(name).drop_nulls().n_unique() for name in attributes},
    ).with_columns(duration=pl.col("end") - pl.col("start"))
    # Which attributes belong to the case is known only from the data: aggregate once.
    table = frame.collect()
    constant = [
        name
        for name in attributes
        if name.startswith("case:") or not (table[f"__distinct_{name}"] > 1).any()
    ]
    base = ["case_id", "start", "end", "duration", "events", "variant", "rework", "last_activity"]
    return table.select(*base, *constant).lazy()


def variants(events: pl.LazyFrame) -> pl.LazyFrame:
    """Variants (activity sequences) with their cases, share, mean and median duration."""
    per_case = (
        ordered(events)
        .group_by("case_id", maintain_order=True)
        .agg(
            variant=pl.col("activity"),
            duration=pl.col("timestamp").last() - pl.col("timestamp").first(),
        )
    )
    return (
        per_case.group_by("variant")
        .agg(
            cases=pl.len(),
            mean_duration=pl.col("duration").mean(),
            median_duration=pl.col("duration").median(),
        )
        .with_columns(share=pl.col("cases") / pl.col("cases").sum())
        .with_columns(length=pl.col("variant").list.len())
        .sort(["cases", "length"], descending=[True, False])
        .drop("length")
        .select("variant", "cases", "share", "mean_duration", "median_duration")
    )


def activities(events: pl.LazyFrame) -> pl.LazyFrame:
    """Per activity: frequency, cases, resources, mean waiting and service time.

    Waiting time is the time from the previous event of the case to this one. Service
    time is measured where ``start`` and ``complete`` lifecycle events pair up (the n-th
    start of an activity in a case with its n-th completion).
    """
    steps = ordered(events).with_columns(
        waiting=pl.when(pl.col("case_id").shift(1) == pl.col("case_id")).then(
            pl.col("timestamp") - pl.col("timestamp").shift(1)
        )
    )
    counts = steps.group_by("activity").agg(
        frequency=pl.len(),
        cases=pl.col("case_id").n_unique(),
        resources=pl.col("resource").drop_nulls().n_unique(),
        mean_waiting=pl.col("waiting").mean(),
    )
    return counts.join(service_times(events), on="activity", how="left").sort(
        ["frequency", "activity"], descending=[True, False]
    )


def service_times(events: pl.LazyFrame) -> pl.LazyFrame:
    """Mean and median service time per activity, from paired start/complete events."""
    phase = pl.col("lifecycle").str.to_lowercase()
    lifecycle = (
        ordered(events)
        .filter(phase.is_in(["start", "complete"]))
        .with_columns(
            phase=phase,
            nth=pl.int_range(pl.len()).over("case_id", "activity", phase),
        )
    )
    starts = lifecycle.filter(pl.col("phase") == "start").select(
        "case_id", "activity", "nth", started=pl.col("timestamp")
    )
    ends = lifecycle.filter(pl.col("phase") == "complete").select(
        "case_id", "activity", "nth", ended=pl.col("timestamp")
    )
    service = pl.col("ended") - pl.col("started")
    return (
        starts.join(ends, on=["case_id", "activity", "nth"], how="inner")
        .group_by("activity")
        .agg(mean_service=service.mean(), median_service=service.median())
    )
