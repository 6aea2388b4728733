"""The application: one object under the `workbench` command and the app.

`Workbench` owns what both faces used to assemble for themselves: the store, its read
model, the engine (Polars or Spark), the ingest ledger, the alert rules, and what happens
after events are committed (the read model catches up, the rules are checked). Its verbs
take a log, a `Cut` and `Filters` and return Polars frames or frozen records, so that a
figure has one definition: the CLI prints what a verb returns, and a page draws it.

>>> import tempfile
>>> from pathlib import Path
>>> from datetime import datetime
>>> from workbench import Event
>>> bench = Workbench(Path(tempfile.mkdtemp()) / "demo.db")
>>> _ = bench.store.append("demo", "c1", [Event("a", datetime(2024, 1, 1)),
...                                       Event("b", datetime(2024, 1, 3))])
>>> bench.summary("demo").median
datetime.timedelta(days=2)
>>> bench.close()

Events are read in case order (case, time, position): first cut (`Cut`: as the log was at a
moment, as it was known at another), then filtered (`Filters`), so a filter judges a case
by what had happened, and was known, by then.
"""

from __future__ import annotations

import copy
import functools
import inspect
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, is_dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from workbench.caching import BoundedCache
from workbench.events import UnknownLog, WorkbenchError, parse_time
from workbench.filters import Attribute, Filters
from workbench.projections import START
from workbench.readmodel import ReadModel, cut, decoded, decoded_lazy
from workbench.store import EventStore, Firing, LogSummary
from workbench.store import calendars as calendars_store
from workbench.summary import SUMMARIZED, Summary, summarize

if TYPE_CHECKING:
    from ingest.jobs import Summary as ImportSummary
    from workbench.access import Access, User
    from workbench.alerts import Alerts
    from workbench.animation import Animation
    from workbench.bounded import Limit
    from workbench.calendars import Calendar, Hours
    from workbench.causes import Causes, Outcome
    from workbench.checkpoints import Checkpoint
    from workbench.compare import Comparison
    from workbench.mining import Analysis, Conformance
    from workbench.models import Model
    from workbench.objectcentric import ObjectCentricMap, ObjectLifecycle
    from workbench.predictions import Backtest, Predictions
    from workbench.processmap import ProcessMap
    from workbench.query import Answer, Version
    from workbench.restatements import ImportChanges
    from workbench.rules import Checked, Rule
    from workbench.skeleton import Skeleton, SkeletonCheck
    from workbench.spectrum import Spectrum
    from workbench.temporal_profile import Gap, ProfileCheck
    from workbench.timetravel import Diff

Engine = Literal["polars", "spark"]
ENGINES: tuple[Engine, ...] = ("polars", "spark")


#: The calendar name that asks for elapsed time where a log has a default calendar.
ELAPSED = "elapsed"
ASSIGNED = calendars_store.ASSIGNED


class BadArgument(WorkbenchError):
    """An argument a face passed that cannot be used as given; the message names it."""


@dataclass(frozen=True)
class Cut:
    """Which version of the log: as it happened up to ``as_of`` (valid time), as the store
    knew it at ``known_at`` (transaction time: a moment, or a position).

    >>> Cut.parse(as_of="2024-03-01", known_at="1200")
    Cut(as_of=datetime.datetime(2024, 3, 1, 0, 0, tzinfo=datetime.timezone.utc), known_at=1200)
    >>> bool(Cut())
    False
    """

    as_of: datetime | None = None
    known_at: datetime | int | None = None

    @classmethod
    def parse(
        cls,
        *,
        as_of: str | None = None,
        known_at: str | None = None,
        names: tuple[str, str] = ("--as-of", "--known-at"),
    ) -> Cut:
        """A cut from text (ISO 8601 moments; a ``known_at`` of digits is a position);
        ``names`` say what to call the two in a message."""
        return cls(
            None if as_of is None else moment(as_of, names[0]),
            None if known_at is None else known(known_at, names[1]),
        )

    def apply(self, events: pl.LazyFrame) -> pl.LazyFrame:
        """The events this cut keeps."""
        return cut(events, as_of=self.as_of, known_at=self.known_at)

    def __bool__(self) -> bool:
        return self.as_of is not None or self.known_at is not None

    def describe(self) -> list[str]:
        """The cut in words, a part each."""
        parts = []
        if self.as_of is not None:
            parts.append(f"as of {self.as_of.isoformat()}")
        if isinstance(self.known_at, datetime):
            parts.append(f"as known at {self.known_at.isoformat()}")
        elif self.known_at is not None:
            parts.append(f"as known at position {self.known_at:,}")
        return parts


def moment(text: str, name: str) -> datetime:
    """An ISO 8601 moment (UTC when it has no offset), or `BadArgument` naming ``name``."""
    try:
        return parse_time(text)
    except ValueError:
        raise BadArgument(
            f"{name} {text!r} is not an ISO 8601 time (e.g. 2024-03-01 or 2024-03-01T09:30+01:00)"
        ) from None


def known(text: str, name: str = "--known-at") -> datetime | int:
    """A transaction-time cut: a position (all digits) or a moment."""
    return int(text) if text.isdigit() else moment(text, name)


@dataclass(frozen=True)
class Imported:
    """What an import did (the ingest job's summary) and the alerts it fired."""

    summary: ImportSummary
    fired: list[Firing]


class Workbench:
    """A store and everything derived from it, behind typed verbs (see the module).

    ``segments`` is the read model's folder (by default beside a SQLite file, or
    ``WORKBENCH_SEGMENTS``); ``engine`` computes `summary`, `dfg` and `state` on Polars or on
    Spark (at ``spark_master``), with the same results; ``cache_bytes`` keeps read logs in
    memory across calls (the app), where 0 reads each time with the cut pushed into the read
    (a command that asks once); ``memory`` is the ceiling of a bounded computation (mining),
    by default half of this machine's memory, at most 8 GB.
    """

    def __init__(
        self,
        location: str | Path,
        *,
        timeout: float = 60.0,
        segments: Path | str | None = None,
        engine: Engine = "polars",
        spark_master: str | None = None,
        cache_bytes: int = 0,
        memory: int | None = None,
    ) -> None:
        self.location = str(location)
        self.memory = memory
        self.timeout = timeout
        self.segments = segments
        self.engine: Engine = "polars"
        self.spark_master: str | None = None
        self.use(engine, spark_master)
        self._frames: BoundedCache[pl.DataFrame] | None = (
            BoundedCache(cache_bytes) if cache_bytes else None
        )
        self._store: EventStore | None = None
        self._model: ReadModel | None = None
        self._alerts: Alerts | None = None
        self._predicted: dict[tuple[Any, ...], Predictions] = {}  # the last few made
        self._lock = threading.RLock()
        self._assignments: dict[tuple[object, ...], Hours | None] = {}  # the last few built
        self.user: User | None = None  # who acts through it (None: no logins; `acting`)

    # ------------------------------------------------------------------ what it owns

    @property
    def store(self) -> EventStore:
        """The event store, opened on first use."""
        with self._lock:
            if self._store is None:
                self._store = EventStore(self.location, timeout=self.timeout)
            return self._store

    @property
    def model(self) -> ReadModel:
        """The read model: events committed while it is open become segments as they
        commit, and every verb reads logs through it."""
        with self._lock:
            if self._model is None:
                self._model = ReadModel(self.store, self.segments, cache=self._frames)
            return self._model

    @property
    def alerts(self) -> Alerts:
        """The alert rules of the store: one object, so that what its ``violates`` rules
        follow (each case's state) is kept from one check to the next."""
        from workbench.alerts import Alerts

        with self._lock:
            if self._alerts is None:
                self._alerts = Alerts(self.store)
            return self._alerts

    @property
    def closed(self) -> bool:
        """Whether `close` was called (or the store was closed)."""
        return self._store is not None and self._store.closed

    def use(self, engine: str, spark_master: str | None = None) -> None:
        """Compute on this engine from now on (``polars`` or ``spark``)."""
        if engine not in ENGINES:
            raise BadArgument(f"--engine {engine!r}: choose polars or spark")
        self.engine = engine
        self.spark_master = spark_master

    def close(self) -> None:
        """Write what the read model holds back, and close the store."""
        with self._lock:
            if self._model is not None:
                self._model.flush()
                self._model = None
            if self._store is not None:
                self._store.close()
                self._store = None

    def __enter__(self) -> Workbench:
        return self

    # ------------------------------------------------------------------ who acts

    def acting(self, user: User | None) -> Workbench:
        """This application as ``user`` uses it: the same store, read model and caches,
        with what the user's role does not allow refused (`workbench.access.Denied`): a
        viewer reads; an analyst also imports; an admin also drops logs. None: nobody
        logged in (a workbench without logins, a command typed on its machine), which may
        do everything. Close the application, not the view."""
        if user == self.user:
            return self
        self.model  # noqa: B018  (open the store and read model here, so that views share them)
        view = copy.copy(self)
        view.user = user
        return view

    @property
    def actor(self) -> str:
        """Who the audit trail names for what is done through this: the user, or the
        machine's user (see `acting`)."""
        from workbench.access import local_actor

        return self.user.name if self.user is not None else local_actor()

    def authorize(self, role: str, doing: str) -> None:
        """Refuse (`workbench.access.Denied`) what the acting user's role does not allow:
        ``doing`` needs ``role``."""
        from workbench.access import require

        require(self.user, role, doing)

    def authorize_on(self, log: str, role: str, doing: str) -> None:
        """`authorize`, on a log whose grants may lower the acting user's role on it."""
        from workbench.access import ROLES, Denied, require

        require(self.user, role, doing)
        if self.user is None:
            return
        mine = self._access.role_on(self.user, log)
        if mine is None:
            raise UnknownLog(log)
        if ROLES.index(mine) < ROLES.index(role):
            raise Denied(
                f"{self.user.name} may see {log!r} as a {mine}: {doing} needs the {role} role"
            )

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ logs

    def logs(self) -> list[LogSummary]:
        """The logs and views of the store that the acting user may see."""
        found = self.store.logs()
        seen = self.visible([summary.log for summary in found])
        return [summary for summary in found if summary.log in seen]

    def log(self, name: str) -> LogSummary:
        """One log's (or view's) entry; `UnknownLog` when there is none (or the acting user
        may not see it)."""
        self._see(name)
        return self.store.summary(name)

    def has_log(self, name: str) -> bool:
        """Whether the store has this log or view, and the acting user may see it."""
        return self.store.has_log(name) and name in self.visible([name])

    def visible(self, logs: Collection[str]) -> set[str]:
        """Of these log names, those the acting user may see (all, without one)."""
        if self.user is None:
            return set(logs)
        roles = self._access.roles_on(self.user, logs)
        return {log for log, role in roles.items() if role is not None}

    def _see(self, log: str) -> None:
        """Refuse a log the acting user may not see as if it did not exist (`UnknownLog`):
        a restricted log is not there for them, in a list, by a link or by its name."""
        if self.user is not None and self._access.role_on(self.user, log) is None:
            raise UnknownLog(log)

    @property
    def _access(self) -> Access:
        from workbench.access import Access

        return Access(self.store)

    def head(self, log: str) -> int:
        """The position of the log's last event: what a cached answer is keyed on."""
        return self.store.head(log)

    # ------------------------------------------------------------------ events

    def events(
        self,
        log: str,
        cut: Cut = Cut(),
        filters: Filters = Filters(),  # noqa: B008
        *,
        coded: bool = False,
    ) -> pl.LazyFrame:
        """The log's events after the cut, then the filters, in case order (case, time,
        position). With ``coded``, case ids, activities and resources are categoricals."""
        self._check(log, filters)
        if self._frames is None:
            frame = self.model.read(
                log, as_of=cut.as_of, known_at=cut.known_at, coded=coded, then=filters.apply
            ).lazy()
            return frame
        head = self.store.head(log)
        kept = filters.on_cases() if filters else None
        if cut or kept is not None:
            frame = cut.apply(self._held(log, head, Filters()))
            if kept is not None:  # whole cases: those of the case rows that pass
                frame = frame.filter(self._keeping(log, cut, kept))
            else:
                frame = filters.apply(frame)
        else:
            frame = self._held(log, head, filters)
        return frame if coded else decoded_lazy(frame)

    def _keeping(self, log: str, cut: Cut, kept: pl.Expr) -> pl.Expr:
        """Whether an event of the log after the cut belongs to a case that ``kept`` keeps
        (an expression over its case rows, `Filters.on_cases`): looked up by the code of its
        case id in a table of the cases, seven times as fast as a join on ten million
        events, and a filter the held events take before their ids are read."""
        rows = self.case_rows(log, cut)
        if rows["case_id"].dtype != pl.Categorical:
            return pl.col("case_id").is_in(rows.filter(kept)["case_id"].implode())
        codes = rows.select(pl.col("case_id").to_physical(), keep=kept.fill_null(False))
        # One past the highest code: any code of no case here looks that up, not kept.
        beyond = int(codes["case_id"].max() or 0) + 1  # type: ignore[arg-type]
        table = pl.zeros(beyond + 1, pl.Boolean, eager=True).scatter(
            codes["case_id"], codes["keep"]
        )
        return pl.lit(table).gather(pl.min_horizontal(pl.col("case_id").to_physical(), beyond))

    def _held(self, log: str, head: int, filters: Filters) -> pl.LazyFrame:
        """The log's events up to ``head``, filtered, with codes, as the app holds them: in
        memory but for the ids that are unique per event (`HELD_APART`), which are read
        from the read model only when a query asks for them, in the same order (at 10 M
        events they take 0.9 of the 2.3 GB the whole frame takes once read)."""
        schema = self.store.schema(log)
        apart = [name for name in HELD_APART if name in schema]

        def narrow(events: pl.LazyFrame) -> pl.LazyFrame:
            return filters.apply(events).drop(*apart, "log")

        def read() -> pl.DataFrame:
            found = self.model.read(log, coded=True, then=narrow)
            if found.height and found["position"].max() > head:  # type: ignore[operator]
                # Appended since the head was read: cut, and in one chunk per column (a
                # frame whose columns are chunked apart is copied whole by an eager select).
                found = found.filter(pl.col("position") <= head).rechunk()
            return found

        held = self._frames.get((log, head, filters.to_query()), read)  # type: ignore[union-attr]
        model = self.model

        def ids(
            names: list[str], rows: pl.Series | None, where: pl.Expr | None = None
        ) -> pl.DataFrame:
            scanned = filters.apply(model.scan(log, known_at=head, coded=True))
            if where is not None:  # read by the segment where it holds (by its statistics)
                return scanned.filter(where).select("position", *names).collect()
            if rows is None:
                return scanned.select(names).collect()
            if rows.is_empty():
                return scanned.select(names).clear().collect()
            if filters:  # the rows of a filtered log are not those of its segment
                return scanned.select(names).collect()[rows]
            # Only the rows between the first and the last asked for are read (the events
            # of one case are next to each other: a few pages of the segment).
            first, last = int(rows.min()), int(rows.max())  # type: ignore[arg-type]
            return scanned.slice(first, last - first + 1).select(names).collect()[rows - first]

        return _held_apart(held, log, schema.names(), apart, ids)

    def _whole(self, log: str) -> pl.LazyFrame:
        """The whole log, uncut and unfiltered, with codes: what the audit of imports reads
        (from the read model, and from memory in the app), not a scan of the store."""
        return self.events(log, coded=True)

    def _check(self, log: str, filters: Filters) -> None:
        """Refuse a filter on an attribute the log does not have (the log's schema is read
        only when a filter names an attribute)."""
        named = [item.name for item in filters.items if isinstance(item, Attribute)]
        if not named:
            return
        schema = self.store.schema(log)
        for name in named:
            if name not in schema:
                raise BadArgument(f"{log}: the log has no attribute {name!r} to filter on")

    def forget(self, log: str | None = None) -> None:
        """Drop what is held in memory of a log, or of every log (it is read again on the
        next call)."""
        if self._frames is not None:
            self._frames.clear(log)

    def metric(
        self,
        log: str,
        function: Callable[..., Any],
        cut: Cut = Cut(),
        filters: Filters = Filters(),  # noqa: B008
        **options: Any,
    ) -> Any:
        """``function(events, **options)`` over the cut and filtered log, collected, with
        categorical columns back as text: any projection (a function of a LazyFrame of
        events in case order) asked of any version of the log."""
        of_cases = getattr(function, "of_cases", None)
        if of_cases is not None:
            options.pop("presorted", None)
            rows = of_cases(self.case_rows(log, cut, filters).lazy(), **options)
            return _decoded(rows.collect() if isinstance(rows, pl.LazyFrame) else rows)
        coded = getattr(function, "on_codes", False)
        if "presorted" in inspect.signature(function).parameters:
            options["presorted"] = True

        def compute(events: pl.LazyFrame) -> Any:
            result = function(events, **options)
            return _decoded(result.collect() if isinstance(result, pl.LazyFrame) else result)

        if self._frames is None:  # a command: read only the columns the function uses
            self._check(log, filters)
            return self.model.over(
                log,
                lambda events: compute(filters.apply(events)),
                as_of=cut.as_of,
                known_at=cut.known_at,
                coded=coded,
            )
        return compute(self.events(log, cut, filters, coded=coded))

    def case_rows(
        self,
        log: str,
        cut: Cut = Cut(),
        filters: Filters = Filters(),  # noqa: B008
    ) -> pl.DataFrame:
        """One row per case of the cut and filtered log, with codes (`projections
        .case_rows`): what the case table, the variants, the start and end activities and
        work in progress are computed from. Without filters they come from the read model's
        stored rows, and filters that keep or drop whole cases (`Filters.on_cases`) select
        among them; other filters are applied to the events."""
        from workbench import projections

        self._check(log, filters)
        kept = filters.on_cases() if filters else None
        if kept is not None:  # filters on whole cases: the rows that pass
            return self.case_rows(log, cut).filter(kept)

        def compute() -> pl.DataFrame:
            if filters:
                events = self.events(log, cut, filters, coded=True)
                return projections.case_rows(events, presorted=True).collect()
            return self.model.case_rows(log, as_of=cut.as_of, known_at=cut.known_at)

        if self._frames is None:
            return compute()
        key = (log, self.store.head(log), f"cases\0{cut!r}\0{filters.to_query()}")
        return self._frames.get(key, compute)

    def distinct(self, log: str, column: str, *, limit: int = 500) -> list[str]:
        """The most common values of a column of the whole log, for pickers."""
        values = self.events(log, coded=True).select(pl.col(column).cast(pl.String)).drop_nulls()
        counted = values.group_by(column).len().sort(["len", column], descending=[True, False])
        return counted.head(limit).collect()[column].to_list()

    def timed(self, log: str) -> bool:
        """Whether the log has times (False: imported with ``--no-times``)."""
        return self.store.summary(log).timed

    # ------------------------------------------------------------------ the verbs

    def summary(
        self,
        log: str,
        cut: Cut = Cut(),
        filters: Filters = Filters(),  # noqa: B008
        *,
        top: int = 5,
        calendar: str | None = None,
    ) -> Summary:
        """Counts, case durations, rework, top variants, start and end activities. With a
        ``calendar`` (its name), case durations are working time, by the calendar as the
        store knew it at the cut's ``known_at`` (now, without one)."""
        from workbench import projections

        timed = self.timed(log)
        hours = self.hours(log, calendar, cut)
        if self.engine == "spark":
            from workbench.engines import spark

            on_spark = spark.prepared(self._on_spark(log, cut, filters))
            per_case = spark.persisted(spark.per_case(on_spark))
            try:
                return summarize(
                    spark.cases(on_spark, self.store.schema(log), rows=per_case),
                    spark.variants(on_spark, rows=per_case),
                    activities=spark.distinct_activities(on_spark),
                    starts=spark.start_activities(on_spark, rows=per_case),
                    ends=spark.end_activities(on_spark, rows=per_case),
                    timed=timed,
                    top=top,
                    calendar=hours,
                )
            finally:
                spark.release(per_case, on_spark)
        rows = self.case_rows(log, cut, filters)
        ends = projections.ends_of_cases(rows.lazy())
        variants = decoded(projections.variants.of_cases(rows.lazy()).collect())  # type: ignore[attr-defined]
        return summarize(
            decoded(rows.select(SUMMARIZED)),  # not every column: decoding costs
            variants,
            activities=variants["variant"].explode().drop_nulls().n_unique(),
            starts=decoded(projections.ends_of(ends, first=True).collect()),
            ends=decoded(projections.ends_of(ends, first=False).collect()),
            timed=timed,
            top=top,
            calendar=hours,
        )

    def cases(
        self,
        log: str,
        cut: Cut = Cut(),
        filters: Filters = Filters(),  # noqa: B008
    ) -> pl.DataFrame:
        """One row per case (`projections.cases`)."""
        from workbench import projections

        return self.metric(log, projections.cases, cut, filters)  # type: ignore[no-any-return]

    def variants(
        self,
        log: str,
        cut: Cut = Cut(),
        filters: Filters = Filters(),  # noqa: B008
    ) -> pl.DataFrame:
        """Variants with their cases and share (`projections.variants`)."""
        from workbench import projections

        return self.metric(log, projections.variants, cut, filters)  # type: ignore[no-any-return]

    def activities(
        self,
        log: str,
        cut: Cut = Cut(),
        filters: Filters = Filters(),  # noqa: B008
        *,
        calendar: str | None = None,
    ) -> pl.DataFrame:
        """Per activity: its instances, cases and resources, and its service and waiting
        times (`projections.activities`); with a ``calendar`` (its name), in working time by
        the calendar as the store knew it at the cut's ``known_at``."""
        from workbench import projections

        hours = self.hours(log, calendar, cut)
        if self.engine == "spark":
            from workbench.engines import spark

            on_spark = spark.prepared(self._on_spark(log, cut, filters))
            try:
                return spark.activities(on_spark, calendar=hours)
            finally:
                spark.release(on_spark)
        found: pl.DataFrame = self.metric(log, projections.activities, cut, filters, calendar=hours)
        return found

    def dfg(
        self,
        log: str,
        cut: Cut = Cut(),
        filters: Filters = Filters(),  # noqa: B008
        *,
        activities: float = 100,
        paths: float = 100,
        calendar: str | None = None,
        times: bool = True,
    ) -> ProcessMap:
        """The process map (directly-follows graph) at these detail levels (percent); with a
        ``calendar`` (its name), its times are working time, by the calendar as the store
        knew it at the cut's ``known_at``. Without ``times``, a map of frequencies: its
        edges' times are null (on Polars; Spark computes them anyway)."""
        from workbench.processmap import assemble, map_of_cases, process_map

        for name, value in (("--detail", activities), ("--paths", paths)):
            if not 0 <= value <= 100:
                raise BadArgument(f"{name} {value:g}: give a percentage from 0 to 100")
        hours = self.hours(log, calendar, cut)
        if self.engine == "spark":
            from pyspark.sql import functions as F

            from workbench.engines import spark

            read = spark.prepared(self._on_spark(log, cut, filters))
            on_spark = read
            try:
                if activities < 100:
                    on_spark = on_spark.where(
                        F.col("activity").isin(spark.covering(on_spark, activities))
                    )
                rows = spark.persisted(spark.per_case(on_spark))
                try:
                    return assemble(
                        spark.activity_counts(on_spark),
                        spark.directly_follows(on_spark, calendar=hours),
                        spark.start_activities(on_spark, rows=rows),
                        spark.end_activities(on_spark, rows=rows),
                        paths=paths,
                        calendar=hours,
                    )
                finally:
                    spark.release(rows)
            finally:
                spark.release(read)
        if self._of_cases(log, filters) and not times and activities >= 100:
            counted: ProcessMap = _decoded(
                map_of_cases(self._case_rows_at(log, cut).lazy(), paths=paths)
            )
            return counted
        found: ProcessMap = self.metric(
            log,
            process_map,
            cut,
            filters,
            activities=activities,
            paths=paths,
            calendar=hours,
            times=times,
        )
        return found

    def bottlenecks(
        self,
        log: str,
        cut: Cut = Cut(),
        filters: Filters = Filters(),  # noqa: B008
        *,
        calendar: str | None = None,
    ) -> pl.DataFrame:
        """Paths and activities ranked by waiting time (`projections.bottlenecks`); with a
        ``calendar`` (its name), in working time."""
        from workbench import projections

        hours = self.hours(log, calendar, cut)
        found: pl.DataFrame = self.metric(
            log, projections.bottlenecks, cut, filters, calendar=hours
        )
        return found

    def state(
        self,
        log: str,
        at: datetime,
        cut: Cut = Cut(),
        filters: Filters = Filters(),  # noqa: B008
        *,
        completed: Collection[str] | None = None,
        calendar: str | None = None,
    ) -> pl.DataFrame:
        """Every case as it stood at ``at`` (as known at the cut's ``known_at``): status,
        last activity, events, elapsed and idle time, rework, attributes. Without filters,
        from the read model's folded rows (the same result as a replay). With a
        ``calendar`` (its name), elapsed and idle time are working time, by the calendar as
        the store knew it at the cut's ``known_at``, and each row names it."""
        found = self._state(log, at, cut, filters, completed)
        hours = self.hours(log, calendar, cut)
        if hours is None:
            return found
        from workbench.timetravel import in_working_time

        return in_working_time(found, at, hours).with_columns(calendar=pl.lit(hours.name))

    def _state(
        self,
        log: str,
        at: datetime,
        cut: Cut,
        filters: Filters,
        completed: Collection[str] | None,
    ) -> pl.DataFrame:
        from workbench import checkpoints, timetravel

        chosen = list(completed) if completed else None
        if self.engine == "spark":
            from workbench.engines import spark

            on_spark = spark.prepared(self._on_spark(log, Cut(known_at=cut.known_at), filters))
            try:
                schema = self.store.schema(log)
                return spark.state_at(on_spark, at, completed=chosen, schema=schema)
            finally:
                spark.release(on_spark)
        if self._by_folding(log, filters):
            # Per-case rows: the cases that had ended by then as stored, the others folded
            # again from their events by then.
            moment = Cut(as_of=at, known_at=cut.known_at)
            held = None if self._frames is None else self.events(log, moment, coded=True)
            folded = self.model.folded(log, as_of=at, known_at=cut.known_at, events=held)
            rule = chosen or self._completing(log, Cut(known_at=cut.known_at))
            found: pl.DataFrame = timetravel.finish(folded.lazy(), at, completed=rule).collect()
            return _decoded(found)  # type: ignore[no-any-return]
        if not filters and self._frames is None:
            return checkpoints.state_at(
                self.store, log, at, known_at=cut.known_at, completed=chosen
            )
        found = self.metric(
            log, timetravel.state_at, Cut(known_at=cut.known_at), filters, at=at, completed=chosen
        )
        return found

    def _of_cases(self, log: str, filters: Filters) -> bool:
        """Whether a map of frequencies comes from per-case rows: on Polars, without
        filters, of a log without intervals (whose steps go in the order of their starts,
        not of their variants)."""
        return self.engine == "polars" and not filters and START not in self.store.schema(log)

    def _case_rows_at(self, log: str, cut: Cut) -> pl.DataFrame:
        """`case_rows` of the cut, unfiltered. At a moment (``as_of``: a time travel's)
        from the read model with the app's events by then, and not kept: a frame per moment
        would crowd the log's out of the cache."""
        if cut.as_of is None:
            return self.case_rows(log, cut)
        held = None if self._frames is None else self.events(log, cut, coded=True)
        return self.model.case_rows(log, as_of=cut.as_of, known_at=cut.known_at, events=held)

    def _by_folding(self, log: str, filters: Filters) -> bool:
        """Whether the state at a moment comes from the read model's folded rows: on Polars,
        without filters, and without corrections (which need every event)."""
        return self.engine == "polars" and not filters and "corrects" not in self.store.schema(log)

    def _completing(self, log: str, cut: Cut) -> list[str]:
        """The default completion rule of the log by the cut, from its case rows."""
        from workbench import timetravel

        return timetravel.completing_of_cases(self.case_rows(log, cut).lazy())

    def restated(
        self,
        log: str,
        at: datetime,
        cut: Cut = Cut(),
        filters: Filters = Filters(),  # noqa: B008
    ) -> pl.DataFrame:
        """The cases that look different at ``at`` now than they did as known at the cut's
        ``known_at``: what late events changed (`timetravel.restated`)."""
        from workbench import timetravel

        return timetravel.restated(
            self.state(log, at, cut, filters), self.state(log, at, Cut(), filters)
        )

    def corrections(
        self,
        log: str,
        cut: Cut = Cut(),
        filters: Filters = Filters(),  # noqa: B008
    ) -> pl.DataFrame:
        """The events by the cut that supersede an earlier one (`timetravel.corrections`).
        In the app, of a log whose corrections are found by their times alone (no
        ``corrects``), among the events the whole log has tied, found once: a cut or a
        filter unties events, never ties them."""
        from workbench import timetravel

        schema = self.store.schema(log)
        if self._frames is None or "corrects" in schema or "causation_id" not in schema:
            return self.metric(log, timetravel.corrections, cut, filters)  # type: ignore[no-any-return]

        def tied_in_the_log() -> pl.DataFrame:
            whole = self.events(log, coded=True)
            return timetravel.tied_positions(whole, presorted=True).collect()

        tied = self._frames.get((log, self.store.head(log), "tied"), tied_in_the_log)
        events = self.events(log, cut, filters, coded=True)
        candidates = events.filter(pl.col("position").is_in(tied["position"].implode()))
        return _decoded(timetravel.corrections(candidates, presorted=True))  # type: ignore[no-any-return]

    def diff(
        self,
        log: str,
        t1: datetime,
        t2: datetime,
        cut: Cut = Cut(),
        filters: Filters = Filters(),  # noqa: B008
        *,
        completed: Collection[str] | None = None,
    ) -> Diff:
        """What changed between two moments (`timetravel.diff`)."""
        from workbench import projections, timetravel

        if t2 < t1:
            raise BadArgument(f"the second moment {t2.isoformat()} is before the first")
        chosen = list(completed) if completed else None
        if self._by_folding(log, filters) and cut.as_of is None:
            # The states from folded rows, the maps as of each moment: no fold of the log.
            known = Cut(known_at=cut.known_at)
            rule = chosen or self._completing(log, known)
            before, after = (self.state(log, t, known, completed=rule) for t in (t1, t2))
            edges = [
                self.metric(log, projections.directly_follows, Cut(as_of=t, known_at=cut.known_at))
                for t in (t1, t2)
            ]
            return timetravel.diff_of(before, after, *edges)
        found: Diff = self.metric(
            log, timetravel.diff, cut, filters, t1=t1, t2=t2, completed=chosen
        )
        return found

    def compare(
        self,
        log: str,
        a: Filters,
        b: Filters,
        cut: Cut = Cut(),
        *,
        calendar: str | None = None,
    ) -> Comparison:
        """Two groups of cases of one log side by side (`workbench.compare`): each group is
        the log after the cut and its own filters; both KPIs are `Summary` figures. A group
        without cases gets a note, naming the attribute values that never occur. With a
        ``calendar`` (its name), durations and waiting times are its working time."""
        from workbench.compare import compare

        hours = self.hours(log, calendar, cut)
        found = compare(self.events(log, cut, a), self.events(log, cut, b), calendar=hours)
        notes = []
        for name, side, kpis in (("A", a, found.a), ("B", b, found.b)):
            if kpis["cases"]:
                continue
            missing = []
            for item in side.items:
                if isinstance(item, Attribute):
                    known = set(self.distinct(log, item.name, limit=1_000_000))
                    missing += [f"{item.name} {v!r}" for v in item.values if v not in known]
            why = f": {', '.join(missing)} never occurs in the log" if missing else ""
            notes.append(f"group {name} has no cases{why}")
        return replace(found, notes=tuple(notes))

    def animation(
        self,
        log: str,
        start: datetime,
        end: datetime,
        cut: Cut = Cut(),
        filters: Filters = Filters(),  # noqa: B008
        *,
        frames: int = 240,
        calendar: str | None = None,
    ) -> Animation:
        """Cases moving as tokens along the process map over a window; with the cut's
        ``known_at``, moves the store did not know then are ghosts until their recording;
        with a ``calendar`` (its name), the clock runs in its working time."""
        from workbench.animation import animate

        if end <= start:
            raise BadArgument(f"the window's end {end.isoformat()} is not after its start")
        if not 2 <= frames <= 5_000:
            raise BadArgument(f"--frames {frames}: give 2 to 5,000")
        events = self.events(log, Cut(as_of=cut.as_of), filters)
        hours = self.hours(log, calendar, cut)
        return animate(events, start, end, frames=frames, known_at=cut.known_at, calendar=hours)

    def timeline(
        self,
        log: str,
        case_id: str,
        cut: Cut = Cut(),
        *,
        calendar: str | None = None,
    ) -> pl.DataFrame:
        """One case's events in order with waiting, service and elapsed time and the critical
        path (`causality.timeline`); with a ``calendar`` (its name), in working time."""
        from workbench import causality

        hours = self.hours(log, calendar, cut)
        found: pl.DataFrame = self.metric(
            log, causality.timeline, cut, case_id=case_id, calendar=hours
        )
        return found

    def spectrum(
        self,
        log: str,
        segments: Sequence[tuple[str, str]] = (),
        cut: Cut = Cut(),
        filters: Filters = Filters(),  # noqa: B008
        *,
        every: str | None = None,
        calendar: str | None = None,
        color: str | None = None,
    ) -> Spectrum:
        """The performance spectrum through ``segments`` (pairs of activities; by default
        the three most frequent paths of the map), of the cases the filters keep, as they
        happened by the cut's ``as_of``; with its ``known_at``, the passages the store did not
        know then are ghosts. Durations in a ``calendar``'s working time, if one is named;
        lines coloured by the attribute ``color`` at their first event, if one is named."""
        from workbench.spectrum import spectrum

        hours = self.hours(log, calendar, cut)
        known = Cut(as_of=cut.as_of)
        if not segments:
            edges = self.dfg(log, known, filters).edges.head(3)
            segments = list(zip(edges["source"], edges["target"], strict=True))
        activities = set(self.distinct(log, "activity", limit=100_000))
        for source, target in segments:
            for name in (source, target):
                if name not in activities:
                    raise BadArgument(f"{log}: no activity {name!r} (see `workbench activities`)")
        if color is not None and color not in self.store.schema(log):
            raise BadArgument(f"{log}: the log has no attribute {color!r} to colour by")
        events = self.events(log, known, filters)
        return spectrum(
            events, segments, every=every, known_at=cut.known_at, calendar=hours, color=color
        )

    # ------------------------------------------------------------------ the history of imports

    def restatements(
        self,
        log: str,
        filters: Filters = Filters(),  # noqa: B008
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        calendar: str | None = None,
    ) -> pl.DataFrame:
        """How each import restated a period's figures, for the cases ``filters`` keep as
        known after each import; with a ``calendar`` (its name), durations in its working
        time."""
        from workbench import restatements

        return restatements.restatements(
            self.store,
            log,
            start=start,
            end=end,
            filters=filters,
            events=self._whole(log),
            calendar=self.hours(log, calendar, Cut()),
        )

    def changes(
        self,
        log: str,
        filters: Filters = Filters(),  # noqa: B008
        *,
        known_at: int,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> ImportChanges:
        """What one import (known at its last position) changed in a period."""
        from workbench import restatements

        found = restatements.changes(
            self.store,
            log,
            known_at=known_at,
            start=start,
            end=end,
            filters=filters,
            events=self._whole(log),
        )
        return _decoded(found)  # type: ignore[no-any-return]

    def lateness(
        self,
        log: str,
        filters: Filters = Filters(),  # noqa: B008
        *,
        by: str = "activity",
        calendar: str | None = None,
    ) -> pl.DataFrame:
        """How late events arrive, per activity (or another column); with a ``calendar``
        (its name), lateness in its working time."""
        from workbench import restatements

        return restatements.lateness(
            self.store,
            log,
            by=by,
            filters=filters,
            events=self._whole(log),
            calendar=self.hours(log, calendar, Cut()),
        )

    def provisional(
        self,
        log: str,
        filters: Filters = Filters(),  # noqa: B008
    ) -> pl.DataFrame:
        """The periods whose figures will still change, by the history of late events."""
        from workbench import restatements

        self._check(log, filters)
        kept = filters.on_cases() if filters else None
        keep = None if kept is None else self._keeping(log, Cut(), kept)
        events = self._whole(log)
        return restatements.provisional(self.store, log, filters=filters, events=events, keep=keep)

    # ------------------------------------------------------------------ checkpointed projections

    def projection(self, log: str, name: str) -> pl.DataFrame:
        """A checkpointed projection of the log (built in or a user's), brought up to the
        log's head (`checkpoints.refresh`): one computed whole reads the read model."""
        from workbench import checkpoints

        return checkpoints.refresh(self.store, log, name, read=self._reader(log))

    def refresh_projections(self, log: str | None = None) -> list[Checkpoint]:
        """Bring every projection and snapshot of a log (or of every log) up to its head."""
        from workbench import checkpoints

        return list(checkpoints.refresh_all(self.store, log, read=self._reader))

    def _reader(self, log: str) -> Callable[[int], pl.LazyFrame]:
        """The log as known at a position from the read model, in position order, as a
        scan of the store gives it."""
        return lambda head: self.model.scan(log, known_at=head).sort("position")

    def query(
        self,
        sql: str,
        cut: Cut = Cut(),
        filters: Filters = Filters(),  # noqa: B008
        *,
        log: str | None = None,
        limit: int | None = None,
        timeout: float | None = 60.0,
        cancel: threading.Event | None = None,
    ) -> Answer:
        """A read-only SQL query (`workbench.query`) over the tables of ``log`` (of every
        case log the user may see, without one), computed by this application's verbs after
        the cut and the filters: its first ``limit`` rows, and how many there were. On the
        Spark engine the statement runs in Spark SQL (`workbench.engines.spark.SparkSQL`).
        Setting ``cancel`` from another thread stops it (`workbench.query.Cancelled`)."""
        from workbench.query import Version, run

        if log is not None:
            self._see(log)
        version = Version(cut.as_of, cut.known_at)
        runner = None
        if self.engine == "spark":
            from workbench.engines.spark import SparkSQL

            runner = SparkSQL(self.spark_master)
        tables = self._tables(log, filters)
        return run(
            sql,
            tables,
            version=version,
            limit=limit,
            timeout=timeout,
            runner=runner,
            cancel=cancel,
        )

    def _tables(
        self, log: str | None, filters: Filters
    ) -> Callable[[str, Version, datetime | None], pl.DataFrame]:
        """How a query's tables are computed: by the verbs the commands call, of one log or
        of every case log the user may see, told apart by a ``log`` column."""
        from workbench.query import OBJECT_TABLES, table

        def logs() -> list[str]:
            if log is not None:
                return [log]
            return [summary.log for summary in self.logs() if summary.kind == "case"]

        def compute(name: str, version: Version, at: datetime | None) -> pl.DataFrame:
            cut = Cut(version.as_of, version.known_at)
            if name == "logs":
                return table(name, self._log_table(logs()))
            if name in OBJECT_TABLES:
                return table(name, self._object_table(name, log, cut))
            parts: list[pl.DataFrame] = []
            for each in logs():
                if name == "events":
                    found = self.events(each, cut, filters).collect()
                elif name == "cases":
                    found = self.cases(each, cut, filters)
                elif name == "variants":
                    found = self.variants(each, cut, filters)
                elif name == "dfg":
                    found = self.dfg(each, cut, filters).edges
                else:
                    assert at is not None
                    found = self.state(each, at, cut, filters)
                parts.append(found.with_columns(log=pl.lit(each)))
            if not parts:
                return pl.DataFrame(schema={"log": pl.String})
            return table(name, pl.concat([table(name, p) for p in parts], how="diagonal_relaxed"))

        return compute

    def _object_table(self, name: str, log: str | None, cut: Cut) -> pl.DataFrame:
        """An object table of the query language, of the object-centric log ``log`` is (or
        is a view of), or of every one the user may see: the objects and their links as
        stored (they are not versioned), an object's attribute values as they had changed
        by the cut's ``as_of``, and the event links of the events the cut keeps."""
        from workbench.store import LogName

        if log is None:
            names = [s.log for s in self.logs() if s.kind == "object"]
        else:
            base = LogName.parse(log).log
            names = [base] if self.log(base).kind == "object" else []
        read = {
            "objects": self.store.objects,
            "object_attributes": self.store.object_attributes,
            "event_objects": self.store.event_objects,
            "object_objects": self.store.object_objects,
        }[name]
        parts = []
        for each in names:
            found = read(each).with_columns(log=pl.lit(each))
            if name == "object_attributes" and cut.as_of is not None:
                found = found.filter(pl.col("changed_at") <= cut.as_of)
            if name == "event_objects" and cut:
                kept = cut.apply(self.store.scan(each)).select("event_id").collect()
                found = found.join(kept, on="event_id", how="semi")
            parts.append(found)
        if parts:
            return pl.concat(parts, how="diagonal_relaxed")
        columns = {
            "objects": ("object_id", "object_type"),
            "object_attributes": ("object_id", "name", "changed_at", "kind", "value"),
            "event_objects": ("event_id", "object_id", "qualifier"),
            "object_objects": ("source_id", "target_id", "qualifier"),
        }[name]
        schema: dict[str, pl.DataType] = {"log": pl.String(), **{c: pl.String() for c in columns}}
        if name == "object_attributes":
            schema["changed_at"] = pl.Datetime("us", "UTC")
        return pl.DataFrame(schema=schema)

    def _log_table(self, names: list[str]) -> pl.DataFrame:
        """The query language's ``logs``: each log's kind, counts, times and head."""
        rows = [self.log(name) for name in names]
        return pl.DataFrame(
            {
                "log": [row.log for row in rows],
                "kind": [row.kind for row in rows],
                "cases": [row.cases for row in rows],
                "events": [row.events for row in rows],
                "first_timestamp": [row.first_timestamp for row in rows],
                "last_timestamp": [row.last_timestamp for row in rows],
                "head": [self.head(name) for name in names],
            },
            schema={
                "log": pl.String,
                "kind": pl.String,
                "cases": pl.Int64,
                "events": pl.Int64,
                "first_timestamp": pl.Datetime("us", "UTC"),
                "last_timestamp": pl.Datetime("us", "UTC"),
                "head": pl.Int64,
            },
        )

    # ------------------------------------------------------------------ object-centric logs

    def ocdfg(self, log: str, types: Collection[str] | None = None) -> ObjectCentricMap:
        """The object-centric directly-follows graph of an OCEL log."""
        from workbench import objectcentric

        return objectcentric.ocdfg(self.store, log, list(types) if types else None)

    def convergence(self, log: str) -> pl.DataFrame:
        """Convergence and divergence per activity and object type."""
        from workbench import objectcentric

        return objectcentric.convergence(self.store, log)

    def lifecycle(self, log: str, object_id: str) -> ObjectLifecycle:
        """One object: its events, attribute values over time, and related objects."""
        from workbench import objectcentric

        return objectcentric.lifecycle(self.store, log, object_id)

    # ------------------------------------------------------------------ mining

    def limit(self, budget: float | None = None, memory: int | None = None) -> Limit:
        """The limit a computation keeps: ``budget`` seconds of wall-clock time from now (or
        none) and ``memory`` bytes (or the workbench's ceiling, `bounded.default_memory`)."""
        from workbench import bounded

        if memory is None:
            memory = self.memory or bounded.default_memory()
        try:
            return bounded.Limit(budget, memory)
        except ValueError as error:  # a budget or a ceiling that leaves nothing
            raise BadArgument(str(error)) from None

    def conformance(
        self,
        log: str,
        model: Model,
        cut: Cut = Cut(),
        filters: Filters = Filters(),  # noqa: B008
        *,
        method: Literal["tokens", "alignments"] = "tokens",
        budget: float | None = None,
        memory: int | None = None,
        aligner: Literal["auto", "r4pm", "pm4py"] = "auto",
        progress: Callable[[int, int], None] | None = None,
    ) -> Conformance:
        """Fitness (and precision, with tokens) of the log against a model; alignments by
        ``aligner``. Within ``budget`` seconds of wall-clock time and ``memory`` bytes
        (`limit`): what was checked when a limit is reached is reported, and labelled."""
        from workbench import mining

        if method not in ("tokens", "alignments"):
            raise BadArgument(f"--method {method!r}: choose tokens or alignments")
        limit = self.limit(budget, memory)
        events = self.events(log, cut, filters)
        if method == "tokens":
            return mining.token_replay(events, model, limit=limit, progress=progress)
        return mining.alignments(events, model, limit=limit, engine=aligner, progress=progress)

    def discover(
        self,
        log: str,
        cut: Cut = Cut(),
        filters: Filters = Filters(),  # noqa: B008
        *,
        algorithm: Literal["inductive", "heuristics", "alpha"] = "inductive",
        noise: float = 0.0,
        budget: float | None = None,
        memory: int | None = None,
    ) -> Model:
        """A process model discovered from the log (`mining.discover`), within ``budget``
        seconds and ``memory`` bytes; `mining.Stopped` when a limit is reached first."""
        from workbench import mining

        limit = self.limit(budget, memory)
        events = self.events(log, cut, filters)
        return mining.discover(events, algorithm=algorithm, noise=noise, limit=limit)

    def discover_rules(
        self,
        log: str,
        cut: Cut = Cut(),
        filters: Filters = Filters(),  # noqa: B008
        *,
        min_support: float = 0.9,
        min_confidence: float = 0.9,
        templates: Collection[str] | None = None,
    ) -> list[Rule]:
        """The Declare rules of the log (`workbench.rules.discover`) that at least
        ``min_support`` of its cases activate and ``min_confidence`` of those fulfil."""
        from workbench import rules

        for name, ratio in (("--min-support", min_support), ("--min-confidence", min_confidence)):
            if not 0 <= ratio <= 1:
                raise BadArgument(f"{name} {ratio:g}: give a share between 0 and 1")
        events = self.events(log, cut, filters)
        return rules.discover(
            events,
            min_support=min_support,
            min_confidence=min_confidence,
            templates=rules.TEMPLATES if templates is None else templates,
        )

    def conform_to_rules(
        self,
        log: str,
        given: Sequence[Rule],
        cut: Cut = Cut(),
        filters: Filters = Filters(),  # noqa: B008
    ) -> Checked:
        """The rules against each case of the log (`workbench.rules.check`)."""
        from workbench import rules

        return rules.check(self.events(log, cut, filters), given)

    def temporal_profile(
        self,
        log: str,
        cut: Cut = Cut(),
        filters: Filters = Filters(),  # noqa: B008
    ) -> list[Gap]:
        """The log's temporal profile (`workbench.temporal_profile.discover`)."""
        from workbench import temporal_profile

        return temporal_profile.discover(self.events(log, cut, filters))

    def conform_to_profile(
        self,
        log: str,
        profile: Sequence[Gap],
        cut: Cut = Cut(),
        filters: Filters = Filters(),  # noqa: B008
        *,
        zeta: float = 6.0,
    ) -> ProfileCheck:
        """Each case against a temporal profile (`workbench.temporal_profile.check`)."""
        from workbench import temporal_profile

        if zeta < 0:
            raise BadArgument(f"--zeta {zeta:g}: give a number of deviations, 0 or more")
        return temporal_profile.check(self.events(log, cut, filters), profile, zeta)

    def log_skeleton(
        self,
        log: str,
        cut: Cut = Cut(),
        filters: Filters = Filters(),  # noqa: B008
        *,
        noise: float = 0.0,
    ) -> Skeleton:
        """The log's skeleton (`workbench.skeleton.discover`)."""
        from workbench import skeleton

        return skeleton.discover(self.events(log, cut, filters), noise=noise)

    def conform_to_skeleton(
        self,
        log: str,
        given: Skeleton,
        cut: Cut = Cut(),
        filters: Filters = Filters(),  # noqa: B008
    ) -> SkeletonCheck:
        """Each case against a log skeleton (`workbench.skeleton.check`)."""
        from workbench import skeleton

        return skeleton.check(self.events(log, cut, filters), given)

    def predict(
        self,
        log: str,
        cut: Cut = Cut(),
        filters: Filters = Filters(),  # noqa: B008
        *,
        target: str = "remaining-time",
        at: datetime | None = None,
        completed_by: Sequence[str] | None = None,
    ) -> Predictions:
        """Predictions for the cases open at ``at`` (default: the cut's ``as_of``, else the
        latest event), from what was knowable then (`workbench.predictions`): remaining
        time, next-activity or outcome (outcome:activity:A, outcome:attribute:K=V,
        outcome:slow:7d). The last few are kept while the log stays as it is."""
        from workbench import predictions

        wanted = predictions.Target.parse(target)
        events = self._knowable(log, cut, filters)
        if events.is_empty():
            raise BadArgument(f"{log}: no events to predict from")
        moment = at or cut.as_of or events["timestamp"].max()
        assert isinstance(moment, datetime)
        key = (log, self.head(log), repr(cut), filters.to_query(), moment, target,
               tuple(completed_by or ()))  # fmt: skip
        with self._lock:
            kept = self._predicted.get(key)
        if kept is None:
            visible = events.filter(pl.col("known") <= moment)
            kept = predictions.predict(visible, moment, wanted, completed_by=completed_by)
            with self._lock:
                self._predicted[key] = kept
                while len(self._predicted) > 8:
                    self._predicted.pop(next(iter(self._predicted)))
        return kept

    def predicted(
        self,
        log: str,
        cut: Cut = Cut(),
        filters: Filters = Filters(),  # noqa: B008
        *,
        targets: Sequence[str] = ("remaining-time", "next-activity", "outcome"),
        at: datetime | None = None,
        completed_by: Sequence[str] | None = None,
    ) -> pl.DataFrame:
        """Several targets predicted for the cases open at ``at`` (`predict`, one per
        target), as one table (`workbench.predictions.together`)."""
        from workbench.predictions import together

        return together(
            [
                self.predict(log, cut, filters, target=target, at=at, completed_by=completed_by)
                for target in dict.fromkeys(targets)
            ]
        )

    def backtest_predictions(
        self,
        log: str,
        cut: Cut = Cut(),
        filters: Filters = Filters(),  # noqa: B008
        *,
        every: str = "1mo",
        targets: Sequence[str] = (),
        completed_by: Sequence[str] | None = None,
        calendar: str | None = None,
    ) -> Backtest:
        """Predictions walked forward through the log, every ``every``, each cut on what
        was knowable then, scored against what happened later
        (`workbench.predictions.backtest`); with a ``calendar``, the remaining time's
        errors in its working time too."""
        from workbench import predictions

        chosen = [predictions.Target.parse(t) for t in targets]
        events = self._knowable(log, cut, filters)
        hours = self.hours(log, calendar, cut)
        return predictions.backtest(
            events, every=every, targets=chosen, completed_by=completed_by, hours=hours
        )

    def _knowable(self, log: str, cut: Cut, filters: Filters) -> pl.DataFrame:
        """The log's events by the cut with ``known`` (`restatements.knowable`, against the
        whole log's frontier), then the filters."""
        from workbench.restatements import knowable

        events = knowable(self.store, log, self.events(log, cut))
        if filters:
            kept = self.events(log, cut, filters).select("position")
            events = events.join(kept, on="position", how="semi", maintain_order="left")
        return events.collect()

    def causes(
        self,
        log: str,
        outcome: str,
        cut: Cut = Cut(),
        filters: Filters = Filters(),  # noqa: B008
        *,
        model: Model | None = None,
        min_cases: int | None = None,
        alpha: float = 0.05,
        having: Collection[str] | None = None,
    ) -> Causes:
        """What sets the cases with ``outcome`` apart (`workbench.causes`): slow, slow:p75,
        slow:7d, activity:A, attribute:K=V, ends-otherwise:A,B, violates:TEMPLATE(A,B), or
        not-fitting ``model`` (by token replay); several joined by ``|`` (any of them). With
        ``having``, those are the cases with the outcome, which only names them."""
        from workbench import causes

        events = self.events(log, cut, filters)
        table = self.cases(log, cut, filters)
        if having is not None:  # the cases are given; the outcome names them
            return causes.rank(
                events, table, set(having), outcome, min_cases=min_cases, alpha=alpha
            )
        parts = [causes.Outcome.parse(text.strip()) for text in outcome.split("|")]
        ids: set[str] = set()
        exclude: set[str] = set()
        for wanted in parts:  # several outcomes: a case with any of them has it
            having, defining = self._outcome_cases(outcome, wanted, events, table, model)
            ids |= having
            exclude |= defining
        return causes.rank(
            events, table, ids, outcome, exclude=exclude, min_cases=min_cases, alpha=alpha
        )

    def _outcome_cases(
        self,
        outcome: str,
        wanted: Outcome,
        events: pl.LazyFrame,
        table: pl.DataFrame,
        model: Model | None,
    ) -> tuple[set[str], set[str]]:
        """The ids of the cases with one outcome, and what defines it (attributes ``K``,
        activities ``activity:A``), which is then no candidate cause."""
        from workbench import rules

        exclude: set[str] = set()
        if wanted.kind == "slow":
            seconds = table["duration"].dt.total_microseconds() / 1e6
            limit = (
                seconds.quantile(wanted.percentile, interpolation="linear")
                if wanted.percentile is not None
                else wanted.longer_than.total_seconds()  # type: ignore[union-attr]
            )
            having = table.filter(seconds > limit)["case_id"].to_list()
        elif wanted.kind == "activity":
            having = _case_ids(events.filter(pl.col("activity") == wanted.activity))
            exclude.add(f"activity:{wanted.activity}")
        elif wanted.kind == "ends-otherwise":
            ending = list(wanted.ends or ())
            having = table.filter(~pl.col("last_activity").is_in(ending))["case_id"].to_list()
            exclude.update(f"activity:{a}" for a in ending)
        elif wanted.kind == "attribute":
            key, value = wanted.attribute  # type: ignore[misc]
            if key not in events.collect_schema():
                raise BadArgument(f"--outcome {outcome}: the log has no attribute {key!r}")
            having = _case_ids(events.filter(pl.col(key).cast(pl.String) == value))
            exclude.add(key)
        elif wanted.kind == "violates":
            template, acts = wanted.rule  # type: ignore[misc]
            rule = rules.Rule(template, acts)  # read and checked by `Outcome.parse`
            having = rules.check(events, [rule]).rules[0].violating_cases
            exclude.update(f"activity:{a}" for a in acts)
        else:
            if model is None:
                raise BadArgument("--outcome not-fitting: give the model (--model FILE)")
            from workbench import mining

            checked = mining.token_replay(events, model)
            having = checked.cases.filter(~pl.col("fitting"))["case_id"].to_list()
        return {str(case) for case in having}, exclude

    def analyse(
        self,
        log: str,
        cut: Cut = Cut(),
        filters: Filters = Filters(),  # noqa: B008
        *,
        algorithm: Literal["inductive", "heuristics", "alpha"] = "inductive",
        noise: float = 0.0,
        model: Path | None = None,
        method: Literal["tokens", "alignments"] = "tokens",
        budget: float | None = None,
        memory: int | None = None,
        progress: Callable[[str, float], None] | None = None,
    ) -> Analysis:
        """Discovery (or ``model``, a PNML or BPMN file) and conformance in one job, as the
        app runs it: one budget for both (`mining.analyse`)."""
        from workbench import mining

        limit = self.limit(budget, memory)
        events = self.events(log, cut, filters)
        return mining.analyse(
            events,
            algorithm=algorithm,
            noise=noise,
            model=model,
            method=method,
            limit=limit,
            progress=progress,
        )

    # ------------------------------------------------------------------ writes and reactions

    def import_file(self, path: Path | str, **options: Any) -> Imported:
        """Import a file as an ingest job (`ingest.jobs.ingest`'s options), then react to
        what it added (`imported`)."""
        from ingest.jobs import ingest

        self.authorize("analyst", "importing")
        log = options.get("log")
        if isinstance(log, str) and self.store.has_log(log):
            self.authorize_on(log, "analyst", f"importing into {log!r}")
        summary = ingest(self.model.store, path, actor=self.actor, **options)
        self.store.users.record(
            self.actor,
            "import",
            summary.log,
            f"job {summary.job_id}: {summary.events_added} events from {Path(summary.source).name}",
        )
        fired = self.imported(summary.log) if summary.events_added else []
        return Imported(summary, fired)

    def follow(
        self,
        path: Path,
        *,
        report: Callable[[ImportSummary, list[Firing]], None],
        **options: Any,
    ) -> None:
        """Import what is appended to a file, or dropped into a folder, round after round
        (`ingest.follow`), reacting after each round that added events."""
        from ingest.follow import follow_file, follow_folder

        def after(summary: ImportSummary) -> None:
            if summary.events_added:
                detail = f"job {summary.job_id}: {summary.events_added} events, following"
                self.store.users.record(self.actor, "import", summary.log, detail)
            report(summary, self.imported(summary.log) if summary.events_added else [])

        self.authorize("analyst", "importing")

        follower = follow_folder if path.is_dir() else follow_file
        self.model  # noqa: B018  (open: committed batches become segments as they commit)
        follower(self.store, path, report=after, actor=self.actor, **options)

    def drop(self, log: str) -> int:
        """Delete a whole log, with what was derived from it (its segments, cached reads);
        returns the number of events deleted."""
        self.authorize_on(log, "admin", "dropping a log")
        removed = self.store.drop(log)
        self.store.users.revoke(log=log)
        self.store.users.record(self.actor, "drop", log, f"{removed} events")
        self.model.drop(log)
        self.forget(log)
        return removed

    def add_rule(self, rule: Any) -> None:
        """Keep an alert rule (`workbench.alerts.Rule`), replacing one of the same name: an
        analyst's to do, on a log they may see."""
        self._see(rule.log)
        self.authorize_on(rule.log, "analyst", "adding an alert rule")
        self.alerts.add(rule)
        self.store.users.record(self.actor, "rule-add", rule.name, rule.log)

    def remove_rule(self, name: str) -> bool:
        """Forget an alert rule (its firings stay); False when there was none."""
        self.authorize("analyst", "removing an alert rule")
        removed = self.alerts.remove(name)
        if removed:
            self.store.users.record(self.actor, "rule-remove", name)
        return removed

    def define_projection(self, name: str, query: str, *, description: str = "") -> None:
        """Keep a SQL projection over the table `events` (`checkpoints.define_sql`)."""
        from workbench import checkpoints

        self.authorize("analyst", "adding a projection")
        checkpoints.define_sql(self.store, name, query, description=description)
        self.store.users.record(self.actor, "projection-add", name, query)

    def remove_projection(self, name: str) -> None:
        """Forget a SQL projection and its checkpoints."""
        from workbench import checkpoints

        self.authorize("analyst", "removing a projection")
        checkpoints.remove(self.store, name)
        self.store.users.record(self.actor, "projection-remove", name)

    def snapshot(self, log: str, count: int) -> list[datetime]:
        """Store snapshots of every case's state (`checkpoints.take_snapshots`)."""
        from workbench import checkpoints

        self.authorize_on(log, "analyst", "storing snapshots")
        return list(checkpoints.take_snapshots(self.store, log, count=count))

    def add_calendar(self, calendar: Calendar) -> None:
        """Record a working calendar (replacing one of the same name from now on: what it
        was stays known, for cuts by ``known_at``): an analyst's to do."""
        self.authorize("analyst", "adding a calendar")
        if calendar.name in (ELAPSED, ASSIGNED):
            what = "elapsed time" if calendar.name == ELAPSED else "a log's assigned calendars"
            raise BadArgument(f"{calendar.name!r} means {what}: give the calendar another name")
        self.store.calendars.record(calendar.name, calendar.to_json())
        self.store.users.record(self.actor, "calendar-add", calendar.name)

    def remove_calendar(self, name: str) -> None:
        """Record that a calendar is gone from now on."""
        self.authorize("analyst", "removing a calendar")
        if name not in self.store.calendars.known():
            raise BadArgument(f"no calendar {name!r} (see `workbench calendar list`)")
        self.store.calendars.remove(name)
        self.store.users.record(self.actor, "calendar-remove", name)

    def calendars(self, known_at: datetime | None = None) -> dict[str, Calendar]:
        """The working calendars as known at ``known_at`` (None: now), by name."""
        from workbench.calendars import Calendar

        return {
            name: Calendar.from_json(name, kept.definition)
            for name, kept in self.store.calendars.known(known_at).items()
        }

    def assign_calendar(
        self, log: str, name: str | None, attribute: tuple[str, list[str]] | None = None
    ) -> None:
        """Make ``name`` the log's default calendar from now on (None: elapsed time again):
        durations of the log are then in its working time unless another is asked for.
        With ``attribute`` (a key and values), the calendar of those values of that
        attribute instead (None: the log's default again for them); a log has calendars by
        the values of one attribute."""
        self.authorize_on(log, "analyst", "assigning a calendar")
        if name is not None:
            self.calendar(name)
        if attribute is None:
            self.store.calendars.assign(log, name)
            self.store.users.record(self.actor, "calendar-assign", log, name or ELAPSED)
            return
        key, values = attribute
        if not key or not values or any(not value for value in values):
            raise BadArgument(
                "--attribute: write the attribute and its values as site=Utrecht,Delft"
            )
        if key not in self.store.schema(log):
            raise BadArgument(f"{log}: the log has no attribute {key!r} to assign calendars by")
        other = [k for k in self.store.calendars.by_value().get(log, {}) if k != key]
        if other:
            raise BadArgument(
                f"{log} has calendars by {other[0]!r}: a log has them by one attribute"
                f" (remove those first: calendar assign elapsed --log {log}"
                f" --attribute {other[0]}=...)"
            )
        self.store.calendars.assign_values(log, key, values, name)
        done = f"{key}={','.join(values)}: {name or ELAPSED}"
        self.store.users.record(self.actor, "calendar-assign", log, done)

    def calendars_by_value(
        self, known_at: datetime | None = None
    ) -> dict[str, tuple[str, dict[str, str]]]:
        """Each log's calendars by attribute value as known at ``known_at`` (of the logs the
        user may see): by log, its attribute and each value's calendar."""
        return {
            log: next(iter(keys.items()))
            for log, keys in self.store.calendars.by_value(known_at).items()
            if self.has_log(log)
        }

    def attribute_of(self, log: str, known_at: datetime | None = None) -> str | None:
        """The attribute a log has calendars by (as known at ``known_at``), if any."""
        from workbench.store import LogName

        keys = self.store.calendars.by_value(known_at).get(LogName.parse(log).log, {})
        return next(iter(keys), None)

    def assigned_calendars(self, known_at: datetime | None = None) -> dict[str, str]:
        """Each log's default calendar as known at ``known_at``, by log (of the logs the user
        may see)."""
        found = self.store.calendars.assigned(known_at)
        return {log: name for log, name in found.items() if self.has_log(log)}

    def durations_in(
        self, log: str, requested: str | None, known_at: datetime | None = None
    ) -> str | None:
        """The calendar a log's durations are in: the one ``requested`` by name, none for
        `ELAPSED`, or without a request the log's default as known at ``known_at`` (if that
        calendar is still known then); both faces ask this."""
        if requested == ELAPSED:
            return None
        if requested is not None:
            return requested
        if self.attribute_of(log, known_at) is not None:
            return ASSIGNED
        return self._default_calendar(log, known_at)

    def _default_calendar(self, log: str, known_at: datetime | None) -> str | None:
        from workbench.store import LogName

        default = self.store.calendars.assigned(known_at).get(LogName.parse(log).log)
        return default if default in self.store.calendars.known(known_at) else None

    def calendar_words(self, log: str, calendar: str) -> str:
        """A calendar as both faces name it: "calendar office", or for `ASSIGNED` "calendars
        assigned by site"."""
        if calendar != ASSIGNED:
            return f"calendar {calendar}"
        key = self.attribute_of(log)
        return "log's default calendar" if key is None else f"calendars assigned by {key}"

    def working_day(self, calendar: str | None, log: str | None = None) -> float | None:
        """The seconds of a named calendar's working day (what a working day of durations in
        its working time is), None for elapsed time; for `ASSIGNED`, the ``log``'s
        (`workbench.calendars.Assigned.day_seconds`)."""
        if calendar is None:
            return None
        if calendar == ASSIGNED:
            hours = None if log is None else self._assigned(log, Cut())
            return None if hours is None else hours.day_seconds
        return self.calendar(calendar).day_seconds

    def calendar(self, name: str, known_at: datetime | None = None) -> Calendar:
        """One calendar as known at ``known_at``; refused by name when there was none."""
        from workbench.calendars import known

        found = known(self.store.calendars, name, known_at)
        if found is None:
            when = "" if known_at is None else f" as known at {known_at.isoformat()}"
            raise BadArgument(f"no calendar {name!r}{when} (see `workbench calendar list`)")
        return found

    def imported(self, log: str) -> list[Firing]:
        """What follows new events this process wrote to a log: the read model catches up
        (its segments), then as `observed`. Returns the firings."""
        self.model.refresh(log)
        return self.observed(log)

    def observed(self, log: str) -> list[Firing]:
        """What follows new events in a log, whoever wrote them: the cached reads of the log
        go, and the alert rules on it are checked (a rule is checked once per position, so a
        second process that observes the same head finds nothing new). Returns the
        firings."""
        self.forget(log)
        return self.check_rules(log)

    def check_rules(self, log: str | None = None) -> list[Firing]:
        """Check the alert rules (of one log) on their logs as they stand."""
        return self.alerts.check(log)

    # ------------------------------------------------------------------ engines

    def hours(self, log: str, calendar: str | None, cut: Cut = Cut()) -> Hours | None:
        """The named calendar as known at the cut's ``known_at`` (None: elapsed time); for
        `ASSIGNED`, the log's calendars by attribute value."""
        if calendar is None:
            return None
        if calendar == ASSIGNED:
            return self._assigned(log, cut)
        return self.calendar(calendar, self.known_moment(log, cut))

    def _assigned(self, log: str, cut: Cut) -> Hours | None:
        """The log's calendars by attribute value as known at the cut, over its events as
        cut (`workbench.calendars.assigned`; the last few built are kept while the log, the
        cut and the calendars stay as they are)."""
        from workbench.calendars import assigned
        from workbench.store import LogName

        moment = self.known_moment(log, cut)
        name = LogName.parse(log).log
        remembered = (log, self.store.head(log), repr(cut), self.store.calendars.version())
        if remembered not in self._assignments:
            found = assigned(
                self.store.calendars,
                name,
                lambda columns: self.events(log, cut, coded=True).select(columns),
                moment,
            )
            while len(self._assignments) >= 8:
                del self._assignments[next(iter(self._assignments))]
            self._assignments[remembered] = found
        return self._assignments[remembered]

    def known_moment(self, log: str, cut: Cut) -> datetime | None:
        """The moment a cut's ``known_at`` stands for: its time, or when the store recorded
        the write that holds its position (a calendar is read as known then); None: now."""
        if isinstance(cut.known_at, datetime):
            return cut.known_at
        if cut.known_at is None:
            return None
        from workbench.store import LogName, from_micros

        writes = self.store.ranges(LogName.parse(log).log).filter(
            (pl.col("first_position") <= cut.known_at) & (pl.col("last_position") >= cut.known_at)
        )
        return from_micros(writes["recorded_at"][0]) if writes.height else None

    def _on_spark(self, log: str, cut: Cut, filters: Filters) -> Any:
        """The log on Spark after the cut and filters (pushed into Spark's read)."""
        from workbench.engines import spark

        self._check(log, filters)
        events = spark.read_log(
            spark.session(self.spark_master),
            self.store,
            log,
            as_of=cut.as_of,
            known_at=cut.known_at,
            model=self.model,
        )
        return spark.filtered(events, filters)


#: Columns the app does not hold in memory (`Workbench._held`): each value is unique to
#: its event, so they weigh more than they are read.
HELD_APART = ("event_id", "correlation_id", "causation_id")
HELD_SLICE = 1 << 18  # rows of the held events an IO source gives at a time


def _held_apart(
    held: pl.DataFrame,
    log: str,
    names: list[str],
    apart: list[str],
    ids: Callable[[list[str], pl.Series | None, pl.Expr | None], pl.DataFrame],
) -> pl.LazyFrame:
    """``held`` with the columns ``names`` in that order: the log's name as a constant, and
    the columns ``apart`` (not in ``held``) from ``ids(columns, rows, where)``, row for
    row, only when the query uses them (a Polars IO source: it is told which columns to
    give and which rows to keep). ``rows`` are the indexes of those a filter on held
    columns keeps (None: all); a filter on the ids themselves is ``where``, and then the
    rows come with their positions."""
    from polars.io.plugins import register_io_source

    text = pl.lit(log, pl.String).alias("log")
    schema = {**held.schema, "log": pl.String(), **dict.fromkeys(apart, pl.String())}

    def source(
        columns: list[str] | None, predicate: pl.Expr | None, limit: int | None, _batch: int | None
    ) -> Iterator[pl.DataFrame]:
        wanted = names if columns is None else columns
        present = [name for name in wanted if name in held.schema]
        frame = held.select(present or held.columns[:1])  # a column of held: its height
        if "log" in wanted:
            frame = frame.with_columns(text)
        asked = [name for name in apart if name in wanted]
        if asked:  # read now, in the held frame's order (the same cut, filters and sort)
            index, roots = None, set() if predicate is None else set(predicate.meta.root_names())
            if predicate is not None and roots <= set(held.columns):
                keep = held.select(predicate.alias("keep")).to_series()
                frame, index, predicate = frame.filter(keep), keep.arg_true(), None
            elif predicate is not None and roots & set(apart) and held.height:
                # A filter on the ids (one event, the events it caused): the segment is read
                # where it holds, and the held rows are those of the positions found.
                found = ids(asked, None, predicate)
                keep = held["position"].is_in(found["position"].implode())
                frame, predicate = frame.filter(keep).hstack(found.drop("position")), None
                asked = []
            if asked:
                frame = (
                    frame.hstack(ids(asked, index, None))
                    if held.height
                    else frame.with_columns(pl.lit(None, pl.String).alias(n) for n in asked)
                )
        if predicate is not None:
            frame = frame.filter(predicate)
        frame = (frame if limit is None else frame.head(limit)).select(wanted)
        # In slices, which Polars' streaming engine computes on in parallel: given whole,
        # the frame is one piece of work (a throughput at 10 M events 0.24 -> 0.14 s).
        for start in range(0, max(frame.height, 1), HELD_SLICE):
            yield frame.slice(start, HELD_SLICE)

    return register_io_source(source, schema={name: schema[name] for name in names})


def _decoded(result: Any) -> Any:
    """A result with any categorical columns back as text (in a frame, or in the frames of a
    result record such as a process map)."""
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
    return result


def _case_ids(events: pl.LazyFrame) -> list[Any]:
    """The ids of the cases some events belong to."""
    return events.select("case_id").unique().collect()["case_id"].to_list()


def _seen(function: Callable[..., Any]) -> Callable[..., Any]:
    """A verb that names a log first, refusing a log the acting user may not see
    (`Workbench._see`) before it does anything."""

    @functools.wraps(function)
    def checked(self: Workbench, *args: Any, **kwargs: Any) -> Any:
        log = args[0] if args else kwargs.get("log")
        if isinstance(log, str):
            self._see(log)
        return function(self, *args, **kwargs)

    return checked


def takes_log(function: Callable[..., Any]) -> bool:
    """Whether a verb of `Workbench` names a log first (and so sees it first)."""
    parameters = list(inspect.signature(function).parameters)
    return len(parameters) > 1 and parameters[1] == "log"


# Every verb that names a log sees it first: one rule, for the verbs of today and tomorrow.
for _name, _verb in list(vars(Workbench).items()):
    if inspect.isfunction(_verb) and not _name.startswith("_") and takes_log(_verb):
        setattr(Workbench, _name, _seen(_verb))
