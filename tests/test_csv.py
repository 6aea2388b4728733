"""CSV import: detection, UTC times, typed attributes, rejects, strict mode, idempotency."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ingest.errors import IngestError
from ingest.jobs import ingest as run_job
from ingest.mapping import ColumnMapping
from ingest.options import ParseOptions, Tuning
from tests.conftest import real_log
from workbench import EventStore

HEADER = "case_id,activity,timestamp,resource,amount\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_receipt_imports_all_events_in_utc(store) -> None:
    summary = run_job(store, real_log("receipt.csv"))
    assert (summary.events_read, summary.events_added, summary.rejected) == (8577, 8577, 0)
    (log,) = store.logs()
    assert (log.log, log.cases, log.events) == ("receipt", 1434, 8577)
    frame = store.read("receipt")
    assert frame.schema["timestamp"] == pl.Datetime("us", "UTC")
    first = frame.filter(pl.col("event_id").str.starts_with("case-10011@")).sort("timestamp")
    # 2011-10-11 13:45:40.276+02:00 in the file
    assert first["timestamp"][0] == datetime(2011, 10, 11, 11, 45, 40, 276000, tzinfo=UTC)
    assert frame.schema["case:startdate"] == pl.Datetime("us", "UTC")


def test_running_example_imports_42_events_in_6_cases(store) -> None:
    run_job(store, real_log("running-example.csv"))
    frame = store.read("running-example")
    assert frame.height == 42
    assert frame["case_id"].n_unique() == 6
    assert "" not in frame.columns
    assert "column_0" not in frame.columns
    assert frame.schema["Costs"] == pl.Int64
    assert "Activity" in frame.columns  # the second activity column stays an attribute
    first = frame.filter(pl.col("case_id") == "3").sort("timestamp").row(0, named=True)
    assert first["activity"] == "register request"
    assert first["timestamp"] == datetime(2010, 12, 30, 13, 32, tzinfo=UTC)  # 14:32+01:00


def test_equal_timestamps_keep_file_order(store, tmp_path) -> None:
    source = write(
        tmp_path / "ties.csv",
        HEADER
        + "c1,b,2024-01-01 10:00,x,1\nc1,a,2024-01-01 10:00,x,2\nc1,c,2024-01-01 10:00,x,3\n",
    )
    run_job(store, source)
    assert store.read("ties")["activity"].to_list() == ["b", "a", "c"]


def test_bad_rows_go_to_rejects_and_good_rows_are_kept(store, tmp_path) -> None:
    source = write(
        tmp_path / "orders.csv",
        HEADER
        + "c1,create,2024-01-01 10:00,ana,10\n"
        + "c1,ship,yesterday,ana,11\n"
        + ",create,2024-01-01 11:00,ben,12\n"
        + "c2,,2024-01-01 12:00,ben,13\n"
        + "c2,create,2024-01-01 12:30,ben,14\n",
    )
    summary = run_job(store, source)
    assert (summary.events_read, summary.events_added, summary.rejected) == (5, 2, 3)
    rejects = store.ledger.rejects("orders")
    assert rejects.select("line", "field", "value", "reason").rows() == [
        (3, "timestamp", "yesterday", "cannot read yesterday as a time"),
        (4, "case_id", None, "the case id is empty"),
        (5, "activity", None, "the activity is empty"),
    ]
    assert rejects["source"].unique().to_list() == [str(source)]


def test_strict_refuses_the_whole_file(store, tmp_path) -> None:
    source = write(
        tmp_path / "orders.csv", HEADER + "c1,create,2024-01-01,ana,1\nc1,ship,not a time,ana,2\n"
    )
    with pytest.raises(IngestError, match=r"line 3, field 'timestamp'.*nothing was stored"):
        run_job(store, source, strict=True)
    assert store.log_names() == []


def test_importing_the_same_file_twice_adds_nothing(store) -> None:
    source = real_log("running-example.csv")
    run_job(store, source)
    again = run_job(store, source)
    assert again.status == "unchanged"
    assert store.read("running-example").height == 42


def test_a_longer_export_adds_only_the_new_events(store, tmp_path) -> None:
    rows = "c1,create,2024-01-01 10:00,ana,1\nc1,ship,2024-01-02 10:00,ana,2\n"
    run_job(store, write(tmp_path / "a.csv", HEADER + rows), log="orders")
    more = rows + "c2,create,2024-01-03 10:00,ben,3\n"
    summary = run_job(store, write(tmp_path / "b.csv", HEADER + more), log="orders")
    assert (summary.events_added, summary.duplicates) == (1, 2)
    assert store.read("orders").height == 3


def test_derived_ids_do_not_depend_on_batch_size(store, tmp_path) -> None:
    twins = "c1,create,2024-01-01 10:00,ana,1\n" * 3 + "c2,create,2024-01-01 10:00,ana,1\n"
    source = write(tmp_path / "twins.csv", HEADER + twins)
    ids = {}
    # One row per batch (repeats across batches), two (within and across), all in one.
    for rows in (1, 2, 1000):
        options = ParseOptions(tuning=Tuning(batch_rows=rows))
        summary = run_job(store, source, log=f"rows{rows}", options=options)
        assert summary.events_added == 4  # identical rows are all kept
        ids[rows] = sorted(
            store.read(f"rows{rows}")
            .select(pl.col("event_id").str.replace(r"@.*#", "#"))
            .to_series()
            .to_list()
        )
    assert ids[1] == ids[2] == ids[1000] == ["c1#0", "c1#1", "c1#2", "c2#0"]


def test_records_read_a_little_at_a_time_import_the_same(tmp_path) -> None:
    """The file is read in pieces of whole records: quoted newlines, quotes and separators,
    CRLF, a header spanning lines and a bad row land wherever a piece ends."""
    rows = [
        'c1,create,2024-01-01 10:00,"ana\nbob",1',
        'c1,"say ""hi""\r\nthere",2024-01-01 11:00,,2',
        'c2,"a,b",2024-01-01 12:00,"x ""y"", z",3',
        "c2,,2024-01-01 13:00,eve,4",  # no activity: a reject with its line
        'c3,"multi\n\nline",2024-01-01 14:00,"",5',
        "c3,close,2024-01-01 15:00,ana,6",
    ]
    header = 'case_id,activity,timestamp,"resource\n(who)",amount\n'
    source = write(tmp_path / "quoted.csv", header + "\r\n".join(rows) + "\r\n")
    stored = {}
    for size in (7, 64, 1 << 20):
        options = ParseOptions(tuning=Tuning(record_bytes=size))
        with EventStore(tmp_path / f"{size}.db") as store:
            summary = run_job(
                store,
                source,
                log="q",
                mapping=ColumnMapping(resource="resource\n(who)"),
                options=options,
            )
            assert (summary.events_added, summary.rejected) == (5, 1)
            (reject,) = store.ledger.rejects("q").iter_rows(named=True)
            stored[size] = (reject["line"], store.read("q").drop("recorded_at"))
    assert stored[7][0] == stored[64][0] == stored[1 << 20][0] == 5
    assert_frame_equal(stored[7][1], stored[1 << 20][1])
    assert_frame_equal(stored[64][1], stored[1 << 20][1])
    frame = stored[7][1].sort("position")
    assert frame["activity"].to_list() == [
        "create",
        'say "hi"\r\nthere',
        "a,b",
        "multi\n\nline",
        "close",
    ]
    assert frame["resource"].to_list() == ["ana\nbob", None, 'x "y", z', None, "ana"]


@pytest.mark.parametrize(
    ("text", "options", "expected"),
    [
        ("2024-03-01T10:00:00Z", ParseOptions(), datetime(2024, 3, 1, 10, tzinfo=UTC)),
        (
            "2024-03-01 10:00:00.250+02:00",
            ParseOptions(),
            datetime(2024, 3, 1, 8, 0, 0, 250000, tzinfo=UTC),
        ),
        (
            "2024-03-01T10:00:00.123456",
            ParseOptions(),
            datetime(2024, 3, 1, 10, 0, 0, 123456, tzinfo=UTC),
        ),
        (
            "2024-03-01 10:00",
            ParseOptions(timezone="Europe/Amsterdam"),
            datetime(2024, 3, 1, 9, tzinfo=UTC),
        ),
        (
            "2024-07-01 10:00",
            ParseOptions(timezone="Europe/Amsterdam"),
            datetime(2024, 7, 1, 8, tzinfo=UTC),
        ),
        ("02/03/2024 10:00", ParseOptions(dayfirst=True), datetime(2024, 3, 2, 10, tzinfo=UTC)),
        ("02/03/2024 10:00", ParseOptions(), datetime(2024, 2, 3, 10, tzinfo=UTC)),
        (
            "31.12.2024 23:59:59",
            ParseOptions(dayfirst=True),
            datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC),
        ),
        ("2024-03-01", ParseOptions(), datetime(2024, 3, 1, tzinfo=UTC)),
    ],
)
def test_timestamp_formats(store, tmp_path, text, options, expected) -> None:
    source = write(tmp_path / "t.csv", f"case,activity,time\nc1,a,{text}\n")
    run_job(store, source, options=options)
    assert store.read("t")["timestamp"].to_list() == [expected]


def test_attributes_are_typed_by_content(store, tmp_path) -> None:
    source = write(
        tmp_path / "typed.csv",
        "case,activity,time,count,price,urgent,due,zip,note\n"
        "c1,a,2024-01-01,3,2.50,true,2024-02-01 12:00,01234,hello\n"
        "c1,b,2024-01-02,4,3,false,2024-02-02 12:00,98765,\n",
    )
    run_job(store, source)
    frame = store.read("typed")
    assert frame.schema["count"] == pl.Int64
    assert frame.schema["price"] == pl.Float64
    assert frame.schema["urgent"] == pl.Boolean
    assert frame.schema["due"] == pl.Datetime("us", "UTC")
    assert frame["zip"].to_list() == ["01234", "98765"]  # leading zeros are kept
    assert frame["note"].to_list() == ["hello", None]


def test_flags_override_detection(store, tmp_path) -> None:
    source = write(
        tmp_path / "two.csv",
        "order,step,when,done_at\no1,a,2024-01-01,2024-05-01\no1,b,2024-01-02,2024-05-02\n",
    )
    run_job(
        store, source, mapping=ColumnMapping(case_id="order", activity="step", timestamp="done_at")
    )
    frame = store.read("two")
    assert frame["timestamp"].dt.month().to_list() == [5, 5]
    assert frame.schema["when"] == pl.Datetime("us", "UTC")
    with pytest.raises(IngestError, match="no column 'nope' for case_id"):
        run_job(store, source, log="x", mapping=ColumnMapping(case_id="nope"))


def test_gzipped_csv(store, tmp_path) -> None:
    source = tmp_path / "orders.csv.gz"
    source.write_bytes(gzip.compress((HEADER + "c1,a,2024-01-01,x,1\n").encode()))
    summary = run_job(store, source)
    assert (summary.log, summary.events_added) == ("orders", 1)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "no such file"),
        ("empty.csv", b"", "the file is empty"),
        ("binary.csv", bytes(range(256)) * 4, "binary content"),
        ("header.csv", b"case,activity,timestamp\n", "has a header"),
        ("notime.csv", b"case,activity,colour\nc1,a,red\n", "timestamp (--timestamp COLUMN)"),
        ("one.csv", b"just some words\nand more\n", "no column separator"),
        ("two.csv", b"case,activity\nc1,a\n", "line 1 has 2 column(s)"),
        ("json.csv", b'{"case": "c1"}\n', "cannot tell which column holds the activity"),
        ("broken.csv.gz", b"\x1f\x8b\x08\x00garbage", "gzip data is corrupt"),
    ],
)
def test_unreadable_files_fail_clearly_and_store_nothing(
    store, tmp_path, name, content, message
) -> None:
    source = tmp_path / name
    if content is not None:
        source.write_bytes(content)
    with pytest.raises(IngestError) as raised:
        run_job(store, source)
    assert str(raised.value).startswith(str(source))
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)
    assert store.log_names() == []


def test_csv_round_trip(store, tmp_path) -> None:
    original = pl.DataFrame(
        {
            "case_id": ["c1", "c1", "c2"],
            "activity": ["a", "b", "a"],
            "timestamp": [
                datetime(2024, 1, 1, 10, 0, 0, 123456, tzinfo=UTC),
                datetime(2024, 1, 1, 11, tzinfo=UTC),
                datetime(2024, 1, 2, 9, tzinfo=UTC),
            ],
            "resource": ["ana", None, "ben"],
            "amount": [1.5, 2.0, 3.25],
        }
    )
    source = tmp_path / "orig.csv"
    original.write_csv(source)
    run_job(store, source)
    exported = tmp_path / "exported.csv"
    columns = ["case_id", "activity", "timestamp", "resource", "amount"]
    store.read("orig").select(columns).write_csv(exported)
    run_job(store, exported, log="again")
    assert_frame_equal(store.read("again").select(columns), original)


def test_store_survives_reopening(tmp_path) -> None:
    source = write(tmp_path / "o.csv", HEADER + "c1,a,2024-01-01,x,1\n")
    with EventStore(tmp_path / "s.db") as store:
        run_job(store, source)
    with EventStore(tmp_path / "s.db") as store:
        assert store.read("o").height == 1
