"""What every analysis page starts with: the chosen log, or a pointer to get one."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable
from datetime import datetime

import polars as pl
import streamlit as st

from dashboards import sidebar, state
from dashboards.markdown import escape
from workbench.store import LogSummary


def require_log(*, object_centric: bool = False) -> LogSummary:
    """The chosen log (drawing the sidebar); stops the page with a hint when there is none,
    and with a message when the URL names a log the page cannot show (never another log in
    its place). ``object_centric``: the page shows an object-centric log itself, not only
    its views."""
    sidebar.render()
    summary = state.selected_log()
    unknown = state.unknown_log()
    if unknown is not None:
        whole = next((s for s in state.logs() if s.log == unknown.name), None)
        if object_centric and whole is not None and whole.kind == "object":
            return whole
        unknown_log_note(unknown)
        st.stop()
    if summary is None:
        st.info("The store has no logs yet. Load the demo on **Event logs**, or **Upload** a file.")
        st.stop()
    assert summary is not None
    return summary


def unknown_log_note(unknown: state.UnknownLog) -> None:
    """Say that the link names a log this page cannot show, and offer what it can: an
    object-centric log's views, or the list of logs. Nothing else is shown."""
    name = escape(unknown.name)
    if unknown.views:
        st.warning(
            f"**{name}** is an object-centric log: its events are shown one object type at a"
            " time. Choose a view:",
            icon=":material/category:",
        )
        for view in unknown.views:
            if st.button(view, icon=":material/arrow_forward:", key=f"view-{view}"):
                st.query_params.clear()
                st.query_params[state.LOG_KEY] = view
                st.rerun()
        return
    st.error(
        f"There is no log named **{name}** in this store ({escape(state.store_name())}): the"
        " link may be old, or meant for another store. Choose a log in the sidebar.",
        icon=":material/search_off:",
    )
    st.page_link("views/logs.py", label="See the logs in this store", icon=":material/list:")


def title(page: str, summary: LogSummary) -> None:
    """The page's title, naming the log (as it is, whatever characters it holds)."""
    st.title(f"{page} · {escape(summary.log)}")


def filtered_note() -> None:
    """Say which filters shape what the page shows."""
    active = state.filters()
    if active:
        st.caption("Filtered: " + "; ".join(escape(line) for line in active.describe()))


def whole_log_note(why: str) -> None:
    """Say plainly, when filters are active, that this page (or section) does not apply
    them, and why: it shows the whole log."""
    active = state.filters()
    if active:
        st.info(
            f"Not filtered: {why} The filters in the sidebar ("
            + "; ".join(escape(line) for line in active.describe())
            + ") apply to the other pages.",
            icon=":material/filter_alt_off:",
        )


#: A drawing taller than this (pixels) scrolls inside its frame.
DRAWING_HEIGHT = 900


def drawing(dot: str, *, name: str) -> None:
    """A Graphviz drawing at its own size: text as Graphviz sets it (10 to 11 pt, 13 to 15
    px), in a frame that scrolls when the drawing is larger than the page, never shrunk to
    the page's width as `st.graphviz_chart` does (a wide Petri net's labels become 7 px);
    with the SVG to open on its own, full screen. Without Graphviz installed, the chart
    Streamlit draws in the browser."""
    svg = svg_of(dot)
    if svg is None:
        st.graphviz_chart(dot)
        return
    found = re.search(r'height="([\d.]+)pt"', svg)
    height = int(float(found.group(1)) * 4 / 3) + 24 if found else DRAWING_HEIGHT
    st.iframe(
        '<html><body style="margin:0"><div style="overflow:auto">' + svg + "</div></body></html>",
        height=min(height, DRAWING_HEIGHT),
    )
    st.download_button(
        "Open the drawing (SVG)",
        svg,
        file_name=f"{name}.svg",
        mime="image/svg+xml",
        icon=":material/open_in_full:",
        key=f"drawing-{name}",
    )


def graph(dot: str, *, alt: str = "graph") -> None:
    """A Graphviz graph as wide as the page: laid out on the server by Graphviz's ``dot``
    and sent as SVG, which the browser shows at once (`st.graphviz_chart` lays it out in
    the browser, and its first use on a page loads a WebAssembly Graphviz: 0.5 to 1 s
    more for the first visit). Without Graphviz installed, that chart."""
    svg = svg_of(dot)
    if svg is None:
        st.graphviz_chart(dot, width="stretch")
        return
    # An image as wide as the page (an SVG element itself would be removed by the page's
    # sanitizer), scaled by its view box.
    data = base64.b64encode(svg.encode()).decode()
    st.html(
        f'<img class="workbench-graph" alt="{html.escape(alt)}" style="width:100%"'
        f' src="data:image/svg+xml;base64,{data}">'
    )


@st.cache_data(show_spinner=False, max_entries=64)
def svg_of(dot: str) -> str | None:
    """The drawing as SVG by Graphviz's ``dot`` (labels escaped by Graphviz), or None."""
    from workbench.animation import AnimationError, layout

    try:
        return layout(dot)
    except AnimationError:
        return None


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


def time_range(summary: LogSummary) -> tuple[datetime, datetime]:
    """The log's first and last times (UTC without a zone, as a slider takes them); stops
    the page, saying why, for a log without times."""
    first, last = summary.first_timestamp, summary.last_timestamp
    if untimed_note(summary) or first is None or last is None:
        st.stop()
    assert first is not None
    assert last is not None
    return first.replace(tzinfo=None), last.replace(tzinfo=None)


ROWS = 2_000  # rows a table sends to the browser; a million-row table helps nobody


def table(frame: pl.DataFrame, *, what: str = "rows", export: str | None = None) -> None:
    """A table of at most `ROWS` rows (the first, in the frame's order), saying how many
    there are in all and, with ``export``, the command that writes every row."""
    st.dataframe(frame.head(ROWS), hide_index=True)
    if frame.height > ROWS:
        more = f"; {escape(export)} writes them all" if export else ""
        st.caption(f"The first {ROWS:,} of {frame.height:,} {what}{more}.")


def views(shown: dict[str, Callable[[], None]]) -> None:
    """Tabs that run only the open one, which the link names (``?view=``): each view of a
    page may compute over every event of the log, and all of them at once took seconds on
    ten million events."""
    tabs = st.tabs(list(shown), key=state.VIEW_KEY, bind="query-params")
    for tab, show in zip(tabs, shown.values(), strict=True):
        if tab.open:
            with tab:
                show()
