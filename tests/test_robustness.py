"""What broke when real logs and hostile input met the first version (issue 11), each with a
regression test, and a fuzz suite over the importers so that the class cannot come back:
every outcome is a stored log that round-trips through export, rejects with reasons, or one
clear error; never another exception, never a half-written store."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from ingest.errors import IngestError
from ingest.jobs import ingest
from ingest.mapping import ROLES, ColumnMapping
from ingest.options import ParseOptions
from sample_data.generator import write
from tests.conftest import real_log
from workbench import EventStore
from workbench.cli import app
from workbench.events import VOCABULARY
from workbench.export import export

# ---------------------------------------------------------------- 1. column-name clashes


# Columns named like an optional role (resource, lifecycle, event_id, correlation_id,
# causation_id) are detected as that role; the others can only be attributes.
ATTRIBUTE_ONLY = sorted(set(VOCABULARY) - set(ROLES) | {"case_id", "activity", "timestamp"})


@pytest.mark.parametrize("name", ATTRIBUTE_ONLY)
def test_a_column_named_like_the_vocabulary_is_kept_as_source_name_11(
    store, tmp_path, name
) -> None:
    source = tmp_path / "clash.csv"
    source.write_text(
        f"concept:name,case:concept:name,time:timestamp,{name}\n"
        "a,c1,2024-01-01T10:00:00Z,first\nb,c1,2024-01-01T11:00:00Z,second\n",
        encoding="utf-8",
    )
    summary = ingest(
        store,
        source,
        log="clash",
        mapping=ColumnMapping(activity="concept:name", case_id="case:concept:name"),
    )
    assert summary.events_added == 2
    frame = store.read("clash")
    assert frame["activity"].to_list() == ["a", "b"]
    assert frame[f"source_{name}"].to_list() == ["first", "second"]


def test_an_xes_log_with_an_activity_attribute_imports_and_its_export_imports_back_11(
    store, tmp_path
) -> None:
    source = tmp_path / "clash.xes"
    source.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><log xes.version="1.0">'
        '<trace><string key="concept:name" value="c1"/>'
        '<event><string key="concept:name" value="Register"/>'
        '<string key="activity" value="REG-01"/><string key="case_id" value="x"/>'
        '<date key="time:timestamp" value="2024-01-01T10:00:00+01:00"/></event>'
        '<event><string key="concept:name" value="Approve"/>'
        '<string key="activity" value="APP-02"/>'
        '<date key="time:timestamp" value="2024-01-01T11:00:00+01:00"/></event>'
        "</trace></log>",
        encoding="utf-8",
    )
    assert ingest(store, source, log="xes").events_added == 2
    frame = store.read("xes")
    assert frame["activity"].to_list() == ["Register", "Approve"]
    assert frame["source_activity"].to_list() == ["REG-01", "APP-02"]
    for format in ("csv", "parquet"):
        target = tmp_path / f"back.{format}"
        export(store, "xes", store.scan("xes"), target, format=format)  # type: ignore[arg-type]
        assert ingest(store, target, log=f"back-{format}").events_added == 2
        again = store.read(f"back-{format}")
        assert again["activity"].to_list() == ["Register", "Approve"]
        assert again["source_activity"].to_list() == ["REG-01", "APP-02"]


def test_ten_thousand_columns_import_in_seconds_11(store, tmp_path) -> None:
    source = tmp_path / "wide.csv"
    header = ["case", "activity", "time", *[f"c{i}" for i in range(10_000)]]
    rows = [
        [f"k{r % 5}", f"a{r % 3}", f"2024-01-01 10:{r:02d}", *[str(r)] * 10_000] for r in range(20)
    ]
    source.write_text("\n".join(",".join(row) for row in [header, *rows]) + "\n")
    started = time.perf_counter()
    assert ingest(store, source, log="wide").events_added == 20
    frame = store.read("wide")
    assert frame.width == len(VOCABULARY) + 10_000
    assert sorted(frame["c9999"].to_list()) == list(range(20))
    assert time.perf_counter() - started < 120  # was two minutes, then a traceback


# ---------------------------------------------------------------- 4, 5, 7, 8: input


def test_json_nested_ten_thousand_deep_is_a_reject_11(store, tmp_path) -> None:
    deep = '{"x":' * 10_000 + "1" + "}" * 10_000
    source = tmp_path / "deep.jsonl"
    source.write_text(
        f'{{"case": "c1", "activity": "a", "time": "2024-01-01T00:00:00Z", "data": {deep}}}\n'
        '{"case": "c1", "activity": "b", "time": "2024-01-02T00:00:00Z"}\n'
    )
    summary = ingest(store, source, log="deep")
    assert (summary.events_added, summary.rejected) == (1, 1)
    (reject,) = store.ledger.rejects("deep").iter_rows(named=True)
    assert reject["line"] == 1
    assert "nested more than" in reject["reason"]


def test_a_log_without_times_keeps_the_order_of_its_file_11(store, tmp_path) -> None:
    source = tmp_path / "model-generated.csv"
    source.write_text("trace,step\nt1,a\nt2,a\nt1,c\nt1,b\nt2,c\n")
    with pytest.raises(IngestError, match="--no-times"):
        ingest(store, source, log="plain")
    options = ParseOptions(timed=False)
    mapping = ColumnMapping(case_id="trace", activity="step")
    assert ingest(store, source, log="plain", options=options, mapping=mapping).events_added == 5
    (summary,) = store.logs()
    assert not summary.timed
    from workbench.projections import variants

    found = variants(store.scan("plain")).collect()
    assert sorted(found["variant"].to_list()) == [["a", "c"], ["a", "c", "b"]]
    timed = tmp_path / "timed.csv"
    timed.write_text("trace,step,time\nt3,a,2024-01-01\n")
    with pytest.raises(IngestError, match="without times"):
        ingest(store, timed, log="plain")
    code, _, err = _cli(store.location, "stats", "plain")
    assert code == 0
    assert "has no times" in err


def _cli(db: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--db", db, *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_a_gzip_bomb_is_refused_within_bounded_memory_for_every_format_11(tmp_path) -> None:
    """1 MB of gzip that would be about a gigabyte: refused after the bound, and the
    process stays far below the size of what it would have decompressed."""
    chunk = b"<event/>" * 131_072  # 1 MiB of repetitive text
    for name, head in (
        ("bomb.xes.gz", b'<?xml version="1.0"?><log><trace>'),
        ("bomb.csv.gz", b"case,activity,time\n"),
        ("bomb.jsonl.gz", b'{"case":"c","activity":"a","time":"2024-01-01"}\n'),
    ):
        path = tmp_path / name
        with gzip.open(path, "wb", compresslevel=9) as handle:
            handle.write(head)
            for _ in range(1_024):  # 1 GiB when decompressed
                handle.write(chunk if name.startswith("bomb.xes") else b" " * len(chunk))
        assert path.stat().st_size < 4_000_000
        db = tmp_path / f"{name}.db"
        code = (
            "import sys\n"
            "from workbench.cli import app\n"
            f"sys.argv = ['workbench', '--db', {str(db)!r}, 'ingest', {str(path)!r}]\n"
            "try:\n    app()\n"
            "except SystemExit as done:\n"
            "    # VmHWM is this process's own peak (ru_maxrss would carry over the parent's).\n"
            "    status = open('/proc/self/status').read().split('VmHWM:')[1]\n"
            "    peak = int(status.split()[0]) // 1024\n"
            "    print(f'exit={done.code} peak={peak}', file=sys.stderr)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "WORKBENCH_MAX_EXPANSION": "100"},
        )
        assert "Traceback" not in done.stderr, done.stderr
        assert "exit=2" in done.stderr, done.stderr
        assert "decompression bomb" in done.stderr or "refused" in done.stderr, done.stderr
        peak = int(done.stderr.rsplit("peak=", 1)[1].split()[0])
        assert peak < 800, f"{name}: {peak} MB at peak ({done.stderr})"
        with EventStore(db) as store:
            assert sum(s.events for s in store.logs()) == 0


def test_csv_row_with_an_extra_field_is_refused_alone_and_named_11(store, tmp_path) -> None:
    source = tmp_path / "ragged.csv"
    source.write_text(
        "case,activity,time\nc1,a,2024-01-01\nc1,b,2024-01-02,extra\nc1,c,2024-01-03\n"
    )
    summary = ingest(store, source, log="ragged")
    assert (summary.events_added, summary.rejected) == (2, 1)
    (reject,) = store.ledger.rejects("ragged").iter_rows(named=True)
    assert reject["line"] == 3
    assert "4 fields where the header has 3" in reject["reason"]


def test_invalid_utf8_is_refused_by_row_never_replaced_11(store, tmp_path) -> None:
    source = tmp_path / "latin.csv"
    source.write_bytes(b"case,activity,time\nc1,caf\xe9,2024-01-01\nc1,tea,2024-01-02\n")
    summary = ingest(store, source, log="latin")
    assert (summary.events_added, summary.rejected) == (1, 1)
    (reject,) = store.ledger.rejects("latin").iter_rows(named=True)
    assert "not UTF-8 (e9)" in reject["reason"]
    assert "--encoding" in reject["reason"]
    assert "\ufffd" not in "".join(store.read("latin")["activity"].to_list())
    summary = ingest(store, source, log="latin-1", options=ParseOptions(encoding="latin-1"))
    assert summary.events_added == 2
    assert store.read("latin-1")["activity"].to_list() == ["café", "tea"]


def test_a_time_in_the_dst_gap_says_why_and_fixed_offsets_are_accepted_11(store, tmp_path) -> None:
    source = tmp_path / "spring.csv"
    source.write_text("case,activity,time\nc1,a,2024-03-31 02:30\nc1,b,2024-03-31 03:30\n")
    ingest(store, source, log="gap", options=ParseOptions(timezone="Europe/Amsterdam"))
    (reject,) = store.ledger.rejects("gap").iter_rows(named=True)
    assert "does not exist in Europe/Amsterdam" in reject["reason"]
    code, out, err = _cli(
        store.location, "ingest", str(source), "--log", "fixed", "--timezone", "+02:00", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["events_added"] == 2
    assert store.read("fixed")["timestamp"].to_list() == [
        datetime(2024, 3, 31, 0, 30, tzinfo=UTC),
        datetime(2024, 3, 31, 1, 30, tzinfo=UTC),
    ]


# ---------------------------------------------------------------- 4, 9, 10: CLI and jobs


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("text", "not a Workbench store"),
        ("folder", "is a folder"),
        ("missing folder", "does not exist"),
        ("sqlite", "not a Workbench store"),
    ],
)
def test_a_db_that_is_not_a_store_is_one_line_11(tmp_path, setup, expected) -> None:
    import sqlite3

    db = tmp_path / "x.db"
    if setup == "text":
        db.write_text("hello, I am not a database\n" * 100)
    elif setup == "folder":
        db.mkdir()
    elif setup == "missing folder":
        db = tmp_path / "nowhere" / "x.db"
    else:
        with sqlite3.connect(db) as other:
            other.execute("CREATE TABLE orders (id INTEGER)")
    code, _, err = _cli(str(db), "logs")
    assert code == 2
    assert err.startswith("error: store ")
    assert expected in err


def test_outputs_in_missing_folders_and_empty_conformance_are_one_line_11(tmp_path) -> None:
    db = str(tmp_path / "s.db")
    assert _cli(db, "demo")[0] == 0
    missing = tmp_path / "nowhere" / "x.csv"
    code, _, err = _cli(db, "export", "order-to-cash", "--format", "csv", "--output", str(missing))
    assert (code, "does not exist" in err) == (2, True)
    model = tmp_path / "m.pnml"
    assert _cli(db, "discover", "order-to-cash", "--output", str(model))[0] == 0
    code, out, _ = _cli(
        db, "conformance", "order-to-cash", "--model", str(model), "--activity", "no such thing"
    )
    assert code == 0
    assert "fitness n/a" in out
    code, _, err = _cli(db, "conformance", "order-to-cash", "--model", str(model), "--budget", "0")
    assert code == 2
    assert "positive" in err
    code, _, err = _cli(db, "stats", "order-to-cash", "--from", "2024-03-01", "--to", "2024-02-01")
    assert code == 2
    assert "before" in err


def test_a_killed_job_is_interrupted_and_a_partial_log_warns_11(tmp_path) -> None:
    db = tmp_path / "s.db"
    source = tmp_path / "orders.csv"
    write(source, events=60_000, seed=2)
    env = {**os.environ, "WORKBENCH_BATCH_ROWS": "2000"}
    command = [sys.executable, "-m", "workbench", "--db", str(db), "ingest", str(source)]
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    from tests.conftest import committed_rows

    while committed_rows(db) < 4_000 and child.poll() is None:
        time.sleep(0.01)
    child.kill()
    child.wait()
    code, out, err = _cli(str(db), "jobs", "--json")
    (job,) = json.loads(out)
    assert job["status"] == "interrupted"
    code, out, err = _cli(str(db), "logs")
    assert "ended after" in err
    code, out, _ = _cli(str(db), "logs", "--json")
    assert "import the file again" in json.loads(out)[0]["warning"]
    truncated = tmp_path / "broken.xes"
    truncated.write_text(real_log("running-example.xes").read_text()[:6_000])
    code, out, err = _cli(str(db), "ingest", str(truncated), "--log", "broken")
    assert code == 1
    code, out, _ = _cli(str(db), "logs", "--json")
    broken = next(entry for entry in json.loads(out) if entry["log"] == "broken")
    assert "stopped part-way" in broken["warning"]


def test_two_imports_of_one_file_at_once_get_a_job_each_11(tmp_path) -> None:
    db = tmp_path / "s.db"
    source = tmp_path / "orders.csv"
    rows = write(source, events=80_000, seed=4)
    env = {**os.environ, "WORKBENCH_BATCH_ROWS": "5000"}
    command = [sys.executable, "-m", "workbench", "--db", str(db), "ingest", str(source), "--json"]
    EventStore(db).close()
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    second = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    outcomes = [json.loads(process.communicate()[0]) for process in (first, second)]
    jobs = {outcome["job_id"] for outcome in outcomes}
    assert len(jobs) == 2 or any(o["status"] == "unchanged" for o in outcomes), outcomes
    with EventStore(db) as store:
        assert store.read("orders").height == rows
        added = sum(job.events_added for job in store.ledger.jobs())
    assert added == rows


def test_a_sql_projection_must_be_a_query_11(tmp_path) -> None:
    db = str(tmp_path / "s.db")
    _cli(db, "demo")
    for statement in ("DROP TABLE events", "SELECT 1; DROP TABLE events", "DELETE FROM events"):
        code, _, err = _cli(db, "projections", "add", "bad", statement)
        assert code == 2, statement
        assert "query" in err
    code, _, _ = _cli(
        db, "projections", "add", "ok", "WITH e AS (SELECT * FROM events) SELECT count(*) FROM e"
    )
    assert code == 0


# ---------------------------------------------------------------- the fuzz suite

NAMES = st.one_of(
    st.sampled_from(
        [
            *VOCABULARY,
            "concept:name",
            "case:concept:name",
            "time:timestamp",
            "org:resource",
            "lifecycle:transition",
            "Case ID",
            "Activity",
            "[bold]",
            "[/bold]",
            '"quoted"',
            "a,b",
            "ünïcødé",
            "*x*",
            "",
        ]
    ),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00\r\n"), max_size=12),
)
VALUES = st.one_of(
    st.none(),
    st.sampled_from(["[/bold]", "Check [manual]", "a,b", 'say "hi"', "", " ", "x" * 5000, "💥"]),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20),
    st.integers(-(2**40), 2**40).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.datetimes(datetime(1990, 1, 1), datetime(2030, 1, 1)).map(lambda d: d.isoformat()),
)


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[list[str | None]]]:
    extra = draw(st.lists(NAMES, max_size=5))
    header = ["case", "activity", "time", *extra]
    rows = []
    for index in range(draw(st.integers(1, 25))):
        row: list[str | None] = [
            draw(st.sampled_from(["c1", "c2", "Case [3]", "", "ç4"])),
            draw(st.sampled_from(["a", "Check [manual]", "*b*", "", "`c`"])),
            draw(
                st.sampled_from(
                    ["2024-01-01T10:00:00", "2024-01-02 11:00", "not a time", "", "2024-13-45"]
                )
            )
            if index % 7
            else f"2024-01-0{1 + index % 9}T08:00:00+02:00",
            *[draw(VALUES) for _ in extra],
        ]
        if draw(st.integers(0, 9)) == 0:  # ragged: a field too many or too few
            row = [*row, "extra"] if draw(st.booleans()) else row[:-1]
        rows.append(row)
    return header, rows


def _csv(header: list[str], rows: list[list[str | None]]) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([["" if value is None else value for value in row] for row in rows])
    return buffer.getvalue()


def _jsonl(header: list[str], rows: list[list[str | None]], depth: int) -> str:
    lines = []
    for row in rows:
        record: dict[str, object] = {}
        for name, value in zip(header, row, strict=False):
            nested: object = value
            for _ in range(depth if name not in ("case", "activity", "time") else 0):
                nested = {"n": nested}
            record[name] = nested
        lines.append(json.dumps(record, ensure_ascii=False))
    return "\n".join(lines) + "\n"


def _xes(header: list[str], rows: list[list[str | None]]) -> str:
    from xml.sax.saxutils import quoteattr

    traces: dict[str, list[str]] = {}
    for row in rows:
        case = row[0] or ""
        parts = []
        for name, value in zip(header, row, strict=False):
            if value is None or name == "case":
                continue
            key = {"activity": "concept:name", "time": "time:timestamp"}.get(name, name)
            kind = "date" if name == "time" else "string"
            parts.append(f"<{kind} key={quoteattr(key)} value={quoteattr(value)}/>")
        traces.setdefault(case, []).append(f"<event>{''.join(parts)}</event>")
    body = "".join(
        f'<trace><string key="concept:name" value={quoteattr(case)}/>{"".join(events)}</trace>'
        for case, events in traces.items()
    )
    return f'<?xml version="1.0" encoding="UTF-8"?><log xes.version="1.0">{body}</log>'


@settings(
    max_examples=int(os.environ.get("WORKBENCH_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(table=tables(), form=st.sampled_from(["csv", "jsonl", "xes"]), depth=st.integers(0, 80))
def test_fuzzed_importers_store_round_trip_or_refuse_cleanly_11(
    tmp_path_factory, table, form, depth
) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    header, rows = table
    source = folder / f"fuzz.{form}"
    text = {
        "csv": lambda: _csv(header, rows),
        "jsonl": lambda: _jsonl(header, rows, depth),
        "xes": lambda: _xes(header, rows),
    }[form]()
    source.write_text(text, encoding="utf-8")
    db = folder / "store.db"
    result = CliRunner().invoke(
        app, ["--db", str(db), "ingest", str(source), "--json", "--log", "f"]
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.output
    with EventStore(db) as store:
        if result.exit_code == 2:  # refused: one line, and nothing stored
            assert result.stderr.startswith("error: ")
            assert len(result.stderr.strip().splitlines()) == 1
            assert sum(s.events for s in store.logs()) == 0
            return
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        stored = store.read("f")
        assert stored.height == summary["events_added"]
        counted = summary["events_added"] + summary["duplicates"] + summary["rejected"]
        assert counted == summary["events_read"]
        assert store.ledger.rejects("f")["reason"].null_count() == 0
        for exported in ("parquet", "csv"):
            target = folder / f"back.{exported}"
            export(store, "f", store.scan("f"), target, format=exported)  # type: ignore[arg-type]
            again = f"back-{exported}"
            assert ingest(store, target, log=again).events_added == stored.height
            columns = ["event_id", "case_id", "activity", "timestamp"]
            assert_frame_equal(
                store.read(again).select(columns).sort("event_id"),
                stored.select(columns).sort("event_id"),
            )
            if exported == "parquet":  # Parquet keeps types: every attribute comes back
                attributes = [  # (an export leaves out what is empty throughout)
                    c
                    for c in stored.columns
                    if c not in VOCABULARY and stored[c].null_count() < stored.height
                ]
                back = store.read(again)
                assert_frame_equal(
                    back.select("event_id", *attributes).sort("event_id"),
                    stored.select("event_id", *attributes).sort("event_id"),
                    check_dtypes=False,
                )


@pytest.mark.slow
def test_ctrl_c_during_an_import_ends_cleanly_and_resumes_11(tmp_path) -> None:
    import signal

    from tests.conftest import committed_rows

    db = tmp_path / "s.db"
    source = tmp_path / "orders.csv"
    rows = write(source, events=400_000, seed=6)
    env = {**os.environ, "WORKBENCH_BATCH_ROWS": "2000"}
    command = [sys.executable, "-m", "workbench", "--db", str(db), "ingest", str(source)]
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    while committed_rows(db) < 20_000 and child.poll() is None:
        time.sleep(0.01)
    assert child.poll() is None, "the import finished before it could be interrupted"
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 130, err
    assert b"Traceback" not in err
    assert b"interrupted" in err
    with EventStore(db) as store:
        (job,) = store.ledger.jobs()
        assert job.status == "interrupted"
        assert store.read("orders").height == job.rows_committed
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    with EventStore(db) as store:
        assert store.read("orders").height == rows
        (job,) = store.ledger.jobs()
        assert (job.status, job.events_added) == ("completed", rows)


@pytest.mark.parametrize("format", ["csv", "xes", "parquet"])
def test_a_log_without_times_exports_without_them_and_comes_back_equal(
    store, tmp_path, format
) -> None:
    source = tmp_path / "plain.csv"
    source.write_text("trace,step,who\nt1,a,ann\nt2,a,bob\nt1,c,ann\nt1,b,cy\nt2,c,bob\n")
    options = ParseOptions(timed=False)
    ingest(store, source, log="plain", options=options, mapping=ColumnMapping("trace", "step"))
    target = tmp_path / f"plain.{format}"
    code, _, err = _cli(
        store.location, "export", "plain", "--format", format, "--output", str(target)
    )
    assert code == 0, err
    if format != "parquet":
        text = target.read_text()
        if format == "csv":
            assert text.splitlines()[0] == "event_id,case_id,activity,who"
        else:
            assert "time:timestamp" not in text
    again = ColumnMapping("case_id", "activity") if format != "xes" else None
    ingest(store, target, log="again", options=ParseOptions(timed=False), mapping=again)
    columns = ["case_id", "activity", "who"]

    def events(log: str) -> list[tuple[object, ...]]:
        frame = store.scan(log).sort("case_id", "position").collect()
        return frame.select(columns).rows()

    assert events("again") == events("plain")
    assert not next(s for s in store.logs() if s.log == "again").timed


def test_an_xes_without_times_names_the_flag_that_imports_it(store, tmp_path) -> None:
    source = tmp_path / "plain.xes"
    source.write_text(
        '<?xml version="1.0"?>\n<log><trace><string key="concept:name" value="c1"/>'
        '<event><string key="concept:name" value="a"/></event></trace></log>\n'
    )
    with pytest.raises(IngestError, match="imports with --no-times"):
        ingest(store, source, log="plain")
    assert ingest(store, source, log="plain", options=ParseOptions(timed=False)).events_added == 1
