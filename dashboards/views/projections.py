"""Projections: the checkpointed projections of the log, built in and your own, as tables."""

from __future__ import annotations

import streamlit as st

from dashboards import state
from dashboards.layout import require_log, title, whole_log_note
from workbench import checkpoints
from workbench.application import Workbench

summary = require_log()
title("Projections", summary)
whole_log_note(
    "projections are kept over the whole log, as the store holds it, and brought up to date"
    " as events arrive."
)
store = state.store()
listed = checkpoints.checkpoints(store, summary.log)
st.dataframe(
    [
        {
            "projection": c.name,
            "description": c.description,
            "position": c.position,
            "lag (events)": c.lag,
            "catch-up": "by case" if c.incremental else "full",
            "defined": c.origin,
        }
        for c in listed
    ],
    hide_index=True,
)
st.caption(
    'Add your own with `workbench projections add NAME "SELECT ... FROM events"`, or a '
    "Python function registered with `@workbench.checkpoints.projection` in a module named by "
    "WORKBENCH_PROJECTIONS. Each is checkpointed in the store and shown here."
)
st.subheader("Read model")
if store.resolve(summary.log).is_view:
    st.caption("A view of an object-centric log: its pages read the log's own segments.")
else:
    status = state.read_model().status(summary.log)
    if status.folder is None:
        st.caption(
            "This store has no folder for segments: every page reads the store itself (set"
            " WORKBENCH_SEGMENTS to a folder to keep columnar copies there)."
        )
    else:
        st.dataframe(
            [
                {
                    "segments": status.segments,
                    "position": status.position,
                    "head": status.head,
                    "lag (events)": status.lag,
                    "size (MB)": round(status.bytes / 1e6, 1),
                    "folder": str(status.folder),
                }
            ],
            hide_index=True,
        )
        st.caption(
            "Columnar copies of the log (Parquet, sorted by case) that every page reads, with"
            " the events after them taken from the store. Derived, never the truth: deleted,"
            " they are rebuilt."
        )
        if status.lag and st.button("Bring up to date", icon=":material/sync:"):
            state.read_model().refresh(summary.log)
            st.rerun()

st.subheader("Contents")
# Chosen, not shown at once: the first look at a projection builds its checkpoint, seconds
# on millions of events.
name = st.selectbox("Show", [c.name for c in listed], index=None, placeholder="Choose a projection")
if name:
    try:
        result = state.ask(Workbench.projection, summary.log, name)
    except checkpoints.ProjectionError as error:
        st.error(str(error))
    else:
        st.caption(f"{result.height:,} rows, up to position {store.head(summary.log):,}")
        st.dataframe(state.local(result), hide_index=True)
