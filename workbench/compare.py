"""Two groups of cases side by side: A and B, as two periods, two attribute values or any
two filter sets of one log.

`compare` gives the KPIs of each, one directly-follows graph with both frequencies and
waiting times per edge and the change from A to B, the variants found in only one of them,
and the activities whose waiting times changed most, each with its case counts so that a
change seen in a handful of cases is not oversold. `to_dot` draws the map coloured by the
difference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import polars as pl

from workbench import projections
from workbench.dot import quote
from workbench.durations import human_duration
from workbench.summary import Summary, summarize

if TYPE_CHECKING:
    from workbench.calendars import Hours

#: Changes seen in fewer cases than this (on either side) are listed, but ranked last.
MIN_CASES = 5


@dataclass(frozen=True)
class Comparison:
    """What `compare` found."""

    a: dict[str, Any]  # KPIs: cases, events, variants, median/p90 duration (s), rework share
    b: dict[str, Any]
    edges: pl.DataFrame  # source, target, a_/b_frequency, a_/b_cases, a_/b_median_wait_s, changes
    only_in_a: pl.DataFrame  # variant, cases
    only_in_b: pl.DataFrame
    activities: pl.DataFrame  # activity, a_/b_cases, a_/b_median_wait_s, change_s, change_pct
    notes: tuple[str, ...] = ()  # what a reader should know: a group without cases, and why
    calendar: str | None = None  # the durations are this calendar's working time

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form: ``a``, ``b``, ``edges``, ``only_in_a``, ``only_in_b``,
        ``activities``, ``notes``, ``calendar``."""
        return {
            "notes": list(self.notes),
            "calendar": self.calendar,
            "a": self.a,
            "b": self.b,
            "edges": self.edges.to_dicts(),
            "only_in_a": self.only_in_a.to_dicts(),
            "only_in_b": self.only_in_b.to_dicts(),
            "activities": self.activities.to_dicts(),
        }


def _seconds(value: pl.Expr) -> pl.Expr:
    return value.dt.total_microseconds().cast(pl.Float64) / 1e6


def kpis(found: Summary) -> dict[str, Any]:
    """A group's KPIs, from its `Summary` (the figures `workbench stats` and the Overview
    show for the same cases): durations in seconds."""

    def seconds(value: timedelta | None) -> float | None:
        return None if value is None else value.total_seconds()

    return {
        "cases": found.cases,
        "events": found.events,
        "variants": found.variants,
        "median_duration_s": seconds(found.median),
        "p90_duration_s": seconds(found.p90),
        "rework_share": found.rework_share,
    }


def _summary(events: pl.LazyFrame, cases: pl.DataFrame, calendar: Hours | None) -> Summary:
    """The summary of one group (its events in case order, and their case table)."""
    return summarize(
        cases,
        projections.variants(events, presorted=True).collect(),
        activities=events.select(pl.col("activity").n_unique()).collect().item(),
        calendar=calendar,
    )


def _change(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    """B against A in percent (null where A is zero or either is missing)."""
    return pl.when(a != 0).then((b - a) / a * 100)


def compare(a: pl.LazyFrame, b: pl.LazyFrame, *, calendar: Hours | None = None) -> Comparison:
    """Group A against group B (each the events of its cases); durations and waiting times
    in the ``calendar``'s working time when there is one."""
    ordered_a = projections.ordered(a).collect().lazy()
    ordered_b = projections.ordered(b).collect().lazy()
    cases_a = projections.cases(ordered_a, presorted=True).collect()
    cases_b = projections.cases(ordered_b, presorted=True).collect()

    def edges_of(events: pl.LazyFrame, side: str) -> pl.DataFrame:
        return (
            projections.directly_follows(events, presorted=True, calendar=calendar)
            .select(
                pl.col("source").cast(pl.String),
                pl.col("target").cast(pl.String),
                pl.col("frequency").cast(pl.Int64).alias(f"{side}_frequency"),
                pl.col("cases").cast(pl.Int64).alias(f"{side}_cases"),
                _seconds(pl.col("median_duration")).alias(f"{side}_median_wait_s"),
            )
            .collect()
        )

    edges = (
        edges_of(ordered_a, "a")
        .join(edges_of(ordered_b, "b"), on=["source", "target"], how="full", coalesce=True)
        .with_columns(pl.col("^[ab]_(frequency|cases)$").fill_null(0))
        .with_columns(
            frequency_change_pct=_change(pl.col("a_frequency"), pl.col("b_frequency")),
            wait_change_pct=_change(pl.col("a_median_wait_s"), pl.col("b_median_wait_s")),
            # The share of each group's cases that take the edge: comparable across groups
            # of different sizes.
            a_share=pl.col("a_cases") / max(cases_a.height, 1),
            b_share=pl.col("b_cases") / max(cases_b.height, 1),
        )
        .sort(
            pl.max_horizontal("a_frequency", "b_frequency"),
            "source",
            "target",
            descending=[True, False, False],
        )
    )

    def variants_of(cases: pl.DataFrame) -> pl.DataFrame:
        return (
            cases.group_by(pl.col("variant").cast(pl.List(pl.String)))
            .agg(cases=pl.len())
            .with_columns(pl.col("cases").cast(pl.Int64))
        )

    variants_a, variants_b = variants_of(cases_a), variants_of(cases_b)

    def only(left: pl.DataFrame, right: pl.DataFrame) -> pl.DataFrame:
        return (
            left.join(right.select("variant"), on="variant", how="anti")
            .with_columns(key=pl.col("variant").list.join("\u0000"))
            .sort(["cases", "key"], descending=[True, False])
            .drop("key")
        )

    return Comparison(
        kpis(_summary(ordered_a, cases_a, calendar)),
        kpis(_summary(ordered_b, cases_b, calendar)),
        edges,
        only(variants_a, variants_b),
        only(variants_b, variants_a),
        _waits(ordered_a, ordered_b, calendar),
        calendar=None if calendar is None else calendar.name,
    )


def _waits(a: pl.LazyFrame, b: pl.LazyFrame, calendar: Hours | None) -> pl.DataFrame:
    """Per activity, the median time from the case's previous event (the steps into it), in
    A and in B, ranked by the size of the change among activities seen in `MIN_CASES` cases
    on both sides."""

    def of(events: pl.LazyFrame, side: str) -> pl.LazyFrame:
        return (
            projections.edge_steps(events, presorted=True, calendar=calendar)
            .select(
                pl.col("target").cast(pl.String).alias("activity"),
                "case_id",
                wait=_seconds(pl.col("duration")),
            )
            .group_by("activity")
            .agg(
                pl.col("case_id").n_unique().cast(pl.Int64).alias(f"{side}_cases"),
                pl.col("wait").median().alias(f"{side}_median_wait_s"),
            )
        )

    return (
        of(a, "a")
        .join(of(b, "b"), on="activity", how="full", coalesce=True)
        .with_columns(pl.col("a_cases", "b_cases").fill_null(0))
        .with_columns(
            change_s=pl.col("b_median_wait_s") - pl.col("a_median_wait_s"),
            change_pct=_change(pl.col("a_median_wait_s"), pl.col("b_median_wait_s")),
            enough=(pl.min_horizontal("a_cases", "b_cases") >= MIN_CASES),
        )
        .sort(
            [pl.col("enough"), pl.col("change_s").abs(), pl.col("activity")],
            descending=[True, True, False],
            nulls_last=True,
        )
        .drop("enough")
        .collect()
    )


def to_dot(comparison: Comparison, *, top: int = 60) -> str:
    """The map of A and B as Graphviz DOT: each edge labelled with its frequency in A and in
    B and the change, and the share of each group's cases that take it; blue where a larger
    share of B's cases take it, orange where a smaller share does (so groups of different
    sizes compare), dashed when only A has it, bold when only B does; width by the larger
    frequency (the `top` strongest)."""
    edges = comparison.edges.head(top)
    lines = [
        "digraph compare {",
        '  graph [rankdir=TB, fontname="Helvetica", nodesep=0.35, ranksep=0.45];',
        '  node [shape=box, style="rounded,filled", fillcolor="#f4f6f9", fontname="Helvetica",'
        " fontsize=11];",
        '  edge [fontname="Helvetica", fontsize=9, arrowsize=0.7];',
    ]
    nodes = sorted(set(edges["source"].to_list()) | set(edges["target"].to_list()))
    for node in nodes:
        lines.append(f"  {quote(node)};")
    biggest = (
        max(int(edges.select(pl.max_horizontal("a_frequency", "b_frequency")).max().item() or 1), 1)
        if edges.height
        else 1
    )
    for row in edges.iter_rows(named=True):
        a, b = row["a_frequency"], row["b_frequency"]
        if a == 0:
            style, colour = "bold", "#1f4e8c"
        elif b == 0:
            style, colour = "dashed", "#c05a1e"
        else:
            style = "solid"
            points = (row["b_share"] - row["a_share"]) * 100
            colour = "#1f4e8c" if points >= 1 else "#c05a1e" if points <= -1 else "#7f8c9b"
        change = row["frequency_change_pct"]
        label = f"{a:,} → {b:,}" + (
            "" if change is None or math.isnan(change) else f" ({change:+.0f}%)"
        )
        label += f"\ncases {row['a_share']:.0%} → {row['b_share']:.0%}"
        wait_a, wait_b = row["a_median_wait_s"], row["b_median_wait_s"]
        if wait_a is not None and wait_b is not None:
            label += f"\nwait {human_duration(wait_a)} → {human_duration(wait_b)}"
        width = 0.8 + 4 * max(a, b) / biggest
        lines.append(
            f"  {quote(row['source'])} -> {quote(row['target'])} [label={quote(' ' + label)},"
            f' color="{colour}", fontcolor="{colour}", style={style}, penwidth={width:.2f}];'
        )
    lines.append("}")
    return "\n".join(lines)
