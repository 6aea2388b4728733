"""The query language: read-only SQL over the logs with time travel, against the commands'
own figures, on both stores; and everything that must be refused, refused by name."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from tests.conftest import real_log
from workbench.application import Cut, Workbench
from workbench.cli import app
from workbench.query import QueryError, engine, parse


def _cli(db: Path | str, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--db", str(db), *args], input=stdin)
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    """The running example imported in two writes (so a position cuts between them)."""
    path = tmp_path_factory.mktemp("query") / "s.db"
    whole = pl.read_csv(real_log("running-example.csv"))
    first = tmp_path_factory.getbasetemp() / "first.csv"
    later = tmp_path_factory.getbasetemp() / "later.csv"
    whole.head(25).write_csv(first)
    whole.tail(whole.height - 25).write_csv(later)
    for part in (first, later):
        code, output = _cli(path, "ingest", str(part), "--log", "run")
        assert code == 0, output
    return path


def _query(db: Path, sql: str, *args: str) -> list[dict]:
    code, output = _cli(db, "query", sql, "--format", "json", *args)
    assert code == 0, output
    return json.loads(output)  # type: ignore[no-any-return]


REFUSED = [
    ("COPY events TO 'x.csv'", "COPY refused"),
    ("ATTACH 'other.db'", "refused"),
    ("INSTALL httpfs", "refused"),
    ("LOAD httpfs", "refused"),
    ("PRAGMA database_list", "refused"),
    ("SET threads = 1", "refused"),
    ("EXPORT DATABASE 'out'", "refused"),
    ("DROP TABLE events", "DROP refused"),
    ("DELETE FROM events", "DELETE refused"),
    ("INSERT INTO events VALUES (1)", "INSERT refused"),
    ("CREATE TABLE t AS SELECT 1", "CREATE refused"),
    ("SELECT 1; SELECT 2", "one statement only"),
    ("SELECT * FROM read_csv('/etc/passwd')", "read_csv() refused"),
    ("SELECT * FROM read_parquet('x.parquet')", "read_parquet() refused"),
    ("SELECT * FROM read_json_auto('x.json')", "read_json_auto() refused"),
    ("SELECT * FROM glob('*')", "glob() refused"),
    ("SELECT * FROM query('SELECT 1')", "query() refused"),
    ("SELECT length(read_text('x'))", "read_text() refused"),
    ("SELECT getenv('HOME')", "getenv() refused"),
    ("SELECT * INTO copy FROM events", "INTO refused"),
    ("SELECT * FROM nowhere", "no table 'nowhere'"),
    ("SELECT * FROM other.events", "no schema"),
    ("SELECT * FROM events FOR SYSTEM_TIME AS OF position", "constant"),
    ("SELECT * FROM events FOR VALID_TIME AS OF 12", "not a position"),
    ("SELECT * FROM events FOR SYSTEM_TIME BETWEEN 1 AND 2", "only AS OF"),
    ("SETTING DEFAULT SYSTEM_TIME AS OF 3", "must follow"),
    ("SELECT FROM WHERE", "does not parse"),
    ("SELECT " + "(" * 400 + "1" + ")" * 400, "nested too deeply"),
    ("", "give a SELECT"),
]


@pytest.mark.parametrize(("sql", "words"), REFUSED)
def test_everything_but_one_select_is_refused_by_name(db, sql, words) -> None:
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    code, output = _cli(db, "query", sql)
    assert code == 2, output
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("error: ")
    assert words in lines[0]
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before  # the store untouched


def test_the_engine_itself_reads_no_file_and_keeps_its_configuration() -> None:
    """Below the parser, the engine is locked: no files, no settings changed."""
    import duckdb

    connection = engine()
    connection.execute("SET lock_configuration = true")
    with pytest.raises(duckdb.PermissionException):
        connection.execute("SELECT * FROM read_csv('/etc/hostname')")
    with pytest.raises(duckdb.InvalidInputException, match="locked"):
        connection.execute("SET enable_external_access = true")
    with pytest.raises(duckdb.CatalogException):  # no Python variable is read by its name
        connection.execute("SELECT * FROM connection")


def test_the_tables_give_the_commands_figures(db) -> None:
    with Workbench(db) as bench:
        cases = bench.cases("run")
        events = bench.events("run").collect()
        pmap = bench.dfg("run")
        variants = bench.variants("run")
    rows = _query(db, "SELECT case_id, duration_seconds, events FROM cases ORDER BY case_id")
    expected = cases.sort("case_id")
    assert [r["case_id"] for r in rows] == expected["case_id"].to_list()
    assert [r["duration_seconds"] for r in rows] == [
        d.total_seconds() for d in expected["duration"].to_list()
    ]
    assert [r["events"] for r in rows] == expected["events"].to_list()
    counted = _query(db, "SELECT activity, count(*) AS n FROM events GROUP BY 1 ORDER BY 1")
    by_hand = events.group_by("activity").len().sort("activity")
    assert [(r["activity"], r["n"]) for r in counted] == list(by_hand.iter_rows())
    edges = _query(db, "SELECT source, target, frequency, mean_seconds FROM dfg")
    code, output = _cli(db, "dfg", "run", "--json")
    assert code == 0, output
    shown = {(e["source"], e["target"]): e for e in json.loads(output)["edges"]}
    assert len(edges) == pmap.edges.height == len(shown)
    for edge in edges:
        command = shown[(edge["source"], edge["target"])]
        assert (edge["frequency"], edge["mean_seconds"]) == (
            command["frequency"],
            command["mean_seconds"],
        )
    found = _query(db, "SELECT variant, cases FROM variants ORDER BY cases DESC, variant")
    assert sorted(tuple(r["variant"]) for r in found) == sorted(
        tuple(v) for v in variants["variant"].to_list()
    )
    (logs,) = _query(db, "SELECT log, cases, events, head FROM logs")
    assert logs == {"log": "run", "cases": 6, "events": 42, "head": 42}


def test_state_at_equals_the_state_command(db) -> None:
    at = "2011-01-05T12:00:00+00:00"
    rows = _query(
        db,
        f"SELECT case_id, status, last_activity, elapsed_seconds, idle_seconds"
        f" FROM state_at(TIMESTAMP '{at}') ORDER BY case_id",
    )
    code, output = _cli(db, "state", "run", "--at", at, "--format", "json")
    assert code == 0, output
    state = sorted(json.loads(output), key=lambda row: row["case_id"])
    assert [(r["case_id"], r["status"], r["last_activity"]) for r in rows] == [
        (s["case_id"], s["status"], s["last_activity"]) for s in state
    ]
    assert [r["elapsed_seconds"] for r in rows] == [s["elapsed"] for s in state]
    assert [r["idle_seconds"] for r in rows] == [s["idle"] for s in state]


def test_time_travel_per_table_reference_and_by_default(db) -> None:
    count = "SELECT count(*) AS n FROM events"
    assert _query(db, count) == [{"n": 42}]
    assert _query(db, count + " FOR SYSTEM_TIME AS OF 25") == [{"n": 25}]
    assert _query(db, count, "--known-at", "25") == [{"n": 25}]
    assert _query(db, "SETTING DEFAULT SYSTEM_TIME AS OF 25 " + count) == [{"n": 25}]
    # A reference's own clause wins over the query's cut.
    assert _query(db, count + " FOR SYSTEM_TIME AS OF 30", "--known-at", "25") == [{"n": 30}]
    as_of = "2011-01-01T00:00:00+00:00"
    with Workbench(db) as bench:
        happened = bench.events("run", Cut(as_of=datetime.fromisoformat(as_of))).collect()
    valid = _query(db, f"{count} FOR VALID_TIME AS OF TIMESTAMP '{as_of}'")
    assert valid == [{"n": happened.height}]
    assert _query(db, count, "--as-of", as_of) == valid
    # Two versions of one table in one query: what the second write added.
    added = _query(
        db,
        "SELECT count(*) AS n FROM events AS now WHERE now.position NOT IN"
        " (SELECT position FROM events FOR SYSTEM_TIME AS OF 25)",
    )
    assert added == [{"n": 17}]
    # The same cut as a time: when the first write was recorded.
    with Workbench(db) as bench:
        first = bench.known_moment("run", Cut(known_at=25))
    assert first is not None
    assert _query(
        db, f"{count} FOR SYSTEM_TIME AS OF TIMESTAMP '{first.astimezone(UTC).isoformat()}'"
    ) == [{"n": 25}]


def test_limit_labels_partial_rows_and_the_timeout_is_kept(db, tmp_path) -> None:
    code, output = _cli(db, "query", "SELECT * FROM range(10)", "--limit", "3", "--format", "json")
    assert code == 0
    assert json.loads(output[output.index("[") :]) == [{"range": 0}, {"range": 1}, {"range": 2}]
    assert "the first 3 of 10 rows (--limit)" in output
    heavy = "SELECT count(*) FROM range(1000000000) a, range(1000000000) b"
    code, output = _cli(db, "query", heavy, "--timeout", "1")
    assert code == 2
    assert "ran out of its 1 s (--timeout)" in output
    with Workbench(db) as bench, pytest.raises(QueryError, match="ran out"):
        bench.query(heavy, timeout=0.5)


def test_formats_and_python(db, tmp_path) -> None:
    code, output = _cli(db, "query", "SELECT case_id, variant FROM cases", "--format", "csv")
    assert code == 0, output
    csv = pl.read_csv(output.encode())
    assert csv.columns == ["case_id", "variant"]
    assert json.loads(csv["variant"][0])[0] == "register request"
    target = tmp_path / "out.parquet"
    code, output = _cli(
        db, "query", "SELECT * FROM events", "--format", "parquet", "--output", str(target)
    )
    assert code == 0, output
    assert pl.read_parquet(target).height == 42
    assert _cli(db, "query", "SELECT 1", "--format", "parquet")[0] == 2
    code, output = _cli(db, "query", "-", "--format", "json", stdin="SELECT 2 AS two")
    assert json.loads(output) == [{"two": 2}]
    code, output = _cli(db, "query", "SELECT * FROM events")
    assert code == 0
    assert "42 rows" in output
    with Workbench(db) as bench:
        answer = bench.query("SELECT count(DISTINCT case_id) AS n FROM events", log="run")
    assert answer.frame.to_dicts() == [{"n": 6}]
    assert answer.complete


def test_parse_keeps_to_one_select() -> None:
    statement, settings = parse(
        "SETTING DEFAULT SYSTEM_TIME AS OF 10, DEFAULT VALID_TIME AS OF TIMESTAMP '2024-01-01'"
        " WITH x AS (SELECT 1) SELECT * FROM x"
    )
    assert settings == {"SYSTEM_TIME": "10", "VALID_TIME": "TIMESTAMP '2024-01-01'"}
    assert statement.sql() == "WITH x AS (SELECT 1) SELECT * FROM x"


def test_every_store_answers_the_same(any_store) -> None:
    """SQLite or PostgreSQL: one dialect, one answer."""
    from ingest.jobs import ingest

    ingest(any_store, real_log("running-example.csv"), log="run")
    with Workbench(any_store.location) as bench:
        answer = bench.query(
            "SELECT activity, count(*) AS n, min(timestamp) AS first FROM events"
            " GROUP BY activity ORDER BY n DESC, activity"
        )
    events = any_store.scan("run").collect()
    expected = (
        events.group_by("activity")
        .agg(n=pl.len(), first=pl.col("timestamp").min())
        .sort(["n", "activity"], descending=[True, False])
    )
    assert answer.frame["activity"].to_list() == expected["activity"].to_list()
    assert answer.frame["n"].to_list() == expected["n"].to_list()
    assert answer.frame["first"].to_list() == expected["first"].to_list()


def test_the_corpus_equals_polars_on_every_store(any_store) -> None:
    """Each query of the corpus (`tests.query_corpus`: aggregates, windows over cases, joins
    of events and cases, the process map and variants, the cuts) gives the rows Polars
    computes from the events as the store holds them, on SQLite and on PostgreSQL."""
    from ingest.jobs import ingest
    from tests.query_corpus import CORPUS, same

    ingest(any_store, real_log("running-example.csv"), log="run")
    ingest(any_store, real_log("receipt.csv"), log="receipt")
    events = any_store.scan("receipt").collect()
    assert len(CORPUS) >= 30
    with Workbench(any_store.location) as bench:
        for sql, compute in CORPUS:
            found = bench.query(sql, log="receipt").frame.rows()
            assert same(found, compute(events)), sql


def test_the_query_page_shows_what_the_command_prints(db, monkeypatch) -> None:
    """The page's rows equal `workbench query --format json` for the same statement and
    cut; a refusal is one message; the statement is kept in the link."""
    from streamlit.testing.v1 import AppTest

    from tests.test_app import APP, close_app_store
    from workbench import EventStore, checkpoints

    sql = "SELECT case_id, events, duration_seconds FROM cases ORDER BY case_id"
    expected = _query(db, sql, "--log", "run")
    earlier = _query(db, sql, "--log", "run", "--known-at", "25")
    monkeypatch.setenv("WORKBENCH_DB", str(db))
    app = AppTest.from_file(APP, default_timeout=120)
    app.query_params["log"] = "run"
    app.query_params["sql"] = sql
    app.run()
    app.switch_page("views/query.py").run()
    try:
        assert not app.exception, [e.value for e in app.exception]
        assert app.text_area[0].value == sql
        shown = app.dataframe[0].value
        assert shown["case_id"].tolist() == [row["case_id"] for row in expected]
        assert shown["events"].tolist() == [row["events"] for row in expected]
        assert shown["duration_seconds"].tolist() == [row["duration_seconds"] for row in expected]
        known = next(box for box in app.selectbox if box.label == "As known")
        known.set_value(known.options[1]).run()  # after the first import: position 25
        shown = app.dataframe[0].value
        assert shown["events"].tolist() == [row["events"] for row in earlier]
        # Saved as a projection: kept by the store, and it answers as the query does.
        next(t for t in app.text_input if t.label == "Name").set_value("per_case").run()
        next(b for b in app.button if b.label == "Save").click().run()
        assert [m.value for m in app.success] == [
            "Saved per\\_case: the Projections page shows it."
        ]
        with EventStore(db) as store:
            assert checkpoints.refresh(store, "run", "per_case").to_dicts() == [
                {k: row[k] for k in ("case_id", "events", "duration_seconds")} for row in expected
            ]
            checkpoints.remove(store, "per_case")
        app.text_area[0].set_value("COPY events TO 'x.csv'").run()
        assert len(app.error) == 1
        assert app.error[0].value.startswith("COPY refused")
    finally:
        close_app_store()


def test_a_stored_projection_speaks_the_same_language(tmp_path) -> None:
    from workbench import EventStore, checkpoints

    db = tmp_path / "p.db"
    assert _cli(db, "ingest", str(real_log("running-example.csv")), "--log", "run")[0] == 0
    sql = "SELECT case_id, events FROM cases WHERE rework > 0 ORDER BY case_id"
    code, output = _cli(db, "projections", "add", "reworked", sql)
    assert code == 0, output
    with EventStore(db) as store:
        kept = checkpoints.refresh(store, "run", "reworked")
    assert kept.rows() == [(row["case_id"], row["events"]) for row in _query(db, sql)]
    code, output = _cli(db, "projections", "add", "copy", "COPY events TO 'x.csv'")
    assert code == 2
    assert "not COPY" in output or "COPY refused" in output
    code, output = _cli(db, "projections", "add", "then", "SELECT * FROM state_at(now())")
    assert code == 2
    assert "state_at() is not here" in output
    # A projection kept from before, in Polars' SQL, that this language does not run.
    with EventStore(db) as store:
        store.queries.define("old", "SELECT octet_length(activity) AS n FROM events")
        with pytest.raises(checkpoints.ProjectionError, match="define it again"):
            checkpoints.refresh(store, "run", "old")


def test_object_centric_logs_by_their_views_and_object_tables(tmp_path) -> None:
    """A view (LOG/TYPE) is a log like any other; the objects, their attributes over time
    and their links are tables of their own, equal to what the store keeps."""
    from workbench import EventStore

    db = tmp_path / "o.db"
    path = real_log("ocel_ocel20_example.jsonocel")
    assert _cli(db, "ingest", str(path), "--log", "p2p")[0] == 0
    with EventStore(db) as store:
        objects = store.objects("p2p")
        links = store.event_objects("p2p")
        attributes = store.object_attributes("p2p")
        invoice = store.scan("p2p/Invoice").collect()
    counted = _query(db, "SELECT object_type, count(*) AS n FROM objects GROUP BY 1 ORDER BY 1")
    by_hand = objects.group_by("object_type").len().sort("object_type")
    assert [(r["object_type"], r["n"]) for r in counted] == list(by_hand.iter_rows())
    touched = _query(
        db,
        "SELECT o.object_type, count(*) AS n FROM event_objects AS l"
        " JOIN objects AS o USING (log, object_id) GROUP BY 1 ORDER BY 1",
    )
    joined = links.join(objects, on="object_id").group_by("object_type").len().sort("object_type")
    assert [(r["object_type"], r["n"]) for r in touched] == list(joined.iter_rows())
    moment = attributes["changed_at"].sort()[attributes.height // 2]
    valid = _query(
        db,
        "SELECT count(*) AS n FROM object_attributes"
        f" FOR VALID_TIME AS OF TIMESTAMP '{moment.isoformat()}'",
    )
    assert valid == [{"n": attributes.filter(pl.col("changed_at") <= moment).height}]
    rows = _query(db, "SELECT count(*) AS n FROM events", "--log", "p2p/Invoice")
    assert rows == [{"n": invoice.height}]
    with EventStore(db) as store:
        related = store.object_objects("p2p").height
    found = _query(db, "SELECT count(*) AS n FROM object_objects", "--log", "p2p/Invoice")
    assert found == [{"n": related}]
    # A case log has no objects; without --log, the tables hold every log's.
    assert _cli(db, "ingest", str(real_log("running-example.csv")), "--log", "run")[0] == 0
    assert _query(db, "SELECT count(*) AS n FROM objects", "--log", "run") == [{"n": 0}]
    assert _query(db, "SELECT count(*) AS n FROM objects") == [{"n": objects.height}]
