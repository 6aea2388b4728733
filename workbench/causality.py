"""Cause and effect: a case's timeline, explicit causation chains, inferred links, and the
attribute values, activities, resources and rework that go with long cases.

Explicit chains follow ``causation_id`` (the event that caused this one, in any case) and
``correlation_id`` (the request that started the chain). Where a log has no such ids, links
are inferred: an event follows the previous event of its case, and in an object-centric log
events touching the same object follow each other.

>>> import polars as pl
>>> from datetime import datetime
>>> events = pl.LazyFrame({
...     "position": [1, 2, 3], "case_id": ["o1", "o1", "o2"],
...     "event_id": ["a", "b", "c"], "activity": ["order", "pick", "reorder"],
...     "timestamp": [datetime(2024, 1, d) for d in (1, 2, 3)],
...     "causation_id": [None, "a", "b"]})
>>> chain = trace(events, "b")
>>> [row["event_id"] for row in chain.causes.to_dicts()], chain.effects["event_id"].to_list()
(['a'], ['c'])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from workbench.dot import quote
from workbench.events import WorkbenchError
from workbench.projections import ORDER, START, on_codes

if TYPE_CHECKING:
    from workbench.calendars import Hours


class UnknownEvent(WorkbenchError):
    """No event has the given id in the log."""


class UnknownCase(WorkbenchError):
    """No case has the given id in the log."""


@on_codes
def timeline(events: pl.LazyFrame, case_id: str, *, calendar: Hours | None = None) -> pl.DataFrame:
    """The events of one case in order, with the waiting time since the previous event,
    the service time of each activity (its start time in a log of intervals, or its paired
    ``start`` event to its ``complete``), and whether each event lies on the case's
    critical path; every time in the ``calendar``'s working time when there is one.

    The critical path is the chain of causes of the case's last event (its
    ``causation_id`` links within the case, back to the root); without causation ids
    every event of a sequential case is on it.
    """
    schema = events.collect_schema()
    frame = events.filter(pl.col("case_id") == case_id).sort(*ORDER).collect()
    if frame.is_empty():
        raise UnknownCase(f"no case {case_id!r} in the log")
    phase = (
        pl.col("lifecycle").str.to_lowercase() if "lifecycle" in schema else pl.lit(None, pl.String)
    )
    frame = frame.with_columns(
        previous=pl.col("timestamp").shift(1),
        first=pl.col("timestamp").first(),
        phase=phase,
        nth=pl.int_range(pl.len()).over("activity", phase),
    )
    if START in schema:  # a log of intervals: each event has its own start
        frame = frame.with_columns(started=pl.col(START))
    else:
        starts = frame.filter(pl.col("phase") == "start").select(
            "activity", "nth", started=pl.col("timestamp")
        )
        frame = frame.join(starts, on=["activity", "nth"], how="left", maintain_order="left")
        frame = frame.with_columns(
            started=pl.when(pl.col("phase") == "complete").then(pl.col("started"))
        )
    if calendar is None:
        frame = frame.with_columns(
            waiting=pl.col("timestamp") - pl.col("previous"),
            since_start=pl.col("timestamp") - pl.col("first"),
            service=pl.col("timestamp") - pl.col("started"),
        )
    else:
        frame = frame.with_columns(
            waiting=calendar.durations(frame["previous"], frame["timestamp"], frame["case_id"]),
            since_start=calendar.durations(frame["first"], frame["timestamp"], frame["case_id"]),
            service=calendar.durations(frame["started"], frame["timestamp"], frame["case_id"]),
        )
    on_path = _critical_path(frame)
    columns = [
        name
        for name in (
            "position",
            "event_id",
            "activity",
            "timestamp",
            "lifecycle",
            "resource",
            "causation_id",
            "correlation_id",
        )
        if name in frame.columns
    ]
    return frame.with_columns(critical=pl.col("event_id").is_in(list(on_path))).select(
        *columns, "since_start", "waiting", "service", "critical"
    )


def _critical_path(frame: pl.DataFrame) -> set[str]:
    if "causation_id" not in frame.columns or frame["causation_id"].null_count() == frame.height:
        return set(frame["event_id"].to_list())
    cause_of = dict(zip(frame["event_id"], frame["causation_id"], strict=True))
    path = set()
    current: str | None = frame["event_id"][-1]
    while current is not None and current in cause_of and current not in path:
        path.add(current)
        current = cause_of[current]
    return path


@dataclass(frozen=True)
class Trace:
    """One event with its causes (root first) and its effects (transitively, any case)."""

    event: dict[str, object]
    causes: pl.DataFrame
    effects: pl.DataFrame  # with ``depth`` (1: caused directly) and ``caused_by``

    def tree(self) -> str:
        """The chain as indented text: causes down to the event, then its effects."""
        lines = []
        chain = [*self.causes.to_dicts(), self.event]
        for depth, row in enumerate(chain):
            marker = "▶ " if row is self.event else ""
            lines.append(f"{'  ' * depth}{marker}{_label(row)}")
        base = len(chain)
        children: dict[str, list[dict[str, object]]] = {}
        for row in self.effects.to_dicts():
            children.setdefault(str(row["caused_by"]), []).append(row)

        def walk(event_id: str, depth: int) -> None:
            for child in children.get(event_id, []):
                lines.append(f"{'  ' * depth}{_label(child)}")
                walk(str(child["event_id"]), depth + 1)

        walk(str(self.event["event_id"]), base)
        return "\n".join(lines)

    def to_dot(self) -> str:
        """The chain as a Graphviz digraph: an edge from each cause to its effect."""
        rows = [*self.causes.to_dicts(), self.event, *self.effects.to_dicts()]
        lines = ["digraph trace {", "  rankdir=LR;", '  node [shape=box, fontname="Helvetica"];']
        for row in rows:
            style = ', style="filled,bold", fillcolor="#fde68a"' if row is self.event else ""
            lines.append(f"  {quote(str(row['event_id']))} [label={quote(_label(row))}{style}];")
        for row in rows:
            cause = row.get("caused_by", row.get("causation_id"))
            if cause is not None and any(other["event_id"] == cause for other in rows):
                lines.append(f"  {quote(str(cause))} -> {quote(str(row['event_id']))};")
        lines.append("}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready description (times as ISO text)."""
        return {
            "event": _jsonable(self.event),
            "causes": [_jsonable(row) for row in self.causes.to_dicts()],
            "effects": [_jsonable(row) for row in self.effects.to_dicts()],
        }


def _jsonable(row: dict[str, object]) -> dict[str, object]:
    return {
        key: value.isoformat() if hasattr(value, "isoformat") else value
        for key, value in row.items()
    }


def _label(row: dict[str, object]) -> str:
    return f"{row['activity']} · {row['case_id']} · {row['timestamp']:%Y-%m-%d %H:%M}"


_TRACE_COLUMNS = (
    "event_id",
    "case_id",
    "activity",
    "timestamp",
    "resource",
    "causation_id",
    "correlation_id",
    "position",
)


@on_codes
def trace(events: pl.LazyFrame, event_id: str) -> Trace:
    """The causes of an event, back to the root, and everything it caused, transitively and
    across cases, following ``causation_id``."""
    schema = events.collect_schema()
    wanted = [name for name in _TRACE_COLUMNS if name in schema]
    frame = events.select(wanted)
    if "causation_id" not in schema:
        frame = frame.with_columns(causation_id=pl.lit(None, pl.String))
    frame_schema = frame.collect_schema()
    # Each step is a filter on the ids, which a reader of Parquet answers from the pages
    # that can hold them (the app holds the ids apart: they are not read whole).
    found = frame.filter(pl.col("event_id") == event_id).collect()
    if found.is_empty():
        raise UnknownEvent(f"no event {event_id!r} in the log")
    event = found.row(0, named=True)
    # Walk the causation links with column filters: no Python structure over the whole log.
    causes: list[dict[str, object]] = []
    current, seen = event.get("causation_id"), {event_id}
    while current is not None and current not in seen:
        cause = frame.filter(pl.col("event_id") == current).collect()
        if cause.is_empty():
            break
        seen.add(str(current))
        causes.append(cause.row(0, named=True))
        current = causes[-1].get("causation_id")
    causes.reverse()
    levels: list[pl.DataFrame] = []
    frontier, reached, depth = [event_id], {event_id}, 0
    while frontier:
        depth += 1
        children = (
            frame.filter(
                pl.col("causation_id").is_in(frontier) & ~pl.col("event_id").is_in(list(reached))
            )
            .collect()
            .unique("event_id", keep="first", maintain_order=True)
        )
        if children.is_empty():
            break
        levels.append(
            children.with_columns(depth=pl.lit(depth, pl.Int64), caused_by=pl.col("causation_id"))
        )
        frontier = children["event_id"].to_list()
        reached.update(frontier)
    schema_out = pl.Schema(frame_schema)
    schema_out["depth"] = pl.Int64()
    schema_out["caused_by"] = pl.String()
    effects = pl.concat(levels) if levels else pl.DataFrame(schema=schema_out)
    if "position" in frame_schema:
        effects = effects.sort("timestamp", "position")
    return Trace(event, pl.DataFrame(causes, schema=frame_schema), effects)


def links(events: pl.LazyFrame) -> pl.LazyFrame:
    """Links between events: ``caused`` where a causation id names the cause, otherwise
    ``follows`` from the previous event of the case (inferred), with the time between."""
    schema = events.collect_schema()
    ordered = events.sort(*ORDER)
    same = pl.col("case_id").shift(1) == pl.col("case_id")
    inferred = ordered.select(
        pl.when(same).then(pl.col("event_id").shift(1)).alias("source"),
        pl.col("event_id").alias("target"),
        pl.lit("follows").alias("kind"),
        pl.when(same).then(pl.col("timestamp") - pl.col("timestamp").shift(1)).alias("gap"),
    ).filter(pl.col("source").is_not_null())
    if "causation_id" not in schema:
        return inferred
    times = events.select("event_id", "timestamp")
    explicit = (
        events.filter(pl.col("causation_id").is_not_null())
        .select(
            pl.col("causation_id").alias("source"), pl.col("event_id").alias("target"), "timestamp"
        )
        .join(times.rename({"event_id": "source", "timestamp": "source_time"}), on="source")
        .select(
            "source",
            "target",
            pl.lit("caused").alias("kind"),
            gap=pl.col("timestamp") - pl.col("source_time"),
        )
    )
    has_cause = explicit.select(pl.col("target"))
    return pl.concat([explicit, inferred.join(has_cause, on="target", how="anti")])


def object_links(event_objects: pl.DataFrame, events: pl.LazyFrame) -> pl.DataFrame:
    """Inferred links in an object-centric log: events touching the same object follow each
    other in time (``source``, ``target``, ``object_id``)."""
    timed = event_objects.join(
        events.select("event_id", "timestamp", "position").collect(), on="event_id"
    ).sort("object_id", "timestamp", "position")
    same = pl.col("object_id").shift(1) == pl.col("object_id")
    return timed.select(
        pl.when(same).then(pl.col("event_id").shift(1)).alias("source"),
        pl.col("event_id").alias("target"),
        "object_id",
    ).filter(pl.col("source").is_not_null())
