"""Working calendars: business time against a brute-force walk, and by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.calendars import DAYS, Calendar, CalendarError

ZONES = ("UTC", "Europe/Amsterdam", "America/New_York", "Australia/Sydney", "Asia/Kolkata")
# Weeks around daylight-saving changes (Europe, the United States, Australia) and a plain one.
AROUND = (
    datetime(2024, 3, 28, tzinfo=UTC),
    datetime(2024, 10, 24, tzinfo=UTC),
    datetime(2024, 3, 7, tzinfo=UTC),
    datetime(2024, 11, 1, tzinfo=UTC),
    datetime(2024, 4, 4, tzinfo=UTC),
    datetime(2024, 6, 12, tzinfo=UTC),
)


def brute_force(calendar: Calendar, start: datetime, end: datetime) -> float:
    """Working seconds from start to end, a minute at a time (both on whole minutes): a
    minute counts when it lies in one of the working ranges of a local day, each range
    from its opening to its closing on the wall clock."""
    zone = ZoneInfo(calendar.timezone)
    low, high = min(start, end), max(start, end)
    spans = []
    day = low.astimezone(zone).date() - timedelta(days=1)
    while day <= high.astimezone(zone).date() + timedelta(days=1):
        if not calendar.is_holiday(day):
            for opening, closing in calendar.hours[day.weekday()]:
                midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
                o = midnight.replace(hour=opening // 60, minute=opening % 60)
                c = (
                    datetime(*(day + timedelta(days=1)).timetuple()[:3], tzinfo=zone)
                    if closing == 24 * 60
                    else midnight.replace(hour=closing // 60, minute=closing % 60)
                )
                spans.append((o.astimezone(UTC), c.astimezone(UTC)))
        day += timedelta(days=1)
    counted = 0
    minute = low
    while minute < high:
        if any(o <= minute < c for o, c in spans):
            counted += 60
        minute += timedelta(minutes=1)
    return counted if end >= start else -counted


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


_range = st.tuples(st.integers(0, 24 * 60 - 15), st.integers(15, 12 * 60)).map(
    lambda r: (r[0] - r[0] % 15, min(r[0] - r[0] % 15 + r[1], 24 * 60))
)


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    zone = draw(st.sampled_from(ZONES))
    hours = []
    for day in DAYS:
        for opening, closing in draw(st.lists(_range, max_size=2)):
            hours.append(f"{day} {_clock(opening)}-{_clock(closing)}")
    if not hours:
        hours = ["mon-fri 09:00-17:00"]
    base = draw(st.sampled_from(AROUND)).date()
    holidays = draw(st.lists(st.integers(-3, 12), max_size=3))
    named = [(base + timedelta(days=offset)).isoformat() for offset in holidays]
    return Calendar.parse("c", hours, timezone=zone, holidays=named)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    calendar=calendars(),
    around=st.sampled_from(AROUND),
    moments=st.lists(st.integers(0, 9 * 24 * 60), min_size=2, max_size=8),
)
def test_business_time_equals_a_walk_over_the_working_hours(calendar, around, moments) -> None:
    times = [around + timedelta(minutes=m) for m in moments]
    starts, ends = times[::2], times[1::2]
    starts = starts[: len(ends)]
    found = calendar.seconds(pl.Series(starts), pl.Series(ends)).to_list()
    assert found == [brute_force(calendar, a, b) for a, b in zip(starts, ends, strict=True)]


def test_a_weekend_wait_is_working_hours_only() -> None:
    calendar = Calendar.parse("office", ["mon-fri 09:00-17:00"], timezone="Europe/Amsterdam")
    friday = datetime(2024, 3, 15, 15, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))
    monday = datetime(2024, 3, 18, 11, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))
    assert calendar.duration(friday, monday) == timedelta(hours=4)
    saturday = datetime(2024, 3, 16, 12, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))
    assert calendar.duration(saturday, monday) == timedelta(hours=2)  # from the next opening
    assert calendar.duration(monday, friday) == -timedelta(hours=4)


def test_daylight_saving_days_have_the_hours_they_really_had() -> None:
    night = Calendar.parse("night", ["sun 01:00-04:00"], timezone="Europe/Amsterdam")
    zone = ZoneInfo("Europe/Amsterdam")
    spring = datetime(2024, 3, 31, tzinfo=zone), datetime(2024, 4, 1, tzinfo=zone)
    autumn = datetime(2024, 10, 27, tzinfo=zone), datetime(2024, 10, 28, tzinfo=zone)
    assert night.duration(*spring) == timedelta(hours=2)  # 02:00-03:00 did not happen
    assert night.duration(*autumn) == timedelta(hours=4)  # 02:00-03:00 happened twice
    day = Calendar.parse("day", ["sun 09:00-17:00"], timezone="Europe/Amsterdam")
    assert day.duration(*spring) == day.duration(*autumn) == timedelta(hours=8)


def test_holidays_named_and_public_are_closed() -> None:
    named = Calendar.parse("x", ["mon-fri 09:00-17:00"], holidays=["2024-12-25", "2024-12-26"])
    public = Calendar.parse("nl", ["mon-fri 09:00-17:00"], country="nl")
    week = datetime(2024, 12, 23, tzinfo=UTC), datetime(2024, 12, 28, tzinfo=UTC)
    assert named.duration(*week) == timedelta(hours=24)  # five days less two
    assert public.duration(*week) == timedelta(hours=24)  # Christmas in the Netherlands
    assert public.is_holiday(date(2025, 4, 21))  # Easter Monday: the package knows the years


def test_spans_of_years_and_nulls() -> None:
    calendar = Calendar.parse("office", ["mon-fri 09:00-17:00"])
    start = datetime(2020, 1, 6, tzinfo=UTC)  # a Monday
    end = start + timedelta(weeks=52 * 4)
    assert calendar.duration(start, end) == timedelta(hours=40 * 52 * 4)
    found = calendar.seconds(pl.Series([start, None]), pl.Series([end, end]))
    assert found.to_list() == [40 * 52 * 4 * 3600, None]


@pytest.mark.parametrize(
    ("hours", "words"),
    [
        (["monday 09:00-17:00"], "write days and a time range"),
        (["mon-fri 17:00-09:00"], "must end after it starts"),
        (["mon 09:00-25:00"], "not a time of day"),
        (["xyz 09:00-10:00"], "days are mon"),
        ([], "give working hours"),
    ],
)
def test_bad_hours_are_named(hours, words) -> None:
    with pytest.raises(CalendarError, match=words):
        Calendar.parse("c", hours)


def test_bad_zones_holidays_and_countries_are_named() -> None:
    with pytest.raises(CalendarError, match="IANA time zone"):
        Calendar.parse("c", ["mon 09:00-17:00"], timezone="Mars/Olympus")
    with pytest.raises(CalendarError, match="write dates as"):
        Calendar.parse("c", ["mon 09:00-17:00"], holidays=["25/12/2024"])
    with pytest.raises(CalendarError, match="country code"):
        Calendar.parse("c", ["mon 09:00-17:00"], country="Atlantis")


def test_a_calendar_is_kept_and_read_back_as_it_was() -> None:
    calendar = Calendar.parse(
        "c",
        ["mon-fri 09:00-12:00", "mon-fri 13:00-17:00", "sat 10:00-24:00"],
        timezone="Europe/Amsterdam",
        holidays=["2024-12-25"],
        country="NL",
    )
    again = Calendar.from_json("c", calendar.to_json())
    assert again == calendar
    assert calendar.weekly_seconds == (7 * 5 + 14) * 3600
    assert calendar.describe()[0] == "mon: 09:00-12:00, 13:00-17:00"


def _cli(db, *args: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from workbench.cli import app

    result = CliRunner().invoke(app, ["--db", str(db), *args])
    return result.exit_code, result.output


def test_calendars_are_recorded_facts_read_as_known_at_any_moment(any_store) -> None:
    import time

    from workbench.application import BadArgument, Workbench

    with Workbench(any_store.location) as bench:
        first = Calendar.parse("office", ["mon-fri 09:00-17:00"], country="NL")
        bench.add_calendar(first)
        time.sleep(0.01)
        before = datetime.now(UTC)
        time.sleep(0.01)
        bench.add_calendar(Calendar.parse("office", ["mon-thu 09:00-17:00"]))
        bench.add_calendar(Calendar.parse("night", ["sun 01:00-04:00"]))
        assert bench.calendar("office", known_at=before) == first  # as it was known then
        assert bench.calendar("office").weekly_seconds == 32 * 3600
        assert list(bench.calendars(known_at=before)) == ["office"]
        bench.remove_calendar("office")
        assert list(bench.calendars()) == ["night"]
        assert bench.calendar("office", known_at=before) == first  # what was known stays
        with pytest.raises(BadArgument, match="no calendar 'office'"):
            bench.calendar("office")
        with pytest.raises(BadArgument, match="no calendar 'gone'"):
            bench.remove_calendar("gone")


def test_the_calendar_commands(tmp_path) -> None:
    import json

    db = tmp_path / "s.db"
    code, output = _cli(
        db, "calendar", "add", "office", "--hours", "mon-fri 09:00-12:00",
        "--hours", "mon-fri 13:00-17:00", "--holidays", "2024-12-25", "--timezone",
        "Europe/Amsterdam", "--country", "NL",
    )  # fmt: skip
    assert code == 0, output
    code, output = _cli(db, "calendar", "show", "office", "--json")
    shown = json.loads(output)
    assert shown["hours"]["mon"] == ["09:00-12:00", "13:00-17:00"]
    assert shown["hours"]["sat"] == []
    assert (shown["timezone"], shown["country"], shown["holidays"]) == (
        "Europe/Amsterdam",
        "NL",
        ["2024-12-25"],
    )
    assert shown["weekly_hours"] == 35
    code, output = _cli(db, "calendar", "list", "--json")
    assert [row["name"] for row in json.loads(output)] == ["office"]
    code, output = _cli(db, "calendar", "add", "x", "--hours", "monday 9-5")
    assert code == 2
    assert output.strip().startswith("error: --hours 'monday 9-5'")
    assert _cli(db, "calendar", "remove", "office")[0] == 0
    code, output = _cli(db, "calendar", "show", "office")
    assert code == 2
    assert "no calendar 'office'" in output
    code, output = _cli(db, "--as", "nobody", "calendar", "list")
    assert code == 2


def test_stats_gives_case_durations_in_working_time(tmp_path) -> None:
    import json
    import statistics

    from tests.conftest import real_log

    db = tmp_path / "s.db"
    assert _cli(db, "ingest", str(real_log("running-example.csv")), "--log", "run")[0] == 0
    hours = ["mon-fri 09:00-12:00", "mon-fri 13:00-17:00"]
    args = ["--timezone", "Europe/Amsterdam", "--holidays", "2011-01-03"]
    assert _cli(db, "calendar", "add", "office", *[f"--hours={h}" for h in hours], *args)[0] == 0
    code, output = _cli(db, "stats", "run", "--calendar", "office", "--json")
    assert code == 0, output
    found = json.loads(output)
    assert found["calendar"] == "office"
    from workbench import EventStore

    calendar = Calendar.parse("office", hours, timezone="Europe/Amsterdam", holidays=["2011-01-03"])
    with EventStore(db) as store:
        spans = (
            store.scan("run")
            .group_by("case_id")
            .agg(pl.col("timestamp").min().alias("a"), pl.col("timestamp").max().alias("b"))
            .collect()
        )
    working = [brute_force(calendar, a, b) for a, b in spans.select("a", "b").iter_rows()]
    assert found["case_duration_seconds"]["median"] == statistics.median(working)
    assert found["case_duration_seconds"]["max"] == max(working)
    code, plain = _cli(db, "stats", "run", "--json")
    assert json.loads(plain)["calendar"] is None
    assert json.loads(plain)["case_duration_seconds"]["max"] > max(working)
    code, output = _cli(db, "stats", "run", "--calendar", "nope")
    assert code == 2
    assert "no calendar 'nope'" in output


def test_the_overview_shows_working_time_equal_to_stats(tmp_path, monkeypatch) -> None:
    import json

    from streamlit.testing.v1 import AppTest

    from sample_data.demo import DEMO_LOG
    from tests.test_app import APP, close_app_store
    from workbench.durations import human_working

    db = tmp_path / "s.db"
    assert _cli(db, "demo")[0] == 0
    hours = ["--hours", "mon-fri 08:00-18:00", "--country", "NL", "--timezone", "Europe/Amsterdam"]
    assert _cli(db, "calendar", "add", "office", *hours)[0] == 0
    code, output = _cli(db, "stats", DEMO_LOG, "--calendar", "office", "--json")
    assert code == 0, output
    expected = json.loads(output)["case_duration_seconds"]
    monkeypatch.setenv("WORKBENCH_DB", str(db))
    app = AppTest.from_file(APP, default_timeout=120)
    app.query_params["log"] = DEMO_LOG
    app.query_params["calendar"] = "office"
    app.run()
    app.switch_page("views/overview.py").run()
    try:
        assert not app.exception, [e.value for e in app.exception]
        shown = {metric.label: metric.value for metric in app.main.metric}
        day = Calendar.parse("office", ["mon-fri 08:00-18:00"]).day_seconds
        median = timedelta(seconds=expected["median"])
        assert shown["Median case duration"] == human_working(median, day)
        p90 = timedelta(seconds=expected["p90"])
        assert shown["P90 case duration"] == human_working(p90, day)
        assert any("working hours of the calendar office" in c.value for c in app.main.caption)
    finally:
        close_app_store()


def test_state_gives_elapsed_and_idle_in_working_time(tmp_path) -> None:
    import json

    from tests.conftest import real_log

    db = tmp_path / "s.db"
    assert _cli(db, "ingest", str(real_log("running-example.csv")), "--log", "run")[0] == 0
    assert _cli(db, "calendar", "add", "office", "--hours", "mon-fri 09:00-17:00")[0] == 0
    at = "2011-01-08T12:00:00+00:00"
    code, output = _cli(db, "state", "run", "--at", at, "--calendar", "office", "--format", "json")
    assert code == 0, output
    rows = json.loads(output)
    code, plain = _cli(db, "state", "run", "--at", at, "--format", "json")
    elapsed_time = {row["case_id"]: row for row in json.loads(plain)}
    calendar = Calendar.parse("office", ["mon-fri 09:00-17:00"])
    moment = datetime.fromisoformat(at)
    assert {row["calendar"] for row in rows} == {"office"}
    assert any(row["status"] == "open" for row in rows)
    assert any(row["status"] == "completed" for row in rows)
    for row in rows:
        start = datetime.fromisoformat(row["start"])
        last = datetime.fromisoformat(row["last_timestamp"])
        end = moment if row["status"] == "open" else last
        assert row["elapsed"] == brute_force(calendar, start, end)
        idle = brute_force(calendar, last, moment) if row["status"] == "open" else None
        assert row["idle"] == idle
        assert row["status"] == elapsed_time[row["case_id"]]["status"]
        assert row["elapsed"] < elapsed_time[row["case_id"]]["elapsed"]  # nights, weekends


def test_time_travel_shows_working_time_equal_to_state(tmp_path, monkeypatch) -> None:
    import json

    from streamlit.testing.v1 import AppTest

    from tests.conftest import real_log
    from tests.test_app import APP, close_app_store

    db = tmp_path / "s.db"
    assert _cli(db, "ingest", str(real_log("running-example.csv")), "--log", "run")[0] == 0
    assert _cli(db, "calendar", "add", "office", "--hours", "mon-fri 09:00-17:00")[0] == 0
    monkeypatch.setenv("WORKBENCH_DB", str(db))
    app = AppTest.from_file(APP, default_timeout=120)
    app.query_params["log"] = "run"
    app.query_params["calendar"] = "office"
    app.run()
    app.switch_page("views/time_travel.py").run()
    try:
        assert not app.exception, [e.value for e in app.exception]
        at = app.slider(key="moment").value.replace(tzinfo=UTC).isoformat()
        shown = next(
            frame.value
            for frame in app.main.dataframe
            if any(str(c).startswith("elapsed (working") for c in frame.value.columns)
        )
    finally:
        close_app_store()
    code, output = _cli(db, "state", "run", "--at", at, "--calendar", "office", "--format", "json")
    assert code == 0, output
    expected = {row["case_id"]: row["elapsed"] for row in json.loads(output)}
    column = next(str(c) for c in shown.columns if str(c).startswith("elapsed (working"))
    size = 8 * 3600 if "days" in column else 3600
    for case_id, value in zip(shown["case_id"], shown[column], strict=True):
        assert value == round(expected[str(case_id)] / size, 2)


def test_the_process_map_and_bottlenecks_in_working_time(tmp_path, monkeypatch) -> None:
    import itertools
    import json

    from streamlit.testing.v1 import AppTest

    from tests.conftest import real_log
    from tests.test_app import APP, close_app_store, graph, labelled
    from workbench import EventStore
    from workbench.application import Workbench
    from workbench.durations import human_working

    db = tmp_path / "s.db"
    assert _cli(db, "ingest", str(real_log("running-example.csv")), "--log", "run")[0] == 0
    hours = ["--hours", "mon-fri 09:00-17:00", "--timezone", "Europe/Amsterdam"]
    assert _cli(db, "calendar", "add", "office", *hours)[0] == 0
    calendar = Calendar.parse("office", ["mon-fri 09:00-17:00"], timezone="Europe/Amsterdam")
    code, output = _cli(db, "dfg", "run", "--calendar", "office", "--json")
    assert code == 0, output
    found = json.loads(output)
    assert found["calendar"] == "office"
    with EventStore(db) as store:
        rows = store.scan("run").sort("case_id", "timestamp", "position").collect()
    totals: dict[tuple[str, str], float] = {}
    for before, after in itertools.pairwise(rows.iter_rows(named=True)):
        if before["case_id"] == after["case_id"]:
            pair = (before["activity"], after["activity"])
            walked = brute_force(calendar, before["timestamp"], after["timestamp"])
            totals[pair] = totals.get(pair, 0) + walked
    edges = {(e["source"], e["target"]): e for e in found["edges"]}
    assert {pair: e["total_seconds"] for pair, e in edges.items()} == totals
    with Workbench(db) as bench:
        ranked = bench.bottlenecks("run", calendar="office")
        plain = bench.bottlenecks("run")
    into = ranked.filter(pl.col("kind") == "activity")
    for name, total in zip(into["name"], into["total_waiting"], strict=True):
        expected = sum(value for (_, target), value in totals.items() if target == name)
        assert total.total_seconds() == expected
    assert plain["total_waiting"].sum() > ranked["total_waiting"].sum()
    monkeypatch.setenv("WORKBENCH_DB", str(db))
    app = AppTest.from_file(APP, default_timeout=120)
    app.query_params.update({"log": "run", "calendar": "office"})
    app.run()
    app.switch_page("views/process_map.py").run()
    try:
        app.selectbox[0].set_value("mean").run()  # label edges with the mean waiting time
        assert not app.exception, [e.value for e in app.exception]
        drawn = graph(app)
        day = calendar.day_seconds
        for edge in list(edges.values())[:5]:
            label = human_working(timedelta(seconds=edge["mean_seconds"]), day)
            assert labelled(drawn, label), (edge, label)
        assert any("calendar office" in c.value for c in app.main.caption)
    finally:
        close_app_store()


def test_a_logs_default_calendar(tmp_path, monkeypatch) -> None:
    import json
    import time
    from datetime import datetime

    from streamlit.testing.v1 import AppTest

    from tests.conftest import real_log
    from tests.test_app import APP, close_app_store

    db = tmp_path / "s.db"
    assert _cli(db, "ingest", str(real_log("running-example.csv")), "--log", "run")[0] == 0
    assert _cli(db, "calendar", "add", "office", "--hours", "mon-fri 09:00-17:00")[0] == 0
    before = datetime.now(UTC).isoformat()
    time.sleep(0.01)
    code, output = _cli(db, "calendar", "assign", "office", "--log", "run")
    assert code == 0, output
    assert "durations in office by default" in output

    def stats(*args: str) -> dict:
        code, output = _cli(db, "stats", "run", "--json", *args)
        assert code == 0, output
        return json.loads(output)  # type: ignore[no-any-return]

    assert stats()["calendar"] == "office"
    assert stats("--calendar", "elapsed")["calendar"] is None
    assert stats("--known-at", before)["calendar"] is None  # assigned after that moment
    assert (
        stats()["case_duration_seconds"] == stats("--calendar", "office")["case_duration_seconds"]
    )
    code, output = _cli(db, "dfg", "run", "--json")
    assert json.loads(output)["calendar"] == "office"
    code, output = _cli(db, "calendar", "list", "--json")
    assert json.loads(output)[0]["default_of"] == ["run"]
    assert _cli(db, "calendar", "assign", "nope", "--log", "run")[0] == 2
    assert _cli(db, "calendar", "assign", "office", "--log", "nolog")[0] == 2
    assert _cli(db, "calendar", "add", "elapsed", "--hours", "mon 09:00-10:00")[0] == 2
    monkeypatch.setenv("WORKBENCH_DB", str(db))
    app = AppTest.from_file(APP, default_timeout=120)
    app.query_params["log"] = "run"
    app.run()
    app.switch_page("views/overview.py").run()
    try:
        assert not app.exception, [e.value for e in app.exception]
        assert any("calendar office" in c.value for c in app.main.caption)
        durations = next(box for box in app.sidebar.selectbox if box.label == "Durations in")
        assert durations.value == "office"
        durations.set_value("elapsed time").run()
        assert app.query_params["calendar"] in ("elapsed", ["elapsed"])
        assert not any("calendar office" in c.value for c in app.main.caption)
    finally:
        close_app_store()
    assert _cli(db, "calendar", "assign", "elapsed", "--log", "run")[0] == 0
    assert stats()["calendar"] is None


@pytest.fixture(scope="module")
def calendar_store(tmp_path_factory) -> object:
    from typer.testing import CliRunner

    from workbench.cli import app as cli

    db = tmp_path_factory.mktemp("calendared") / "s.db"
    for args in (
        ["demo"],
        ["calendar", "add", "office", "--hours", "mon-fri 08:00-18:00", "--country", "NL"],
    ):
        result = CliRunner().invoke(cli, ["--db", str(db), *args])
        assert result.exit_code == 0, result.output
    return db


PAGE_VIEWS = [
    ("overview", None),
    ("process_map", None),
    ("variants", None),
    ("cases", None),
    *[
        ("performance", view)
        for view in ("Bottlenecks", "Activities", "Rework", "Resources", "Throughput", "Spectrum")
    ],
    ("compare", None),
    ("time_travel", None),
    ("projections", None),
]


@pytest.mark.parametrize(("page", "view"), PAGE_VIEWS)
def test_every_page_with_a_calendar_chosen(calendar_store, monkeypatch, page, view) -> None:
    """With a calendar in the link and a follower filter within working time."""
    import json

    from streamlit.testing.v1 import AppTest

    from sample_data.demo import DEMO_LOG
    from tests.test_app import APP, close_app_store

    monkeypatch.setenv("WORKBENCH_DB", str(calendar_store))
    app = AppTest.from_file(APP, default_timeout=120)
    app.query_params["log"] = DEMO_LOG
    app.query_params["calendar"] = "office"
    app.query_params["follows"] = json.dumps(
        {"a": "Create Order", "b": "Approve Order", "within": 3 * 86_400}
    )
    if view is not None:
        app.query_params["view"] = view
    app.run()
    app.switch_page(f"views/{page}.py").run()
    try:
        assert not app.exception, [e.value for e in app.exception]
        assert not app.error, [e.value for e in app.error]
        assert app.title[0].value
        if page == "overview":  # the filter kept the approved cases, as working time says
            assert {m.label: m.value for m in app.metric}["Cases"] != "0"
    finally:
        close_app_store()


def test_a_case_timeline_in_working_time(tmp_path) -> None:
    import json

    from tests.conftest import real_log
    from workbench import EventStore

    db = tmp_path / "s.db"
    assert _cli(db, "ingest", str(real_log("running-example.csv")), "--log", "run")[0] == 0
    assert _cli(db, "calendar", "add", "office", "--hours", "mon-fri 09:00-17:00")[0] == 0
    code, output = _cli(db, "timeline", "run", "3", "--calendar", "office", "--json")
    assert code == 0, output
    rows = json.loads(output)
    calendar = Calendar.parse("office", ["mon-fri 09:00-17:00"])
    with EventStore(db) as store:
        times = store.scan("run").filter(pl.col("case_id") == "3").collect()
    stamps = times.sort("timestamp", "position")["timestamp"].to_list()
    assert [row["calendar"] for row in rows] == ["office"] * len(stamps)
    assert rows[0]["waiting"] is None
    for row, before, now in zip(rows[1:], stamps, stamps[1:], strict=False):
        assert row["waiting"] == brute_force(calendar, before, now)
        assert row["since_start"] == brute_force(calendar, stamps[0], now)
    code, plain = _cli(db, "timeline", "run", "3", "--json")
    assert json.loads(plain)[-1]["since_start"] > rows[-1]["since_start"]
    code, table = _cli(db, "timeline", "run", "3", "--calendar", "office")
    assert "working time, calendar office" in table


def test_compare_in_working_time_equals_stats_of_each_group(tmp_path) -> None:
    import json

    from tests.conftest import real_log

    db = tmp_path / "s.db"
    assert _cli(db, "ingest", str(real_log("running-example.csv")), "--log", "run")[0] == 0
    assert _cli(db, "calendar", "add", "office", "--hours", "mon-fri 09:00-17:00")[0] == 0
    split = "2011-01-05"
    code, output = _cli(
        db, "compare", "run", "--a-to", split, "--b-from", split, "--calendar", "office", "--json"
    )
    assert code == 0, output
    found = json.loads(output)
    assert found["calendar"] == "office"
    for side, flags in (("a", ("--to", split)), ("b", ("--from", split))):
        code, output = _cli(db, "stats", "run", *flags, "--calendar", "office", "--json")
        expected = json.loads(output)["case_duration_seconds"]
        assert found[side]["median_duration_s"] == expected["median"]
        assert found[side]["p90_duration_s"] == expected["p90"]
    code, plain = _cli(db, "compare", "run", "--a-to", split, "--b-from", split, "--json")
    assert json.loads(plain)["a"]["median_duration_s"] > found["a"]["median_duration_s"]


def test_a_calendar_change_counts_only_from_its_recording(tmp_path) -> None:
    """Known at a time, or at a position (when the write that holds it was recorded), a
    command reads the calendar as it was then: a later change of hours does not count."""
    import json
    import statistics

    from tests.conftest import real_log
    from workbench import EventStore

    db = tmp_path / "s.db"
    assert _cli(db, "calendar", "add", "office", "--hours", "mon-fri 09:00-17:00")[0] == 0
    assert _cli(db, "ingest", str(real_log("running-example.csv")), "--log", "run")[0] == 0
    assert _cli(db, "calendar", "add", "office", "--hours", "mon-fri 09:00-12:00")[0] == 0
    with EventStore(db) as store:
        head = store.head("run")
        spans = (
            store.scan("run")
            .group_by("case_id")
            .agg(pl.col("timestamp").min().alias("a"), pl.col("timestamp").max().alias("b"))
            .collect()
        )

    def median(hours: str) -> float:
        calendar = Calendar.parse("office", [hours])
        return statistics.median(calendar.seconds(spans["a"], spans["b"]).to_list())

    def stats(*args: str) -> float:
        code, output = _cli(db, "stats", "run", "--calendar", "office", "--json", *args)
        assert code == 0, output
        return json.loads(output)["case_duration_seconds"]["median"]  # type: ignore[no-any-return]

    assert stats() == pytest.approx(median("mon-fri 09:00-12:00"))
    assert stats("--known-at", str(head)) == pytest.approx(median("mon-fri 09:00-17:00"))
    assert median("mon-fri 09:00-17:00") > median("mon-fri 09:00-12:00")
