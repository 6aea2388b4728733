"""Predictions for open cases beside the case tables (Cases, Time travel) and on their own
page: one verb (`Workbench.predicted`), as `workbench predict --target ...` asks it."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import streamlit as st

from dashboards import charts, state
from dashboards.markdown import escape
from workbench.application import Cut, Workbench
from workbench.predictions import PredictionError

#: What the tables predict: remaining time, next activity and end activity.
TARGETS = ("remaining-time", "next-activity", "outcome")
_CASE = ("prefix_length", "elapsed_seconds", "last_activity")  # the case tables have these


def toggle(key: str) -> bool:
    """Whether the user asked for predictions beside the cases."""
    return st.toggle(
        "Predict the open cases",
        key=key,
        help="Remaining time (the median, with a 10-90 % interval), next activity and end"
        " activity of every open case, from models trained only on the cases complete by"
        " then, as known then (`workbench predict`). The first time takes seconds.",
    )


def open_cases(
    log: str, cut: Cut, at: datetime | None, targets: tuple[str, ...] = TARGETS
) -> pl.DataFrame | None:
    """The open cases' predictions at ``at`` (None: the cut's moment, else the latest
    event), or None, saying why, when no model can be trained then."""
    try:
        found = state.ask(Workbench.predicted, log, cut, targets=targets, at=at)
    except PredictionError as error:
        st.info(f"No predictions: {escape(error)}", icon=":material/online_prediction:")
        return None
    if not found.height:
        st.info(
            "No case is open at that moment, as known then: choose an earlier one (on"
            " **Time travel** or **Predictions**).",
            icon=":material/online_prediction:",
        )
    return found


def beside(cases: pl.DataFrame, shown: pl.DataFrame, ahead: pl.DataFrame) -> pl.DataFrame:
    """``shown`` (``cases`` as displayed, row for row) with each case's predictions right
    after its id, where a wide table shows them without scrolling."""
    extra = cases.select("case_id").join(
        ahead.drop(_CASE), on="case_id", how="left", maintain_order="left"
    )
    return pl.concat(
        [shown.select("case_id"), charts.predicted(extra.drop("case_id")), shown.drop("case_id")],
        how="horizontal",
    )
