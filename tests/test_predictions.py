"""Predictions for open cases: honest by construction (what was recorded after a moment
cannot change a prediction at it), better than the baselines where there is something to
learn, and no better than chance where there is nothing."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from workbench import EventStore
from workbench.application import Cut, Workbench
from workbench.cli import app
from workbench.filters import Filters
from workbench.predictions import Target

START = datetime(2024, 1, 1, tzinfo=UTC)


def generated(cases: int, *, planted: bool, seed: int = 7, days: int = 240) -> pl.DataFrame:
    """Cases open, then check or skip, then decide, then close, about a day apart, one
    starting every few hours over ``days``; with ``planted``, a case that was checked
    waits five more days between decide and close, and a case of region north two more
    days before its decision."""
    draw = random.Random(seed)
    rows = []
    for n in range(cases):
        moment = START + timedelta(days=days * n / cases, hours=draw.uniform(0, 4))
        checked = draw.random() < 0.5
        region = draw.choice(["north", "south"])
        path = ["open", "check" if checked else "skip", "decide", "close"]
        for step, activity in enumerate(path):
            if step:
                wait = draw.expovariate(1.0)
                if planted and activity == "close" and checked:
                    wait += 5
                if planted and activity == "decide" and region == "north":
                    wait += 2
                moment += timedelta(days=wait)
            rows.append((f"c{n:04}", activity, moment, region))
    return pl.DataFrame(
        rows,
        schema={"case_id": pl.String, "activity": pl.String,
                "timestamp": pl.Datetime("us", "UTC"), "region": pl.String},
        orient="row",
    )  # fmt: skip


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("predictions")
    found = {}
    for name, planted in (("planted", True), ("noise", False)):
        db = str(folder / f"{name}.db")
        with EventStore(db) as store:
            store.import_frame("log", generated(1_000, planted=planted, days=120))
        found[name] = db
    return found


def _with_ids(events: pl.DataFrame) -> pl.DataFrame:
    return events.with_columns(
        event_id=pl.format("{}-{}", "case_id", pl.int_range(pl.len()).over("case_id")),
        corrects=pl.lit(None, pl.String),
    )


@pytest.mark.parametrize(
    "target", ["remaining-time", "next-activity", "outcome", "outcome:slow:6d"]
)
def test_what_was_recorded_after_a_moment_cannot_change_a_prediction_at_it(tmp_path, target):
    """Two stores share a history; one also learns, after the moment, late events of cases
    open then (which happened before it), corrections of earlier events and new cases.
    Predictions at the moment are bit-identical; given the late events as if known, they
    would not be."""
    history = _with_ids(generated(300, planted=True, days=90))
    at = START + timedelta(days=60)
    open_then = (
        history.filter(pl.col("timestamp") <= at)
        .group_by("case_id")
        .agg(pl.col("activity").last(), pl.col("timestamp").last())
        .filter(pl.col("activity") != "close")
        .sort("case_id")
        .head(8)
    )
    late = open_then.select(
        "case_id",
        activity=pl.lit("escalate"),
        timestamp=pl.col("timestamp") + timedelta(minutes=30),
        region=pl.lit("north"),
        event_id=pl.format("{}-late", "case_id"),
        corrects=pl.lit(None, pl.String),
    ).filter(pl.col("timestamp") <= at)
    earlier = history.filter(pl.col("timestamp") < at - timedelta(days=5)).head(20)
    fixed = earlier.with_columns(
        region=pl.lit("west"), corrects=pl.col("event_id"), event_id=pl.format("{}-fix", "event_id")
    )
    newer = _with_ids(generated(20, planted=False, seed=3, days=10)).with_columns(
        case_id=pl.format("new-{}", "case_id"), timestamp=pl.col("timestamp") + timedelta(days=40)
    )
    answers = []
    for name, learns_more in (("same", False), ("more", True)):
        db = tmp_path / f"{name}.db"
        with EventStore(db) as store:
            store.import_frame("log", history)
            if learns_more:
                store.import_frame("log", pl.concat([late, fixed, newer], how="diagonal_relaxed"))
        with Workbench(db) as bench:
            answers.append(bench.predict("log", target=target, at=at).table)
            if learns_more:
                leaked = bench._knowable("log", Cut(), Filters())
    assert answers[0].height > 0
    assert_frame_equal(answers[0], answers[1], check_exact=True)
    from workbench.predictions import predict

    as_if_known = predict(leaked.filter(pl.col("timestamp") <= at), at, Target.parse(target))
    assert not as_if_known.table.equals(answers[0])  # the test can tell a leak


def test_a_planted_rule_is_learned_and_the_intervals_hold(stores) -> None:
    """Checked cases wait five more days before they close, north's two more before the
    decision: the model's error is far below the baseline's (which sees the last activity
    and the prefix's length only), its 10-90 % intervals hold about 80 % of the truth, and
    it knows what comes next."""
    with Workbench(stores["planted"]) as bench:
        found = bench.backtest_predictions("log", every="2w")
    overall = found.overall
    assert overall["remaining_scored"] > 300
    assert overall["mae_seconds"] < 0.8 * overall["baseline_mae_seconds"]
    assert 0.65 <= overall["interval_coverage"] <= 0.95
    assert overall["next_activity_accuracy"] > overall["baseline_next_activity_accuracy"] + 0.2
    assert found.cuts.height >= 6
    assert (found.cuts["trained_on"] >= 20).all()


def test_on_noise_the_model_does_not_beat_the_baseline(stores) -> None:
    """Durations that depend on nothing: the model is no better than the baseline beyond
    chance."""
    with Workbench(stores["noise"]) as bench:
        found = bench.backtest_predictions("log", every="2w", targets=["remaining-time"])
    overall = found.overall
    assert overall["remaining_scored"] > 150
    assert overall["mae_seconds"] > 0.9 * overall["baseline_mae_seconds"]
    assert set(overall) == {"remaining_scored", "mae_seconds", "median_ae_seconds",
                            "baseline_mae_seconds", "interval_coverage"}  # fmt: skip


def test_arrivals_that_quicken_do_not_make_open_cases_look_short(tmp_path) -> None:
    """Durations of weeks that depend on nothing, and cases arriving faster and faster:
    the later a training point, the likelier its case was short, and a feature that tells
    when a point was observed (the workload rises with the arrivals) would let the trees
    predict every open case to end soon (with it: 1.4 times the baseline's error, and
    intervals holding 44 % of the outcomes). The remaining time's models leave it out."""
    days, cases = 120, 500
    frame = generated(cases, planted=False, days=days)
    number = pl.col("case_id").str.slice(1).cast(pl.Int64) / cases
    later = ((number.sqrt() - number) * days * 86_400e6).cast(pl.Int64)  # case n at sqrt(n)
    frame = frame.with_columns(pl.col("timestamp") + pl.duration(microseconds=later))
    first = pl.col("timestamp").min().over("case_id")
    frame = frame.with_columns(first + (pl.col("timestamp") - first) * 5)  # weeks, not days
    db = tmp_path / "quickening.db"
    with EventStore(db) as store:
        store.import_frame("log", frame)
    with Workbench(db) as bench:
        overall = bench.backtest_predictions("log", every="2w", targets=["remaining-time"]).overall
    assert overall["remaining_scored"] > 300
    assert overall["mae_seconds"] < 1.25 * overall["baseline_mae_seconds"]
    assert 0.7 <= overall["interval_coverage"] <= 0.95


def test_the_commands_predict_and_backtest(stores) -> None:
    db = stores["planted"]

    def run(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(app, ["--db", db, *args])
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        return result.output

    at = (START + timedelta(days=80)).isoformat()
    found = json.loads(run("predict", "log", "--at", at, "--json"))
    assert found["target"] == "remaining-time"
    assert found["trained_on"] >= 20
    case = found["cases"][0]
    assert {"case_id", "prefix_length", "elapsed_seconds", "remaining_seconds",
            "remaining_low_seconds", "remaining_high_seconds"} <= set(case)  # fmt: skip
    assert (
        case["remaining_low_seconds"] <= case["remaining_seconds"] <= case["remaining_high_seconds"]
    )
    with Workbench(db) as bench:
        same = bench.predict("log", at=START + timedelta(days=80))
    assert [c["case_id"] for c in found["cases"]] == same.table["case_id"].to_list()
    nexts = json.loads(run("predict", "log", "--at", at, "--target", "next-activity", "--json"))
    chances = nexts["cases"][0]["probabilities"]
    assert chances[0]["value"] == nexts["cases"][0]["next_activity"]
    assert sum(c["probability"] for c in chances) == pytest.approx(1.0, abs=1e-6)
    assert "remaining (median)" in run("predict", "log", "--at", at)
    backtested = json.loads(run("predict", "backtest", "log", "--every", "month",
                                "--target", "next-activity", "--json"))  # fmt: skip
    assert set(backtested) == {"every", "targets", "cuts", "overall"}
    assert "next_activity_accuracy" in backtested["overall"]
    assert "overall" in run("predict", "backtest", "log", "--every", "month")
    assert "--target 'soon'" in run("predict", "log", "--target", "soon", code=2)
    early = (START + timedelta(days=2)).isoformat()
    assert "a model needs 20" in run("predict", "log", "--at", early, code=2)


def test_models_trained_at_a_moment_answer_later_on_what_is_known_then(stores) -> None:
    """A `Predictor` asked at its training moment is `predict`; asked later, it predicts
    the cases open then (new ones too) without training again, and never earlier."""
    from workbench.predictions import PredictionError, fit, predict

    with Workbench(stores["planted"]) as bench:
        events = bench._knowable("log", Cut(), Filters())
    at, later = START + timedelta(days=60), START + timedelta(days=66)
    target = Target.parse("outcome:slow:6d")
    then = events.filter(pl.col("known") <= at)
    trained = fit(then, at, target)
    assert_frame_equal(
        trained.predict(then, at).table, predict(then, at, target).table, check_exact=True
    )
    asked = trained.predict(events.filter(pl.col("known") <= later), later)
    assert (asked.trained_at, asked.at) == (at, later)
    started = events.group_by("case_id").agg(pl.col("timestamp").min().alias("start"))
    new = started.filter((pl.col("start") > at) & (pl.col("start") <= later))["case_id"]
    assert set(new) & set(asked.table["case_id"])  # cases unknown at training are predicted
    assert asked.table["risk"].is_between(0, 1).all()
    elapsed = asked.table.join(started, on="case_id").select(
        (pl.lit(later) - pl.col("start")).dt.total_seconds() - pl.col("elapsed_seconds")
    )
    assert (elapsed.to_series().abs() < 1).all()
    with pytest.raises(PredictionError, match="before it"):
        trained.predict(then, at - timedelta(days=1))


def test_several_targets_side_by_side_equal_each_alone(stores) -> None:
    db = stores["planted"]

    def run(*args: str) -> dict:
        result = CliRunner().invoke(app, ["--db", db, "predict", "log", *args, "--json"])
        assert result.exit_code == 0, result.output
        return {c["case_id"]: c for c in json.loads(result.output)["cases"]}

    at = ["--at", (START + timedelta(days=80)).isoformat()]
    together = run(*at, "--target", "remaining-time", "--target", "next-activity",
                   "--target", "outcome", "--target", "outcome:slow:6d")  # fmt: skip
    remaining, following = run(*at), run(*at, "--target", "next-activity")
    ending, risk = run(*at, "--target", "outcome"), run(*at, "--target", "outcome:slow:6d")
    assert together
    assert together.keys() == remaining.keys()
    for case, row in together.items():
        assert row["remaining_seconds"] == remaining[case]["remaining_seconds"]
        assert row["remaining_high_seconds"] == remaining[case]["remaining_high_seconds"]
        assert row["next_activity"] == following[case]["next_activity"]
        assert row["next_activity_probability"] == following[case]["probability"]
        assert row["outcome"] == ending[case]["outcome"]
        assert row["outcome_probability"] == ending[case]["probability"]
        assert row["risk"] == risk[case]["risk"]
        chances = {c["value"]: c["probability"] for c in risk[case]["probabilities"]}
        assert row["risk"] == pytest.approx(chances.get("true", 0.0))


def test_the_backtest_in_working_time(stores) -> None:
    """With a calendar, the remaining time's errors in its working time too: around the
    clock they are the elapsed errors; in office hours a fraction of them."""
    from workbench.calendars import Calendar
    from workbench.predictions import backtest

    with Workbench(stores["planted"]) as bench:
        events = bench._knowable("log", Cut(), Filters())
    always = Calendar.parse("always", ["mon-sun 00:00-24:00"])
    office = Calendar.parse("office", ["mon-fri 09:00-17:00"])
    chosen = [Target.parse("remaining-time")]
    elapsed = backtest(events, every="1mo", targets=chosen).overall
    around = backtest(events, every="1mo", targets=chosen, hours=always).overall
    working = backtest(events, every="1mo", targets=chosen, hours=office).overall
    assert around["mae_business_seconds"] == pytest.approx(elapsed["mae_seconds"], rel=1e-6)
    assert around["baseline_mae_business_seconds"] == pytest.approx(
        elapsed["baseline_mae_seconds"], rel=1e-6
    )
    share = working["mae_business_seconds"] / working["mae_seconds"]
    assert 40 / 168 * 0.7 < share < 40 / 168 * 1.3  # office hours are 40 of 168 a week
    assert "mae_business_seconds" not in elapsed
    result = CliRunner().invoke(
        app,
        ["--db", stores["planted"], "calendar", "add", "office", "--hours", "mon-fri 09:00-17:00"],
    )
    assert result.exit_code == 0, result.output
    said = CliRunner().invoke(
        app,
        ["--db", stores["planted"], "predict", "backtest", "log", "--every", "month",
         "--target", "remaining-time", "--calendar", "office", "--json"],
    )  # fmt: skip
    assert said.exit_code == 0, said.output
    overall = json.loads(said.output)["overall"]
    assert overall["mae_business_seconds"] == pytest.approx(working["mae_business_seconds"])
