"""The event store's contract, on every backend: concurrency markers, idempotency, imports,
jobs, cuts by valid and transaction time, drop, objects, round trips.

Each test takes ``any_store`` (a new store, once per backend) or ``location``; what only one
backend has (its triggers, query plans, files) is tested in test_store_sqlite.py and
test_store_postgres.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from tests.conftest import fresh_location
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
from workbench.events import VOCABULARY, InvalidName


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
def test_expected_revision_matrix(any_store, events, expected, exists, ok) -> None:
    if exists:
        any_store.append("demo", "c1", events[:2])  # the case is at revision 1
    attempt = [Event("late", datetime(2024, 4, 1, tzinfo=UTC))]
    if ok:
        result = any_store.append("demo", "c1", attempt, expected_revision=expected)
        assert result.revision == (2 if exists else 0)
    else:
        with pytest.raises(WrongExpectedRevision) as raised:
            any_store.append("demo", "c1", attempt, expected_revision=expected)
        assert raised.value.case_id == "c1"
        assert raised.value.expected == expected
        assert raised.value.actual == (1 if exists else None)
        assert "c1" in str(raised.value)
        if exists:  # nothing was written: the case keeps its two events
            assert any_store.read("demo").height == 2
        else:  # nothing was written: not even the log was created
            assert not any_store.has_log("demo")


def test_append_reports_position_and_revision(any_store, events) -> None:
    first = any_store.append("demo", "c1", events[:3], expected_revision=NO_STREAM)
    other = any_store.append("demo", "c2", events[3:4], expected_revision=NO_STREAM)
    second = any_store.append("demo", "c1", events[4:], expected_revision=first.revision)
    assert first == AppendResult(position=3, revision=2)
    assert other == AppendResult(position=4, revision=0)
    assert second == AppendResult(position=6, revision=4)
    frame = any_store.read("demo")
    assert frame["position"].to_list() == [1, 2, 3, 4, 5, 6]
    assert frame.filter(pl.col("case_id") == "c1")["revision"].to_list() == [0, 1, 2, 3, 4]


def test_a_retried_batch_stores_nothing_and_returns_the_original_result(any_store, events) -> None:
    original = any_store.append("demo", "c1", events[:3], expected_revision=NO_STREAM)
    any_store.append("demo", "c2", events[3:4])
    retried = any_store.append("demo", "c1", events[:3], expected_revision=NO_STREAM)
    assert retried == original
    assert any_store.read("demo").height == 4


def test_a_partly_overlapping_batch_is_refused(any_store, events) -> None:
    any_store.append("demo", "c1", events[:3])
    with pytest.raises(DuplicateEvents, match="already stored"):
        any_store.append("demo", "c1", events[2:5])
    with pytest.raises(DuplicateEvents):
        any_store.append("demo", "c2", events[:3])  # same ids, another case
    with pytest.raises(DuplicateEvents):
        any_store.append("demo", "c1", list(reversed(events[:3])))  # same ids, another order
    assert any_store.read("demo").height == 3


def test_drop_removes_one_log_only(any_store, events) -> None:
    any_store.append("keep", "c1", events)
    any_store.append("gone", "c1", events[:2])
    assert any_store.drop("gone") == 2
    assert any_store.log_names() == ["keep"]
    assert any_store.read("keep").height == len(events)
    with pytest.raises(UnknownLog):
        any_store.scan("gone").collect()
    with pytest.raises(UnknownLog):
        any_store.drop("gone")


def test_a_position_is_never_used_again_after_its_log_is_dropped(any_store, events) -> None:
    any_store.append("keep", "c1", events[:2])
    any_store.append("gone", "c1", events[2:4])  # positions 3 and 4
    any_store.drop("gone")
    assert any_store.append("keep", "c2", events[4:5]).position == 5
    imported = any_store.import_frame(
        "other",
        pl.DataFrame(
            {"case_id": ["x"], "activity": ["a"], "timestamp": [datetime(2024, 1, 1, tzinfo=UTC)]}
        ),
    )
    assert imported.position == 6


def test_scan_returns_the_vocabulary_then_attributes(any_store, events) -> None:
    any_store.append("demo", "c1", events)
    frame = any_store.read("demo")
    assert frame.columns[: len(VOCABULARY)] == list(VOCABULARY)
    assert frame.schema["timestamp"] == pl.Datetime("us", "UTC")
    assert frame.schema["recorded_at"] == pl.Datetime("us", "UTC")
    assert frame.schema["amount"] == pl.Int64
    assert frame.schema["priority"] == pl.Boolean
    assert frame["log"].unique().to_list() == ["demo"]


def test_scan_is_lazy_and_filters_valid_and_transaction_time(any_store, events) -> None:
    first = any_store.append("demo", "c1", events[:3])
    known = any_store.read("demo")["recorded_at"].max()
    any_store.append("demo", "c1", events[3:])
    cut = events[1].timestamp
    assert isinstance(any_store.scan("demo"), pl.LazyFrame)
    assert any_store.read("demo", as_of=cut)["activity"].to_list() == ["register", "check"]
    assert any_store.read("demo", known_at=first.position).height == 3
    assert any_store.read("demo", known_at=known).height == 3
    both = any_store.read("demo", as_of=cut, known_at=first.position)
    assert both["event_id"].to_list() == ["e0", "e1"]


def test_a_late_event_changes_as_of_but_not_an_earlier_known_at(any_store, events) -> None:
    any_store.append("demo", "c1", events[:4])
    before = any_store.read("demo", known_at=4)
    late = Event("check", events[0].timestamp + timedelta(minutes=5), event_id="late")
    any_store.append("demo", "c1", [late])
    assert_frame_equal(any_store.read("demo", known_at=4), before)
    as_of = any_store.read("demo", as_of=events[1].timestamp)
    assert "late" in as_of["event_id"].to_list()


def test_scan_one_case_through_the_case_index(any_store, events) -> None:
    any_store.append("demo", "c1", events[:2])
    any_store.append("demo", "c2", events[2:4])
    any_store.append("demo", "c1", events[4:])
    case = any_store.read("demo", case_id="c1")
    assert case["event_id"].to_list() == ["e0", "e1", "e4", "e5"]
    assert case["revision"].to_list() == [0, 1, 2, 3]
    assert case["amount"].to_list() == [100, 101, 104, 105]
    assert any_store.read("demo", case_id="c1", known_at=4)["event_id"].to_list() == ["e0", "e1"]
    assert any_store.read("demo", case_id="nobody").is_empty()


def test_logs_lists_counts_and_time_range(any_store, events) -> None:
    any_store.append("demo", "c1", events[:4])
    any_store.append("demo", "c2", events[4:])
    (summary,) = any_store.logs()
    assert (summary.log, summary.cases, summary.events) == ("demo", 2, 6)
    assert summary.first_timestamp == events[0].timestamp
    assert summary.last_timestamp == events[-1].timestamp


def test_import_frame_keeps_invariants_and_skips_stored_ids(any_store) -> None:
    frame = pl.DataFrame(
        {
            "case_id": ["b", "a", "b", "a", "c"],
            "activity": ["x", "x", "y", "y", "x"],
            "timestamp": [datetime(2024, 1, 1, hour, tzinfo=UTC) for hour in (1, 2, 3, 4, 5)],
            "cost": [1.5, 2.0, None, 4.0, 5.0],
        }
    )
    first = any_store.import_frame("bulk", frame)
    again = any_store.import_frame("bulk", frame)
    assert (first.events_added, first.duplicates) == (5, 0)
    assert (again.events_added, again.duplicates) == (0, 5)
    stored = any_store.read("bulk")
    assert stored["position"].to_list() == [1, 2, 3, 4, 5]
    assert stored["event_id"].n_unique() == 5
    per_case = stored.group_by("case_id").agg(pl.col("revision")).sort("case_id")
    assert per_case["revision"].to_list() == [[0, 1], [0, 1], [0]]
    # Within a case, the file's order is kept.
    assert stored.filter(pl.col("case_id") == "b")["activity"].to_list() == ["x", "y"]


def test_revisions_continue_across_imports(any_store) -> None:
    def frame(cases: list[str], hours: list[int]) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "case_id": cases,
                "activity": ["x"] * len(cases),
                "timestamp": [datetime(2024, 1, 1, hour, tzinfo=UTC) for hour in hours],
            }
        )

    any_store.import_frame("bulk", frame(["b", "a", "b"], [1, 2, 3]), head=0)
    any_store.import_frame("bulk", frame(["c", "b", "a", "b", "c"], [4, 5, 6, 7, 8]))
    stored = any_store.read("bulk").sort("position")
    revisions = stored.group_by("case_id", maintain_order=True).agg("revision", "timestamp")
    assert dict(zip(revisions["case_id"], revisions["revision"].to_list(), strict=True)) == {
        "a": [0, 1],
        "b": [0, 1, 2, 3],
        "c": [0, 1],
    }
    # A case's revisions follow its events' order in the files.
    assert all(times == sorted(times) for times in revisions["timestamp"].to_list())


def test_an_import_guessed_new_still_skips_the_stored_ids(any_store) -> None:
    # The guess is wrong: another writer came first, so the ids are looked up.
    frame = pl.DataFrame(
        {
            "case_id": ["a", "a", "b", "c"],
            "activity": ["x", "y", "x", "x"],
            "timestamp": [datetime(2024, 1, 1, hour, tzinfo=UTC) for hour in (1, 2, 3, 4)],
        }
    )
    any_store.import_frame("bulk", frame.head(2))
    richer = frame.with_columns(cost=pl.Series([1.5, 2.0, None, 4.0]))
    result = any_store.import_frame("bulk", richer, head=0)
    assert (result.events_added, result.duplicates, result.position) == (2, 2, 4)
    stored = any_store.read("bulk")
    assert stored["position"].to_list() == [1, 2, 3, 4]
    assert stored["case_id"].to_list() == ["a", "a", "b", "c"]
    assert stored["revision"].to_list() == [0, 1, 0, 0]
    assert stored["cost"].to_list() == [None, None, None, 4.0]
    # The same content written before by another writer: all of it is found.
    again = any_store.import_frame("bulk", frame, head=2)
    assert (again.events_added, again.duplicates) == (0, 4)
    # A right guess writes the same as no guess.
    assert any_store.import_frame("other", frame, head=0).events_added == 4
    assert_frame_equal(
        any_store.read("other").drop("log", "recorded_at", "position"),
        stored.drop("log", "recorded_at", "position", "cost"),
    )


def test_a_given_id_repeated_across_guessed_imports_is_stored_once(any_store) -> None:
    # The unique index refuses the write without a look-up; it is undone (with the new
    # case, the new attribute and its table) and done again with it.
    given = pl.DataFrame(
        {
            "event_id": ["e1", "e2"],
            "case_id": ["a", "z"],
            "activity": ["x", "x"],
            "timestamp": [datetime(2024, 1, 1, hour, tzinfo=UTC) for hour in (1, 2)],
        }
    )
    first = any_store.import_frame("given", given.head(1), head=0)
    richer = given.with_columns(cost=pl.Series([None, 2.5]))
    again = any_store.import_frame("given", richer, head=first.position)
    assert (again.events_added, again.duplicates, again.position) == (1, 1, 2)
    stored = any_store.read("given")
    assert stored["event_id"].to_list() == ["e1", "e2"]
    assert stored["cost"].to_list() == [None, 2.5]


def test_derived_ids_read_back_and_are_found_when_given(any_store) -> None:
    frame = pl.DataFrame(
        {
            "case_id": ["a", "a", "a", "b"],
            "activity": ["x", "x", "y", "x"],
            "timestamp": [datetime(2024, 1, 1, 1, tzinfo=UTC)] * 3
            + [datetime(2024, 1, 1, 2, 30, 0, 123_456, tzinfo=UTC)],
        }
    )
    seen: list[str] = []
    any_store.on_commit(lambda log, written: seen.extend(written["event_id"].to_list()))
    any_store.import_frame("derived", frame, head=0)
    stored = any_store.read("derived")
    assert stored["event_id"].to_list() == [
        "a@2024-01-01T01:00:00.000000Z/x#0",
        "a@2024-01-01T01:00:00.000000Z/x#1",
        "a@2024-01-01T01:00:00.000000Z/y#0",
        "b@2024-01-01T02:30:00.123456Z/x#0",
    ]
    assert seen == stored["event_id"].to_list()  # what derived data keeps up with
    # The same events again, without ids: found by their derived ids.
    result = any_store.import_frame("derived", frame)
    assert (result.events_added, result.duplicates) == (0, 4)
    # A given id equal to one derived in the same frame is the same event.
    clash = pl.concat(
        [
            frame.head(1).with_columns(pl.lit(None, dtype=pl.String).alias("event_id")),
            frame.head(1).with_columns(pl.lit(stored["event_id"][0]).alias("event_id")),
        ]
    )
    result = any_store.import_frame("clash", clash, head=0)
    assert (result.events_added, result.duplicates) == (1, 1)
    assert any_store.read("clash")["event_id"].to_list() == stored["event_id"].head(1).to_list()
    only = any_store.scan("derived").select("event_id").collect()
    assert only.columns == ["event_id"]
    assert only["event_id"].to_list() == stored["event_id"].to_list()
    # An export with its ids, imported again: every event is found, given or derived.
    exported = stored.select("event_id", "case_id", "activity", "timestamp")
    result = any_store.import_frame("derived", exported)
    assert (result.events_added, result.duplicates) == (0, 4)
    found = any_store.append(
        "derived",
        "b",
        [Event("x", datetime(2024, 1, 1, 2, 30, 0, 123_456), event_id=stored["event_id"][3])],
    )
    assert (found.position, found.revision) == (4, 0)  # a retry of what is stored


def case_attribute_frames() -> tuple[pl.DataFrame, pl.DataFrame]:
    def hour(h: int) -> datetime:
        return datetime(2024, 1, 1, h, tzinfo=UTC)

    first = pl.DataFrame(
        {
            "case_id": ["a", "a", "a", "b"],
            "activity": ["x", "y", "z", "x"],
            "timestamp": [hour(1), hour(2), hour(3), hour(4)],
            "case:region": ["north", "north", "south", "south"],
            "case:size": [1, 1, 1, 1],
        }
    )
    later = pl.DataFrame(
        {
            "case_id": ["a", "b"],
            "activity": ["w", "y"],
            "timestamp": [hour(5), hour(6)],
            "case:region": ["west", "west"],
        }
    )
    return first, later


def test_case_attributes_read_back_per_event_as_written(any_store) -> None:
    # A backend may keep them once per run of equal values in a case (SQLite does): a
    # value that changes within a case, or in a later import, holds from that event on;
    # the next case starts a run of its own even with the same values.
    first, later = case_attribute_frames()
    any_store.import_frame("cases", first)
    any_store.import_frame("cases", later)
    read = any_store.read("cases").sort("position")
    assert read.select("case_id", "activity", "case:region", "case:size").rows() == [
        ("a", "x", "north", 1),
        ("a", "y", "north", 1),
        ("a", "z", "south", 1),
        ("b", "x", "south", 1),
        ("a", "w", "west", None),
        ("b", "y", "west", None),
    ]
    before = any_store.read("cases", known_at=4).sort("position")
    assert before["case:region"].to_list() == ["north", "north", "south", "south"]
    one = any_store.read("cases", case_id="a").sort("position")
    assert one["case:region"].to_list() == ["north", "north", "south", "west"]
    alone = any_store.scan("cases").select("case:region").collect()
    assert sorted(alone["case:region"].to_list()) == sorted(read["case:region"].to_list())


def test_import_frame_refuses_events_without_case_or_time(any_store) -> None:
    frame = pl.DataFrame(
        {"case_id": ["a", None], "activity": ["x", "y"], "timestamp": [datetime(2024, 1, 1)] * 2}
    )
    with pytest.raises(InvalidEvents, match="case_id is empty"):
        any_store.import_frame("bad", frame)
    assert any_store.log_names() == []


def test_attribute_types_widen_across_appends(any_store) -> None:
    any_store.append("demo", "c1", [Event("a", datetime(2024, 1, 1), attributes={"n": 1})])
    any_store.append("demo", "c1", [Event("b", datetime(2024, 1, 2), attributes={"n": 2.5})])
    any_store.append("demo", "c1", [Event("c", datetime(2024, 1, 3), attributes={"n": "many"})])
    assert any_store.read("demo")["n"].to_list() == ["1", "2.5", "many"]


# ---------------------------------------------------------------- round trip

attribute_values = {
    "int": st.integers(min_value=-(2**62), max_value=2**62),
    "float": st.floats(allow_nan=False, allow_infinity=False),
    "text": st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20),
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
            activity=draw(
                st.text(
                    st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=10
                ).filter(str.strip)
            ),
            timestamp=draw(
                st.datetimes(
                    min_value=datetime(1970, 1, 2),
                    max_value=datetime(2200, 1, 1),
                    timezones=st.just(UTC),
                )
            ),
            event_id=f"id-{index}",
            resource=draw(
                st.none()
                | st.text(
                    st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=5
                )
            ),
            attributes=attributes,
        )
        batch.append((draw(st.sampled_from(["c1", "c2", "c3"])), event))
    return batch


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(batch=event_batches())
def test_append_then_scan_round_trips(backend, tmp_path_factory, batch) -> None:
    with (
        fresh_location(backend, tmp_path_factory.mktemp("roundtrip")) as location,
        EventStore(location) as store,
    ):
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


@pytest.mark.parametrize(
    "name", ["", "  ", "a/b", "line\nbreak", "tab\there", "bell\x07", "x" * 201]
)
def test_log_names_that_cannot_be_shown_safely_are_refused(any_store, events, name) -> None:
    with pytest.raises(InvalidName):
        any_store.append(name, "c1", events[:1])
    assert any_store.log_names() == []


def test_text_no_backend_can_keep_is_refused_whole(any_store) -> None:
    moment = datetime(2024, 1, 1, tzinfo=UTC)
    with pytest.raises(InvalidEvents, match="NUL"):
        any_store.append("demo", "c1", [Event("a\x00b", moment)])
    with pytest.raises(InvalidEvents, match="Unicode"):
        any_store.append("demo", "c1", [Event("a", moment, attributes={"note": "\ud800"})])
    assert any_store.log_names() == []


def test_a_second_large_import_into_an_analysed_store_finds_what_it_holds(
    any_store, tmp_path
) -> None:
    """A store that holds a log and has fresh statistics (what a large import leaves) takes
    a second log, and a re-import of the first, exactly: the batch's look-ups of cases,
    activities and ids are joins on the batch's keys, whatever plan the statistics invite.
    `benchmarks/backends.py` prints the time of the second and tenth import."""
    from ingest.jobs import ingest
    from ingest.options import ParseOptions, Tuning
    from sample_data.generator import write

    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    rows = write(first, events=30_000, seed=5)
    write(second, events=30_000, seed=6)
    small = ParseOptions(tuning=Tuning(batch_rows=4_000))
    assert ingest(any_store, first, log="first", options=small).events_added == rows
    any_store.analyze()
    added = ingest(any_store, second, log="second", options=small)
    assert added.events_added == any_store.read("second").height
    copy = tmp_path / "copy.csv"  # the same events in a file of other bytes: read again
    copy.write_bytes(first.read_bytes() + b"\n")
    again = ingest(any_store, copy, log="first", options=small)
    assert (again.events_added, again.duplicates) == (0, rows)
    cases = any_store.read("first").group_by("case_id").agg(pl.col("revision").max())
    assert (cases["revision"] + 1).sum() == rows  # revisions 0..n-1 per case: none lost
