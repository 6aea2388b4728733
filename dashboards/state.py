"""Shared state of the app: the application object, the chosen log and filters, and the
cache of answers.

The only module that uses Streamlit's caches. One `Workbench` serves every session: it
reads a log once per (log, head position, filters) and keeps it in memory within a budget.
Every answer a page shows comes from one of its verbs through `ask`, kept (within a budget
of bytes) on the verb, the log, its head position and the arguments, so a rerun that
changes nothing recomputes nothing, and an append (a new head position) invalidates
exactly what it changes.
"""

from __future__ import annotations

import inspect
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

import polars as pl
import streamlit as st

from workbench.access import User
from workbench.application import ASSIGNED, ELAPSED, Cut, Workbench
from workbench.caching import BoundedCache
from workbench.events import WorkbenchError
from workbench.filters import Cases, Filters, Follows, case_list_name
from workbench.readmodel import ReadModel
from workbench.skeleton import Skeleton
from workbench.store import EventStore, LogName, LogSummary

if TYPE_CHECKING:
    from workbench.query import Answer

T = TypeVar("T")

# Query-string keys that are not filters.
LOG_KEY = "log"
TIMEZONE_KEY = "tz"
VIEW_KEY = "view"  # a page's chosen tab: not a filter, and not carried to other pages
CALENDAR_KEY = "calendar"  # durations in this working calendar's time (none: elapsed)
SQL_KEY = "sql"  # the Query page's statement: not a filter, and not carried to other pages

#: The time zones offered to show times in and to read times without an offset.
TIME_ZONES = (
    "UTC",
    "Europe/Amsterdam",
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Chicago",
    "Asia/Tokyo",
    "Australia/Sydney",
)


def db_location() -> str:
    """The store the app serves: WORKBENCH_DB (a file or a postgresql:// URL), else
    ./workbench.db."""
    location = os.environ.get("WORKBENCH_DB", "workbench.db")
    if "://" in location:
        return location
    return str(Path(location).resolve())


def _budget() -> int:
    """Bytes the app may keep read logs in (WORKBENCH_CACHE_MB, else an eighth of memory)."""
    given = os.environ.get("WORKBENCH_CACHE_MB")
    if given and given.isdigit():
        return int(given) << 20
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 8
    except (ValueError, OSError, AttributeError):
        return 2 << 30


@st.cache_resource(validate=lambda bench: not bench.closed)
def _open(location: str) -> Workbench:
    return Workbench(location, cache_bytes=_budget())


USER_KEY = "login-user"  # who is logged in (`dashboards.login`), in the session's state


def workbench() -> Workbench:
    """The application, opened once per server process, as the logged-in user uses it:
    what their role does not allow, it refuses (without logins: everything is allowed)."""
    user = st.session_state.get(USER_KEY)
    return _open(db_location()).acting(user if isinstance(user, User) else None)


def store() -> EventStore:
    """The store the application owns."""
    return workbench().store


def read_model() -> ReadModel:
    """The store's read model: events imported through the app become segments as their
    batches commit, and every page reads the log through it."""
    return workbench().model


def store_name() -> str:
    """The store as the app names it: a file's name, or a server URL without password."""
    found = store()
    return found.path.name if found.path is not None else found.location


def logs() -> list[LogSummary]:
    """The logs and views in the store that the logged-in user may see."""
    return workbench().logs()


def _pickable() -> list[LogSummary]:
    """What the log picker offers: case logs and the views of object-centric logs."""
    return [s for s in logs() if s.kind != "object"]


def selected_log() -> LogSummary | None:
    """The log the URL names, or the first one when it names none; None when the store has
    no logs, or when the URL names one the app cannot show (`unknown_log` says which): a
    shared or stale link never shows another log's data."""
    summaries = _pickable()
    wanted = st.query_params.get(LOG_KEY)
    if wanted is None:
        return summaries[0] if summaries else None
    return next((s for s in summaries if s.log == wanted), None)


@dataclass(frozen=True)
class UnknownLog:
    """A log the URL names that the app cannot show: none by that name in the store, or an
    object-centric log itself (``views``: its one-object-type views, which it can)."""

    name: str
    views: tuple[str, ...] = ()


def unknown_log() -> UnknownLog | None:
    """The log the URL names when it is not one the picker offers; else None."""
    wanted = st.query_params.get(LOG_KEY)
    summaries = _pickable()
    if wanted is None or any(s.log == wanted for s in summaries):
        return None
    views = tuple(
        s.log for s in summaries if s.kind == "view" and LogName.parse(s.log).log == wanted
    )
    return UnknownLog(wanted, views)


def query() -> dict[str, list[str]]:
    """The page's URL query (log, time zone, filters), as page links carry it on (a
    page's chosen tab stays with the page)."""
    return {
        key: st.query_params.get_all(key)
        for key in st.query_params
        if key not in (VIEW_KEY, SQL_KEY)
    }


_QUERY_KEY = "workbench-query"


def keep_query() -> None:
    """Keep the query across pages: remember it, and bring it back when a navigation
    arrived without one (the browser's back button, a bare page address)."""
    current = query()
    if current:
        st.session_state[_QUERY_KEY] = current
    elif st.session_state.get(_QUERY_KEY):
        st.query_params.from_dict(st.session_state[_QUERY_KEY])


def filters() -> Filters:
    """The global filters, read from the URL query."""
    query = {
        key: st.query_params.get_all(key)
        for key in st.query_params
        if key not in (LOG_KEY, TIMEZONE_KEY, VIEW_KEY, CALENDAR_KEY, SQL_KEY)
    }
    try:
        found = Filters.from_query(query, case_lists(st.query_params.get(LOG_KEY)))
    except (ValueError, TypeError):
        return Filters()
    if not any(isinstance(item, Follows) and item.within for item in found.items):
        return found  # (the calendar is read only for a follower filter's "within")
    name = calendar_name()  # that "within" counts working time then
    log = st.query_params.get(LOG_KEY)
    if not name or log is None:
        return found
    return found.in_calendar(workbench().hours(log, name))


def case_lists(log: str | None) -> Callable[[str], list[str] | None]:
    """How a long case list in a link is found: stored with the log (`keep_cases`)."""

    def find(ref: str) -> list[str] | None:
        if not log or not workbench().has_log(log):
            return None
        found = store().projections.load(log, case_list_name(ref))
        return None if found is None else found[0]["case_id"].to_list()

    return find


def keep_cases(log: str, chosen: Cases) -> None:
    """Store a long case list with its log, so that a link can name it (`case_lists`)."""
    if chosen.ref is not None:
        store().projections.save(
            log,
            case_list_name(chosen.ref),
            pl.DataFrame({"case_id": list(chosen.ids)}, schema={"case_id": pl.String}),
            position=store().head(log),
        )


def set_filters(chosen: Filters) -> None:
    """Put the filters in the URL (replacing the previous ones), keeping the log, the time
    zone and the page's tab."""
    kept = {
        key: st.query_params.get(key)
        for key in (LOG_KEY, TIMEZONE_KEY, VIEW_KEY, CALENDAR_KEY, SQL_KEY)
    }
    st.query_params.clear()
    for key, value in kept.items():
        if value:
            st.query_params[key] = value
    pairs: dict[str, list[str]] = {}
    for item in chosen.items:
        for key, value in item.query():
            pairs.setdefault(key, []).append(value)
    for key, values in pairs.items():
        st.query_params[key] = values if len(values) > 1 else values[0]


def knowledge(log: str) -> dict[str, int | None]:
    """The moments a page can show a log as known at: now, and after each earlier import
    (its last position), by the label a picker shows."""
    from workbench.store import LogName

    base = LogName.parse(log).log
    jobs = sorted(
        (job for job in store().ledger.jobs(log=base) if job.last_position),
        key=lambda job: job.job_id,
    )
    known: dict[str, int | None] = {"now: everything recorded": None}
    for job in jobs[:-1]:
        known[f"after import #{job.job_id} ({Path(job.source).name})"] = job.last_position
    return known


def calendar_name() -> str | None:
    """The working calendar durations are shown in: the URL's (key ``calendar``), if the
    store has one of that name, or elapsed time for ``elapsed``; without one in the URL the
    log's default (`Workbench.durations_in`, as the commands resolve theirs). None: elapsed
    time."""
    wanted = st.query_params.get(CALENDAR_KEY)
    log = st.query_params.get(LOG_KEY)
    if wanted and wanted != ELAPSED and wanted not in calendars(log):
        wanted = None
    if log is None:
        return wanted if wanted != ELAPSED else None
    return workbench().durations_in(log, wanted)


def default_calendar() -> str | None:
    """The selected log's default calendar (`workbench calendar assign`), if any."""
    log = st.query_params.get(LOG_KEY)
    return None if log is None else workbench().durations_in(log, None)


def calendars(log: str | None = None) -> list[str]:
    """The names of the store's working calendars, and `ASSIGNED` first where the ``log``
    has calendars by attribute value."""
    names = list(store().calendars.known())
    if log is not None and workbench().attribute_of(log) is not None:
        return [ASSIGNED, *names]
    return names


def timezone() -> ZoneInfo:
    """The time zone times are shown in (URL key ``tz``; UTC by default)."""
    try:
        return ZoneInfo(st.query_params.get(TIMEZONE_KEY) or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def local(frame: pl.DataFrame) -> pl.DataFrame:
    """A frame with its UTC times converted to the chosen time zone, for display."""
    zone = str(timezone())
    return frame.with_columns(
        pl.col(name).dt.convert_time_zone(zone)
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None
    )


def shown(moment: datetime) -> str:
    """A moment in the chosen time zone, as text."""
    return moment.astimezone(timezone()).strftime("%Y-%m-%d %H:%M %Z")


def _key(value: Any) -> Any:
    """An argument as part of a cache key: filters by their query, functions by name."""
    if isinstance(value, Filters):
        return ("filters", value.to_query())
    if isinstance(value, Cut):
        return ("cut", repr(value))
    if isinstance(value, Skeleton):  # its relations are sets: by what a file would hold
        return ("skeleton", json.dumps(value.as_dict(), sort_keys=True))
    if callable(value):
        return ("function", f"{value.__module__}.{value.__qualname__}")
    if isinstance(value, tuple | list):
        return tuple(_key(item) for item in value)
    return value


@st.cache_resource
def _answers() -> BoundedCache[Any]:
    """The answers pages showed, shared by every session, within a quarter of the cache
    budget (bytes, not entries): a hit returns the kept object itself, not a copy."""
    return BoundedCache(_budget() // 4)


def _answer(db: str, verb: str, log: str, head: int, key: tuple[Any, ...], call: Any) -> Any:
    kept = _answers()
    found = kept.find(((db, log), head, (verb, key)))
    if found is not None:
        return found[0]
    with st.spinner("Computing..."):
        value = call()
    kept.put(((db, log), head, (verb, key)), value)
    return value


def ask(verb: Callable[..., T], log: str, *args: Any, **options: Any) -> T:
    """``verb`` of the application (``Workbench.summary``, ``Workbench.dfg`` ...) asked of
    the log, cached per head position and arguments. A verb that takes filters gets the
    global filters of the URL, unless ``filters=`` is given."""
    bench = workbench()
    if "filters" in inspect.signature(verb).parameters and "filters" not in options:
        options["filters"] = filters()
    key: tuple[Any, ...] = (
        tuple(_key(item) for item in args),
        tuple((k, _key(v)) for k, v in sorted(options.items())),
    )
    if options.get("calendar"):  # a calendar changed later gives other answers
        key += (_calendar_key(bench, options["calendar"]),)
    head = bench.head(log)
    return _answer(  # type: ignore[no-any-return]
        db_location(), verb.__qualname__, log, head, key, lambda: verb(bench, log, *args, **options)
    )


def _calendar_key(bench: Workbench, name: str) -> str:
    """What a cached answer in a calendar's working time is keyed on: the calendar's name
    and the version of the store's calendars and assignments (any change of them is a
    new row: one read, nothing parsed, on every cached call)."""
    return repr((name, bench.store.calendars.version()))


def run_query(sql: str, log: str, *, every_log: bool, cut: Cut, limit: int) -> Answer:
    """A read-only SQL query (`Workbench.query`) over the log's tables (every log's, with
    ``every_log``) after the global filters and the cut, cached per head position (of
    every log, with ``every_log``: another log's import changes the answer too)."""
    bench = workbench()
    active = filters()
    heads = tuple((s.log, bench.head(s.log)) for s in bench.logs()) if every_log else ()
    key = (sql, every_log, heads, _key(cut), active.to_query(), limit)
    return _answer(  # type: ignore[no-any-return]
        db_location(),
        "query",
        log,
        bench.head(log),
        key,
        lambda: bench.query(
            sql, cut, active, log=None if every_log else log, limit=limit, timeout=60.0
        ),
    )


def cached(
    function: Callable[..., Any], log: str, *, cut: Cut | None = None, **options: Any
) -> Any:
    """``function(events, **options)`` over the filtered log (cut first, if given): any
    projection, through `Workbench.metric`."""
    return ask(Workbench.metric, log, function, cut or Cut(), **options)


def events(log: str) -> pl.LazyFrame:
    """The log's events after the global filters, in case order, read once and kept."""
    return workbench().events(log, Cut(), filters())


def distinct(log: str, name: str) -> list[str]:
    """The most common values of a column of the whole log (at most 500), for pickers."""
    return ask(Workbench.distinct, log, name)


@dataclass
class Job:
    """A computation running on a thread of the server, with its progress and outcome."""

    stage: str = "starting"
    done: float = 0.0
    result: Any = None
    error: str | None = None
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def running(self) -> bool:
        """Whether it has not finished yet."""
        return self.finished is None


@st.cache_resource
def _jobs() -> dict[str, Job]:
    return {}


def job(key: str) -> Job | None:
    """The background job started under ``key``, if any (shared by every session)."""
    return _jobs().get(key)


def start_job(key: str, work: Callable[[Callable[[str, float], None]], Any]) -> Job:
    """Run ``work(progress)`` on a thread, unless a job under ``key`` runs or has run."""
    found = _jobs().get(key)
    if found is not None and (found.running or found.error is None):
        return found
    running = Job()

    def progress(stage: str, done: float) -> None:
        running.stage, running.done = stage, done

    def run() -> None:
        try:
            running.result = work(progress)
        except WorkbenchError as error:
            running.error = str(error)
        except Exception as error:  # shown on the page, never as a traceback
            running.error = f"{type(error).__name__}: {error}"
        finally:
            running.finished = time.monotonic()

    _jobs()[key] = running
    threading.Thread(target=run, name=f"job {key}", daemon=True).start()
    return running


def clear() -> None:
    """Forget every cached read and answer (after an import)."""
    workbench().forget()
    _answers().clear()
