"""The event store's contract: concurrency markers, idempotency, immutability, reads."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from workbench import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    AppendResult,
    DuplicateEvents,
    Event,
    EventStore,
    InvalidEvents,
    UnknownLog,
    WrongExpectedRevision,
)
from workbench.events import VOCABULARY


def test_package_exports_the_store_vocabulary() -> None:
    import workbench

    for name in (
        "EventStore",
        "Event",
        "AppendResult",
        "WrongExpectedRevision",
        "ANY",
        "NO_STREAM",
        "STREAM_EXISTS",
    ):
        assert hasattr(workbench, name)


@pytest.mark.parametrize(
    ("expected", "exists", "ok"),
    [
        (ANY, False, True),
        (ANY, True, True),
        (NO_STREAM, False, True),
        (NO_STREAM, True, False),
        (STREAM_EXISTS, False, False),
        (STREAM_EXISTS, True, True),
        (1, True, True),
        (0, True, False),
        (5, True, False),
        (0, False, False),
    ],
)
def test_expected_revision_matrix(store, events, expected, exists, ok) -> None:
    if exists:
        store.append("demo", "c1", events[:2])  # the case is at revision 1
    attempt = [Event("late", datetime(2024, 4, 1, tzinfo=UTC))]
    if ok:
        result = store.append("demo", "c1", attempt, expected_revision=expected)
        assert result.revision == (2 if exists else 0)
    else:
        with pytest.raises(WrongExpectedRevision) as raised:
            store.append("demo", "c1", attempt, expected_revision=expected)
        assert raised.value.case_id == "c1"
        assert raised.value.expected == expected
        assert raised.value.actual == (1 if exists else None)
        assert "c1" in str(raised.value)
        assert store.read("demo").height == (2 if exists else 0) if exists else True


def test_append_reports_position_and_revision(store, events) -> None:
    first = store.append("demo", "c1", events[:3], expected_revision=NO_STREAM)
    other = store.append("demo", "c2", events[3:4], expected_revision=NO_STREAM)
    second = store.append("demo", "c1", events[4:], expected_revision=first.revision)
    assert first == AppendResult(position=3, revision=2)
    assert other == AppendResult(position=4, revision=0)
    assert second == AppendResult(position=6, revision=4)
    frame = store.read("demo")
    assert frame["position"].to_list() == [1, 2, 3, 4, 5, 6]
    assert frame.filter(pl.col("case_id") == "c1")["revision"].to_list() == [0, 1, 2, 3, 4]


def test_a_retried_batch_stores_nothing_and_returns_the_original_result(store, events) -> None:
    original = store.append("demo", "c1", events[:3], expected_revision=NO_STREAM)
    store.append("demo", "c2", events[3:4])
    retried = store.append("demo", "c1", events[:3], expected_revision=NO_STREAM)
    assert retried == original
    assert store.read("demo").height == 4


def test_a_partly_overlapping_batch_is_refused(store, events) -> None:
    store.append("demo", "c1", events[:3])
    with pytest.raises(DuplicateEvents, match="already stored"):
        store.append("demo", "c1", events[2:5])
    with pytest.raises(DuplicateEvents):
        store.append("demo", "c2", events[:3])  # same ids, another case
    with pytest.raises(DuplicateEvents):
        store.append("demo", "c1", list(reversed(events[:3])))  # same ids, another order
    assert store.read("demo").height == 3


def test_the_database_refuses_update_and_delete_of_events(store, events) -> None:
    store.append("demo", "c1", events)
    raw = sqlite3.connect(store.path)
    for statement in (
        "UPDATE events SET revision = 9",
        "DELETE FROM events",
        "UPDATE events SET timestamp = 0 WHERE position = 1",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute(statement)
    raw.close()
    assert store.read("demo").height == len(events)


def test_drop_removes_one_log_only(store, events) -> None:
    store.append("keep", "c1", events)
    store.append("gone", "c1", events[:2])
    assert store.drop("gone") == 2
    assert store.log_names() == ["keep"]
    assert store.read("keep").height == len(events)
    with pytest.raises(UnknownLog):
        store.scan("gone").collect()
    with pytest.raises(UnknownLog):
        store.drop("gone")


def test_scan_returns_the_vocabulary_then_attributes(store, events) -> None:
    store.append("demo", "c1", events)
    frame = store.read("demo")
    assert frame.columns[: len(VOCABULARY)] == list(VOCABULARY)
    assert frame.schema["timestamp"] == pl.Datetime("us", "UTC")
    assert frame.schema["recorded_at"] == pl.Datetime("us", "UTC")
    assert frame.schema["amount"] == pl.Int64
    assert frame.schema["priority"] == pl.Boolean
    assert frame["log"].unique().to_list() == ["demo"]


def test_scan_is_lazy_and_filters_valid_and_transaction_time(store, events) -> None:
    first = store.append("demo", "c1", events[:3])
    known = store.read("demo")["recorded_at"].max()
    store.append("demo", "c1", events[3:])
    cut = events[1].timestamp
    assert isinstance(store.scan("demo"), pl.LazyFrame)
    assert store.read("demo", as_of=cut)["activity"].to_list() == ["register", "check"]
    assert store.read("demo", known_at=first.position).height == 3
    assert store.read("demo", known_at=known).height == 3
    both = store.read("demo", as_of=cut, known_at=first.position)
    assert both["event_id"].to_list() == ["e0", "e1"]


def test_a_late_event_changes_as_of_but_not_an_earlier_known_at(store, events) -> None:
    store.append("demo", "c1", events[:4])
    before = store.read("demo", known_at=4)
    late = Event("check", events[0].timestamp + timedelta(minutes=5), event_id="late")
    store.append("demo", "c1", [late])
    assert_frame_equal(store.read("demo", known_at=4), before)
    as_of = store.read("demo", as_of=events[1].timestamp)
    assert "late" in as_of["event_id"].to_list()


def test_scan_one_case_through_the_case_index(store, events) -> None:
    store.append("demo", "c1", events[:2])
    store.append("demo", "c2", events[2:4])
    store.append("demo", "c1", events[4:])
    case = store.read("demo", case_id="c1")
    assert case["event_id"].to_list() == ["e0", "e1", "e4", "e5"]
    assert case["revision"].to_list() == [0, 1, 2, 3]
    assert case["amount"].to_list() == [100, 101, 104, 105]
    assert store.read("demo", case_id="c1", known_at=4)["event_id"].to_list() == ["e0", "e1"]
    assert store.read("demo", case_id="nobody").is_empty()
    plan = store.sql.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM events WHERE case_key = 1 ORDER BY revision"
    ).fetchall()
    assert "events_by_case" in str(plan)


def test_logs_lists_counts_and_time_range(store, events) -> None:
    store.append("demo", "c1", events[:4])
    store.append("demo", "c2", events[4:])
    (summary,) = store.logs()
    assert (summary.log, summary.cases, summary.events) == ("demo", 2, 6)
    assert summary.first_timestamp == events[0].timestamp
    assert summary.last_timestamp == events[-1].timestamp


def test_import_frame_keeps_invariants_and_skips_stored_ids(store) -> None:
    frame = pl.DataFrame(
        {
            "case_id": ["b", "a", "b", "a", "c"],
            "activity": ["x", "x", "y", "y", "x"],
            "timestamp": [datetime(2024, 1, 1, hour, tzinfo=UTC) for hour in (1, 2, 3, 4, 5)],
            "cost": [1.5, 2.0, None, 4.0, 5.0],
        }
    )
    first = store.import_frame("bulk", frame)
    again = store.import_frame("bulk", frame)
    assert (first.events_added, first.duplicates) == (5, 0)
    assert (again.events_added, again.duplicates) == (0, 5)
    stored = store.read("bulk")
    assert stored["position"].to_list() == [1, 2, 3, 4, 5]
    assert stored["event_id"].n_unique() == 5
    per_case = stored.group_by("case_id").agg(pl.col("revision")).sort("case_id")
    assert per_case["revision"].to_list() == [[0, 1], [0, 1], [0]]
    # Within a case, the file's order is kept.
    assert stored.filter(pl.col("case_id") == "b")["activity"].to_list() == ["x", "y"]


def test_import_frame_refuses_events_without_case_or_time(store) -> None:
    frame = pl.DataFrame(
        {"case_id": ["a", None], "activity": ["x", "y"], "timestamp": [datetime(2024, 1, 1)] * 2}
    )
    with pytest.raises(InvalidEvents, match="case_id is empty"):
        store.import_frame("bad", frame)
    assert store.log_names() == []


def test_attribute_types_widen_across_appends(store) -> None:
    store.append("demo", "c1", [Event("a", datetime(2024, 1, 1), attributes={"n": 1})])
    store.append("demo", "c1", [Event("b", datetime(2024, 1, 2), attributes={"n": 2.5})])
    store.append("demo", "c1", [Event("c", datetime(2024, 1, 3), attributes={"n": "many"})])
    assert store.read("demo")["n"].to_list() == ["1", "2.5", "many"]


def test_the_store_is_a_plain_sqlite_file(store, events) -> None:
    import sqlite_utils

    store.append("demo", "c1", events)
    database = sqlite_utils.Database(store.path)
    assert {"events", "logs", "cases", "ingest_jobs", "rejects"} <= set(database.table_names())
    assert database["events"].count == len(events)


# ---------------------------------------------------------------- round trip

attribute_values = {
    "int": st.integers(min_value=-(2**62), max_value=2**62),
    "float": st.floats(allow_nan=False, allow_infinity=False),
    "text": st.text(max_size=20),
    "flag": st.booleans(),
    "moment": st.datetimes(
        min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    ),
}


@st.composite
def event_batches(draw: st.DrawFn) -> list[tuple[str, Event]]:
    keys = draw(st.lists(st.sampled_from(sorted(attribute_values)), unique=True, max_size=5))
    count = draw(st.integers(min_value=1, max_value=12))
    batch = []
    for index in range(count):
        attributes = {
            key: draw(st.none() | attribute_values[key]) for key in keys if draw(st.booleans())
        }
        event = Event(
            activity=draw(st.text(min_size=1, max_size=10).filter(str.strip)),
            timestamp=draw(
                st.datetimes(
                    min_value=datetime(1970, 1, 2),
                    max_value=datetime(2200, 1, 1),
                    timezones=st.just(UTC),
                )
            ),
            event_id=f"id-{index}",
            resource=draw(st.none() | st.text(min_size=1, max_size=5)),
            attributes=attributes,
        )
        batch.append((draw(st.sampled_from(["c1", "c2", "c3"])), event))
    return batch


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=event_batches())
def test_append_then_scan_round_trips(tmp_path_factory, batch) -> None:
    path: Path = tmp_path_factory.mktemp("roundtrip") / "store.db"
    with EventStore(path) as store:
        for case_id, event in batch:
            store.append("log", case_id, [event])
        frame = store.read("log")
    assert frame.height == len(batch)
    for row, (case_id, event) in zip(frame.iter_rows(named=True), batch, strict=True):
        assert row["case_id"] == case_id
        assert row["activity"] == event.activity
        assert row["timestamp"] == event.timestamp
        assert row["resource"] == event.resource
        for key, value in event.attributes.items():
            assert row[key] == value
            if value is not None:
                assert type(row[key]) is type(value)
