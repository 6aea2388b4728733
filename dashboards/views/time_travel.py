"""Time travel: every case as it stood at a chosen moment, as it happened or as it was known
then; what late events changed; what changed between two moments."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime, timedelta

import polars as pl
import streamlit as st
import streamlit.components.v1 as components

from dashboards import charts, predicting, state
from dashboards.layout import filtered_note, graph, require_log, table, time_range, title, views
from dashboards.markdown import escape
from workbench import processmap, timetravel
from workbench.animation import to_html
from workbench.application import Cut, Workbench
from workbench.events import WorkbenchError

summary = require_log()
title("Time travel", summary)
filtered_note()
low, high = time_range(summary)
step = max((high - low) / 200, (high - low) / 10_000)
knowledge = state.knowledge(summary.log)


@st.fragment(run_every=1.0 if st.session_state.get("playing") else None)
def travel() -> None:
    if st.session_state.get("playing"):
        current = st.session_state.get("moment", low)
        st.session_state["moment"] = low if current + step > high else current + step
    moment = st.slider(
        "Moment (UTC)",
        min_value=low,
        max_value=high,
        value=low + (high - low) / 2,
        step=step,
        format="YYYY-MM-DD HH:mm",
        key="moment",
    )
    known_label = st.select_slider("As known at", list(knowledge), value=next(iter(knowledge)))
    known_at = knowledge[known_label]
    at = moment.replace(tzinfo=UTC)
    calendar = state.calendar_name()
    now = state.ask(Workbench.state, summary.log, at, Cut(known_at=known_at), calendar=calendar)
    counts = timetravel.status_counts(now)
    columns = st.columns(4)
    columns[0].metric("Cases started", f"{now.height:,}")
    columns[1].metric("Open", f"{counts['open']:,}")
    columns[2].metric("Completed", f"{counts['completed']:,}")
    columns[3].metric("Events by then", f"{int(now['events'].sum() or 0):,}")
    if known_at is not None:
        changed = state.ask(Workbench.restated, summary.log, at, Cut(known_at=known_at))
        st.info(
            f"Late events: {changed.height:,} case(s) look different at this moment now than"
            f" they did {escape(known_label)}."
        )
        if changed.height:
            table(changed, what="cases")
    left, right = st.columns([2, 3])
    left.vega_lite_chart(spec=charts.wip_by_activity(timetravel.summary(now)), width="stretch")
    with right:
        pmap = state.ask(  # drawn by frequency: its times are not computed
            Workbench.dfg, summary.log, Cut(as_of=at, known_at=known_at), times=False
        )
        st.markdown(f"**Process map as of {state.shown(at)}**")
        if pmap.nodes.height:
            graph(processmap.to_dot(pmap), alt="process map at the moment")
    # Open cases first, those that have waited longest at the top.
    ranked = now.sort(
        ["status", "idle", "case_id"], descending=[True, True, False], nulls_last=True
    )
    day = state.workbench().working_day(calendar, summary.log)
    if calendar:
        st.caption(
            "Elapsed and idle time in the working hours of the"
            f" {escape(state.workbench().calendar_words(summary.log, calendar))}."
        )
    shown = charts.duration_table(
        state.local(ranked.drop("calendar", strict=False)), working_day=day
    )
    if predicting.toggle("travel-predict"):  # what would have been predicted then
        ahead = predicting.open_cases(summary.log, Cut(known_at=known_at), at)
        if ahead is not None:
            shown = predicting.beside(ranked, shown, ahead)
    table(
        shown,
        what="cases (open cases first, longest idle at the top)",
        export=f"workbench state {shlex.quote(summary.log)} --at {at.isoformat()}"
        + (f" --calendar {shlex.quote(calendar)}" if calendar else "")
        + " --format csv --output state.csv",
    )
    fixed = state.ask(Workbench.corrections, summary.log, Cut(as_of=at, known_at=known_at))
    if fixed.height:
        with st.expander(f"Corrections by then ({fixed.height:,})"):
            st.caption("Events that supersede an earlier one; the state uses the correction.")
            table(state.local(fixed), what="corrections")


def show_moment() -> None:
    """Every case as it stood at a moment, as it happened or as known then."""
    st.toggle("▶ Play", key="playing", help="Step through time, one step a second.")
    travel()


def show_animation() -> None:
    """Cases moving as tokens along the map, with ghosts of what was not known yet."""
    st.caption(
        "Cases move as tokens along the map's edges between their events, sized by how many."
        " As known at an earlier import, the moves the store did not know yet are dashed ghosts"
        " until the clock reaches the moment they were recorded."
    )
    window = st.slider(
        "Window (UTC)",
        min_value=low,
        max_value=high,
        value=(low + (high - low) / 2, min(high, low + (high - low) / 2 + timedelta(days=30))),
        step=step,
        format="YYYY-MM-DD HH:mm",
        key="window",
    )
    known_label = st.selectbox("Ghosts: as known", list(knowledge), key="animation-known")
    if st.button("Animate", icon=":material/play_circle:"):
        st.session_state["animate"] = True
    if st.session_state.get("animate"):
        try:
            first_moment, last_moment = window[0].replace(tzinfo=UTC), window[1].replace(tzinfo=UTC)
            found = state.ask(
                Workbench.animation,
                summary.log,
                first_moment,
                last_moment,
                Cut(known_at=knowledge[known_label]),
                calendar=state.calendar_name(),
            )
            page = to_html(
                found,
                title=f"{summary.log}: {first_moment:%Y-%m-%d %H:%M}"
                f" to {last_moment:%Y-%m-%d %H:%M} UTC",
            )
        except WorkbenchError as error:
            st.error(escape(str(error)))
        else:
            components.html(page, height=900, scrolling=True)
            st.download_button(
                "Download the animation (HTML)",
                page,
                file_name=f"{summary.log.replace('/', '-')}-animation.html",
                mime="text/html",
            )


def show_change() -> None:
    """What changed between two moments."""
    start, end = st.slider(
        "From and to (UTC)",
        min_value=low,
        max_value=high,
        value=(low + (high - low) / 3, low + 2 * (high - low) / 3),
        step=step,
        format="YYYY-MM-DD HH:mm",
        key="between",
    )
    change = state.ask(
        Workbench.diff, summary.log, start.replace(tzinfo=UTC), end.replace(tzinfo=UTC)
    )
    st.dataframe(change.kpis, hide_index=True)
    left, middle, right = st.columns(3)
    left.metric("Started", f"{change.started.height:,}")
    middle.metric("Completed", f"{change.completed.height:,}")
    right.metric("New paths", f"{change.new_edges.height:,}")
    moves = change.moved.group_by("before", "after").len().sort("len", descending=True)
    st.dataframe(moves.rename({"len": "cases"}), hide_index=True)


def show_reported() -> None:
    """A month's figures as known after each import, and how late sources report."""
    st.caption(
        "A month's figures as known after each import that changed them, and the late events"
        " (arrived behind the latest time already known) that caused each change."
    )
    months = pl.datetime_range(
        datetime(low.year, low.month, 1, tzinfo=UTC),
        datetime(high.year, high.month, 1, tzinfo=UTC),
        "1mo",
        eager=True,
    ).to_list()
    month = st.selectbox(
        "Month", months, index=len(months) - 1, format_func=lambda m: f"{m:%B %Y}", key="restated"
    )
    following = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    history = state.ask(Workbench.restatements, summary.log, start=month, end=following)
    pending = state.ask(Workbench.provisional, summary.log).filter(pl.col("period") == month)
    if pending.height and pending["provisional"][0]:
        st.warning(
            f"{month:%B %Y} is provisional: about {pending['still_to_arrive'][0]:.0%} of its events"
            " usually arrive later.",
            icon=":material/hourglass_top:",
        )
    table(
        charts.readable(
            state.local(
                history.with_columns(
                    pl.col("source").map_elements(
                        lambda s: s.rsplit("/", 1)[-1], return_dtype=pl.String
                    )
                )
            )
        ),
        what="imports",
    )
    if history.height:
        chosen = st.selectbox(
            "What changed with the import",
            history["known_at"].to_list(),
            index=history.height - 1,
            format_func=lambda p: f"up to position {p:,}",
            key=f"restated-import-{month:%Y-%m}",  # a new month starts at its last import
        )
        changed = state.ask(
            Workbench.changes, summary.log, known_at=chosen, start=month, end=following
        )
        left, right = st.columns(2)
        with left:
            st.markdown("**Events it brought to the month** (late ones first)")
            table(charts.duration_table(state.local(changed.events)), what="events")
        with right:
            st.markdown("**Variants whose cases it changed**")
            table(
                changed.variants.with_columns(pl.col("variant").list.join(" → ")),
                what="variants",
            )
    by = st.segmented_control(
        "How late each reports", ["activity", "resource", "source"], default="activity"
    )
    if by:
        calendar = state.calendar_name()
        late = state.ask(Workbench.lateness, summary.log, by=by, calendar=calendar)
        day = state.workbench().working_day(calendar, summary.log)
        if calendar:
            words = state.workbench().calendar_words(summary.log, calendar)
            st.caption(f"Lateness in the working hours of the {escape(words)}.")
        table(charts.duration_table(late, working_day=day), what=f"{by} values")


views(
    {
        "At a moment": show_moment,
        "Watch the process move": show_animation,
        "Between two moments": show_change,
        "Reported against true": show_reported,
    }
)
