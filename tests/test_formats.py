"""Every format through one importer signature: the contract, on the real logs, and bad input."""

from __future__ import annotations

import gzip
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ingest.errors import IngestError
from ingest.formats import plain_file as plain_xes
from ingest.jobs import READERS, ingest
from ingest.options import ParseOptions, Tuning
from sample_data.generator import write
from tests.conftest import committed_rows, real_log
from workbench import EventStore

AMSTERDAM = ParseOptions(timezone="Europe/Amsterdam")

CASE_LOGS = [
    ("bpic2012.xes.gz", "xes", 262_200, 13_087),
    ("sepsis.xes.gz", "xes", 15_214, 1_050),
    ("running-example.xes", "xes", 42, 6),
    ("running-example.csv", "csv", 42, 6),
    ("receipt.parquet", "parquet", 8_577, 1_434),
    ("receipt.csv", "csv", 8_577, 1_434),
    ("interval_event_log.xes", "xes", 8_109, 1_266),
    ("roadtraffic100traces.xes", "xes", 390, 100),
]
OBJECT_LOGS = [
    ("order-management.ocel2.sqlite", "ocel2-sqlite", 18_211, 10_031),
    ("recruiting.ocel1.jsonocel", "ocel1-json", 6_607, 1_051),
    ("ocel_ocel20_example.jsonocel", "ocel2-json", 13, 9),
    ("ocel_ocel20_example.xmlocel", "ocel2-xml", 13, 9),
    ("ocel_ocel20_example.sqlite", "ocel2-sqlite", 13, 9),
]


@pytest.mark.parametrize(("name", "kind", "events", "cases"), CASE_LOGS)
def test_contract_case_logs(any_store, name, kind, events, cases) -> None:
    summary = ingest(any_store, real_log(name), log="log")
    assert (summary.format, summary.events_added, summary.rejected) == (kind, events, 0)
    (log,) = any_store.logs()
    assert (log.events, log.cases) == (events, cases)
    frame = any_store.read("log")
    assert frame.schema["timestamp"] == pl.Datetime("us", "UTC")
    assert frame["event_id"].n_unique() == events
    assert ingest(any_store, real_log(name), log="log").status == "unchanged"


@pytest.mark.parametrize(("name", "kind", "events", "objects"), OBJECT_LOGS)
def test_contract_object_logs(any_store, name, kind, events, objects) -> None:
    summary = ingest(any_store, real_log(name), log="ocel", options=AMSTERDAM)
    assert (summary.format, summary.events_added) == (kind, events)
    log = any_store.logs()[0]
    assert (log.kind, log.events, sum(log.object_types.values())) == ("object", events, objects)
    assert any_store.objects("ocel").height == objects
    views = [summary for summary in any_store.logs() if summary.kind == "view"]
    assert {view.log for view in views} == {f"ocel/{kind}" for kind in log.object_types}
    for view in views:  # each view is computed from the links, not stored
        assert any_store.read(view.log).height == view.events


def test_the_three_ocel_example_files_give_identical_stores(tmp_path) -> None:
    tables = []
    for name in (
        "ocel_ocel20_example.jsonocel",
        "ocel_ocel20_example.xmlocel",
        "ocel_ocel20_example.sqlite",
    ):
        with EventStore(tmp_path / f"{name}.db") as store:
            ingest(store, real_log(name), log="p2p", options=AMSTERDAM)
            events = store.read("p2p").drop("position", "recorded_at", "revision")
            tables.append(
                (
                    events.select(sorted(events.columns)).sort("event_id"),
                    store.objects("p2p"),
                    store.object_attributes("p2p"),
                    store.event_objects("p2p"),
                    store.object_objects("p2p"),
                )
            )
    for other in tables[1:]:
        for mine, theirs in zip(tables[0], other, strict=True):
            assert_frame_equal(mine, theirs)
    events = tables[0][0]
    assert events.filter(pl.col("event_id") == "e1")["timestamp"].item() == datetime(
        2022, 1, 9, 14, tzinfo=UTC
    )


def test_xes_offsets_arrive_in_utc(store) -> None:
    ingest(store, real_log("running-example.xes"), log="xes")
    ingest(store, real_log("running-example.csv"), log="csv")
    first = store.read("xes").filter(pl.col("case_id") == "3").sort("timestamp").row(0, named=True)
    assert first["timestamp"] == datetime(2010, 12, 30, 13, 32, tzinfo=UTC)  # 14:32+01:00
    columns = ["case_id", "activity", "timestamp", "resource"]
    assert_frame_equal(
        store.read("xes").select(columns).sort(columns),
        store.read("csv").select(columns).sort(columns),
    )


def test_xes_keeps_lifecycle_and_typed_trace_attributes(store) -> None:
    ingest(store, real_log("bpic2012.xes.gz"), log="bpic")
    frame = store.read("bpic")
    assert set(frame["lifecycle"].unique()) == {"SCHEDULE", "START", "COMPLETE"}
    assert frame.schema["case:REG_DATE"] == pl.Datetime("us", "UTC")
    sepsis = ingest(store, real_log("sepsis.xes.gz"), log="sepsis")
    assert sepsis.events_added == 15_214
    assert store.schema("sepsis")["Age"] == pl.Int64
    assert store.schema("sepsis")["InfectionSuspected"] == pl.Boolean


def test_parquet_with_timezone_equals_the_csv_with_offsets(store) -> None:
    ingest(store, real_log("receipt.csv"), log="csv")
    ingest(store, real_log("receipt.parquet"), log="parquet", options=AMSTERDAM)
    columns = ["case_id", "activity", "timestamp", "resource"]
    assert_frame_equal(
        store.read("parquet").select(columns).sort(columns),
        store.read("csv").select(columns).sort(columns),
    )


def test_arrow_ipc(store, tmp_path) -> None:
    path = tmp_path / "receipt.arrow"
    pl.read_parquet(real_log("receipt.parquet")).write_ipc(path)
    summary = ingest(store, path)
    assert (summary.format, summary.events_added) == ("arrow", 8_577)


def test_cloudevents_map_to_the_vocabulary(store, tmp_path) -> None:
    path = tmp_path / "orders.jsonl"
    write(path, events=3_000, seed=5)
    summary = ingest(store, path)
    assert summary.format == "jsonl"
    frame = store.read("orders")
    assert frame.height == summary.events_added > 2_500
    assert frame["event_id"].str.ends_with("@/order-to-cash").all()
    caused = frame.filter(pl.col("causation_id").is_not_null())
    assert caused["causation_id"].is_in(frame["event_id"].implode()).all()
    assert frame["resource"].null_count() == 0
    assert frame.schema["amount"] == pl.Float64
    assert frame.schema["arrived_at"] == pl.Datetime("us", "UTC")
    assert ingest(store, path).status == "unchanged"


def test_plain_json_lines_use_the_csv_mapping(store, tmp_path) -> None:
    path = tmp_path / "plain.jsonl"
    path.write_text(
        '{"Case ID": "c1", "Activity": "a", "Timestamp": "2024-01-01 10:00", "n": 1}\n'
        '{"Case ID": "c1", "Activity": "b", "Timestamp": "2024-01-01 11:00", "n": 2,'
        ' "meta": {"ok": true}}\n'
    )
    ingest(store, path)
    frame = store.read("plain")
    assert frame["activity"].to_list() == ["a", "b"]
    assert frame.schema["n"] == pl.Int64
    assert frame["meta.ok"].to_list() == [None, True]


def test_content_decides_the_format_not_the_name(store, tmp_path) -> None:
    misleading = tmp_path / "export.csv"
    misleading.write_bytes(real_log("running-example.xes").read_bytes())
    summary = ingest(store, misleading)
    assert (summary.format, summary.events_added) == ("xes", 42)
    with pytest.raises(IngestError, match="no column separator"):
        ingest(store, misleading, log="forced", format="csv")


def test_every_format_has_a_reader() -> None:
    from ingest.formats import FORMATS

    assert set(FORMATS) == set(READERS)


# ---------------------------------------------------------------- bad input


_GLOBAL_NAME = '<string key="concept:name" value="name"/>'


def test_xes_global_defaults_apply_to_events(store, tmp_path) -> None:
    text = real_log("running-example.xes").read_text()
    text = text.replace('<string key="concept:name" value="decide"/>', "", 2)
    ingest(store, _xes(tmp_path, "defaults.xes", text))
    assert store.read("defaults")["activity"].value_counts().filter(pl.col("activity") == "name")[
        "count"
    ].to_list() == [2]


def _xes(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_truncated_gzip_xes_keeps_complete_traces(store, tmp_path) -> None:
    path = tmp_path / "sepsis.xes.gz"
    path.write_bytes(real_log("sepsis.xes.gz").read_bytes()[:100_000])
    summary = ingest(store, path)
    assert summary.status == "partial"
    assert "gzip data is corrupt or truncated in trace" in (summary.message or "")
    frame = store.read("sepsis")
    assert 0 < frame.height < 15_214
    assert frame["case_id"].n_unique() > 100


def test_corrupt_gzip_fails_clearly(store, tmp_path) -> None:
    path = tmp_path / "bad.xes.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00" + os.urandom(200))
    with pytest.raises(IngestError, match=r"bad\.xes\.gz: the gzip data is corrupt"):
        ingest(store, path)
    assert store.log_names() == []


def test_malformed_xml_names_the_line(store, tmp_path) -> None:
    text = real_log("running-example.xes").read_text().replace("</event>", "</evnt>", 1)
    with pytest.raises(IngestError, match=r"broken\.xes: line \d+: malformed XML"):
        ingest(store, _xes(tmp_path, "broken.xes", text))
    assert store.log_names() == []


def test_xes_without_concept_name(store, tmp_path) -> None:
    text = real_log("running-example.xes").read_text()
    lines = [
        line for line in text.splitlines() if 'key="concept:name"' not in line or "<trace" in line
    ]
    with pytest.raises(IngestError, match="no event has a concept:name"):
        ingest(store, _xes(tmp_path, "noname.xes", "\n".join(lines)))


def test_xes_events_without_concept_name_become_rejects(store, tmp_path) -> None:
    # without the log's global default, which XES gives events that lack the key
    text = real_log("running-example.xes").read_text().replace(_GLOBAL_NAME, "")
    text = text.replace('<string key="concept:name" value="decide"/>', "", 2)
    summary = ingest(store, _xes(tmp_path, "some.xes", text))
    assert (summary.events_added, summary.rejected) == (40, 2)
    rejects = store.ledger.rejects("some")
    assert rejects["place"].to_list() == ["trace 1, event 4", "trace 1, event 8"]
    assert set(rejects["field"]) == {"concept:name"}


def test_ocel_links_to_missing_objects_become_rejects(store, tmp_path) -> None:
    path = tmp_path / "p2p.sqlite"
    path.write_bytes(real_log("ocel_ocel20_example.sqlite").read_bytes())
    with sqlite3.connect(path) as connection:
        connection.execute(
            "INSERT INTO event_object VALUES ('e1', 'GHOST', 'haunts'), ('e2', 'PR1', 'x')"
        )
    summary = ingest(store, path, options=AMSTERDAM)
    assert summary.events_added == 13
    rejects = store.ledger.rejects("p2p")
    assert rejects.select("place", "value", "reason").rows() == [
        ("event e1", "GHOST", "links to object GHOST, which the log does not define")
    ]
    assert "GHOST" not in store.event_objects("p2p")["object_id"].to_list()


def test_json_lines_with_a_broken_line(store, tmp_path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(
        '{"case": "c1", "activity": "a", "timestamp": "2024-01-01T10:00:00Z"}\n'
        '{"case": "c1", "activity": "b", "timestamp": \n'
        '{"case": "c1", "activity": "c", "timestamp": "2024-01-01T12:00:00Z"}\n'
    )
    summary = ingest(store, path)
    assert (summary.events_added, summary.rejected) == (2, 1)
    (reject,) = store.ledger.rejects("events").iter_rows(named=True)
    assert reject["line"] == 2
    assert reject["reason"].startswith("not valid JSON")


def test_json_lines_all_broken_fail(store, tmp_path) -> None:
    path = tmp_path / "junk.jsonl"
    path.write_text('{"a": \n{"b": \n')
    with pytest.raises(IngestError, match=r"junk\.jsonl: line 1: not valid JSON"):
        ingest(store, path)


def test_parquet_without_a_timestamp_column(store, tmp_path) -> None:
    path = tmp_path / "nothing.parquet"
    pl.DataFrame({"case": ["c1"], "activity": ["a"], "colour": ["red"]}).write_parquet(path)
    with pytest.raises(
        IngestError,
        match=r"nothing\.parquet: cannot tell which column holds the"
        r" timestamp",
    ):
        ingest(store, path)
    assert store.log_names() == []


def test_truncated_parquet(store, tmp_path) -> None:
    path = tmp_path / "cut.parquet"
    path.write_bytes(real_log("receipt.parquet").read_bytes()[:50_000])
    with pytest.raises(IngestError, match=r"cut\.parquet: not a readable Parquet file"):
        ingest(store, path)


def test_strict_refuses_bad_xes(store, tmp_path) -> None:
    text = real_log("running-example.xes").read_text().replace(_GLOBAL_NAME, "")
    text = text.replace('<string key="concept:name" value="decide"/>', "", 1)
    with pytest.raises(IngestError, match="--strict refuses the whole file"):
        ingest(store, _xes(tmp_path, "strict.xes", text), strict=True)
    assert store.log_names() == []


# ---------------------------------------------------------------- resume after SIGKILL


def _kill_mid_import(source: Path, db: Path, at_least: int) -> None:
    env = {**os.environ, "WORKBENCH_BATCH_ROWS": "2000"}
    command = [
        sys.executable,
        "-m",
        "workbench",
        "--db",
        str(db),
        "ingest",
        str(source),
        "--log",
        "log",
    ]
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while committed_rows(db) < at_least and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.01)
    assert child.poll() is None, "the import finished before it could be killed"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    finished = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert finished.returncode == 0, finished.stderr


@pytest.mark.slow
@pytest.mark.parametrize("name", ["bpic2012.xes.gz", "orders.jsonl"])
def test_resume_after_sigkill(tmp_path, name) -> None:
    if name.endswith(".jsonl"):
        source = tmp_path / name
        total = write(source, events=80_000, seed=9)
    else:
        source, total = real_log(name), 262_200
    db = tmp_path / "store.db"
    _kill_mid_import(source, db, at_least=10_000)
    with EventStore(db) as store:
        frame = store.read("log")
        jobs = store.ledger.jobs()
    assert frame.height == total
    assert frame["event_id"].n_unique() == total
    assert [job.status for job in jobs] == ["completed"]
    assert jobs[0].events_added == total  # one job, resumed: its counts span both runs


def test_gzipped_json_lines(store, tmp_path) -> None:
    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(
        gzip.compress(b'{"case": "c1", "activity": "a", "timestamp": "2024-01-01T10:00:00Z"}\n')
    )
    assert ingest(store, path).events_added == 1


# ---------------------------------------------------------------- XES in pieces


def _events(store: EventStore, log: str) -> pl.DataFrame:
    return store.read(log).drop("position", "recorded_at", "log").sort("event_id")


@pytest.fixture(params=["lines", "rustxes"])
def small_pieces(request) -> ParseOptions:
    """XES cut into pieces of a few traces, so that every path between pieces is taken, by
    each parser: the line parser (with rustxes for what it declines) and rustxes alone."""
    tuning = Tuning(
        batch_rows=700,
        xes_first_piece=20_000,
        xes_first_lines=20_000,
        xes_line_parser=request.param == "lines",
    )
    return ParseOptions(tuning=tuning)


@pytest.fixture
def rustxes_pieces() -> ParseOptions:
    """XES cut into pieces of a few traces and parsed by rustxes in parser processes."""
    return ParseOptions(
        tuning=Tuning(batch_rows=700, xes_first_piece=20_000, xes_line_parser=False)
    )


def test_xes_in_pieces_equals_the_whole_file(tmp_path, small_pieces) -> None:
    from ingest.xes import pieces as xes_pieces

    with EventStore(tmp_path / "pieces.db") as pieces:
        ingest(pieces, real_log("sepsis.xes.gz"), log="sepsis", options=small_pieces)
        cut = _events(pieces, "sepsis")
    with plain_xes(real_log("sepsis.xes.gz")) as plain:
        pieces = list(xes_pieces.cut_pieces(plain, small_pieces.tuning))
    assert len(pieces) > 10
    for piece in pieces:
        assert piece is not None
        piece.unlink()
    with EventStore(tmp_path / "whole.db") as whole:
        whole_file = replace(small_pieces.tuning, xes_first_piece=1 << 30)
        ingest(
            whole, real_log("sepsis.xes.gz"), log="sepsis", options=ParseOptions(tuning=whole_file)
        )
        assert_frame_equal(cut, _events(whole, "sepsis"), check_column_order=False)
    assert cut.height == 15_214


def test_pieces_parsed_elsewhere_leave_no_file_and_no_process(
    tmp_path, rustxes_pieces, monkeypatch
) -> None:
    import tempfile

    from ingest.xes import pieces

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    started: list[subprocess.Popen[str]] = []
    spawn = subprocess.Popen

    def recorded(*args, **options):  # type: ignore[no-untyped-def]
        process = spawn(*args, **options)
        started.append(process)
        return process

    monkeypatch.setattr(pieces.subprocess, "Popen", recorded)
    with EventStore(tmp_path / "s.db") as store:
        summary = ingest(store, real_log("sepsis.xes.gz"), log="sepsis", options=rustxes_pieces)
    assert summary.events_added == 15_214
    assert started, "a file of many pieces is parsed in parser processes"
    assert all(process.poll() is not None for process in started)
    assert list(scratch.iterdir()) == []


def test_when_the_parser_process_cannot_run_the_file_is_parsed_here(
    tmp_path, rustxes_pieces, monkeypatch
) -> None:
    from ingest.xes import pieces

    with EventStore(tmp_path / "here.db") as here:
        ingest(here, real_log("sepsis.xes.gz"), log="sepsis", options=rustxes_pieces)
        expected = _events(here, "sepsis")
    monkeypatch.setattr(pieces.sys, "executable", "/bin/false")  # exits at once
    with EventStore(tmp_path / "s.db") as store:
        summary = ingest(store, real_log("sepsis.xes.gz"), log="sepsis", options=rustxes_pieces)
        assert summary.status == "completed"
        assert_frame_equal(_events(store, "sepsis"), expected, check_column_order=False)


def test_a_comment_among_the_traces_is_never_cut(store, tmp_path, small_pieces) -> None:
    text = real_log("running-example.xes").read_text()
    ingest(store, _xes(tmp_path, "plain.xes", text), log="plain", options=small_pieces)
    marker = text.index("<trace", text.index("<trace") + 1)
    commented = text[:marker] + "<!-- <trace> is not here </trace> -->\n" + text[marker:]
    ingest(store, _xes(tmp_path, "commented.xes", commented), log="commented", options=small_pieces)
    assert_frame_equal(
        _events(store, "commented").drop("event_id"),
        _events(store, "plain").drop("event_id"),
        check_column_order=False,
    )


def test_a_fault_in_a_later_piece_keeps_every_trace_before_it(
    store, tmp_path, small_pieces
) -> None:
    with gzip.open(real_log("sepsis.xes.gz"), "rt") as handle:
        text = handle.read()
    # Break the 900th trace: the 899 before it are imported, in pieces, and the message
    # names the line of the fault.
    start = 0
    for _ in range(900):
        start = text.index("<trace>", start) + 1
    broken = text[:start] + text[start:].replace("</event>", "</evnt>", 1)
    summary = ingest(
        store, _xes(tmp_path, "broken.xes", broken), log="broken", options=small_pieces
    )
    assert summary.status == "partial"
    assert "malformed XML" in (summary.message or "")
    assert store.read("broken")["case_id"].n_unique() == 899


def test_a_later_piece_without_a_column_the_first_has_imports_whole(store, tmp_path) -> None:
    # Found by the fuzz suite: the last trace is a piece of its own and has no event ids.
    events = "".join(
        f'<event><string key="concept:name" value="a"/>'
        f'<date key="time:timestamp" value="2024-01-01T{hour:02d}:00:00"/>'
        f'<string key="event_id" value="e{hour}"/></event>'
        for hour in range(5)
    )
    text = (
        '<?xml version="1.0" encoding="UTF-8"?><log xes.version="1.0">'
        f'<trace><string key="concept:name" value="c1"/>{events}</trace>'
        '<trace><string key="concept:name" value="c2"/><event><string key="concept:name"'
        ' value="b"/><date key="time:timestamp" value="2024-01-02T10:00:00"/></event></trace>'
        "</log>"
    )
    summary = ingest(store, _xes(tmp_path, "ids.xes", text), log="ids")
    assert summary.status == "completed"
    frame = store.read("ids")
    assert frame.height == 6
    assert frame.filter(pl.col("case_id") == "c1")["event_id"].to_list() == [
        f"e{hour}" for hour in range(5)
    ]


@pytest.mark.parametrize("source", ["ocel_ocel20_example.jsonocel", "recruiting.ocel1.jsonocel"])
@pytest.mark.parametrize("layout", ["xml", "csv"])
def test_ocel1_xml_and_csv_read_as_pm4py_reads_them(tmp_path, source, layout) -> None:
    """pm4py writes OCEL 1.0 XML and CSV; Workbench reads them into the events, objects and
    links pm4py reads back from the same file."""
    from workbench import mining

    pm = mining.pm4py()
    with mining.quiet():
        read = pm.read_ocel2 if "ocel20" in source else pm.read_ocel
        original = read(str(real_log(source)))
        path = tmp_path / ("log.xmlocel" if layout == "xml" else "log.csv")
        if layout == "xml":
            pm.write_ocel_xml(original, str(path))
        else:
            pm.write_ocel_csv(original, str(path), str(tmp_path / "objects.csv"))
        theirs = pm.read_ocel_xml(str(path)) if layout == "xml" else pm.read_ocel_csv(str(path))
    with EventStore(tmp_path / "s.db") as store:
        summary = ingest(store, path, log="o")
        assert summary.format == f"ocel1-{layout}"
        assert (summary.rejected, summary.links_refused) == (0, 0)
        events = store.read("o")
        links = store.event_objects("o")
        objects = store.objects("o")
    their_events = theirs.events
    assert sorted(events["event_id"].to_list()) == sorted(their_events["ocel:eid"].astype(str))
    mine = dict(zip(events["event_id"], events["activity"], strict=True))
    their_ids = their_events["ocel:eid"].astype(str)
    assert mine == dict(zip(their_ids, their_events["ocel:activity"], strict=True))
    times = dict(zip(events["event_id"], events["timestamp"], strict=True))
    for event_id, moment in zip(
        their_events["ocel:eid"].astype(str), their_events["ocel:timestamp"], strict=True
    ):
        assert times[event_id] == moment.to_pydatetime().replace(tzinfo=UTC)
    relations = theirs.relations
    assert sorted(zip(links["event_id"], links["object_id"], strict=True)) == sorted(
        zip(relations["ocel:eid"].astype(str), relations["ocel:oid"].astype(str), strict=True)
    )
    their_objects = theirs.objects
    assert dict(zip(objects["object_id"], objects["object_type"], strict=True)) == dict(
        zip(their_objects["ocel:oid"].astype(str), their_objects["ocel:type"], strict=True)
    )


def test_a_format_error_leaves_no_empty_log_behind(store, tmp_path) -> None:
    broken = tmp_path / "bad.csv"
    broken.write_text("case,activity,time\nc1,a,not a time\n")
    with pytest.raises(IngestError):
        ingest(store, broken, log="bad")
    assert store.logs() == []
    assert store.ledger.rejects("bad").height == 1  # what was refused can still be read


def test_a_parquet_file_is_read_a_row_group_at_a_time(tmp_path) -> None:
    """Reading a Parquet file holds the row groups being read, not every one read so far:
    Arrow's allocations while the batches are consumed stay far below the file's size."""
    import pyarrow as pa

    from ingest.columnar import read_parquet

    path = tmp_path / "many-groups.parquet"
    rows = 1_000_000
    pl.DataFrame(
        {
            "case": [f"case-{i // 8:06d}" for i in range(rows)],
            "activity": [f"activity {i % 13}: {'x' * (i % 40)}" for i in range(rows)],
            "timestamp": pl.datetime_range(
                datetime(2024, 1, 1), datetime(2024, 1, 1) + timedelta(seconds=rows - 1),
                "1s", eager=True,
            ),
        }
    ).write_parquet(path, row_group_size=20_000, compression="uncompressed")  # fmt: skip
    held = []
    options = ParseOptions(tuning=Tuning(batch_rows=20_000))
    for batch in read_parquet(path, options=options):
        assert batch.events.height
        held.append(pa.total_allocated_bytes())
    assert max(held) < path.stat().st_size / 4, (max(held), path.stat().st_size)
