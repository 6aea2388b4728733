"""The sidebar: the pages, which log, which filters, which time zone; all kept in the URL
query, and carried by every page link."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import streamlit as st

from dashboards import login, navigation, state
from dashboards.markdown import escape
from workbench.application import ASSIGNED, ELAPSED
from workbench.events import VOCABULARY
from workbench.filters import (
    Attribute,
    CaseDuration,
    Contains,
    Filters,
    Follows,
    Lifecycle,
    TimeRange,
    Variants,
)
from workbench.store import LogName, from_micros

MODES = {
    "intersecting": "active in the range",
    "contained": "entirely in the range",
    "started": "started in the range",
    "completed": "completed in the range",
    "trim": "only the events in the range",
}
# Filters the sidebar form edits; any others (chosen variants, endpoints) are kept as they are.
_EDITED = (TimeRange, Attribute, Contains, CaseDuration, Lifecycle, Follows)


def render() -> None:
    """Draw the sidebar; changes go to the URL and rerun the page."""
    state.keep_query()
    summary = state.selected_log()
    with st.sidebar:
        _links()
        options = [s.log for s in state.logs() if s.kind != "object"]
        if not options:
            st.caption("No logs yet: load the demo or upload a file.")
            return
        # The URL names the log (a link, an import may change it); the picker follows it.
        # A name it cannot show leaves the picker empty and the URL as it is: the page
        # says so, and shows no other log in its place.
        st.session_state[_PICKER] = None if summary is None else summary.log
        st.selectbox(
            "Log",
            options,
            help="Object-centric logs appear as one view per object type (LOG/TYPE).",
            key=_PICKER,
            on_change=_choose_log,
            placeholder="Choose a log",
        )
        if summary is None:
            return
        st.query_params[state.LOG_KEY] = summary.log
        zone = st.selectbox(
            "Show times in",
            state.TIME_ZONES,
            index=state.TIME_ZONES.index(str(state.timezone()))
            if str(state.timezone()) in state.TIME_ZONES
            else 0,
        )
        if zone != str(state.timezone()):
            st.query_params[state.TIMEZONE_KEY] = zone
            st.rerun()
        names = state.calendars(summary.log)
        if names:
            current = state.calendar_name()
            chosen = st.selectbox(
                "Durations in",
                ["elapsed time", *names],
                index=1 + names.index(current) if current in names else 0,
                format_func=lambda name: (
                    f"assigned by {state.workbench().attribute_of(summary.log)}"
                    if name == ASSIGNED
                    else name
                ),
                help="A working calendar (`workbench calendar add`): durations count its"
                " working hours only. A log's default is set with `workbench calendar assign`;"
                " 'assigned by' counts each case in the calendar of its site, team or"
                " resource (`calendar assign NAME --log LOG --attribute KEY=VALUES`).",
            )
            if chosen != (current or "elapsed time"):
                # "elapsed" in the link where the log has a default calendar; nothing where
                # the choice is the log's default anyway.
                wanted = ELAPSED if chosen == "elapsed time" else chosen
                if wanted == (state.default_calendar() or ELAPSED):
                    del st.query_params[state.CALENDAR_KEY]
                else:
                    st.query_params[state.CALENDAR_KEY] = wanted
                st.rerun()
        if st.toggle(
            "Live",
            key="live",
            help="Follow new events (say, from `workbench ingest --follow`): the page"
            " refreshes when the log's head moves; what was read before is not read again.",
        ):
            _live(summary.log)
        if summary.warning:
            st.warning(escape(summary.warning), icon=":material/warning:")
        if not summary.timed:
            st.caption("This log has no times: events are in the order of its file.")
        _filters(summary.log, summary.first_timestamp, summary.last_timestamp)


_PICKER = "log"
_HEAD = "live-head"


@st.fragment(run_every=2.0)
def _live(log: str) -> None:
    """Every two seconds: when the log's head has moved, the whole page runs again (its
    caches key on the head, and the read model reads only the new tail); and the latest
    event, the last write and the read model's lag."""
    store = state.store()
    log = LogName.parse(log).log  # a view follows its object-centric log
    head = store.head(log)
    seen = st.session_state.setdefault(_HEAD, head)
    if head != seen:
        st.session_state[_HEAD] = head
        for row in state.workbench().observed(log):  # new events: the app's reactions
            st.toast(f"Alert {row.rule}: {row.message}", icon=":material/notifications:")
        st.rerun(scope="app")
    ranges = store.ranges(log)  # one row per committed write: cheap to read every time
    lag = state.read_model().status(log).lag
    parts = [f"head {head:,}"]
    if ranges.height:
        latest = from_micros(int(ranges["max_timestamp"].max()))  # type: ignore[arg-type]
        written = from_micros(int(ranges["recorded_at"].max()))  # type: ignore[arg-type]
        parts.append(f"latest event {state.shown(latest)}")
        parts.append(f"last write {_ago(datetime.now(UTC) - written)} ago")
    parts.append(f"read model {lag:,} event(s) behind" if lag else "read model up to date")
    st.caption("Live · " + " · ".join(parts))


def _ago(span: timedelta) -> str:
    seconds = max(span.total_seconds(), 0)
    for size, unit in ((86_400, "d"), (3_600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def _choose_log() -> None:
    """Another log was picked: it replaces the query (its filters belong to the old log)."""
    st.query_params.clear()
    if st.session_state[_PICKER] is not None:
        st.query_params[state.LOG_KEY] = st.session_state[_PICKER]


def _links() -> None:
    """A link per page, each carrying the current query (log, time zone, filters)."""
    query = state.query()
    for section, entries in navigation.sections(login.role()).items():
        st.caption(section)
        for entry in entries:
            st.page_link(entry.path, label=entry.title, icon=entry.icon, query_params=query)
    st.divider()


def _filters(log: str, first: datetime | None, last: datetime | None) -> None:
    current = state.filters()
    if current:
        st.markdown("**Active filters**")
        for line in current.describe():
            st.caption(f"• {escape(line)}")
        if st.button("Clear filters", icon=":material/close:"):
            state.set_filters(Filters())
            st.rerun()
    with st.expander("Filter the log", expanded=False), st.form("filters"):
        time_range = next((f for f in current.items if isinstance(f, TimeRange)), None)
        low = (time_range.start if time_range and time_range.start else first) or datetime.now(UTC)
        high = (time_range.end if time_range and time_range.end else last) or datetime.now(UTC)
        dates = st.date_input(
            "Time range (UTC days)",
            value=(low.date(), high.date()),
            min_value=first.date() if first else None,
            max_value=last.date() if last else None,
        )
        mode = st.selectbox(
            "Cases",
            list(MODES),
            format_func=MODES.__getitem__,
            index=list(MODES).index(time_range.mode) if time_range else 0,
        )
        attributes = [
            name
            for name, dtype in state.store().schema(log).items()
            if (name not in VOCABULARY and not dtype.is_temporal()) or name == "resource"
        ]
        attribute = next((f for f in current.items if isinstance(f, Attribute)), None)
        name = st.selectbox(
            "Attribute",
            ["(none)", *attributes],
            index=1 + attributes.index(attribute.name)
            if attribute and attribute.name in attributes
            else 0,
        )
        values: list[str] = []
        if name != "(none)":
            known = state.distinct(log, name)
            values = st.multiselect(
                f"{escape(name)} is one of",
                known,
                default=[v for v in (attribute.values if attribute else ()) if v in known],
            )
        transitions = state.distinct(log, "lifecycle")
        phases: list[str] = []
        if transitions:  # start/complete logs: one event per transition, or only some
            lifecycle = next((f for f in current.items if isinstance(f, Lifecycle)), None)
            phases = st.multiselect(
                "Lifecycle transitions (none chosen: all)",
                transitions,
                default=[v for v in (lifecycle.values if lifecycle else ()) if v in transitions],
                help="With start and complete events, keep only complete to see one event per"
                " activity (and no start-to-complete loops in the process map).",
            )
        contains = next((f for f in current.items if isinstance(f, Contains)), None)
        activities = st.multiselect(
            "Cases that contain",
            state.distinct(log, "activity"),
            default=list(contains.activities) if contains else [],
        )
        follows = next((f for f in current.items if isinstance(f, Follows)), None)
        known = state.distinct(log, "activity")
        left, right = st.columns(2)
        source = left.selectbox(
            "Cases where",
            ["(none)", *known],
            index=1 + known.index(follows.source) if follows and follows.source in known else 0,
            key="follow-a",
        )
        target = right.selectbox(
            "is followed by",
            ["(none)", *known],
            index=1 + known.index(follows.target) if follows and follows.target in known else 0,
            key="follow-b",
        )
        left, right = st.columns(2)
        directly = left.checkbox(
            "directly", value=bool(follows and follows.directly), key="follow-directly"
        )
        exclude = right.checkbox(
            "not these cases", value=bool(follows and follows.exclude), key="follow-exclude"
        )
        within = st.number_input(
            "within (hours, 0: any)",
            min_value=0.0,
            value=follows.within.total_seconds() / 3600 if follows and follows.within else 0.0,
            key="follow-within",
        )
        people = ("by anyone", "by the same resource", "by different resources (four eyes)")
        chosen_people = 0
        if follows and follows.same == "resource":
            chosen_people = 1
        elif follows and follows.different == "resource":
            chosen_people = 2
        who = people[0]
        if state.distinct(log, "resource"):
            who = st.selectbox("A and B", people, index=chosen_people, key="follow-people")
        variants = next((f for f in current.items if isinstance(f, Variants)), None)
        top = st.number_input(
            "Only the top variants (0: all)",
            min_value=0,
            value=variants.top or 0 if variants else 0,
        )
        duration = next((f for f in current.items if isinstance(f, CaseDuration)), None)
        left, right = st.columns(2)
        shortest = left.number_input(
            "Duration ≥ (days)", min_value=0.0, value=_days(duration.min if duration else None)
        )
        longest = right.number_input(
            "Duration ≤ (days, 0: any)",
            min_value=0.0,
            value=_days(duration.max if duration else None),
        )
        if st.form_submit_button("Apply", type="primary"):
            items: list[Any] = [f for f in current.items if not isinstance(f, (*_EDITED, Variants))]
            if isinstance(dates, tuple) and len(dates) == 2 and first and last:
                start = datetime.combine(dates[0], time(0), UTC)
                end = datetime.combine(dates[1], time(0), UTC) + timedelta(days=1)
                if start > first or end < last or mode == "trim":
                    items.append(TimeRange(start, end, mode))  # type: ignore[arg-type]
            if values:
                items.append(Attribute(name, tuple(values)))
            if phases:
                items.append(Lifecycle(tuple(phases)))
            if activities:
                items.append(Contains(tuple(activities)))
            if source != "(none)" and target != "(none)":
                items.append(
                    Follows(
                        source,
                        target,
                        directly=directly,
                        within=timedelta(hours=within) if within else None,
                        same="resource" if who == people[1] else None,
                        different="resource" if who == people[2] else None,
                        exclude=exclude,
                    )
                )
            chosen_variants = variants.chosen if variants else ()
            if top or chosen_variants:
                items.append(Variants(top=int(top) or None, chosen=chosen_variants))
            if shortest or longest:
                items.append(
                    CaseDuration(
                        timedelta(days=shortest) if shortest else None,
                        timedelta(days=longest) if longest else None,
                    )
                )
            state.set_filters(Filters(tuple(items)))
            st.rerun()


def _days(value: timedelta | None) -> float:
    return 0.0 if value is None else value.total_seconds() / 86_400
