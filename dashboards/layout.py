"""What every analysis page starts with: the chosen log, or a pointer to get one."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import sidebar, state
from dashboards.markdown import escape
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


def title(page: str, summary: LogSummary) -> None:
    """The page's title, naming the log (as it is, whatever characters it holds)."""
    st.title(f"{page} · {escape(summary.log)}")


def filtered_note() -> None:
    """Say which filters shape what the page shows."""
    active = state.filters()
    if active:
        st.caption("Filtered: " + "; ".join(escape(line) for line in active.describe()))


def untimed_note(summary: LogSummary) -> bool:
    """Say that a log without times has no durations or dates; True when it has none."""
    if summary.timed:
        return False
    st.info(
        "This log has no times (it was imported with `--no-times`): events are in the order of"
        " its file, and durations, waiting times and dates are not shown.",
        icon=":material/schedule:",
    )
    return True


ROWS = 2_000  # rows a table sends to the browser; a million-row table helps nobody


def table(frame: pl.DataFrame, *, what: str = "rows", export: str | None = None) -> None:
    """A table of at most `ROWS` rows (the first, in the frame's order), saying how many
    there are in all and, with ``export``, the command that writes every row."""
    st.dataframe(frame.head(ROWS), hide_index=True)
    if frame.height > ROWS:
        more = f"; {escape(export)} writes them all" if export else ""
        st.caption(f"The first {ROWS:,} of {frame.height:,} {what}{more}.")
