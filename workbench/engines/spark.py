"""The projections of `workbench.projections` on Apache Spark, with the same numbers.

For logs that outgrow one machine: Spark reads a log's Parquet segments (the read model's,
or any Parquet dataset of events in the store's vocabulary, on a local path or any URL
Spark reads such as ``s3a://`` or ``hdfs://``) and computes the projections; results come
back as Polars frames (through Arrow) with the column names and types the Polars
projections have, so the CLI uses them unchanged.

Within a case, events are ordered by ``(timestamp, position)`` exactly as in Polars:
windows order by both, and sequences come from a sorted array of structs (the order of
``collect_list`` is not defined after a shuffle). Medians and the 90th percentile are
exact, interpolated linearly in Polars' own floating-point steps; durations are whole
microseconds, means and percentiles truncated towards zero as Polars truncates them.

Spark starts with the session time zone UTC, the UI off and few shuffle partitions;
``pyspark`` is an optional extra (``pip install 'workbench[spark]'``) and needs Java.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from workbench.events import WorkbenchError, as_utc
from workbench.projections import START, STATISTICS

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

    from workbench.calendars import Assigned, Hours
    from workbench.readmodel import ReadModel
    from workbench.store import EventStore
    from workbench.store.records import SqlSource


def _driver_memory() -> str:
    """The driver's heap: a quarter of this machine's memory, from 1 to 16 GB. Spark's own
    1 GB cannot keep a command's events (`prepared`) or take back a case table of millions
    of rows; in ``local`` mode the driver is where the work is done."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return "1g"
    return f"{min(max(total // 4 // 2**30, 1), 16)}g"


CONFIG = {
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": os.environ.get("WORKBENCH_SPARK_PARTITIONS", "8"),
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
    "spark.sql.caseSensitive": "true",  # a log may have both "Activity" and "activity"
    # Results come back whole (a case table of millions of rows): past Spark's 1 GB default.
    "spark.driver.maxResultSize": os.environ.get("WORKBENCH_SPARK_MAX_RESULT", "8g"),
    "spark.driver.memory": os.environ.get("WORKBENCH_SPARK_DRIVER_MEMORY") or _driver_memory(),
}
#: Where Debian's libpostgresql-jdbc-java puts PostgreSQL's JDBC driver.
DEBIAN_JDBC = "/usr/share/java/postgresql.jar"
PERIODS = {"1h": "hour", "1d": "day", "1w": "week", "1mo": "month", "1q": "quarter", "1y": "year"}


class SparkUnavailable(WorkbenchError):
    """Spark cannot run here: pyspark or Java is missing, or the master did not answer."""


def session(master: str | None = None) -> SparkSession:
    """A Spark session on ``master`` (``local[*]`` by default; ``sc://host`` for Spark
    Connect, ``spark://host:7077`` or ``yarn`` for a cluster)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailable(
            "the Spark engine needs pyspark: pip install 'workbench[spark]'"
        ) from None
    remote = master is not None and master.startswith("sc://")
    if not remote and shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise SparkUnavailable(
            "the Spark engine needs Java: install a Java runtime (Debian: apt-get install"
            " default-jre-headless) or set JAVA_HOME"
        )
    builder: Any = SparkSession.builder.appName("workbench")
    builder = builder.remote(master) if remote else builder.master(master or "local[*]")
    for key, value in CONFIG.items():
        if not (remote and key.startswith("spark.driver.")):  # a server's own, not ours
            builder = builder.config(key, value)
    jars = os.environ.get("WORKBENCH_SPARK_JARS") or (
        DEBIAN_JDBC if Path(DEBIAN_JDBC).exists() else None
    )
    if jars and not remote:  # for reading a PostgreSQL store (`read_jdbc`)
        builder = builder.config("spark.jars", jars)
    if (master or "local").startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # no search for a network
        # Python workers (working time, `_working`) run this interpreter, with its packages.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if not remote:
        import pyspark.java_gateway

        pyspark.java_gateway.Popen = _without_fork  # type: ignore[assignment,attr-defined]
    try:
        with _quiet_jvm():
            spark = builder.getOrCreate()
    except Exception as error:  # the JVM's or the server's own words, on one line
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SparkUnavailable(
            f"Spark did not start on {master or 'local[*]'}: {first}"
            " (WORKBENCH_SPARK_LOG=1 shows Spark's own log)"
        ) from None
    if not remote:
        spark.sparkContext.setLogLevel("ERROR")
    return spark  # type: ignore[no-any-return]


def _without_fork(command: list[str], **options: Any) -> subprocess.Popen[bytes]:
    """Start the JVM as pyspark does, but without a ``preexec_fn``, so that the child is
    spawned (vfork and exec) instead of forked: a process that has run Polars reserves
    terabytes of address space, and forking it can fail with "Cannot allocate memory". A
    process group of its own keeps Ctrl-C away from the JVM, which is what pyspark's
    ``preexec_fn`` was for."""
    options.pop("preexec_fn", None)
    return subprocess.Popen(command, process_group=0, **options)


@contextmanager
def _quiet_jvm() -> Iterator[None]:
    """Start the JVM with its standard error on /dev/null: Spark's start-up log (log4j
    warnings, host names) is not the user's business; its errors come back as exceptions.
    WORKBENCH_SPARK_LOG=1 keeps it."""
    if os.environ.get("WORKBENCH_SPARK_LOG"):
        yield
        return
    saved = os.dup(2)
    sink = os.open(os.devnull, os.O_WRONLY)
    os.dup2(sink, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(sink)


# ------------------------------------------------------------------ where the events are


def read_parquet(spark: SparkSession, *paths: str, partition: str | None = None) -> DataFrame:
    """Events from Parquet: the read model's segments, or a dataset `workbench export
    --format parquet --partition-by month` wrote (then name its ``partition`` column,
    which is not an attribute of the events), on any path or URL Spark reads."""
    # Partition names such as 2024-03 stay text (not dates) if a caller keeps them.
    spark.conf.set("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
    events = spark.read.parquet(*paths)
    return events.drop(partition) if partition else events


def read_log(
    spark: SparkSession,
    store: EventStore,
    log: str,
    *,
    as_of: datetime | None = None,
    known_at: datetime | int | None = None,
    model: ReadModel | None = None,
    source: str | None = None,
) -> DataFrame:
    """A stored log's events, cut as `EventStore.scan` cuts (``as_of`` on valid time,
    ``known_at`` on transaction time or position).

    ``source`` says where Spark reads them: ``segments`` (the read model's Parquet files,
    brought up to date first) or ``jdbc`` (a PostgreSQL store's tables, in parallel ranges
    of positions). By default: the segments when the store has a folder for them (always for
    SQLite; ``WORKBENCH_SEGMENTS`` for PostgreSQL, a path every Spark worker sees), else
    JDBC; ``WORKBENCH_SPARK_SOURCE`` chooses for the CLI. ``model`` is the store's read
    model when the caller has one open (a second would follow the same commits)."""
    from workbench.readmodel import ReadModel

    source = source or os.environ.get("WORKBENCH_SPARK_SOURCE") or None
    if source not in (None, "segments", "jdbc"):
        raise SparkUnavailable(f"Spark reads a log's segments or reads it by jdbc, not {source!r}")
    on_server = store.is_server
    if source is None:
        model = model or ReadModel(store)
        source = "segments" if model.folder is not None or not on_server else "jdbc"
    if source == "jdbc":  # `sql_source` refuses a store that is not PostgreSQL
        return read_jdbc(spark, store.sql_source(log, as_of=as_of, known_at=known_at))
    model = model or ReadModel(store)
    if model.folder is None:
        raise SparkUnavailable(
            f"{store.location}: the log has no Parquet segments; set WORKBENCH_SEGMENTS to a"
            " folder for them (one Spark's workers can read), or read it by JDBC"
        )
    model.refresh(log)
    paths = [str(segment.path) for segment in model.segments(log)]
    schema = _spark_schema(events_schema(store.schema(log)))
    if not paths:
        return spark.createDataFrame([], schema)
    # The log's schema, not one file's: attributes that came later are null before them.
    return cut(spark.read.schema(schema).parquet(*paths), as_of=as_of, known_at=known_at)


def prepared(events: DataFrame) -> DataFrame:
    """The events once for all the projections of a command: partitioned by a hash of the
    case id, so that per-case windows and groupings need no shuffle of their own, in case,
    time and position order inside each partition, and kept (in memory, spilling to disk)
    until `release`: the log is read, cut and filtered once, not once per projection."""
    from pyspark import StorageLevel

    conf = events.sparkSession.conf
    partitions = int(conf.get("spark.sql.shuffle.partitions") or 8)
    adaptive = conf.get("spark.sql.adaptive.enabled") or "true"
    # Planned without adaptive execution, the kept plan tells the queries on it how it is
    # partitioned and sorted; adaptively planned, it would not, and each would shuffle.
    conf.set("spark.sql.adaptive.enabled", "false")
    try:
        return (
            events.repartition(partitions, "case_id")
            .sortWithinPartitions("case_id", "timestamp", "position")
            .persist(StorageLevel.MEMORY_AND_DISK)
        )
    finally:
        conf.set("spark.sql.adaptive.enabled", adaptive)


def persisted(frame: DataFrame) -> DataFrame:
    """A frame (the `per_case` rows) kept for the projections computed from it."""
    from pyspark import StorageLevel

    return frame.persist(StorageLevel.MEMORY_AND_DISK)


def release(*frames: DataFrame) -> None:
    """Let go of frames `prepared` or `persisted` kept."""
    for frame in frames:
        frame.unpersist()


def events_schema(schema: pl.Schema) -> pl.Schema:
    """The columns Spark reads of a log with this (`EventStore.schema`) schema: all but the
    log's name."""
    return pl.Schema({name: dtype for name, dtype in schema.items() if name != "log"})


def read_jdbc(
    spark: SparkSession, source: SqlSource, *, partitions: int | None = None
) -> DataFrame:
    """A log's events read by Spark from a PostgreSQL store through JDBC: ``partitions``
    ranges of positions read in parallel, all below the source's fixed last position, so
    that every partition sees the same prefix of the log however much is appended
    meanwhile. Columns and types are those of a read of the segments.

    Spark needs PostgreSQL's JDBC driver: Debian's ``libpostgresql-jdbc-java`` is found by
    itself; elsewhere, name its jar in ``WORKBENCH_SPARK_JARS``."""
    from pyspark.sql import functions as F

    from workbench.store import attributes as attrs

    url, credentials = jdbc_url(source.url)
    span = max(source.last - source.first + 1, 1)
    count = partitions or int(
        os.environ.get("WORKBENCH_SPARK_JDBC_PARTITIONS", min(64, span // 250_000 + 1))
    )
    reader = (
        spark.read.format("jdbc")
        .option("url", url)
        .option("driver", "org.postgresql.Driver")
        .option("dbtable", f"({source.query}) AS events")
        .option("fetchsize", "10000")
    )
    for key, value in credentials.items():
        reader = reader.option(key, value)
    if count > 1 and source.last > source.first:
        reader = (
            reader.option("partitionColumn", "position")
            .option("lowerBound", str(source.first))
            .option("upperBound", str(source.last + 1))
            .option("numPartitions", str(count))
        )
    from workbench.store import public_location

    try:
        raw = reader.load()
    except Exception as error:
        text = str(error)
        if "ClassNotFoundException" in text or "No suitable driver" in text:
            raise SparkUnavailable(
                "Spark needs PostgreSQL's JDBC driver to read the store: install it (Debian:"
                " apt-get install libpostgresql-jdbc-java) or name its jar in"
                " WORKBENCH_SPARK_JARS"
            ) from None
        first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
        raise SparkUnavailable(
            f"Spark could not read {public_location(source.url)}: {first}"
        ) from None
    from workbench.events import VOCABULARY

    converted = {
        "timestamp": F.timestamp_micros(F.col("timestamp")),
        "recorded_at": F.timestamp_micros(F.col("recorded_at")),
    }
    # The columns of a read of the segments, in the same order.
    events = [converted.get(name, F.col(name)).alias(name) for name in VOCABULARY if name != "log"]
    for name, spec in source.attributes.items():
        parts = [
            _widened(_stored_value(F.col(attrs.read_label(c)), c.kind), c.kind, spec.kind)
            for c in spec.columns
        ]
        if not parts:
            column = F.lit(None).cast(_KIND_TYPES.get(spec.kind, "string"))
        else:
            column = parts[0] if len(parts) == 1 else F.coalesce(*parts)
        events.append(column.alias(name))
    return raw.select(*events)


#: The Spark type of each attribute kind (see `workbench.store.attributes.KINDS`): durations
#: are microseconds and times of day nanoseconds, as Spark reads them from Parquet.
_KIND_TYPES = {
    "Boolean": "boolean",
    "Int64": "bigint",
    "Float64": "double",
    "String": "string",
    "Datetime": "timestamp",
    "Date": "date",
    "Duration": "bigint",
    "Time": "bigint",
    "Null": "string",
}


def _stored_value(column: Column, kind: str) -> Column:
    """A stored attribute column's values (integers, reals or text) as values of its kind."""
    from pyspark.sql import functions as F

    if kind == "Datetime":
        return F.timestamp_micros(column)
    if kind == "Date":
        return F.date_from_unix_date(column.cast("int"))
    return column.cast(_KIND_TYPES[kind])


def _widened(column: Column, kind: str, target: str) -> Column:
    """Values of ``kind`` in the attribute's wider kind ``target``, written as Polars'
    cast writes them."""
    from pyspark.sql import functions as F

    if kind == target:
        return column
    if target == "String" and kind == "Datetime":
        return F.date_format(column, "yyyy-MM-dd HH:mm:ss.SSSSSSxxx")
    return column.cast(_KIND_TYPES[target])


def jdbc_url(url: str) -> tuple[str, dict[str, str]]:
    """A ``postgresql://`` URL as JDBC has it: the URL without credentials (its query
    parameters, such as ``options`` or ``sslmode``, kept) and the user and password.

    >>> jdbc_url("postgresql://ana:s%40cret@db:5433/logs?sslmode=require")
    ('jdbc:postgresql://db:5433/logs?sslmode=require', {'user': 'ana', 'password': 's@cret'})
    """
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    if ":" in host:
        host = f"[{host}]"
    address = f"{host}:{parts.port}" if parts.port else host
    query = f"?{parts.query}" if parts.query else ""
    credentials = {}
    if parts.username:
        credentials["user"] = unquote(parts.username)
    if parts.password is not None:
        credentials["password"] = unquote(parts.password)
    return f"jdbc:postgresql://{address}{parts.path or '/'}{query}", credentials


def cut(
    events: DataFrame, *, as_of: datetime | None = None, known_at: datetime | int | None = None
) -> DataFrame:
    """The events as of a moment and as known at another, as `EventStore.scan` cuts."""
    from pyspark.sql import functions as F

    if as_of is not None:
        events = events.where(F.col("timestamp") <= F.lit(as_of))
    if isinstance(known_at, datetime):
        events = events.where(F.col("recorded_at") <= F.lit(known_at))
    elif known_at is not None:
        events = events.where(F.col("position") <= F.lit(known_at))
    return events


def _spark_schema(schema: pl.Schema) -> Any:
    from pyspark.sql import types as T

    kinds = {
        pl.Int64: T.LongType(),
        pl.Int32: T.IntegerType(),
        pl.Float64: T.DoubleType(),
        pl.Boolean: T.BooleanType(),
    }
    fields = []
    for name, dtype in schema.items():
        if isinstance(dtype, pl.Datetime):
            kind: Any = T.TimestampType()
        elif dtype == pl.Date:
            kind = T.DateType()
        elif isinstance(dtype, pl.Duration) or dtype == pl.Time:
            kind = T.LongType()  # microseconds; nanoseconds of the day
        else:
            kind = next((k for d, k in kinds.items() if dtype == d), T.StringType())
        fields.append(T.StructField(name, kind, True))
    return T.StructType(fields)


# ------------------------------------------------------------------ helpers


def _micros(column: str | Column) -> Column:
    from pyspark.sql import functions as F

    return F.unix_micros(F.col(column) if isinstance(column, str) else column)


def _sorted(column: str) -> Column:
    """A group's values of a column, sorted: what `_quantile` takes quantiles of (sorted
    once for all of them: sorting is most of the time of a group's quantiles)."""
    from pyspark.sql import functions as F

    return F.array_sort(F.collect_list(F.col(column)))


def _quantile(values: str, quantile: float) -> Column:
    """The exact ``quantile`` of a group's sorted values (`_sorted`), linearly interpolated
    with the very floating-point steps Polars takes (``Percentile`` interpolates in another
    order, which can differ by a microsecond after truncation)."""
    from pyspark.sql import functions as F

    sorted_values = F.col(values)
    position = (F.size(sorted_values) - 1).cast("double") * F.lit(quantile)
    low = F.floor(position).cast("int")
    high = F.ceil(position).cast("int")
    lower = F.element_at(sorted_values, low + 1).cast("double")
    upper = F.element_at(sorted_values, high + 1).cast("double")
    return F.when(F.size(sorted_values) == 0, F.lit(None)).otherwise(
        F.when(low == high, lower).otherwise((position - low) * (upper - lower) + lower)
    )


def _order() -> Column:
    from pyspark.sql import functions as F

    return F.struct(F.col("timestamp"), F.col("position"))


def _in_case() -> Any:
    from pyspark.sql import Window

    return Window.partitionBy("case_id").orderBy("timestamp", "position")


def _occurrence(events: DataFrame) -> Column:
    """An activity occurrence: a completion, or an event without a lifecycle."""
    from pyspark.sql import functions as F

    if "lifecycle" not in events.columns:
        return F.lit(True)
    phase = F.lower(F.col("lifecycle"))
    return phase.isNull() | (phase == "complete")


def _started() -> Column:
    """`workbench.projections._started` on Spark: an event's start in a log of intervals."""
    from pyspark.sql import functions as F

    return F.least(F.coalesce(F.col(START), F.col("timestamp")), F.col("timestamp"))


def _polars(frame: DataFrame) -> pl.DataFrame:
    """A (small) Spark result as a Polars frame, through Arrow."""
    table = frame.toArrow()
    result = pl.from_arrow(table)
    assert isinstance(result, pl.DataFrame)
    return result.with_columns(
        pl.col(name).dt.replace_time_zone("UTC")
        for name, dtype in result.schema.items()
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is None
    ).with_columns(
        pl.col(name).dt.convert_time_zone("UTC")
        for name, dtype in result.schema.items()
        if isinstance(dtype, pl.Datetime)
    )


def _durations(frame: pl.DataFrame, names: Iterable[str]) -> pl.DataFrame:
    """Microsecond counts (whole, or means and percentiles as doubles, truncated towards
    zero as Polars truncates them) as Polars durations."""
    return frame.with_columns(
        pl.col(name).cast(pl.Int64, strict=False).cast(pl.Duration("us")) for name in names
    )


def _counts(frame: pl.DataFrame, names: Iterable[str]) -> pl.DataFrame:
    return frame.with_columns(pl.col(name).cast(pl.UInt32) for name in names)


# ------------------------------------------------------------------ projections


def _working(frame: DataFrame, start: str, end: str, name: str, calendar: Hours) -> DataFrame:
    """``frame`` with the column ``name``: the ``calendar``'s working microseconds from the
    column ``start`` to ``end`` (null where either is null; negative when the end comes
    first), as `Calendar.durations` and `Assigned.durations` give them (by the row's
    ``case_id`` for an attribute's calendars). The driver lays out each calendar's working
    intervals over the frame's time span once, and where the attribute's value changes in
    each case; each partition then measures its rows against them with NumPy, batch by
    batch (no Workbench code runs on the executors)."""
    import numpy as np
    from pyspark.sql import functions as F
    from pyspark.sql.types import LongType, StructField, StructType

    from workbench.calendars import Assigned
    from workbench.store.frames import from_micros

    low, high = frame.select(
        F.min(F.least(_micros(start), _micros(end))),
        F.max(F.greatest(_micros(start), _micros(end))),
    ).first() or (None, None)
    if low is None or high is None:
        return frame.withColumn(name, F.lit(None).cast("long"))
    first, last = from_micros(low), from_micros(high)
    chosen = calendar.calendars if isinstance(calendar, Assigned) else ()
    default = calendar.default if isinstance(calendar, Assigned) else calendar
    laid = [(c.starts, c.lengths, c.before) for c in (x.clock(first, last) for x in chosen)]
    fallback = None
    if default is not None:
        clock = default.clock(first, last)
        fallback = (clock.starts, clock.lengths, clock.before)
    changes = _changes(calendar) if isinstance(calendar, Assigned) else None
    schema = StructType([*frame.schema.fields, StructField(name, LongType(), True)])

    # `Clock.at`, again: the executors may not have Workbench to unpickle a Clock with.
    def at(clock: Any, moments: Any) -> Any:
        opens, lengths, before = clock
        if not len(opens):
            return np.zeros(len(moments), dtype=np.int64)
        index = np.searchsorted(opens, moments, side="right") - 1
        found = np.maximum(index, 0)
        done = np.minimum(np.clip(moments - opens[found], 0, None), lengths[found])
        return np.where(index < 0, 0, before[found] + done)

    # `Assigned.which`, again: each row's calendar is its case's value's at its end.
    def which(cases: list[Any], moments: Any) -> Any:
        if changes is None:
            return np.full(len(moments), -1, dtype=np.int64)
        codes_of, times, keys, change_codes, change_calendars, firsts = changes
        codes = np.array([codes_of.get(case, -1) for case in cases], dtype=np.int64)
        ranks = np.searchsorted(times, moments, side="right")
        wanted = codes * (len(times) + 1) + ranks
        found = np.searchsorted(keys, wanted, side="right") - 1
        safe = np.maximum(found, 0)
        hit = (found >= 0) & (codes >= 0) & (change_codes[safe] == codes)
        before = np.where(codes >= 0, firsts[np.maximum(codes, 0)], -1)
        return np.where(hit, change_calendars[safe], before)

    def working(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        for batch in batches:
            a = batch.column(batch.schema.get_field_index(start)).cast(pa.int64())
            b = batch.column(batch.schema.get_field_index(end)).cast(pa.int64())
            known = a.is_valid().to_numpy(zero_copy_only=False) & b.is_valid().to_numpy(
                zero_copy_only=False
            )
            a_values = a.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
            b_values = b.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
            cases = [] if changes is None else batch.column("case_id").to_pylist()
            index = which(cases, b_values)
            micros = np.empty(len(b_values), dtype=np.int64)
            for k in np.unique(index):
                rows = index == k
                clock = fallback if k < 0 else laid[k]
                micros[rows] = (
                    b_values[rows] - a_values[rows]
                    if clock is None
                    else at(clock, b_values[rows]) - at(clock, a_values[rows])
                )
            yield pa.RecordBatch.from_arrays(
                [*batch.columns, pa.array(micros, type=pa.int64(), mask=~known)],
                names=[*batch.schema.names, name],
            )

    with warnings.catch_warnings():  # PySpark's word on the pandas version is not the user's
        warnings.simplefilter("ignore", FutureWarning)
        return frame.mapInArrow(working, schema)


def _changes(assigned: Assigned) -> tuple[Any, ...]:
    """`Assigned.changes` as plain arrays for the executors: each case's code, the distinct
    moments, a key per change that orders by case, then moment (its case's code times one
    more than the moments, plus the number of moments up to its own), each change's case
    code and calendar, and each case's first calendar (`Assigned.firsts`)."""
    import numpy as np

    changes = assigned.changes
    cases = changes["case_id"].unique(maintain_order=True).to_list()
    codes_of = {case: code for code, case in enumerate(cases)}
    change_codes = np.array([codes_of[case] for case in changes["case_id"]], dtype=np.int64)
    at = changes["at"].to_numpy()
    times = np.unique(at)
    keys = change_codes * (len(times) + 1) + np.searchsorted(times, at, side="right")
    calendars = changes["calendar"].to_numpy().astype(np.int64)
    first = dict(assigned.firsts.iter_rows())
    firsts = np.array([first[case] for case in cases], dtype=np.int64)
    return codes_of, times, keys, change_codes, calendars, firsts


def directly_follows(events: DataFrame, *, calendar: Hours | None = None) -> pl.DataFrame:
    """`workbench.projections.directly_follows` on Spark (times in the ``calendar``'s working
    time when there is one)."""
    from pyspark.sql import functions as F

    window = _in_case()
    arrival = F.lead("timestamp").over(window)
    if START in events.columns:  # a log of intervals: by starts, waiting from end to start
        from pyspark.sql import Window

        events = events.withColumn("__begun", _started())
        window = Window.partitionBy("case_id").orderBy("__begun", "timestamp", "position")
        arrival = F.greatest(F.lead("__begun").over(window), F.col("timestamp"))
    steps = events.select(
        "case_id",
        F.col("activity").alias("source"),
        F.lead("activity").over(window).alias("target"),
        "timestamp",
        arrival.alias("arrival"),
    ).where(F.col("target").isNotNull())
    if calendar is None:
        steps = steps.withColumn("wait", _micros("arrival") - _micros("timestamp"))
    else:
        steps = _working(steps, "timestamp", "arrival", "wait", calendar)
    # The cases of each edge counted apart, from one row per case and edge: a distinct
    # count among the other aggregations made Spark copy every step once per distinct
    # count and sort the copies (27 s of a 10 M-event map, 16 s apart).
    cases = (
        steps.groupBy("case_id", "source", "target")
        .agg(F.count(F.lit(1)).alias("steps"))
        .groupBy("source", "target")
        .agg(F.count(F.lit(1)).alias("cases"))
    )
    edges = steps.groupBy("source", "target").agg(
        F.count(F.lit(1)).alias("frequency"),
        F.avg("wait").alias("mean_duration"),
        _sorted("wait").alias("waits"),
        F.min("wait").alias("min_duration"),
        F.max("wait").alias("max_duration"),
        F.sum("wait").alias("total_duration"),
    )
    edges = edges.join(cases, ["source", "target"]).select(
        "source",
        "target",
        "frequency",
        "cases",
        "mean_duration",
        _quantile("waits", 0.5).alias("median_duration"),
        "min_duration",
        "max_duration",
        _quantile("waits", 0.9).alias("p90_duration"),
        "total_duration",
    )
    frame = _polars(edges)
    if frame.is_empty():
        frame = pl.DataFrame(schema={name: pl.String for name in edges.columns})
    frame = _durations(
        frame.with_columns(pl.col("source", "target").cast(pl.String)),
        [name for name in frame.columns if name.endswith("_duration")],
    )
    return _counts(frame, ["frequency", "cases"]).sort(
        ["frequency", "source", "target"], descending=[True, False, False]
    )


def _ends(events: DataFrame, *, first: bool, rows: DataFrame | None = None) -> pl.DataFrame:
    from pyspark.sql import functions as F

    end = F.element_at("variant", 1 if first else -1)
    cases = _rows(events, rows)
    ends = cases.groupBy(end.alias("activity")).agg(F.count(F.lit(1)).alias("cases"))
    frame = _polars(ends)
    if frame.is_empty():
        return pl.DataFrame(schema={"activity": pl.String, "cases": pl.UInt32})
    return _counts(frame.with_columns(pl.col("activity").cast(pl.String)), ["cases"]).sort(
        ["cases", "activity"], descending=[True, False]
    )


def start_activities(events: DataFrame, *, rows: DataFrame | None = None) -> pl.DataFrame:
    """`workbench.projections.start_activities` on Spark (from the events' `per_case` rows
    when the caller has them)."""
    return _ends(events, first=True, rows=rows)


def end_activities(events: DataFrame, *, rows: DataFrame | None = None) -> pl.DataFrame:
    """`workbench.projections.end_activities` on Spark (see `start_activities`)."""
    return _ends(events, first=False, rows=rows)


def _sequence() -> Column:
    """A case's activities in (timestamp, position) order."""
    from pyspark.sql import functions as F

    ordered = F.array_sort(F.collect_list(F.struct("timestamp", "position", "activity")))
    return F.transform(ordered, lambda event: event["activity"])


def variants(events: DataFrame, *, rows: DataFrame | None = None) -> pl.DataFrame:
    """`workbench.projections.variants` on Spark (see `start_activities`)."""
    from pyspark.sql import functions as F

    grouped = (
        _rows(events, rows)
        .groupBy("variant")
        .agg(
            F.count(F.lit(1)).alias("cases"),
            F.avg("duration").alias("mean_duration"),
            _sorted("duration").alias("durations"),
        )
    )
    frame = _polars(
        grouped.select(
            "variant",
            "cases",
            "mean_duration",
            _quantile("durations", 0.5).alias("median_duration"),
        )
    )
    schema: dict[str, pl.DataType] = {
        "variant": pl.List(pl.String),
        "cases": pl.UInt32(),
        "share": pl.Float64(),
        "mean_duration": pl.Duration("us"),
        "median_duration": pl.Duration("us"),
    }
    if frame.is_empty():
        return pl.DataFrame(schema=schema)
    frame = _durations(
        _counts(frame.with_columns(pl.col("variant").cast(pl.List(pl.String))), ["cases"]),
        ["mean_duration", "median_duration"],
    )
    return (
        frame.with_columns(
            share=pl.col("cases") / pl.col("cases").sum(),
            length=pl.col("variant").list.len(),
            key=pl.col("variant").list.join("\u0000"),
        )
        .sort(["cases", "length", "key"], descending=[True, False, False])
        .select(*schema)
    )


def per_case(events: DataFrame) -> DataFrame:
    """One row per case of the events: start, end, duration, events, variant (its
    activities in order), rework, last activity, each attribute's first value and whether
    it varies in the case. `cases`, `variants`, `start_activities` and `end_activities` are
    computed from these rows: a command that shows several of them groups the events by
    case once (`persisted` until `release`)."""
    from pyspark.sql import functions as F

    from workbench.events import VOCABULARY

    attributes = [name for name in events.columns if name not in VOCABULARY]
    occurrence = _occurrence(events)
    rows = events.groupBy("case_id").agg(
        F.min("timestamp").alias("start"),
        F.max("timestamp").alias("end"),
        F.count(F.lit(1)).alias("events"),
        _sequence().alias("variant"),
        (
            F.sum(F.when(occurrence, 1).otherwise(0))
            - F.size(F.collect_set(F.when(occurrence, F.col("activity"))))
        ).alias("rework"),
        *(
            F.min_by(F.col(name), F.when(F.col(name).isNotNull(), _order())).alias(name)
            for name in attributes
        ),
        # A distinct count per attribute would make Spark copy every event once per count.
        *(
            F.coalesce(F.min(name) != F.max(name), F.lit(False)).alias(f"__varies_{name}")
            for name in attributes
        ),
    )
    return rows.withColumns(
        {
            "duration": _micros("end") - _micros("start"),
            "last_activity": F.element_at("variant", -1),
        }
    )


def _rows(events: DataFrame, rows: DataFrame | None) -> DataFrame:
    return per_case(events) if rows is None else rows


def cases(
    events: DataFrame, schema: pl.Schema | None = None, *, rows: DataFrame | None = None
) -> pl.DataFrame:
    """`workbench.projections.cases` on Spark (see `start_activities`). ``schema`` (the
    log's, from the store) gives attributes the Polars types they have there."""
    from workbench.events import VOCABULARY

    attributes = [name for name in events.columns if name not in VOCABULARY]
    frame = _polars(_rows(events, rows))
    base = ["case_id", "start", "end", "duration", "events", "variant", "rework", "last_activity"]
    if frame.is_empty():
        return pl.DataFrame(
            schema={
                "case_id": pl.String,
                "start": pl.Datetime("us", "UTC"),
                "end": pl.Datetime("us", "UTC"),
                "duration": pl.Duration("us"),
                "events": pl.UInt32,
                "variant": pl.List(pl.String),
                "rework": pl.UInt32,
                "last_activity": pl.String,
                # No case differs: every attribute is the case's, as in Polars.
                **{
                    name: schema[name] if schema is not None and name in schema else pl.String()
                    for name in attributes
                },
            }
        )
    constant = [
        name
        for name in attributes
        if name.startswith("case:") or not frame[f"__varies_{name}"].any()
    ]
    frame = _durations(_counts(frame, ["events", "rework"]), ["duration"]).with_columns(
        pl.col("case_id", "last_activity").cast(pl.String),
        pl.col("variant").cast(pl.List(pl.String)),
    )
    if schema is not None:
        frame = frame.with_columns(
            pl.col(name).cast(schema[name]) for name in constant if name in schema
        )
    return frame.select(*base, *constant).sort("case_id")


def instances(events: DataFrame) -> DataFrame:
    """`workbench.projections.instances` on Spark (unsorted; ``previous_end`` by a window)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    resource = F.col("resource") if "resource" in events.columns else F.lit(None).cast("string")
    if START not in events.columns and (
        "lifecycle" in events.columns
        and events.where(F.lower(F.col("lifecycle")) == "start").take(1)
    ):
        phase = F.coalesce(F.lower(F.col("lifecycle")), F.lit(""))
        paired = Window.partitionBy("case_id", "activity", "phase").orderBy("timestamp", "position")
        ranked = (
            events.withColumn("phase", phase)
            .where(F.col("phase").isin("start", "complete", ""))
            .withColumn("nth", F.row_number().over(paired))
        )
        starts = ranked.where(F.col("phase") == "start").select(
            "case_id", "activity", "nth", F.col("timestamp").alias("started")
        )
        ends = ranked.where(F.col("phase") != "start").select(
            "case_id",
            "activity",
            "nth",
            "phase",
            resource.alias("resource"),
            F.col("timestamp").alias("end"),
            "position",
        )
        started = F.when(F.col("phase") == "complete", F.col("started"))
        found = ends.join(starts, ["case_id", "activity", "nth"], "left").select(
            "case_id",
            "activity",
            "resource",
            F.least(F.coalesce(started, F.col("end")), F.col("end")).alias("start"),
            "end",
            "position",
        )
    else:
        found = events.where(_occurrence(events)).select(
            "case_id",
            "activity",
            resource.alias("resource"),
            (_started() if START in events.columns else F.col("timestamp")).alias("start"),
            F.col("timestamp").alias("end"),
            "position",
        )
    order = Window.partitionBy("case_id").orderBy("start", "end", "position")
    return found.withColumn("previous_end", F.lag("end").over(order))


def activities(events: DataFrame, *, calendar: Hours | None = None) -> pl.DataFrame:
    """`workbench.projections.activities` on Spark (times in the ``calendar``'s working time
    when there is one)."""
    from pyspark.sql import functions as F

    found = instances(events).withColumn("waited_until", F.greatest("start", "previous_end"))
    if calendar is None:
        found = found.withColumns(
            {
                "service": _micros("end") - _micros("start"),
                "waiting": _micros("waited_until") - _micros("previous_end"),
            }
        )
    else:
        found = _working(found, "start", "end", "service", calendar)
        found = _working(found, "previous_end", "waited_until", "waiting", calendar)
    timed = found.select("case_id", "activity", "resource", "service", "waiting")
    grouped = timed.groupBy("activity").agg(
        F.count(F.lit(1)).alias("events"),
        F.countDistinct("case_id").alias("cases"),
        F.countDistinct("resource").alias("resources"),
        F.avg("service").alias("mean_service"),
        _sorted("service").alias("services"),
        F.avg("waiting").alias("mean_waiting"),
        _sorted("waiting").alias("waitings"),
    )
    times = [f"{statistic}_{kind}" for kind in ("service", "waiting") for statistic in STATISTICS]
    frame = _polars(
        grouped.select(
            "activity",
            "events",
            "cases",
            "resources",
            *(
                _quantile(f"{kind}s", share).alias(f"{statistic}_{kind}")
                if share
                else F.col(f"mean_{kind}")
                for kind in ("service", "waiting")
                for statistic, share in STATISTICS.items()
            ),
        )
    )
    frame = _durations(
        _counts(
            frame.with_columns(pl.col("activity").cast(pl.String)),
            ["events", "cases", "resources"],
        ),
        times,
    )
    return frame.select("activity", "events", "cases", "resources", *times).sort(
        ["events", "activity"], descending=[True, False]
    )


def throughput(events: DataFrame, *, every: str = "1d") -> pl.DataFrame:
    """`workbench.projections.throughput` on Spark, for calendar periods (``every``: 1h,
    1d, 1w, 1mo, 1q, 1y)."""
    from pyspark.sql import functions as F

    if every not in PERIODS:
        raise WorkbenchError(f"the Spark engine counts per {', '.join(PERIODS)}; not {every!r}")
    unit = PERIODS[every]
    spans = events.groupBy("case_id").agg(
        F.min("timestamp").alias("start"), F.max("timestamp").alias("end")
    )
    started = spans.groupBy(F.date_trunc(unit, "start").alias("period")).agg(
        F.count(F.lit(1)).alias("cases_started")
    )
    completed = spans.groupBy(F.date_trunc(unit, "end").alias("period")).agg(
        F.count(F.lit(1)).alias("cases_completed")
    )
    counted = events.groupBy(F.date_trunc(unit, "timestamp").alias("period")).agg(
        F.count(F.lit(1)).alias("events")
    )
    joined = counted.join(started, "period", "full").join(completed, "period", "full")
    frame = _polars(joined)
    columns = ["cases_started", "cases_completed", "events"]
    if frame.is_empty():
        return pl.DataFrame(
            schema={"period": pl.Datetime("us", "UTC"), **dict.fromkeys(columns, pl.UInt32)}
        )
    return (
        _counts(frame.with_columns(pl.col(columns).fill_null(0)), columns)
        .sort("period")
        .select("period", *columns)
    )


def distinct_activities(events: DataFrame) -> int:
    """How many distinct activities the events have."""
    from pyspark.sql import functions as F

    return int(events.select(F.countDistinct("activity")).first()[0])  # type: ignore[index]


def activity_counts(events: DataFrame) -> pl.DataFrame:
    """Per activity: events (``frequency``) and ``cases``, as a process map's nodes."""
    from pyspark.sql import functions as F

    frame = _polars(
        events.groupBy("activity").agg(
            F.count(F.lit(1)).alias("frequency"), F.countDistinct("case_id").alias("cases")
        )
    )
    if frame.is_empty():
        return pl.DataFrame(
            schema={"activity": pl.String, "frequency": pl.UInt32, "cases": pl.UInt32}
        )
    return _counts(
        frame.with_columns(pl.col("activity").cast(pl.String)), ["frequency", "cases"]
    ).sort(["frequency", "activity"], descending=[True, False])


# ------------------------------------------------------------------ filters


def filtered(events: DataFrame, filters: Any) -> DataFrame:
    """The events after `workbench.filters.Filters`, each filter as Spark computes it (the
    per-case conditions as windows over the case); a filter Spark does not have here is
    refused by name."""
    for item in filters.items:
        events = _filter(events, item)
    return events


def _filter(events: DataFrame, item: Any) -> DataFrame:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from workbench.filters import (
        ActivityCoverage,
        Attribute,
        CaseDuration,
        Contains,
        Lifecycle,
        TimeRange,
    )

    case = Window.partitionBy("case_id")
    time = F.col("timestamp")

    def where(condition: Column) -> DataFrame:
        # Spark refuses windows inside WHERE: the condition becomes a column first.
        return events.withColumn("__keep", condition).where("__keep").drop("__keep")

    if isinstance(item, TimeRange):
        low = F.lit(as_utc(item.start)) if item.start else None
        high = F.lit(as_utc(item.end)) if item.end else None

        def within(value: Column) -> Column:
            condition = F.lit(True)
            if low is not None:
                condition = condition & (value >= low)
            if high is not None:
                condition = condition & (value <= high)
            return condition

        first, last = F.min(time).over(case), F.max(time).over(case)
        if item.mode == "trim":
            return events.where(within(time))
        if item.mode == "started":
            return where(within(first))
        if item.mode == "completed":
            return where(within(last))
        if item.mode == "contained":
            return where(within(first) & within(last))
        condition = F.lit(True)
        if low is not None:
            condition = condition & (last >= low)
        if high is not None:
            condition = condition & (first <= high)
        return where(condition)
    if isinstance(item, Attribute):
        matches = F.coalesce(F.col(item.name).cast("string").isin(list(item.values)), F.lit(False))
        if item.level == "event":
            return events.where(matches if item.keep else ~matches)
        hit = F.max(matches.cast("int")).over(case) == 1
        return where(hit if item.keep else ~hit)
    if isinstance(item, Contains):
        for activity in item.activities:
            events = where(F.max((F.col("activity") == activity).cast("int")).over(case) == 1)
        return events
    if isinstance(item, Lifecycle):
        wanted = [value.lower() for value in item.values]
        return events.where(F.lower(F.col("lifecycle")).isin(wanted))
    if isinstance(item, CaseDuration):
        duration = _micros(F.max(time).over(case)) - _micros(F.min(time).over(case))
        condition = F.lit(True)
        if item.min is not None:
            condition = condition & (duration >= int(item.min / _MICROSECOND))
        if item.max is not None:
            condition = condition & (duration <= int(item.max / _MICROSECOND))
        return where(condition)
    if isinstance(item, ActivityCoverage):
        return events.where(F.col("activity").isin(covering(events, item.percent)))
    raise WorkbenchError(f"the Spark engine does not have this filter: {item.describe()}")


_MICROSECOND = timedelta(microseconds=1)


def covering(events: DataFrame, percent: float) -> list[str]:
    """The most frequent activities covering ``percent`` % of the events (at least one), as
    `workbench.filters.kept_activities` chooses them."""
    counted = activity_counts(events).with_columns(
        before=pl.col("frequency").cum_sum() - pl.col("frequency")
    )
    total = pl.col("frequency").sum()
    kept = counted.filter(
        (pl.col("before") < total * percent / 100) | (pl.int_range(pl.len()) == 0)
    )
    return kept["activity"].to_list()


# ------------------------------------------------------------------ state at a moment


def completing_activities(events: DataFrame) -> list[str]:
    """`workbench.timetravel.completing_activities` on Spark: the end activities that end
    at least half of their occurrences' cases."""
    from pyspark.sql import functions as F

    ends = (
        per_case(events)
        .groupBy(F.col("last_activity").alias("activity"))
        .agg(F.count(F.lit(1)).alias("ends"))
    )
    counts = events.groupBy("activity").agg(F.count(F.lit(1)).alias("occurrences"))
    rows = _polars(ends.join(counts, "activity"))
    if rows.is_empty():
        return []
    kept = rows.filter((pl.col("ends") > 0) & (pl.col("ends") * 2 >= pl.col("occurrences")))
    return sorted(kept["activity"].cast(pl.String).to_list())


def _without_superseded(events: DataFrame) -> DataFrame:
    """`workbench.timetravel.without_superseded` on Spark: the events minus those that a
    correction among them names in ``corrects``, or re-records (caused by it, with its
    case, activity and time)."""
    from pyspark.sql import functions as F

    originals = events.select(
        F.col("event_id").alias("corrected"),
        F.col("case_id").alias("original_case"),
        F.col("activity").alias("original_activity"),
        F.col("timestamp").alias("original_timestamp"),
    )
    named = events.where(F.col("corrects").isNotNull()).select(
        F.col("corrects").cast("string").alias("corrected")
    )
    superseded = named.join(originals.select("corrected"), on="corrected", how="inner")
    if "causation_id" in events.columns:
        rerecorded = (
            events.where(F.col("causation_id").isNotNull())
            .join(originals, F.col("causation_id") == F.col("corrected"), how="inner")
            .where(
                (F.col("original_case") == F.col("case_id"))
                & (F.col("original_activity") == F.col("activity"))
                & (F.col("original_timestamp") == F.col("timestamp"))
            )
            .select("corrected")
        )
        superseded = superseded.unionByName(rerecorded)
    return events.join(
        superseded.distinct(), F.col("event_id") == F.col("corrected"), how="left_anti"
    )


def state_at(
    events: DataFrame,
    at: datetime,
    *,
    completed: Iterable[str] | None = None,
    schema: pl.Schema | None = None,
) -> pl.DataFrame:
    """`workbench.timetravel.state_at` on Spark: one row per case started by ``at``, with
    its status, last activity and resource, events, elapsed and idle time, rework and every
    attribute at its latest value by then. An event superseded by a correction that
    happened by ``at`` does not count, as in `workbench.timetravel.state_at`."""
    from pyspark.sql import functions as F

    from workbench.events import VOCABULARY
    from workbench.timetravel import finish

    if "corrects" in events.columns:
        happened = events.where(F.col("timestamp") <= F.lit(as_utc(at)))
        later = events.where(F.col("timestamp") > F.lit(as_utc(at)))
        events = _without_superseded(happened).unionByName(later)
    rule = sorted(completed) if completed is not None else completing_activities(events)
    happened = events.where(F.col("timestamp") <= F.lit(as_utc(at)))
    attributes = [name for name in events.columns if name not in VOCABULARY]
    occurrence = _occurrence(happened)
    resource = F.col("resource") if "resource" in events.columns else F.lit(None).cast("string")
    # The fold of `workbench.timetravel.fold`, on Spark; `timetravel.finish` does the rest.
    folded = happened.groupBy("case_id").agg(
        F.min("timestamp").alias("start"),
        F.max_by("timestamp", _order()).alias("last_timestamp"),
        F.max_by("position", _order()).alias("last_position"),
        F.max_by("activity", _order()).alias("last_activity"),
        F.max_by(resource, _order()).alias("last_resource"),
        F.count(F.lit(1)).alias("events"),
        F.sum(F.when(occurrence, 1).otherwise(0)).alias("occurrences"),
        F.array_sort(F.collect_set(F.when(occurrence, F.col("activity")))).alias("seen"),
        *(
            F.max_by(F.col(name), F.when(F.col(name).isNotNull(), _order())).alias(name)
            for name in attributes
        ),
    )
    frame = _polars(folded)
    if frame.is_empty():
        frame = pl.DataFrame(
            schema={
                "case_id": pl.String,
                "start": pl.Datetime("us", "UTC"),
                "last_timestamp": pl.Datetime("us", "UTC"),
                "last_position": pl.Int64,
                "last_activity": pl.String,
                "last_resource": pl.String,
                "events": pl.UInt32,
                "occurrences": pl.UInt32,
                "seen": pl.List(pl.String),
                **{name: pl.String() for name in attributes},
            }
        )
    frame = _counts(frame, ["events", "occurrences"]).with_columns(
        pl.col("case_id", "last_activity", "last_resource").cast(pl.String),
        pl.col("seen").cast(pl.List(pl.String)),
        *(
            pl.col(name).cast(schema[name])
            for name in attributes
            if schema is not None and name in schema
        ),
    )
    return finish(frame.lazy(), as_utc(at), completed=rule).collect()


# ------------------------------------------------------------------ the query language


def spark_dialect() -> type:
    """Spark's SQL as sqlglot writes it, with DuckDB's meanings kept where sqlglot would
    write a Spark function that means something else: the day of the week (DuckDB counts
    from Sunday = 0, ISO from Monday = 1; Spark's ``DAYOFWEEK`` from Sunday = 1, its
    ``WEEKDAY`` from Monday = 0), seconds since the epoch with their fraction, and
    ``quantile_cont(x, q)`` (Spark's ``PERCENTILE``, the same interpolation)."""
    from sqlglot import exp
    from sqlglot.dialects.spark import Spark

    def sunday0(value: str) -> str:
        return f"(DAYOFWEEK({value}) - 1)"

    def monday1(value: str) -> str:
        return f"(WEEKDAY({value}) + 1)"

    def seconds(value: str) -> str:
        return f"(UNIX_MICROS({value}) / 1e6)"

    parts = {  # as DuckDB writes them, and as sqlglot writes them back
        "dow": sunday0,
        "dayofweek": sunday0,
        "weekday": sunday0,
        "isodow": monday1,
        "dayofweekiso": monday1,
        "epoch": seconds,
    }

    def extract(generator: Any, node: exp.Extract) -> str:
        part = parts.get(node.this.name.lower())
        value = generator.sql(node, "expression")
        if part is None:
            return f"EXTRACT({generator.sql(node, 'this')} FROM {value})"
        return part(value)

    def anonymous(generator: Any, node: exp.Anonymous) -> str:
        name = str(node.this).lower()
        arguments = node.expressions
        if name == "weekday" and len(arguments) == 1:
            return sunday0(generator.sql(arguments[0]))
        if name in ("date_part", "datepart") and len(arguments) == 2:
            part = arguments[0]
            chosen = parts.get(part.name.lower()) if isinstance(part, exp.Literal) else None
            if chosen is not None:
                return chosen(generator.sql(arguments[1]))
        return str(generator.anonymous_sql(node))

    def percentile(generator: Any, node: exp.PercentileCont) -> str:
        if node.expression is None:
            return str(generator.function_fallback_sql(node))
        return f"PERCENTILE({generator.sql(node, 'this')}, {generator.sql(node, 'expression')})"

    class Kept(Spark):
        class Generator(Spark.Generator):  # type: ignore[misc, valid-type]
            TRANSFORMS = {  # noqa: RUF012 (as sqlglot declares it)
                **Spark.Generator.TRANSFORMS,
                exp.DayOfWeek: lambda g, n: sunday0(g.sql(n, "this")),
                exp.DayOfWeekIso: lambda g, n: monday1(g.sql(n, "this")),
                exp.TimeToUnix: lambda g, n: seconds(g.sql(n, "this")),
                exp.Extract: extract,
                exp.Anonymous: anonymous,
                exp.PercentileCont: percentile,
            }

    return Kept


class SparkSQL:
    """Runs the query language's bound statements in Spark SQL (`workbench.query.Runner`):
    the statement, in DuckDB's dialect, translated by sqlglot; its tables registered as
    temporary views. What Spark SQL lacks is refused, naming the construct."""

    def __init__(self, master: str | None = None) -> None:
        self.master = master
        self.spark: Any = None

    def batches(self, sql: str, tables: dict[str, pl.DataFrame]) -> Any:
        import pyarrow as pa
        import sqlglot
        from sqlglot.errors import ErrorLevel, UnsupportedError

        from workbench.query import QueryError, dialect

        try:
            (translated,) = sqlglot.transpile(
                sql, read=dialect(), write=spark_dialect(), unsupported_level=ErrorLevel.RAISE
            )
        except UnsupportedError as error:
            raise QueryError(f"Spark SQL lacks what the query uses: {error}") from None
        self.spark = session(self.master)
        # PySpark logs a failed statement's whole Java stack; the user gets one line.
        logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
        # DuckDB's answers: a list index out of range is NULL, not an error (Spark's ANSI).
        ansi = self.spark.conf.get("spark.sql.ansi.enabled")
        self.spark.conf.set("spark.sql.ansi.enabled", "false")
        try:
            for name, frame in tables.items():
                wide = frame.with_columns(  # Spark has no unsigned integers
                    pl.col(n).cast(pl.Int64)
                    for n, t in frame.schema.items()
                    if t in (pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64)
                )
                self.spark.createDataFrame(wide.to_arrow()).createOrReplaceTempView(name)
            found = self.spark.sql(translated).toArrow()
        except Exception as error:  # Spark's analysis and execution errors, one line each
            first = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
            raise QueryError(f"Spark SQL: {first}") from None
        finally:
            self.spark.conf.set("spark.sql.ansi.enabled", ansi)
            for name in tables:
                self.spark.catalog.dropTempView(name)
        return pa.RecordBatchReader.from_batches(found.schema, found.to_batches())

    def stop(self) -> None:
        if self.spark is not None:
            self.spark.sparkContext.cancelAllJobs()
