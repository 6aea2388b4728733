"""Performance: bottlenecks, waiting and service times, rework, resources, dotted chart,
throughput and work in progress, the performance spectrum."""

from __future__ import annotations

import shlex
from html import escape

import polars as pl
import streamlit as st

from dashboards import charts, state
from dashboards.layout import filtered_note, graph, require_log, title, untimed_note, views
from workbench import projections
from workbench.application import Cut, Workbench
from workbench.durations import human_working

DOTS = 50_000  # the dotted chart's points: the events of the cases that started first

summary = require_log()
title("Performance", summary)
filtered_note()
if untimed_note(summary):
    st.stop()


def show_bottlenecks() -> None:
    """Paths and activities ranked by waiting time."""
    calendar = state.calendar_name()
    ranked = state.ask(Workbench.bottlenecks, summary.log, calendar=calendar)
    day = state.workbench().working_day(calendar, summary.log)
    if calendar:
        words = state.workbench().calendar_words(summary.log, calendar)
        st.caption(f"Waiting times in the working hours of the {escape(words)}.")
    edges = ranked.filter(pl.col("kind") == "edge")
    left, right = st.columns(2)
    left.vega_lite_chart(
        spec=charts.ranked_durations(
            edges, "name", "total_waiting", "Paths by total waiting time", working_day=day
        ),
        width="stretch",
    )
    right.vega_lite_chart(
        spec=charts.ranked_durations(
            edges, "name", "mean_waiting", "Paths by mean waiting time", working_day=day
        ),
        width="stretch",
    )
    st.dataframe(charts.duration_table(ranked, working_day=day), hide_index=True)


def show_activities() -> None:
    """Service and waiting time per activity (`workbench activities`)."""
    calendar = state.calendar_name()
    table = state.ask(Workbench.activities, summary.log, calendar=calendar)
    day = state.workbench().working_day(calendar, summary.log)
    if calendar:
        st.caption(
            "Service and waiting times in the working hours of the"
            f" {escape(state.workbench().calendar_words(summary.log, calendar))}."
        )
    left, right = st.columns(2)
    left.vega_lite_chart(
        spec=charts.ranked_durations(
            table,
            "activity",
            "mean_waiting",
            "Mean waiting time before the activity",
            working_day=day,
        ),
        width="stretch",
    )
    if (table["mean_service"].drop_nulls().dt.total_microseconds() > 0).any():
        right.vega_lite_chart(
            spec=charts.ranked_durations(
                table,
                "activity",
                "mean_service",
                "Mean service time (start to completion)",
                working_day=day,
            ),
            width="stretch",
        )
    else:
        right.caption(
            "No start times: a start time column (a log of intervals) or start/complete "
            "lifecycle pairs give service times; without them every activity took no time."
        )
    st.dataframe(charts.duration_table(table, working_day=day), hide_index=True)
    command = f"workbench activities {shlex.quote(summary.log)} --json" + (
        f" --calendar {shlex.quote(calendar)}" if calendar else ""
    )
    st.caption(
        "Waiting: from the end of the case's previous activity to this start. "
        f"`{command}` gives these numbers."
    )


def show_rework() -> None:
    """Activities repeated within cases."""
    repeated = state.cached(projections.rework, summary.log)
    if repeated.height:
        st.vega_lite_chart(
            spec=charts.ranked_counts(
                repeated, "activity", "cases", "Cases with the activity repeated"
            ),
            width="stretch",
        )
        st.dataframe(repeated, hide_index=True)
    else:
        st.caption("No activity is repeated within a case.")


def show_resources() -> None:
    """Workload per resource and the handover of work."""
    people = state.cached(projections.resources, summary.log)
    if people.height:
        left, right = st.columns(2)
        left.vega_lite_chart(
            spec=charts.ranked_counts(people, "resource", "events", "Events per resource"),
            width="stretch",
        )
        network = state.cached(projections.handover, summary.log)
        with right:
            st.markdown("**Handover of work** (the 40 most frequent)")
            graph(charts.handover_dot(network), alt="handover of work")
        st.dataframe(people, hide_index=True)
    else:
        st.caption("This log has no resources.")


def show_dotted_chart() -> None:
    """One dot per event, cases by start."""
    relative = st.toggle("Time since case start", value=False)
    points = state.cached(projections.dotted_chart, summary.log, limit=DOTS)
    counted = state.ask(Workbench.summary, summary.log).events
    st.plotly_chart(charts.dotted_chart(state.local(points), relative=relative, total=counted))


def show_throughput() -> None:
    """Cases started and completed, and work in progress."""
    period = (
        st.segmented_control("Per", ["day", "week", "month"], default="week", key="per") or "week"
    )
    every = charts.PERIODS[period]
    flow = state.local(state.cached(projections.throughput, summary.log, every=every))
    open_cases = state.local(state.cached(projections.wip, summary.log, every=every))
    st.vega_lite_chart(spec=charts.rates(flow, period), width="stretch")
    st.vega_lite_chart(spec=charts.wip(open_cases, period), width="stretch")


SPECTRUM_LINES = 2_000  # drawn per segment; the bars count every passage


def show_spectrum() -> None:
    """The performance spectrum of a few segments (`workbench spectrum`)."""
    edges = state.ask(Workbench.dfg, summary.log).edges
    names = [f"{a} → {b}" for a, b in zip(edges["source"], edges["target"], strict=True)]
    pairs = dict(zip(names, zip(edges["source"], edges["target"], strict=True), strict=True))
    top, middle, right = st.columns([3, 1, 1])
    chosen = top.multiselect("Segments (A directly followed by B)", names, default=names[:3])
    attributes = [name for name in state.store().schema(summary.log) if name not in NOT_COLOURS]
    colour = middle.selectbox("Colour by", ["duration quartile", *attributes])
    knowledge = state.knowledge(summary.log)
    known_label = right.selectbox("Ghosts: as known", list(knowledge), key="spectrum-known")
    every = st.segmented_control(
        "Bins", ["auto", "1d", "1w", "1mo"], default="auto", key="spectrum-every"
    )
    if not chosen:
        st.caption("Choose a segment.")
        return
    calendar = state.calendar_name()
    found = state.ask(
        Workbench.spectrum,
        summary.log,
        tuple(pairs[name] for name in chosen),
        Cut(known_at=knowledge[known_label]),
        every=None if every in (None, "auto") else every,
        calendar=calendar,
        color=None if colour == "duration quartile" else colour,
    )
    if calendar:
        words = state.workbench().calendar_words(summary.log, calendar)
        st.caption(f"Durations in the working hours of the {escape(words)}.")
    day = state.workbench().working_day(calendar, summary.log)
    for part in found.segments:
        lines = part.lines
        step = -(-lines.height // SPECTRUM_LINES) if lines.height else 1
        shown = lines.gather_every(step) if step > 1 else lines
        left, right_side = st.columns(2)
        left.plotly_chart(
            charts.spectrum_lines(shown, part.source, part.target, by_value=found.color is not None)
        )
        right_side.plotly_chart(charts.spectrum_bins(part.bins, found.every, ghosts=found.ghosts))
        cuts = ", ".join(human_working(cut, day) for cut in part.quartiles if cut is not None)
        st.caption(
            f"{lines.height:,} passages"
            + (f" (1 in {step:,} drawn; the bars count them all)" if step > 1 else "")
            + (f"; the quartiles part at {cuts}" if cuts else "")
            + (f"; {int(lines['ghost'].sum()):,} not yet known then" if found.ghosts else "")
            + "."
        )
    segments = " ".join(
        f"--segment {shlex.quote(a)} {shlex.quote(b)}" for a, b in (pairs[n] for n in chosen)
    )
    st.caption(f"`workbench spectrum {shlex.quote(summary.log)} {segments} --json` gives these.")


NOT_COLOURS = {"position", "event_id", "log", "case_id", "revision", "activity", "timestamp"}
NOT_COLOURS |= {"recorded_at", "correlation_id", "causation_id", "start_timestamp"}


views(
    {
        "Bottlenecks": show_bottlenecks,
        "Activities": show_activities,
        "Rework": show_rework,
        "Resources": show_resources,
        "Dotted chart": show_dotted_chart,
        "Throughput": show_throughput,
        "Spectrum": show_spectrum,
    }
)
