"""Compare: two groups of cases of the log (two periods, or two values of an attribute),
after the global filters, side by side on one process map."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import polars as pl
import streamlit as st

from dashboards import charts, state
from dashboards.layout import (
    drawing,
    filtered_note,
    require_log,
    table,
    title,
    untimed_note,
)
from dashboards.markdown import escape
from workbench.application import Workbench
from workbench.compare import MIN_CASES, to_dot
from workbench.durations import human_working
from workbench.events import VOCABULARY
from workbench.filters import Attribute, Filters, TimeRange

summary = require_log()
title("Compare", summary)
filtered_note()
untimed = untimed_note(summary)
log = summary.log
current = state.filters()
mode = st.radio(
    "Compare",
    ["periods", "attribute"],
    format_func={"periods": "Two periods", "attribute": "Two values of an attribute"}.get,
    horizontal=True,
    disabled=untimed,
    index=1 if untimed else 0,
    key="compare-mode",
)
left, right = st.columns(2)
sides: list[Filters] = []
labels: list[str] = []
if mode == "periods":
    first = summary.first_timestamp or datetime.now(UTC)
    last = summary.last_timestamp or datetime.now(UTC)
    middle = first + (last - first) / 2
    for column, name, default in (
        (left, "A", (first.date(), middle.date())),
        (right, "B", (middle.date(), last.date())),
    ):
        chosen = column.date_input(
            f"{name}: cases active in (UTC days)",
            value=default,
            min_value=first.date(),
            max_value=last.date(),
            key=f"compare-{name}",
        )
        if not (isinstance(chosen, tuple) and len(chosen) == 2):
            st.stop()
        start = datetime.combine(chosen[0], time(0), UTC)
        end = datetime.combine(chosen[1], time(0), UTC) + timedelta(days=1)
        sides.append(Filters((*current.items, TimeRange(start, end))))
        labels.append(f"{chosen[0]} to {chosen[1]}")
else:
    names = [
        name
        for name, dtype in state.store().schema(log).items()
        if (name not in VOCABULARY and not dtype.is_temporal()) or name == "resource"
    ]
    if not names:
        st.info("This log has no attribute to compare by.")
        st.stop()
    attribute = st.selectbox("Attribute", names, key="compare-attribute")
    known = state.distinct(log, attribute)
    for column, name, default in (
        (left, "A", known[:1]),
        (right, "B", known[1:2]),
    ):
        values = column.multiselect(
            f"{name}: {escape(attribute)} is one of", known, default=default
        )
        if not values:
            st.info(f"Choose the values of group {name}.")
            st.stop()
        sides.append(Filters((*current.items, Attribute(attribute, tuple(values)))))
        labels.append(", ".join(values))

calendar = state.calendar_name()
found = state.ask(Workbench.compare, log, sides[0], sides[1], calendar=calendar)
for note in found.notes:
    st.warning(escape(note), icon=":material/group_off:")
st.caption(
    f"A: {escape(labels[0])} · B: {escape(labels[1])}. Changes seen in fewer than"
    f" {MIN_CASES} cases on either side are listed last."
    + (
        f" Durations in the working hours of the {escape(words)}."
        if (words := calendar and state.workbench().calendar_words(log, calendar))
        else ""
    )
)
day = state.workbench().working_day(calendar, log)


def _duration(seconds: float | None) -> str:
    return human_working(None if seconds is None else timedelta(seconds=seconds), day)


metrics = st.columns(5)
for column, (key, label) in zip(
    metrics,
    (
        ("cases", "Cases"),
        ("variants", "Variants"),
        ("median_duration_s", "Median throughput time"),
        ("p90_duration_s", "90th percentile"),
        ("rework_share", "Cases with rework"),
    ),
    strict=True,
):
    before, after = found.a[key], found.b[key]
    if key.endswith("_s"):
        shown, delta = _duration(after), None
        if before and after is not None:
            delta = f"{(after - before) / before:+.0%} vs A ({_duration(before)})"
    elif key == "rework_share":
        shown = "n/a" if after is None else f"{after:.1%}"
        delta = None if before is None or after is None else f"{(after - before) * 100:+.1f} pt"
    else:
        shown = f"{after:,}"
        delta = f"{after - before:+,} vs A ({before:,})"
    column.metric(f"{label} (B)", shown, delta, delta_color="off")
if found.edges.height:
    st.markdown(
        "**Process map, A → B**: blue where a larger share of B's cases take an edge,"
        " orange where a smaller share does; dashed: only in A; bold: only in B."
    )
    drawing(to_dot(found), name=f"{log.replace('/', '-')}-compare")
st.markdown("**Activities whose waiting time changed most**")
table(charts.readable(found.activities), what="activities")
st.markdown("**Edges**")
table(charts.readable(found.edges), what="edges")
columns = st.columns(2)
for column, name, only in (
    (columns[0], "A", found.only_in_a),
    (columns[1], "B", found.only_in_b),
):
    with column:
        st.markdown(f"**Variants only in {name}** ({only.height:,})")
        table(
            only.select("cases", pl.col("variant").list.join(" → ").alias("activities")),
            what="variants",
        )
