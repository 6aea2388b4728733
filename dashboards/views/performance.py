"""Performance: bottlenecks, waiting and service times, rework, resources, dotted chart,
throughput and work in progress."""

from __future__ import annotations

import shlex
from html import escape

import polars as pl
import streamlit as st

from dashboards import charts, state
from dashboards.layout import filtered_note, require_log, title, untimed_note, views
from workbench import projections
from workbench.application import Workbench

DOTS = 50_000  # the dotted chart's points: the events of the cases that started first

summary = require_log()
title("Performance", summary)
filtered_note()
if untimed_note(summary):
    st.stop()


def show_bottlenecks() -> None:
    """Paths and activities ranked by waiting time."""
    ranked = state.cached(projections.bottlenecks, summary.log)
    edges = ranked.filter(pl.col("kind") == "edge")
    left, right = st.columns(2)
    left.plotly_chart(
        charts.ranked_durations(edges, "name", "total_waiting", "Paths by total waiting time")
    )
    right.plotly_chart(
        charts.ranked_durations(edges, "name", "mean_waiting", "Paths by mean waiting time")
    )
    st.dataframe(charts.duration_table(ranked), hide_index=True)


def show_activities() -> None:
    """Service and waiting time per activity (`workbench activities`)."""
    calendar = state.calendar_name()
    table = state.ask(Workbench.activities, summary.log, calendar=calendar)
    day = state.workbench().calendar(calendar).day_seconds if calendar else None
    if calendar:
        st.caption(
            f"Service and waiting times in the working hours of the calendar {escape(calendar)}."
        )
    left, right = st.columns(2)
    left.plotly_chart(
        charts.ranked_durations(
            table,
            "activity",
            "mean_waiting",
            "Mean waiting time before the activity",
            working_day=day,
        )
    )
    if (table["mean_service"].drop_nulls().dt.total_microseconds() > 0).any():
        right.plotly_chart(
            charts.ranked_durations(
                table,
                "activity",
                "mean_service",
                "Mean service time (start to completion)",
                working_day=day,
            )
        )
    else:
        right.caption(
            "No start times: a start time column (a log of intervals) or start/complete "
            "lifecycle pairs give service times; without them every activity took no time."
        )
    st.dataframe(charts.duration_table(table, working_day=day), hide_index=True)
    st.caption(
        "Waiting: from the end of the case's previous activity to this start. "
        f"`workbench activities {shlex.quote(summary.log)} --json`"
        + (f" --calendar {shlex.quote(calendar)}" if calendar else "")
        + " gives these numbers."
    )


def show_rework() -> None:
    """Activities repeated within cases."""
    repeated = state.cached(projections.rework, summary.log)
    if repeated.height:
        st.plotly_chart(
            charts.ranked_counts(repeated, "activity", "cases", "Cases with the activity repeated")
        )
        st.dataframe(repeated, hide_index=True)
    else:
        st.caption("No activity is repeated within a case.")


def show_resources() -> None:
    """Workload per resource and the handover of work."""
    people = state.cached(projections.resources, summary.log)
    if people.height:
        left, right = st.columns(2)
        left.plotly_chart(charts.ranked_counts(people, "resource", "events", "Events per resource"))
        network = state.cached(projections.handover, summary.log)
        with right:
            st.markdown("**Handover of work** (the 40 most frequent)")
            st.graphviz_chart(charts.handover_dot(network), width="stretch")
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
    every = {"day": "1d", "week": "1w", "month": "1mo"}[period]
    flow = state.local(state.cached(projections.throughput, summary.log, every=every))
    open_cases = state.local(state.cached(projections.wip, summary.log, every=every))
    st.plotly_chart(charts.rates(flow, period))
    st.plotly_chart(charts.wip(open_cases, period))


views(
    {
        "Bottlenecks": show_bottlenecks,
        "Activities": show_activities,
        "Rework": show_rework,
        "Resources": show_resources,
        "Dotted chart": show_dotted_chart,
        "Throughput": show_throughput,
    }
)
