"""Object-centric: the OC-DFG of an OCEL log (a colour per object type), its object types,
convergence and divergence, and one object's lifecycle."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import state
from dashboards.layout import graph, require_log, table, title, whole_log_note
from dashboards.markdown import escape
from workbench import objectcentric
from workbench.application import Workbench
from workbench.store import LogName

summary = require_log(object_centric=True)
log = LogName.parse(summary.log).log  # a view's page is its object-centric log's
found = next((s for s in state.logs() if s.log == log), None)
title("Object-centric", found or summary)
if found is None or found.kind != "object":
    st.info(
        "This page is for object-centric logs: import an OCEL 2.0 file (SQLite, XML or JSON)"
        " or an OCEL 1.0 JSON file, and choose it in the sidebar."
    )
    st.stop()
assert found is not None
whole_log_note(
    "this page shows the whole object-centric log, every object type on one map; the filters"
    " choose cases, and here there are objects of several types instead."
)
kinds = objectcentric.object_types(state.store(), log)
st.caption(
    "Each object type has its own directly-follows relation: the events of each object in"
    " order. Flattening to one type per view (the LOG/TYPE logs) copies events shared by"
    " several objects and hides how the types interact; here they are on one map."
)
left, right = st.columns([3, 1])
chosen = left.multiselect("Object types", kinds, default=kinds, key="object-types")
measure = right.radio(
    "Edge labels",
    ["frequency", "median"],
    format_func={"frequency": "Frequency", "median": "Median waiting time"}.get,
    key="object-measure",
)
if not chosen:
    st.info("Choose at least one object type.")
    st.stop()
ocdfg = state.ask(Workbench.ocdfg, log, tuple(chosen))
graph(objectcentric.to_dot(ocdfg, measure=measure or "frequency"), alt="object-centric map")
counts = pl.DataFrame(
    {"object type": list(found.object_types), "objects": list(found.object_types.values())}
).sort("objects", descending=True)
left, right = st.columns([1, 3])
with left:
    st.markdown("**Object types**")
    table(counts, what="object types")
with right:
    st.markdown(
        "**Convergence and divergence**: events with several objects of one type (flattened,"
        " each becomes several events), and objects that do an activity more than once."
    )
    table(state.ask(Workbench.convergence, log), what="activities and types")
st.subheader("One object")
left, right = st.columns(2)
kind = left.selectbox("Type", kinds, key="object-type")
ids = state.store().objects(log).filter(pl.col("object_type") == kind)["object_id"].sort().to_list()
wanted = right.selectbox(f"Object ({len(ids):,})", ids[:5_000], key="object-id")
if wanted:
    one = state.ask(Workbench.lifecycle, log, wanted)
    st.markdown(f"**Events of {escape(wanted)}** ({one.events.height:,}), in order")
    table(state.local(one.events), what="events")
    left, right = st.columns(2)
    with left:
        st.markdown("**Attribute values over time**")
        table(state.local(one.attributes), what="values")
    with right:
        st.markdown("**Related objects**")
        table(one.related, what="objects")
