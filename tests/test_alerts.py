"""Alert rules: a firing is recorded once when a condition starts to hold, with the position
that triggered it; a backtest uses only what was known at each moment; the CLI keeps,
lists, checks and backtests rules, and says plainly what it cannot do."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from typer.testing import CliRunner

from workbench import Event, EventStore
from workbench.alerts import Alerts, Rule, RuleError, backtest, value
from workbench.calendars import Calendar
from workbench.cli import app

START = datetime(2024, 1, 1, tzinfo=UTC)


def test_a_firing_is_recorded_when_a_condition_starts_to_hold(any_store) -> None:
    store, alerts = any_store, Alerts(any_store)
    for case in range(6):  # cases that pass a and finish: a is not where cases end
        store.append(
            "log", f"d{case}", [Event("a", START), Event("done", START + timedelta(hours=1))]
        )
    alerts.add(Rule("waiting", "log", "waiting", activity="a", longer_than_s=3600, more_than=1))
    assert alerts.check() == []  # nobody waits at a
    for case in (1, 2):
        store.append("log", f"c{case}", [Event("a", START + timedelta(hours=case))])
    store.append("log", "c9", [Event("done", START + timedelta(hours=5))])  # the clock moves
    fired = alerts.check()
    assert [row.rule for row in fired] == ["waiting"]
    assert fired[0].position == store.head("log")
    assert fired[0].value == 2
    assert alerts.check() == []  # nothing new: not checked again
    store.append("log", "c3", [Event("a", START + timedelta(hours=6))])
    assert alerts.check() == []  # still holding: no second firing
    for case in (1, 2, 3):  # the cases move on: it no longer holds ...
        store.append("log", f"c{case}", [Event("done", START + timedelta(hours=7))])
    assert alerts.check() == []
    for case in (4, 5):  # ... and when it holds again, it fires again
        store.append("log", f"c{case}", [Event("a", START + timedelta(hours=8))])
    store.append("log", "c9", [Event("done", START + timedelta(hours=12))])
    assert len(alerts.check()) == 1
    recorded = alerts.firings()
    assert recorded.height == 2
    assert recorded["position"].is_sorted()
    assert recorded["moment"].to_list()[0] == START + timedelta(hours=5)


def test_a_backtest_uses_only_what_was_known_at_each_moment(tmp_path) -> None:
    with EventStore(tmp_path / "s.db") as store:
        # Every day a case starts at "review"; reviews are done two days later. The
        # completions arrive in one late import, after everything else.
        for day in range(10):
            store.append("log", f"c{day}", [Event("review", START + timedelta(days=day))])
        late = pl.DataFrame(
            {
                "case_id": [f"c{day}" for day in range(10)],
                "activity": ["done"] * 10,
                "timestamp": [START + timedelta(days=day + 2) for day in range(10)],
            }
        )
        store.import_frame("log", late)
        rule = Rule("piling", "log", "waiting", activity="review", longer_than_s=0, more_than=3)
        series = backtest(store, rule, step=timedelta(days=1))
        # As known then: the completions had not arrived, so reviews pile up day after day.
        assert series["holds"].any()
        assert int(series["fires"].sum()) == 1
        first = series.filter(pl.col("fires"))["moment"][0]
        # With everything known now, the pile never passes 3 at that moment.
        now = value(rule, store.scan("log"), first)
        assert now is not None
        assert now <= 3
        held = series.filter(pl.col("fires")).row(0, named=True)
        assert held["value"] > 3
        # Known then: the reviews up to that moment, none of the late completions.
        reviews = sum(1 for day in range(10) if START + timedelta(days=day) <= first)
        assert held["events_known"] == reviews


def test_rules_are_checked_by_name_and_refuse_bad_definitions() -> None:
    with pytest.raises(RuleError, match="needs the activity"):
        Rule("x", "log", "waiting")
    with pytest.raises(RuleError, match="unknown rule kind"):
        Rule("x", "log", "nonsense")  # type: ignore[arg-type]
    rule = Rule("slow", "log", "throughput", period="1w", median_above_s=86_400 * 10)
    assert rule.describe() == "weekly median throughput time above 1.4 wk"
    assert Rule.from_json("slow", "log", rule.to_json()) == rule
    ending = Rule("w", "log", "waiting", activity="a", more_than=1, completed_by=("done",))
    assert Rule.from_json("w", "log", ending.to_json()) == ending


def test_a_rule_can_say_which_activities_complete_a_case(tmp_path) -> None:
    with EventStore(tmp_path / "s.db") as store:
        for case in range(4):  # nothing has finished yet: "review" looks like an end
            store.append("log", f"c{case}", [Event("review", START + timedelta(hours=case))])
        usual = Rule("u", "log", "waiting", activity="review", more_than=2)
        told = Rule("t", "log", "waiting", activity="review", more_than=2, completed_by=("done",))
        moment = START + timedelta(hours=5)
        assert value(usual, store.scan("log"), moment) == 0
        assert value(told, store.scan("log"), moment) == 4


def test_the_cli_keeps_checks_and_backtests_rules(tmp_path) -> None:
    db = str(tmp_path / "s.db")
    with EventStore(db) as store:
        for day in range(10):  # finished reviews: review is not where cases end
            done = [Event("review", START), Event("done", START + timedelta(hours=2))]
            store.append("log", f"d{day}", done)
        for day in range(6):
            store.append("log", f"c{day}", [Event("review", START + timedelta(days=day))])

    def run(*args: str) -> str:
        result = CliRunner().invoke(app, ["--db", db, *args])
        assert result.exit_code == 0, result.output
        return result.stdout

    run("alerts", "add", "piling", "--log", "log", "--waiting-at", "review",
        "--longer-than", "1d", "--more-than", "2")  # fmt: skip
    assert "piling" in run("alerts", "rules")
    assert "fired: piling" in run("alerts", "check")
    fired = json.loads(run("alerts", "--json"))
    assert [row["rule"] for row in fired] == ["piling"]
    assert fired[0]["position"] == 26
    series = json.loads(run("alerts", "backtest", "piling", "--json"))
    assert any(row["fires"] for row in series)
    assert "would have fired at" in run("alerts", "backtest", "piling")
    for bad, says in (
        (["alerts", "add", "x", "--log", "log", "--waiting-at", "review"], "needs --more-than"),
        (["alerts", "add", "x", "--log", "nope", "--more-than", "1"], "nope"),
        (["alerts", "add", "x", "--log", "log", "--median-above", "soon"], "a duration"),
        (["alerts", "backtest", "nope"], "no alert rule"),
        (["alerts", "remove", "nope"], "no alert rule"),
    ):
        result = CliRunner().invoke(app, ["--db", db, *bad])
        assert result.exit_code == 2, bad
        assert says in result.output
        assert "Traceback" not in result.output
    run("alerts", "remove", "piling")
    assert "no alert rules" in run("alerts", "rules")


def test_a_waiting_rule_in_business_days(tmp_path) -> None:
    """A case waiting at "approve" from Friday 16:00 to Tuesday 10:00 has waited four
    elapsed days but two working hours less than two working days (9-17): a rule of "longer
    than 2 business days" holds without the calendar and not with it, until Wednesday."""
    db = tmp_path / "s.db"

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(app, ["--db", str(db), *args])
        return result.exit_code, result.output

    friday = datetime(2024, 3, 1, 16, tzinfo=UTC)  # a Friday
    with EventStore(db) as store:
        store.append("log", "w", [Event("approve", friday)])
        for day in range(8):  # cases that finish, and a clock that moves every day
            moment = friday - timedelta(days=10 - day)
            store.append(
                "log",
                f"d{day}",
                [Event("approve", moment), Event("done", moment + timedelta(hours=1))],
            )
        store.append("log", "tick", [Event("done", datetime(2024, 3, 5, 10, tzinfo=UTC))])
    assert run("calendar", "add", "office", "--hours", "mon-fri 09:00-17:00")[0] == 0
    common = ("--log", "log", "--waiting-at", "approve", "--longer-than", "2d", "--more-than", "0")
    code, output = run("alerts", "add", "business", *common, "--calendar", "office")
    assert code == 0, output
    assert "longer than 16 h of working time (office)" in output
    assert run("alerts", "add", "elapsed", *common)[0] == 0
    assert run("alerts", "check")[0] == 0
    code, output = run("alerts", "--json")
    assert code == 0, output
    assert [firing["rule"] for firing in json.loads(output)] == ["elapsed"]
    with EventStore(db) as store:
        rule = next(r for r in Alerts(store).rules() if r.name == "business")
        office = Calendar.parse("office", ["mon-fri 09:00-17:00"])
        tuesday = datetime(2024, 3, 5, 10, tzinfo=UTC)
        assert value(rule, store.scan("log"), tuesday, calendar=office) == 0
        wednesday = datetime(2024, 3, 6, 11, tzinfo=UTC)  # 17 working hours
        assert value(rule, store.scan("log"), wednesday, calendar=office) == 1
        found = backtest(store, rule, step=timedelta(hours=6))
        assert not found.filter(pl.col("moment") <= tuesday)["holds"].tail(1).any()
