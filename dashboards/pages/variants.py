"""Variants: the activity sequences, ranked; choosing some filters the whole app."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import state
from dashboards.pages._common import filtered_note, require_log
from workbench import projections
from workbench.filters import Filters, Variants
from workbench.processmap import human_duration

summary = require_log()
st.title(f"Variants · {summary.log}")
filtered_note()
ranked = state.cached(projections.variants, summary.log)
st.caption(f"{ranked.height:,} variants. Select rows and press the button to keep only them.")
shown = ranked.head(500).select(
    pl.int_range(1, pl.len() + 1).alias("#"),
    "cases",
    pl.col("share") * 100,
    pl.col("variant").list.len().alias("events"),
    pl.col("mean_duration")
    .dt.total_seconds()
    .map_elements(human_duration, pl.String)
    .alias("mean duration"),
    pl.col("median_duration")
    .dt.total_seconds()
    .map_elements(human_duration, pl.String)
    .alias("median duration"),
    pl.col("variant").list.join(" → ").alias("activities"),
)
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
