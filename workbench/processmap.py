"""Process maps: the directly-follows graph abstracted to a readable size, and drawn as DOT.

Two detail levels work as a process-map tool's sliders do: ``activities`` keeps the most
frequent activities covering that share of the events (the others' events are removed, so
their neighbours connect directly); ``paths`` keeps the most frequent edges covering that
share of the transitions, and always each kept activity's strongest way in and out, so the
map stays connected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

import polars as pl

from workbench.dot import quote
from workbench.durations import human_working
from workbench.filters import ActivityCoverage
from workbench.projections import (
    ORDER,
    START,
    case_ends,
    directly_follows,
    distinct_cases,
    ends_of,
    on_codes,
    untimed,
)

if TYPE_CHECKING:
    from workbench.calendars import Hours

Measure = Literal["frequency", "mean", "median", "p90", "total"]
MEASURES: tuple[Measure, ...] = ("frequency", "mean", "median", "p90", "total")
_COLUMNS = ("case_id", "activity", "timestamp", "position", START)  # what a map is made of


@dataclass(frozen=True)
class ProcessMap:
    """The nodes, edges, start and end activities of a (possibly abstracted) map."""

    nodes: pl.DataFrame  # activity, frequency, cases
    edges: pl.DataFrame  # as `directly_follows`
    starts: pl.DataFrame  # activity, cases
    ends: pl.DataFrame  # activity, cases
    calendar: str | None = None  # the edges' times are this calendar's working time
    working_day: float | None = None  # and its working day has these seconds


@on_codes
def process_map(
    events: pl.LazyFrame,
    *,
    activities: float = 100,
    paths: float = 100,
    presorted: bool = False,
    calendar: Hours | None = None,
    times: bool = True,
) -> ProcessMap:
    """The map of a log at the given detail levels (percent, 0 to 100), its times in the
    ``calendar``'s working time when there is one (without ``times``, frequencies only:
    the times are null). With ``presorted`` the events are in case order already (see
    `workbench.projections.ordered`)."""
    if activities < 100:
        events = ActivityCoverage(activities).apply(events)
    # The columns the map needs, read once for its four parts (each would otherwise run a
    # filter or a cut of the log again: 0.45 s on ten million events under a time filter).
    schema = events.collect_schema()
    narrow = events.select(name for name in _COLUMNS if name in schema)
    events = (narrow if presorted else narrow.sort(*ORDER)).collect().lazy()
    nodes = (
        events.group_by("activity")
        .agg(frequency=pl.len(), cases=distinct_cases(in_case_order=True))
        .sort(["frequency", "activity"], descending=[True, False])
        .collect()
    )
    return assemble(
        nodes,
        directly_follows(events, presorted=True, calendar=calendar, times=times).collect(),
        *pl.collect_all(
            [ends_of(case_ends(events, presorted=True), first=first) for first in (True, False)]
        ),
        paths=paths,
        calendar=calendar,
    )


def map_of_cases(rows: pl.LazyFrame, *, paths: float = 100) -> ProcessMap:
    """`process_map` without times, at full activity detail, from `case_rows` (of any set
    of cases of a log without intervals): the cases are counted per variant, and each
    variant's activities and steps once. Time travel draws its map at every moment from
    the rows of the cases by then, not from their events."""
    codes = pl.col("variant").list.eval(pl.element().to_physical())
    per_variant = (
        rows.group_by(codes.alias("codes"))
        .agg(pl.col("variant").first(), n=pl.len())
        .with_row_index("id")
        .select("id", "n", "variant")
        .collect()
    )
    n = pl.col("n")

    def counted(frame: pl.DataFrame, *keys: str) -> pl.LazyFrame:
        """Per key: ``frequency`` (each variant's occurrences times its cases) and ``cases``
        (its cases, once per variant that has it)."""
        per = frame.lazy().group_by("id", *keys).agg(n.first(), times=pl.len())
        return per.group_by(*keys).agg(
            frequency=(n * pl.col("times")).sum().cast(pl.UInt32), cases=n.sum().cast(pl.UInt32)
        )

    visits = per_variant.explode("variant").rename({"variant": "activity"})
    pairs = per_variant.select(
        "id",
        "n",
        pl.col("variant").list.head(pl.col("variant").list.len() - 1).alias("source"),
        pl.col("variant").list.tail(pl.col("variant").list.len() - 1).alias("target"),
    ).explode("source", "target")
    pairs = pairs.filter(pl.col("target").is_not_null())
    edges = untimed(counted(pairs, "source", "target"), pl.Duration("us")).sort(
        ["frequency", "source", "target"], descending=[True, False, False]
    )
    nodes = counted(visits, "activity").sort(["frequency", "activity"], descending=[True, False])

    def ends(first: bool) -> pl.LazyFrame:
        end = pl.col("variant").list.first() if first else pl.col("variant").list.last()
        per = per_variant.lazy().group_by(end.alias("activity")).agg(cases=n.sum())
        return per.with_columns(pl.col("cases").cast(pl.UInt32)).sort(
            ["cases", "activity"], descending=[True, False]
        )

    return assemble(*pl.collect_all([nodes, edges, ends(True), ends(False)]), paths=paths)


def assemble(
    nodes: pl.DataFrame,
    edges: pl.DataFrame,
    starts: pl.DataFrame,
    ends: pl.DataFrame,
    *,
    paths: float = 100,
    calendar: Hours | None = None,
) -> ProcessMap:
    """A map from its computed parts (by any engine), keeping the strongest ``paths`` %;
    ``calendar`` is the one the edges' times are working time of, if any."""
    if paths < 100 and edges.height:
        edges = _strongest_paths(edges, paths)
    if calendar is None:
        return ProcessMap(nodes=nodes, edges=edges, starts=starts, ends=ends)
    return ProcessMap(nodes, edges, starts, ends, calendar.name, calendar.day_seconds)


def _strongest_paths(edges: pl.DataFrame, percent: float) -> pl.DataFrame:
    ranked = edges.sort("frequency", descending=True).with_columns(
        before=pl.col("frequency").cum_sum() - pl.col("frequency"),
        rank_out=pl.col("frequency").rank("ordinal", descending=True).over("source"),
        rank_in=pl.col("frequency").rank("ordinal", descending=True).over("target"),
    )
    total = _number(ranked["frequency"].sum())
    keep = (
        (pl.col("before") < total * percent / 100)
        | (pl.col("rank_out") == 1)
        | (pl.col("rank_in") == 1)
    )
    return ranked.filter(keep).drop("before", "rank_out", "rank_in")


def edge_value(edges: pl.DataFrame, measure: Measure) -> pl.Series:
    """The value an edge shows: its frequency, or its waiting time in seconds."""
    if measure == "frequency":
        return edges["frequency"].cast(pl.Float64)
    column = {
        "mean": "mean_duration",
        "median": "median_duration",
        "p90": "p90_duration",
        "total": "total_duration",
    }[measure]
    return edges[column].dt.total_microseconds().cast(pl.Float64) / 1e6


def edge_label(frequency: int, value: float, measure: Measure, working_day: float | None) -> str:
    """How an edge's value reads: its frequency, or its time (in working days of
    ``working_day`` seconds, when the map's times are working time)."""
    if measure == "frequency":
        return f"{frequency:,}"
    return human_working(timedelta(seconds=value), working_day)


def _number(value: object) -> float:
    """A Polars scalar as a float (0 for null or anything not numeric)."""
    return float(value) if isinstance(value, int | float) else 0.0


def _blue(share: float) -> tuple[str, str]:
    """Fill and font colour for a share of the maximum (0..1), light to dark blue."""
    light, dark = (0xEE, 0xF4, 0xFB), (0x1F, 0x4E, 0x8C)
    mixed = tuple(round(a + (b - a) * share) for a, b in zip(light, dark, strict=True))
    return "#{:02x}{:02x}{:02x}".format(*mixed), "#ffffff" if share > 0.55 else "#1a1a1a"


START_NODE = (
    '  "__start" [shape=circle, label="", width=0.25, style=filled, fillcolor="#2e9d5b",'
    ' color="#2e9d5b"];'
)
END_NODE = (
    '  "__end" [shape=doublecircle, label="", width=0.2, style=filled, fillcolor="#c0392b",'
    ' color="#c0392b"];'
)


def endpoint_edges(starts: pl.DataFrame, ends: pl.DataFrame) -> list[str]:
    """DOT lines: a dashed edge from the start node to each activity cases start with, and
    from each activity cases end with to the end node, labelled with the cases
    (``starts`` and ``ends`` as `projections.start_activities` gives them)."""
    lines = [
        f'  "__start" -> {quote(activity)} [label={quote(f" {count:,}")}, style=dashed];'
        for activity, count in starts.iter_rows()
    ]
    lines += [
        f'  {quote(activity)} -> "__end" [label={quote(f" {count:,}")}, style=dashed];'
        for activity, count in ends.iter_rows()
    ]
    return lines


def to_dot(pmap: ProcessMap, *, measure: Measure = "frequency", title: str = "") -> str:
    """The map as Graphviz DOT: node colour by frequency, edge width and label by measure."""
    lines = [
        "digraph process {",
        '  graph [rankdir=TB, fontname="Helvetica", nodesep=0.35, ranksep=0.45'
        + (f", label={quote(title)}, labelloc=t" if title else "")
        + "];",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9, color="#5b6b7f", arrowsize=0.7];',
        START_NODE,
        END_NODE,
    ]
    # Colour on a log scale from the rarest to the most frequent activity.
    low = math.log(max(_number(pmap.nodes["frequency"].min()), 1.0))
    high = math.log(max(_number(pmap.nodes["frequency"].max()), 1.0))
    for activity, frequency, _ in pmap.nodes.iter_rows():
        share = (math.log(max(frequency, 1)) - low) / (high - low) if high > low else 1.0
        fill, font = _blue(share)
        label = f"{activity}\n{frequency:,}"
        lines.append(
            f'  {quote(activity)} [label={quote(label)}, fillcolor="{fill}", fontcolor="{font}"];'
        )
    values = edge_value(pmap.edges, measure)
    biggest = max(_number(values.max()), 1e-9)
    for row, value in zip(pmap.edges.iter_rows(named=True), values, strict=True):
        label = edge_label(row["frequency"], value, measure, pmap.working_day)
        width = 0.8 + 5 * _number(value) / biggest
        lines.append(
            f"  {quote(row['source'])} -> {quote(row['target'])}"
            f" [label={quote(' ' + label)}, penwidth={width:.2f}];"
        )
    lines.extend(endpoint_edges(pmap.starts, pmap.ends))
    lines.append("}")
    return "\n".join(lines)
