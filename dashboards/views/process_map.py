"""Process map: the directly-follows graph with frequency or time, abstracted by sliders."""

from __future__ import annotations

from html import escape

import streamlit as st

from dashboards import state
from dashboards.layout import filtered_note, graph, require_log, svg_of, title
from workbench import processmap
from workbench.application import Workbench

summary = require_log()
title("Process map", summary)
filtered_note()
labels = {
    "frequency": "Frequency",
    "mean": "Mean waiting time",
    "median": "Median waiting time",
    "p90": "P90 waiting time",
    "total": "Total waiting time",
}
if not summary.timed:  # without times there are no waiting times to show
    labels = {"frequency": labels["frequency"]}
left, middle, right = st.columns([2, 3, 3])
measure = left.selectbox("Label edges with", list(labels), format_func=labels.__getitem__)
activities = middle.slider("Activities (% of events covered)", 0, 100, 100, step=5)
paths = right.slider("Paths (% of transitions covered)", 0, 100, 100, step=5)
calendar = state.calendar_name() if measure != "frequency" else None
pmap = state.ask(Workbench.dfg, summary.log, activities=activities, paths=paths, calendar=calendar)
if pmap.nodes.height == 0:
    st.warning("Nothing to draw: no events pass the filters at this detail.")
    st.stop()
dot = processmap.to_dot(pmap, measure=measure, title=summary.log)  # type: ignore[arg-type]
st.caption(
    f"{pmap.nodes.height} activities and {pmap.edges.height} paths shown. "
    "Node colour: frequency; edge width and label: the chosen measure"
    + (
        f", in the working hours of the {escape(words)}."
        if (words := calendar and state.workbench().calendar_words(summary.log, calendar))
        else "."
    )
)
graph(dot, alt="process map")
downloads = st.columns(4)
downloads[0].download_button(
    "Download DOT", dot, file_name=f"{summary.log}.dot", mime="text/vnd.graphviz"
)
svg = svg_of(dot)  # the drawing above, laid out once
if svg is not None:
    downloads[1].download_button(
        "Download SVG", svg, file_name=f"{summary.log}.svg", mime="image/svg+xml"
    )
else:
    downloads[1].caption("SVG download needs Graphviz's `dot` on the server.")
