"""The panel that says what sets a set of cases apart (`Workbench.causes`): beside the slow
cases, the cases that do not fit a model, a rule's violations. Each group that passes the
significance test can become a filter of every page."""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta

import polars as pl
import streamlit as st

from dashboards import state
from workbench.application import Workbench
from workbench.durations import human
from workbench.filters import Cases, Filters


def why(log: str, outcome: str, *, key: str, having: Collection[str] | None = None) -> None:
    """An expander ranking the groups of cases that go with ``outcome`` (a `causes`
    outcome, or a name for the cases ``having``), with a filter to one of them."""
    with st.expander(f"Why? What sets these cases apart ({outcome})", icon=":material/search:"):
        # Worked out when asked: an expander's body runs even while it is closed.
        if not st.toggle("Rank the groups of cases", key=f"why-on-{key}"):
            return
        given = None if having is None else tuple(sorted(str(case) for case in having))
        found = state.ask(Workbench.causes, log, outcome, having=given)
        passed = found.table.filter(pl.col("significant"))
        st.caption(
            f"{found.cases:,} of {found.total:,} cases. Groups by attribute value, resource,"
            " activity present or absent, variant, start month and weekday, and pairs of"
            " them; a group passes when chance is unlikely to give it so many of these cases"
            " (adjusted p below 0.05). The same as `workbench causes`."
        )
        if passed.is_empty():
            st.info("No group passes: nothing here sets these cases apart beyond chance.")
            return
        shown = passed.head(10).select(
            group=pl.when(pl.col("name") == pl.col("kind"))
            .then(pl.col("kind"))
            .otherwise(pl.format("{}: {}", "kind", "name")),
            value="value",
            cases="cases",
            rate="rate",
            rest="rate_without",
            lift="lift",
            median=pl.col("median_duration_seconds").map_elements(
                lambda s: human(timedelta(seconds=s)), return_dtype=pl.String
            ),
            p="p_value",
        )
        st.dataframe(
            shown,
            hide_index=True,
            column_config={
                "rate": st.column_config.NumberColumn("rate", format="percent"),
                "rest": st.column_config.NumberColumn("vs rest", format="percent"),
                "lift": st.column_config.NumberColumn(format="%.2f"),
                "p": st.column_config.NumberColumn("p (adjusted)", format="%.1e"),
            },
        )
        rows = list(passed.head(10).iter_rows(named=True))
        chosen = st.selectbox(
            "A group",
            rows,
            format_func=lambda r: f"{r['name']} = {r['value']} ({r['cases']:,} cases)",
            key=f"why-{key}",
        )
        if chosen is not None and st.button(
            f"Show only these {chosen['cases']:,} cases on every page",
            icon=":material/filter_alt:",
            key=f"why-filter-{key}",
        ):
            ids = found.cases_of(chosen["kind"], chosen["name"], chosen["value"])
            picked = Cases.of(ids, label=f"{chosen['name']} = {chosen['value']}")
            state.keep_cases(log, picked)
            others = [f for f in state.filters().items if not isinstance(f, Cases)]
            state.set_filters(Filters((*others, picked)))
            st.rerun()
