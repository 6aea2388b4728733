"""The read model: each log as columnar segments, derived from the store and never the truth.

A segment is a Parquet file holding the events of one log from a run of its committed
writes (positions ``first`` to ``last``), sorted by case, time and position: the order every
projection wants, so a read that needs no other segment is ready to compute on. Case ids,
activities and resources are kept as integer codes with their dictionary (Polars
categoricals): projections sort, group and join on the codes, and names come back once, at
the end (`decoded`). Row groups carry statistics on time and position, so cuts by time and
by position skip what they exclude.

A read takes the segments and the tail of the log not yet in one, from the store, so it
always equals a scan of the store. Segments are written when a batch commits (from the
events in memory, not read back) and caught up by position on the next read when the tail
has grown; several segments are merged into one. Each segment is checked against the
store's record of its writes before it is used: a file that is missing, truncated, of an
older shape or unreadable is dropped and rebuilt, and a read that fails on one is answered
by the store. Deleting the folder loses nothing.

Segments live beside a SQLite store (``STORE.segments``), or under the folder named by
``WORKBENCH_SEGMENTS`` (one subfolder per store): the way to give a PostgreSQL store a read
model. Without either, reads go to the store.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import re
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal, TypeVar

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from workbench import projections, timetravel
from workbench.caching import BoundedCache
from workbench.events import StoreError, UnknownLog
from workbench.store import EventStore

COMPACT_AT: Final = 1  # more segments than this are merged into one on the next read
FAN_IN: Final = 16  # a merge reads at most this many segments (more: merged in groups first)
MIN_TAIL: Final = 10_000  # a tail of this many events is written as a segment on the next read
MIN_BATCH: Final = 1_000  # a committed batch this large is written as a segment at once
ORDER: Final = ("case_id", "timestamp", "position")
CODED: Final = ("case_id", "activity", "resource")
# Coded in the files the read model writes: not the case ids, kept as text. A process that
# codes case ids holds them as long as it lives (the categoricals' mapping is never let
# go): an import of 10.6 M events, a million cases, peaked 95 MB higher for them.
WRITTEN: Final = ("activity", "resource")
ROW_GROUP: Final = 262_144  # rows per row group of a merged segment
# Rows per row group of a segment of one batch or tail, which a merge reads a range of cases
# at a time: small, so that a range reads little more than its own cases of each segment.
SMALL_GROUP: Final = 4_096
CHUNK: Final = 500_000  # a merge sorts, writes and sums per case this many events at a time
_NAME: Final = re.compile(r"^segment-(\d{12})-(\d{12})\.parquet$")
PerCase = Literal["cases", "folded"]
# A row group of a segment: its first row, its rows, its least and greatest case id.
Group = tuple[int, int, str | None, str | None]
Range = tuple[str | None, str | None]  # case ids from the first on, before the second
T = TypeVar("T")
PER_CASE: Final[tuple[PerCase, ...]] = ("cases", "folded")
# Per case, beside its `projections.case_rows`: the bounds a cut is judged by.
_BOUNDS: Final = {
    "__first_position": pl.col("position").min(),
    "__last_position": pl.col("position").max(),
    "__first_recorded": pl.col("recorded_at").min(),
    "__last_recorded": pl.col("recorded_at").max(),
}
# `after` of a store read that keeps the positions after a point, whatever their time.
_END_OF_TIME: Final = datetime(9999, 12, 31, tzinfo=UTC)


@dataclass(frozen=True)
class Segment:
    """One segment file: the positions of the first and last write it covers, its rows."""

    path: Path
    first: int
    last: int
    rows: int


@dataclass(frozen=True)
class Status:
    """Where a log's read model stands."""

    log: str
    folder: Path | None  # where its segments are (None: no read model for this store)
    position: int  # the last position the segments cover (0: none)
    head: int  # the log's last position
    events: int  # events in the log
    covered: int  # of which in segments
    segments: int
    bytes: int

    @property
    def lag(self) -> int:
        """Events of the log not (yet) in a segment; a read takes them from the store."""
        return self.events - self.covered


def default_folder(store: EventStore) -> Path | None:
    """Where a store's segments go: a subfolder of ``WORKBENCH_SEGMENTS`` named after the
    store, else beside a SQLite file, else nowhere."""
    configured = os.environ.get("WORKBENCH_SEGMENTS")
    if configured:
        where = str(store.path.resolve()) if store.path is not None else store.location
        return Path(configured) / hashlib.sha256(where.encode()).hexdigest()[:16]
    return None if store.path is None else Path(f"{store.path}.segments")


class ReadModel:
    """The segments of every log of a store (see the module's documentation).

    >>> import tempfile
    >>> from datetime import datetime
    >>> from workbench import Event
    >>> store = EventStore(Path(tempfile.mkdtemp()) / "demo.db")
    >>> model = ReadModel(store)
    >>> _ = store.append("demo", "c2", [Event("b", datetime(2024, 1, 2))])
    >>> _ = store.append("demo", "c1", [Event("a", datetime(2024, 1, 3))])
    >>> model.read("demo")["case_id"].to_list()  # in case order
    ['c1', 'c2']
    >>> store.close()
    """

    def __init__(
        self,
        store: EventStore,
        folder: Path | str | None = None,
        *,
        min_tail: int = MIN_TAIL,
        min_batch: int = MIN_BATCH,
        chunk: int = CHUNK,
        fan_in: int = FAN_IN,
        cache: BoundedCache[pl.DataFrame] | None = None,
    ) -> None:
        self.store = store
        # Per-case rows read from their files are kept here (the app's frames), not read
        # again at every moment of a time travel.
        self.cache = cache
        self.folder = Path(folder) if folder is not None else default_folder(store)
        self.min_tail = min_tail  # a tail this long is written as a segment on the next read
        self.min_batch = min_batch  # a committed batch this large becomes a segment at once
        self.chunk = chunk  # a merge holds about this many events at a time (see `_merge`)
        self.fan_in = max(fan_in, 2)  # and reads at most this many segments
        self._lock = threading.RLock()
        # Per log: its identity and the events its segments hold, as this process last saw.
        self._known: dict[str, tuple[str, int]] = {}
        # Committed batches wait here for the writer thread, which turns them into segments
        # while the import writes the next batch; two at most, so memory stays bounded.
        self._pending: queue.Queue[_Pending] = queue.Queue(maxsize=2)
        self._writer: threading.Thread | None = None
        self.problem: str | None = None  # why the writer thread last failed, if it did
        store.on_commit(self._committed)

    # ------------------------------------------------------------------ reads

    def scan(
        self,
        log: str,
        *,
        as_of: datetime | None = None,
        known_at: datetime | int | None = None,
        coded: bool = False,
    ) -> pl.LazyFrame:
        """The events of a log as `EventStore.scan` gives them, with the same cuts, in case
        order (case, time, position): segments first, then the tail from the store. With
        ``coded``, case ids, activities and resources are categoricals (see `decoded`)."""
        if self.store.resolve(log).is_view:  # a view LOG/TYPE reads its log through the store
            events = self.store.scan(log, as_of=as_of, known_at=known_at).sort(ORDER)
            return _coded(events) if coded else events
        schema = self.store.schema(log)
        segments = self._segments(log, schema)
        if isinstance(known_at, int):  # whole segments after the cut are not read at all
            segments = [segment for segment in segments if segment.first <= known_at]
        parts = [_conform(pl.scan_parquet(segment.path), schema) for segment in segments]
        covered = max((segment.last for segment in segments), default=0)
        in_order = len(parts) == 1
        if self.store.head(log) > covered and not (
            isinstance(known_at, int) and known_at <= covered
        ):
            tail = self.store.scan(log, known_at=known_at, after=(_END_OF_TIME, covered))
            parts.append(_coded(tail.drop("log")))
            in_order = False
        if not parts:
            empty = pl.LazyFrame(schema=schema)
            return _coded(empty) if coded else empty
        events = parts[0] if len(parts) == 1 else pl.concat(parts, how="vertical")
        if isinstance(known_at, int) and known_at >= covered:  # the segments are inside it
            known_at = None  # (and the tail was cut): no filter that keeps a slice unread
        events = cut(events, as_of=as_of, known_at=known_at)
        if not in_order:
            events = events.sort(ORDER)
        events = events.with_columns(pl.lit(log, dtype=pl.String).alias("log"))
        events = events.select(schema.names())
        return events if coded else decoded_lazy(events)

    def read(
        self,
        log: str,
        *,
        as_of: datetime | None = None,
        known_at: datetime | int | None = None,
        coded: bool = False,
        then: Callable[[pl.LazyFrame], pl.LazyFrame] | None = None,
    ) -> pl.DataFrame:
        """`scan` with ``then`` applied (filters, a column selection), collected (see
        `over`)."""
        finish = then or (lambda events: events)
        return self.over(
            log,
            lambda events: finish(events).collect(),
            as_of=as_of,
            known_at=known_at,
            coded=coded,
        )

    def over(
        self,
        log: str,
        function: Callable[[pl.LazyFrame], T],
        *,
        as_of: datetime | None = None,
        known_at: datetime | int | None = None,
        coded: bool = False,
    ) -> T:
        """``function`` of the lazy `scan` (the columns it does not use are not read). A
        segment that another process replaced or that broke while it was read is checked
        again, and if reading still fails the store answers: never a wrong or partial
        result."""

        def from_store() -> T:
            events = self.store.scan(log, as_of=as_of, known_at=known_at).sort(ORDER)
            return function(_coded(events) if coded else events)

        return self._retried(
            log,
            lambda: function(self.scan(log, as_of=as_of, known_at=known_at, coded=coded)),
            from_store,
        )

    def _retried(self, log: str, attempt: Callable[[], T], from_store: Callable[[], T]) -> T:
        """``attempt()``, tried again once the log's segments were checked again when a
        segment broke under it, else ``from_store()``: the store answers."""
        for _attempt in range(2):
            try:
                return attempt()
            except (OSError, pl.exceptions.ComputeError) as error:
                if not self._segment_error(error):
                    raise
                with self._lock:
                    self._known.pop(log, None)
        return from_store()

    def case_rows(
        self,
        log: str,
        *,
        as_of: datetime | None = None,
        known_at: datetime | int | None = None,
        events: pl.LazyFrame | None = None,
    ) -> pl.DataFrame:
        """One row per case of the log after the cut, with codes, in case order:
        `projections.case_rows` of the events `scan` gives, from rows stored beside the
        segment (see `per_case`)."""
        return self.per_case(log, "cases", as_of=as_of, known_at=known_at, events=events)

    def folded(
        self,
        log: str,
        *,
        as_of: datetime | None = None,
        known_at: datetime | int | None = None,
        events: pl.LazyFrame | None = None,
    ) -> pl.DataFrame:
        """Each case's folded state (`timetravel.fold`) after the cut, with codes, in case
        order, from rows stored beside the segment (see `per_case`): with ``as_of`` the
        moment of a time travel, what `timetravel.finish` makes the state at it of."""
        return self.per_case(log, "folded", as_of=as_of, known_at=known_at, events=events)

    def per_case(
        self,
        log: str,
        kind: PerCase,
        *,
        as_of: datetime | None = None,
        known_at: datetime | int | None = None,
        events: pl.LazyFrame | None = None,
    ) -> pl.DataFrame:
        """Rows of one ``kind`` per case (`case_rows` or `folded`) of the log after the cut.

        They are made once per segment and stored beside it (`refresh` makes them after an
        import). The cases the tail of the log reaches are computed again from their
        events, and so are the cases a cut splits (some of their events are in it, some
        not): a cut keeps the rows of the cases wholly inside it as they are and drops
        those wholly after it. ``events`` are the log's events after the same cut, in case
        order and with codes, when the caller holds them (the app): the cases computed
        again come from them, not from the segment on disk."""

        def from_store() -> pl.DataFrame:
            scanned = _coded(self.store.scan(log, as_of=as_of, known_at=known_at).sort(ORDER))
            return _rows_of(kind, scanned, bounds=False)

        return self._retried(
            log, lambda: self._per_case(log, kind, as_of, known_at, events), from_store
        )

    def _per_case(
        self,
        log: str,
        kind: PerCase,
        as_of: datetime | None,
        known_at: datetime | int | None,
        events: pl.LazyFrame | None,
    ) -> pl.DataFrame:
        cut_events = events
        if cut_events is None:
            cut_events = self.scan(log, as_of=as_of, known_at=known_at, coded=True)
        if self.store.resolve(log).is_view:
            return _rows_of(kind, cut_events, bounds=False)
        schema = self.store.schema(log)
        chain = self._segments(log, schema)
        if len(chain) != 1:  # no read model, or its segments could not be merged
            return _rows_of(kind, cut_events, bounds=False)
        head = self.store.head(log)
        rows = self._kept(log, head, kind, chain[0], schema)
        # Case ids compared as codes when both sides have them: casting ten million codes
        # to text to compare took a second.
        coded = cut_events.collect_schema()["case_id"] == pl.Categorical
        ids = pl.col("case_id").cast(pl.Categorical if coded else pl.String)
        redo: list[pl.DataFrame] = []
        if head > chain[0].last:  # the tail: its cases from all their events
            tail = self.store.scan(log, after=(_END_OF_TIME, chain[0].last))
            redo.append(tail.select(ids).unique().collect())
        if as_of is not None or known_at is not None:
            whole, gone = _inside(kind, as_of, known_at)
            redo.append(rows.filter(~whole & ~gone).select(ids))
            rows = rows.filter(whole)
        if redo:
            again = pl.concat(redo)["case_id"].unique().implode()
            rows = rows.filter(~ids.is_in(again))
            chosen = cut_events.filter(ids.is_in(again))
            found = _rows_of(kind, chosen, bounds=True)
            rows = pl.concat([rows, found.select(rows.columns)]).sort("case_id")
        return rows.drop(list(_BOUNDS))

    def _kept(
        self, log: str, head: int, kind: PerCase, segment: Segment, schema: pl.Schema
    ) -> pl.DataFrame:
        """`_stored`, from the cache when one is given and holds them for the log's head."""
        if self.cache is None:
            return self._stored(kind, segment, schema)
        key = (log, head, f"{kind} rows\0{segment.path.name}")
        return self.cache.get(key, lambda: self._stored(kind, segment, schema))

    def _stored(self, kind: PerCase, segment: Segment, schema: pl.Schema) -> pl.DataFrame:
        """The segment's rows of a kind with their bounds, read from their file (`_made`
        when it is missing or stale); computed each time where the file cannot be
        written."""
        path = self._made(kind, segment, schema)
        found: pl.DataFrame | None = None
        if path is not None:
            with contextlib.suppress(OSError, pl.exceptions.PolarsError):
                found = pl.read_parquet(path)
        if found is None:
            made = list(_per_case_rows(kind, segment, schema, self.chunk))
            found = pl.concat(made) if made else pl.DataFrame(schema=_per_case_schema(kind, schema))
        return found.with_columns(pl.col("case_id").cast(pl.Categorical))  # as the events

    def _made(self, kind: PerCase, segment: Segment, schema: pl.Schema) -> Path | None:
        """The file of the segment's rows of a kind: made from the segment when it is
        missing or stale, a range of cases at a time, whole or not at all (None: it could
        not be written, a read-only folder). Nothing is read when it is there."""
        path = _per_case_path(kind, segment.path)
        try:
            if path.exists() and pl.read_parquet_schema(path) == _per_case_schema(kind, schema):
                return path
        except (OSError, pl.exceptions.PolarsError):
            pass
        output = _Appended(path, ROW_GROUP, statistics=False, events=False)
        try:
            for rows in _per_case_rows(kind, segment, schema, self.chunk):
                output.append(rows)
            output.finish()
        except OSError:
            return None
        finally:
            output.abandon()
        _only(kind, path)
        return path

    @property
    def _small_group(self) -> int:
        """Rows per row group of a segment of one batch or tail (see `SMALL_GROUP`)."""
        return min(SMALL_GROUP, self.chunk)

    def _segment_error(self, error: BaseException) -> bool:
        return self.folder is not None and (
            isinstance(error, OSError) or str(self.folder) in str(error) or "parquet" in str(error)
        )

    def flush(self) -> None:
        """Wait until the committed batches handed to the writer are segments."""
        if self._writer is not None:
            self._pending.join()

    def refresh(self, log: str) -> Status:
        """Bring the log's segments up to date now (after an import): write the tail, merge
        the segments. Returns where they stand."""
        self.flush()
        schema = self.store.schema(log)
        chain = self._segments(log, schema, min_tail=1)
        if len(chain) == 1:
            for kind in PER_CASE:
                self._made(kind, chain[0], schema)
        return self.status(log)

    def segments(self, log: str) -> list[Segment]:
        """The log's valid segments in position order, as they are (nothing written)."""
        return self._segments(log, self.store.schema(log), catch_up=False)

    def status(self, log: str) -> Status:
        """Where the log's segments stand (checking them as a read would)."""
        segments = self._segments(log, self.store.schema(log), catch_up=False)
        return Status(
            log,
            self.folder,
            max((segment.last for segment in segments), default=0),
            self.store.head(log),
            sum(_lengths(self.store.ranges(log))),
            sum(segment.rows for segment in segments),
            len(segments),
            sum(segment.path.stat().st_size for segment in segments if segment.path.exists()),
        )

    def drop(self, log: str | None = None) -> None:
        """Delete a log's segments (they are rebuilt from the store on the next read), or
        with no log those of every log; segments of logs that no longer exist go too."""
        if self.folder is None or not self.folder.is_dir():
            return
        with self._lock:
            kept = {
                self.store.identity(summary.log)
                for summary in self.store.logs()
                if summary.kind != "view" and summary.log != log and log is not None
            }
            for directory in self.folder.iterdir():
                if directory.is_dir() and directory.name not in kept:
                    shutil.rmtree(directory, ignore_errors=True)
            self._known.clear()

    # ------------------------------------------------------------------ segments

    def _segments(
        self,
        log: str,
        schema: pl.Schema,
        *,
        catch_up: bool = True,
        min_tail: int | None = None,
    ) -> list[Segment]:
        """The log's valid segments in position order; with ``catch_up``, a tail of at least
        ``min_tail`` events is written as a new segment and several segments are merged
        first."""
        if self.folder is None:
            return []
        with self._lock:
            identity = self.store.identity(log)
            directory = self.folder / identity
            ranges = self.store.ranges(log)
            chain = _chain(directory, ranges, schema)
            if catch_up:
                try:
                    wanted = self.min_tail if min_tail is None else min_tail
                    if self._catch_up(log, directory, chain, ranges, schema, wanted):
                        chain = _chain(directory, ranges, schema)
                except (OSError, StoreError, pl.exceptions.ComputeError):
                    pass  # a read-only folder, a full disk: read as things are
            self._known[log] = (identity, sum(segment.rows for segment in chain))
            return chain

    def _catch_up(
        self,
        log: str,
        directory: Path,
        chain: list[Segment],
        ranges: pl.DataFrame,
        schema: pl.Schema,
        min_tail: int,
    ) -> bool:
        """Write the tail as a segment when it has grown, and merge several segments into
        one; True when anything was written."""
        covered = chain[-1].last if chain else 0
        tail = ranges.filter(pl.col("first_position") > covered)
        changed = False
        if tail.height and sum(_lengths(tail)) >= min_tail:
            for first, last in _runs(tail, self.chunk):  # a long tail: several segments
                events = self.store.scan(log, known_at=last, after=(_END_OF_TIME, first - 1))
                coded = _coded(events.drop("log"), WRITTEN)
                chain.append(_write(directory, coded, first, last, self._small_group))
            changed = True
        if len(chain) > COMPACT_AT:
            while len(chain) > self.fan_in:  # many segments: merged in groups first
                groups = [
                    chain[start : start + self.fan_in]
                    for start in range(0, len(chain), self.fan_in)
                ]
                for group in groups:
                    if len(group) > 1:
                        _merge(directory, group, schema, self.chunk, final=False)
                chain[:] = [segment for group in groups for segment in group]
            _merge(directory, chain, schema, self.chunk)
            changed = True
        return changed

    def _committed(self, log: str, events: pl.DataFrame) -> None:
        """An import or append committed: a batch large enough, of the log's shape, goes to
        the writer thread, with what it needs to know of the store (asked here, not on the
        thread: the store is busy with the next batch). Small appends wait in the tail."""
        if self.folder is None or events.height < self.min_batch:
            return
        try:
            schema = self.store.schema(log)
            if any(schema.get(name) != dtype for name, dtype in events.schema.items()):
                return  # an attribute the store widened: the next read catches up
            work = _Pending(log, self.store.identity(log), schema, self.store.ranges(log), events)
        except (StoreError, UnknownLog):
            return
        with self._lock:
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_pending, name="read model writer", daemon=True
                )
                self._writer.start()
        self._pending.put(work)

    def _write_pending(self) -> None:
        while True:
            work = self._pending.get()
            try:
                self._segment_of(work)
            except BaseException as error:  # derived data: the next read catches up, or reads
                self.problem = f"{type(error).__name__}: {error}"  # the store, as it must
            finally:
                self._pending.task_done()

    def _segment_of(self, work: _Pending) -> None:
        """Committed events become a segment if they continue the log's segments."""
        assert self.folder is not None
        first = int(work.events["position"].min())  # type: ignore[arg-type]
        last = int(work.events["position"].max())  # type: ignore[arg-type]
        earlier = sum(_lengths(work.ranges.filter(pl.col("last_position") < first)))
        with self._lock:
            directory = self.folder / work.identity
            known = self._known.get(work.log)
            if known is None or known[0] != work.identity:
                chain = _chain(directory, work.ranges, work.schema)
                known = (work.identity, sum(segment.rows for segment in chain))
            if known[1] != earlier:
                return  # a gap (events from a writer without a read model): caught up later
            coded = _coded(work.events.lazy(), WRITTEN)
            segment = _write(directory, coded, first, last, self._small_group)
            self._known[work.log] = (work.identity, earlier + segment.rows)


@dataclass(frozen=True)
class _Pending:
    """A committed batch on its way to becoming a segment."""

    log: str
    identity: str
    schema: pl.Schema
    ranges: pl.DataFrame
    events: pl.DataFrame


def _lengths(ranges: pl.DataFrame) -> list[int]:
    return (ranges["last_position"] - ranges["first_position"] + 1).to_list()


def _chain(directory: Path, ranges: pl.DataFrame, schema: pl.Schema) -> list[Segment]:
    """The segments that cover the log's writes from its first one on, each exactly (the
    same first and last position as a run of writes, as many rows as they hold, the log's
    column types, a readable file). Files that do not fit are deleted: the store is the
    truth."""
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        match = _NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), int(match.group(2)), path))
        elif path.name.startswith(".writing-"):
            _stale(path)
    found.sort(key=lambda item: (item[0], -item[1]))  # from each start, the longest first
    firsts = ranges["first_position"].to_list()
    lasts = ranges["last_position"].to_list()
    lengths = _lengths(ranges)
    ends = {last: index for index, last in enumerate(lasts)}
    chain: list[Segment] = []
    index = 0  # the write the chain continues with
    for first, last, path in found:
        end = ends.get(last, -1)
        rows = sum(lengths[index : end + 1])
        fits = index < len(firsts) and first == firsts[index] and end >= index
        if not (fits and _fits(path, rows, schema)):
            path.unlink(missing_ok=True)  # superseded by a merge, or not (any more) this log's
            continue
        chain.append(Segment(path, first, last, rows))
        index = end + 1
    return chain


def _fits(path: Path, rows: int, schema: pl.Schema) -> bool:
    """Whether a segment file is whole and has the log's current column types."""
    try:
        if pq.read_metadata(path).num_rows != rows:
            return False
        stored = pl.read_parquet_schema(path)
    except (OSError, ValueError, RuntimeError, pl.exceptions.PolarsError):
        return False
    for name, dtype in stored.items():
        wanted = schema.get(name)
        if wanted is None:
            return False
        if name in CODED and dtype == pl.Categorical:
            continue
        if dtype != wanted:
            return False
    return True


def _stale(path: Path) -> None:
    """Delete an unfinished write left by a process that stopped (not one being written:
    those are younger than a minute)."""
    try:
        if datetime.now(UTC).timestamp() - path.stat().st_mtime > 60:
            path.unlink(missing_ok=True)
    except OSError:
        return


def _write(
    directory: Path,
    events: pl.LazyFrame,
    first: int,
    last: int,
    row_group: int = ROW_GROUP,
) -> Segment:
    """A segment of the events of the writes from position ``first`` to ``last`` (a batch
    or a run of the tail: in memory anyway), sorted by case, time and position, in row
    groups of whole cases, written whole or not at all."""
    output = _Appended(directory / f"segment-{first:012d}-{last:012d}.parquet", row_group)
    directory.mkdir(parents=True, exist_ok=True)
    try:
        output.append(_in_order(events.collect()))
        output.finish()
    finally:
        output.abandon()
    return Segment(output.path, first, last, pq.read_metadata(output.path).num_rows)


def _per_case_schema(kind: PerCase, schema: pl.Schema) -> pl.Schema:
    """The columns of the rows of a kind, with their bounds, for a log of this schema."""
    empty = _conform(pl.LazyFrame(schema=schema), schema, WRITTEN)
    return _rows_of(kind, empty, bounds=True).schema


def _per_case_path(kind: PerCase, segment: Path) -> Path:
    """Where the rows of a kind of a segment's cases are kept: beside it, named alike."""
    return segment.with_name(segment.name.replace("segment-", f"{kind}-", 1))


def _only(kind: PerCase, path: Path) -> None:
    """Delete the files of rows of a kind beside ``path`` but it (of merged segments)."""
    for other in path.parent.glob(f"{kind}-*.parquet"):
        if other != path:
            other.unlink(missing_ok=True)


def _per_case_rows(
    kind: PerCase, segment: Segment, schema: pl.Schema, size: int
) -> Iterator[pl.DataFrame]:
    """A segment's rows of a kind, with their bounds, a range of cases at a time."""
    for events in _chunks([segment.path], schema, size):
        yield _rows_of(kind, events.lazy(), bounds=True)


def _runs(ranges: pl.DataFrame, size: int) -> list[tuple[int, int]]:
    """Consecutive writes grouped into runs of at most ``size`` events (a longer write is a
    run of its own), as (first, last) positions."""
    runs: list[tuple[int, int]] = []
    count = 0
    ordered = ranges.sort("first_position")
    for first, last, length in zip(
        ordered["first_position"], ordered["last_position"], _lengths(ordered), strict=True
    ):
        if runs and count + length <= size:
            runs[-1] = (runs[-1][0], last)
            count += length
        else:
            runs.append((first, last))
            count = length
    return runs


def _merge(
    directory: Path, chain: list[Segment], schema: pl.Schema, size: int, *, final: bool = True
) -> None:
    """Merge the segments into one (the chain becomes that one), with its rows per case of
    every kind unless it is not ``final`` (a group merged before the last merge), a range of
    cases at a time (`_chunks`): each range's events are sorted, appended to the segment
    and summed per case into the per-case files. The merge holds one range of about
    ``size`` events, not the log (`workbench ingest` of 10.6 M events: peak 1.02 GB, where
    merging the whole log at once took 2.6 GB). A range reads a row group or so of every
    segment besides its own events: a merge reads at most ``fan_in`` segments, whose row
    groups are small unless final."""
    first, last = chain[0].first, chain[-1].last
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"segment-{first:012d}-{last:012d}.parquet"
    row_group = min(ROW_GROUP if final else SMALL_GROUP, size)
    kinds = PER_CASE if final else ()
    outputs = {"segment": _Appended(path, row_group)}
    for kind in kinds:
        outputs[kind] = _Appended(
            _per_case_path(kind, path), ROW_GROUP, statistics=False, events=False
        )
    try:
        for events in _chunks([s.path for s in chain], schema, size):
            outputs["segment"].append(events)
            for kind in kinds:
                outputs[kind].append(_rows_of(kind, events.lazy(), bounds=True))
        outputs["segment"].finish()
        segment = Segment(path, first, last, pq.read_metadata(path).num_rows)
        if segment.rows != sum(s.rows for s in chain):  # never: the ranges cover every case
            path.unlink(missing_ok=True)
            raise OSError(f"a merge of {directory} lost events; the segments stay as they are")
        for kind in kinds:
            outputs[kind].finish()
            _only(kind, outputs[kind].path)
    finally:
        for output in outputs.values():
            output.abandon()
    for old in chain:
        if old.path != segment.path:
            old.path.unlink(missing_ok=True)
    chain[:] = [segment]


class _Appended:
    """Frames appended to one Parquet file as they come (a row group at a time), made
    whole at `finish` (renamed into place) or not at all. Events (frames in case order with
    whole cases) go in row groups of whole cases (`_whole_cases`)."""

    def __init__(
        self, path: Path, row_group: int, *, statistics: bool = True, events: bool = True
    ) -> None:
        self.path = path
        self.row_group = row_group
        self.statistics = statistics
        self.events = events
        self._partial = path.with_name(f".writing-{uuid.uuid4().hex}")
        self._writer: pq.ParquetWriter | None = None

    def append(self, frame: pl.DataFrame) -> None:
        table = frame.to_arrow()
        if self._writer is None:
            self._writer = pq.ParquetWriter(
                self._partial, table.schema, compression="lz4", write_statistics=self.statistics
            )
        elif table.schema != self._writer.schema:
            table = table.cast(self._writer.schema)
        if not self.events:
            self._writer.write_table(table, row_group_size=self.row_group)
            return
        for start, length in _whole_cases(frame["case_id"], self.row_group):
            self._writer.write_table(table.slice(start, length), row_group_size=length)

    def finish(self) -> None:
        assert self._writer is not None, "nothing was appended"
        self._writer.close()
        self._writer = None
        self._partial.replace(self.path)

    def abandon(self) -> None:
        """Let go of an unfinished file (nothing, after `finish`)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._partial.unlink(missing_ok=True)


def _whole_cases(cases: pl.Series, size: int) -> list[tuple[int, int]]:
    """Row groups of ``size`` rows or more (the last of a frame fewer), each ending where a
    case does, as (first row, rows), of case ids in case order: a case is never split
    between row groups, so each row group is a partition of whole cases that a reader
    computes per-case rows of on its own, and a case id's statistics lead a filter on a
    case to the one row group that holds it."""
    ends = (cases != cases.shift(-1)).fill_null(True).arg_true().to_numpy() + 1
    groups: list[tuple[int, int]] = []
    start = 0
    while start < len(cases):
        index = int(np.searchsorted(ends, start + size))
        end = int(ends[min(index, len(ends) - 1)])
        groups.append((start, end - start))
        start = end
    return groups


def _chunks(paths: list[Path], schema: pl.Schema, size: int) -> Iterator[pl.DataFrame]:
    """The events of segments a range of cases at a time, each range whole cases of about
    ``size`` events, sorted by case, time and position, the ranges in case order, coded as
    the read model writes them (`WRITTEN`). Of each segment (sorted by case) a range reads
    the row groups whose cases reach it."""
    groups = [_case_groups(path) for path in paths]
    for low, high in _case_ranges(groups, size):
        reached = (
            _between(path, found, schema, low, high)
            for path, found in zip(paths, groups, strict=True)
        )
        parts = [part for part in reached if part is not None]
        if len(parts) == 1:
            yield parts[0].collect()
        elif parts:
            yield _in_order(pl.concat(parts).collect())


def _in_order(events: pl.DataFrame) -> pl.DataFrame:
    """Events sorted by case, time and position, a column at a time: the order is found
    from the sort keys alone and each column is put in it as the unsorted one is let go,
    so the sort holds the events once and one column besides (a plain sort of 1 M events
    held three times what they take)."""
    order = events.select(pl.arg_sort_by(list(ORDER))).to_series()
    events = events.clone()  # the caller's frame keeps its columns
    return pl.DataFrame([events.drop_in_place(name).gather(order) for name in events.columns])


def _case_ranges(groups: list[list[Group]], size: int) -> list[Range]:
    """Ranges of whole cases of about ``size`` events, in case order (the order of case ids
    as text, as the segments sort them), from the row groups' statistics alone: a range
    starts at the least case id of a row group once the row groups before it hold ``size``
    events (more or less a row group of each segment). Without statistics, one range."""
    found = [(least, rows) for each in groups for _offset, rows, least, _most in each]
    if any(least is None for least, _rows in found):
        return [(None, None)]
    bounds: list[str] = []
    count = 0
    for least, rows in sorted(found, key=lambda item: str(item[0])):
        assert least is not None
        if count >= size and (not bounds or least > bounds[-1]):
            bounds.append(least)
            count = 0
        count += rows
    lows: list[str | None] = [None, *bounds]
    highs: list[str | None] = [*bounds, None]
    return list(zip(lows, highs, strict=True))


def _case_groups(path: Path) -> list[Group]:
    """Each row group of a segment: its first row, its rows, its least and greatest case id
    (None where the file keeps no statistics)."""
    metadata = pq.read_metadata(path)
    names = [metadata.schema.column(index).path for index in range(metadata.num_columns)]
    column = names.index("case_id")
    groups = []
    offset = 0
    for index in range(metadata.num_row_groups):
        group = metadata.row_group(index)
        statistics = group.column(column).statistics
        least = most = None
        kept = statistics is not None and statistics.has_min_max
        if kept and isinstance(statistics.min, str) and isinstance(statistics.max, str):
            least, most = statistics.min, statistics.max
        groups.append((offset, group.num_rows, least, most))
        offset += group.num_rows
    return groups


def _between(
    path: Path,
    groups: list[Group],
    schema: pl.Schema,
    low: str | None,
    high: str | None,
) -> pl.LazyFrame | None:
    """The events of a segment whose case ids are in a range (from ``low``, before
    ``high``; None: no bound), reading only the row groups that reach it (None: none do)."""
    start = end = None
    for offset, rows, least, most in groups:
        if (
            least is None
            or most is None
            or ((low is None or most >= low) and (high is None or least < high))
        ):
            start = offset if start is None else start
            end = offset + rows
    if start is None or end is None:
        return None
    events = _conform(pl.scan_parquet(path).slice(start, end - start), schema, WRITTEN)
    case = pl.col("case_id").cast(pl.String)
    if low is not None:
        events = events.filter(case >= pl.lit(low))
    if high is not None:
        events = events.filter(case < pl.lit(high))
    return events


def _rows_of(kind: PerCase, events: pl.LazyFrame, *, bounds: bool) -> pl.DataFrame:
    """Rows of a kind per case of events in case order, in case order, with the bounds a
    cut is judged by (or without them)."""
    also = _BOUNDS if bounds else None
    if kind == "cases":
        return projections.case_rows(events, presorted=True, also=also).collect()
    return timetravel.fold(events, presorted=True, also=also).sort("case_id").collect()


def _inside(
    kind: PerCase, as_of: datetime | None, known_at: datetime | int | None
) -> tuple[pl.Expr, pl.Expr]:
    """Over rows with bounds: whether each case is wholly inside a cut, and whether it is
    wholly after it (neither: the cut splits it)."""
    start, end = ("start", "end") if kind == "cases" else ("start", "last_timestamp")
    whole, gone = pl.lit(True), pl.lit(False)
    if as_of is not None:
        whole = whole & (pl.col(end) <= as_of)
        gone = gone | (pl.col(start) > as_of)
    if isinstance(known_at, datetime):
        whole = whole & (pl.col("__last_recorded") <= known_at)
        gone = gone | (pl.col("__first_recorded") > known_at)
    elif known_at is not None:
        whole = whole & (pl.col("__last_position") <= known_at)
        gone = gone | (pl.col("__first_position") > known_at)
    return whole.fill_null(False), gone.fill_null(False)


def _conform(
    frame: pl.LazyFrame, schema: pl.Schema, coded: tuple[str, ...] = CODED
) -> pl.LazyFrame:
    """A segment's columns as the log has them now: attributes that came later are null
    (the events before them never had one); the ``coded`` columns as categoricals."""
    present = frame.collect_schema()
    return frame.select(
        pl.col(name) if name in present else pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in schema.items()
        if name != "log"
    ).with_columns(
        pl.col(name).cast(pl.Categorical if name in coded else schema[name])
        for name in CODED
        if name in schema
        and present.get(name) != (pl.Categorical if name in coded else schema[name])
    )


def _coded(events: pl.LazyFrame, coded: tuple[str, ...] = CODED) -> pl.LazyFrame:
    """Case ids, activities and resources (or the ``coded`` of them) as categoricals."""
    schema = events.collect_schema()
    return events.with_columns(
        pl.col(name).cast(pl.Categorical) for name in coded if schema.get(name) == pl.String
    )


def cut(
    events: pl.LazyFrame, *, as_of: datetime | None = None, known_at: datetime | int | None = None
) -> pl.LazyFrame:
    """The events as of a moment (valid time) and as known at another (transaction time: a
    datetime compares with ``recorded_at``, an int with ``position``), as `EventStore.scan`
    cuts them."""
    if as_of is not None:
        events = events.filter(pl.col("timestamp") <= as_of)
    if isinstance(known_at, datetime):
        events = events.filter(pl.col("recorded_at") <= known_at)
    elif known_at is not None:
        events = events.filter(pl.col("position") <= known_at)
    return events


def decoded_lazy(events: pl.LazyFrame) -> pl.LazyFrame:
    """`decoded` of a lazy frame."""
    schema = events.collect_schema()
    return events.with_columns(
        pl.col(name).cast(pl.String)
        for name, dtype in schema.items()
        if isinstance(dtype, pl.Categorical | pl.Enum)
    )


def decoded(frame: pl.DataFrame) -> pl.DataFrame:
    """A projection's result with categorical columns (and lists of them) back as text."""
    casts = []
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.Enum | pl.Categorical):
            casts.append(pl.col(name).cast(pl.String))
        elif isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Enum | pl.Categorical):
            casts.append(pl.col(name).cast(pl.List(pl.String)))
    return frame.with_columns(casts) if casts else frame
