"""Checkpointed projections and case-state snapshots, stored in the event store.

A `Projection` is a named function of the events. Its result is stored with the position of
the last event it covers; `refresh` brings it up to the log's head. A projection that splits
by case (``by_case`` gives rows per case, ``combine`` turns rows of any set of cases into the
result) catches up by recomputing only the cases that received events since the checkpoint,
late events included, and so always equals a full replay. Any other projection is recomputed
when the log has moved on.

Users add their own projections in three ways, and each then gets checkpointing, time travel
(it is an ordinary function of a scan) and a table in the dashboards:

- a Python function, with the `projection` decorator, in a module named by the
  ``WORKBENCH_PROJECTIONS`` environment variable (comma-separated module names)::

      @projection("orders_per_customer", description="Orders per customer")
      def orders_per_customer(events: pl.LazyFrame) -> pl.LazyFrame:
          return events.group_by("customer").agg(orders=pl.col("case_id").n_unique())

- a SQL query in the query language (`workbench.query`: DuckDB's SQL over ``events``, and
  ``cases``, ``dfg`` and ``variants`` computed from them), stored in the file with
  `define_sql` or ``workbench projections add NAME "SELECT ..."``.

Snapshots hold the folded case state (`workbench.timetravel.fold`) at chosen moments, so that
`state_at` starts from the nearest snapshot before the moment instead of the first event.
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import polars as pl

from workbench import projections as p
from workbench import timetravel
from workbench.events import WorkbenchError
from workbench.store import EventStore, from_micros, to_micros
from workbench.store.queries import check_query

Compute = Callable[[pl.LazyFrame], pl.LazyFrame | pl.DataFrame]
#: The columns every log has: what a projection is checked against in a store without logs.
_MINIMAL: Final[pl.Schema] = pl.Schema(
    {
        "position": pl.Int64(),
        "event_id": pl.String(),
        "log": pl.String(),
        "case_id": pl.String(),
        "activity": pl.String(),
        "timestamp": pl.Datetime("us", "UTC"),
        "recorded_at": pl.Datetime("us", "UTC"),
        "resource": pl.String(),
        "lifecycle": pl.String(),
    }
)


@dataclass(frozen=True)
class Projection:
    """A named projection of a log's events, checkpointed in the store."""

    name: str
    compute: Compute
    description: str = ""
    by_case: Callable[[pl.LazyFrame], pl.LazyFrame] | None = None
    combine: Callable[[pl.DataFrame], pl.LazyFrame | pl.DataFrame] | None = None
    origin: str = "built in"

    @property
    def incremental(self) -> bool:
        """Whether a refresh recomputes only the cases that changed."""
        return self.by_case is not None and self.combine is not None


class ProjectionError(WorkbenchError):
    """A projection is unknown or its definition does not run."""


_BUILT_IN: dict[str, Projection] = {}
_USER: dict[str, Projection] = {}


def _collected(frame: pl.LazyFrame | pl.DataFrame) -> pl.DataFrame:
    return frame.collect() if isinstance(frame, pl.LazyFrame) else frame


def _built_in(projection: Projection) -> None:
    _BUILT_IN[projection.name] = projection


_built_in(
    Projection(
        "directly_follows",
        p.directly_follows,
        "The directly-follows graph with frequencies and times",
        by_case=p.edge_steps,
        combine=lambda rows: p.edges_of(rows.lazy()),
    )
)
_built_in(
    Projection(
        "variants",
        p.variants,
        "Variants with their cases and durations",
        by_case=p.case_variants,
        combine=lambda rows: p.variants_of(rows.lazy()),
    )
)
_built_in(
    Projection(
        "cases",
        p.cases,
        "One row per case",
        by_case=p.case_rows,
        combine=lambda rows: p.case_table(rows).sort("case_id"),
    )
)
_built_in(
    Projection(
        "start_activities",
        p.start_activities,
        "Cases per first activity",
        by_case=p.case_ends,
        combine=lambda rows: p.ends_of(rows.lazy(), first=True),
    )
)
_built_in(
    Projection(
        "end_activities",
        p.end_activities,
        "Cases per last activity",
        by_case=p.case_ends,
        combine=lambda rows: p.ends_of(rows.lazy(), first=False),
    )
)
_built_in(
    Projection(
        "completion",
        lambda events: timetravel.completing(timetravel.activity_ends(events)),
        "The activities that complete a case (time travel's default rule)",
        by_case=timetravel.activity_ends,
        combine=lambda rows: timetravel.completing(rows.lazy()),
    )
)
DASHBOARD = ("directly_follows", "variants", "cases", "start_activities", "end_activities")


def projection(
    name: str,
    *,
    description: str = "",
    by_case: Callable[[pl.LazyFrame], pl.LazyFrame] | None = None,
    combine: Callable[[pl.DataFrame], pl.LazyFrame | pl.DataFrame] | None = None,
) -> Callable[[Compute], Compute]:
    """Register a Python function of the events as a user projection (a decorator)."""

    def register(compute: Compute) -> Compute:
        _USER[name] = Projection(
            name,
            compute,
            description or (compute.__doc__ or "").strip().split("\n")[0],
            by_case=by_case,
            combine=combine,
            origin=f"python: {compute.__module__}.{compute.__qualname__}",
        )
        return compute

    return register


def _load_modules() -> None:
    for module in filter(None, os.environ.get("WORKBENCH_PROJECTIONS", "").split(",")):
        try:
            importlib.import_module(module.strip())
        except ImportError as error:
            raise ProjectionError(
                f"WORKBENCH_PROJECTIONS names {module.strip()!r}, which cannot be imported: {error}"
            ) from error


def sql_compute(query: str, name: str = "") -> Compute:
    """A projection from a query in the query language (`workbench.query.over_events`).
    A query kept from before (written for Polars' SQL) that this language does not run is
    refused on refresh with a message that says how to write it again."""
    from workbench.query import QueryError, over_events

    def compute(events: pl.LazyFrame) -> pl.DataFrame:
        try:
            return over_events(query, events)
        except QueryError as error:
            raise ProjectionError(
                f"projection {name!r}: {error} (projections are written in the query language,"
                " DuckDB's SQL, since it came: define it again with `workbench projections add"
                f' {name} "SELECT ..."`)'
            ) from None

    return compute


def define_sql(store: EventStore, name: str, query: str, *, description: str = "") -> None:
    """Store a SQL projection; it must be one query, and it runs once here to check it."""
    from workbench.query import QueryError, over_events

    if name in _BUILT_IN:
        raise ProjectionError(f"{name!r} is a built-in projection; choose another name")
    check_query(query)
    schema = store.schema(store.log_names()[0]) if store.log_names() else _MINIMAL
    try:
        over_events(query, pl.LazyFrame(schema=schema))
    except QueryError as error:
        raise ProjectionError(f"projection {name!r}: the query does not run ({error})") from None
    store.queries.define(name, query, description=description)


def remove(store: EventStore, name: str) -> None:
    """Remove a stored SQL projection and its checkpoints."""
    if not store.queries.remove(name):
        raise ProjectionError(f"no SQL projection called {name!r}")
    for log in store.log_names():
        store.projections.forget(log, f"projection:{name}")


def registered(store: EventStore) -> dict[str, Projection]:
    """Every projection: built in, Python ones from ``WORKBENCH_PROJECTIONS``, SQL ones."""
    _load_modules()
    found = dict(_BUILT_IN)
    found.update(_USER)
    for query in store.queries.list():
        found[query.name] = Projection(
            query.name,
            sql_compute(query.query, query.name),
            query.description,
            origin=f"sql: {query.query}",
        )
    return found


def _get(store: EventStore, name: str) -> Projection:
    found = registered(store)
    if name not in found:
        raise ProjectionError(f"no projection called {name!r}; known: {', '.join(sorted(found))}")
    return found[name]


def _key(name: str) -> str:
    return f"projection:{name}"


@dataclass(frozen=True)
class Checkpoint:
    """Where a projection of a log stands."""

    log: str
    name: str
    position: int | None  # None: never computed
    head: int
    refreshed_at: datetime | None
    seconds: float | None
    incremental: bool
    description: str
    origin: str

    @property
    def lag(self) -> int:
        """Events appended since the checkpoint (all of them when never computed)."""
        return self.head - (self.position or 0)


def checkpoints(store: EventStore, log: str | None = None) -> list[Checkpoint]:
    """Every projection of every (chosen) log with its position and lag."""
    known = registered(store)
    stored = {(row.log, row.name): row for row in store.projections.list(log)}
    logs = [log] if log is not None else store.log_names()
    found = []
    for name_of_log in logs:
        head = store.head(name_of_log)
        for name, projection_ in known.items():
            row = stored.get((name_of_log, _key(name)))
            found.append(
                Checkpoint(
                    name_of_log,
                    name,
                    None if row is None else row.position,
                    head,
                    None if row is None else from_micros(row.refreshed_at),
                    None if row is None else row.seconds,
                    projection_.incremental,
                    projection_.description,
                    projection_.origin,
                )
            )
    return found


#: The events of a log as known at a position, in position order (`Read`).
Read = Callable[[int], pl.LazyFrame]


def refresh(store: EventStore, log: str, name: str, *, read: Read | None = None) -> pl.DataFrame:
    """Bring a projection of ``log`` up to the log's head and return its result."""
    return refresh_many(store, log, [name], read=read)[name]


def refresh_many(
    store: EventStore, log: str, names: Collection[str], *, read: Read | None = None
) -> dict[str, pl.DataFrame]:
    """Bring several projections of ``log`` up to its head; the events of the cases that
    changed since the oldest checkpoint are read once for all of them. A projection
    computed whole reads the log with ``read`` (the application's read model), by default
    a scan of the store."""
    chosen = {name: _get(store, name) for name in names}
    head = store.head(log)
    whole = read or (lambda position: store.scan(log, known_at=position))
    stored = {name: store.projections.load(log, _key(name)) for name in chosen}
    behind = [found[1] for found in stored.values() if found is not None and found[1] != head]
    touched: list[str] = []
    changed: pl.DataFrame | None = None
    if behind and any(projection_.incremental for projection_ in chosen.values()):
        touched = store.cases_after(log, min(behind))
        changed = store.scan(log, known_at=head, case_id=touched).collect()
    results = {}
    for name, projection_ in chosen.items():
        started = time.perf_counter()
        found = stored[name]
        if found is not None and found[1] == head:
            data = found[0]
        elif projection_.by_case is None or projection_.combine is None:
            data = _run(projection_, projection_.compute, whole(head))
        elif found is None or changed is None:
            data = _run(projection_, projection_.by_case, whole(head))
        else:
            # The cases that changed are computed again from all their events; only their
            # rows are written.
            fresh = _run(projection_, projection_.by_case, changed.lazy())
            data = store.projections.change(
                log,
                _key(name),
                fresh,
                touched,
                position=head,
                seconds=time.perf_counter() - started,
            )
            found = (data, head)
        if found is None or found[1] != head:
            store.projections.save(
                log, _key(name), data, position=head, seconds=time.perf_counter() - started
            )
        results[name] = (
            data if projection_.combine is None else _collected(projection_.combine(data))
        )
    return results


def _run(projection_: Projection, compute: Compute, events: pl.LazyFrame) -> pl.DataFrame:
    try:
        return _collected(compute(events))
    except WorkbenchError:
        raise
    except Exception as error:  # a user's function or query failed on this log
        raise ProjectionError(f"projection {projection_.name!r} failed: {error}") from error


def refresh_all(
    store: EventStore, log: str | None = None, *, read: Callable[[str], Read] | None = None
) -> Iterator[Checkpoint]:
    """Refresh every projection (and the snapshots) of every (chosen) log; ``read`` gives
    each log's `Read`."""
    for name_of_log in [log] if log is not None else store.log_names():
        source = None if read is None else read(name_of_log)
        refresh_many(store, name_of_log, list(registered(store)), read=source)
        refresh_snapshots(store, name_of_log)
    yield from checkpoints(store, log)


# ------------------------------------------------------------------ snapshots

_SNAPSHOT = "snapshot:state"


def snapshot(store: EventStore, log: str, at: datetime) -> None:
    """Store the folded state of every case at ``at``, as known at the log's head."""
    started = time.perf_counter()
    head = store.head(log)
    folded = timetravel.fold(store.scan(log, as_of=at, known_at=head)).collect()
    store.projections.save(
        log,
        _SNAPSHOT,
        folded,
        position=head,
        at=to_micros(at),
        seconds=time.perf_counter() - started,
    )


def take_snapshots(store: EventStore, log: str, *, count: int = 12) -> list[datetime]:
    """Snapshots at ``count`` evenly spaced moments over the log's time range."""
    summary = next((s for s in store.logs() if s.log == log), None)
    if summary is None or summary.first_timestamp is None or summary.last_timestamp is None:
        return []
    first, last = summary.first_timestamp, summary.last_timestamp
    moments = [first + (last - first) * (k + 1) / count for k in range(count)]
    for moment in moments:
        snapshot(store, log, moment)
    return moments


def refresh_snapshots(store: EventStore, log: str) -> None:
    """Bring every snapshot of a log up to its head: cases that received events at or before
    the snapshot's moment since it was taken are folded again."""
    head = store.head(log)
    for row in store.projections.list(log):
        if row.name != _SNAPSHOT or row.position == head:
            continue
        at = from_micros(row.at)
        stored = store.projections.load(log, _SNAPSHOT, at=row.at)
        assert stored is not None
        folded, position = stored
        touched = store.cases_after(log, position, until=at)
        fresh = timetravel.fold(store.scan(log, as_of=at, known_at=head, case_id=touched)).collect()
        store.projections.change(
            log,
            _SNAPSHOT,
            fresh.select(folded.columns) if fresh.height else folded.clear(),
            touched,
            position=head,
            at=row.at,
        )


def state_at(
    store: EventStore,
    log: str,
    at: datetime,
    *,
    known_at: datetime | int | None = None,
    completed: Collection[str] | pl.Expr | None = None,
) -> pl.DataFrame:
    """`workbench.timetravel.state_at` over the log, starting from the nearest snapshot at or
    before ``at`` when one can serve (always the same result as a replay from the start)."""
    events = store.scan(log, known_at=known_at)
    if completed is None:
        if known_at is None:
            completed = refresh(store, log, "completion")["activity"].to_list()
        else:
            completed = timetravel.completing_activities(events)
    position = store.head(log) if known_at is None else known_at
    usable = [
        row
        for row in store.projections.list(log)
        if row.name == _SNAPSHOT
        and row.at <= to_micros(at)
        and isinstance(position, int)
        and row.position <= position
    ]
    if not usable or "corrects" in events.collect_schema():  # corrections need every event
        return timetravel.state_at(events, at, completed=completed).collect()
    best = max(usable, key=lambda row: row.at)
    stored = store.projections.load(log, _SNAPSHOT, at=best.at)
    assert stored is not None
    folded, covered = stored
    moment = from_micros(best.at)
    delta = store.scan(log, as_of=at, known_at=position, after=(moment, covered))
    # Cases with late events before the snapshot's moment are folded again from the start.
    late = delta.filter(pl.col("timestamp") <= moment).select("case_id").unique().collect()
    if late.height:
        delta = pl.concat(
            [
                delta.filter(pl.col("timestamp") > moment),
                store.scan(log, as_of=moment, known_at=position, case_id=late["case_id"].to_list()),
            ]
        )
    base = folded.lazy().filter(~pl.col("case_id").is_in(late["case_id"].implode()))
    merged = timetravel.merge(base, timetravel.fold(delta))
    return timetravel.finish(merged, at, completed=completed).collect()
