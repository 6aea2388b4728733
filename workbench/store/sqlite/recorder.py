"""The SQLite recorder: one file, two connections (sqlite3 for small statements, ADBC for
Arrow in and out), WAL, ``synchronous=FULL`` and ``BEGIN IMMEDIATE`` writes.

Each batch is grouped by case before it is written, so that new positions, the
``(case_key, revision)`` index and derived event ids all grow in the same order; that keeps
a bulk import close to a plain table append. Reads cut by time use ``event_ranges`` (one
row per committed write) to bound the rowid range they scan.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, NoReturn

import adbc_driver_manager
import polars as pl
import pyarrow as pa
from adbc_driver_sqlite import dbapi as adbc

from workbench.events import UTC_MICROS, StoreBusy, StoreError, StoreReadOnly
from workbench.store import attributes as attrs
from workbench.store.attributes import Attributes, Column
from workbench.store.frames import derived_id
from workbench.store.recorder import (
    DICTIONARIES,
    OBJECT_TABLES,
    RANGE_COLUMNS,
    Cut,
    T,
    now_micros,
    object_frames,
    reject_rows,
    rejected_count,
    select_list,
)
from workbench.store.records import (
    ImportResult,
    Job,
    JobProgress,
    Objects,
)
from workbench.store.sql import JOB_COLUMNS, PortableQueries, job_of
from workbench.store.sqlite import schema

_STORED_IDS = pl.Schema(
    {"event_id": pl.String, "case_id": pl.String, "revision": pl.Int64, "position": pl.Int64}
)


def _frame(cursor: Any) -> pl.DataFrame:
    frame = pl.from_arrow(cursor.fetch_arrow_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


class SQLiteRecorder(PortableQueries):
    """An event store in one SQLite file (see `workbench.store.recorder.Recorder`)."""

    def __init__(self, path: str | Path, *, timeout: float = 60.0) -> None:
        if str(path) == ":memory:":
            raise ValueError("the store needs a file (it opens two connections to it)")
        self.path = Path(path)
        self.location = str(path)
        self.timeout = timeout
        # Polars runs deferred reads on its own threads, and the app serves sessions from
        # several: the connections are shared, their use serialized by this lock.
        self.lock = threading.RLock()
        self.read_only = False
        self._uri = f"file:{self.path}"
        self._connection: Any = self._open()
        # Files from before derived ids were kept implicitly store every id as text.
        self.implicit_ids = not _run(
            self._connection,
            "SELECT \"notnull\" FROM pragma_table_info('events') WHERE name = 'event_id'",
        )[0][0]

    # ------------------------------------------------------------------ opening

    def _open(self) -> Any:
        """Connect, refusing what is not a store, and falling back to reading only.

        One SQLite library touches the file in this process, the ADBC driver's: SQLite
        keeps POSIX locks per process and file, and only the library that took them knows
        not to drop them when another of its connections closes. For the same reason the
        file itself is never opened here other than through SQLite.
        """
        if self.path.is_dir():
            self._fail("it is a folder; give the path of a store file inside it")
        if not self.path.parent.is_dir():
            self._fail(f"the folder {self.path.parent} does not exist")
        if self.path.exists() and not (
            os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK)
        ):
            # A read-only file, or a folder where SQLite cannot keep its write-ahead files.
            return self._open_read_only()
        try:
            connection = self._connect(self._uri)
            try:
                self._prepare(connection)
            except BaseException:
                connection.close()
                raise
        except adbc_driver_manager.Error as error:
            if not self.path.exists() or not _is_read_only(error):
                raise self._translate(error) from None
            return self._open_read_only()
        return connection

    def _open_read_only(self) -> Any:
        """Read a store on a read-only file or file system. Without a write-ahead log to
        replay, the file is read as immutable (SQLite cannot create its shared memory there)."""
        self.read_only = True
        wal = Path(f"{self.path}-wal")
        uris = [f"file:{self.path}?mode=ro"]
        if not wal.exists() or wal.stat().st_size == 0:
            uris.append(f"file:{self.path}?immutable=1")
        for uri in uris:
            try:
                connection = self._connect(uri)
            except adbc_driver_manager.Error:
                continue
            if schema.needs_changes(partial(_run, connection)):
                connection.close()
                raise StoreReadOnly(
                    self.location,
                    "it is read-only and was made by another version of Workbench; open a"
                    " writable copy once to bring it up to date",
                )
            self._pragmas(connection)
            self._uri = uri
            return connection
        raise StoreReadOnly(
            self.location,
            "it is read-only, and its write-ahead log holds changes that SQLite can only"
            " read with write access; open it once where it can be written",
        )

    def _connect(self, uri: str) -> Any:
        connection = adbc.connect(uri, autocommit=True)
        try:
            # The busy timeout first: every later statement may have to wait for a writer.
            _run(connection, f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
            _run(connection, "SELECT count(*) FROM sqlite_master")
        except BaseException:
            connection.close()
            raise
        return connection

    def _prepare(self, connection: Any) -> None:
        def run(sql: str) -> list[Any]:
            return _run(connection, sql)

        tables = {row[0] for row in run("SELECT name FROM sqlite_master")}
        if tables and "events" not in tables:
            self._fail("it is an SQLite database, but not a Workbench store")
        # Large pages make bulk appends cheaper (fewer B-tree splits); the page size of a
        # database is fixed when its first table is created.
        if not tables:
            run("PRAGMA page_size=32768")
        self._pragmas(connection)
        if not tables or schema.needs_changes(run):
            schema.create(run)

    def _pragmas(self, connection: Any) -> None:
        statements = [f"PRAGMA busy_timeout={int(self.timeout * 1000)}"]
        if not self.read_only:
            statements += ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL"]
        statements += ["PRAGMA cache_size=-65536", "PRAGMA temp_store=MEMORY"]
        for statement in statements:
            _run(connection, statement)

    # ------------------------------------------------------------------ errors

    def _fail(self, reason: str) -> NoReturn:
        raise StoreError(self.location, reason)

    def _translate(self, error: BaseException) -> StoreError:
        """The store's own error for a driver's error."""
        text = str(error)
        lowered = text.lower()
        if "locked" in lowered or "busy" in lowered:
            return StoreBusy(
                self.location,
                f"another process held its write lock for more than {self.timeout:g} s;"
                " try again when it has finished",
            )
        if _is_read_only(error):
            return StoreReadOnly(
                self.location,
                "it is read-only (a read-only file or file system): it can be read, not written",
            )
        if "not a database" in lowered:
            return StoreError(self.location, "it is not a Workbench store (not an SQLite database)")
        if "malformed" in lowered:
            return StoreError(
                self.location, f"the file is damaged or not a Workbench store ({text})"
            )
        if "unable to open" in lowered:
            return StoreError(self.location, "the file cannot be opened")
        if "disk" in lowered and ("full" in lowered or "i/o" in lowered):
            return StoreError(self.location, f"the disk failed or is full ({text})")
        return StoreError(self.location, text.strip().splitlines()[0] if text.strip() else text)

    @contextmanager
    def _use(self) -> Iterator[None]:
        """Hold the connections, and turn a driver's error into the store's own."""
        with self.lock:
            try:
                yield
            except adbc_driver_manager.Error as error:
                if _interrupted(error):
                    # Ctrl-C during a statement: the driver cannot cancel it and reports
                    # that instead; the user asked to stop, so stop (the transaction rolls
                    # back, or has committed if the statement was the commit).
                    raise KeyboardInterrupt from None
                raise self._translate(error) from error

    def _check_writable(self) -> None:
        if self.read_only:
            raise StoreReadOnly(
                self.location,
                "it is read-only (a read-only file or file system): it can be read, not written",
            )

    # ------------------------------------------------------------------ connections

    def _cursor(self) -> Any:
        """A cursor (Arrow in and out) on the store's connection."""
        cursor = self._connection.cursor()
        cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(1 << 30)})
        return cursor

    @contextmanager
    def waiter(self) -> Iterator[Callable[[float], None]]:
        """A wait for new events: SQLite has no notifications, so a reader polls."""
        yield time.sleep

    def analyze(self) -> None:
        """Let SQLite refresh the statistics its planner uses (``PRAGMA optimize``)."""
        if self.read_only:
            return
        with self._use():
            cursor = self._cursor()
            try:
                cursor.execute("PRAGMA optimize")
            finally:
                cursor.close()

    def close(self) -> None:
        """Close the connection."""
        with self.lock:
            self._connection.close()

    @contextmanager
    def transaction(self) -> Iterator[_Transaction]:
        """``BEGIN IMMEDIATE`` on the Arrow connection; committed when the block ends."""
        self._check_writable()
        with self._use():
            cursor = self._cursor()
            try:
                cursor.execute("BEGIN IMMEDIATE")
                try:
                    yield _Transaction(cursor, implicit_ids=self.implicit_ids)
                except BaseException:
                    cursor.execute("ROLLBACK")
                    raise
                cursor.execute("COMMIT")
            finally:
                cursor.close()

    def _rows(self, query: str, parameters: Sequence[Any] = ()) -> list[Any]:
        with self._use():
            return _run(self._connection, query, parameters)

    def _execute(self, query: str, parameters: Sequence[Any] = ()) -> int:
        """Run a small write on its own; returns the rows changed."""
        self._check_writable()
        with self._use():
            cursor = self._connection.cursor()
            try:
                cursor.execute(query, parameters)
                cursor.execute("SELECT changes()")
                return int(cursor.fetchone()[0])
            finally:
                cursor.close()

    def query(self, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
        """The rows of a read-only query on the file (for tests and tools that inspect it)."""
        return self._rows(sql, parameters)

    # ------------------------------------------------------------------ events

    def read_events(self, log_id: int, cut: Cut) -> pl.DataFrame | None:
        with self._use():
            cursor = self._cursor()
            try:
                if cut.cases is None:
                    return self._read_log(cursor, log_id, cut)
                return self._read_cases(cursor, log_id, cut)
            finally:
                cursor.close()

    def _read_log(self, cursor: Any, log_id: int, cut: Cut) -> pl.DataFrame | None:
        # The ranges that can hold qualifying events bound the scan.
        cursor.execute(
            "SELECT min(first_position), max(last_position) FROM event_ranges"
            " WHERE log_id = ? AND min_timestamp <= ? AND recorded_at <= ? AND first_position <= ?"
            " AND (max_timestamp > ? OR last_position > ?)",
            (log_id, cut.timestamp, cut.recorded, cut.position, *cut.after),
        )
        first, last = cursor.fetchone()
        if first is None:
            return None
        # `+log_id` keeps SQLite on the rowid range: one sequential pass instead of
        # random reads through an index.
        cursor.execute(
            f"SELECT {', '.join(select_list(cut.columns))} FROM events"
            " WHERE +log_id = ? AND position BETWEEN ? AND ?"
            " AND timestamp <= ? AND recorded_at <= ? AND (timestamp > ? OR position > ?)",
            (log_id, first, min(last, cut.position), cut.timestamp, cut.recorded, *cut.after),
        )
        return _frame(cursor)

    def _read_cases(self, cursor: Any, log_id: int, cut: Cut) -> pl.DataFrame | None:
        cursor.execute(
            f"SELECT {', '.join(select_list(cut.columns))} FROM events WHERE case_key IN"
            " (SELECT case_key FROM cases WHERE log_id = ? AND case_id IN"
            " (SELECT value FROM json_each(?))) AND position <= ?"
            " AND timestamp <= ? AND recorded_at <= ? AND (timestamp > ? OR position > ?)"
            " ORDER BY position",
            (
                log_id,
                json.dumps(cut.cases),
                cut.position,
                cut.timestamp,
                cut.recorded,
                *cut.after,
            ),
        )
        frame = _frame(cursor)
        return None if frame.is_empty() else frame

    def read_attributes(
        self, log_id: int, table: int, columns: Sequence[Column], events: pl.DataFrame
    ) -> pl.DataFrame:
        selected = ", ".join(
            f"CAST({c.name} AS {attrs.PHYSICAL[c.kind]}) AS {attrs.read_label(c)}" for c in columns
        )
        name = attrs.table_name(log_id, table)
        positions = events["position"]
        low, high = int(positions.min()), int(positions.max())  # type: ignore[arg-type]
        with self._use():
            cursor = self._cursor()
            try:
                if attrs.is_case_table(table):
                    # Runs of equal values in a case: those of the events' cases (of all,
                    # when they are many).
                    cases = events["case_key"].unique()
                    few = cases.len() <= 10_000
                    cursor.execute(
                        f"SELECT position, case_key, {selected} FROM {name} WHERE position <= ?"
                        + (" AND case_key IN (SELECT value FROM json_each(?))" if few else ""),
                        (high, json.dumps(cases.to_list())) if few else (high,),
                    )
                    return attrs.spread(_frame(cursor).cast({"case_key": pl.Int64}), events)
                if positions.len() * 8 < high - low:
                    # A sparse selection: look the rows up by position instead of the range.
                    cursor.execute(
                        f"SELECT position, {selected} FROM {name} WHERE position IN"
                        " (SELECT value FROM json_each(?))",
                        (json.dumps(positions.to_list()),),
                    )
                else:  # one sequential pass over the range
                    cursor.execute(
                        f"SELECT position, {selected} FROM {name} WHERE position BETWEEN ? AND ?",
                        (low, high),
                    )
                return _frame(cursor)
            finally:
                cursor.close()

    def dictionary(self, table: str, log_id: int, keys: pl.Series | None) -> pl.DataFrame:
        key, column = DICTIONARIES[table]
        query = f"SELECT {key}, {column} FROM {table} WHERE log_id = ?"
        if keys is None:
            rows = self._rows(query, (log_id,))
        else:
            wanted = json.dumps(keys.drop_nulls().unique().to_list())
            rows = self._rows(
                f"{query} AND {key} IN (SELECT value FROM json_each(?))", (log_id, wanted)
            )
        return pl.DataFrame(rows, schema={key: pl.Int64, column: pl.String}, orient="row")

    def view_links(
        self, log_id: int, object_type: str, object_ids: Sequence[str] | None
    ) -> pl.DataFrame:
        wanted = None if object_ids is None else json.dumps(list(object_ids))
        rows = self._rows(
            "SELECT DISTINCT l.event_id, l.object_id FROM event_objects l"
            " JOIN objects o ON o.log_id = l.log_id AND o.object_id = l.object_id"
            " WHERE l.log_id = ? AND o.object_type = ?"
            " AND (?3 IS NULL OR l.object_id IN (SELECT value FROM json_each(?3)))",
            (log_id, object_type, wanted),
        )
        return pl.DataFrame(
            rows, schema={"event_id": pl.String, "object_id": pl.String}, orient="row"
        )

    # ------------------------------------------------------------------ projections

    def save_projection(
        self,
        log_id: int,
        view: str,
        name: str,
        at: int,
        position: int,
        refreshed_at: int,
        seconds: float,
        data: bytes,
    ) -> None:
        key = (log_id, view, name, at)
        with self.transaction() as tx:
            tx.cursor.execute(
                "INSERT OR REPLACE INTO projections"
                " (log_id, view, name, at, position, refreshed_at, seconds, data)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (*key, position, refreshed_at, seconds, data),
            )
            tx.cursor.execute(
                "DELETE FROM projection_changes"
                " WHERE log_id = ? AND view = ? AND name = ? AND at = ?",
                key,
            )

    def add_projection_change(
        self,
        log_id: int,
        view: str,
        name: str,
        at: int,
        position: int,
        refreshed_at: int,
        seconds: float,
        replaced: str,
        rows: int,
        data: bytes,
    ) -> None:
        with self.transaction() as tx:
            tx.cursor.execute(
                "INSERT INTO projection_changes"
                " (log_id, view, name, at, seq, position, replaced, rows, data)"
                " SELECT ?1, ?2, ?3, ?4, coalesce(max(seq), 0) + 1, ?5, ?6, ?7, ?8"
                " FROM projection_changes"
                " WHERE log_id = ?1 AND view = ?2 AND name = ?3 AND at = ?4",
                (log_id, view, name, at, position, replaced, rows, data),
            )
            tx.cursor.execute(
                "UPDATE projections SET position = ?, refreshed_at = ?, seconds = ?"
                " WHERE log_id = ? AND view = ? AND name = ? AND at = ?",
                (position, refreshed_at, seconds, log_id, view, name, at),
            )

    def forget_projections(self, log_id: int, view: str, name: str | None) -> None:
        with self.transaction() as tx:
            for table in ("projection_changes", "projections"):
                tx.cursor.execute(
                    f"DELETE FROM {table} WHERE log_id = ?1 AND view = ?2"
                    " AND (?3 IS NULL OR name = ?3)",
                    (log_id, view, name),
                )


def _run(connection: Any, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
    """Run one statement on a connection; its rows (none for most writes)."""
    cursor = connection.cursor()
    try:
        cursor.execute(sql, parameters)
        try:
            return list(cursor.fetchall())
        except adbc_driver_manager.Error:  # a statement without a result set
            return []
    finally:
        cursor.close()


def _interrupted(error: BaseException) -> bool:
    """Whether a driver's error stands for an interrupt (SIGINT) during a blocking call."""
    seen: BaseException | type[BaseException] | None = error
    while seen is not None:
        if seen is KeyboardInterrupt or isinstance(seen, KeyboardInterrupt):
            return True
        seen = seen.__cause__ if isinstance(seen, BaseException) else None
    return False


def _is_read_only(error: BaseException) -> bool:
    text = str(error).lower()
    return "readonly" in text or "read-only" in text or "read only" in text


class _Transaction:
    """The statements of one write transaction, on an ADBC cursor holding the write lock."""

    def __init__(self, cursor: Any, *, implicit_ids: bool) -> None:
        self.cursor = cursor
        self.implicit_ids = implicit_ids

    def fetch(self, query: str, parameters: Sequence[Any] = ()) -> pl.DataFrame:
        self.cursor.execute(query, parameters)
        return _frame(self.cursor)

    def find_log(self, name: str) -> int | None:
        found = self.fetch("SELECT log_id FROM logs WHERE name = ?", (name,))
        return int(found.item(0, 0)) if found.height else None

    def ensure_log(self, name: str) -> int:
        found = self.find_log(name)
        if found is not None:
            return found
        self.cursor.execute(
            "INSERT INTO logs (name, created_at) VALUES (?, ?)", (name, now_micros())
        )
        return int(self.fetch("SELECT last_insert_rowid()").item(0, 0))

    def has_events(self, log_id: int) -> bool:
        found = self.fetch("SELECT 1 FROM event_ranges WHERE log_id = ? LIMIT 1", (log_id,))
        return found.height > 0

    def head(self, log_id: int) -> int:
        found = self.fetch(
            "SELECT coalesce(max(last_position), 0) FROM event_ranges WHERE log_id = ?",
            (log_id,),
        )
        return int(found.item(0, 0))

    def stored_ids(self, log_id: int, events: pl.DataFrame) -> pl.DataFrame:
        ids = pa.table({"event_id": events["event_id"].cast(pl.String).to_arrow()})
        self.cursor.adbc_ingest("offered_ids", ids, mode="replace", temporary=True)
        given = self.fetch(
            "SELECT e.event_id, c.case_id, e.revision, e.position"
            # CROSS JOIN keeps the offered ids outermost, each found through the index.
            " FROM temp.offered_ids o CROSS JOIN events e"
            " ON e.log_id = ? AND e.event_id = o.event_id"
            " JOIN cases c ON c.case_key = e.case_key ORDER BY e.position",
            (log_id,),
        ).cast(_STORED_IDS)
        derived = events.filter(pl.col("event_id").str.ends_with("#0"))
        if not self.implicit_ids or not derived.height:
            return given
        # Ids kept implicitly, derived again for the offered cases' events that have none.
        cases = pa.table({"case_id": derived["case_id"].unique().cast(pl.String).to_arrow()})
        self.cursor.adbc_ingest("offered_cases", cases, mode="replace", temporary=True)
        implicit = self.fetch(
            "SELECT c.case_id, e.revision, e.position, e.timestamp, a.name AS activity"
            " FROM temp.offered_cases o CROSS JOIN cases c"
            " ON c.log_id = ? AND c.case_id = o.case_id"
            " JOIN events e ON e.case_key = c.case_key AND e.event_id IS NULL"
            " JOIN activities a ON a.activity_key = e.activity_key",
            (log_id,),
        )
        if not implicit.height:
            return given
        found = implicit.select(
            derived_id(
                pl.col("case_id").cast(pl.String),
                pl.col("timestamp").cast(pl.Int64).cast(UTC_MICROS),
                pl.col("activity").cast(pl.String),
                0,
            ).alias("event_id"),
            "case_id",
            "revision",
            "position",
        ).cast(_STORED_IDS)
        found = found.join(derived.select("event_id"), on="event_id", how="semi")
        return pl.concat([given, found]).sort("position")

    def unless_stored(self, write: Callable[[], T]) -> T | None:
        self.cursor.execute("SAVEPOINT unless_stored")
        try:
            result = write()
        except adbc_driver_manager.Error as error:
            if "UNIQUE constraint failed: events.log_id, events.event_id" not in str(error):
                raise
            self.cursor.execute("ROLLBACK TO unless_stored")
            self.cursor.execute("RELEASE unless_stored")
            return None
        self.cursor.execute("RELEASE unless_stored")
        return result

    def case_revisions(self, log_id: int, case_ids: Sequence[str]) -> dict[str, int]:
        revision = "(SELECT max(revision) FROM events e WHERE e.case_key = c.case_key)"
        if len(case_ids) == 1:
            found = self.fetch(
                f"SELECT c.case_id, {revision} FROM cases c WHERE c.log_id = ? AND c.case_id = ?",
                (log_id, case_ids[0]),
            )
        else:
            offered = pa.table({"case_id": pa.array(case_ids, pa.string())})
            self.cursor.adbc_ingest("offered_cases", offered, mode="replace", temporary=True)
            found = self.fetch(
                f"SELECT c.case_id, {revision} FROM temp.offered_cases o"
                " JOIN cases c ON c.log_id = ? AND c.case_id = o.case_id",
                (log_id,),
            )
        return {str(case): int(rev) for case, rev in found.iter_rows() if rev is not None}

    def keys(self, table: str, log_id: int, names: pl.Series) -> pl.DataFrame:
        key, column = DICTIONARIES[table]
        wanted = pl.DataFrame({column: names.drop_nulls().unique().sort()})
        # Only the names wanted, looked up in the (log_id, name) index: a log's whole
        # dictionary (a million cases) would be read again for every batch.
        known = self.fetch(
            f"SELECT {key}, {column} FROM {table} WHERE log_id = ?"
            f" AND {column} IN (SELECT value FROM json_each(?))",
            (log_id, json.dumps(wanted[column].to_list(), ensure_ascii=False)),
        )
        known = (
            known.cast({key: pl.Int64, column: pl.String})
            if known.height
            else pl.DataFrame(schema={key: pl.Int64, column: pl.String})
        )
        new = wanted.join(known, on=column, how="anti")
        found = known.with_columns(pl.lit(False).alias("_new"))
        if new.height:
            top = self.fetch(f"SELECT coalesce(max({key}), 0) FROM {table}").item(0, 0)
            new = new.select(
                (pl.int_range(pl.len(), dtype=pl.Int64) + int(top) + 1).alias(key),
                pl.lit(log_id, dtype=pl.Int64).alias("log_id"),
                pl.col(column),
            )
            self.cursor.adbc_ingest(table, new.to_arrow(), mode="append")
            found = pl.concat([found, new.select(key, column, pl.lit(True).alias("_new"))])
        return found.rename({column: "_name"})

    def attributes(self, log_id: int) -> Attributes:
        found = self.fetch("SELECT attribute_types FROM logs WHERE log_id = ?", (log_id,))
        return attrs.loads(found.item(0, 0))

    def add_attributes(
        self, log_id: int, attributes: Attributes, new_columns: Sequence[Column]
    ) -> None:
        existing = {
            row[0]
            for row in self.fetch(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ?",
                (f"attributes_{int(log_id)}%",),
            ).iter_rows()
        }
        by_table: dict[int, list[Column]] = {}
        for column in new_columns:
            by_table.setdefault(column.table, []).append(column)
        for table, columns in sorted(by_table.items()):
            name = attrs.table_name(log_id, table)
            if name in existing:
                for column in columns:
                    self.cursor.execute(f"ALTER TABLE {name} ADD COLUMN {column.name}")
            else:
                self._create_attribute_table(log_id, name, columns)
        self.cursor.execute(
            "UPDATE logs SET attribute_types = ? WHERE log_id = ?",
            (attrs.dumps(attributes), log_id),
        )

    def _create_attribute_table(self, log_id: int, name: str, columns: Sequence[Column]) -> None:
        listed = "".join(f", {column.name}" for column in columns)
        # A case table holds a row where a run of equal values in a case starts.
        case = ", case_key INTEGER NOT NULL" if attrs.is_case_table(columns[0].table) else ""
        self.cursor.execute(f"CREATE TABLE {name} (position INTEGER PRIMARY KEY{case}{listed})")
        self.cursor.execute(
            f"CREATE TRIGGER {name}_refuse_update BEFORE UPDATE ON {name}"
            " BEGIN SELECT RAISE(ABORT, 'events are append-only: UPDATE is refused'); END"
        )
        self.cursor.execute(
            f"CREATE TRIGGER {name}_refuse_delete BEFORE DELETE ON {name}"
            f" WHEN NOT EXISTS (SELECT 1 FROM dropping_logs WHERE log_id = {int(log_id)})"
            " BEGIN SELECT RAISE(ABORT,"
            " 'events are append-only: DELETE is refused (use `workbench drop`)'); END"
        )

    def allocate(self, count: int) -> tuple[int, int]:
        # The events' own maximum too: a file written meanwhile by a version before `head`.
        top = self.fetch(
            "SELECT max((SELECT position FROM head),"
            " coalesce((SELECT max(position) FROM events), 0))"
        )
        first = int(top.item(0, 0)) + 1
        self.cursor.execute("UPDATE head SET position = ?", (first + count - 1,))
        last = self.fetch("SELECT recorded_at FROM events ORDER BY position DESC LIMIT 1")
        recorded_at = max(now_micros(), int(last.item(0, 0)) if last.height else 0)
        return first, recorded_at

    def write_events(self, rows: pl.DataFrame) -> None:
        if self.implicit_ids:
            rows = rows.with_columns(
                pl.when(~pl.col("derived")).then(pl.col("event_id")).alias("event_id")
            )
        self._ingest("events", rows.drop("derived"))

    def write_attributes(self, log_id: int, table: int, rows: pl.DataFrame) -> None:
        # A case table: a row where a run of equal values in a case starts.
        rows = attrs.runs(rows) if attrs.is_case_table(table) else rows.drop("case_key")
        self._ingest(attrs.table_name(log_id, table), rows)

    def _ingest(self, table: str, rows: pl.DataFrame) -> None:
        """Append rows; a column null in all of them is left to its default (NULL), which
        spares SQLite a bound parameter per row (ids kept implicitly, and no correlation)."""
        nulls = rows.null_count().row(0)
        empty = [
            name for name, count in zip(rows.columns, nulls, strict=True) if count == rows.height
        ]
        self.cursor.adbc_ingest(table, rows.drop(empty).to_arrow(), mode="append")

    def write_range(
        self, log_id: int, first: int, last: int, low: int, high: int, recorded_at: int
    ) -> None:
        self.cursor.execute(
            "INSERT INTO event_ranges (log_id, first_position, last_position, min_timestamp,"
            " max_timestamp, recorded_at) VALUES (?, ?, ?, ?, ?, ?)",
            (log_id, first, last, low, high, recorded_at),
        )

    def write_objects(self, log_id: int, objects: Objects) -> None:
        self.cursor.execute("UPDATE logs SET kind = 'object' WHERE log_id = ?", (log_id,))
        for table, frame in object_frames(objects):
            if frame.is_empty():
                continue
            columns = ", ".join(frame.columns)
            self.cursor.adbc_ingest(
                "offered_objects", frame.to_arrow(), mode="replace", temporary=True
            )
            self.cursor.execute(
                f"INSERT OR IGNORE INTO {table} (log_id, {columns})"
                f" SELECT ?, {columns} FROM temp.offered_objects",
                (log_id,),
            )

    def positions_taken(self, first: int, last: int) -> int:
        found = self.fetch(
            "SELECT count(*) FROM events WHERE position BETWEEN ? AND ?", (first, last)
        )
        return int(found.item(0, 0))

    def copy_ranges(self, log_id: int, ranges: pl.DataFrame) -> None:
        for row in ranges.iter_rows():
            self.cursor.execute(
                f"INSERT OR IGNORE INTO event_ranges (log_id, {', '.join(RANGE_COLUMNS)})"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (log_id, *row),
            )

    def advance(self, position: int, recorded_at: int) -> None:
        # recorded_at follows the last event's, which `allocate` reads.
        del recorded_at
        self.cursor.execute("UPDATE head SET position = max(position, ?)", (position,))

    def insert_job(self, job: Job, rejects: pl.DataFrame) -> int:
        values = job.as_dict()
        del values["job_id"]
        values["mapping"] = json.dumps(values["mapping"])
        self.cursor.execute(
            f"INSERT INTO ingest_jobs ({', '.join(values)})"
            f" VALUES ({', '.join('?' for _ in values)})",
            tuple(values.values()),
        )
        job_id = int(self.fetch("SELECT last_insert_rowid()").item(0, 0))
        if rejects.height:
            rows = rejects.with_columns(
                job_id=pl.lit(job_id, dtype=pl.Int64), log=pl.lit(job.log, dtype=pl.String)
            ).select("job_id", "log", "source", "line", "place", "field", "value", "reason")
            self.cursor.adbc_ingest("rejects", rows.to_arrow(), mode="append")
        return job_id

    def record_progress(self, log: str, job: JobProgress, result: ImportResult) -> None:
        rejected = rejected_count(job)
        if job.rejects.height:
            source = self.fetch("SELECT source FROM ingest_jobs WHERE job_id = ?", (job.job_id,))
            rows = reject_rows(job, log, str(source.item(0, 0)))
            self.cursor.adbc_ingest("rejects", rows.to_arrow(), mode="append")
        self.cursor.execute(
            "UPDATE ingest_jobs SET events_read = events_read + ?, events_added = events_added + ?,"
            " duplicates = duplicates + ?, rejected = rejected + ?, rows_committed = ?,"
            " last_position = coalesce(?, last_position) WHERE job_id = ?",
            (
                result.events_read + rejected,
                result.events_added,
                result.duplicates,
                rejected,
                job.rows,
                result.position,
                job.job_id,
            ),
        )

    def drop(self, log_id: int, log: str) -> int:
        count = int(
            self.fetch("SELECT count(*) FROM events WHERE log_id = ?", (log_id,)).item(0, 0)
        )
        tables = self.fetch(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND (name = ? OR name LIKE ?)",
            (attrs.table_name(log_id, 0), f"{attrs.table_name(log_id, 0)}\\_%"),
        )
        statements: list[tuple[str, tuple[Any, ...]]] = [
            ("INSERT OR IGNORE INTO dropping_logs (log_id) VALUES (?)", (log_id,)),
            *(
                (f"DELETE FROM {table} WHERE log_id = ?", (log_id,))
                for table in (
                    "events",
                    "cases",
                    "activities",
                    "resources",
                    "event_ranges",
                    *OBJECT_TABLES,
                    "projections",
                    "projection_changes",
                )
            ),
            *((f"DROP TABLE IF EXISTS {name}", ()) for (name,) in tables.iter_rows()),
            ("DELETE FROM rejects WHERE log = ?", (log,)),
            ("DELETE FROM ingest_jobs WHERE log = ?", (log,)),
            ("DELETE FROM logs WHERE log_id = ?", (log_id,)),
            ("DELETE FROM dropping_logs WHERE log_id = ?", (log_id,)),
        ]
        for statement, parameters in statements:
            self.cursor.execute(statement, parameters)
        return count

    def resumable_job(self, log: str, sha256: str) -> Job | None:
        self.cursor.execute(
            f"SELECT {JOB_COLUMNS} FROM ingest_jobs WHERE log = ? AND sha256 = ?"
            " AND status IN ('running', 'failed', 'interrupted') ORDER BY job_id DESC LIMIT 1",
            (log, sha256),
        )
        row = self.cursor.fetchone()
        return None if row is None else job_of(row)

    def resume_job(self, job_id: int, pid: int, host: str) -> None:
        self.cursor.execute(
            "UPDATE ingest_jobs SET status = 'running', message = 'resumed', pid = ?, host = ?,"
            " finished_at = NULL WHERE job_id = ?",
            (pid, host, job_id),
        )

    def new_job(
        self,
        log: str,
        source: str,
        sha256: str,
        format: str,
        mapping: Mapping[str, str],
        pid: int,
        host: str,
        started_at: str,
        actor: str | None,
    ) -> int:
        self.cursor.execute(
            "INSERT INTO ingest_jobs"
            " (log, source, sha256, format, mapping, status, started_at, pid, host, actor)"
            " VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)",
            (log, source, sha256, format, json.dumps(dict(mapping)), started_at, pid, host, actor),
        )
        return int(self.fetch("SELECT last_insert_rowid()").item(0, 0))
