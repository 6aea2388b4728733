"""The state of every case at a chosen moment, rebuilt from the log by replay.

Valid time is the ``at`` of `state_at`: the events that had happened by then. Transaction
time is the scan's ``known_at``: the events the store had recorded by then. The two compose::

    state_at(store.scan("orders", known_at=r), at=t)   # t as it was known at r

The fold is mergeable (`fold`, `merge`, `finish`): a snapshot of the folded state at one
moment plus the events after it gives the same state as a replay from the first event,
which is how `workbench.checkpoints` answers `state_at` on a long log quickly.

>>> import polars as pl
>>> from datetime import datetime, UTC
>>> events = pl.LazyFrame({
...     "position": [1, 2, 3, 4], "case_id": ["c1", "c1", "c2", "c1"],
...     "activity": ["order", "ship", "order", "pay"],
...     "timestamp": [datetime(2024, 1, d, tzinfo=UTC) for d in (1, 2, 2, 3)]})
>>> state = state_at(events, datetime(2024, 1, 2, 12, tzinfo=UTC), completed={"pay"})
>>> state.select("case_id", "last_activity", "status", "events").collect().rows()
[('c1', 'ship', 'open', 2), ('c2', 'order', 'open', 1)]
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import polars as pl

from workbench.events import VOCABULARY
from workbench.projections import directly_follows, is_occurrence, on_codes

if TYPE_CHECKING:
    from workbench.calendars import Hours

# Columns of the folded (mergeable) state, beyond the case's attributes.
_FOLDED = (
    "case_id",
    "start",
    "last_timestamp",
    "last_position",
    "last_activity",
    "last_resource",
    "events",
    "occurrences",
    "seen",
)


def in_time(events: pl.LazyFrame, *, presorted: bool = False) -> pl.LazyFrame:
    """Events in ``(timestamp, position)`` order, which a fold needs within each case.

    Sorting the whole log by time (two integer columns) is cheaper than by case id (text);
    grouping keeps the order of rows within each group.
    """
    return events if presorted else events.sort("timestamp", "position")


def attribute_names(schema: pl.Schema) -> list[str]:
    """The columns of a scan that are attributes rather than vocabulary."""
    return [name for name in schema.names() if name not in VOCABULARY]


def fold(
    events: pl.LazyFrame, *, presorted: bool = False, also: dict[str, pl.Expr] | None = None
) -> pl.LazyFrame:
    """Fold events into one row per case: the mergeable part of the case's state (and the
    aggregations ``also`` names, in the same pass).

    ``seen`` holds the distinct activities completed so far and ``occurrences`` how many
    completions there were, so rework stays exact across merges; attributes keep their
    latest non-null value.
    """
    schema = events.collect_schema()
    occurrence = is_occurrence(schema)
    resource = pl.col("resource") if "resource" in schema else pl.lit(None, pl.String)
    return (
        in_time(events, presorted=presorted)
        .group_by("case_id")
        .agg(
            start=pl.col("timestamp").first(),
            last_timestamp=pl.col("timestamp").last(),
            last_position=pl.col("position").last(),
            last_activity=pl.col("activity").last(),
            last_resource=resource.last(),
            events=pl.len().cast(pl.UInt32),
            occurrences=occurrence.sum().cast(pl.UInt32),
            seen=pl.col("activity").filter(occurrence).unique().sort(),
            **{name: pl.col(name).drop_nulls().last() for name in attribute_names(schema)},
            **(also or {}),
        )
    )


def merge(earlier: pl.LazyFrame, later: pl.LazyFrame) -> pl.LazyFrame:
    """Merge two folded states where every event of ``later`` follows those of ``earlier``
    in its case (the result equals folding all the events at once)."""
    attributes = [name for name in earlier.collect_schema().names() if name not in _FOLDED]
    joined = earlier.join(later, on="case_id", how="full", coalesce=True, suffix="_new")

    def newer(name: str) -> pl.Expr:
        return pl.coalesce(f"{name}_new", name).alias(name)

    return joined.select(
        "case_id",
        pl.coalesce("start", "start_new").alias("start"),
        newer("last_timestamp"),
        newer("last_position"),
        newer("last_activity"),
        pl.when(pl.col("last_activity_new").is_not_null())
        .then(pl.col("last_resource_new"))
        .otherwise(pl.col("last_resource"))
        .alias("last_resource"),
        (pl.col("events").fill_null(0) + pl.col("events_new").fill_null(0)).alias("events"),
        (pl.col("occurrences").fill_null(0) + pl.col("occurrences_new").fill_null(0)).alias(
            "occurrences"
        ),
        pl.concat_list(
            pl.col("seen").fill_null(pl.lit([], pl.List(pl.String))),
            pl.col("seen_new").fill_null(pl.lit([], pl.List(pl.String))),
        )
        .list.unique()
        .list.sort()
        .alias("seen"),
        *(newer(name) for name in attributes),
    )


def finish(
    folded: pl.LazyFrame, at: datetime, *, completed: Collection[str] | pl.Expr
) -> pl.LazyFrame:
    """The state of each case at ``at`` from its folded events.

    ``completed`` is the set of activities that complete a case, or a Polars expression over
    the state's columns that is true for completed cases. An open case's ``elapsed`` and
    ``idle`` run to ``at``; a completed case's ``elapsed`` is its duration, from its first to
    its last event, and it has no ``idle`` time.
    """
    rule = (
        completed
        if isinstance(completed, pl.Expr)
        else pl.col("last_activity").is_in(list(completed))
    )
    attributes = [name for name in folded.collect_schema().names() if name not in _FOLDED]
    moment = pl.lit(at).cast(pl.Datetime("us", "UTC"))
    return (
        folded.with_columns(
            elapsed=moment - pl.col("start"),
            idle=moment - pl.col("last_timestamp"),
            rework=(pl.col("occurrences") - pl.col("seen").list.len()).cast(pl.UInt32),
        )
        .with_columns(status=pl.when(rule).then(pl.lit("completed")).otherwise(pl.lit("open")))
        .with_columns(
            elapsed=pl.when(pl.col("status") == "completed")
            .then(pl.col("last_timestamp") - pl.col("start"))
            .otherwise(pl.col("elapsed")),
            idle=pl.when(pl.col("status") == "open").then(pl.col("idle")),
        )
        .select(
            "case_id",
            "status",
            "last_activity",
            "last_resource",
            "last_timestamp",
            "start",
            "events",
            "elapsed",
            "idle",
            "rework",
            *attributes,
        )
        .sort("case_id")
    )


def completing_activities(events: pl.LazyFrame, *, presorted: bool = False) -> list[str]:
    """The default completion rule: the log's end activities that usually end their case.

    An activity that ends a case only because the export cut the case off (it is followed by
    more work in most cases) does not count: at least half of its occurrences must be the
    last event of their case.
    """
    ends = (
        in_time(events, presorted=presorted)
        .group_by("case_id")
        .agg(pl.col("activity").last())
        .group_by("activity")
        .agg(ends=pl.len())
    )
    counts = events.group_by("activity").agg(occurrences=pl.len())
    rows = ends.join(counts, on="activity").with_columns(case_id=pl.lit(None, pl.String))
    return completing(rows).collect()["activity"].to_list()


def activity_ends(events: pl.LazyFrame, *, presorted: bool = False) -> pl.LazyFrame:
    """Per case and activity: occurrences, and whether the case ends with it (the per-case
    part of `completing_activities`)."""
    return (
        in_time(events, presorted=presorted)
        .with_columns(last=pl.col("activity").last().over("case_id"))
        .group_by("case_id", "activity")
        .agg(occurrences=pl.len(), ends=(pl.col("activity") == pl.col("last")).any())
    )


def completing_of_cases(rows: pl.LazyFrame) -> list[str]:
    """`completing_activities` from `projections.case_rows` of the same events."""
    occurrences = (
        rows.select(pl.col("variant").explode().alias("activity"))
        .group_by("activity")
        .agg(occurrences=pl.len())
    )
    ends = rows.group_by(pl.col("last_activity").alias("activity")).agg(ends=pl.len())
    per_activity = occurrences.join(ends, on="activity", how="left").with_columns(
        pl.col("ends").fill_null(0), case_id=pl.lit(None, pl.String)
    )
    found = completing(per_activity).collect()["activity"]
    return found.cast(pl.String).sort().to_list()


def completing(rows: pl.LazyFrame) -> pl.LazyFrame:
    """The completing activities (column ``activity``) from `activity_ends` rows."""
    return (
        rows.group_by("activity")
        .agg(pl.col("occurrences").sum(), ends=pl.col("ends").sum())
        .filter((pl.col("ends") > 0) & (pl.col("ends") * 2 >= pl.col("occurrences")))
        .select("activity")
        .sort("activity")
    )


@on_codes
def corrections(events: pl.LazyFrame, *, presorted: bool = False) -> pl.DataFrame:
    """Events that supersede an earlier event, with the event they correct.

    A correction names the event it replaces in a ``corrects`` attribute, or is caused
    (``causation_id``) by an event of the same case, activity and time: the same event
    recorded again with other data. Columns:
    ``event_id``, ``corrects``, ``case_id``, ``activity``, the correction's ``timestamp`` and
    ``recorded_at``, and the corrected event's ``original_timestamp`` and
    ``original_recorded_at``.

    A re-recording and its original share a case and a time, so only the events with
    another event of their case at the same time are joined (in case order, with
    ``presorted``, they are found by comparing neighbours).
    """
    schema = events.collect_schema()
    wanted = [
        n for n in ("event_id", "case_id", "activity", "timestamp", "recorded_at") if n in schema
    ]
    frame = events.select(
        *wanted,
        *(name for name in ("causation_id", "corrects", "position") if name in schema),
    )
    if "recorded_at" not in schema:
        frame = frame.with_columns(recorded_at=pl.lit(None, pl.Datetime("us", "UTC")))

    def originals(of: pl.LazyFrame) -> pl.LazyFrame:
        return of.select(
            pl.col("event_id").alias("corrects"),
            pl.col("case_id").alias("original_case"),
            pl.col("activity").alias("original_activity"),
            pl.col("timestamp").alias("original_timestamp"),
            pl.col("recorded_at").alias("original_recorded_at"),
        )

    parts = []  # corrections found, each with its original's columns
    if "corrects" in schema:
        named = frame.filter(pl.col("corrects").is_not_null()).with_columns(
            pl.col("corrects").cast(pl.String)
        )
        parts.append(named.join(originals(frame), on="corrects", how="inner"))
    if "causation_id" in schema:
        in_order = frame if presorted else frame.sort("case_id", "timestamp")
        tie = _tie()
        if "position" in schema:  # found by their times, then read with their ids: the few
            found_ties = tied_positions(in_order, presorted=True).collect()["position"]
            tie = pl.col("position").is_in(found_ties.implode())
        tied = in_order.filter(tie).collect().lazy()
        parts.append(
            tied.filter(pl.col("causation_id").is_not_null())
            .with_columns(corrects=pl.col("causation_id"))
            .join(originals(tied), on="corrects", how="inner")
            .filter(
                (pl.col("original_case") == pl.col("case_id"))
                & (pl.col("original_activity") == pl.col("activity"))
                & (pl.col("original_timestamp") == pl.col("timestamp"))
            )
        )
    if not parts:  # nothing can be a correction: no rows, with the columns
        none = frame.clear().with_columns(corrects=pl.lit(None, pl.String))
        parts.append(none.join(originals(frame.clear()), on="corrects", how="inner"))
    columns = ["event_id", "corrects", "case_id", "activity", "timestamp", "recorded_at"]
    columns += ["original_timestamp", "original_recorded_at"]
    found = pl.concat([part.select(columns).collect() for part in parts]).unique(
        "event_id", keep="first", maintain_order=True
    )
    return found.sort("recorded_at", "event_id")


def tied_positions(events: pl.LazyFrame, *, presorted: bool = False) -> pl.LazyFrame:
    """The positions of the events that share their case, activity and time with another
    (a re-recording and its original among them): the only events `corrections` finds
    by ``causation_id``, in any part of the events as in the whole.

    Events of one case at one time are next to each other in case order, mostly two at
    a time: such a pair is tied when its activities are equal. Only events in a run of
    three or more at one time are grouped (a fifth of the time on ten million events,
    where a fifth of the events are in pairs)."""
    in_order = events if presorted else events.sort("case_id", "timestamp")
    same = _same_time()
    activity = pl.col("activity")
    adjacent = (same & (activity == activity.shift(1))) | (
        same.shift(-1) & (activity == activity.shift(-1))
    )
    middle = same & same.shift(-1)  # this event, the one before and the one after
    crowded = middle | middle.shift(1) | middle.shift(-1)
    frame = (
        in_order.select("case_id", "activity", "timestamp", "position")
        .with_columns(adjacent=adjacent.fill_null(False), crowded=crowded.fill_null(False))
        .filter(pl.col("adjacent") | pl.col("crowded"))
        .collect()  # once, for both kinds
    )
    among_many = frame.filter("crowded").filter(
        pl.struct("case_id", "activity", "timestamp").is_duplicated()
    )
    both = pl.concat([frame.filter("adjacent").select("position"), among_many.select("position")])
    return both.unique().sort("position").lazy()


def _same_time() -> pl.Expr:
    """Over events in case order: whether an event is of the case and time of the one
    before it."""
    same = (pl.col("case_id") == pl.col("case_id").shift(1)) & (
        pl.col("timestamp") == pl.col("timestamp").shift(1)
    )
    return same.fill_null(False)


def _tie() -> pl.Expr:
    """Over events in case order: whether an event has a neighbour of its case at its time."""
    same = _same_time()
    return (same | same.shift(-1)).fill_null(False)


def without_superseded(events: pl.LazyFrame) -> pl.LazyFrame:
    """The events minus those that a correction among them supersedes."""
    schema = events.collect_schema()
    if "corrects" not in schema and "causation_id" not in schema:
        return events
    superseded = corrections(events).select(pl.col("corrects").alias("event_id"))
    if superseded.is_empty():
        return events
    return events.join(superseded.lazy(), on="event_id", how="anti", maintain_order="left")


@on_codes
def in_working_time(state: pl.DataFrame, at: datetime, calendar: Hours) -> pl.DataFrame:
    """A state at ``at`` (`state_at`) with ``elapsed`` (from the case's start to ``at``, or
    to its last event once completed) and ``idle`` (from its last event to ``at``, open
    cases only) in the ``calendar``'s working time."""
    moment = pl.lit(at).cast(pl.Datetime("us", "UTC"))
    open_ = pl.col("status") == "open"
    until = state.select(pl.when(open_).then(moment).otherwise(pl.col("last_timestamp")))
    now = pl.Series("at", [at] * state.height, dtype=pl.Datetime("us", "UTC"))
    return state.with_columns(
        elapsed=calendar.durations(state["start"], until.to_series(), state["case_id"]),
        idle=pl.when(open_).then(
            calendar.durations(state["last_timestamp"], now, state["case_id"])
        ),
    )


def state_at(
    events: pl.LazyFrame,
    at: datetime,
    *,
    completed: Collection[str] | pl.Expr | None = None,
    presorted: bool = False,
) -> pl.LazyFrame:
    """One row per case that had started by ``at``: its status, last activity and resource,
    events, elapsed time, idle time since its last event, rework, and every attribute at
    its latest value by ``at``.

    A case is ``completed`` when its last event by ``at`` is one of the log's end activities
    (`completing_activities`, computed from all of ``events``), or by ``completed``: a set of
    activities or a Polars expression over these columns. An event superseded by a
    correction (one naming it in a ``corrects`` attribute) that happened by ``at`` does not
    count; `corrections` lists them, re-recordings by causation id included.

    With ``presorted``, the events of each case are already in ``(timestamp, position)``
    order (as in case order, which the read model keeps): nothing is sorted.
    """
    if "corrects" in events.collect_schema():
        happened = events.filter(pl.col("timestamp") <= at)
        # Each part keeps its order, and within a case every event by ``at`` comes first.
        events = pl.concat([without_superseded(happened), events.filter(pl.col("timestamp") > at)])
    if completed is not None:
        happened = events.filter(pl.col("timestamp") <= at)
        return finish(fold(happened, presorted=presorted), at, completed=completed)
    # The rule needs every event: read and order the log once for both passes.
    frame = events if presorted else events.collect().sort("timestamp", "position").lazy()
    rule = completing_activities(frame, presorted=True)
    happened = frame.filter(pl.col("timestamp") <= at)
    return finish(fold(happened, presorted=True), at, completed=rule)


def summary(state: pl.DataFrame) -> pl.DataFrame:
    """Work in progress by last activity: open and completed cases, mean elapsed time."""
    return (
        state.group_by("last_activity")
        .agg(
            open=(pl.col("status") == "open").sum(),
            completed=(pl.col("status") == "completed").sum(),
            mean_elapsed=pl.col("elapsed").filter(pl.col("status") == "open").mean(),
        )
        .sort(["open", "completed", "last_activity"], descending=[True, True, False])
    )


def restated(known: pl.DataFrame, now: pl.DataFrame) -> pl.DataFrame:
    """The cases whose state at a moment differs between two versions of the log (two
    `state_at` results at the same moment: as known then, and as known now): new to the
    later one, or with other events or another status. One row each: ``case_id``,
    ``known_last``, ``now_last`` (last activity), ``known_events``, ``now_events``."""
    return (
        now.join(known, on="case_id", how="left", suffix="_known")
        .filter(
            pl.col("events_known").is_null()
            | (pl.col("events") != pl.col("events_known"))
            | (pl.col("status") != pl.col("status_known"))
        )
        .select(
            "case_id",
            known_last="last_activity_known",
            now_last="last_activity",
            known_events="events_known",
            now_events="events",
        )
    )


def status_counts(state: pl.DataFrame) -> dict[str, int]:
    """Cases by status at the moment of ``state``."""
    counts = dict(state.group_by("status").len().iter_rows())
    return {"open": int(counts.get("open", 0)), "completed": int(counts.get("completed", 0))}


@dataclass(frozen=True)
class Diff:
    """What changed between two moments."""

    started: pl.DataFrame  # cases that started in (t1, t2]
    completed: pl.DataFrame  # cases completed by t2 that were not by t1
    moved: pl.DataFrame  # cases whose last activity changed: case_id, before, after
    new_edges: pl.DataFrame  # directly-follows edges present at t2 but not at t1
    kpis: pl.DataFrame  # measure, before, after, change

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready description (times as ISO text, durations in seconds)."""
        return {
            "started": self.started["case_id"].to_list(),
            "completed": self.completed["case_id"].to_list(),
            "moved": self.moved.to_dicts(),
            "new_edges": self.new_edges.select("source", "target", "frequency").to_dicts(),
            "kpis": self.kpis.to_dicts(),
        }


@on_codes
def diff(
    events: pl.LazyFrame,
    t1: datetime,
    t2: datetime,
    *,
    completed: Collection[str] | pl.Expr | None = None,
    presorted: bool = False,
) -> Diff:
    """What changed from ``t1`` to ``t2``: cases started and completed, cases that moved to
    another activity, new directly-follows edges, and the KPIs at both moments.

    With ``presorted``, the events are in case order (case, time, position)."""
    if not presorted:  # one sort for every pass below
        events = events.collect().sort("case_id", "timestamp", "position").lazy()
    rule = completing_activities(events, presorted=True) if completed is None else completed
    before = state_at(events, t1, completed=rule, presorted=True).collect()
    after = state_at(events, t2, completed=rule, presorted=True).collect()
    edges_before = directly_follows(
        events.filter(pl.col("timestamp") <= t1), presorted=True
    ).collect()
    edges_after = directly_follows(
        events.filter(pl.col("timestamp") <= t2), presorted=True
    ).collect()
    return diff_of(before, after, edges_before, edges_after)


def diff_of(
    before: pl.DataFrame, after: pl.DataFrame, edges_before: pl.DataFrame, edges_after: pl.DataFrame
) -> Diff:
    """`diff` from the states at the two moments (`state_at`) and the directly-follows
    graphs of the events by each."""
    started = after.join(before, on="case_id", how="anti")
    done_before = before.filter(pl.col("status") == "completed").select("case_id")
    completed_now = after.filter(pl.col("status") == "completed").join(
        done_before, on="case_id", how="anti"
    )
    moved = (
        before.select("case_id", before="last_activity", before_events="events")
        .join(after.select("case_id", after="last_activity", after_events="events"), on="case_id")
        .filter(pl.col("after_events") > pl.col("before_events"))
        .select("case_id", "before", "after")
    )
    new_edges = edges_after.join(edges_before, on=["source", "target"], how="anti")
    kpis = pl.DataFrame(
        [_kpis(before, edges_before), _kpis(after, edges_after)],
        orient="row",
        schema=["cases", "open", "completed", "events", "edges", "rework"],
    )
    table = pl.DataFrame(
        {
            "measure": kpis.columns,
            "before": kpis.row(0),
            "after": kpis.row(1),
        }
    ).with_columns(change=pl.col("after") - pl.col("before"))
    return Diff(
        started.select("case_id", "start", "last_activity"),
        completed_now.select("case_id", "last_activity", "last_timestamp"),
        moved,
        new_edges,
        table,
    )


def _kpis(state: pl.DataFrame, edges: pl.DataFrame) -> list[int]:
    counts = status_counts(state)
    return [
        state.height,
        counts["open"],
        counts["completed"],
        int(state["events"].sum() or 0),
        edges.height,
        int(state["rework"].sum() or 0),
    ]
