"""Time travel: state at a moment, bitemporal views, diffs, checkpoints and snapshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from workbench import EventStore, checkpoints, timetravel
from workbench import projections as p
from workbench.readmodel import ReadModel, decoded

START = datetime(2024, 1, 1, tzinfo=UTC)
ACTIVITIES = ["register", "check", "approve", "ship", "pay"]


def batch(rows: list[tuple[str, str, int, str | None, int | None]]) -> pl.DataFrame:
    """Events from (case, activity, hour, resource, amount) tuples; equal hours are ties."""
    return pl.DataFrame(
        {
            "case_id": [row[0] for row in rows],
            "activity": [row[1] for row in rows],
            "timestamp": [START + timedelta(hours=row[2]) for row in rows],
            "resource": [row[3] for row in rows],
            "amount": [row[4] for row in rows],
        },
        schema_overrides={"amount": pl.Int64, "resource": pl.String},
    )


event_rows = st.lists(
    st.tuples(
        st.sampled_from(["c1", "c2", "c3", "c4"]),
        st.sampled_from(ACTIVITIES),
        st.integers(0, 12),
        st.one_of(st.none(), st.sampled_from(["ana", "ben"])),
        st.one_of(st.none(), st.integers(1, 5)),
    ),
    min_size=1,
    max_size=25,
)


def brute_force(events: pl.DataFrame, at: datetime, completed: set[str]) -> dict[str, Any]:
    """The state of each case at ``at``, folded one event at a time in plain Python."""
    state: dict[str, dict[str, Any]] = {}
    for row in sorted(
        events.to_dicts(), key=lambda r: (r["case_id"], r["timestamp"], r["position"])
    ):
        if row["timestamp"] > at:
            continue
        case = state.setdefault(
            row["case_id"],
            {"start": row["timestamp"], "events": 0, "seen": [], "amount": None},
        )
        case["events"] += 1
        case["last"] = row["timestamp"]
        case["seen"].append(row["activity"])
        case["last_activity"] = row["activity"]
        case["last_resource"] = row["resource"]
        if row["amount"] is not None:
            case["amount"] = row["amount"]
    return {
        case_id: {
            "status": "completed" if case["last_activity"] in completed else "open",
            "last_activity": case["last_activity"],
            "last_resource": case["last_resource"],
            "events": case["events"],
            # A completed case's elapsed time is its duration; an open one's runs to `at`.
            "elapsed": (case["last"] if case["last_activity"] in completed else at) - case["start"],
            "rework": len(case["seen"]) - len(set(case["seen"])),
            "amount": case["amount"],
        }
        for case_id, case in state.items()
    }


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=event_rows, late=event_rows, hour=st.integers(-1, 14))
def test_state_at_equals_a_brute_force_fold(store, first, late, hour) -> None:
    store.drop("log") if store.has_log("log") else None
    store.import_frame("log", batch(first))
    store.import_frame("log", batch(late))  # later appends, often earlier in valid time
    events = store.read("log")
    at = START + timedelta(hours=hour, minutes=30)
    expected = brute_force(events, at, {"pay"})
    state = timetravel.state_at(events.lazy(), at, completed={"pay"}).collect()
    got = {
        row.pop("case_id"): row
        for row in state.select(
            "case_id",
            "status",
            "last_activity",
            "last_resource",
            "events",
            "elapsed",
            "rework",
            "amount",
        ).to_dicts()
    }
    assert got == expected


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=event_rows, late=event_rows, hour=st.integers(0, 14), snap_hour=st.integers(0, 12))
def test_state_from_a_snapshot_equals_a_replay(store, first, late, hour, snap_hour) -> None:
    store.drop("log") if store.has_log("log") else None
    store.import_frame("log", batch(first))
    checkpoints.snapshot(store, "log", START + timedelta(hours=snap_hour, minutes=15))
    store.import_frame("log", batch(late))  # after the snapshot: late and new events
    at = START + timedelta(hours=hour, minutes=30)
    replay = timetravel.state_at(store.scan("log"), at).collect()
    assert_frame_equal(checkpoints.state_at(store, "log", at), replay)
    # ... and so does the view as known before the late events, from the same snapshot.
    known = store.head("log") - len(late)
    if known > 0:
        assert_frame_equal(
            checkpoints.state_at(store, "log", at, known_at=known),
            timetravel.state_at(store.scan("log", known_at=known), at).collect(),
        )
    checkpoints.refresh_snapshots(store, "log")
    assert_frame_equal(checkpoints.state_at(store, "log", at), replay)


def test_a_late_event_changes_as_of_but_not_what_was_known(store) -> None:
    store.import_frame(
        "log", batch([("c1", "register", 0, "ana", 5), ("c1", "check", 5, "ben", None)])
    )
    known = store.head("log")
    recorded = datetime.now(UTC)
    before = {
        moment: timetravel.state_at(store.scan("log", known_at=known), moment).collect()
        for moment in (START + timedelta(hours=h) for h in (1, 3, 6))
    }
    store.import_frame("log", batch([("c1", "approve", 2, "cy", 7)]))  # happened at 2h
    for moment, state in before.items():
        assert_frame_equal(
            timetravel.state_at(store.scan("log", known_at=known), moment).collect(), state
        )
        assert_frame_equal(
            timetravel.state_at(store.scan("log", known_at=recorded), moment).collect(), state
        )
    as_of = timetravel.state_at(store.scan("log"), START + timedelta(hours=3)).collect()
    assert as_of.select("last_activity", "events", "amount").row(0) == ("approve", 2, 7)
    assert before[START + timedelta(hours=3)].select("last_activity", "events").row(0) == (
        "register",
        1,
    )


def test_default_completion_ignores_activities_that_usually_continue() -> None:
    rows = [("c1", "register", 0, None, None), ("c1", "pay", 1, None, None)]
    rows += [("c2", "register", 0, None, None), ("c2", "pay", 2, None, None)]
    rows += [("c3", "register", 5, None, None)]  # cut off by the export
    events = batch(rows).with_columns(position=pl.int_range(1, 6)).lazy()
    assert timetravel.completing_activities(events) == ["pay"]
    state = timetravel.state_at(events, START + timedelta(hours=6)).collect()
    assert state.select("case_id", "status").rows() == [
        ("c1", "completed"),
        ("c2", "completed"),
        ("c3", "open"),
    ]


def test_diff_names_what_changed_between_two_moments() -> None:
    rows = [
        ("c1", "register", 0, None, None),
        ("c1", "check", 2, None, None),
        ("c1", "pay", 4, None, None),
        ("c2", "register", 3, None, None),
    ]
    events = batch(rows).with_columns(position=pl.int_range(1, 5)).lazy()
    change = timetravel.diff(
        events, START + timedelta(hours=1), START + timedelta(hours=5), completed={"pay"}
    )
    assert change.started["case_id"].to_list() == ["c2"]
    assert change.completed["case_id"].to_list() == ["c1"]
    assert change.moved.rows() == [("c1", "register", "pay")]
    assert sorted(change.new_edges.select("source", "target").rows()) == [
        ("check", "pay"),
        ("register", "check"),
    ]
    kpis = {row["measure"]: row for row in change.kpis.to_dicts()}
    assert (kpis["cases"]["before"], kpis["cases"]["after"], kpis["cases"]["change"]) == (1, 2, 1)


def test_diff_summary_is_json_ready() -> None:
    events = batch([("c1", "register", 0, None, None)]).with_columns(position=pl.lit(1)).lazy()
    change = timetravel.diff(events, START, START + timedelta(hours=1)).to_dict()
    assert change["started"] == []


appends = st.lists(event_rows, min_size=1, max_size=4)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=appends)
def test_a_checkpointed_projection_caught_up_equals_a_full_replay(store, batches) -> None:
    store.drop("log") if store.has_log("log") else None
    for rows in batches:
        store.import_frame("log", batch(rows))
        for name in (*checkpoints.DASHBOARD, "completion"):
            projection = checkpoints.registered(store)[name]
            caught_up = checkpoints.refresh(store, "log", name)
            replay = projection.compute(store.scan("log"))
            replay = replay.collect() if isinstance(replay, pl.LazyFrame) else replay
            if name == "cases":
                replay = replay.sort("case_id")
            assert_frame_equal(caught_up, replay, check_row_order=name != "directly_follows")
    assert all(c.lag == 0 for c in checkpoints.checkpoints(store, "log") if c.position)


def test_catch_up_recomputes_only_the_cases_that_changed(store, monkeypatch) -> None:
    store.import_frame("log", batch([(f"c{n}", "register", n % 10, None, None) for n in range(50)]))
    checkpoints.refresh(store, "log", "variants")
    store.import_frame("log", batch([("c7", "pay", 20, None, None)]))
    seen: list[int] = []
    original = p.case_variants

    def counting(events: pl.LazyFrame, **options: Any) -> pl.LazyFrame:
        seen.append(events.select(pl.col("case_id").n_unique()).collect().item())
        return original(events, **options)

    monkeypatch.setitem(
        checkpoints._BUILT_IN,
        "variants",
        checkpoints.Projection(
            "variants",
            p.variants,
            by_case=counting,
            combine=lambda rows: p.variants_of(rows.lazy()),
        ),
    )
    result = checkpoints.refresh(store, "log", "variants")
    assert seen == [1]
    assert result.filter(pl.col("variant").list.len() == 2)["cases"].to_list() == [1]


def test_user_projections_in_python_and_sql(store, monkeypatch, tmp_path) -> None:
    (tmp_path / "my_projections.py").write_text(
        "import polars as pl\n"
        "from workbench.checkpoints import projection\n\n"
        "@projection('amount_per_activity')\n"
        "def amount_per_activity(events):\n"
        "    '''Total amount per activity.'''\n"
        "    totals = events.group_by('activity').agg(total=pl.col('amount').sum())\n"
        "    return totals.sort('activity')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("WORKBENCH_PROJECTIONS", "my_projections")
    store.import_frame(
        "log", batch([("c1", "register", 0, None, 5), ("c2", "register", 1, None, 7)])
    )
    checkpoints.define_sql(
        store, "busy_resources", "SELECT activity, count(*) AS n FROM events GROUP BY activity"
    )
    found = checkpoints.registered(store)
    assert found["amount_per_activity"].description == "Total amount per activity."
    assert checkpoints.refresh(store, "log", "amount_per_activity").rows() == [("register", 12)]
    assert checkpoints.refresh(store, "log", "busy_resources").rows() == [("register", 2)]
    store.import_frame("log", batch([("c3", "pay", 2, None, 1)]))
    assert checkpoints.refresh(store, "log", "busy_resources").sort("activity").rows() == [
        ("pay", 1),
        ("register", 2),
    ]
    # Time travel comes for free: the same function over a scan as of a moment.
    early = found["amount_per_activity"].compute(store.scan("log", as_of=START))
    assert early.collect().rows() == [("register", 5)]


def test_a_bad_sql_projection_is_refused_with_its_error(store) -> None:
    store.import_frame("log", batch([("c1", "register", 0, None, 5)]))
    with pytest.raises(checkpoints.ProjectionError, match="does not run"):
        checkpoints.define_sql(store, "broken", "SELECT nope FROM events")
    with pytest.raises(checkpoints.ProjectionError, match="built-in"):
        checkpoints.define_sql(store, "variants", "SELECT 1")


def test_dropping_a_log_forgets_its_checkpoints(store) -> None:
    store.import_frame("log", batch([("c1", "register", 0, None, 5)]))
    checkpoints.refresh(store, "log", "variants")
    checkpoints.take_snapshots(store, "log", count=2)
    assert store.projections.list("log")
    store.drop("log")
    assert store.projections.list() == []


def test_state_at_on_the_demo_log_counts_open_work(tmp_path) -> None:
    from sample_data import demo

    with EventStore(tmp_path / "demo.db") as demo_store:
        demo.load_demo(demo_store)
        summary = next(s for s in demo_store.logs() if s.log == demo.DEMO_LOG)
        middle = summary.first_timestamp + (summary.last_timestamp - summary.first_timestamp) / 2
        state = checkpoints.state_at(demo_store, demo.DEMO_LOG, middle)
        counts = timetravel.status_counts(state)
        assert counts["open"] > 0
        assert counts["completed"] > 0
        wip = timetravel.summary(state)
        assert wip["open"].sum() == counts["open"]
        started = demo_store.scan(demo.DEMO_LOG).filter(pl.col("timestamp") <= middle)
        assert state.height == started.select(pl.col("case_id").n_unique()).collect().item()


def test_corrections_supersede_what_they_correct_and_are_listed(store) -> None:
    store.import_frame(
        "log",
        batch([("c1", "register", 0, "ana", 5), ("c1", "check", 2, "ben", 8)]).with_columns(
            event_id=pl.Series(["e1", "e2"]), corrects=pl.lit(None, pl.String)
        ),
    )
    known = store.head("log")
    # Recorded later: the check really had amount 9 (it corrects e2).
    store.import_frame(
        "log",
        batch([("c1", "check", 2, "ben", 9)]).with_columns(
            event_id=pl.Series(["e2-fixed"]), corrects=pl.Series(["e2"])
        ),
    )
    found = timetravel.corrections(store.scan("log"))
    assert found.select("event_id", "corrects").rows() == [("e2-fixed", "e2")]
    at = START + timedelta(hours=3)
    now = timetravel.state_at(store.scan("log"), at).collect()
    assert now.select("events", "amount", "rework").row(0) == (2, 9, 0)
    before = timetravel.state_at(store.scan("log", known_at=known), at).collect()
    assert before.select("events", "amount").row(0) == (2, 8)
    assert_frame_equal(checkpoints.state_at(store, "log", at), now)
    # On codes in case order, as the app computes it from the read model: the same.
    coded = ReadModel(store).read("log", coded=True).lazy()
    assert_frame_equal(decoded(timetravel.state_at(coded, at, presorted=True).collect()), now)
    assert_frame_equal(decoded(timetravel.corrections(coded)), found)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("ab"), st.integers(0, 3), st.sampled_from("xyz")), max_size=40
    )
)
def test_tied_events_are_those_sharing_case_activity_and_time(rows) -> None:
    """Pairs at one time are judged by their neighbour, runs of three or more by grouping:
    either way, the events that share case, activity and time with another, and no
    other."""
    events = pl.LazyFrame(
        {
            "position": list(range(1, len(rows) + 1)),
            "case_id": [case for case, _, _ in rows],
            "timestamp": [START + timedelta(hours=hour) for _, hour, _ in rows],
            "activity": [activity for _, _, activity in rows],
        },
        schema_overrides={"position": pl.Int64, "case_id": pl.String, "activity": pl.String},
    ).sort("case_id", "timestamp", "position")
    keys = [(case, hour, activity) for case, hour, activity in rows]
    expected = [position for position, key in enumerate(keys, 1) if keys.count(key) > 1]
    found = timetravel.tied_positions(events, presorted=True).collect()["position"].to_list()
    assert found == expected


def test_a_re_recorded_event_is_a_correction_but_a_repeat_is_not() -> None:
    events = pl.LazyFrame(
        {
            "position": [1, 2, 3],
            "event_id": ["a", "b", "c"],
            "case_id": ["c1"] * 3,
            "activity": ["remind", "remind", "remind"],
            "timestamp": [START, START + timedelta(days=7), START + timedelta(days=7)],
            "causation_id": [None, "a", "b"],  # b repeats a; c records b again
        }
    )
    assert timetravel.corrections(events).select("event_id", "corrects").rows() == [("c", "b")]
    # Another activity at the same moment between them, or the same one in another case,
    # changes nothing.
    between = pl.LazyFrame(
        {
            "position": [1, 2, 3, 4, 5],
            "event_id": ["a", "b", "x", "c", "y"],
            "case_id": ["c1", "c1", "c1", "c1", "c2"],
            "activity": ["remind", "remind", "call", "remind", "remind"],
            "timestamp": [START] + [START + timedelta(days=7)] * 4,
            "causation_id": [None, "a", None, "b", "b"],
        }
    )
    found = timetravel.corrections(between, presorted=False)
    assert found.select("event_id", "corrects").rows() == [("c", "b")]


def test_small_catch_ups_write_only_the_changed_cases_and_read_back(store, tmp_path) -> None:
    rows = [(f"c{n:03d}", "register", n % 12, "ana", n) for n in range(300)]
    rows += [(f"c{n:03d}", "check", 13 + n % 5, "ben", None) for n in range(300)]
    store.import_frame("log", batch(rows))
    checkpoints.refresh_many(store, "log", checkpoints.DASHBOARD)
    for step in range(3):  # late and new events, a few at a time
        store.import_frame(
            "log",
            batch([(f"c{step:03d}", "pay", 2, "cy", 1), (f"new{step}", "register", 20, None, 2)]),
        )
        checkpoints.refresh_many(store, "log", checkpoints.DASHBOARD)
    changes = store.recorder.query("SELECT count(*) FROM projection_changes")[0][0]
    assert changes > 0  # the catch-ups were recorded as changes, not whole frames
    with EventStore(store.path) as fresh:  # another process: base plus changes from the file
        for name in checkpoints.DASHBOARD:
            projection = checkpoints.registered(fresh)[name]
            replay = projection.compute(fresh.scan("log"))
            replay = replay.collect() if isinstance(replay, pl.LazyFrame) else replay
            if name == "cases":
                replay = replay.sort("case_id")
            assert_frame_equal(
                checkpoints.refresh(fresh, "log", name),
                replay,
                check_row_order=name != "directly_follows",
            )
