"""The logs in the store, with their size and time range."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import sidebar, state
from dashboards.markdown import escape

sidebar.render()
st.title("Event logs")
store = state.store()
summaries = state.logs()

if not summaries:
    st.markdown(
        "**Workbench** imports event logs into an append-only event store and derives every "
        "view from them: process maps, variants, performance, and the state of every case at "
        "any moment, as it happened and as it was known then.\n\n"
        "This store has no logs yet. Import one with `workbench ingest FILE`, "
        "or load the demo order-to-cash log."
    )
    if st.button("Load the demo log", type="primary"):
        from sample_data.demo import load_demo

        state.workbench().authorize("analyst", "loading the demo log")
        with st.spinner("Importing the demo log..."):
            load_demo(store)
        st.rerun()
else:
    kinds = {"case": "case log", "object": "object-centric", "view": "view of one object type"}
    table = pl.DataFrame(
        {
            "log": [s.log for s in summaries],
            "kind": [kinds[s.kind] for s in summaries],
            "cases": [s.cases for s in summaries],
            "events": [s.events for s in summaries],
            "first event (UTC)": [s.first_timestamp if s.timed else None for s in summaries],
            "last event (UTC)": [s.last_timestamp if s.timed else None for s in summaries],
            "note": [
                s.warning or ("" if s.timed else "no times: in the order of its file")
                for s in summaries
            ],
        }
    )
    total_events = sum(s.events for s in summaries if s.kind != "view")
    left, right = st.columns(2)
    left.metric("Logs", sum(s.kind != "view" for s in summaries))
    right.metric("Events", f"{total_events:,}")
    for summary in summaries:
        if summary.warning and summary.kind != "view":
            st.warning(
                f"{escape(summary.log)}: {escape(summary.warning)}", icon=":material/warning:"
            )
    st.dataframe(table, hide_index=True, width="stretch")
    st.caption(f"Store: {state.store_name()}. Import more with `workbench ingest FILE`.")
