"""The PostgreSQL recorder: psycopg 3 for writes and small reads, the ADBC PostgreSQL driver
for Arrow reads into Polars.

An append locks ``events`` in EXCLUSIVE mode inside its transaction (readers are not
blocked; other writers wait), checks revisions and stored ids under the lock, takes its
positions from the ``head`` row and its ``recorded_at`` from ``clock_timestamp()`` (never
earlier than the last append's), and writes with COPY. Appends therefore commit in position
order, and a reader that catches up by position never skips an event committed late.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Final, NoReturn

import adbc_driver_manager
import polars as pl

from workbench.events import StoreBusy, StoreError, StoreReadOnly
from workbench.store import attributes as attrs
from workbench.store.attributes import Attributes, Column
from workbench.store.names import public_location
from workbench.store.postgres import schema
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

CHANNEL: Final = "workbench_events"  # NOTIFY'd with the last position of each commit
SQL_TYPES: Final = {"INTEGER": "bigint", "REAL": "double precision", "TEXT": "text"}
_SCHEMA_LOCK: Final = 7_406_211  # an advisory lock while the schema is created


def _stored(column: str) -> str:
    """A stored column's name in SQL (``timestamp`` is a type name in PostgreSQL)."""
    return '"timestamp"' if column == "timestamp" else column


#: A list of texts passed as one JSON parameter: far cheaper than an array parameter of
#: 100,000 elements, which the driver quotes one by one.
_TEXTS: Final = "ARRAY(SELECT jsonb_array_elements_text(%s::jsonb))"
#: The same list as rows to join against: a batch's keys are looked up by index, one probe
#: each, whatever the statistics say. (``column = ANY(list)`` is planned as a filter over
#: every row of the log once the table has been analysed: 6 to 8 times slower imports.)
_WANTED: Final = "jsonb_array_elements_text(%s::jsonb) AS wanted(value)"


def _json_list(values: pl.Series) -> str:
    return json.dumps(values.cast(pl.String).to_list(), ensure_ascii=False)


def _csv(frame: pl.DataFrame) -> bytes:
    """A frame as COPY reads CSV: strings quoted (so that '' stays '' and null is empty)."""
    return frame.write_csv(include_header=False, quote_style="non_numeric").encode()


class PostgresRecorder(PortableQueries):
    """An event store in a PostgreSQL database (see `workbench.store.recorder.Recorder`)."""

    def __init__(self, url: str, *, timeout: float = 60.0) -> None:
        import psycopg

        self.url = url
        self.location = public_location(url)
        self.timeout = timeout
        self.lock = threading.RLock()
        self._psycopg = psycopg
        try:
            self._sql = psycopg.connect(url, autocommit=True, connect_timeout=int(timeout))
        except psycopg.Error as error:
            raise StoreError(self.location, f"cannot connect ({_first_line(error)})") from None
        with self._use():
            self._sql.execute(f"SET lock_timeout = '{int(timeout * 1000)}ms'")
            self._create_schema()
        self._arrow: Any = None

    def _create_schema(self) -> None:
        found = self._sql.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema()"
            " AND table_name = 'workbench_schema'"
        ).fetchone()
        if found is not None:
            version = self._sql.execute("SELECT max(version) FROM workbench_schema").fetchone()
            if version is not None and version[0] == schema.VERSION:
                return
        with self._sql.transaction():
            self._sql.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            for statement in schema.statements():
                self._sql.execute(statement)

    # ------------------------------------------------------------------ errors

    def _translate(self, error: BaseException) -> StoreError:
        errors = self._psycopg.errors
        text = _first_line(error)
        if isinstance(error, errors.LockNotAvailable | errors.QueryCanceled):
            return StoreBusy(
                self.location,
                f"another writer held its lock for more than {self.timeout:g} s;"
                " try again when it has finished",
            )
        if isinstance(error, errors.ReadOnlySqlTransaction | errors.InsufficientPrivilege):
            return StoreReadOnly(self.location, f"it can be read, not written ({text})")
        if isinstance(error, self._psycopg.OperationalError):
            return StoreError(self.location, f"the connection failed ({text})")
        return StoreError(self.location, text)

    @contextmanager
    def _use(self) -> Iterator[None]:
        """Hold the connections, and turn a driver's error into the store's own."""
        with self.lock:
            try:
                yield
            except (self._psycopg.Error, adbc_driver_manager.Error) as error:
                raise self._translate(error) from error

    def _fail(self, reason: str) -> NoReturn:
        raise StoreError(self.location, reason)

    # ------------------------------------------------------------------ connections

    def _arrow_cursor(self) -> Any:
        """An ADBC cursor (Arrow out), on a connection opened on first use."""
        if self._arrow is None:
            from adbc_driver_postgresql import dbapi as adbc

            self._arrow = adbc.connect(self.url, autocommit=True)
        return self._arrow.cursor()

    @contextmanager
    def waiter(self) -> Iterator[Callable[[float], None]]:
        """A wait for new events: returns when an append commits (``LISTEN`` on a connection
        of its own) or after the timeout, whichever comes first."""
        listener = self._psycopg.connect(self.url, autocommit=True)
        try:
            listener.execute(f"LISTEN {CHANNEL}")

            def wait(timeout: float) -> None:
                for _ in listener.notifies(timeout=timeout, stop_after=1):
                    pass

            yield wait
        finally:
            listener.close()

    def analyze(self) -> None:
        """Bring the planner's statistics up to date (``ANALYZE``) for the tables a large
        import changed, so that reads are planned for the data as it now is."""
        with self.lock:
            self._sql.execute("ANALYZE logs, cases, activities, resources, events, event_ranges")

    def close(self) -> None:
        """Close both connections."""
        with self.lock:
            if self._arrow is not None:
                self._arrow.close()
                self._arrow = None
            self._sql.close()

    @contextmanager
    def transaction(self) -> Iterator[_Transaction]:
        """A transaction holding the write lock on ``events``; committed when the block ends."""
        with self._use(), self._sql.transaction(), self._sql.cursor() as cursor:
            cursor.execute("LOCK TABLE events IN EXCLUSIVE MODE")
            yield _Transaction(cursor)

    def _rows(self, query: str, parameters: Sequence[Any] = ()) -> list[Any]:
        with self._use():
            return self._sql.execute(_placeholders(query), parameters).fetchall()

    def _execute(self, query: str, parameters: Sequence[Any] = ()) -> int:
        with self._use():
            return self._sql.execute(_placeholders(query), parameters).rowcount

    def _arrow_frame(self, query: str, parameters: Sequence[Any] = ()) -> pl.DataFrame:
        with self._use():
            cursor = self._arrow_cursor()
            try:
                cursor.execute(query, parameters)
                frame = pl.from_arrow(cursor.fetch_arrow_table())
            finally:
                cursor.close()
        assert isinstance(frame, pl.DataFrame)
        return frame

    # ------------------------------------------------------------------ events

    def read_events(self, log_id: int, cut: Cut) -> pl.DataFrame | None:
        # Arrow reads inline their integers: the ADBC driver streams a query without
        # parameters with COPY, twice as fast as a prepared one.
        columns = ", ".join(_stored(c) for c in select_list(cut.columns))
        condition = (
            f' AND "timestamp" <= {int(cut.timestamp)} AND recorded_at <= {int(cut.recorded)}'
            f' AND ("timestamp" > {int(cut.after[0])} OR position > {int(cut.after[1])})'
        )
        if cut.cases is not None:
            keys = self._rows(
                "SELECT case_key FROM cases WHERE log_id = %s AND case_id = ANY(%s)",
                (log_id, list(cut.cases)),
            )
            if not keys:
                return None
            listed = ", ".join(str(int(key)) for (key,) in keys)
            frame = self._arrow_frame(
                f"SELECT {columns} FROM events WHERE case_key IN ({listed})"
                f" AND position <= {int(cut.position)}{condition}"
            )
            return None if frame.is_empty() else _in_position_order(frame)
        found = self._rows(
            "SELECT min(first_position), max(last_position) FROM event_ranges"
            " WHERE log_id = %s AND min_timestamp <= %s AND recorded_at <= %s"
            " AND first_position <= %s AND (max_timestamp > %s OR last_position > %s)",
            (log_id, cut.timestamp, cut.recorded, cut.position, *cut.after),
        )
        first, last = found[0]
        if first is None:
            return None
        return _in_position_order(
            self._arrow_frame(
                f"SELECT {columns} FROM events WHERE log_id = {int(log_id)}"
                f" AND position BETWEEN {int(first)} AND {min(int(last), cut.position)}"
                f"{condition}"
            )
        )

    def events_query(self, log_id: int, cut: Cut) -> str:
        """One query that gives a log's events for a reader outside Workbench (Spark's
        JDBC source): names instead of keys, times as microseconds, and every attribute
        column under its read label (`attributes.read_label`), as its physical type. Only
        integers built here go into the text."""
        columns = [
            "e.position",
            "c.case_id",
            "e.revision",
            "e.event_id",
            "a.name AS activity",
            'e."timestamp"',
            "e.recorded_at",
            "r.name AS resource",
            "e.lifecycle",
            "e.correlation_id",
            "e.causation_id",
        ]
        joins = [
            "JOIN cases c ON c.case_key = e.case_key",
            "JOIN activities a ON a.activity_key = e.activity_key",
            "LEFT JOIN resources r ON r.resource_key = e.resource_key",
        ]
        for table, stored in sorted(attrs.by_table(self.attributes(log_id).values()).items()):
            alias = f"t{int(table)}"
            joins.append(
                f"LEFT JOIN {attrs.table_name(log_id, table)} {alias}"
                f" ON {alias}.position = e.position"
            )
            columns.extend(
                f"CAST({alias}.{c.name} AS {SQL_TYPES[attrs.PHYSICAL[c.kind]]})"
                f" AS {attrs.read_label(c)}"
                for c in stored
            )
        return (
            f"SELECT {', '.join(columns)} FROM events e {' '.join(joins)}"
            f" WHERE e.log_id = {int(log_id)} AND e.position <= {int(cut.position)}"
            f' AND e."timestamp" <= {int(cut.timestamp)} AND e.recorded_at <= {int(cut.recorded)}'
        )

    def read_attributes(
        self, log_id: int, table: int, columns: Sequence[Column], events: pl.DataFrame
    ) -> pl.DataFrame:
        positions = events["position"]  # every table is kept by position
        selected = ", ".join(
            f"CAST({c.name} AS {SQL_TYPES[attrs.PHYSICAL[c.kind]]}) AS {attrs.read_label(c)}"
            for c in columns
        )
        name = attrs.table_name(log_id, table)
        low, high = int(positions.min()), int(positions.max())  # type: ignore[arg-type]
        if positions.len() * 8 < high - low:
            listed = ", ".join(str(int(p)) for p in positions.to_list())
            return self._arrow_frame(
                f"SELECT position, {selected} FROM {name} WHERE position IN ({listed})"
            )
        return self._arrow_frame(
            f"SELECT position, {selected} FROM {name} WHERE position BETWEEN {low} AND {high}"
        )

    def dictionary(self, table: str, log_id: int, keys: pl.Series | None) -> pl.DataFrame:
        key, column = DICTIONARIES[table]
        query = f"SELECT {key}, {column} FROM {table} WHERE log_id = %s"
        if keys is None:
            rows = self._rows(query, (log_id,))
        else:
            wanted = [int(k) for k in keys.drop_nulls().unique().to_list()]
            rows = self._rows(f"{query} AND {key} = ANY(%s)", (log_id, wanted))
        return pl.DataFrame(rows, schema={key: pl.Int64, column: pl.String}, orient="row")

    def view_links(
        self, log_id: int, object_type: str, object_ids: Sequence[str] | None
    ) -> pl.DataFrame:
        query = (
            "SELECT DISTINCT l.event_id, l.object_id FROM event_objects l"
            " JOIN objects o ON o.log_id = l.log_id AND o.object_id = l.object_id"
            " WHERE l.log_id = %s AND o.object_type = %s"
        )
        if object_ids is None:
            rows = self._rows(query, (log_id, object_type))
        else:
            rows = self._rows(
                f"{query} AND l.object_id = ANY(%s)", (log_id, object_type, list(object_ids))
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
        with self._use(), self._sql.transaction():
            self._sql.execute(
                "INSERT INTO projections"
                " (log_id, view, name, at, position, refreshed_at, seconds, data)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (log_id, view, name, at) DO UPDATE SET position = excluded.position,"
                " refreshed_at = excluded.refreshed_at, seconds = excluded.seconds,"
                " data = excluded.data",
                (*key, position, refreshed_at, seconds, data),
            )
            self._sql.execute(
                "DELETE FROM projection_changes"
                " WHERE log_id = %s AND view = %s AND name = %s AND at = %s",
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
        key = (log_id, view, name, at)
        with self._use(), self._sql.transaction():
            self._sql.execute(
                "INSERT INTO projection_changes"
                " (log_id, view, name, at, seq, position, replaced, rows, data)"
                " SELECT %s, %s, %s, %s, coalesce(max(seq), 0) + 1, %s, %s, %s, %s"
                " FROM projection_changes"
                " WHERE log_id = %s AND view = %s AND name = %s AND at = %s",
                (*key, position, replaced, rows, data, *key),
            )
            self._sql.execute(
                "UPDATE projections SET position = %s, refreshed_at = %s, seconds = %s"
                " WHERE log_id = %s AND view = %s AND name = %s AND at = %s",
                (position, refreshed_at, seconds, *key),
            )

    def forget_projections(self, log_id: int, view: str, name: str | None) -> None:
        with self._use(), self._sql.transaction():
            for table in ("projection_changes", "projections"):
                self._sql.execute(
                    f"DELETE FROM {table} WHERE log_id = %(log)s AND view = %(view)s"
                    " AND (%(name)s::text IS NULL OR name = %(name)s)",
                    {"log": log_id, "view": view, "name": name},
                )


def _in_position_order(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows by position: a scan returns them in the order of the table's pages, which for an
    append-only table almost always is position order (checking is cheaper than sorting in
    the server)."""
    positions = frame["position"]
    return frame if positions.is_sorted() else frame.sort("position")


def _placeholders(query: str) -> str:
    """A query written with ``?`` placeholders (`PortableQueries`) in psycopg's style."""
    return query.replace("?", "%s")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class _Transaction:
    """The statements of one write transaction, on a psycopg cursor holding the lock."""

    implicit_ids = False  # every id is stored with its text

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor

    def _one(self, query: str, parameters: Sequence[Any] = ()) -> Any:
        self.cursor.execute(query, parameters)
        return self.cursor.fetchone()

    def _copy(self, table: str, frame: pl.DataFrame) -> None:
        columns = ", ".join(_stored(name) for name in frame.columns)
        with self.cursor.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT csv)") as copy:
            copy.write(_csv(frame))

    def find_log(self, name: str) -> int | None:
        found = self._one("SELECT log_id FROM logs WHERE name = %s", (name,))
        return None if found is None else int(found[0])

    def ensure_log(self, name: str) -> int:
        found = self.find_log(name)
        if found is not None:
            return found
        row = self._one(
            "INSERT INTO logs (name, created_at) VALUES (%s, %s) RETURNING log_id",
            (name, now_micros()),
        )
        return int(row[0])

    def has_events(self, log_id: int) -> bool:
        return (
            self._one("SELECT 1 FROM event_ranges WHERE log_id = %s LIMIT 1", (log_id,)) is not None
        )

    def unless_stored(self, write: Callable[[], T]) -> T | None:
        import psycopg

        try:
            with self.cursor.connection.transaction():  # a savepoint
                return write()
        except psycopg.errors.UniqueViolation as error:
            if error.diag.constraint_name != "events_by_id":
                raise
            return None

    def head(self, log_id: int) -> int:
        found = self._one(
            "SELECT coalesce(max(last_position), 0) FROM event_ranges WHERE log_id = %s",
            (log_id,),
        )
        return int(found[0])

    def stored_ids(self, log_id: int, events: pl.DataFrame) -> pl.DataFrame:
        event_ids = events["event_id"]
        self.cursor.execute(
            f"SELECT e.event_id, c.case_id, e.revision, e.position FROM {_WANTED}"
            " JOIN events e ON e.log_id = %s AND e.event_id = wanted.value"
            " JOIN cases c ON c.case_key = e.case_key ORDER BY e.position",
            (_json_list(event_ids), log_id),
        )
        return pl.DataFrame(
            self.cursor.fetchall(),
            schema={
                "event_id": pl.String,
                "case_id": pl.String,
                "revision": pl.Int64,
                "position": pl.Int64,
            },
            orient="row",
        )

    def case_revisions(self, log_id: int, case_ids: Sequence[str]) -> dict[str, int]:
        revision = "(SELECT max(revision) FROM events e WHERE e.case_key = c.case_key)"
        if len(case_ids) == 1:
            self.cursor.execute(
                f"SELECT c.case_id, {revision} FROM cases c WHERE c.log_id = %s AND c.case_id = %s",
                (log_id, case_ids[0]),
            )
        else:
            self.cursor.execute(
                f"SELECT c.case_id, {revision} FROM {_WANTED}"
                " JOIN cases c ON c.log_id = %s AND c.case_id = wanted.value",
                (_json_list(pl.Series(list(case_ids), dtype=pl.String)), log_id),
            )
        return {str(case): int(rev) for case, rev in self.cursor.fetchall() if rev is not None}

    def keys(self, table: str, log_id: int, names: pl.Series) -> pl.DataFrame:
        key, column = DICTIONARIES[table]
        wanted = pl.DataFrame({column: names.drop_nulls().unique().sort()})
        self.cursor.execute(
            f"SELECT t.{key}, t.{column} FROM {_WANTED}"
            f" JOIN {table} t ON t.log_id = %s AND t.{column} = wanted.value",
            (_json_list(wanted[column]), log_id),
        )
        known = pl.DataFrame(
            self.cursor.fetchall(), schema={key: pl.Int64, column: pl.String}, orient="row"
        )
        new = wanted.join(known, on=column, how="anti")
        known = known.with_columns(pl.lit(False).alias("_new"))
        if new.height:
            top = self._one(f"SELECT coalesce(max({key}), 0) FROM {table}")[0]
            new = new.select(
                (pl.int_range(pl.len(), dtype=pl.Int64) + int(top) + 1).alias(key),
                pl.lit(log_id, dtype=pl.Int64).alias("log_id"),
                pl.col(column),
            )
            self._copy(table, new)
            known = pl.concat([known, new.select(key, column, pl.lit(True).alias("_new"))])
        return known.rename({column: "_name"})

    def attributes(self, log_id: int) -> Attributes:
        return attrs.loads(
            self._one("SELECT attribute_types FROM logs WHERE log_id = %s", (log_id,))[0]
        )

    def add_attributes(
        self, log_id: int, attributes: Attributes, new_columns: Sequence[Column]
    ) -> None:
        self.cursor.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_name LIKE %s",
            (f"attributes\\_{int(log_id)}%",),
        )
        existing = {row[0] for row in self.cursor.fetchall()}
        by_table: dict[int, list[Column]] = {}
        for column in new_columns:
            by_table.setdefault(column.table, []).append(column)
        for table, columns in sorted(by_table.items()):
            name = attrs.table_name(log_id, table)
            typed = [f"{c.name} {SQL_TYPES[attrs.PHYSICAL[c.kind]]}" for c in columns]
            if name in existing:
                self.cursor.execute(
                    f"ALTER TABLE {name} " + ", ".join(f"ADD COLUMN {t}" for t in typed)
                )
                continue
            self.cursor.execute(
                f"CREATE TABLE {name} (position bigint PRIMARY KEY, {', '.join(typed)})"
            )
            for statement in schema.triggers(
                name, f"workbench_attributes_append_only('{int(log_id)}')"
            ):
                self.cursor.execute(statement)
        self.cursor.execute(
            "UPDATE logs SET attribute_types = %s WHERE log_id = %s",
            (attrs.dumps(attributes), log_id),
        )

    def allocate(self, count: int) -> tuple[int, int]:
        first, recorded_at = self._one(
            "UPDATE head SET position = position + %s, recorded_at = greatest(recorded_at,"
            " (extract(epoch FROM clock_timestamp()) * 1000000)::bigint)"
            " WHERE id = 1 RETURNING position - %s + 1, recorded_at",
            (count, count),
        )
        # Subscribers listening (`PostgresRecorder.waiter`) hear of it when this commits.
        self.cursor.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(first + count - 1)))
        return int(first), int(recorded_at)

    def write_events(self, rows: pl.DataFrame) -> None:
        self._copy("events", rows.drop("derived"))  # every id is kept

    def write_attributes(self, log_id: int, table: int, rows: pl.DataFrame) -> None:
        self._copy(attrs.table_name(log_id, table), rows.drop("case_key"))  # every event

    def write_range(
        self, log_id: int, first: int, last: int, low: int, high: int, recorded_at: int
    ) -> None:
        self.cursor.execute(
            "INSERT INTO event_ranges (log_id, first_position, last_position, min_timestamp,"
            " max_timestamp, recorded_at) VALUES (%s, %s, %s, %s, %s, %s)",
            (log_id, first, last, low, high, recorded_at),
        )

    def write_objects(self, log_id: int, objects: Objects) -> None:
        self.cursor.execute("UPDATE logs SET kind = 'object' WHERE log_id = %s", (log_id,))
        for table, frame in object_frames(objects):
            if frame.is_empty():
                continue
            columns = ", ".join(frame.columns)
            self.cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS offered_{table} ON COMMIT DROP"
                f" AS SELECT {columns} FROM {table} WITH NO DATA"
            )
            self.cursor.execute(f"TRUNCATE offered_{table}")
            with self.cursor.copy(
                f"COPY offered_{table} ({columns}) FROM STDIN (FORMAT csv)"
            ) as copy:
                copy.write(_csv(frame))
            self.cursor.execute(
                f"INSERT INTO {table} (log_id, {columns})"
                f" SELECT %s, {columns} FROM offered_{table} ON CONFLICT DO NOTHING",
                (log_id,),
            )

    def positions_taken(self, first: int, last: int) -> int:
        found = self._one(
            "SELECT count(*) FROM events WHERE position BETWEEN %s AND %s", (first, last)
        )
        return int(found[0])

    def copy_ranges(self, log_id: int, ranges: pl.DataFrame) -> None:
        self.cursor.executemany(
            f"INSERT INTO event_ranges (log_id, {', '.join(RANGE_COLUMNS)})"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            [(log_id, *row) for row in ranges.iter_rows()],
        )

    def advance(self, position: int, recorded_at: int) -> None:
        self.cursor.execute(
            "UPDATE head SET position = greatest(position, %s),"
            " recorded_at = greatest(recorded_at, %s) WHERE id = 1",
            (position, recorded_at),
        )

    def insert_job(self, job: Job, rejects: pl.DataFrame) -> int:
        values = job.as_dict()
        del values["job_id"]
        values["mapping"] = json.dumps(values["mapping"])
        row = self._one(
            f"INSERT INTO ingest_jobs ({', '.join(values)})"
            f" VALUES ({', '.join('%s' for _ in values)}) RETURNING job_id",
            tuple(values.values()),
        )
        job_id = int(row[0])
        if rejects.height:
            rows = rejects.with_columns(
                job_id=pl.lit(job_id, dtype=pl.Int64), log=pl.lit(job.log, dtype=pl.String)
            ).select("job_id", "log", "source", "line", "place", "field", "value", "reason")
            self._copy("rejects", rows)
        return job_id

    def record_progress(self, log: str, job: JobProgress, result: ImportResult) -> None:
        rejected = rejected_count(job)
        if job.rejects.height:
            source = self._one("SELECT source FROM ingest_jobs WHERE job_id = %s", (job.job_id,))
            self._copy("rejects", reject_rows(job, log, str(source[0])))
        self.cursor.execute(
            "UPDATE ingest_jobs SET events_read = events_read + %s,"
            " events_added = events_added + %s, duplicates = duplicates + %s,"
            " rejected = rejected + %s, rows_committed = %s,"
            " last_position = coalesce(%s, last_position) WHERE job_id = %s",
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
        count = int(self._one("SELECT count(*) FROM events WHERE log_id = %s", (log_id,))[0])
        self.cursor.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND (table_name = %s OR table_name LIKE %s)",
            (attrs.table_name(log_id, 0), f"{attrs.table_name(log_id, 0)}\\_%"),
        )
        tables = [row[0] for row in self.cursor.fetchall()]
        self.cursor.execute(
            "INSERT INTO dropping_logs (log_id) VALUES (%s) ON CONFLICT DO NOTHING", (log_id,)
        )
        for table in (
            "events",
            "event_ranges",
            *OBJECT_TABLES,
            "projections",
            "projection_changes",
            "cases",
            "activities",
            "resources",
        ):
            self.cursor.execute(f"DELETE FROM {table} WHERE log_id = %s", (log_id,))
        for table in tables:
            self.cursor.execute(f"DROP TABLE IF EXISTS {table}")
        self.cursor.execute("DELETE FROM rejects WHERE log = %s", (log,))
        self.cursor.execute("DELETE FROM ingest_jobs WHERE log = %s", (log,))
        self.cursor.execute("DELETE FROM logs WHERE log_id = %s", (log_id,))
        self.cursor.execute("DELETE FROM dropping_logs WHERE log_id = %s", (log_id,))
        return count

    def resumable_job(self, log: str, sha256: str) -> Job | None:
        row = self._one(
            f"SELECT {JOB_COLUMNS} FROM ingest_jobs WHERE log = %s AND sha256 = %s"
            " AND status IN ('running', 'failed', 'interrupted') ORDER BY job_id DESC LIMIT 1",
            (log, sha256),
        )
        return None if row is None else job_of(row)

    def resume_job(self, job_id: int, pid: int, host: str) -> None:
        self.cursor.execute(
            "UPDATE ingest_jobs SET status = 'running', message = 'resumed', pid = %s,"
            " host = %s, finished_at = NULL WHERE job_id = %s",
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
        mapped = json.dumps(dict(mapping))
        row = self._one(
            "INSERT INTO ingest_jobs"
            " (log, source, sha256, format, mapping, status, started_at, pid, host, actor)"
            " VALUES (%s, %s, %s, %s, %s, 'running', %s, %s, %s, %s) RETURNING job_id",
            (log, source, sha256, format, mapped, started_at, pid, host, actor),
        )
        return int(row[0])
