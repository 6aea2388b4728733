"""A bitemporal query language: read-only SQL over every log, in DuckDB's dialect.

A query reads the tables `TABLES` and the table function ``state_at(TIMESTAMP)``. Each
table a query names is computed by the application, with the same functions as the
commands (the events as the read model gives them, the case rows, the process map, the
variants, the state at a moment), handed to an in-process DuckDB as Arrow, and the
statement runs there: the same dialect and the same answer whatever store or engine holds
the log. The engine runs with file and network access off and its configuration locked.

Time travel is SQL:2011's, as XTDB writes it: ``FROM events FOR SYSTEM_TIME AS OF
TIMESTAMP '2024-03-02'`` reads a table as the store knew it then (``--known-at``; an integer
is a position), ``FOR VALID_TIME AS OF ...`` as it had happened by then (``--as-of``), each
table reference by itself; a reference without them takes the query's cut. A statement may
begin with ``SETTING DEFAULT SYSTEM_TIME AS OF ..., DEFAULT VALID_TIME AS OF ...``, which
sets the query's cut in its own text, so that a saved report reruns bit-identical.

Whatever is typed, the query only reads: it is parsed (sqlglot, DuckDB's grammar plus the
time-travel clauses), and anything but one SELECT (or WITH ... SELECT) statement is refused
by name, as are the functions that reach files, the network or other statements; a row
limit and a timeout bound the rest (`run`).
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Protocol

import polars as pl

from workbench.events import WorkbenchError

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlglot import exp


#: The tables a query can read, and what each is.
TABLES: Final = {
    "events": "one row per event: log, case_id, activity, timestamp, recorded_at, position,"
    " resource, lifecycle, and the attributes as columns",
    "cases": "one row per case: variant, start, end, duration, events, rework, attributes",
    "dfg": "the process map's edges: source, target, frequency, cases, waiting times",
    "variants": "one row per variant: its activities, cases, share, durations",
    "logs": "one row per log: its kind, cases, events, first and last times",
    "objects": "the objects of object-centric logs: log, object_id, object_type",
    "object_attributes": "their attribute values over time: log, object_id, name, changed_at,"
    " kind, value",
    "event_objects": "which events touch which objects: log, event_id, object_id, qualifier",
    "object_objects": "links between objects: log, source_id, target_id, qualifier",
}
#: The tables of object-centric logs (empty for a case log).
OBJECT_TABLES: Final = ("objects", "object_attributes", "event_objects", "object_objects")
STATE_AT: Final = "state_at"
#: Table functions a query may call besides ``state_at``: they make rows, reading nothing.
SAFE_TABLE_FUNCTIONS: Final = frozenset({"range", "generate_series", "unnest"})
#: Functions refused by name (besides any ``read_*`` and ``*_scan``): they read files or
#: the network, or run other statements.
REFUSED_FUNCTIONS: Final = frozenset(
    {
        "glob",
        "query",
        "query_table",
        "sniff_csv",
        "parquet_metadata",
        "parquet_schema",
        "parquet_file_metadata",
        "parquet_kv_metadata",
        "getenv",
        "current_setting",
    }
)
DEFAULT_TIMEOUT: Final = 60.0
_NESTED: Final = "the query is nested too deeply to read: write it with fewer parentheses"
#: Schemas a table may be named in (as a BI tool writes ``public.events``): the tables'.
SCHEMAS: Final = frozenset({"main", "public"})
#: The engine's catalog, which `catalog` reads (a BI tool lists the tables there).
CATALOGS: Final = frozenset({"information_schema", "pg_catalog"})


@dataclass(frozen=True)
class Version:
    """Which version of a log a table is read at: as it had happened by ``as_of`` (valid
    time), as the store knew it at ``known_at`` (transaction time: a moment, or a
    position); the application's `Cut` in this module's words."""

    as_of: datetime | None = None
    known_at: datetime | int | None = None


class QueryError(WorkbenchError):
    """A query refused, or one the engine could not run (one line, naming what)."""


class TimedOut(QueryError):
    """A query stopped by its timeout before its first rows."""


class Cancelled(QueryError):
    """A query stopped because its caller asked (``run``'s ``cancel``)."""


@dataclass(frozen=True)
class Answer:
    """A query's rows: the first ``limit`` of them, how many there were in all (None when
    counting them ran out of time), and the cut each table reference was read at."""

    frame: pl.DataFrame
    total: int | None
    cuts: tuple[tuple[str, str], ...] = ()

    @property
    def complete(self) -> bool:
        """Whether ``frame`` holds every row of the answer."""
        return self.total == self.frame.height


@functools.cache
def dialect() -> type:
    """DuckDB's grammar, with ``FOR SYSTEM_TIME AS OF`` and ``FOR VALID_TIME AS OF`` after a
    table reference (parsed as a `sqlglot.exp.Version` of that kind). Built once: a new
    dialect class per call would be built again for every statement's every look."""
    from sqlglot.dialects.duckdb import DuckDB

    class Bitemporal(DuckDB):
        class Tokenizer(DuckDB.Tokenizer):
            # `variant` is a column of the tables (a case's activities), not a type: with
            # the keyword, `variant[1]` would read as an array of VARIANT.
            KEYWORDS = {k: v for k, v in DuckDB.Tokenizer.KEYWORDS.items() if k != "VARIANT"}  # noqa: RUF012

        class Parser(DuckDB.Parser):  # type: ignore[misc, valid-type]
            VERSION_PHRASES = {  # noqa: RUF012 (as sqlglot declares it)
                ("FOR", "SYSTEM_TIME"): "SYSTEM_TIME",
                ("FOR", "VALID_TIME"): "VALID_TIME",
            }

    return Bitemporal


def _settings(sql: str) -> tuple[dict[str, str], str]:
    """A ``SETTING DEFAULT SYSTEM_TIME AS OF ..., DEFAULT VALID_TIME AS OF ...`` prefix
    read off the statement by its tokens: the times by kind (their SQL text), and the
    statement after it."""
    from sqlglot.tokenizer_core import TokenType

    tokens = dialect()().tokenize(sql)
    if not tokens or tokens[0].text.upper() != "SETTING":
        return {}, sql
    depth, body = 0, None
    for index, token in enumerate(tokens[1:], start=1):
        depth += token.token_type == TokenType.L_PAREN
        depth -= token.token_type == TokenType.R_PAREN
        if depth == 0 and token.token_type in (TokenType.SELECT, TokenType.WITH):
            body = index
            break
    if body is None:
        raise QueryError("SETTING: a SELECT (or WITH) statement must follow the settings")
    groups: list[list[Any]] = [[]]
    depth = 0
    for token in tokens[1:body]:
        depth += token.token_type == TokenType.L_PAREN
        depth -= token.token_type == TokenType.R_PAREN
        if depth == 0 and token.token_type == TokenType.COMMA:
            groups.append([])
        else:
            groups[-1].append(token)
    found: dict[str, str] = {}
    for group in groups:
        words = [token.text.upper() for token in group[:4]]
        if len(group) < 5 or words[0] != "DEFAULT" or words[2:4] != ["AS", "OF"]:
            raise QueryError(
                "SETTING: write DEFAULT SYSTEM_TIME AS OF <time>, DEFAULT VALID_TIME AS OF <time>"
            )
        if words[1] not in ("SYSTEM_TIME", "VALID_TIME") or words[1] in found:
            raise QueryError(f"SETTING: {words[1]} is not SYSTEM_TIME or VALID_TIME, once each")
        found[words[1]] = sql[group[4].start : group[-1].end + 1]
    return found, sql[tokens[body].start :]


def parse(sql: str) -> tuple[exp.Expr, dict[str, str]]:
    """The statement, checked to only read (`QueryError` names what is refused), and its
    ``SETTING`` defaults."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError

    if not sql.strip():
        raise QueryError("give a SELECT statement")
    settings, body = _settings(sql)
    _opening(body)
    try:
        statements = [s for s in sqlglot.parse(body, read=dialect()) if s is not None]
    except RecursionError:
        raise QueryError(_NESTED) from None
    except ParseError as error:
        first = error.errors[0] if error.errors else {}
        where = f" (line {first.get('line')}, column {first.get('col')})" if first else ""
        raise QueryError(f"the query does not parse{where}: {_first_line(error)}") from None
    if len(statements) != 1:
        raise QueryError(f"one statement only; this has {len(statements)}")
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        raise QueryError(f"{_statement_name(statement)} refused: a query is one SELECT statement")
    for node in statement.walk():
        if isinstance(node, exp.Into):
            raise QueryError("SELECT ... INTO refused: a query only reads")
        if isinstance(node, exp.Func):
            name = _function_name(node)
            if name in REFUSED_FUNCTIONS or name.startswith("read_") or name.endswith("_scan"):
                raise QueryError(f"{name}() refused: a query reads only Workbench's tables")
        if isinstance(node, exp.Table) and isinstance(node.this, exp.Func):
            name = _function_name(node.this)
            if name != STATE_AT and name not in SAFE_TABLE_FUNCTIONS:
                raise QueryError(
                    f"the table function {name}() refused: use {STATE_AT}(TIMESTAMP)"
                    f" or the tables {', '.join(TABLES)}"
                )
    return statement, settings


def _opening(body: str) -> None:
    """Refuse by its first word a statement that is not a query, even one the grammar does
    not know (``EXPORT DATABASE``)."""
    from sqlglot.tokenizer_core import TokenType

    tokens = dialect()().tokenize(body)
    readers = (
        TokenType.SELECT,
        TokenType.WITH,
        TokenType.L_PAREN,
        TokenType.FROM,
        TokenType.VALUES,
    )
    if tokens and tokens[0].token_type not in readers:
        raise QueryError(f"{tokens[0].text.upper()} refused: a query is one SELECT statement")


def _function_name(node: exp.Func) -> str:
    from sqlglot import exp

    return str(node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()


def _statement_name(statement: exp.Expr) -> str:
    from sqlglot import exp

    if isinstance(statement, exp.Command):
        return str(statement.this).upper()
    return type(statement).__name__.upper()


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


# ------------------------------------------------------------------ running


def run(
    sql: str,
    tables: Callable[[str, Version, datetime | None], pl.DataFrame],
    *,
    version: Version = Version(),
    limit: int | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    runner: Runner | None = None,
    cancel: threading.Event | None = None,
) -> Answer:
    """Run a read-only query whose tables ``tables(name, version, moment)`` computes (the
    application's: `workbench.application.Workbench.query`), a reference without a clause
    of its own read at ``version``, keeping at most ``limit`` rows. ``timeout`` seconds of
    wall-clock time bound everything, computing the tables included: a query still running
    then is stopped and refused (`TimedOut`); one whose rows arrived but whose count did
    not gives the rows, with the count unknown. Setting ``cancel`` (from another thread)
    stops the query at once (`Cancelled`)."""
    _check(limit, timeout)
    statement, settings = parse(sql)
    plan = _Plan(tables, version, settings)
    return _run(plan, statement, limit, timeout, runner or InDuckDB(), cancel)


def catalog(
    sql: str,
    schemas: dict[str, pl.Schema],
    *,
    limit: int | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    cancel: threading.Event | None = None,
) -> Answer:
    """Run a read-only query of the engine's catalog (``information_schema``,
    ``pg_catalog``: what a BI tool reads to list tables and columns), in which the tables
    are there with their columns (``schemas``) and no rows; a query that also reads one
    of them is refused. Checked, bounded and stoppable as `run` is."""
    _check(limit, timeout)
    statement, _ = parse(sql)
    return _run(_Catalog(schemas), statement, limit, timeout, InDuckDB(), cancel)


def reads_catalog(sql: str) -> bool:
    """Whether a statement names a table of the engine's catalog (`CATALOGS`)."""
    from sqlglot import exp

    statement, _ = parse(sql)
    return any(
        str(node.args["db"].name).lower() in CATALOGS
        for node in statement.find_all(exp.Table)
        if node.args.get("db") is not None
    )


def _check(limit: int | None, timeout: float | None) -> None:
    if limit is not None and limit < 0:
        raise QueryError(f"--limit {limit}: give a number of rows, 0 or more")
    if timeout is not None and timeout <= 0:
        raise QueryError(f"--timeout {timeout:g}: give a number of seconds above 0")


def _run(
    plan: _Plan | _Catalog,
    statement: exp.Expr,
    limit: int | None,
    timeout: float | None,
    runner: Runner,
    cancel: threading.Event | None,
) -> Answer:
    """The statement's answer, worked out in a thread of its own (`_Worker`) that is
    stopped when ``timeout`` seconds have passed or ``cancel`` is set, whichever first."""
    deadline = None if timeout is None else time.monotonic() + timeout
    worker = _Worker(plan, statement, limit, runner)
    thread = threading.Thread(target=worker.work, name="workbench-query", daemon=True)
    thread.start()
    while thread.is_alive():
        left = None if deadline is None else deadline - time.monotonic()
        if (left is not None and left <= 0) or (cancel is not None and cancel.is_set()):
            break
        thread.join(left if cancel is None else min(left or _POLL, _POLL))
    if thread.is_alive():
        worker.stop()
        thread.join(0.5)
    if cancel is not None and cancel.is_set() and worker.answer is None:
        raise Cancelled("the query was cancelled")
    if worker.error is not None:
        raise worker.error
    if worker.answer is None:
        raise TimedOut(f"the query ran out of its {timeout:g} s (--timeout) before its first rows")
    return worker.answer


_POLL: Final = 0.05  # seconds between looks at a query's ``cancel``


class Runner(Protocol):
    """Where a bound statement runs: DuckDB in this process (`InDuckDB`), or Spark SQL
    (`workbench.engines.spark.SparkSQL`)."""

    def batches(self, sql: str, tables: dict[str, pl.DataFrame]) -> Any:
        """The rows of ``sql`` (DuckDB's dialect) over ``tables``: a pyarrow
        RecordBatchReader. Refusals and the engine's errors are `QueryError`s."""
        ...

    def stop(self) -> None:
        """Stop the statement running now, from another thread."""
        ...


class Stopped(Exception):
    """The statement was stopped (its timeout): no answer, and no error of its own."""


class InDuckDB:
    """The default runner: an in-process DuckDB locked down (`engine`), interrupted to
    stop."""

    def __init__(self) -> None:
        self.connection: Any = None
        self.lock = threading.Lock()
        self.stopped = False

    def batches(self, sql: str, tables: dict[str, pl.DataFrame]) -> Any:
        import duckdb

        with self.lock:
            if self.stopped:
                raise Stopped
            self.connection = engine(tables)
        try:
            return _relation(self.connection, sql).to_arrow_reader(10_000)
        except duckdb.InterruptException:
            raise Stopped from None
        except duckdb.Error as error:
            raise QueryError(f"the query: {_first_line(error)}") from None

    def stop(self) -> None:
        with self.lock:
            self.stopped = True
            if self.connection is not None:
                self.connection.interrupt()


class _Worker:
    """A query's work in a thread of its own, so that the caller keeps its timeout
    whatever the work is doing: computing tables, or running in the engine (stopped)."""

    def __init__(
        self, plan: _Plan | _Catalog, statement: exp.Expr, limit: int | None, runner: Runner
    ) -> None:
        self.plan = plan
        self.statement = statement
        self.limit = limit
        self.runner = runner
        self.answer: Answer | None = None
        self.error: BaseException | None = None
        self.stopped = threading.Event()

    def stop(self) -> None:
        self.stopped.set()
        self.runner.stop()

    def work(self) -> None:
        try:
            self._work()
        except Stopped:
            return
        except RecursionError:
            if not self.stopped.is_set():
                self.error = QueryError(_NESTED)
        except BaseException as error:  # handed to the caller's thread
            if not self.stopped.is_set():
                self.error = error

    def _work(self) -> None:
        import duckdb

        rewritten, tables = self.plan.bind(self.statement)
        if self.stopped.is_set():
            return
        reader = self.runner.batches(rewritten, tables)
        batches: list[Any] = []
        kept, total, wanted = 0, 0, self.limit
        try:
            for batch in reader:
                total += batch.num_rows
                if wanted is None or kept < wanted:
                    take = batch if wanted is None else batch.slice(0, wanted - kept)
                    batches.append(take)
                    kept += take.num_rows
                    if wanted is not None and kept >= wanted:  # the rows, while counting
                        self.answer = self._answer(batches, reader.schema, None)
                if self.stopped.is_set():
                    return
        except duckdb.InterruptException:
            return
        except duckdb.Error as error:
            raise QueryError(f"the query: {_first_line(error)}") from None
        self.answer = self._answer(batches, reader.schema, total)

    def _answer(self, batches: list[Any], schema: Any, total: int | None) -> Answer:
        import pyarrow as pa

        table = pa.Table.from_batches(batches, schema=schema)
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        seconds = [  # an interval from an engine that sends them (Spark) as DuckDB's are
            (pl.col(n).dt.total_microseconds() / 1e6).alias(n)
            for n, t in frame.schema.items()
            if isinstance(t, pl.Duration)
        ]
        return Answer(frame.with_columns(seconds), total, self.plan.described())


def engine(tables: dict[str, pl.DataFrame] | None = None) -> Any:
    """An in-process DuckDB that reads nothing but the ``tables`` registered in it: no
    files, no network, no extensions, no Python variables by name; times in UTC; its
    configuration locked once the tables are in."""
    import duckdb

    connection = duckdb.connect(
        ":memory:",
        config={
            "enable_external_access": False,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
            "python_enable_replacements": False,
        },
    )
    connection.execute("SET TimeZone = 'UTC'")
    if tables is not None:
        for name, frame in tables.items():
            connection.register(name, frame.to_arrow())
        connection.execute("SET lock_configuration = true")
    return connection


def _relation(connection: Any, sql: str) -> Any:
    """The statement's rows in ``connection``, an ``INTERVAL`` column as seconds (a month
    counting 30 days), as Arrow cannot carry DuckDB's intervals."""
    relation = connection.sql(sql)
    intervals = [
        name
        for name, kind in zip(relation.columns, relation.types, strict=True)
        if str(kind) == "INTERVAL"
    ]
    if intervals:
        replaced = ", ".join(f"epoch({_quoted(n)}) AS {_quoted(n)}" for n in intervals)
        relation = relation.query("answer", f"SELECT * REPLACE ({replaced}) FROM answer")
    return relation


class _Plan:
    """Which tables a statement reads at which cut (each computed once by ``compute(name,
    cut, moment)``), and the statement rewritten to read them."""

    def __init__(
        self,
        compute: Callable[[str, Version, datetime | None], pl.DataFrame],
        cut: Version,
        settings: dict[str, str],
        tables: tuple[str, ...] = (*TABLES, STATE_AT),
    ) -> None:
        self.compute = compute
        self.cut = _with_settings(cut, settings)
        self.tables = tables
        self.read: dict[tuple[str, Version, Any], str] = {}

    def bind(self, statement: exp.Expr) -> tuple[str, dict[str, pl.DataFrame]]:
        """The statement with each table reference (and ``state_at`` call) replaced by a
        registered table of its cut, and those tables."""
        from sqlglot import exp

        statement = statement.copy()
        ctes = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
        tables: dict[str, pl.DataFrame] = {}
        for node in list(statement.find_all(exp.Table)):
            if isinstance(node.this, exp.Func):
                if _function_name(node.this) != STATE_AT:
                    continue
                name = self._state_at(node, tables)
            else:
                if node.args.get("catalog") or (
                    node.args.get("db") and str(node.args["db"].name).lower() not in SCHEMAS
                ):
                    raise QueryError(
                        f"{node.sql()}: the tables have no schema but public; name them as"
                        f" {', '.join(TABLES)}"
                    )
                wanted = node.name.lower()
                if wanted in ctes and node.args.get("version") is None:
                    continue
                if wanted not in self.tables:
                    raise QueryError(f"no table {node.name!r}: {self._offered()}")
                cut = self._version(node)
                name = self._table(wanted, cut, None, tables)
            alias = node.alias or (node.name if not isinstance(node.this, exp.Func) else STATE_AT)
            node.set("version", None)
            node.set("db", None)
            node.set("this", exp.to_identifier(name, quoted=True))
            node.set("alias", exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))
        return statement.sql(dialect="duckdb"), tables

    def _version(self, node: exp.Table) -> Version:
        version = node.args.get("version")
        if version is None:
            return self.cut
        if version.args.get("kind") != "AS OF":
            raise QueryError(
                f"FOR {version.this} {version.args.get('kind')}: only AS OF is supported"
            )
        return _cut_at(self.cut, str(version.this), version.expression)

    def _offered(self) -> str:
        names = [name for name in self.tables if name != STATE_AT]
        also = f", and {STATE_AT}(TIMESTAMP)" if STATE_AT in self.tables else ""
        return f"the tables are {', '.join(names)}{also}"

    def _state_at(self, node: exp.Table, tables: dict[str, pl.DataFrame]) -> str:
        if STATE_AT not in self.tables:
            raise QueryError(f"{STATE_AT}() is not here: {self._offered()}")
        arguments = node.this.expressions
        if len(arguments) != 1:
            raise QueryError(f"{STATE_AT}() takes one argument: the moment (a TIMESTAMP)")
        moment = _moment(arguments[0], "state_at")
        if isinstance(moment, int):
            raise QueryError(f"{STATE_AT}() takes a time, not a position")
        return self._table(STATE_AT, self.cut, moment, tables)

    def _table(
        self, name: str, cut: Version, at: datetime | None, tables: dict[str, pl.DataFrame]
    ) -> str:
        key = (name, cut, at)
        if key not in self.read:
            registered = f"{name}_{len(self.read)}"
            self.read[key] = registered
            tables[registered] = self.compute(name, cut, at)
        return self.read[key]

    def described(self) -> tuple[tuple[str, str], ...]:
        """Each table read, and its cut in words."""
        return tuple(
            (
                registered.rsplit("_", 1)[0] + ("" if at is None else f"({at.isoformat()})"),
                _words(cut),
            )
            for (name, cut, at), registered in self.read.items()
        )


class _Catalog:
    """A catalog query's tables: Workbench's, empty (their columns are what the catalog
    lists), under their own names; the statement as it was, once checked that it reads
    none of them."""

    def __init__(self, schemas: dict[str, pl.Schema]) -> None:
        self.schemas = schemas

    def bind(self, statement: exp.Expr) -> tuple[str, dict[str, pl.DataFrame]]:
        from sqlglot import exp

        for node in statement.find_all(exp.Table):
            db = node.args.get("db")
            ours = db is None or str(db.name).lower() in SCHEMAS
            if ours and node.name.lower() in self.schemas:
                raise QueryError(
                    f"{node.name}: a query reads the catalog ({', '.join(sorted(CATALOGS))})"
                    " or Workbench's tables, not both"
                )
        tables = {name: pl.DataFrame(schema=schema) for name, schema in self.schemas.items()}
        return statement.sql(dialect="duckdb"), tables

    def described(self) -> tuple[tuple[str, str], ...]:
        return ()


#: The tables a stored projection reads: those computed from one log's events.
OF_EVENTS: Final = ("events", "cases", "dfg", "variants")


def over_events(sql: str, events: pl.LazyFrame) -> pl.DataFrame:
    """A stored projection's query (`workbench.checkpoints.sql_compute`): the same language
    over one log's events as its checkpoint reads them, with ``cases``, ``dfg`` and
    ``variants`` computed from those events by the commands' functions; a table's own
    ``FOR ... AS OF`` cuts them further."""
    import duckdb

    from workbench import projections
    from workbench.processmap import process_map
    from workbench.readmodel import cut, decoded_lazy

    def compute(name: str, version: Version, at: datetime | None) -> pl.DataFrame:
        read = cut(events, as_of=version.as_of, known_at=version.known_at)
        kept = projections.ordered(decoded_lazy(read))
        if name == "events":
            found = kept.collect()
        elif name == "cases":
            found = projections.cases(kept, presorted=True).collect()
        elif name == "variants":
            found = projections.variants(kept, presorted=True).collect()
        else:
            found = process_map(kept, presorted=True).edges
        return table(name, found)

    statement, settings = parse(sql)
    rewritten, tables = _Plan(compute, Version(), settings, OF_EVENTS).bind(statement)
    connection = engine(tables)
    try:
        frame = pl.from_arrow(_relation(connection, rewritten).to_arrow_table())
    except duckdb.Error as error:
        raise QueryError(f"the query: {_first_line(error)}") from None
    finally:
        connection.close()
    assert isinstance(frame, pl.DataFrame)
    return frame


def table(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """A table as a query reads it: durations as seconds, categoricals as text
    (`_plain`), its leading columns first (`_FIRST`), the rest as they come."""
    frame = _plain(frame)
    first = [c for c in _FIRST.get(name, ("log",)) if c in frame.columns]
    return frame.select(*first, pl.exclude(first))


_FIRST: Final = {
    "events": (
        "log", "case_id", "activity", "timestamp", "recorded_at", "position", "resource",
        "lifecycle",
    ),
    "cases": ("log", "case_id"),
    "state_at": ("log", "case_id"),
    "dfg": ("log", "source", "target"),
    "variants": ("log", "variant"),
}  # fmt: skip


def _plain(frame: pl.DataFrame) -> pl.DataFrame:
    """Durations as seconds (``duration`` becomes ``duration_seconds``, ``mean_duration``
    ``mean_seconds``, as the commands' JSON names them), and categoricals as text."""
    renamed: list[pl.Expr] = []
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.Duration):
            seconds = pl.col(name).dt.total_microseconds() / 1e6
            new = (
                name.removesuffix("_duration") + "_seconds"
                if name != "duration"
                else "duration_seconds"
            )
            renamed.append(seconds.alias(new))
        elif isinstance(dtype, pl.Categorical | pl.Enum):
            renamed.append(pl.col(name).cast(pl.String))
        else:
            renamed.append(pl.col(name))
    return frame.select(renamed)


def _with_settings(cut: Version, settings: dict[str, str]) -> Version:
    """The query's cut with its ``SETTING`` defaults (which win over the command's)."""
    import sqlglot

    for kind, text in settings.items():
        try:
            expression = sqlglot.parse_one(text, read=dialect())
        except sqlglot.errors.ParseError:
            raise QueryError(f"SETTING DEFAULT {kind} AS OF {text}: not a time") from None
        cut = _cut_at(cut, kind, expression)
    return cut


def _cut_at(cut: Version, kind: str, expression: exp.Expr) -> Version:
    """``cut`` with a ``SYSTEM_TIME`` (``known_at``: a time, or an integer position) or a
    ``VALID_TIME`` (``as_of``: a time) moment."""
    moment = _moment(expression, f"FOR {kind} AS OF")
    if kind == "SYSTEM_TIME":
        return replace(cut, known_at=moment)
    if isinstance(moment, int):
        raise QueryError(f"FOR VALID_TIME AS OF {moment}: give a time, not a position")
    return replace(cut, as_of=moment)


def _moment(expression: exp.Expr, what: str) -> datetime | int:
    """A constant time (UTC where it has no offset) or an integer position, evaluated by the
    engine; refused when it reads a column or a table."""
    from sqlglot import exp

    from workbench.store.frames import from_micros

    if isinstance(expression, exp.Literal) and not expression.is_string and expression.is_int:
        return int(expression.this)
    if expression.find(exp.Column, exp.Select, exp.Table) is not None:
        raise QueryError(f"{what} {expression.sql()}: give a constant time or position")
    connection = engine({})
    try:
        (micros,) = connection.execute(
            f"SELECT epoch_us(CAST(({expression.sql(dialect='duckdb')}) AS TIMESTAMPTZ))"
        ).fetchone()
    except Exception as error:  # the engine's word on a value that is not a time
        raise QueryError(f"{what} {expression.sql()}: {_first_line(error)}") from None
    finally:
        connection.close()
    return from_micros(int(micros))


def _words(cut: Version) -> str:
    parts = []
    if cut.as_of is not None:
        parts.append(f"valid time as of {cut.as_of.isoformat()}")
    if cut.known_at is not None:
        known = cut.known_at
        parts.append(
            f"known at {known.isoformat() if isinstance(known, datetime) else f'position {known}'}"
        )
    return "; ".join(parts) or "as it stands"
