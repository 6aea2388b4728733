"""Logs of intervals (a start time per event) and lifecycle pairs: import, service and
waiting times per activity, the directly-follows graph; against pm4py on the public interval
log and against brute force on generated logs."""

from __future__ import annotations

import json
import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ingest.jobs import ingest
from tests.conftest import real_log
from workbench import EventStore, projections
from workbench.application import Workbench
from workbench.calendars import Calendar
from workbench.cli import app

START = datetime(2024, 3, 1, 8, tzinfo=UTC)


def _cli(db: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--db", str(db), *args])
    return result.exit_code, result.output


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


# ------------------------------------------------------------------ import


def test_a_start_time_column_is_found_checked_and_kept(tmp_path) -> None:
    source = tmp_path / "shifts.csv"
    source.write_text(
        "case,activity,Start Time,End Time,who\n"
        "c1,a,2024-01-01 09:00,2024-01-01 10:00,x\n"
        "c1,b,2024-01-01 11:00,2024-01-01 10:30,y\n"  # starts after it ends
        "c1,c,soon,2024-01-01 12:00,y\n"  # unreadable
        "c1,d,,2024-01-01 13:00,y\n"  # no start: took no time
    )
    db = tmp_path / "s.db"
    code, output = _cli(db, "ingest", str(source), "--log", "shifts")
    assert code == 0, output
    assert "2 rejected" in output
    code, output = _cli(db, "rejects", "shifts", "--json")
    rejects = json.loads(output)
    assert [(r["line"], r["field"], r["value"]) for r in rejects] == [
        (3, "Start Time", "2024-01-01 11:00"),
        (4, "Start Time", "soon"),
    ]
    assert "later than the timestamp" in rejects[0]["reason"]
    assert "cannot read soon as a time" in rejects[1]["reason"]
    with EventStore(db) as store:
        kept = store.scan("shifts").sort("position").collect()
    assert kept["activity"].to_list() == ["a", "d"]
    assert kept["start_timestamp"].to_list() == [datetime(2024, 1, 1, 9, tzinfo=UTC), None]
    assert kept.schema["start_timestamp"] == pl.Datetime("us", "UTC")
    code, output = _cli(db, "activities", "shifts", "--json")
    rows = {row["activity"]: row for row in json.loads(output)}
    assert rows["a"]["service_seconds"]["mean"] == 3600
    assert rows["d"]["service_seconds"]["mean"] == 0
    # From a's end (10:00) to d's start, which is its end (13:00).
    assert rows["d"]["waiting_seconds"]["mean"] == 3 * 3600


def test_the_start_column_can_be_named_and_contradictions_are_refused(tmp_path) -> None:
    source = tmp_path / "odd.csv"
    source.write_text("case,step,begun,finished\nc1,a,2024-01-01 09:00,2024-01-01 10:00\n")
    db = tmp_path / "s.db"
    assert _cli(db, "ingest", str(source), "--log", "plain")[0] == 0
    with EventStore(db) as store:
        assert "start_timestamp" not in store.schema("plain")
    code, output = _cli(
        db, "ingest", str(source), "--log", "odd", "--start-timestamp", "begun", "--json"
    )
    assert code == 0, output
    with EventStore(db) as store:
        assert store.scan("odd").collect()["start_timestamp"].to_list() == [
            datetime(2024, 1, 1, 9, tzinfo=UTC)
        ]
    code, output = _cli(
        db, "ingest", str(source), "--log", "new", "--start-timestamp", "begun", "--no-times"
    )
    assert code == 2
    assert "--start-timestamp 'begun' and --no-times contradict each other" in output
    code, output = _cli(db, "ingest", str(source), "--log", "n", "--start-timestamp", "nowhere")
    assert code == 2
    assert "there is no column 'nowhere' for start_timestamp" in output


# ------------------------------------------------------------------ against pm4py


@pytest.fixture(scope="module")
def interval_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("intervals") / "s.db"
    with EventStore(db) as store:
        ingest(store, real_log("interval_event_log.xes"), log="iv")
    return db


def _pm4py_log() -> object:
    import warnings

    import pm4py

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pm4py.read_xes(str(real_log("interval_event_log.xes")))


def test_service_times_equal_pm4py_on_the_interval_log(interval_db) -> None:
    import pm4py

    log = _pm4py_log()
    with Workbench(interval_db) as bench:
        found = bench.activities("iv")
    assert found["events"].sum() == 8109
    for measure in ("mean", "median"):
        theirs = pm4py.get_service_time(
            log, start_timestamp_key="start_timestamp", aggregation_measure=measure
        )
        ours = {
            row["activity"]: _seconds(row[f"{measure}_service"])
            for row in found.iter_rows(named=True)
        }
        assert ours.keys() == theirs.keys()
        for activity, value in theirs.items():
            assert ours[activity] == pytest.approx(value, abs=1e-6), (measure, activity)


def test_the_process_map_of_intervals_equals_pm4py(interval_db) -> None:
    from pm4py.algo.discovery.dfg.adapters.pandas.df_statistics import get_dfg_graph

    frequency, performance = get_dfg_graph(
        _pm4py_log(),
        measure="both",
        start_timestamp_key="start_timestamp",
        perf_aggregation_key="all",
    )
    with Workbench(interval_db) as bench:
        edges = bench.dfg("iv").edges
    ours = {(row["source"], row["target"]): row for row in edges.iter_rows(named=True)}
    assert {pair: row["frequency"] for pair, row in ours.items()} == dict(frequency)
    for pair, values in performance.items():
        assert _seconds(ours[pair]["mean_duration"]) == pytest.approx(values["mean"], abs=1e-5)
        assert _seconds(ours[pair]["median_duration"]) == pytest.approx(values["median"])
        assert _seconds(ours[pair]["min_duration"]) == values["min"] >= 0


def test_lifecycle_pairs_give_what_the_equal_interval_log_gives(interval_db, tmp_path) -> None:
    """Every event of the interval log written as a start and a complete event, in a log
    where the starts of a case interleave with other completions: the same activity table."""
    with EventStore(interval_db) as store:
        intervals = store.scan("iv").collect()
    starts = intervals.select(
        "case_id",
        "activity",
        pl.col("start_timestamp").alias("timestamp"),
        pl.lit("start").alias("lifecycle"),
    )
    ends = intervals.select(
        "case_id", "activity", "timestamp", pl.lit("complete").alias("lifecycle")
    )
    paired = pl.concat([starts, ends]).sort("case_id", "timestamp", maintain_order=True)
    with EventStore(tmp_path / "p.db") as store:
        store.import_frame("pairs", paired)
    with Workbench(interval_db) as bench:
        expected = bench.activities("iv")
    with Workbench(tmp_path / "p.db") as bench:
        found = bench.activities("pairs")
    assert found.drop("resources").equals(expected.drop("resources"))


# ------------------------------------------------------------------ against brute force

_instance = st.tuples(
    st.integers(0, 3),  # case
    st.sampled_from(["a", "b", "Prüfung"]),
    st.integers(0, 30),  # start, in hours: ties
    st.integers(0, 5),  # length, in hours
    st.booleans(),  # start known
)


def _brute_force(rows: list[tuple[int, str, int, int, bool]], calendar: Calendar | None) -> dict:
    """Per activity: service and waiting seconds, instance by instance, from the rows in the
    order they were written (ties in start and end keep it)."""
    cases: dict[int, list[tuple[datetime, datetime, int, str]]] = {}
    for position, (case, activity, hour, length, known) in enumerate(rows):
        end = START + timedelta(hours=hour + length)
        start = START + timedelta(hours=hour) if known else end
        cases.setdefault(case, []).append((start, end, position, activity))

    def took(a: datetime, b: datetime) -> float:
        if calendar is None:
            return (b - a).total_seconds()
        return calendar.duration(a, b).total_seconds()

    found: dict[str, dict[str, list[float]]] = {}
    for instances in cases.values():
        previous = None
        for start, end, _, activity in sorted(instances):
            times = found.setdefault(activity, {"service": [], "waiting": []})
            times["service"].append(took(start, end))
            if previous is not None:
                times["waiting"].append(took(previous, max(start, previous)))
            previous = end
    return found


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(_instance, min_size=1, max_size=25),
    office=st.booleans(),
)
def test_activity_times_equal_a_brute_force_over_instances(rows, office) -> None:
    events = pl.LazyFrame(
        {
            "position": list(range(1, len(rows) + 1)),
            "case_id": [f"c{case}" for case, *_ in rows],
            "activity": [activity for _, activity, *_ in rows],
            "timestamp": [START + timedelta(hours=h + n) for _, _, h, n, _ in rows],
            START_KEY: [
                START + timedelta(hours=h) if known else None for _, _, h, _, known in rows
            ],
        },
        schema_overrides={START_KEY: pl.Datetime("us", "UTC")},
    )
    calendar = (
        Calendar.parse("office", ["mon-fri 09:00-17:00"], timezone="Europe/Amsterdam")
        if office
        else None
    )
    found = projections.activities(events, calendar=calendar).collect()
    expected = _brute_force(rows, calendar)
    assert sorted(found["activity"].to_list()) == sorted(expected)
    for row in found.iter_rows(named=True):
        times = expected[row["activity"]]
        assert row["events"] == len(times["service"])
        for kind in ("service", "waiting"):
            values = times[kind]
            if not values:
                assert row[f"mean_{kind}"] is None
                continue
            assert _seconds(row[f"mean_{kind}"]) == pytest.approx(statistics.mean(values), abs=1e-6)
            assert _seconds(row[f"median_{kind}"]) == pytest.approx(
                statistics.median(values), abs=1e-6
            )


START_KEY = projections.START


# ------------------------------------------------------------------ the command


def test_activities_command_in_working_time(interval_db, tmp_path) -> None:
    db = tmp_path / "s.db"
    with EventStore(db) as store:
        ingest(store, real_log("interval_event_log.xes"), log="iv")
    hours = ["--hours", "mon-fri 09:00-17:00"]
    assert _cli(db, "calendar", "add", "office", *hours)[0] == 0
    code, output = _cli(db, "activities", "iv", "--calendar", "office", "--json")
    assert code == 0, output
    rows = {row["activity"]: row for row in json.loads(output)}
    assert {row["calendar"] for row in rows.values()} == {"office"}
    calendar = Calendar.parse("office", ["mon-fri 09:00-17:00"])
    with EventStore(db) as store:
        paid = store.scan("iv").filter(pl.col("activity") == "pay").collect()
    working = calendar.seconds(paid["start_timestamp"], paid["timestamp"]).to_list()
    assert rows["pay"]["service_seconds"]["mean"] == pytest.approx(statistics.mean(working))
    assert rows["pay"]["service_seconds"]["p90"] == pytest.approx(
        pl.Series(working).quantile(0.9, interpolation="linear"), abs=1e-6
    )
    code, plain = _cli(db, "activities", "iv", "--json")
    assert json.loads(plain)[0]["calendar"] is None
    code, table = _cli(db, "activities", "iv", "--calendar", "office")
    assert "working time, calendar office" in table
    assert "pay" in table


def test_the_performance_page_shows_the_activities_command_numbers(tmp_path, monkeypatch) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.test_app import APP, close_app_store

    db = tmp_path / "s.db"
    with EventStore(db) as store:
        ingest(store, real_log("interval_event_log.xes"), log="iv")
    hours = ["--hours", "mon-fri 09:00-17:00", "--timezone", "Europe/Amsterdam"]
    assert _cli(db, "calendar", "add", "office", *hours)[0] == 0
    code, output = _cli(db, "activities", "iv", "--calendar", "office", "--json")
    assert code == 0, output
    expected = {row["activity"]: row for row in json.loads(output)}
    day = Calendar.parse("office", ["mon-fri 09:00-17:00"]).day_seconds
    monkeypatch.setenv("WORKBENCH_DB", str(db))
    app = AppTest.from_file(APP, default_timeout=120)
    app.query_params.update({"log": "iv", "calendar": "office", "view": "Activities"})
    app.run()
    app.switch_page("views/performance.py").run()
    try:
        assert not app.exception, [e.value for e in app.exception]
        assert any("calendar office" in c.value for c in app.main.caption)
        shown = next(
            frame.value
            for frame in app.main.dataframe
            if "mean_service (working hours)" in frame.value.columns
        )
        units = {"working hours": 3600, "working days": day}
        for row in shown.to_dict("records"):
            wanted = expected[row["activity"]]
            assert row["events"] == wanted["events"]
            for kind in ("service", "waiting"):
                for name in ("mean", "median", "p90"):
                    column = next(c for c in shown.columns if c.startswith(f"{name}_{kind} ("))
                    unit = units[column.split("(")[1].rstrip(")")]
                    seconds = wanted[f"{kind}_seconds"][name]
                    if seconds is None:
                        assert row[column] != row[column]  # NaN: nothing to show
                    else:
                        assert row[column] == pytest.approx(seconds / unit, abs=0.006), column
    finally:
        close_app_store()
