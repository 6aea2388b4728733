"""The event store's rules, the same on every backend: append with optimistic concurrency,
idempotent retries and imports, positions, bitemporal reads into Polars, object-centric views.

The SQL lives in a recorder (`workbench.store.recorder`); `EventStore` decides what to
write and what a read keeps, and the recorder does it in its database. A store is opened
from a file path (SQLite) or a ``postgresql://`` URL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
from polars.io.plugins import register_io_source

from workbench.events import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    UTC_MICROS,
    VOCABULARY,
    AppendResult,
    DuplicateEvents,
    Event,
    ExpectedRevision,
    InvalidEvents,
    StoreError,
    UnknownLog,
    WrongExpectedRevision,
)
from workbench.store import attributes as attrs
from workbench.store.calendars import Calendars
from workbench.store.frames import (
    DERIVED,
    Prepared,
    frame_of_events,
    from_micros,
    normalize,
    prepare,
    to_micros,
    with_derived_ids,
)
from workbench.store.jobs import Ledger
from workbench.store.names import LogName, check_log_name
from workbench.store.projections import StoredProjections
from workbench.store.queries import UserQueries
from workbench.store.recorder import (
    DICTIONARIES,
    NEVER,
    STORED_TYPES,
    Cut,
    Recorder,
    Transaction,
)
from workbench.store.records import ImportResult, JobProgress, LogSummary, Objects, SqlSource
from workbench.store.rules import Rules
from workbench.store.users import Users

#: The timestamp of every event of a log imported without times (ordered by position).
UNTIMED = 0


def open_recorder(location: str | Path, *, timeout: float = 60.0) -> Recorder:
    """The recorder for a store location: a ``postgresql://`` URL, or a SQLite file path."""
    return recorder_for(location)(location, timeout=timeout)


def recorder_for(location: str | Path) -> Callable[..., Recorder]:
    """The recorder class of a store location, its backend imported (a server imports it
    before it listens: the SQLite one brings Arrow's datasets and the ADBC driver)."""
    if str(location).startswith(("postgresql://", "postgres://")):
        from workbench.store.postgres.recorder import PostgresRecorder

        return PostgresRecorder
    from workbench.store.sqlite.recorder import SQLiteRecorder

    return SQLiteRecorder


class EventStore:
    """An append-only event store, in a SQLite file or a PostgreSQL database.

    >>> import tempfile
    >>> store = EventStore(Path(tempfile.mkdtemp()) / "demo.db")
    >>> store.append("demo", "c1", [Event("register", datetime(2024, 1, 1))])
    AppendResult(position=1, revision=0)
    >>> store.read("demo")["activity"].to_list()
    ['register']
    >>> store.close()

    Besides the events, a store keeps the ingest jobs (`ledger`), the stored results of
    projections (`projections`) and the projections users define in SQL (`queries`).
    """

    def __init__(self, location: str | Path, *, timeout: float = 60.0) -> None:
        self.recorder = open_recorder(location, timeout=timeout)
        self.location = self.recorder.location
        self.closed = False
        self._listeners: list[Callable[[str, pl.DataFrame], None]] = []
        self.ledger = Ledger(self.recorder)
        self.projections = StoredProjections(self.recorder)
        self.queries = UserQueries(self.recorder)
        self.rules = Rules(self.recorder)
        self.users = Users(self.recorder)
        self.calendars = Calendars(self.recorder)

    @property
    def is_server(self) -> bool:
        """Whether the store is a PostgreSQL server's (else a SQLite file)."""
        return self.path is None

    @property
    def path(self) -> Path | None:
        """The file of a SQLite store (None for a server store)."""
        found = getattr(self.recorder, "path", None)
        return found if isinstance(found, Path) else None

    def analyze(self) -> None:
        """Refresh the query planner's statistics (PostgreSQL's ``ANALYZE``; SQLite's
        ``PRAGMA optimize``): what an import of many events does when it ends, so that
        later reads and imports are planned for the data as it now is."""
        self.recorder.analyze()

    def close(self) -> None:
        """Close the connections."""
        self.recorder.close()
        self.closed = True

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ writes

    def append(
        self,
        log: str,
        case_id: str,
        events: Sequence[Event],
        *,
        expected_revision: int | ExpectedRevision = ANY,
    ) -> AppendResult:
        """Append events to one case, if the case is where the writer expects it to be.

        ``expected_revision`` is ``ANY``, ``NO_STREAM`` (the case must not exist),
        ``STREAM_EXISTS`` or the exact revision of the case's last event. A retry of an
        append that already succeeded (same event ids, same case, same order) stores nothing
        and returns the original result.
        """
        if not events:
            raise InvalidEvents("append needs at least one event")
        frame = normalize(frame_of_events(case_id, events))
        repeated = frame.filter(pl.col("event_id").is_duplicated())["event_id"].unique()
        if repeated.len():
            raise DuplicateEvents(
                f"case {case_id!r} in log {log!r}: the batch repeats event id(s) "
                f"{', '.join(repeated.head(3).to_list())}; nothing was written"
            )
        with self.recorder.transaction() as tx:
            log_id = self._ensure_log(tx, log)
            stored = tx.stored_ids(log_id, frame.select("event_id", "case_id"))
            if stored.height:
                return _retried(log, case_id, frame["event_id"], stored)
            actual = tx.case_revisions(log_id, [case_id]).get(case_id)
            _check_expected(log, case_id, expected_revision, actual)
            written = write_frame(tx, log_id, frame)
        self._committed(log, written)
        return AppendResult(
            position=int(written["position"].max()),  # type: ignore[arg-type]
            revision=(-1 if actual is None else actual) + len(events),
        )

    def import_frame(
        self,
        log: str,
        frame: pl.DataFrame | Prepared,
        *,
        job: JobProgress | None = None,
        objects: Objects | None = None,
        head: int | None = None,
    ) -> ImportResult:
        """Append a whole frame of events (many cases) in one transaction.

        Events whose ids are already stored in the log are skipped and counted as duplicates;
        so are repeats of an id within the frame. Event ids missing from the frame are
        derived from the events' content (`derive_event_ids`). With ``job``, the job's
        rejects and progress are recorded in the same transaction, so a crash never leaves
        a job's record out of step with the events it stored. ``objects`` (object-centric
        logs) are written in the same transaction; objects and links already stored are
        skipped, so a resumed job can send them again.

        ``head`` is the last position of the log as a job filling an empty log left it (0
        before its first frame): while the log is still there, it holds only that job's
        events, whose derived ids the job numbers across its frames, so the frame is written
        without looking its ids up first. If another writer came in between, or the unique
        index on given ids refuses one (an id repeated across the file), the write is done
        with the look-up. The result is the same either way.
        """
        prepared = frame if isinstance(frame, Prepared) else prepare(frame)
        events_read, frame = prepared.events_read, prepared.events
        with self.recorder.transaction() as tx:
            log_id = self._ensure_log(tx, log)
            if objects is not None:
                tx.write_objects(log_id, objects)
            written = None
            if frame.height and head is not None and tx.head(log_id) == head:
                written = tx.unless_stored(lambda: write_frame(tx, log_id, prepared.events))
            if written is None and frame.height and tx.has_events(log_id):
                frame = with_derived_ids(frame)  # looked up by their text
                stored = tx.stored_ids(log_id, frame.select("event_id", "case_id"))
                frame = frame.join(
                    stored.select("event_id"), on="event_id", how="anti", maintain_order="left"
                )
            if written is None and frame.height:
                written = write_frame(tx, log_id, frame)
            position = None if written is None else int(written["position"].max())  # type: ignore[arg-type]
            result = ImportResult(
                events_read=events_read,
                events_added=frame.height,
                duplicates=events_read - frame.height,
                position=position,
            )
            if job is not None:
                tx.record_progress(log, job, result)
        if written is not None:
            self._committed(log, written)
        return result

    def on_commit(self, listener: Callable[[str, pl.DataFrame], None]) -> None:
        """Call ``listener(log, events)`` after each append or import commits, with the
        events as written (positions, revisions and ``recorded_at`` included): how derived
        data such as the read model keeps up without reading the events back."""
        self._listeners.append(listener)

    def _committed(self, log: str, written: pl.DataFrame) -> None:
        if self._listeners:
            written = with_derived_ids(written)
        for listener in self._listeners:
            listener(log, written)

    def _ensure_log(self, tx: Transaction, log: str) -> int:
        found = tx.find_log(log)
        return found if found is not None else tx.ensure_log(check_log_name(log))

    def drop(self, log: str) -> int:
        """Remove a log and everything recorded about it; returns the number of events removed."""
        with self.recorder.transaction() as tx:
            log_id = tx.find_log(log)
            if log_id is None:
                raise UnknownLog(log)
            removed = tx.drop(log_id, log)
        self.projections.evict(log)
        return removed

    # ------------------------------------------------------------------- reads

    def log_names(self) -> list[str]:
        """Names of the logs in the store, in order of creation."""
        return [row.name for row in self.recorder.log_rows()]

    def logs(self, *, empty: bool = False) -> list[LogSummary]:
        """Every log with its cases, events and time range.

        An object-centric log lists its object types with their counts, and is followed by
        one view per object type (``log/type``), the case-centric view `scan` computes. A
        log whose last import stopped part-way through its file carries a warning. A log
        without events (it holds only the rejects of an import that stored nothing, which
        `workbench rejects` still shows) is not listed, unless ``empty``: there is nothing
        in it to explore.
        """
        warnings = self.ledger.warnings()
        summaries = []
        for row in self.recorder.log_rows():
            if not row.events and not empty:
                continue
            start = None if row.first is None else from_micros(row.first)
            end = None if row.last is None else from_micros(row.last)
            timed = not (row.first == UNTIMED and row.last == UNTIMED)
            warning = warnings.get(row.name)
            if row.kind != "object":
                summaries.append(
                    LogSummary(
                        row.name,
                        row.cases,
                        row.events,
                        start,
                        end,
                        timed=timed,
                        warning=warning,
                    )
                )
                continue
            types = self.recorder.object_types(row.log_id)
            counts = {kind: objects for kind, objects, _ in types}
            summaries.append(
                LogSummary(
                    row.name,
                    0,
                    row.events,
                    start,
                    end,
                    kind="object",
                    object_types=counts,
                    timed=timed,
                    warning=warning,
                )
            )
            summaries.extend(
                LogSummary(
                    str(LogName(row.name, kind)),
                    objects,
                    links,
                    start,
                    end,
                    kind="view",
                    timed=timed,
                    warning=warning,
                )
                for kind, objects, links in types
            )
        return summaries

    def summary(self, log: str) -> LogSummary:
        """One log's (or view's) entry of `logs`, listed or not (a log without events)."""
        found = next((s for s in self.logs(empty=True) if s.log == log), None)
        if found is None:
            raise UnknownLog(log)
        return found

    def head(self, log: str) -> int:
        """The position of the log's last event (0 when it has none)."""
        return self.recorder.head(self._log_id(self.resolve(log).log))

    def cases_after(self, log: str, position: int, *, until: datetime | None = None) -> list[str]:
        """The cases that received events after ``position`` (with ``timestamp <= until``, if
        given): the cases a catch-up from a checkpoint at ``position`` recomputes."""
        name = self.resolve(log)
        if name.object_type is not None:
            ids = self.scan(name.log, as_of=until).filter(pl.col("position") > position)
            linked = self.recorder.view_links(self._log_id(name.log), name.object_type, None)
            found = linked.join(ids.select("event_id").collect(), on="event_id")["object_id"]
            return sorted(found.unique().to_list())
        bound = NEVER if until is None else to_micros(until)
        return self.recorder.cases_after(self._log_id(name.log), position, bound)

    def resolve(self, log: str) -> LogName:
        """The stored log (and object type) a name refers to, or `UnknownLog`: a stored
        log of that name is that log; else ``LOG/TYPE`` is a view when the log has objects
        of that type."""
        if self.recorder.log_id(log) is not None:
            return LogName(log)
        name = LogName.parse(log)
        if name.object_type is not None:
            log_id = self.recorder.log_id(name.log)
            if log_id is not None and self.recorder.has_object_type(log_id, name.object_type):
                return name
        raise UnknownLog(log)

    def _log_id(self, log: str) -> int:
        found = self.recorder.log_id(log)
        if found is None:
            raise UnknownLog(log)
        return found

    def identity(self, log: str) -> str:
        """What tells this stored log from any other that had (or will have) its name: data
        derived from it (the read model) is kept under this."""
        found = self.recorder.log_identity(log)
        if found is None:
            raise UnknownLog(log)
        return f"{found[0]}-{found[1]}"

    def has_log(self, log: str) -> bool:
        """Whether ``log`` names a stored log or a view of an object-centric one."""
        try:
            self.resolve(log)
        except UnknownLog:
            return False
        return True

    def objects(self, log: str) -> pl.DataFrame:
        """The objects of an object-centric log: object_id, object_type."""
        return self.recorder.object_table(self._log_id(log), "objects")

    def object_attributes(self, log: str) -> pl.DataFrame:
        """Object attribute values over time: object_id, name, changed_at, kind, value."""
        frame = self.recorder.object_table(self._log_id(log), "object_attributes")
        return frame.with_columns(pl.col("changed_at").cast(UTC_MICROS))

    def event_objects(self, log: str) -> pl.DataFrame:
        """Event-to-object links: event_id, object_id, qualifier."""
        return self.recorder.object_table(self._log_id(log), "event_objects")

    def object_objects(self, log: str) -> pl.DataFrame:
        """Object-to-object links: source_id, target_id, qualifier."""
        return self.recorder.object_table(self._log_id(log), "object_objects")

    def attribute_types(self, log: str) -> dict[str, pl.DataType]:
        """The attributes of a log with their Polars types."""
        stored = self.recorder.attributes(self._log_id(log))
        return {name: attrs.KINDS[spec.kind] for name, spec in stored.items()}

    def schema(self, log: str) -> pl.Schema:
        """The columns `scan` returns for this log (or view)."""
        return pl.Schema({**VOCABULARY, **self.attribute_types(self.resolve(log).log)})

    def scan(
        self,
        log: str,
        *,
        as_of: datetime | None = None,
        known_at: datetime | int | None = None,
        case_id: str | Sequence[str] | None = None,
        after: tuple[datetime, int] | None = None,
    ) -> pl.LazyFrame:
        """The events of a log in position order, lazily, as the store holds them.

        ``as_of`` keeps events with ``timestamp <= as_of`` (valid time). ``known_at`` keeps
        what the store knew then: a datetime filters ``recorded_at``, an int filters
        ``position``. Both compose (bitemporal). ``case_id`` (one id or several) reads those
        cases' streams through the case index. ``after=(t, p)`` keeps only the events that
        happened after ``t`` or were appended after position ``p``: what a snapshot taken at
        ``t`` from the events up to ``p`` lacks. The query runs when the frame is collected.
        """
        name = self.resolve(log)
        if name.object_type is not None:
            flat = self._flattened(
                log, name.log, name.object_type, as_of=as_of, known_at=known_at, case_id=case_id
            )
            if after is None:
                return flat
            return flat.filter((pl.col("timestamp") > after[0]) | (pl.col("position") > after[1]))
        schema = pl.Schema({**VOCABULARY, **self.attribute_types(log)})
        cases = None if case_id is None else _case_ids(case_id)
        cut = replace(_cut(as_of, known_at), cases=cases)
        if after is not None:
            cut = replace(cut, after=(to_micros(after[0]), int(after[1])))

        def source(
            with_columns: list[str] | None,
            predicate: pl.Expr | None,
            n_rows: int | None,
            _batch_size: int | None,
        ) -> Iterator[pl.DataFrame]:
            # Polars tells which columns the query uses: only those are read.
            wanted = frozenset(with_columns) if with_columns is not None else None
            frame = self._read(log, schema, replace(cut, columns=wanted))
            if predicate is not None:
                frame = frame.filter(predicate)
            yield frame if n_rows is None else frame.head(n_rows)

        return register_io_source(source, schema=schema)

    def _flattened(
        self,
        name: str,
        log: str,
        object_type: str,
        *,
        as_of: datetime | None,
        known_at: datetime | int | None,
        case_id: str | Sequence[str] | None,
    ) -> pl.LazyFrame:
        """One object type's case-centric view: an event appears once per linked object."""
        wanted = None if case_id is None else _case_ids(case_id)
        events = self.scan(log, as_of=as_of, known_at=known_at)
        schema = events.collect_schema()
        log_id = self._log_id(log)
        linked = pl.defer(
            lambda: self.recorder.view_links(log_id, object_type, wanted),
            schema={"event_id": pl.String, "object_id": pl.String},
        )
        return (
            events.drop("case_id", "revision")
            .join(linked, on="event_id", how="inner")
            .rename({"object_id": "case_id"})
            .sort("position", "case_id")
            .with_columns(
                pl.lit(name).alias("log"),
                pl.int_range(pl.len(), dtype=pl.Int64).over("case_id").alias("revision"),
            )
            .select(schema.names())
        )

    def read(self, log: str, **options: Any) -> pl.DataFrame:
        """`scan` collected."""
        return self.scan(log, **options).collect()

    def read_positions(self, log: str, first: int, last: int) -> pl.DataFrame:
        """The events of a stored log with positions from ``first`` to ``last``, in position
        order: how a reader catches up from where it stopped."""
        schema = pl.Schema({**VOCABULARY, **self.attribute_types(log)})
        return self._read(log, schema, Cut(position=last, after=(NEVER, first - 1)))

    def sql_source(
        self,
        log: str,
        *,
        as_of: datetime | None = None,
        known_at: datetime | int | None = None,
    ) -> SqlSource:
        """The events of a log in a PostgreSQL store as one SQL query, cut as `scan` cuts,
        up to a fixed last position (the head now): for engines that read the database
        themselves, in parallel ranges of positions that all see the same prefix of the log.
        The query gives names for keys, times as microseconds and each attribute column
        under its read label; `SqlSource.attributes` says how to read them."""
        from workbench.store.postgres.recorder import PostgresRecorder

        if not isinstance(self.recorder, PostgresRecorder):
            raise StoreError(
                self.location, "only a PostgreSQL store is read through SQL by another engine"
            )
        if self.recorder.log_id(log) is None and self.has_log(log):
            raise StoreError(
                self.location, f"{log}: a view of an object-centric log is not read through SQL"
            )
        log_id = self._log_id(log)
        cut = _cut(as_of, known_at)
        ranges = self.recorder.ranges(log_id)
        first = int(ranges["first_position"].min() or 0)  # type: ignore[arg-type]
        last = min(int(ranges["last_position"].max() or 0), cut.position)  # type: ignore[arg-type]
        cut = replace(cut, position=last)
        return SqlSource(
            self.recorder.url,
            self.recorder.events_query(log_id, cut),
            self.recorder.attributes(log_id),
            first,
            last,
        )

    def subscribe(
        self,
        log: str,
        *,
        after: int = 0,
        poll: float = 0.5,
        stop: threading.Event | None = None,
        idle: float | None = None,
    ) -> Iterator[pl.DataFrame]:
        """A catch-up subscription: the log's events after position ``after`` in position
        order, in batches, and then each new batch as it commits, until ``stop`` is set (or
        nothing new came for ``idle`` seconds).

        Appends commit in position order on every backend, so reading on from the last
        position seen never skips an event that committed late. SQLite is polled every
        ``poll`` seconds; PostgreSQL wakes the reader with ``LISTEN``/``NOTIFY``.
        """
        position = after
        quiet_since = time.monotonic()
        with self.recorder.waiter() as wait:
            while stop is None or not stop.is_set():
                batch = self.read_positions(log, position + 1, NEVER) if self.has_log(log) else None
                if batch is not None and batch.height:
                    position = int(batch["position"].max())  # type: ignore[arg-type]
                    quiet_since = time.monotonic()
                    yield batch
                    continue
                if idle is not None and time.monotonic() - quiet_since > idle:
                    return
                wait(poll)

    def ranges(self, log: str) -> pl.DataFrame:
        """A stored log's committed writes: first and last position, the valid times and the
        transaction time (microseconds) each covers, by first position."""
        return self.recorder.ranges(self._log_id(log))

    def _read(self, log: str, schema: pl.Schema, cut: Cut) -> pl.DataFrame:
        log_id = self._log_id(log)
        raw = self.recorder.read_events(log_id, cut)
        if cut.columns is not None:
            schema = pl.Schema({k: v for k, v in schema.items() if k in cut.columns})
        if raw is None:
            return pl.DataFrame(schema=schema)
        raw = raw.cast({k: v for k, v in STORED_TYPES.items() if k in raw.columns})
        raw = self._with_attributes(log_id, raw, cut)
        return self._decode(log, log_id, raw, schema)

    def _with_attributes(self, log_id: int, raw: pl.DataFrame, cut: Cut) -> pl.DataFrame:
        """Join the log's attributes (those the query uses) onto events read from it."""
        chosen = attrs.wanted(self.recorder.attributes(log_id), cut.columns)
        if not chosen or raw.is_empty():
            return raw
        by_table = attrs.by_table(chosen.values())
        for table, columns in sorted(by_table.items()):
            values = self.recorder.read_attributes(
                log_id, table, columns, raw.select("position", "case_key")
            )
            values = values.cast({"position": pl.Int64})
            raw = raw.join(values, on="position", how="left", maintain_order="left")
        return raw.with_columns(
            attrs.read_expression(name, spec) for name, spec in chosen.items()
        ).drop(
            [attrs.read_label(c) for columns in by_table.values() for c in columns],
            strict=False,
        )

    def _decode(self, log: str, log_id: int, raw: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
        """Stored columns to the vocabulary: keys to names, integers to UTC times."""
        # Ids kept implicitly (`DERIVED`) are derived again from the case, time and activity.
        implicit = "event_id" in raw.columns and raw["event_id"].null_count() > 0
        for table, name in (
            ("cases", "case_id"),
            ("activities", "activity"),
            ("resources", "resource"),
        ):
            key, column = DICTIONARIES[table]
            # A key read only for another purpose (case attributes are kept by case) is
            # not turned into a name.
            if key in raw.columns and (name in schema or (implicit and name != "resource")):
                few = raw[key] if table == "cases" and raw.height < 50_000 else None
                names = self.recorder.dictionary(table, log_id, few).rename({column: name})
                raw = raw.join(names, on=key, how="left", maintain_order="left")
        frame = raw.with_columns(
            pl.col(name).cast(UTC_MICROS)
            for name in ("timestamp", "recorded_at")
            if name in raw.columns
        ).with_columns(pl.lit(log, dtype=pl.String).alias("log"))
        if implicit:
            frame = with_derived_ids(frame)
        missing = [
            pl.lit(None, dtype=dtype).alias(name)
            for name, dtype in schema.items()
            if name not in frame.columns
        ]
        return frame.with_columns(missing).select(list(schema.names()))


def write_frame(
    tx: Transaction, log_id: int, frame: pl.DataFrame, *, copied: bool = False
) -> pl.DataFrame:
    """Write a prepared frame (see `prepare`); returns the events as written: the frame with
    its ``position``, ``revision`` and ``recorded_at`` (ids left out of it, as `DERIVED`, are
    still left out: `with_derived_ids`).

    The frame is grouped by case, so new positions, new case keys and (derived) event ids
    all grow in the order the indexes keep them. A ``copied`` frame (from another store)
    brings its own ``position``, ``revision`` and ``recorded_at``; the caller records its
    ranges.
    """
    if not tx.implicit_ids:
        frame = with_derived_ids(frame)  # a store that keeps the text of every id
    known = tx.attributes(log_id)
    plan = attrs.plan(known, frame.drop(*_COPIED, DERIVED, strict=False).schema)
    if plan.attributes != known:
        tx.add_attributes(log_id, plan.attributes, plan.new_columns)
    cases = tx.keys("cases", log_id, frame["case_id"])
    activities = tx.keys("activities", log_id, frame["activity"])
    resources = tx.keys("resources", log_id, frame["resource"])
    rows = frame
    for column, keys in (("case_id", cases), ("activity", activities), ("resource", resources)):
        rows = rows.join(
            keys.drop("_new"), left_on=column, right_on="_name", how="left", maintain_order="left"
        )
    if copied:
        first, recorded_at = 0, 0
    else:
        # Only cases stored before have a revision to continue from.
        earlier = cases.filter(~pl.col("_new"))["_name"].to_list()
        base = pl.DataFrame(
            list(tx.case_revisions(log_id, earlier).items()) if earlier else [],
            schema={"case_id": pl.String, "_base": pl.Int64},
            orient="row",
        )
        first, recorded_at = tx.allocate(frame.height)
        rows = rows.join(base, on="case_id", how="left", maintain_order="left").with_columns(
            position=pl.int_range(pl.len(), dtype=pl.Int64) + first,
            revision=pl.col("_base").fill_null(-1) + 1 + _within_case(rows),
            recorded_at=pl.lit(recorded_at, dtype=UTC_MICROS),
        )
    stored = rows.select(
        "position",
        pl.lit(log_id, dtype=pl.Int64).alias("log_id"),
        "case_key",
        "revision",
        "event_id",
        "activity_key",
        pl.col("timestamp").dt.epoch("us").alias("timestamp"),
        pl.col("recorded_at").dt.epoch("us").alias("recorded_at"),
        "resource_key",
        "lifecycle",
        "correlation_id",
        "causation_id",
        (pl.col(DERIVED) if DERIVED in rows.columns else pl.lit(False)).alias("derived"),
    ).cast(STORED_TYPES)  # type: ignore[arg-type]
    tx.write_events(stored)
    for table, columns in plan.tables().items():
        values = rows.select("position", "case_key", *(plan.values[column] for column in columns))
        tx.write_attributes(log_id, table, values)
    if not copied:
        tx.write_range(
            log_id,
            first,
            int(stored["position"].max()),  # type: ignore[arg-type]
            int(stored["timestamp"].min()),  # type: ignore[arg-type]
            int(stored["timestamp"].max()),  # type: ignore[arg-type]
            recorded_at,
        )
    return rows.select(
        *(c for c in VOCABULARY if c != "log"),
        *(c for c in frame.columns if c not in VOCABULARY and c != DERIVED),
    )


def _within_case(frame: pl.DataFrame) -> pl.Expr:
    """Each event's place among its case's events in the frame (0, 1, ...). A frame grouped
    by case (`prepare` sorts it) is counted in runs, with no hashing of the case ids."""
    if not frame["case_id"].is_sorted():
        return pl.int_range(pl.len()).over("case_id")
    row = pl.int_range(pl.len())
    starts = (pl.col("case_id") != pl.col("case_id").shift(1)).fill_null(True)
    return row - pl.when(starts).then(row).forward_fill()


#: What a copied frame brings besides the writable vocabulary and the attributes.
_COPIED = ("position", "revision", "recorded_at")


def _cut(as_of: datetime | None, known_at: datetime | int | None) -> Cut:
    """The cut of a read as of a valid time and as known at a transaction time (a datetime)
    or a position (an int)."""
    cut = Cut(timestamp=NEVER if as_of is None else to_micros(as_of))
    if isinstance(known_at, datetime):
        return replace(cut, recorded=to_micros(known_at))
    if known_at is not None:
        return replace(cut, position=int(known_at))
    return cut


def _case_ids(case_id: str | Sequence[str]) -> tuple[str, ...]:
    return (case_id,) if isinstance(case_id, str) else tuple(case_id)


def _retried(log: str, case_id: str, offered: pl.Series, stored: pl.DataFrame) -> AppendResult:
    """The original result of an exact retry, or `DuplicateEvents` for a partial overlap."""
    exact = (
        stored.height == offered.len()
        and stored["event_id"].to_list() == offered.to_list()
        and set(stored["case_id"].to_list()) == {case_id}
        and stored["revision"].diff().drop_nulls().eq(1).all()
    )
    if not exact:
        overlap = stored["event_id"].head(3).to_list()
        raise DuplicateEvents(
            f"case {case_id!r} in log {log!r}: {stored.height} of {offered.len()} event ids are"
            f" already stored ({', '.join(overlap)}...), and the batch is not a retry of one"
            " earlier append; nothing was written"
        )
    return AppendResult(position=int(stored["position"][-1]), revision=int(stored["revision"][-1]))


def _check_expected(
    log: str, case_id: str, expected: int | ExpectedRevision, actual: int | None
) -> None:
    if expected is ANY:
        return
    if expected is NO_STREAM:
        ok = actual is None
    elif expected is STREAM_EXISTS:
        ok = actual is not None
    else:
        ok = actual == expected
    if not ok:
        raise WrongExpectedRevision(log, case_id, expected, actual)
