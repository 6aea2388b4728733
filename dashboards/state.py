"""Shared state of the app: the open store, the chosen log and filters, and the caches.

The only module that uses Streamlit's caches. A log's events are read once per (log, head
position, filters) and kept in memory; every metric is cached on the same key plus its
options, so a rerun that changes nothing recomputes nothing, and an append (a new head
position) invalidates exactly what it changes.
"""

from __future__ import annotations

import importlib
import inspect
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, is_dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import polars as pl
import streamlit as st

from workbench.events import WorkbenchError
from workbench.filters import Cases, Filters, case_list_name
from workbench.readmodel import ReadModel, cut, decoded, decoded_lazy
from workbench.store import EventStore, LogSummary

T = TypeVar("T")

# Query-string keys that are not filters.
LOG_KEY = "log"
TIMEZONE_KEY = "tz"

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


@st.cache_resource(validate=lambda model: not model.store.closed)
def _open(location: str) -> ReadModel:
    return ReadModel(EventStore(location))


def store() -> EventStore:
    """The store, opened once per server process."""
    return _open(db_location()).store


def read_model() -> ReadModel:
    """The store's read model: events imported through the app become segments as their
    batches commit, and every page reads the log through it."""
    return _open(db_location())


def store_name() -> str:
    """The store as the app names it: a file's name, or a server URL without password."""
    found = store()
    return found.path.name if found.path is not None else found.location


def logs() -> list[LogSummary]:
    """The logs and views in the store."""
    return store().logs()


def selected_log() -> LogSummary | None:
    """The log chosen in the sidebar (kept in the URL), or the first one."""
    summaries = [s for s in logs() if s.kind != "object"]
    if not summaries:
        return None
    wanted = st.query_params.get(LOG_KEY)
    return next((s for s in summaries if s.log == wanted), summaries[0])


def query() -> dict[str, list[str]]:
    """The page's URL query (log, time zone, filters), as page links carry it on."""
    return {key: st.query_params.get_all(key) for key in st.query_params}


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
        if key not in (LOG_KEY, TIMEZONE_KEY)
    }
    try:
        return Filters.from_query(query, case_lists(st.query_params.get(LOG_KEY)))
    except (ValueError, TypeError):
        return Filters()


def case_lists(log: str | None) -> Callable[[str], list[str] | None]:
    """How a long case list in a link is found: stored with the log (`keep_cases`)."""

    def find(ref: str) -> list[str] | None:
        if not log or not store().has_log(log):
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
    """Put the filters in the URL (replacing the previous ones), keeping log and timezone."""
    kept = {key: st.query_params.get(key) for key in (LOG_KEY, TIMEZONE_KEY)}
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


class _Frames:
    """The filtered logs read so far, least recently used first, within a memory budget
    (``WORKBENCH_CACHE_MB``, by default an eighth of the machine's memory): a large log
    is held once, with the few filtered copies that fit beside it, never one per filter
    tried. A log's frames at an older head position go as soon as a newer one is read."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.frames: OrderedDict[tuple[str, str, int, str], pl.DataFrame] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[str, str, int, str], read: Callable[[], pl.DataFrame]) -> pl.DataFrame:
        with self.lock:
            if key in self.frames:
                self.frames.move_to_end(key)
                return self.frames[key]
        frame = read()
        with self.lock:
            db, log, head, _ = key
            for old in [k for k in self.frames if k[:2] == (db, log) and k[2] != head]:
                del self.frames[old]
            self.frames[key] = frame
            while len(self.frames) > 1 and self.size() > self.budget:
                self.frames.popitem(last=False)
        return frame

    def size(self) -> int:
        return sum(frame.estimated_size() for frame in self.frames.values())


def _budget() -> int:
    """Bytes the app may keep read logs in (WORKBENCH_CACHE_MB, else an eighth of memory)."""
    given = os.environ.get("WORKBENCH_CACHE_MB")
    if given and given.isdigit():
        return int(given) << 20
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 8
    except (ValueError, OSError, AttributeError):
        return 2 << 30


@st.cache_resource
def _frames() -> _Frames:
    return _Frames(_budget())


def _events(db: str, log: str, head: int, query: str) -> pl.DataFrame:
    """The log after the filters, at head position ``head`` (new events: a new entry).

    Coded: case ids, activities and resources as categoricals, which every metric sorts,
    groups and joins on as integers (`_metric` turns results back into text)."""
    return _frames().get(
        (db, log, head, query),
        lambda: read_model().read(
            log, coded=True, then=Filters.from_query(query, case_lists(log)).apply
        ),
    )


def events(log: str, chosen: Filters | None = None) -> pl.LazyFrame:
    """The log's events after the filters, in case order, read once and kept in memory."""
    chosen = filters() if chosen is None else chosen
    coded = _events(db_location(), log, store().head(log), chosen.to_query()).lazy()
    return decoded_lazy(coded)


# The modules whose metrics compute on categorical codes as they are; others get text.
_ON_CODES = frozenset(
    {
        "workbench.causality",
        "workbench.processmap",
        "workbench.projections",
        "workbench.timetravel",
    }
)


@st.cache_data(max_entries=256, show_spinner="Computing...")
def _metric(
    db: str, log: str, head: int, query: str, module: str, name: str, options: tuple[Any, ...]
) -> Any:
    function = getattr(importlib.import_module(module), name)
    keywords = dict(options)
    events = _events(db, log, head, query).lazy()
    frame = cut(
        events if module in _ON_CODES else decoded_lazy(events),
        as_of=keywords.pop("as_of", None),
        known_at=keywords.pop("known_at", None),
    )
    if "presorted" in inspect.signature(function).parameters:
        keywords["presorted"] = True
    result = function(frame, **keywords)
    return _decoded(result.collect() if isinstance(result, pl.LazyFrame) else result)


def _decoded(result: Any) -> Any:
    """A metric's result with any categorical columns back as text (in a frame, or in the
    frames of a result object such as a process map)."""
    if isinstance(result, pl.DataFrame):
        return decoded(result)
    if is_dataclass(result) and not isinstance(result, type):
        changed = {
            name: decoded(value)
            for name, value in vars(result).items()
            if isinstance(value, pl.DataFrame)
        }
        return replace(result, **changed) if changed else result
    if isinstance(result, tuple | list):
        return type(result)(_decoded(item) for item in result)
    if isinstance(result, dict):
        return {key: _decoded(value) for key, value in result.items()}
    return result


def cached(function: Callable[..., Any], log: str, **options: Any) -> Any:
    """``function(events, **options)`` over the filtered log, collected and cached.

    ``function`` must be a module-level function of a LazyFrame of events (a projection).
    The options ``as_of`` and ``known_at`` cut the events first, as `EventStore.scan` does,
    so any projection can be asked of any moment.
    """
    chosen = filters()
    return _metric(
        db_location(),
        log,
        store().head(log),
        chosen.to_query(),
        function.__module__,
        function.__name__,
        tuple(sorted(options.items())),
    )


@st.cache_data(max_entries=64, show_spinner=False)
def _distinct(db: str, log: str, head: int, name: str) -> list[str]:
    column = _events(db, log, head, "").lazy().select(pl.col(name).cast(pl.String)).drop_nulls()
    counted = column.group_by(name).len().sort(["len", name], descending=[True, False])
    return counted.head(500).collect()[name].to_list()


def distinct(log: str, name: str) -> list[str]:
    """The most common values of a column of the whole log (at most 500), for pickers."""
    return _distinct(db_location(), log, store().head(log), name)


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
    """Forget every cached read and metric (after an import)."""
    with _frames().lock:
        _frames().frames.clear()
    _metric.clear()
    _distinct.clear()


@st.cache_data(max_entries=16, show_spinner=False)
def _comparison(db: str, log: str, head: int, a: str, b: str) -> Any:
    from workbench.compare import compare

    lists = case_lists(log)
    return compare(
        events(log, Filters.from_query(a, lists)), events(log, Filters.from_query(b, lists))
    )


def comparison(log: str, a: Filters, b: Filters) -> Any:
    """`workbench.compare.compare` of two filter sets of the log, cached like the metrics."""
    return _comparison(db_location(), log, store().head(log), a.to_query(), b.to_query())


@st.cache_data(max_entries=48, show_spinner=False)
def _of_log(
    db: str, log: str, head: int, module: str, what: str, options: tuple[tuple[str, Any], ...]
) -> Any:
    return getattr(importlib.import_module(module), what)(store(), log, **dict(options))


def audit(what: str, log: str, **options: Any) -> Any:
    """`workbench.restatements` ``restatements``, ``changes``, ``lateness`` or
    ``provisional`` of the whole log (the history of imports is the log's, not a
    filter's), cached per head."""
    key = tuple(sorted(options.items()))
    return _of_log(db_location(), log, store().head(log), "workbench.restatements", what, key)


@st.cache_data(max_entries=8, show_spinner=False)
def _animation(
    db: str, log: str, head: int, query: str, start: datetime, end: datetime, known: int | None
) -> str:
    from workbench.animation import animate, to_html

    found = animate(
        events(log, Filters.from_query(query, case_lists(log))), start, end, known_at=known
    )
    return to_html(found, title=f"{log}: {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC")


def animation(log: str, start: datetime, end: datetime, known: int | None) -> str:
    """The animation page (`workbench.animation.to_html`) of the filtered log's window."""
    return _animation(
        db_location(), log, store().head(log), filters().to_query(), start, end, known
    )


def objects(what: str, log: str, **options: Any) -> Any:
    """`workbench.objectcentric` ``ocdfg``, ``convergence`` or ``lifecycle`` of an OCEL log,
    cached per head."""
    key = tuple(sorted(options.items()))
    return _of_log(db_location(), log, store().head(log), "workbench.objectcentric", what, key)
