"""Cases: a searchable case table; one case's timeline, attributes and causes and effects."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import streamlit as st

from dashboards import charts, predicting, state
from dashboards.layout import filtered_note, graph, require_log, title
from dashboards.markdown import escape
from workbench import causality, projections
from workbench.application import Cut, Workbench
from workbench.durations import human_duration

summary = require_log()
title("Cases", summary)
filtered_note()
table = state.cached(projections.case_list, summary.log)  # 2 before 10, as people count
search = st.text_input("Search case ids", placeholder="part of a case id")
found = table.filter(pl.col("case_id").str.contains(search, literal=True)) if search else table
ahead = predicting.open_cases(summary.log, Cut(), None) if predicting.toggle("predict") else None
if ahead is not None:  # the open cases first, the longest remaining at the top
    remaining = found.join(ahead.select("case_id", "remaining_seconds"), on="case_id", how="left")
    found = remaining.sort(
        "remaining_seconds", descending=True, nulls_last=True, maintain_order=True
    )
    found = found.drop("remaining_seconds")
st.caption(f"{found.height:,} of {table.height:,} cases")
shown = charts.duration_table(
    state.local(found.head(2_000)).with_columns(pl.col("variant").list.join(" → "))
)
if ahead is not None:
    shown = predicting.beside(found.head(2_000), shown, ahead)
picked = st.dataframe(
    shown, hide_index=True, on_select="rerun", selection_mode="single-row", key="cases"
)
rows = picked.selection.rows if picked is not None else []
if not found.height:
    st.stop()
case_id = found["case_id"][rows[0]] if rows else found["case_id"][0]
# A case id often names itself ("Case 12"): no second "Case" before it.
heading = case_id if case_id.lower().startswith("case") else f"Case {case_id}"
st.subheader(escape(heading))
calendar = state.calendar_name()
line = state.ask(Workbench.timeline, summary.log, case_id, calendar=calendar)
if calendar:
    st.caption(
        "Waiting, service and elapsed times in the working hours of the"
        f" {escape(state.workbench().calendar_words(summary.log, calendar))}."
    )
left, right = st.columns([3, 2])
day = state.workbench().working_day(calendar, summary.log)
left.vega_lite_chart(spec=charts.timeline(line, working_day=day), width="stretch")
attributes = table.filter(pl.col("case_id") == case_id).drop("variant").row(0, named=True)
right.dataframe(
    pl.DataFrame(
        {
            "attribute": list(attributes),
            "value": [
                human_duration(v.total_seconds()) if isinstance(v, timedelta) else str(v)
                for v in attributes.values()
            ],
        }
    ),
    hide_index=True,
)
st.dataframe(charts.duration_table(state.local(line), working_day=day), hide_index=True)
if "causation_id" in line.columns and line["causation_id"].null_count() < line.height:
    st.subheader("Cause and effect")
    chosen = st.selectbox(
        "Event",
        line["event_id"].to_list(),
        index=line.height - 1,
        format_func=lambda e: f"{line.filter(pl.col('event_id') == e)['activity'][0]} ({e})",
    )
    chain = state.cached(causality.trace, summary.log, event_id=chosen)
    st.caption(
        f"{chain.causes.height} cause(s) back to the root; {chain.effects.height} effect(s),"
        f" in {chain.effects['case_id'].n_unique() if chain.effects.height else 0} case(s)"
    )
    graph(chain.to_dot(), alt="causes and effects")
else:
    st.caption("This log has no causation ids: the case's events are linked in time order.")
