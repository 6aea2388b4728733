"""Variants: the activity sequences, ranked; choosing some filters the whole app."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import charts, state
from dashboards.layout import filtered_note, require_log, title
from workbench import projections
from workbench.filters import Filters, Variants

summary = require_log()
title("Variants", summary)
filtered_note()
ranked = state.cached(projections.variants, summary.log)
st.caption(f"{ranked.height:,} variants. Select rows and press the button to keep only them.")
shown = charts.duration_table(
    ranked.head(500).select(
        pl.int_range(1, pl.len() + 1).alias("#"),
        "cases",
        pl.col("share") * 100,
        pl.col("variant").list.len().alias("events"),
        pl.col("mean_duration").alias("mean duration"),
        pl.col("median_duration").alias("median duration"),
        pl.col("variant").list.join(" → ").alias("activities"),
    )
)
if not summary.timed:  # no times: no durations
    shown = shown.select(pl.exclude("^(mean|median) duration.*$"))
picked = st.dataframe(
    shown,
    hide_index=True,
    on_select="rerun",
    selection_mode="multi-row",
    column_config={"share": st.column_config.NumberColumn("share %", format="%.1f")},
    key="variants",
)
rows = picked.selection.rows if picked is not None else []
if rows and st.button(f"Filter the app to these {len(rows)} variant(s)", type="primary"):
    chosen = tuple(tuple(ranked["variant"][row].to_list()) for row in rows)
    kept = [f for f in state.filters().items if not isinstance(f, Variants)]
    state.set_filters(Filters((*kept, Variants(chosen=chosen))))
    st.rerun()
