"""What every analysis page starts with: the chosen log, or a pointer to get one."""

from __future__ import annotations

import streamlit as st

from dashboards import sidebar, state
from workbench.store import LogSummary


def require_log() -> LogSummary:
    """The chosen log (drawing the sidebar); stops the page with a hint when there is none."""
    sidebar.render()
    summary = state.selected_log()
    if summary is None:
        st.info("The store has no logs yet. Load the demo on **Event logs**, or **Upload** a file.")
        st.stop()
    assert summary is not None
    return summary


def filtered_note() -> None:
    """Say which filters shape what the page shows."""
    active = state.filters()
    if active:
        st.caption("Filtered: " + "; ".join(active.describe()))
