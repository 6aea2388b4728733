"""Projections agree with pm4py on the real logs, and behave as metrics should."""

from __future__ import annotations

import contextlib
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from ingest.jobs import ingest
from tests.conftest import real_log
from workbench import EventStore
from workbench.projections import (
    activities,
    cases,
    directly_follows,
    end_activities,
    start_activities,
    variants,
)

LOGS = ["running-example.xes", "receipt.csv", "sepsis.xes.gz", "bpic2012.xes.gz"]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pl.DataFrame]:
    """Each real log read back from a store, in position order."""
    path: Path = tmp_path_factory.mktemp("projections") / "store.db"
    frames = {}
    with EventStore(path) as store:
        for name in LOGS:
            ingest(store, real_log(name), log=name)
            frames[name] = store.read(name)
    return frames


def _pm4py() -> Any:
    with contextlib.redirect_stdout(io.StringIO()):  # its banner
        import pm4py
    return pm4py


def _pandas(events: pl.DataFrame) -> Any:
    """The same events for pm4py, sorted by case, time and position (append order)."""
    return (
        events.sort("case_id", "timestamp", "position")
        .select(
            pl.col("case_id").alias("case:concept:name"),
            pl.col("activity").alias("concept:name"),
            pl.col("timestamp").alias("time:timestamp"),
        )
        .to_pandas()
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", LOGS)
def test_directly_follows_frequencies_match_pm4py(loaded, name) -> None:
    pm4py = _pm4py()
    dfg, start, end = pm4py.discover_dfg(_pandas(loaded[name]))
    ours = directly_follows(loaded[name].lazy()).collect()
    assert {(r["source"], r["target"]): r["frequency"] for r in ours.iter_rows(named=True)} == dfg
    assert dict(start_activities(loaded[name].lazy()).collect().iter_rows()) == start
    assert dict(end_activities(loaded[name].lazy()).collect().iter_rows()) == end


@pytest.mark.slow
@pytest.mark.parametrize("name", LOGS)
def test_performance_dfg_means_match_pm4py(loaded, name) -> None:
    pm4py = _pm4py()
    performance, _, _ = pm4py.discover_performance_dfg(_pandas(loaded[name]))
    ours = directly_follows(loaded[name].lazy()).collect()
    for row in ours.iter_rows(named=True):
        theirs = performance[(row["source"], row["target"])]
        assert row["mean_duration"].total_seconds() == pytest.approx(theirs["mean"], abs=1e-3)
        assert row["median_duration"].total_seconds() == pytest.approx(theirs["median"], abs=1e-3)
        assert row["max_duration"].total_seconds() == pytest.approx(theirs["max"], abs=1e-3)
        assert row["min_duration"].total_seconds() == pytest.approx(theirs["min"], abs=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("name", LOGS)
def test_variants_match_pm4py(loaded, name) -> None:
    pm4py = _pm4py()
    theirs = pm4py.get_variants(_pandas(loaded[name]))
    ours = variants(loaded[name].lazy()).collect()
    assert {tuple(r["variant"]): r["cases"] for r in ours.iter_rows(named=True)} == theirs
    assert ours["share"].sum() == pytest.approx(1.0)
    assert ours["cases"].is_sorted(descending=True)


@pytest.mark.slow
@pytest.mark.parametrize("name", LOGS)
def test_case_durations_match_pm4py(loaded, name) -> None:
    pm4py = _pm4py()
    theirs = sorted(pm4py.get_all_case_durations(_pandas(loaded[name])))
    ours = cases(loaded[name].lazy()).collect()
    seconds = sorted(d.total_seconds() for d in ours["duration"])
    assert seconds == pytest.approx(theirs, abs=1e-3)


def test_cases_table(loaded) -> None:
    table = cases(loaded["running-example.xes"].lazy()).collect()
    assert table.height == 6
    assert {
        "case_id",
        "start",
        "end",
        "duration",
        "events",
        "variant",
        "rework",
        "last_activity",
    } <= set(table.columns)
    assert "case:creator" in table.columns  # a trace attribute is a case attribute
    assert "Costs" not in table.columns  # an event attribute is not
    row = table.filter(pl.col("case_id") == "3").row(0, named=True)
    assert row["events"] == len(row["variant"]) == 9
    assert row["rework"] == 9 - len(set(row["variant"]))


def test_activities_with_service_times(store) -> None:
    ingest(store, real_log("interval_event_log.xes"), log="interval")
    table = activities(store.scan("interval")).collect()
    assert table["events"].sum() == store.read("interval").height
    assert (table["mean_service"] > timedelta(0)).all()
    assert table.filter(pl.col("mean_waiting").is_null())["activity"].to_list() == ["place order"]


def test_activities_service_time_from_start_complete_pairs() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    events = pl.LazyFrame(
        {
            "position": [1, 2, 3, 4, 5],
            "case_id": ["c"] * 5,
            "activity": ["a", "a", "b", "b", "c"],
            "lifecycle": ["start", "complete", "start", "complete", "complete"],
            "resource": ["x", "x", "y", "y", None],
            "timestamp": [start + timedelta(minutes=m) for m in (0, 10, 30, 60, 61)],
        }
    )
    table = activities(events).collect().sort("activity")
    minutes = [timedelta(minutes=m) for m in (10, 30, 0)]
    assert table["mean_service"].to_list() == minutes  # c: a completion alone took no time
    # From the end of the previous activity to this start: b from 10 to 30, c from 60 to 61.
    assert table["mean_waiting"].to_list() == [None, timedelta(minutes=20), timedelta(minutes=1)]
    assert table["resources"].to_list() == [1, 1, 0]


def test_equal_timestamps_keep_append_order() -> None:
    moment = datetime(2024, 1, 1, tzinfo=UTC)
    events = pl.LazyFrame(
        {
            "position": [3, 1, 2],
            "case_id": ["c"] * 3,
            "activity": ["c", "a", "b"],
            "timestamp": [moment] * 3,
        }
    )
    edges = directly_follows(events).collect()
    assert set(zip(edges["source"], edges["target"], strict=True)) == {("a", "b"), ("b", "c")}


@st.composite
def event_logs(draw: st.DrawFn) -> pl.DataFrame:
    size = draw(st.integers(min_value=1, max_value=40))
    return pl.DataFrame(
        {
            "position": list(range(1, size + 1)),
            "case_id": draw(st.lists(st.sampled_from("pqrst"), min_size=size, max_size=size)),
            "activity": draw(st.lists(st.sampled_from("abcd"), min_size=size, max_size=size)),
            "timestamp": [
                datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=h)
                for h in draw(st.lists(st.integers(0, 50), min_size=size, max_size=size))
            ],
        }
    )


@settings(max_examples=60, deadline=None)
@given(log=event_logs(), split=st.sets(st.sampled_from("pqrst")))
def test_additive_metrics_of_disjoint_cases_sum(log, split) -> None:
    left = log.filter(pl.col("case_id").is_in(list(split)))
    right = log.filter(~pl.col("case_id").is_in(list(split)))

    def counts(frame: pl.DataFrame) -> pl.DataFrame:
        return directly_follows(frame.lazy()).select("source", "target", "frequency").collect()

    both = (
        pl.concat([counts(left), counts(right)])
        .group_by("source", "target")
        .agg(pl.col("frequency").sum())
    )
    assert_frame_equal(
        counts(log).sort("source", "target"),
        both.sort("source", "target"),
        check_dtypes=False,
    )
    starts = (
        pl.concat(
            [start_activities(left.lazy()).collect(), start_activities(right.lazy()).collect()]
        )
        .group_by("activity")
        .agg(pl.col("cases").sum())
    )
    assert_frame_equal(
        start_activities(log.lazy()).collect().sort("activity"),
        starts.sort("activity"),
        check_dtypes=False,
    )
    assert variants(log.lazy()).collect()["cases"].sum() == log["case_id"].n_unique()


@settings(max_examples=60, deadline=None)
@given(log=event_logs(), every=st.sampled_from(["1h", "6h", "1d"]))
def test_wip_and_throughput_agree_with_a_brute_force_count(log, every) -> None:
    from workbench.projections import throughput, wip

    spans = log.group_by("case_id").agg(
        start=pl.col("timestamp").min(), end=pl.col("timestamp").max()
    )
    table = wip(log.lazy(), every=every).collect()
    step = pl.duration(hours={"1h": 1, "6h": 6, "1d": 24}[every])
    for period, open_cases in table.iter_rows():
        period_end = pl.select(pl.lit(period) + step).item()
        expected = spans.filter(
            (pl.col("start") < period_end) & (pl.col("end").dt.truncate(every) >= period)
        ).height
        assert open_cases == expected, period
    flow = throughput(log.lazy(), every=every).collect()
    assert flow["events"].sum() == log.height
    assert flow["cases_started"].sum() == flow["cases_completed"].sum() == spans.height
    for period in (every, "1w", "1mo"):  # in case order: the same, by where cases change
        in_order = log.sort("case_id", "timestamp", "position").lazy()
        assert_frame_equal(
            throughput(in_order, every=period, presorted=True).collect(),
            throughput(log.lazy(), every=period).collect(),
        )


def test_handover_counts_changes_of_resource() -> None:
    from workbench.projections import handover

    moment = datetime(2024, 1, 1, tzinfo=UTC)
    events = pl.LazyFrame(
        {
            "position": [1, 2, 3, 4, 5],
            "case_id": ["c", "c", "c", "d", "d"],
            "activity": ["a", "b", "c", "a", "b"],
            "resource": ["ann", "ann", "bob", "ann", "bob"],
            "timestamp": [moment + timedelta(hours=h) for h in (0, 1, 3, 0, 2)],
        }
    )
    table = handover(events).collect()
    assert table.rows() == [("ann", "bob", 2, 2, timedelta(hours=2))]


def test_rework_counts_occurrences_not_lifecycle_transitions() -> None:
    from workbench.projections import rework

    moment = datetime(2024, 1, 1, tzinfo=UTC)
    events = pl.LazyFrame(
        {
            "position": list(range(1, 8)),
            "case_id": ["c"] * 4 + ["d"] * 3,
            "activity": ["a", "a", "b", "b", "b", "a", "c"],
            "lifecycle": ["start", "complete", "complete", "complete", "complete", None, None],
            "timestamp": [moment + timedelta(hours=h) for h in (0, 1, 2, 9, 0, 1, 2)],
        }
    )
    table = rework(events).collect()
    assert table.select("activity", "cases", "repetitions").rows() == [("b", 1, 1)]
    assert table["extra_duration"].to_list() == [timedelta(hours=9 - 2)]


@settings(max_examples=40, deadline=None)
@given(log=event_logs())
def test_presorted_input_gives_the_same_metrics(log) -> None:
    from workbench.projections import bottlenecks, dotted_chart, handover, ordered

    lazy = log.lazy().with_columns(
        pl.lit("complete").alias("lifecycle"), pl.col("case_id").alias("resource")
    )
    once = ordered(lazy).collect().lazy()
    for metric in (
        directly_follows,
        variants,
        start_activities,
        end_activities,
        cases,
        activities,
        handover,
        bottlenecks,
        dotted_chart,
    ):
        assert_frame_equal(
            metric(once, presorted=True).collect(), metric(lazy).collect(), check_row_order=False
        )


@settings(max_examples=30, deadline=None)
@given(log=event_logs(), limit=st.integers(min_value=0, max_value=30))
def test_a_limited_dotted_chart_is_the_first_points_of_the_whole(log, limit) -> None:
    from workbench.projections import dotted_chart

    lazy = log.lazy().with_columns(pl.col("case_id").alias("resource"))
    whole = dotted_chart(lazy).collect()
    assert_frame_equal(dotted_chart(lazy, limit=limit).collect(), whole.head(limit))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=10**15), min_size=1, max_size=300),
    st.integers(min_value=1, max_value=80),
)
def test_the_duration_histogram_puts_each_case_in_one_bin(micros: list[int], bins: int) -> None:
    """Every duration falls in exactly one bin, the bins tile the range at one width from
    the list of readable widths, and there are at most ``bins`` of them, one more when the
    longest lies on an edge."""
    from workbench.summary import WIDTHS, histogram

    durations = pl.Series([timedelta(microseconds=m) for m in micros])
    found = histogram(durations, bins=bins)
    assert found["cases"].sum() == len(micros)
    width = found["to"] - found["from"]
    assert width.n_unique() == 1
    assert any(abs(width[0].total_seconds() - w) < 1e-6 for w in WIDTHS)
    assert (found["from"].tail(-1) == found["to"].head(-1)).all()
    assert found.height <= bins + 1
    for duration in durations:
        inside = found.filter((pl.col("from") <= duration) & (duration < pl.col("to")))
        assert inside.height == 1
    assert found["cases"][0] > 0
    assert found["cases"][-1] > 0
