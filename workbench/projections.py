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

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final, TypeVar

import polars as pl

from workbench.events import VOCABULARY

if TYPE_CHECKING:
    from workbench.calendars import Hours

ORDER = ("case_id", "timestamp", "position")
#: The attribute that makes a log a log of intervals: each event's start (pm4py's name); its
#: ``timestamp`` is then the completion.
START = "start_timestamp"
#: The statistics of a duration (`activities`): the mean (no quantile), the median, the p90.
STATISTICS: Final = {"mean": None, "median": 0.5, "p90": 0.9}

P = TypeVar("P", bound=Callable[..., object])


def on_codes(projection: P) -> P:
    """Mark a projection that computes on categorical case ids, activities and resources as
    they are (it sorts, groups and joins them as integers, and gives categoricals back):
    `workbench.application.Workbench.metric` hands it the coded events of its cache, and
    any other projection text."""
    projection.__dict__["on_codes"] = True
    return projection


def of_cases(combine: Callable[..., pl.LazyFrame]) -> Callable[[P], P]:
    """Mark a projection that per-case rows answer: ``combine(rows, **options)``, of the
    `case_rows` of any set of cases, gives what the projection gives of their events.
    `workbench.application.Workbench.metric` then answers it from the read model's stored
    case rows, not from the events."""

    def mark(projection: P) -> P:
        projection.__dict__["of_cases"] = combine
        return projection

    return mark


def ordered(events: pl.LazyFrame, *, presorted: bool = False) -> pl.LazyFrame:
    """Events grouped by case, each case in ``(timestamp, position)`` order.

    ``presorted`` says the caller already ordered them (a dashboard sorts once and computes
    many metrics); every metric here takes the same keyword and passes it on.
    """
    return events if presorted else events.sort(*ORDER)


def distinct_cases(*, in_case_order: bool) -> pl.Expr:
    """How many cases a group's rows are of. When each case's rows are together (events in
    case order, or what was made of them in that order), they stay together in every group
    (a group keeps its rows' order), so the cases are the runs of one case id: on ten
    million events, a third of the time of hashing every id (`n_unique`) per activity,
    three quarters of it per path.
    """
    if in_case_order:
        return (pl.col("case_id").rle_id().max() + 1).cast(pl.UInt32)
    return pl.col("case_id").n_unique()


def occurrences(events: pl.LazyFrame) -> pl.LazyFrame:
    """One event per activity occurrence: completions, and events without a lifecycle.

    With start/complete pairs an activity appears twice in the raw log; counting repeats
    on those would call every such activity rework.
    """
    return events.filter(is_occurrence(events.collect_schema()))


def is_occurrence(schema: pl.Schema) -> pl.Expr:
    """Whether an event is an occurrence of its activity: its lifecycle is ``complete``, or
    the log has none (a ``start`` or ``schedule`` is a phase of the same occurrence)."""
    if "lifecycle" not in schema:
        return pl.lit(True)
    phase = pl.col("lifecycle").str.to_lowercase()
    return phase.is_null() | (phase == "complete")


def steps(
    events: pl.LazyFrame, *, presorted: bool = False, carry: Sequence[str] = ()
) -> pl.LazyFrame:
    """Each event with the next event of its case: ``case_id``, ``activity``, ``timestamp``,
    ``target`` and ``target_time`` (null at a case's end), and for each column named in
    ``carry`` its value here and, as ``target_<name>``, at the next event.

    In a log of intervals (`START`), a case's events go in the order of their starts, then
    their completions, then their positions, and the time to the next event is from this
    completion to the next start, or none when the next one started before this one ended
    (pm4py's order and performance for a start timestamp key, as in its
    ``discover_performance_dfg``).
    """
    same_case = pl.col("case_id").shift(-1) == pl.col("case_id")
    kept = [name for name in carry if name not in ("case_id", "activity", "timestamp")]
    nexts = [
        pl.when(same_case).then(pl.col(name).shift(-1)).alias(f"target_{name}") for name in kept
    ]
    if START in events.collect_schema():
        begun = _started()
        columns = dict.fromkeys(["case_id", "activity", "timestamp", "position", *kept])
        ordered_events = events.select(*columns, begun.alias("begun")).sort(
            "case_id", "begun", "timestamp", "position"
        )
        arrival = pl.max_horizontal(pl.col("begun").shift(-1), "timestamp")
    else:
        ordered_events = ordered(events, presorted=presorted)
        arrival = pl.col("timestamp").shift(-1)
    return ordered_events.select(
        "case_id",
        "activity",
        "timestamp",
        pl.when(same_case).then(pl.col("activity").shift(-1)).alias("target"),
        pl.when(same_case).then(arrival).alias("target_time"),
        *kept,
        *nexts,
    )


@on_codes
def directly_follows(
    events: pl.LazyFrame,
    *,
    presorted: bool = False,
    calendar: Hours | None = None,
    times: bool = True,
) -> pl.LazyFrame:
    """The directly-follows graph: one row per edge, with frequency and time between.

    Columns: ``source``, ``target``, ``frequency`` (times the pair occurred), ``cases``
    (cases in which it occurred), and the time from the source event to the target event:
    ``mean_duration``, ``median_duration``, ``min_duration``, ``max_duration``,
    ``p90_duration``, ``total_duration``, in the ``calendar``'s working time when there is
    one (null without ``times``, for a map of frequencies). Most frequent first.
    """
    steps = edge_steps(events, presorted=presorted, calendar=calendar)
    return edges_of(steps, in_case_order=True, times=times)


def edge_steps(
    events: pl.LazyFrame, *, presorted: bool = False, calendar: Hours | None = None
) -> pl.LazyFrame:
    """Each directly-follows step of each case: ``case_id``, ``source``, ``target``,
    ``duration`` (the per-case part of `directly_follows`; working time by the
    ``calendar`` when there is one)."""
    found = steps(events, presorted=presorted).filter(pl.col("target").is_not_null())
    if calendar is None:
        return found.select(
            "case_id",
            pl.col("activity").alias("source"),
            "target",
            duration=pl.col("target_time") - pl.col("timestamp"),
        )
    frame = found.collect()
    return frame.select(
        "case_id",
        pl.col("activity").alias("source"),
        "target",
        duration=calendar.durations(frame["timestamp"], frame["target_time"], frame["case_id"]),
    ).lazy()


def edges_of(
    steps: pl.LazyFrame, *, in_case_order: bool = False, times: bool = True
) -> pl.LazyFrame:
    """The directly-follows graph from `edge_steps` (of any set of cases; with
    ``in_case_order``, each case's steps are together, as `edge_steps` gives them). Without
    ``times`` the times are null, not computed (their quantiles sort every step: half the
    work of a map at ten million events)."""
    waits = pl.col("duration")
    statistics = dict(
        zip(
            EDGE_TIMES,
            (
                waits.mean(),
                waits.median(),
                waits.min(),
                waits.max(),
                waits.quantile(0.9, interpolation="linear"),
                waits.sum(),
            ),
            strict=True,
        )
    )
    found = steps.group_by("source", "target").agg(
        frequency=pl.len(),
        cases=distinct_cases(in_case_order=in_case_order),
        **(statistics if times else {}),
    )
    if not times:
        found = untimed(found, steps.collect_schema()["duration"])
    return found.sort(["frequency", "source", "target"], descending=[True, False, False])


#: The time columns of an edge (`edges_of`), from its waits.
EDGE_TIMES = (
    "mean_duration",
    "median_duration",
    "min_duration",
    "max_duration",
    "p90_duration",
    "total_duration",
)


def untimed(edges: pl.LazyFrame, waits: pl.DataType) -> pl.LazyFrame:
    """Edges of a map of frequencies with their time columns, null, of the type of the
    ``waits``."""
    return edges.with_columns(pl.lit(None, waits).alias(name) for name in EDGE_TIMES)


def ends_of_cases(rows: pl.LazyFrame) -> pl.LazyFrame:
    """`case_ends` from `case_rows`."""
    return rows.select(
        "case_id", first=pl.col("variant").list.first(), last=pl.col("last_activity")
    )


@of_cases(lambda rows: ends_of(ends_of_cases(rows), first=True))
@on_codes
def start_activities(events: pl.LazyFrame, *, presorted: bool = False) -> pl.LazyFrame:
    """How many cases start with each activity (``activity``, ``cases``), most first."""
    return ends_of(case_ends(events, presorted=presorted), first=True)


@of_cases(lambda rows: ends_of(ends_of_cases(rows), first=False))
@on_codes
def end_activities(events: pl.LazyFrame, *, presorted: bool = False) -> pl.LazyFrame:
    """How many cases end with each activity (``activity``, ``cases``), most first."""
    return ends_of(case_ends(events, presorted=presorted), first=False)


def case_bounds(events: pl.LazyFrame) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Each case's first events and its last events, of events in case order (each case's
    events together): found where the case id changes, not by grouping."""
    case = pl.col("case_id")
    return (
        events.filter((case != case.shift(1)).fill_null(True)),
        events.filter((case != case.shift(-1)).fill_null(True)),
    )


def case_ends(events: pl.LazyFrame, *, presorted: bool = False) -> pl.LazyFrame:
    """Each case's first and last activity (``case_id``, ``first``, ``last``)."""
    if presorted:
        firsts, lasts = case_bounds(events)
        return pl.concat(
            [
                firsts.select("case_id", first=pl.col("activity")),
                lasts.select(last=pl.col("activity")),
            ],
            how="horizontal",
        )
    return (
        ordered(events, presorted=presorted)
        .group_by("case_id", maintain_order=True)
        .agg(first=pl.col("activity").first(), last=pl.col("activity").last())
    )


def ends_of(ends: pl.LazyFrame, *, first: bool) -> pl.LazyFrame:
    """Start (``first``) or end activities from `case_ends`."""
    return (
        ends.group_by(pl.col("first" if first else "last").alias("activity"))
        .agg(cases=pl.len())
        .sort(["cases", "activity"], descending=[True, False])
    )


@of_cases(lambda rows: case_table(rows.collect()))
@on_codes
def cases(events: pl.LazyFrame, *, presorted: bool = False) -> pl.LazyFrame:
    """One row per case: start, end, duration, events, variant, rework, last activity.

    ``rework`` counts occurrences (see `occurrences`) that repeat an activity already seen
    in the case. Attributes named ``case:*`` and attributes with one value throughout every
    case are added as the case's attributes.
    """
    return case_table(case_rows(events, presorted=presorted).collect())


@of_cases(lambda rows: by_case_number(case_table(rows.collect())))
@on_codes
def case_list(events: pl.LazyFrame, *, presorted: bool = False) -> pl.LazyFrame:
    """`cases` in the natural order of their ids (`by_case_number`): the Cases page's table,
    sorted once, not at every click on it."""
    return by_case_number(cases(events, presorted=presorted))


def by_case_number(table: pl.LazyFrame) -> pl.LazyFrame:
    """Rows in the natural order of their case ids, not as text: 2 before 10, "case 9"
    before "case 10" (the letters first, then the first number, then the whole id)."""
    text = pl.col("case_id").cast(pl.String)
    return table.sort(
        text.str.replace_all(r"\d+", ""),
        text.str.extract(r"(\d+)").str.slice(0, 18).cast(pl.Int64, strict=False),
        text,
        nulls_last=True,
    )


def case_rows(
    events: pl.LazyFrame, *, presorted: bool = False, also: dict[str, pl.Expr] | None = None
) -> pl.LazyFrame:
    """The per-case part of `cases`: every attribute's first value and its distinct count
    (and the aggregations ``also`` names, in the same pass)."""
    schema = events.collect_schema()
    attributes = [name for name in schema.names() if name not in VOCABULARY]
    occurrence = is_occurrence(schema)
    per_case = ordered(events, presorted=presorted).group_by("case_id", maintain_order=True)
    return per_case.agg(
        start=pl.col("timestamp").first(),
        end=pl.col("timestamp").last(),
        events=pl.len(),
        variant=pl.col("activity"),
        rework=occurrence.sum() - pl.col("activity").filter(occurrence).n_unique(),
        last_activity=pl.col("activity").last(),
        **{f"{name}": pl.col(name).drop_nulls().first() for name in attributes},
        **{f"__distinct_{name}": pl.col(name).drop_nulls().n_unique() for name in attributes},
        **(also or {}),
    ).with_columns(duration=pl.col("end") - pl.col("start"))


def case_table(rows: pl.DataFrame) -> pl.LazyFrame:
    """The case table from `case_rows` (of any set of cases), in case order."""
    base = ["case_id", "start", "end", "duration", "events", "variant", "rework", "last_activity"]
    attributes = [name for name in rows.columns if f"__distinct_{name}" in rows.columns]
    # Which attributes belong to the case is known only from the data.
    constant = [
        name
        for name in attributes
        if name.startswith("case:") or not (rows[f"__distinct_{name}"] > 1).any()
    ]
    return rows.lazy().select(*base, *constant)


@of_cases(lambda rows: variants_of(rows.select("case_id", "variant", "duration")))
@on_codes
def variants(events: pl.LazyFrame, *, presorted: bool = False) -> pl.LazyFrame:
    """Variants (activity sequences) with their cases, share, mean and median duration."""
    return variants_of(case_variants(events, presorted=presorted))


def case_variants(events: pl.LazyFrame, *, presorted: bool = False) -> pl.LazyFrame:
    """Each case's variant and duration (the per-case part of `variants`)."""
    return (
        ordered(events, presorted=presorted)
        .group_by("case_id", maintain_order=True)
        .agg(
            variant=pl.col("activity"),
            duration=pl.col("timestamp").last() - pl.col("timestamp").first(),
        )
    )


def variants_of(per_case: pl.LazyFrame) -> pl.LazyFrame:
    """Variants from `case_variants` (of any set of cases); ties in order of the sequence."""
    variant = pl.col("variant")
    if per_case.collect_schema()["variant"] == pl.List(pl.Categorical):
        # Grouped by the codes: Polars' streaming engine cannot group by a list of
        # categoricals that did not come from the same query (it panics).
        variant = variant.list.eval(pl.element().to_physical())
    return (
        per_case.group_by(variant.alias("__codes"))
        .agg(
            variant=pl.col("variant").first(),
            cases=pl.len(),
            mean_duration=pl.col("duration").mean(),
            median_duration=pl.col("duration").median(),
        )
        .with_columns(
            share=pl.col("cases") / pl.col("cases").sum(),
            length=pl.col("variant").list.len(),
            key=pl.col("variant").cast(pl.List(pl.String)).list.join("\u0000"),
        )
        .sort(["cases", "length", "key"], descending=[True, False, False])
        .select("variant", "cases", "share", "mean_duration", "median_duration")
    )


@on_codes
def instances(events: pl.LazyFrame, *, presorted: bool = False) -> pl.LazyFrame:
    """One row per activity instance, each case in the order of the starts: ``case_id``,
    ``activity``, ``resource``, ``start``, ``end``, ``position`` (of the completion) and
    ``previous_end`` (when the case's instance before this one ended; null for the first).

    An instance starts at its event's `START` in a log of intervals; at the n-th ``start``
    event of its activity in its case, for the n-th completion, in a log of lifecycle
    transitions (a completion without a start took no time; a start without a completion is
    not an instance yet); and at its completion in any other log.
    """
    schema = events.collect_schema()
    if START not in schema and _has_starts(events, schema):
        found = _paired(ordered(events, presorted=presorted), schema)
    else:
        found = occurrences(ordered(events, presorted=presorted)).select(
            "case_id",
            "activity",
            _resource(schema),
            (_started() if START in schema else pl.col("timestamp")).alias("start"),
            pl.col("timestamp").alias("end"),
            "position",
        )
    same_case = pl.col("case_id").shift(1) == pl.col("case_id")
    return found.sort("case_id", "start", "end", "position").with_columns(
        previous_end=pl.when(same_case).then(pl.col("end").shift(1))
    )


def _started() -> pl.Expr:
    """An event's start in a log of intervals: its `START`, or its time where it has none
    or one after it."""
    return pl.min_horizontal(pl.coalesce(START, "timestamp"), "timestamp")


def _resource(schema: pl.Schema) -> pl.Expr:
    """The events' resource, or none in a log without resources."""
    return (pl.col("resource") if "resource" in schema else pl.lit(None, pl.String)).alias(
        "resource"
    )


def _has_starts(events: pl.LazyFrame, schema: pl.Schema) -> bool:
    """Whether the log has ``start`` lifecycle events (most logs have none: the few distinct
    phases say so before any sort)."""
    if "lifecycle" not in schema:
        return False
    phases = events.select(pl.col("lifecycle").unique()).collect()["lifecycle"]
    return "start" in phases.str.to_lowercase().to_list()


def _paired(events: pl.LazyFrame, schema: pl.Schema) -> pl.LazyFrame:
    """The instances of a log of lifecycle transitions, in `instances`' columns (unsorted).

    The n-th start and the n-th completion of an activity in a case: a stable sort puts each
    (case, activity, phase) run together, its events still in time order, and a row's rank is
    its distance from the start of its run (a window over three keys costs ten times as
    much). Events without a lifecycle are instances of no time.
    """
    phase = pl.col("lifecycle").str.to_lowercase()
    keys = [
        pl.col(name).to_physical() if isinstance(schema[name], pl.Categorical) else pl.col(name)
        for name in ("case_id", "activity")
    ]
    row = pl.int_range(pl.len(), dtype=pl.Int64)
    run_starts = pl.any_horizontal(
        (column != column.shift(1)).fill_null(True) for column in (*keys, pl.col("phase"))
    )
    ranked = (
        events.with_columns(phase=pl.coalesce(phase, pl.lit("")))
        .filter(pl.col("phase").is_in(["start", "complete", ""]))
        .sort(*keys, "phase", maintain_order=True)
        .with_columns(nth=row - pl.when(run_starts).then(row).forward_fill())
    )
    # Joined on the codes where there are codes (integers join faster than categoricals).
    pair = [key.alias(f"_{name}") for key, name in zip(keys, ("case", "activity"), strict=True)]
    starts = ranked.filter(pl.col("phase") == "start").select(
        *pair, "nth", started=pl.col("timestamp")
    )
    ends = ranked.filter(pl.col("phase") != "start").select(
        *pair,
        "nth",
        "phase",
        "case_id",
        "activity",
        _resource(schema),
        pl.col("timestamp").alias("end"),
        "position",
    )
    paired = ends.join(starts, on=["_case", "_activity", "nth"], how="left")
    started = pl.when(pl.col("phase") == "complete").then(pl.col("started"))
    return paired.select(
        "case_id",
        "activity",
        "resource",
        pl.min_horizontal(pl.coalesce(started, "end"), "end").alias("start"),
        "end",
        "position",
    )


def activity_times(instances: pl.DataFrame, calendar: Hours | None = None) -> pl.DataFrame:
    """`instances` with ``service`` (start to end) and ``waiting`` (the previous instance's
    end to this start, zero when they overlap; null for a case's first) as durations: working
    time by the ``calendar`` when there is one."""
    waited_until = pl.max_horizontal("start", "previous_end")
    if calendar is None:
        return instances.with_columns(
            service=pl.col("end") - pl.col("start"),
            waiting=waited_until - pl.col("previous_end"),
        )
    until = instances.select(waited_until).to_series()
    return instances.with_columns(
        service=calendar.durations(instances["start"], instances["end"], instances["case_id"]),
        waiting=calendar.durations(instances["previous_end"], until, instances["case_id"]),
    )


@on_codes
def activities(
    events: pl.LazyFrame, *, presorted: bool = False, calendar: Hours | None = None
) -> pl.LazyFrame:
    """Per activity (Disco's activity view): ``events`` (its instances, `instances`),
    ``cases``, ``resources``, and the mean, median and 90th percentile of its service time
    (start to completion) and of its waiting time (from the case's previous instance's end
    to its start; `activity_times`), in working time by the ``calendar`` when there is one.
    Most frequent first. The service times equal pm4py's ``get_service_time``.
    """
    timed = activity_times(instances(events, presorted=presorted).collect(), calendar)
    stats = {
        # Quantiles without the nulls first: with them, Polars interpolates in other steps,
        # which can differ by a microsecond after truncation.
        f"{statistic}_{kind}": (
            pl.col(kind).drop_nulls().quantile(share, interpolation="linear")
            if share
            else pl.col(kind).mean()
        )
        for kind in ("service", "waiting")
        for statistic, share in STATISTICS.items()
    }
    return (
        timed.group_by("activity")
        .agg(
            events=pl.len(),
            cases=pl.col("case_id").n_unique(),
            resources=pl.col("resource").drop_nulls().n_unique(),
            **stats,
        )
        .with_columns(pl.col(name).cast(pl.Duration("us")) for name in stats)
        .sort(["events", "activity"], descending=[True, False])
        .lazy()
    )


@on_codes
def resources(events: pl.LazyFrame) -> pl.LazyFrame:
    """Workload per resource: events, cases, distinct activities, share of all events."""
    return (
        events.filter(pl.col("resource").is_not_null())
        .group_by("resource")
        .agg(
            events=pl.len(),
            cases=pl.col("case_id").n_unique(),
            activities=pl.col("activity").n_unique(),
            first=pl.col("timestamp").min(),
            last=pl.col("timestamp").max(),
        )
        .with_columns(share=pl.col("events") / pl.col("events").sum())
        .sort(["events", "resource"], descending=[True, False])
    )


@on_codes
def handover(events: pl.LazyFrame, *, presorted: bool = False) -> pl.LazyFrame:
    """The handover-of-work network: who passes work to whom within a case, how often, after
    how long (``source``, ``target``, ``frequency``, ``cases``, ``mean_duration``).

    A handover is a pair of consecutive events of a case done by different resources.
    """
    same_case = pl.col("case_id").shift(-1) == pl.col("case_id")
    return (
        ordered(events, presorted=presorted)
        .select("case_id", "resource", "timestamp")
        .with_columns(
            pl.when(same_case).then(pl.col("resource").shift(-1)).alias("target"),
            pl.when(same_case).then(pl.col("timestamp").shift(-1)).alias("target_time"),
        )
        .filter(
            pl.col("resource").is_not_null()
            & pl.col("target").is_not_null()
            & (pl.col("resource") != pl.col("target"))
        )
        .group_by(pl.col("resource").alias("source"), "target")
        .agg(
            frequency=pl.len(),
            cases=pl.col("case_id").n_unique(),
            mean_duration=(pl.col("target_time") - pl.col("timestamp")).mean(),
        )
        .sort(["frequency", "source", "target"], descending=[True, False, False])
    )


def _case_spans(events: pl.LazyFrame) -> pl.LazyFrame:
    return events.group_by("case_id").agg(
        start=pl.col("timestamp").min(), end=pl.col("timestamp").max()
    )


#: A period of whole days (``1d``, ``2w``, ``1mo``, ``1q``, ``1y``): its bounds are UTC
#: midnights.
WHOLE_DAYS: Final = re.compile(r"\d+(d|w|mo|q|y)")
_DAY_US: Final = 86_400_000_000


def day_of(column: str, every: str) -> pl.Expr:
    """The time in ``column`` as a key to count by before truncating to the period
    ``every``: its UTC day (integer division) when the period is made of whole days, so
    that only the few distinct days are truncated (a third of the time of truncating ten
    million times to months), else the period itself."""
    if WHOLE_DAYS.fullmatch(every):
        day = pl.col(column).dt.epoch("us") // _DAY_US * _DAY_US
        return day.cast(pl.Datetime("us", "UTC")).alias(column)
    return pl.col(column).dt.truncate(every)


def per_period(frame: pl.LazyFrame, column: str, every: str, name: str) -> pl.LazyFrame:
    """How many rows of ``frame`` fall in each period of ``column`` (``period``, ``name``),
    counted per day first (`day_of`)."""
    per_day = frame.group_by(day_of(column, every)).agg(pl.len().alias(name))
    return per_day.group_by(pl.col(column).dt.truncate(every).alias("period")).agg(
        pl.col(name).sum()
    )


@on_codes
def throughput(events: pl.LazyFrame, *, every: str = "1d", presorted: bool = False) -> pl.LazyFrame:
    """Per period (``every``, a Polars duration like "1d", "1w", "1mo"): cases started, cases
    completed (their last event falls in the period) and events. With ``presorted`` (events
    in case order), each case's first and last events are where its id changes."""
    if presorted:
        firsts, lasts = case_bounds(events)
        spans = pl.concat(
            [firsts.select(start="timestamp"), lasts.select(end="timestamp")], how="horizontal"
        )
    else:
        spans = _case_spans(events)
    started = per_period(spans, "start", every, "cases_started")
    completed = per_period(spans, "end", every, "cases_completed")
    counted = per_period(events, "timestamp", every, "events")
    return (
        counted.join(started, on="period", how="full", coalesce=True)
        .join(completed, on="period", how="full", coalesce=True)
        .with_columns(pl.col("cases_started", "cases_completed", "events").fill_null(0))
        .sort("period")
        .select("period", "cases_started", "cases_completed", "events")
    )


def wip_of(spans: pl.LazyFrame, *, every: str = "1d") -> pl.LazyFrame:
    """`wip` from each case's ``start`` and ``end`` (`_case_spans`, or `case_rows`)."""
    spans = spans.with_columns(
        first=pl.col("start").dt.truncate(every), last=pl.col("end").dt.truncate(every)
    )
    bounds = spans.select(pl.col("first").min(), pl.col("last").max()).collect()
    if bounds.height == 0 or bounds["first"][0] is None:
        return pl.LazyFrame(schema={"period": pl.Datetime("us", "UTC"), "open_cases": pl.UInt32})
    periods = pl.datetime_range(
        bounds["first"][0], bounds["last"][0], interval=every, eager=True
    ).alias("period")
    opened = spans.group_by(pl.col("first").alias("period")).agg(opened=pl.len())
    closed = spans.group_by(pl.col("last").alias("period")).agg(closed=pl.len())
    return (
        pl.LazyFrame(periods)
        .join(opened, on="period", how="left")
        .join(closed, on="period", how="left")
        .sort("period")
        .with_columns(pl.col("opened", "closed").fill_null(0))
        .with_columns(
            open_cases=(
                pl.col("opened").cum_sum() - pl.col("closed").cum_sum().shift(1).fill_null(0)
            ).cast(pl.UInt32)
        )
        .select("period", "open_cases")
    )


@of_cases(wip_of)
@on_codes
def wip(events: pl.LazyFrame, *, every: str = "1d") -> pl.LazyFrame:
    """Work in progress: per period, the cases open at any time in it (started by its end,
    not completed before its start)."""
    return wip_of(_case_spans(events), every=every)


@on_codes
def rework(events: pl.LazyFrame) -> pl.LazyFrame:
    """Activities repeated within cases: in how many cases, how many extra times, and how
    much longer those cases take than the cases without the repetition."""
    per_activity = occurrences(events).group_by("case_id", "activity").agg(times=pl.len())
    durations = _case_spans(events).select("case_id", duration=pl.col("end") - pl.col("start"))
    repeated = per_activity.filter(pl.col("times") > 1).join(durations, on="case_id")
    overall = durations.select(pl.col("duration").mean().alias("all_cases"))
    summary = repeated.group_by("activity").agg(
        cases=pl.len(),
        repetitions=(pl.col("times") - 1).sum(),
        mean_duration_with=pl.col("duration").mean(),
    )
    without = (
        per_activity.join(durations, on="case_id")
        .group_by("case_id", "activity")
        .agg(pl.col("times").max(), pl.col("duration").first())
        .filter(pl.col("times") == 1)
        .group_by("activity")
        .agg(mean_duration_without=pl.col("duration").mean())
    )
    return (
        summary.join(without, on="activity", how="left")
        .join(overall, how="cross")
        .with_columns(
            extra_duration=pl.col("mean_duration_with")
            - pl.coalesce("mean_duration_without", "all_cases")
        )
        .drop("all_cases")
        .sort(["cases", "activity"], descending=[True, False])
    )


@on_codes
def bottlenecks(
    events: pl.LazyFrame, *, presorted: bool = False, calendar: Hours | None = None
) -> pl.LazyFrame:
    """Edges and activities ranked by total waiting time (``kind``: "edge" or "activity"),
    in the ``calendar``'s working time when there is one.

    An edge's waiting time is the time between its source and target events; an activity's
    is the time from the previous event of the case to it (the edges into it, together).
    """
    taken = edge_steps(events, presorted=presorted, calendar=calendar).collect().lazy()
    edges = edges_of(taken).select(
        pl.lit("edge").alias("kind"),
        pl.format("{} → {}", "source", "target").alias("name"),
        "frequency",
        pl.col("total_duration").alias("total_waiting"),
        pl.col("mean_duration").alias("mean_waiting"),
    )
    tasks = (
        taken.group_by("target")
        .agg(
            frequency=pl.len(),
            total_waiting=pl.col("duration").sum(),
            mean_waiting=pl.col("duration").mean(),
        )
        .select(
            pl.lit("activity").alias("kind"),
            pl.col("target").cast(pl.String).alias("name"),
            "frequency",
            "total_waiting",
            "mean_waiting",
        )
    )
    return pl.concat([edges, tasks]).sort(
        ["total_waiting", "kind", "name"], descending=[True, False, False]
    )


@on_codes
def dotted_chart(
    events: pl.LazyFrame, *, presorted: bool = False, limit: int | None = None
) -> pl.LazyFrame:
    """Points of a dotted chart: case, time, activity, resource, with the time relative to
    the case's start and the case's rank by start (for the y axis). With ``limit``, only
    the first that many points (the events of the cases that started first): a chart
    cannot show ten million dots, and they are not computed."""
    # Rank by start, ties by case id, so the chart does not depend on grouping order.
    spans = (
        events.group_by("case_id")
        .agg(start=pl.col("timestamp").min(), events=pl.len())
        .sort("start", "case_id")
        .with_columns(case_rank=pl.int_range(1, pl.len() + 1, dtype=pl.UInt32))
    )
    if limit is not None:
        spans = spans.filter(pl.col("events").cum_sum() - pl.col("events") < limit)
    points = (
        ordered(events, presorted=presorted)
        .select("case_id", "timestamp", "activity", "resource")
        .join(spans.select("case_id", "start", "case_rank"), on="case_id", maintain_order="left")
        .with_columns(relative=pl.col("timestamp") - pl.col("start"))
        .drop("start")
        .sort("case_rank", "timestamp", maintain_order=True)
    )
    return points if limit is None else points.head(limit)
