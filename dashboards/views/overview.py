"""Overview: KPIs, events over time, case durations, arrival and completion rates."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import charts, state
from dashboards.causes import why
from dashboards.layout import filtered_note, require_log, title, untimed_note
from dashboards.markdown import escape
from workbench import projections
from workbench.application import Workbench
from workbench.durations import human, human_working

summary = require_log()
title("Overview", summary)
filtered_note()
found = state.ask(Workbench.summary, summary.log, calendar=state.calendar_name())
if found.cases == 0:
    st.warning("No cases pass the filters.")
    st.stop()
columns = st.columns(6)
columns[0].metric("Cases", f"{found.cases:,}")
columns[1].metric("Events", f"{found.events:,}")
columns[2].metric("Activities", f"{found.activities:,}")
columns[3].metric("Variants", f"{found.variants:,}")
if untimed_note(summary):  # counts only: no durations, no dates
    st.stop()
if found.calendar:  # working days of the calendar's working day, not of 24 hours
    day = state.workbench().working_day(found.calendar, summary.log)
    words = state.workbench().calendar_words(summary.log, found.calendar)
    note = f"Working time of the {words}"
    columns[4].metric("Median case duration", human_working(found.median, day), help=note)
    columns[5].metric("P90 case duration", human_working(found.p90, day), help=note)
    st.caption(
        f"Case durations in the working hours of the {escape(words)};"
        " the histogram below shows elapsed time."
    )
else:
    columns[4].metric("Median case duration", human(found.median))
    columns[5].metric("P90 case duration", human(found.p90))
if found.first is not None and found.last is not None:
    st.caption(f"From {state.shown(found.first)} to {state.shown(found.last)}")
pending = state.ask(Workbench.provisional, summary.log).filter(pl.col("provisional"))
if pending.height:
    st.warning(
        "Provisional: "
        + "; ".join(
            f"{row['period']:%B %Y} (about {row['still_to_arrive']:.0%} of its events usually"
            " arrive later)"
            for row in pending.iter_rows(named=True)
        )
        + ". By the log's history of late events, its figures will still change.",
        icon=":material/hourglass_top:",
    )
period = st.segmented_control("Per", ["day", "week", "month"], default="week") or "week"
every = charts.PERIODS[period]
flow = state.local(state.cached(projections.throughput, summary.log, every=every))
left, right = st.columns(2)
left.vega_lite_chart(spec=charts.events_over_time(flow, period), width="stretch")
right.vega_lite_chart(spec=charts.duration_histogram(found.histogram), width="stretch")
st.vega_lite_chart(spec=charts.rates(flow, period), width="stretch")
why(summary.log, "slow", key="slow")
