"""Object-centric process maps and objects: what flattening to one case notion hides.

The object-centric directly-follows graph (OC-DFG) of an OCEL log has, for each object type,
the directly-follows relation of the events of each object of that type: by definition the
directly-follows graph of the flattened view ``LOG/TYPE``, drawn on one map with a colour
per type. Each edge counts its pairs per object (``frequency``, as ``dfg LOG/TYPE``), the
distinct pairs of events (``event_pairs``: an event shared by two objects moves both) and
the objects that take it, with the waiting times. Convergence and divergence show where
flattening misleads: events with several objects of one type (flattened, each becomes
several events) and objects that repeat an activity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from workbench import projections
from workbench.dot import quote
from workbench.durations import human_duration
from workbench.events import WorkbenchError
from workbench.store import EventStore, LogName

#: A colour per object type, in order.
PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
    "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f",
)  # fmt: skip


class UnknownObject(WorkbenchError, KeyError):
    """An object id the log does not have."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class ObjectCentricMap:
    """The OC-DFG: activities and the edges of every object type."""

    nodes: pl.DataFrame  # activity, events, objects, and per type: events_<type> is not kept
    edges: pl.DataFrame  # object_type, source, target, frequency, event_pairs, objects, waits
    types: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"nodes": self.nodes.to_dicts(), "edges": self.edges.to_dicts()}


def object_types(store: EventStore, log: str) -> list[str]:
    """The object types of an object-centric log, most objects first."""
    counts = store.summary(log).object_types
    return sorted(counts, key=lambda name: (-counts[name], name))


def _flattened(store: EventStore, log: str, object_type: str) -> pl.LazyFrame:
    """The view of one object type in case order (objects as cases)."""
    return projections.ordered(store.scan(str(LogName(log, object_type))))


def ocdfg(store: EventStore, log: str, types: list[str] | None = None) -> ObjectCentricMap:
    """The OC-DFG of the log, for all its object types or the ``types`` given."""
    known = object_types(store, log)
    chosen = known if not types else [t for t in types if t in known]
    parts = []
    for object_type in chosen:
        view = _flattened(store, log, object_type).collect().lazy()
        edges = projections.directly_follows(view, presorted=True).collect()
        pairs = (
            view.select(
                pl.col("activity").cast(pl.String).alias("source"),
                pl.col("activity").cast(pl.String).shift(-1).over("case_id").alias("target"),
                "event_id",
                pl.col("event_id").shift(-1).over("case_id").alias("next_id"),
            )
            .filter(pl.col("target").is_not_null())
            .group_by("source", "target")
            .agg(event_pairs=pl.struct("event_id", "next_id").n_unique().cast(pl.Int64))
            .collect()
        )
        parts.append(
            edges.select(
                pl.lit(object_type).alias("object_type"),
                pl.col("source").cast(pl.String),
                pl.col("target").cast(pl.String),
                pl.col("frequency").cast(pl.Int64),
                pl.col("cases").cast(pl.Int64).alias("objects"),
                "mean_duration",
                "median_duration",
                "p90_duration",
                "min_duration",
                "max_duration",
            ).join(pairs, on=["source", "target"], how="left")
        )
    edges = (
        pl.concat(parts)
        if parts
        else pl.DataFrame(
            schema={
                "object_type": pl.String,
                "source": pl.String,
                "target": pl.String,
                "frequency": pl.Int64,
                "objects": pl.Int64,
            }
        )
    )
    links = store.event_objects(log).join(store.objects(log), on="object_id")
    links = links.filter(pl.col("object_type").is_in(chosen))
    events = store.scan(log).select("event_id", pl.col("activity").cast(pl.String)).collect()
    nodes = (
        events.join(links.select("event_id", "object_id").unique(), on="event_id", how="left")
        .group_by("activity")
        .agg(events=pl.col("event_id").n_unique(), objects=pl.col("object_id").n_unique())
        .with_columns(pl.col("events", "objects").cast(pl.Int64))
        .sort(["events", "activity"], descending=[True, False])
    )
    return ObjectCentricMap(
        nodes,
        edges.sort(
            "object_type", "frequency", "source", "target", descending=[False, True, False, False]
        ),
        chosen,
    )


def to_dot(found: ObjectCentricMap, *, measure: str = "frequency") -> str:
    """The OC-DFG as Graphviz DOT: an edge per object type and pair of activities, in the
    type's colour, labelled with its frequency or median waiting time."""
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(found.types)}
    lines = [
        "digraph ocdfg {",
        '  graph [rankdir=TB, fontname="Helvetica", nodesep=0.35, ranksep=0.45];',
        '  node [shape=box, style="rounded,filled", fillcolor="#f4f6f9", fontname="Helvetica",'
        " fontsize=11];",
        '  edge [fontname="Helvetica", fontsize=9, arrowsize=0.7];',
    ]
    for activity, events, objects in found.nodes.iter_rows():
        label = f"{activity}\n{events:,} events, {objects:,} objects"
        lines.append(f"  {quote(activity)} [label={quote(label)}];")
    biggest = max(int(found.edges["frequency"].max() or 1), 1) if found.edges.height else 1  # type: ignore[arg-type]
    for row in found.edges.iter_rows(named=True):
        colour = colours[row["object_type"]]
        if measure == "frequency":
            shown = f"{row['frequency']:,}"
        else:
            wait = row["median_duration"]
            shown = human_duration(None if wait is None else wait.total_seconds())
        width = 0.8 + 3 * row["frequency"] / biggest
        lines.append(
            f"  {quote(row['source'])} -> {quote(row['target'])} [color={quote(colour)},"
            f" fontcolor={quote(colour)}, label={quote(' ' + shown)}, penwidth={width:.2f}];"
        )
    if found.types:
        legend = "".join(
            f'<TR><TD><FONT COLOR="{colours[t]}">&#9632;</FONT></TD><TD ALIGN="LEFT">'
            f"{_html(t)}</TD></TR>"
            for t in found.types
        )
        lines.append(
            f'  "__legend" [shape=plaintext, style="", label=<<TABLE BORDER="0">{legend}</TABLE>>];'
        )
    lines.append("}")
    return "\n".join(lines)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def convergence(store: EventStore, log: str) -> pl.DataFrame:
    """Per activity and object type: events, the share of them with several objects of the
    type (convergence: flattened, each becomes several events), objects, and the share of
    those objects that do the activity more than once (divergence)."""
    links = store.event_objects(log).join(store.objects(log), on="object_id")
    events = store.scan(log).select("event_id", pl.col("activity").cast(pl.String)).collect()
    linked = links.join(events, on="event_id")
    per_event = (
        linked.group_by("activity", "object_type", "event_id")
        .agg(objects=pl.col("object_id").n_unique())
        .group_by("activity", "object_type")
        .agg(
            events=pl.len().cast(pl.Int64),
            converging=(pl.col("objects") > 1).mean(),
            most_objects=pl.col("objects").max().cast(pl.Int64),
        )
    )
    per_object = (
        linked.group_by("activity", "object_type", "object_id")
        .agg(times=pl.col("event_id").n_unique())
        .group_by("activity", "object_type")
        .agg(objects=pl.len().cast(pl.Int64), diverging=(pl.col("times") > 1).mean())
    )
    return per_event.join(per_object, on=["activity", "object_type"]).sort(
        ["converging", "diverging", "activity", "object_type"],
        descending=[True, True, False, False],
    )


@dataclass(frozen=True)
class ObjectLifecycle:
    """One object of an object-centric log, as `lifecycle` finds it."""

    object_type: str
    events: pl.DataFrame  # timestamp, activity, event_id, resource: in order
    attributes: pl.DataFrame  # changed_at, name, value: its attribute values over time
    related: pl.DataFrame  # object_id, object_type, how (linked, shares events), qualifier


def lifecycle(store: EventStore, log: str, object_id: str) -> ObjectLifecycle:
    """One object: its events in order, its attribute values over time, and the objects it
    is linked to (directly, or through a shared event)."""
    known = store.objects(log).filter(pl.col("object_id") == object_id)
    if known.is_empty():
        raise UnknownObject(f"{log}: no object {object_id!r}")
    object_type = known["object_type"][0]
    events = (
        store.scan(str(LogName(log, object_type)), case_id=object_id)
        .select("timestamp", "activity", "event_id", "resource")
        .sort("timestamp", "event_id")
        .collect()
    )
    attributes = (
        store.object_attributes(log)
        .filter(pl.col("object_id") == object_id)
        .select("changed_at", "name", "value")
        .sort("changed_at", "name")
    )
    links = store.object_objects(log)
    direct = pl.concat(
        [
            links.filter(pl.col("source_id") == object_id).select(
                pl.col("target_id").alias("object_id"), "qualifier"
            ),
            links.filter(pl.col("target_id") == object_id).select(
                pl.col("source_id").alias("object_id"), "qualifier"
            ),
        ]
    ).with_columns(how=pl.lit("linked"))
    shared = store.event_objects(log)
    together = (
        shared.filter(pl.col("event_id").is_in(events["event_id"].to_list()))
        .filter(pl.col("object_id") != object_id)
        .group_by("object_id")
        .agg(qualifier=pl.lit(""), events=pl.col("event_id").n_unique())
        .select("object_id", pl.format("{} shared event(s)", "events").alias("qualifier"))
        .with_columns(how=pl.lit("shares events"))
    )
    related = (
        pl.concat([direct, together])
        .join(store.objects(log), on="object_id", how="left")
        .select("object_id", "object_type", "how", "qualifier")
        .sort("how", "object_type", "object_id")
    )
    return ObjectLifecycle(str(object_type), events, attributes, related)
