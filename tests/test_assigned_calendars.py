"""Calendars by the value of one attribute (a site's, a team's, a resource's hours): the
value in force in a case at a duration's end chooses the calendar; against a brute-force
reading of each case's events, through the commands, the app and on record."""

from __future__ import annotations

import json
import statistics
import time
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.calendars import Assigned, Calendar

DAY = Calendar.parse("day", ["mon-fri 09:00-17:00"], timezone="Europe/Amsterdam")
LONG = Calendar.parse("long", ["mon-sat 07:00-21:00"], timezone="Asia/Tokyo")
NIGHT = Calendar.parse("night", ["sun-thu 22:00-24:00", "mon-fri 00:00-06:00"])
START = datetime(2024, 3, 25, 6, 0, tzinfo=UTC)  # a week with a daylight-saving change


def expected(
    events: pl.DataFrame,
    chosen: dict[str, Calendar],
    default: Calendar | None,
    case: str,
    start: datetime,
    end: datetime,
) -> float:
    """Working seconds by the rule, read off the case's events one by one: the value of
    its last event by ``end`` that carries one (by time, then position), else its first."""
    rows = events.filter(pl.col("case_id") == case).sort("timestamp", "position")
    carried = [row for row in rows.iter_rows(named=True) if row["site"] is not None]
    by_then = [row for row in carried if row["timestamp"] <= end]
    value = by_then[-1]["site"] if by_then else carried[0]["site"] if carried else None
    calendar = chosen.get(value, default) if value is not None else default
    if calendar is None:
        return (end - start).total_seconds()
    return calendar.seconds(pl.Series([start]), pl.Series([end]))[0]  # type: ignore[no-any-return]


_event = st.tuples(
    st.sampled_from(["c1", "c2", "c3", "c4"]),
    st.integers(0, 60).map(lambda h: 4 * 60 * h),  # minutes after START, on the hour: ties
    st.sampled_from(["Utrecht", "Delft", "Gouda", None]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(_event, min_size=1, max_size=25),
    durations=st.lists(
        st.tuples(
            st.sampled_from(["c1", "c2", "c3", "c4", "c5"]),
            st.integers(0, 60).map(lambda h: 4 * 60 * h),  # at an event's moment, often
        ),
        min_size=1,
        max_size=12,
    ),
    spans=st.lists(st.integers(0, 3 * 24 * 60), min_size=12, max_size=12),
    with_default=st.booleans(),
)
def test_each_duration_counts_in_its_cases_value_at_its_end(
    rows, durations, spans, with_default
) -> None:
    events = pl.DataFrame(
        {
            "case_id": [case for case, _, _ in rows],
            "timestamp": [START + timedelta(minutes=m) for _, m, _ in rows],
            "position": list(range(1, len(rows) + 1)),
            "site": [site for _, _, site in rows],
        },
        schema_overrides={"timestamp": pl.Datetime("us", "UTC")},
    )
    chosen = {"Utrecht": DAY, "Delft": LONG}  # Gouda: the default's
    default = NIGHT if with_default else None
    assigned = Assigned.of("site", chosen, default, events.lazy())
    cases = [case for case, _ in durations]
    ends = [START + timedelta(minutes=m) for _, m in durations]
    starts = [end - timedelta(minutes=spans[i]) for i, end in enumerate(ends)]
    found = assigned.seconds(pl.Series(starts), pl.Series(ends), pl.Series(cases)).to_list()
    wanted = [
        expected(events, chosen, default, case, a, b)
        for case, a, b in zip(cases, starts, ends, strict=True)
    ]
    assert found == pytest.approx(wanted, abs=1e-6)


def test_a_value_in_force_and_the_cases_first_value_before_it() -> None:
    """A case moves from Utrecht to Delft at noon on Tuesday: a wait that ends before the
    move counts Utrecht's hours, one that ends after counts Delft's; before its first value
    a case counts in its first value's calendar; a case without the attribute in the
    default's; a case not in the log at all, too."""
    monday = datetime(2024, 6, 3, tzinfo=UTC)
    events = pl.DataFrame(
        {
            "case_id": ["a", "a", "a", "b"],
            "timestamp": [monday + timedelta(hours=h) for h in (10, 20, 36, 10)],
            "position": [1, 2, 3, 4],
            "site": [None, "Utrecht", "Delft", None],
        },
        schema_overrides={"timestamp": pl.Datetime("us", "UTC")},
    )
    utrecht = Calendar.parse("u", ["mon-fri 09:00-17:00"])
    delft = Calendar.parse("d", ["mon-fri 12:00-14:00"])
    assigned = Assigned.of("site", {"Utrecht": utrecht, "Delft": delft}, None, events.lazy())
    starts = [monday + timedelta(hours=8)] * 5
    ends = [monday + timedelta(hours=h) for h in (11, 35, 37, 11, 11)]
    found = assigned.seconds(
        pl.Series(starts), pl.Series(ends), pl.Series(["a", "a", "a", "b", "z"])
    ).to_list()
    hour = 3600.0
    assert found == [
        2 * hour,  # before any value: the case's first (Utrecht), 09:00-11:00
        10 * hour,  # Tuesday 11:00, Utrecht still: Monday 09-17 and Tuesday 09-11
        3 * hour,  # Tuesday 13:00, moved to Delft: Monday 12-14 and Tuesday 12-13
        3 * hour,  # case b has no site: the default, here elapsed time (08:00-11:00)
        3 * hour,  # a case the log does not have: the same
    ]


def _cli(db, *args: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from workbench.cli import app

    result = CliRunner().invoke(app, ["--db", str(db), *args])
    return result.exit_code, result.output


EARLY = Calendar.parse("early", ["mon-sat 06:00-12:00"], timezone="Europe/Amsterdam")
OFFICE = Calendar.parse("office", ["mon-fri 09:00-17:00"])


@pytest.fixture
def assigned_store(tmp_path):  # type: ignore[no-untyped-def]
    """The running example with Pete's and Mike's hours (early) by the resource, and the
    office calendar as the log's default for everyone else."""
    from tests.conftest import real_log

    db = tmp_path / "s.db"
    assert _cli(db, "ingest", str(real_log("running-example.csv")), "--log", "run")[0] == 0
    assert _cli(db, "calendar", "add", "office", "--hours", "mon-fri 09:00-17:00")[0] == 0
    early = ["--hours", "mon-sat 06:00-12:00", "--timezone", "Europe/Amsterdam"]
    assert _cli(db, "calendar", "add", "early", *early)[0] == 0
    assert _cli(db, "calendar", "assign", "office", "--log", "run")[0] == 0
    code, output = _cli(
        db, "calendar", "assign", "early", "--log", "run", "--attribute", "resource=Pete,Mike"
    )
    assert code == 0, output
    assert "cases with resource Pete, Mike in early" in output
    return db


def _by_rule(db, *, known_at: datetime | None = None) -> tuple[pl.DataFrame, Assigned]:  # type: ignore[no-untyped-def]
    from workbench import EventStore

    with EventStore(db) as store:
        events = store.scan("run").collect()
    chosen = {"Pete": EARLY, "Mike": EARLY}
    return events, Assigned.of("resource", chosen, OFFICE, events.lazy())


def _expected_seconds(events: pl.DataFrame, case: str, a: datetime, b: datetime) -> float:
    rows = events.filter(pl.col("case_id") == case).sort("timestamp", "position")
    by_then = [r for r in rows.iter_rows(named=True) if r["timestamp"] <= b and r["resource"]]
    value = by_then[-1]["resource"] if by_then else rows["resource"].drop_nulls()[0]
    calendar = EARLY if value in ("Pete", "Mike") else OFFICE
    return calendar.seconds(pl.Series([a]), pl.Series([b]))[0]  # type: ignore[no-any-return]


def test_the_commands_count_each_case_in_its_values_calendar(assigned_store) -> None:
    db = assigned_store
    events, _ = _by_rule(db)
    spans = events.group_by("case_id").agg(a=pl.col("timestamp").min(), b=pl.col("timestamp").max())
    working = [_expected_seconds(events, *row) for row in spans.iter_rows()]
    code, output = _cli(db, "stats", "run", "--json")
    assert code == 0, output
    found = json.loads(output)
    assert found["calendar"] == "assigned"  # the log's assignment, unless another is asked
    assert found["case_duration_seconds"]["median"] == pytest.approx(statistics.median(working))
    assert found["case_duration_seconds"]["max"] == pytest.approx(max(working))
    office = json.loads(_cli(db, "stats", "run", "--json", "--calendar", "office")[1])
    assert office["calendar"] == "office"
    assert office["case_duration_seconds"] != found["case_duration_seconds"]
    # The process map's waits: each in its case's value at the wait's end (the target).
    ordered = events.sort("case_id", "timestamp", "position")
    steps = ordered.with_columns(
        target=pl.col("activity").shift(-1).over("case_id"),
        until=pl.col("timestamp").shift(-1).over("case_id"),
    ).filter(pl.col("target").is_not_null())
    waits: dict[tuple[str, str], list[float]] = {}
    for row in steps.iter_rows(named=True):
        seconds = _expected_seconds(events, row["case_id"], row["timestamp"], row["until"])
        waits.setdefault((row["activity"], row["target"]), []).append(seconds)
    code, output = _cli(db, "dfg", "run", "--json")
    edges = {(e["source"], e["target"]): e for e in json.loads(output)["edges"]}
    assert set(edges) == set(waits)
    for pair, seconds in waits.items():
        assert edges[pair]["mean_seconds"] == pytest.approx(statistics.mean(seconds))
        assert edges[pair]["max_seconds"] == pytest.approx(max(seconds))
    # A span in days is refused where the calendars' working days differ.
    code, output = _cli(
        db, "stats", "run", "--follows", "register request", "decide", "--within", "2d"
    )
    assert code == 2
    assert "working days of different lengths" in output
    assert (
        _cli(db, "stats", "run", "--follows", "register request", "decide", "--within", "30h")[0]
        == 0
    )


def test_state_elapsed_and_idle_by_the_cases_value(assigned_store) -> None:
    db = assigned_store
    events, _ = _by_rule(db)
    seen = set()
    for at in (datetime(2010, 12, 30, 16, tzinfo=UTC), datetime(2011, 1, 5, 12, tzinfo=UTC)):
        code, output = _cli(db, "state", "run", "--at", at.isoformat(), "--format", "json")
        assert code == 0, output
        rows = json.loads(output)
        assert rows
        for row in rows:
            assert row["calendar"] == "assigned"
            if row["status"] != "open":
                continue
            start = datetime.fromisoformat(row["start"])
            last = datetime.fromisoformat(row["last_timestamp"])
            case = row["case_id"]
            assert row["elapsed"] == pytest.approx(_expected_seconds(events, case, start, at))
            assert row["idle"] == pytest.approx(_expected_seconds(events, case, last, at))
            seen.add(row["last_resource"] in ("Pete", "Mike"))
    assert seen == {True, False}  # cases in both calendars


def test_assignments_are_recorded_facts(assigned_store) -> None:
    db = assigned_store
    code, output = _cli(db, "calendar", "list", "--json")
    listed = {row["name"]: row for row in json.loads(output)}
    assert listed["early"]["assigned_to"] == [
        {"log": "run", "attribute": "resource", "values": ["Pete", "Mike"]}
    ]
    assert listed["office"]["default_of"] == ["run"]
    before = datetime.now(UTC)
    time.sleep(0.01)
    # One attribute per log: another is refused by name, the store untouched.
    code, output = _cli(
        db, "calendar", "assign", "office", "--log", "run", "--attribute", "Costs=50"
    )
    assert code == 2
    assert "run has calendars by 'resource'" in output
    code, output = _cli(db, "calendar", "assign", "office", "--log", "run", "--attribute", "nope=1")
    assert code == 2
    assert "no attribute 'nope'" in output
    code, output = _cli(
        db, "calendar", "assign", "office", "--log", "run", "--attribute", "resource"
    )
    assert code == 2
    assert "site=Utrecht,Delft" in output
    # Pete back to the default, Mike's stays; as known before, both were early.
    code, output = _cli(
        db, "calendar", "assign", "elapsed", "--log", "run", "--attribute", "resource=Pete"
    )
    assert code == 0, output
    listed = {row["name"]: row for row in json.loads(_cli(db, "calendar", "list", "--json")[1])}
    assert listed["early"]["assigned_to"][0]["values"] == ["Mike"]
    earlier = json.loads(
        _cli(db, "calendar", "list", "--json", "--known-at", before.isoformat())[1]
    )
    assert {row["name"]: row for row in earlier}["early"]["assigned_to"][0]["values"] == [
        "Pete",
        "Mike",
    ]
    now = json.loads(_cli(db, "stats", "run", "--json")[1])["case_duration_seconds"]
    then = json.loads(_cli(db, "stats", "run", "--json", "--known-at", before.isoformat())[1])
    assert then["calendar"] == "assigned"
    assert then["case_duration_seconds"] != now
    # Without values left, the log's durations are in its default again.
    assert (
        _cli(db, "calendar", "assign", "elapsed", "--log", "run", "--attribute", "resource=Mike")[0]
        == 0
    )
    assert json.loads(_cli(db, "stats", "run", "--json")[1])["calendar"] == "office"


def test_the_app_shows_the_assigned_calendars_as_stats_does(assigned_store, monkeypatch) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.test_app import APP, close_app_store
    from workbench.durations import human_working

    found = json.loads(_cli(assigned_store, "stats", "run", "--json")[1])
    median = timedelta(seconds=found["case_duration_seconds"]["median"])
    monkeypatch.setenv("WORKBENCH_DB", str(assigned_store))
    app = AppTest.from_file(APP, default_timeout=120)
    app.query_params["log"] = "run"
    app.run()
    app.switch_page("views/overview.py").run()
    try:
        assert not app.exception, [e.value for e in app.exception]
        durations = next(box for box in app.sidebar.selectbox if box.label == "Durations in")
        assert durations.value == "assigned"
        metrics = {m.label: m.value for m in app.metric}
        assert metrics["Median case duration"] == human_working(median, float("inf"))
        for page in ("performance", "time_travel", "cases", "process_map", "compare"):
            app.switch_page(f"views/{page}.py").run()
            assert not app.exception, (page, [e.value for e in app.exception])
            assert not app.error, (page, [e.value for e in app.error])
    finally:
        close_app_store()
