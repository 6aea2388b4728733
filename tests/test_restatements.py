"""Restatements: a period's figures as known after each import equal a scan as known then;
the late events explain the difference; lateness and provisional periods follow from the
history of when events arrived."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sample_data.demo import DEMO_FILES, DEMO_LOG
from workbench import Event, EventStore, projections
from workbench import restatements as audit
from workbench.cli import app
from workbench.filters import Filters, TimeRange

MARCH, APRIL = datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC)


@pytest.mark.parametrize(("start", "end"), [(None, None), (MARCH, APRIL)])
def test_each_import_view_equals_a_scan_as_known_then(demo_db, start, end) -> None:
    period = Filters((TimeRange(start, end),)) if start else Filters()
    with EventStore(demo_db) as store:
        history = audit.restatements(store, DEMO_LOG, start=start, end=end)
        assert history.height == 2  # the export, then the late events
        for row in history.iter_rows(named=True):
            view = period.apply(store.scan(DEMO_LOG, known_at=row["known_at"])).collect()
            cases = projections.cases(projections.ordered(view.lazy())).collect()
            assert (row["cases"], row["events"]) == (cases.height, view.height)
            median = cases["duration"].median()
            assert row["median_duration_s"] == pytest.approx(median.total_seconds())  # type: ignore[union-attr]
        first, final = history.row(0, named=True), history.row(-1, named=True)
        assert first["events_added_late"] == 0
        # Exactly the late events make the difference.
        assert final["events"] - first["events"] == final["events_added_late"]
        late_file = pl.read_csv(DEMO_FILES[1])
        if start is None:
            assert final["events_added_late"] == late_file.height
        # What the last import changed: exactly its events in the period, late ones first.
        changed = audit.changes(store, DEMO_LOG, final["known_at"], start=start, end=end)
        assert changed.events.height == final["events"] - first["events"]
        late = changed.events.filter(pl.col("lateness") > pl.duration())
        assert late.height == final["events_added_late"]
        assert changed.variants["change"].sum() == final["cases"] - first["cases"]
        sources = [i.source for i in audit.imports(store, DEMO_LOG)]
        assert [Path(s or "").name for s in sources] == [f.name for f in DEMO_FILES]


def test_a_log_of_one_import_is_never_late(tmp_path) -> None:
    """One import has no frontier before it: every event is on time, in the same columns
    as the events of a log of several imports, and no period is provisional."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with EventStore(tmp_path / "one.db") as store:
        late_first = [Event("b", start + timedelta(days=9)), Event("a", start)]
        store.append("log", "c1", late_first)
        assert len(audit.imports(store, "log")) == 1
        tagged = audit.with_lateness(store.scan("log"), audit.imports(store, "log")).collect()
        assert tagged["import"].to_list() == [0, 0]
        assert tagged["lateness"].to_list() == [timedelta(0)] * 2
        assert not audit.provisional(store, "log")["provisional"].any()
        store.append("log", "c2", [Event("a", start + timedelta(days=1))])  # a second write
        several = audit.with_lateness(store.scan("log"), audit.imports(store, "log")).collect()
        assert several["lateness"].to_list() == [timedelta(0), timedelta(0), timedelta(days=8)]
        assert several.schema == tagged.schema


def test_lateness_and_provisional_periods_of_a_stream(tmp_path) -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with EventStore(tmp_path / "s.db") as store:
        # Daily events; every fifth arrives three days late (appended after later ones).
        for day in range(60):
            store.append("log", f"c{day}", [Event("work", start + timedelta(days=day))])
            if day >= 3 and (day - 3) % 5 == 0:
                checked = start + timedelta(days=day - 3, hours=1)
                store.append("log", f"c{day - 3}", [Event("check", checked)])
        late = audit.lateness(store, "log")
        rows = {row["activity"]: row for row in late.iter_rows(named=True)}
        assert rows["work"]["late_share"] == 0
        assert rows["check"]["late_share"] == 1
        assert rows["check"]["median_lateness"] == timedelta(days=2, hours=23)
        periods = audit.provisional(store, "log", every="1w")
        # Only the last days still wait for their late checks.
        assert periods["provisional"].to_list()[-1]
        assert not periods["provisional"].to_list()[0]
        history = audit.restatements(store, "log", start=start, end=start + timedelta(days=7))
        assert history["events_added_late"].sum() >= 1


def test_the_cli_prints_the_documented_json(demo_db) -> None:
    result = CliRunner().invoke(
        app, ["--db", str(demo_db), "restatements", DEMO_LOG, "--from", "2024-03-01", "--json"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [set(row) >= {"known_at", "recorded_at", "cases", "events", "median_duration_s",
                         "events_added_late"} for row in rows] == [True, True]  # fmt: skip
    assert rows[0]["known_at"] < rows[1]["known_at"]
    table = CliRunner().invoke(
        app, ["--db", str(demo_db), "restatements", DEMO_LOG, "--by", "source"]
    )
    assert table.exit_code == 0, table.output
    assert "order-to-cash-late.csv.gz" in table.output


def test_filters_judge_each_case_as_known_after_each_import(demo_db) -> None:
    from workbench.filters import Attribute

    north = Filters((Attribute("region", ("north",)),))
    with EventStore(demo_db) as store:
        history = audit.restatements(store, DEMO_LOG, start=MARCH, end=APRIL, filters=north)
        for row in history.iter_rows(named=True):
            known = store.scan(DEMO_LOG, known_at=row["known_at"])
            view = Filters((*north.items, TimeRange(MARCH, APRIL))).apply(known).collect()
            assert (row["cases"], row["events"]) == (view["case_id"].n_unique(), view.height)
        whole = audit.lateness(store, DEMO_LOG)
        late = audit.lateness(store, DEMO_LOG, filters=north)
        assert 0 < late["events"].sum() < whole["events"].sum()
    result = CliRunner().invoke(
        app,
        ["--db", str(demo_db), "restatements", DEMO_LOG, "--from", "2024-03-01", "--to",
         "2024-04-01", "--attribute", "region=north", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [row["cases"] for row in json.loads(result.stdout)] == history["cases"].to_list()


@settings(max_examples=15, deadline=None)
@given(
    writes=st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 40), st.integers(1, 3)), min_size=1, max_size=25
    ),
    window=st.tuples(st.integers(0, 45), st.integers(0, 20)),
)
def test_figures_per_case_equal_a_cut_and_filter_per_import(tmp_path_factory, writes, window):
    """Without filters the figures come from one row per case and import; with a filter
    that keeps everything, from cutting and filtering the log at every import; each equals
    a scan of the store as known after that import. Writes land out of time order, so many
    events are late, and every append is an import of its own."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    folder = tmp_path_factory.mktemp("restated")
    low = start + timedelta(days=window[0])
    high = low + timedelta(days=window[1])
    everything = Filters((TimeRange(mode="trim"),))
    with EventStore(folder / "s.db") as store:
        for case, day, count in writes:
            moments = [start + timedelta(days=day, hours=hour) for hour in range(count)]
            store.append("log", f"c{case}", [Event("a", moment) for moment in moments])
        for period in ((None, None), (low, None), (None, high), (low, high)):
            fast = audit.restatements(store, "log", start=period[0], end=period[1])
            slow = audit.restatements(
                store, "log", start=period[0], end=period[1], filters=everything
            )
            assert fast.equals(slow)
            kept = Filters((TimeRange(*period),)) if any(period) else Filters()
            for row in fast.iter_rows(named=True):
                view = kept.apply(store.scan("log", known_at=row["known_at"])).collect()
                durations = view.group_by("case_id").agg(
                    (pl.col("timestamp").max() - pl.col("timestamp").min()).alias("d")
                )
                assert (row["cases"], row["events"]) == (durations.height, view.height)
                median = durations["d"].median()
                assert row["median_duration_s"] == median.total_seconds()  # type: ignore[union-attr]


def test_lateness_and_figures_in_working_time(tmp_path) -> None:
    """A check 2 days and 23 hours behind the frontier is late by the working hours in
    between; the period's median duration is working time; both by brute force."""
    from tests.test_calendars import brute_force
    from workbench.calendars import Calendar

    office = Calendar.parse("office", ["mon-fri 09:00-17:00"])
    start = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday
    with EventStore(tmp_path / "s.db") as store:
        for day in range(30):
            store.append("log", f"c{day}", [Event("work", start + timedelta(days=day))])
            if day >= 3 and (day - 3) % 5 == 0:
                checked = start + timedelta(days=day - 3, hours=1)
                store.append("log", f"c{day - 3}", [Event("check", checked)])
        found = audit.lateness(store, "log", calendar=office)
        checks = store.scan("log").filter(pl.col("activity") == "check").collect()
        frontiers = [moment.replace(hour=0) + timedelta(days=3) for moment in checks["timestamp"]]
        walked = sorted(
            brute_force(office, moment, frontier)
            for moment, frontier in zip(checks["timestamp"], frontiers, strict=True)
        )
        row = found.filter(pl.col("activity") == "check").row(0, named=True)
        assert row["max_lateness"].total_seconds() == max(walked)
        history = audit.restatements(store, "log", calendar=office)
        cases = projections.cases(projections.ordered(store.scan("log"))).collect()
        working = [
            brute_force(office, a, b) for a, b in zip(cases["start"], cases["end"], strict=True)
        ]
        assert history["median_duration_s"][-1] == pytest.approx(float(pl.Series(working).median()))
