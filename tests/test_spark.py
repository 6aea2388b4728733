"""The Spark engine gives the Polars projections' numbers: on generated logs with ties, late
events and unicode names (with and without filters), on the real logs through the CLI, and
it says in one line when it cannot run.

Spark runs in ``local[2]`` with few shuffle partitions and the UI off; one session serves
the whole module (starting the JVM takes seconds)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from ingest.jobs import ingest
from tests.conftest import real_log
from workbench import Event, EventStore, projections, timetravel
from workbench.calendars import Calendar
from workbench.cli import app
from workbench.filters import Attribute, Contains, Filters, Lifecycle, TimeRange

pytest.importorskip("pyspark", reason="the Spark extra is not installed")

from workbench.engines import spark

START = datetime(2024, 3, 1, tzinfo=UTC)
OFFICE = Calendar.parse(
    "office",
    ["mon-fri 08:00-12:00", "mon-fri 13:00-17:00", "sat 10:00-12:00"],
    timezone="Europe/Amsterdam",
    holidays=["2024-02-29"],
)
NAMES = ("Prüfung", "審査", "a", "b", "ünd [x]", "Zahlung")


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> object:
    import os

    os.environ["WORKBENCH_SPARK_PARTITIONS"] = "2"
    spark.CONFIG["spark.sql.shuffle.partitions"] = "2"
    return spark.session("local[2]")


def _compare(
    events: pl.LazyFrame, on_spark: object, schema: pl.Schema, what: str, *, every: bool = True
) -> None:
    """Spark's projections equal Polars', on the events as read and as a command keeps
    them (`spark.prepared`, with the per-case rows computed once); with ``every`` False,
    the dashboard set only."""
    ordered = projections.ordered(events).collect().lazy()
    kept = spark.prepared(on_spark)  # type: ignore[arg-type]
    rows = spark.persisted(spark.per_case(kept))
    per_case = {"start_activities", "end_activities", "variants"}
    pairs = {
        "directly_follows": (spark.directly_follows, projections.directly_follows),
        "variants": (spark.variants, projections.variants),
    }
    if every:
        pairs |= {
            "start_activities": (spark.start_activities, projections.start_activities),
            "end_activities": (spark.end_activities, projections.end_activities),
            "activities": (spark.activities, projections.activities),
        }
    if every:  # and in working time: a holiday, lunch breaks and a Saturday morning
        pairs["directly_follows in working time"] = (
            lambda events, **kept: spark.directly_follows(events, calendar=OFFICE),
            lambda events: projections.directly_follows(events, calendar=OFFICE),
        )
        pairs["activities in working time"] = (
            lambda events, **kept: spark.activities(events, calendar=OFFICE),
            lambda events: projections.activities(events, calendar=OFFICE),
        )
    for name, (ours, theirs) in pairs.items():
        expected = theirs(ordered).collect()  # type: ignore[operator]
        _same(ours(on_spark), expected, f"{name} {what}")  # type: ignore[operator]
        found = ours(kept, rows=rows) if name in per_case else ours(kept)  # type: ignore[operator]
        _same(found, expected, f"{name} {what}, kept")
    expected = projections.cases(ordered).collect()
    _same(spark.cases(on_spark, schema), expected, f"cases {what}")  # type: ignore[arg-type]
    _same(spark.cases(kept, schema, rows=rows), expected, f"cases {what}, kept")
    spark.release(rows, kept)
    for period in ("1d", "1w", "1mo") if every else ():
        _same(
            spark.throughput(on_spark, every=period),  # type: ignore[arg-type]
            projections.throughput(ordered, every=period).collect(),
            f"throughput {period} {what}",
        )


def _same(ours: pl.DataFrame, theirs: pl.DataFrame, what: str) -> None:
    try:
        assert_frame_equal(ours, theirs)
    except AssertionError as error:
        raise AssertionError(f"{what}: {error}") from None


# ------------------------------------------------------------------ generated logs

_event = st.tuples(
    st.integers(0, 7),  # case
    st.sampled_from(NAMES),  # activity
    st.integers(0, 40),  # hour: few values, many ties
    st.sampled_from(["complete", "start", None]),  # lifecycle
    st.sampled_from(["north", "süd", None]),  # an attribute
)


@settings(
    max_examples=6,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # shrinking Spark runs takes minutes
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(first=st.lists(_event, min_size=1, max_size=40), late=st.lists(_event, max_size=10))
def test_every_projection_on_spark_equals_polars(engine, tmp_path_factory, first, late) -> None:
    folder = tmp_path_factory.mktemp("generated")
    with EventStore(folder / "s.db") as store:
        store.import_frame("log", _frame(first))
        for case, activity, hour, lifecycle, region in late:  # late: earlier than stored
            event = Event(activity, START - timedelta(hours=hour), lifecycle=lifecycle)
            store.append("log", f"case {case} ✓", [event])
            del region
        schema = store.schema("log")
        on_spark = spark.read_log(engine, store, "log")  # type: ignore[arg-type]
        _compare(store.scan("log"), on_spark, schema, "whole log")
        for at in (START + timedelta(hours=12), START + timedelta(hours=41)):
            _same(
                spark.state_at(on_spark, at, schema=schema),  # type: ignore[arg-type]
                timetravel.state_at(store.scan("log"), at).collect(),
                f"state at {at}",
            )
        cut = store.head("log") - len(late)
        _compare(
            store.scan("log", known_at=cut),
            spark.read_log(engine, store, "log", known_at=cut),  # type: ignore[arg-type]
            schema,
            f"known at {cut}",
        )
        chosen = Filters(
            (
                TimeRange(START + timedelta(hours=5), START + timedelta(hours=30)),
                Contains((NAMES[0],)),
            )
        )
        _compare(
            chosen.apply(store.scan("log")),
            spark.filtered(on_spark, chosen),
            schema,
            "filtered by time and activity",
            every=False,
        )
        for item in (
            Attribute("region", ("süd",)),
            Attribute("region", ("north",), level="event", keep=False),
            Lifecycle(("COMPLETE",)),
            TimeRange(START, START + timedelta(hours=20), mode="trim"),
        ):
            _compare(
                Filters((item,)).apply(store.scan("log")),
                spark.filtered(on_spark, Filters((item,))),
                schema,
                item.describe(),
                every=False,
            )


def _frame(rows: list[tuple[int, str, int, str | None, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "case_id": [f"case {case} ✓" for case, *_ in rows],
            "activity": [activity for _, activity, *_ in rows],
            "timestamp": [START + timedelta(hours=hour) for _, _, hour, *_ in rows],
            "lifecycle": [lifecycle for *_, lifecycle, _ in rows],
            "region": [region for *_, region in rows],
        },
        schema_overrides={"lifecycle": pl.String, "region": pl.String},
    )


def test_kept_events_are_grouped_by_case_without_another_shuffle(engine, capsys) -> None:
    """After `spark.prepared`, per-case windows and groupings read the kept partitions as
    they are: the plan's one exchange is the one that partitioned them by case."""
    events = engine.createDataFrame(  # type: ignore[attr-defined]
        [("c1", "a", START, 1), ("c1", "b", START, 2), ("c2", "a", START, 3)],
        "case_id string, activity string, timestamp timestamp, position long",
    )
    kept = spark.prepared(events)
    for found in (spark.per_case(kept), kept.groupBy("case_id").count()):
        found.explain()
        plan = capsys.readouterr().out
        assert plan.count("Exchange") == 1, plan
        assert "REPARTITION_BY_NUM" in plan, plan
    assert len(spark.directly_follows(kept)) == 1
    spark.release(kept)


def test_state_with_corrections_on_spark_equals_polars(engine, tmp_path) -> None:
    with EventStore(tmp_path / "s.db") as store:
        first = pl.DataFrame(
            {
                "case_id": ["c1", "c1", "c2", "c2", "c3"],
                "activity": ["a", "b", "a", "Zahlung", "a"],
                "timestamp": [START + timedelta(hours=h) for h in (0, 2, 1, 5, 3)],
                "event_id": ["e1", "e2", "e3", "e4", "e5"],
                "amount": [5, 8, 1, 2, 3],
                "corrects": pl.Series([None] * 5, dtype=pl.String),
            }
        )
        store.import_frame("log", first)
        later = pl.DataFrame(
            {
                "case_id": ["c1", "c2", "c3", "c3"],
                "activity": ["b", "Zahlung", "b", "a"],
                # e2 corrected before the moments below, e4 after some, a correction of
                # an event that is not there, and e5 recorded again (caused by it).
                "timestamp": [START + timedelta(hours=h) for h in (2, 9, 4, 3)],
                "event_id": ["e2-fixed", "e4-fixed", "x", "e5-again"],
                "amount": [9, 4, 7, 6],
                "corrects": ["e2", "e4", "nowhere", None],
                "causation_id": [None, None, None, "e5"],
            }
        )
        store.import_frame("log", later)
        schema = store.schema("log")
        on_spark = spark.read_log(engine, store, "log")  # type: ignore[arg-type]
        for hours in (1, 3, 6, 12):
            at = START + timedelta(hours=hours)
            _same(
                spark.state_at(on_spark, at, schema=schema),  # type: ignore[arg-type]
                timetravel.state_at(store.scan("log"), at).collect(),
                f"state at {hours} h",
            )


# ------------------------------------------------------------------ real logs, by the CLI


@pytest.fixture(scope="module")
def real_store(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("real") / "real.db"
    with EventStore(db) as store:
        for name, log in (
            ("running-example.xes", "running"),
            ("receipt.csv", "receipt"),
            ("sepsis.xes.gz", "sepsis"),
            ("bpic2012.xes.gz", "bpic2012"),
            ("interval_event_log.xes", "intervals"),
        ):
            ingest(store, real_log(name), log=log)
    office = ("--hours", "mon-fri 08:30-12:00", "--hours", "mon-fri 13:00-17:30")
    _cli(
        db,
        "calendar",
        "add",
        "office",
        *office,
        "--country",
        "NL",
        "--timezone",
        "Europe/Amsterdam",
    )
    return db


def _cli(db: Path, *args: str) -> str:
    result = CliRunner().invoke(app, ["--db", str(db), *args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("log", ["running", "receipt", "sepsis", "bpic2012", "intervals"])
def test_stats_and_dfg_on_spark_equal_the_default_engine(engine, real_store, log) -> None:
    for command in (
        ["stats", log, "--json", "--top", "20"],
        ["dfg", log, "--json"],
        ["activities", log, "--json"],
        ["activities", log, "--json", "--calendar", "office"],
        ["dfg", log, "--json", "--calendar", "office"],
        ["stats", log, "--json", "--calendar", "office"],
    ):
        polars_output = json.loads(_cli(real_store, *command))
        spark_output = json.loads(_cli(real_store, *command, "--engine", "spark"))
        assert spark_output == polars_output, command
    with EventStore(real_store) as store:
        stamps = store.scan(log).select("timestamp").collect()["timestamp"].sort()
    at = stamps[stamps.len() // 2].isoformat()
    state = ["state", log, "--at", at, "--format", "json"]
    assert json.loads(_cli(real_store, *state, "--engine", "spark")) == json.loads(
        _cli(real_store, *state)
    )
    detail = ["dfg", log, "--json", "--detail", "80", "--paths", "60", "--lifecycle", "complete"]
    assert json.loads(_cli(real_store, *detail, "--engine", "spark")) == json.loads(
        _cli(real_store, *detail)
    )


def test_calendars_by_an_attribute_on_spark_equal_polars(engine, tmp_path) -> None:
    """Each wait in the calendar of its case's value at its end (`Assigned`): sepsis by its
    events' groups, which change within a case, and the running example by resource over
    a default calendar."""
    db = tmp_path / "assigned.db"
    with EventStore(db) as store:
        ingest(store, real_log("sepsis.xes.gz"), log="sepsis")
        ingest(store, real_log("running-example.xes"), log="running")
    _cli(db, "calendar", "add", "office", "--hours", "mon-fri 08:30-17:30", "--country", "NL")
    _cli(
        db, "calendar", "add", "early", "--hours", "mon-sat 06:00-12:00", "--timezone", "Asia/Tokyo"
    )
    for log, default, key, values in (
        ("sepsis", None, "org:group", ("A,B,C", "E,F")),
        ("running", "office", "resource", ("Pete,Mike", "Sara")),
    ):
        if default is not None:
            _cli(db, "calendar", "assign", default, "--log", log)
        for name, chosen in zip(("office", "early"), values, strict=True):
            _cli(db, "calendar", "assign", name, "--log", log, "--attribute", f"{key}={chosen}")
        for command in (
            ["activities", log, "--json"],
            ["dfg", log, "--json"],
            ["stats", log, "--json"],
        ):
            polars_output = json.loads(_cli(db, *command))
            spark_output = json.loads(_cli(db, *command, "--engine", "spark"))
            assert spark_output == polars_output, command
        assert json.loads(_cli(db, "stats", log, "--json"))["calendar"] == "assigned"


#: Queries of the corpus that Spark SQL cannot answer: each refused in one line, naming it.
SPARK_LACKS = {"SELECT len(variant) AS k": "length(variant)"}


def test_the_query_language_on_spark_equals_duckdb(engine, real_store) -> None:
    """The corpus gives the same rows in Spark SQL as in DuckDB and as Polars computes
    them from the stored events; what Spark SQL lacks is refused in one line, naming it."""
    from tests.query_corpus import CORPUS, same
    from workbench.application import Workbench
    from workbench.query import QueryError

    with EventStore(real_store) as store:
        events = store.scan("receipt").collect()
    lacking = []
    with Workbench(real_store) as duck, Workbench(real_store, engine="spark") as spark:
        for sql, compute in CORPUS:
            expected = duck.query(sql, log="receipt").frame.rows()
            assert same(expected, compute(events)), sql
            lacks = next(
                (words for start, words in SPARK_LACKS.items() if sql.startswith(start)), None
            )
            if lacks is not None:
                with pytest.raises(QueryError, match="Spark SQL") as refused:
                    spark.query(sql, log="receipt", timeout=300)
                assert len(str(refused.value).splitlines()) == 1
                assert lacks in str(refused.value)
                lacking.append(sql)
                continue
            assert same(spark.query(sql, log="receipt", timeout=300).frame.rows(), expected), sql
    assert len(lacking) == len(SPARK_LACKS)
    refused = CliRunner().invoke(
        app,
        ["--db", str(real_store), "query", "SELECT histogram(activity) FROM events",
         "--log", "running", "--engine", "spark"],
    )  # fmt: skip
    assert refused.exit_code == 2
    lines = refused.output.strip().splitlines()
    assert len(lines) == 1
    assert "HISTOGRAM" in lines[0]


# ------------------------------------------------------------------ a real cluster


def _free_ports(count: int) -> list[int]:
    """``count`` ports free now, all different: each probe stays bound until all are
    chosen (one probe after another may be given the same port twice)."""
    import socket

    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()


@pytest.fixture
def cluster(tmp_path) -> Iterator[tuple[str, str]]:
    """A Spark standalone cluster of its own, a master and a worker started with
    ``spark-class`` (their logs and work in the test's folder), stopped afterwards: its
    ``spark://`` URL and the URL of the master's status in JSON."""
    import os
    import signal
    import subprocess
    import time
    import urllib.request

    import pyspark

    home = Path(pyspark.__file__).parent
    port, master_ui, worker_ui = _free_ports(3)
    url, status = f"spark://127.0.0.1:{port}", f"http://127.0.0.1:{master_ui}/json/"
    environment = {
        **os.environ,
        "SPARK_HOME": str(home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOG_DIR": str(tmp_path / "logs"),
        "SPARK_WORKER_DIR": str(tmp_path / "work"),
    }
    daemons = "org.apache.spark.deploy"
    commands = [
        [f"{daemons}.master.Master", "--host", "127.0.0.1", "--port", str(port),
         "--webui-port", str(master_ui)],
        [f"{daemons}.worker.Worker", url, "--host", "127.0.0.1", "--cores", "2",
         "--memory", "2g", "--work-dir", str(tmp_path / "work"),
         "--webui-port", str(worker_ui)],
    ]  # fmt: skip
    started = []
    try:
        for index, command in enumerate(commands):
            with (tmp_path / f"daemon-{index}.log").open("wb") as log:
                started.append(
                    subprocess.Popen(
                        [str(home / "bin" / "spark-class"), *command],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env=environment,
                        cwd=tmp_path,
                        process_group=0,
                    )
                )
        deadline = time.monotonic() + 120
        while True:  # until the master counts the worker alive
            try:
                with urllib.request.urlopen(status) as answer:
                    if json.loads(answer.read()).get("aliveworkers", 0) >= 1:
                        break
            except (OSError, ValueError):  # not listening yet, or its HTML while it starts
                pass
            if time.monotonic() > deadline:
                logs = [path.read_text()[-2000:] for path in sorted(tmp_path.glob("*.log"))]
                pytest.fail(f"the cluster did not start: {logs}")
            time.sleep(0.5)
        yield url, status
    finally:
        for process in started:
            os.killpg(process.pid, signal.SIGTERM)
        for process in started:
            process.wait(timeout=60)


def test_a_standalone_cluster_gives_the_answers_of_polars(cluster, real_store) -> None:
    """The commands on a real cluster (the executors in a worker's JVM read the segments)
    print what the default engine prints."""
    import subprocess
    import sys
    import urllib.request

    def run(*args: str) -> object:
        ran = subprocess.run(
            [sys.executable, "-m", "workbench", "--db", str(real_store), *args],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert ran.returncode == 0, ran.stderr
        return json.loads(ran.stdout)

    url, status = cluster
    commands = [
        ["stats", "sepsis", "--json", "--top", "20"],
        ["dfg", "receipt", "--json"],
        ["state", "running", "--at", "2011-01-05T12:00:00+00:00", "--format", "json"],
    ]
    for command in commands:
        assert run(*command, "--engine", "spark", "--spark-master", url) == run(*command)
    with urllib.request.urlopen(status) as answer:  # each command ran on the cluster
        assert len(json.loads(answer.read())["completedapps"]) == len(commands)


# ------------------------------------------------------------------ when Spark cannot run


def test_without_java_the_engine_says_so_in_one_line(monkeypatch, real_store) -> None:
    monkeypatch.setattr(spark.shutil, "which", lambda name: None)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(spark.SparkUnavailable, match="needs Java"):
        spark.session("local[1]")
    result = CliRunner().invoke(
        app, ["--db", str(real_store), "stats", "running", "--engine", "spark"]
    )
    assert result.exit_code == 2
    assert "needs Java" in result.output
    assert "Traceback" not in result.output


def test_an_unknown_engine_is_refused(real_store) -> None:
    result = CliRunner().invoke(app, ["--db", str(real_store), "dfg", "running", "--engine", "x"])
    assert result.exit_code == 2
    assert "choose polars or spark" in result.output


# ------------------------------------------------------------------ a dataset for a cluster


def test_a_dataset_partitioned_by_month_gives_spark_the_same_answers(
    engine, real_store, tmp_path
) -> None:
    dataset = tmp_path / "receipt"
    output = _cli(
        real_store,
        "export",
        "receipt",
        "--format",
        "parquet",
        "--output",
        str(dataset),
        "--partition-by",
        "month",
    )
    assert "folder per month" in " ".join(output.split())
    months = sorted(path.name for path in dataset.iterdir())
    assert len(months) > 3
    assert all(name.startswith("month=20") for name in months)
    on_spark = spark.read_parquet(engine, str(dataset), partition="month")  # type: ignore[arg-type]
    with EventStore(real_store) as store:
        events = projections.ordered(store.scan("receipt")).collect().lazy()
    _same(spark.directly_follows(on_spark), projections.directly_follows(events).collect(), "dfg")
    _same(spark.variants(on_spark), projections.variants(events).collect(), "variants")
    refused = CliRunner().invoke(
        app,
        [
            "--db",
            str(real_store),
            "export",
            "receipt",
            "--format",
            "csv",
            "--output",
            str(tmp_path / "x"),
            "--partition-by",
            "month",
        ],
    )
    assert refused.exit_code == 2
    assert "give --format parquet" in refused.output


# ------------------------------------------------------------------ a PostgreSQL store by JDBC


def _kinds_frame(rows: int, offset: int = 0) -> pl.DataFrame:
    """Events with an attribute of every kind, ties and unicode."""
    from datetime import date, time

    return pl.DataFrame(
        {
            "case_id": [f"fall {(i + offset) % 5} ✓" for i in range(rows)],
            "activity": [NAMES[(i * 7) % len(NAMES)] for i in range(rows)],
            "timestamp": [START + timedelta(hours=(i * 5) % 11) for i in range(rows)],
            "resource": [None if i % 4 == 0 else f"r{i % 3}" for i in range(rows)],
            "amount": [i * 3 for i in range(rows)],
            "share": [None if i % 3 == 0 else i / 8 for i in range(rows)],
            "region": ["süd" if i % 2 else "北" for i in range(rows)],
            "urgent": [i % 5 == 0 for i in range(rows)],
            "due": [date(2024, 4, 1 + i % 20) for i in range(rows)],
            "waited": [timedelta(seconds=i * 61) for i in range(rows)],
            "opened": [time(i % 24, 30) for i in range(rows)],
            "promised": [START + timedelta(days=i % 9, microseconds=7) for i in range(rows)],
        }
    )


def test_a_postgresql_store_read_by_jdbc_equals_its_segments(engine, tmp_path) -> None:
    from tests.conftest import fresh_location
    from workbench.readmodel import ReadModel

    with fresh_location("postgres", tmp_path) as url, EventStore(url) as store:
        store.import_frame("log", _kinds_frame(60))
        # Widened kinds: an integer attribute that now has text, a date that has reals.
        later = _kinds_frame(12, offset=2).with_columns(
            pl.format("n{}", pl.col("amount")).alias("amount"),
            (pl.col("share") * 2).alias("due"),
        )
        store.import_frame("log", later)
        for hour in (3, 30):  # late events, and a tie with stored ones
            store.append("log", "fall 1 ✓", [Event("Zahlung", START + timedelta(hours=hour))])
        model = ReadModel(store, folder=tmp_path / "segments")
        schema = store.schema("log")
        cuts: list[dict[str, object]] = [
            {},
            {"known_at": store.head("log") - 1},
            {"as_of": START + timedelta(hours=6)},
        ]
        for cut in cuts:
            by_jdbc = spark.read_log(engine, store, "log", source="jdbc", **cut)  # type: ignore[arg-type]
            by_segments = spark.read_log(
                engine,  # type: ignore[arg-type]
                store,
                "log",
                source="segments",
                model=model,
                **cut,  # type: ignore[arg-type]
            )
            assert by_jdbc.schema.simpleString() == by_segments.schema.simpleString()
            _same(
                spark._polars(by_jdbc).sort("position"),
                spark._polars(by_segments).sort("position"),
                f"events {cut}",
            )
            _same(spark.directly_follows(by_jdbc), spark.directly_follows(by_segments), "dfg")
            _same(spark.variants(by_jdbc), spark.variants(by_segments), "variants")
            _same(spark.cases(by_jdbc, schema), spark.cases(by_segments, schema), "cases")
            ordered = projections.ordered(store.scan("log", **cut)).collect().lazy()  # type: ignore[arg-type]
            _same(spark.cases(by_jdbc, schema), projections.cases(ordered).collect(), "polars")
        at = START + timedelta(hours=5)
        _same(
            spark.state_at(spark.read_log(engine, store, "log", source="jdbc"), at, schema=schema),  # type: ignore[arg-type]
            timetravel.state_at(store.scan("log"), at).collect(),
            "state",
        )


def test_a_jdbc_read_in_partitions_sees_one_prefix_of_the_log(engine, tmp_path) -> None:
    from tests.conftest import fresh_location

    with fresh_location("postgres", tmp_path) as url, EventStore(url) as store:
        for part in range(4):
            moved = pl.col("timestamp") + timedelta(days=part)
            store.import_frame("log", _kinds_frame(25).with_columns(moved))
        source = store.sql_source("log")
        head = store.head("log")
        appended = _kinds_frame(30).with_columns(pl.col("timestamp") - timedelta(days=9))
        store.import_frame("log", appended)  # while Spark reads
        assert store.head("log") > head
        whole = spark._polars(spark.read_jdbc(engine, source, partitions=1))  # type: ignore[arg-type]
        parts = spark._polars(spark.read_jdbc(engine, source, partitions=3))  # type: ignore[arg-type]
        assert whole["position"].max() == head == source.last
        _same(parts.sort("position"), whole.sort("position"), "three partitions")
        assert whole.height == store.scan("log", known_at=head).collect().height == 100


def test_the_cli_reads_a_postgresql_store_by_jdbc(engine, tmp_path, monkeypatch) -> None:
    from tests.conftest import fresh_location

    monkeypatch.delenv("WORKBENCH_SEGMENTS", raising=False)
    with fresh_location("postgres", tmp_path) as url:
        with EventStore(url) as store:
            ingest(store, real_log("running-example.xes"), log="running")
        for command in (["stats", "running", "--json"], ["dfg", "running", "--json"]):
            polars_output = json.loads(_cli(url, *command))  # type: ignore[arg-type]
            spark_output = json.loads(_cli(url, *command, "--engine", "spark"))  # type: ignore[arg-type]
            assert spark_output == polars_output, command
        monkeypatch.setattr(spark, "DEBIAN_JDBC", str(tmp_path / "absent.jar"))
        monkeypatch.setenv("WORKBENCH_SPARK_SOURCE", "segments")
        refused = CliRunner().invoke(app, ["--db", url, "dfg", "running", "--engine", "spark"])
        assert refused.exit_code == 2
        assert "WORKBENCH_SEGMENTS" in refused.output
        assert "Traceback" not in refused.output
