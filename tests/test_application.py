"""One number, one function: the application object under both faces.

Every KPI of the Overview equals what `workbench stats --json` prints, what Compare says of a
group against itself, and what the Spark engine computes, on the same filtered log; the app
and the CLI give the same process map, state and comparison for the same cut and filters.
The log is made so that a percentile computed another way (Polars' default, ``nearest``)
shows: four cases of 1, 2, 3 and 10 hours pass the filter (P90 7.9 h by linear
interpolation, as numpy and pm4py compute it; 10 h by ``nearest``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from workbench import Event, EventStore
from workbench.application import BadArgument, Cut, Workbench
from workbench.cli import app as cli
from workbench.durations import human
from workbench.filters import Attribute, Filters

APP = str(Path(__file__).resolve().parent.parent / "dashboards" / "app.py")
START = datetime(2024, 3, 1, 8, tzinfo=UTC)
HOURS = {"n1": 1, "n2": 2, "n3": 3, "n4": 10, "s1": 5, "s2": 7}
NORTH = Filters((Attribute("region", ("north",)),))


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six cases, four of them in the north; one north case repeats an activity."""
    path = tmp_path_factory.mktemp("application") / "kpis.db"
    with EventStore(path) as store:
        for number, (case, hours) in enumerate(HOURS.items()):
            region = "north" if case.startswith("n") else "south"
            begin = START + timedelta(days=number)
            steps = (
                ["register", "check", "check", "decide"] if case == "n2" else ["register", "decide"]
            )
            events = [
                Event(
                    activity,
                    begin + timedelta(hours=hours) * index / (len(steps) - 1),
                    resource="ana",
                    attributes={"region": region},
                )
                for index, activity in enumerate(steps)
            ]
            store.append("claims", case, events)
    return path


def run(db: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--db", str(db), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_summary_interpolates_percentiles_linearly(db: Path) -> None:
    with Workbench(db) as bench:
        found = bench.summary("claims", filters=NORTH)
    assert found.cases == 4
    assert found.median == timedelta(hours=2.5)  # the mean of the middle two
    assert found.p90 == timedelta(hours=7.9)
    assert found.rework_share == 0.25


def test_every_face_gives_the_same_kpis_25(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stats = json.loads(run(db, "stats", "claims", "--attribute", "region=north", "--json"))
    durations = stats["case_duration_seconds"]
    assert (stats["cases"], stats["events"], stats["variants"]) == (4, 10, 2)
    assert durations["median"] == 2.5 * 3600
    assert durations["p90"] == pytest.approx(7.9 * 3600)

    # Compare: the filtered log against itself (both groups: every case from the start).
    both = ["--a-from", "2024-01-01", "--b-from", "2024-01-01"]
    compared = json.loads(
        run(db, "compare", "claims", *both, "--attribute", "region=north", "--json")
    )
    for side in ("a", "b"):
        kpis = compared[side]
        assert (kpis["cases"], kpis["events"], kpis["variants"]) == (4, 10, 2)
        assert kpis["median_duration_s"] == durations["median"]
        assert kpis["p90_duration_s"] == durations["p90"]
        assert kpis["rework_share"] == stats["rework_share"]

    # The Overview, filtered by the same attribute through its URL.
    monkeypatch.setenv("WORKBENCH_DB", str(db))
    page = AppTest.from_file(APP, default_timeout=120)
    page.query_params["log"] = "claims"
    page.query_params["attr"] = json.dumps(["region", ["north"]])
    page.run()
    page.switch_page("views/overview.py").run()
    assert not page.exception, [e.value for e in page.exception]
    shown = {metric.label: metric.value for metric in page.metric}
    try:
        assert shown["Cases"] == f"{stats['cases']:,}"
        assert shown["Events"] == f"{stats['events']:,}"
        assert shown["Activities"] == f"{stats['activities']:,}"
        assert shown["Variants"] == f"{stats['variants']:,}"
        assert shown["Median case duration"] == human(timedelta(seconds=durations["median"]))
        assert shown["P90 case duration"] == human(timedelta(seconds=durations["p90"]))
        assert shown["P90 case duration"] == "7.9 h"
    finally:
        from dashboards import state

        state.clear()
        state.workbench().close()


def test_the_spark_engine_gives_the_same_kpis_25(db: Path) -> None:
    pytest.importorskip("pyspark", reason="the Spark extra is not installed")
    from workbench.engines import spark

    spark.CONFIG["spark.sql.shuffle.partitions"] = "2"
    polars = json.loads(run(db, "stats", "claims", "--attribute", "region=north", "--json"))
    on_spark = json.loads(
        run(
            db,
            "stats",
            "claims",
            "--attribute",
            "region=north",
            "--json",
            "--engine",
            "spark",
            "--spark-master",
            "local[2]",
        )
    )
    assert on_spark == polars


@pytest.mark.parametrize("cut", [Cut(), Cut(known_at=9), Cut(as_of=START + timedelta(days=3))])
def test_the_app_and_the_cli_draw_the_same_map(db: Path, cut: Cut) -> None:
    flags = ["--attribute", "region=north"]
    if cut.as_of is not None:
        flags += ["--as-of", cut.as_of.isoformat()]
    if cut.known_at is not None:
        flags += ["--known-at", str(cut.known_at)]
    printed = json.loads(run(db, "dfg", "claims", "--json", *flags))
    with Workbench(db, cache_bytes=1 << 28) as bench:  # as the app holds it
        drawn = bench.dfg("claims", cut, NORTH)
    assert [row["frequency"] for row in printed["nodes"]] == drawn.nodes["frequency"].to_list()
    assert [(row["source"], row["target"], row["frequency"]) for row in printed["edges"]] == [
        (row["source"], row["target"], row["frequency"])
        for row in drawn.edges.iter_rows(named=True)
    ]


def test_the_app_and_the_cli_rebuild_the_same_state(db: Path) -> None:
    at = START + timedelta(days=2, hours=1)
    printed = json.loads(
        run(
            db,
            "state",
            "claims",
            "--at",
            at.isoformat(),
            "--known-at",
            "9",
            "--attribute",
            "region=north",
            "--format",
            "json",
        )
    )
    with Workbench(db, cache_bytes=1 << 28) as bench:
        rebuilt = bench.state("claims", at, Cut(known_at=9), NORTH)
    assert sorted(row["case_id"] for row in printed) == sorted(rebuilt["case_id"].to_list())
    by_case = {row["case_id"]: row for row in printed}
    for row in rebuilt.iter_rows(named=True):
        assert by_case[row["case_id"]]["status"] == row["status"]
        assert by_case[row["case_id"]]["events"] == row["events"]
    with Workbench(db) as bench:  # the CLI's way without filters: from snapshots
        whole = bench.state("claims", at)
    with Workbench(db, cache_bytes=1 << 28) as bench:
        assert_frame_equal(whole, bench.state("claims", at), check_row_order=False)


def test_the_app_and_the_cli_compare_alike(db: Path) -> None:
    printed = json.loads(
        run(
            db,
            "compare",
            "claims",
            "--a-attribute",
            "region=north",
            "--b-attribute",
            "region=south",
            "--json",
        )
    )
    south = Filters((Attribute("region", ("south",)),))
    with Workbench(db, cache_bytes=1 << 28) as bench:
        found = bench.compare("claims", NORTH, south)
    assert printed["a"] == found.a
    assert printed["b"] == found.b
    assert printed["edges"] == json.loads(json.dumps(found.edges.to_dicts(), default=str))


def test_a_filter_on_a_missing_attribute_is_named(db: Path) -> None:
    with Workbench(db) as bench, pytest.raises(BadArgument, match="no attribute 'colour'"):
        bench.summary("claims", filters=Filters((Attribute("colour", ("red",)),)))


def test_a_cut_comes_before_the_filters(db: Path) -> None:
    """A case that had not yet done "check" by the cut does not pass a filter on "check"."""
    from workbench.filters import Contains

    with Workbench(db, cache_bytes=1 << 28) as cached, Workbench(db) as direct:
        cut = Cut(as_of=START + timedelta(days=1, minutes=30))  # n2 has only registered
        checked = Filters((Contains(("check",)),))
        for bench in (cached, direct):
            assert bench.summary("claims", cut, checked).cases == 0
            assert bench.summary("claims", Cut(), checked).cases == 1
            events = bench.events("claims", cut).collect()
            assert events.filter(pl.col("timestamp") > cut.as_of).is_empty()  # type: ignore[operator]


def test_what_late_events_restated_is_one_verb(db: Path) -> None:
    """Known at position 9, the last north case had only registered and the south cases
    were unknown; now all three have decided. The others look the same either way."""
    at = START + timedelta(days=10)
    with Workbench(db, cache_bytes=1 << 28) as bench:
        changed = bench.restated("claims", at, Cut(known_at=9)).sort("case_id")
    assert changed.rows() == [
        ("n4", "register", "decide", 1, 2),
        ("s1", None, "decide", None, 2),
        ("s2", None, "decide", None, 2),
    ]


@pytest.mark.parametrize("cache", [0, 1 << 28])
def test_case_rows_answer_as_the_events_do(demo_db: Path, cache: int) -> None:
    """The projections that per-case rows answer (the read model's stored rows, or rows of
    filtered events) give what the same projection gives of the cut and filtered events,
    on a real log, with and without the app's cache."""
    from sample_data.demo import DEMO_LOG
    from workbench import projections
    from workbench.filters import Contains, TimeRange
    from workbench.readmodel import decoded

    chosen = (
        projections.cases,
        projections.variants,
        projections.start_activities,
        projections.end_activities,
        projections.wip,
    )
    with Workbench(demo_db, cache_bytes=cache) as bench:
        found = bench.log(DEMO_LOG)
        assert found.first_timestamp is not None
        assert found.last_timestamp is not None
        middle = found.first_timestamp + (found.last_timestamp - found.first_timestamp) / 2
        for cut in (Cut(), Cut(as_of=middle), Cut(known_at=bench.head(DEMO_LOG) // 2)):
            for filters in (Filters(), Filters((TimeRange(None, middle, mode="started"),)),
                            Filters((Contains(("Payment Reminder",)),))):  # fmt: skip
                events = bench.events(DEMO_LOG, cut, filters, coded=True)
                for projection in chosen:
                    ours = bench.metric(DEMO_LOG, projection, cut, filters)
                    theirs = projection(events).collect()  # type: ignore[operator]
                    assert_frame_equal(ours, decoded(theirs))
                rows = bench.case_rows(DEMO_LOG, cut, filters)
                assert bench.summary(DEMO_LOG, cut, filters).cases == rows.height > 0


@pytest.mark.parametrize("cache", [0, 1 << 28])
def test_a_map_of_frequencies_from_case_rows_is_the_map_of_the_events(
    demo_db: Path, cache: int
) -> None:
    """Time travel's map (frequencies only) comes from the cases' rows by the moment, their
    variants counted once: the same nodes, edges, starts and ends as the map of the events
    by then, at moments, as known earlier, at every path level."""
    from sample_data.demo import DEMO_LOG
    from workbench.processmap import process_map

    with Workbench(demo_db, cache_bytes=cache) as bench:
        found = bench.log(DEMO_LOG)
        assert found.first_timestamp is not None
        assert found.last_timestamp is not None
        span = found.last_timestamp - found.first_timestamp
        half = bench.head(DEMO_LOG) // 2
        for fraction in (0.0, 0.3, 0.7, 1.0):
            at = found.first_timestamp + span * fraction
            for cut in (Cut(as_of=at), Cut(as_of=at, known_at=half), Cut(known_at=half), Cut()):
                events = bench.store.scan(DEMO_LOG, as_of=cut.as_of, known_at=cut.known_at)
                for paths in (100.0, 40.0):
                    ours = bench.dfg(DEMO_LOG, cut, paths=paths, times=False)
                    theirs = process_map(events, paths=paths, times=False)
                    for part in ("nodes", "edges", "starts", "ends"):
                        assert_frame_equal(getattr(ours, part), getattr(theirs, part))
                    assert ours.edges.height > 0 or fraction == 0


def test_corrections_in_the_app_are_those_of_the_events(tmp_path: Path) -> None:
    """The app looks for corrections among the events the whole log has tied (case,
    activity and time), found once; at every cut and filter it finds what the events by
    the cut give: a re-recording known only later, one made after the moment, a repeat
    that is no correction, and an event another case has at the same time."""
    from workbench import timetravel

    path = tmp_path / "fixed.db"
    at = START + timedelta(hours=1)
    with EventStore(path) as store:
        for case, region in (("c1", "north"), ("c2", "south"), ("c3", "north")):
            store.append(
                "log",
                case,
                [
                    Event("register", START, f"{case}-a", attributes={"region": region}),
                    Event("check", at, f"{case}-b", attributes={"region": region}),
                ],
            )
        early = store.head("log")
        # c1's check recorded again (a correction); c2's register repeated on purpose
        # (caused by it, another time: no correction); c3's check re-recorded, and again.
        store.append("log", "c1", [Event("check", at, "c1-fix", causation_id="c1-b")])
        later = START + timedelta(hours=2)
        store.append("log", "c2", [Event("register", later, "c2-again", causation_id="c2-a")])
        store.append("log", "c3", [Event("check", at, "c3-fix", causation_id="c3-b")])
        store.append("log", "c3", [Event("check", at, "c3-fix2", causation_id="c3-fix")])
        store.append("log", "c1", [Event("decide", later, "c1-c")])
    cuts = (Cut(), Cut(known_at=early), Cut(known_at=early + 2), Cut(as_of=at), Cut(as_of=START))
    region = Filters((Attribute("region", ("north",)),))
    found = []
    with Workbench(path, cache_bytes=1 << 28) as app, Workbench(path) as command:
        for cut in cuts:
            for filters in (Filters(), region):
                ours = app.corrections("log", cut, filters)
                assert_frame_equal(ours, command.corrections("log", cut, filters))
                events = filters.apply(
                    app.store.scan("log", as_of=cut.as_of, known_at=cut.known_at)
                )
                assert_frame_equal(ours, timetravel.corrections(events))
                found.append(ours["event_id"].to_list())
    assert found[:2] == [["c1-fix", "c3-fix", "c3-fix2"]] * 2
    assert found[2:4] == [[], []]
    assert found[4:6] == [["c1-fix"], ["c1-fix"]]


@pytest.mark.parametrize("cache", [0, 1 << 28])
def test_the_state_from_folded_rows_equals_a_replay(
    demo_db: Path, cache: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The state at a moment from the stored folded rows (the cases ended by then as
    stored, the others folded again) equals a replay of the store's events, as known now
    and at an earlier position; so does what changed between two moments. With a cache
    (the app), the stored rows are read from their file once, not at every moment."""
    from sample_data.demo import DEMO_LOG
    from workbench import timetravel
    from workbench.readmodel import ReadModel

    reads: list[str] = []
    stored = ReadModel._stored
    monkeypatch.setattr(
        ReadModel,
        "_stored",
        lambda self, kind, *rest: reads.append(kind) or stored(self, kind, *rest),
    )
    with Workbench(demo_db, cache_bytes=cache) as bench:
        found = bench.log(DEMO_LOG)
        assert found.first_timestamp is not None
        assert found.last_timestamp is not None
        span = found.last_timestamp - found.first_timestamp
        for known_at in (None, bench.head(DEMO_LOG) * 2 // 3):
            for fraction in (0.0, 0.5, 1.0):
                at = found.first_timestamp + span * fraction
                ours = bench.state(DEMO_LOG, at, Cut(known_at=known_at))
                events = bench.store.scan(DEMO_LOG, known_at=known_at)
                theirs = timetravel.state_at(events, at).collect()
                assert_frame_equal(ours, theirs)
                assert ours.height > 0
            t1 = found.first_timestamp + span * 0.4
            t2 = found.first_timestamp + span * 0.6
            ours_diff = bench.diff(DEMO_LOG, t1, t2, Cut(known_at=known_at))
            events = bench.store.scan(DEMO_LOG, known_at=known_at)
            theirs_diff = timetravel.diff(events, t1, t2)
            for name in ("started", "completed", "moved", "new_edges", "kpis"):
                assert_frame_equal(getattr(ours_diff, name), getattr(theirs_diff, name))
    assert (reads.count("folded") == 1) == bool(cache)  # without one: at every moment


def test_filters_on_whole_cases_select_case_rows(demo_db: Path) -> None:
    """A filter that keeps or drops whole cases is answered by selecting case rows (and,
    for events, a semi join on them): the same cases, rows and events as filtering the
    events, alone, combined, after a cut, with and without the app's cache."""
    from datetime import timedelta

    from sample_data.demo import DEMO_LOG
    from workbench import projections
    from workbench.filters import (
        CaseDuration,
        Cases,
        CaseSize,
        Contains,
        Endpoints,
        Lifecycle,
        TimeRange,
    )
    from workbench.readmodel import decoded

    with Workbench(demo_db) as plain:
        found = plain.log(DEMO_LOG)
        assert found.first_timestamp is not None
        assert found.last_timestamp is not None
        low = found.first_timestamp + (found.last_timestamp - found.first_timestamp) / 6
        high = low + timedelta(days=20)
        some = tuple(plain.cases(DEMO_LOG)["case_id"].head(40).to_list())
        head = plain.head(DEMO_LOG)
    chosen = [
        *(Filters((TimeRange(low, high, mode),)) for mode in
          ("intersecting", "started", "completed", "contained")),
        Filters((TimeRange(None, high, "started"), TimeRange(low, None, "completed"))),
        Filters((Endpoints(("Create Order",)), Endpoints(("Close Order", "Ship"), "end"))),
        Filters((Contains(("Payment Reminder", "Pack")),)),
        Filters((CaseDuration(timedelta(days=2), timedelta(days=9)), CaseSize(8, 12))),
        Filters((Cases(some),)),
    ]  # fmt: skip
    assert all(filters.on_cases() is not None for filters in chosen)
    assert Filters((TimeRange(low, high, "trim"),)).on_cases() is None
    assert Filters((Contains(("Pack",)), Lifecycle(("complete",)))).on_cases() is None
    for cache in (0, 1 << 28):
        with Workbench(demo_db, cache_bytes=cache) as bench:
            for cut in (Cut(), Cut(known_at=head // 2)):
                events = bench.events(DEMO_LOG, cut, coded=True)
                for filters in chosen:
                    wanted = filters.apply(events)
                    rows = projections.case_rows(wanted, presorted=True).collect()
                    assert_frame_equal(
                        decoded(bench.case_rows(DEMO_LOG, cut, filters)), decoded(rows)
                    )
                    assert_frame_equal(
                        bench.events(DEMO_LOG, cut, filters).collect(),
                        decoded(wanted.collect()),
                    )
                    assert rows.height > 0


def test_projections_computed_whole_read_the_read_model(demo_db: Path, tmp_path: Path) -> None:
    """A checkpointed projection computed whole from the read model equals one computed
    from a scan of the store (each on its own copy of the store)."""
    import shutil

    from sample_data.demo import DEMO_LOG
    from workbench import checkpoints

    ours, theirs = tmp_path / "ours.db", tmp_path / "theirs.db"
    shutil.copy(demo_db, ours)
    shutil.copy(demo_db, theirs)
    with Workbench(ours) as bench, EventStore(theirs) as store:
        names = list(checkpoints.registered(store))
        assert "directly_follows" in names
        for name in names:
            found = bench.projection(DEMO_LOG, name)
            assert_frame_equal(found, checkpoints.refresh(store, DEMO_LOG, name))
        assert {c.name for c in bench.refresh_projections(DEMO_LOG)} >= set(names)


def test_the_app_gives_every_column_it_holds_apart(tmp_path: Path) -> None:
    """The app holds a log's events in memory without their ids (`HELD_APART`) and reads
    those when a query asks: row for row the events the CLI reads, whatever the cut and
    filters, with a tail beyond the read model's segment and after a write."""
    from workbench.filters import TimeRange
    from workbench.readmodel import ReadModel

    db = tmp_path / "ids.db"
    with EventStore(db) as store:
        for number in range(12):
            begin = START + timedelta(hours=number * 7)
            store.append(
                "chain",
                f"c{number % 5}",
                [
                    Event(
                        activity,
                        begin + timedelta(hours=step),
                        event_id=f"e{number}-{step}",
                        correlation_id=f"r{number}",
                        causation_id=None if step == 0 else f"e{number}-{step - 1}",
                        attributes={"region": "north" if number % 2 else "south"},
                    )
                    for step, activity in enumerate(["ask", "check", "answer"][: 1 + number % 3])
                ],
            )
        ReadModel(store).refresh("chain")
    cuts = [Cut(), Cut(known_at=9), Cut(as_of=START + timedelta(days=1))]
    window = TimeRange(START + timedelta(hours=10), START + timedelta(days=2), mode="trim")
    chosen = [Filters(), NORTH, Filters((window,))]

    def alike(held: Workbench, direct: Workbench) -> None:
        for cut in cuts:
            for filters in chosen:
                expected = direct.events("chain", cut, filters).collect()
                assert_frame_equal(held.events("chain", cut, filters).collect(), expected)
                on_ids = [  # read by the segment where they hold, the rest from memory
                    pl.col("event_id") == "e3-1",
                    pl.col("causation_id").is_in(["e0-0", "e5-1", "no such event"]),
                    (pl.col("event_id") == "e4-0") | (pl.col("activity") == "answer"),
                ]
                for where in on_ids:
                    found = held.events("chain", cut, filters).filter(where).collect()
                    assert_frame_equal(found, expected.filter(where))
                for case in ("c1", "c3"):  # the rows of a case: from a slice of the segment
                    ids = held.events("chain", cut, filters).filter(pl.col("case_id") == case)
                    assert_frame_equal(
                        ids.select("causation_id", "log", "event_id").collect(),
                        expected.filter(pl.col("case_id") == case).select(
                            "causation_id", "log", "event_id"
                        ),
                    )

    with Workbench(db, cache_bytes=1 << 28) as held, Workbench(db) as direct:
        alike(held, direct)  # all in the segment
    with EventStore(db) as store:
        store.append("chain", "c9", [Event("ask", START, event_id="tail", causation_id="e0-0")])
    with Workbench(db, cache_bytes=1 << 28) as held, Workbench(db) as direct:
        alike(held, direct)  # and a tail
        with EventStore(db) as store:  # a write: the app reads the log again, at its head
            store.append("chain", "c1", [Event("answer", START, event_id="last")])
        assert "last" in held.events("chain").collect()["event_id"].to_list()
        assert_frame_equal(
            held.events("chain", coded=True).collect(), direct.events("chain", coded=True).collect()
        )


def test_the_app_keeps_the_cases_a_filter_keeps_as_the_cli_does(demo_db: Path) -> None:
    """Filters on whole cases are looked up in the app's case rows (by case-id code), not
    applied to the events: the same events, the same provisional periods, on the demo log
    with its late events, for each kind of such filter and a cut."""
    from workbench.filters import CaseDuration, Cases, CaseSize, Contains, Endpoints, TimeRange
    from workbench.restatements import provisional

    log = "order-to-cash"
    middle = datetime(2024, 2, 15, tzinfo=UTC)
    chosen = [
        Filters((TimeRange(middle, middle + timedelta(days=20)),)),
        Filters((TimeRange(None, middle, mode="completed"),)),
        Filters((TimeRange(middle, None, mode="started"), TimeRange(None, middle, "completed"))),
        Filters((Contains(("Payment Reminder",)),)),
        Filters((Endpoints(("Cancel Order",), at="end"),)),
        Filters((CaseDuration(min=timedelta(days=20)), CaseSize(max=7))),
        Filters((Cases(("O-0000010", "O-0000011", "no such case")),)),
    ]
    with Workbench(demo_db, cache_bytes=1 << 28) as held, Workbench(demo_db) as direct:
        for filters in chosen:
            assert filters.on_cases() is not None
            for cut in (Cut(), Cut(as_of=middle), Cut(known_at=20_000)):
                expected = direct.events(log, cut, filters).collect()
                assert_frame_equal(held.events(log, cut, filters).collect(), expected)
            assert_frame_equal(
                held.provisional(log, filters),
                provisional(direct.store, log, filters=filters, events=direct.events(log)),
            )
        assert held.events(log, filters=chosen[3]).collect().height > 0  # (Contains)
