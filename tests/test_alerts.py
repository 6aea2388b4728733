"""Alert rules: a firing is recorded once when a condition starts to hold, with the position
that triggered it; a backtest uses only what was known at each moment; the CLI keeps,
lists, checks and backtests rules, and says plainly what it cannot do."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import polars as pl
import pytest
from typer.testing import CliRunner

from tests.test_rules import brute
from tests.test_rulestates import verdict
from workbench import Event, EventStore
from workbench.alerts import Alerts, Rule, RuleError, backtest, value
from workbench.calendars import Calendar
from workbench.cli import app
from workbench.rules import Rule as DeclareRule
from workbench.rules import check
from workbench.rules import written as written_rule

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


def _certain_at(trace: list[tuple[str, int]], rule: DeclareRule, ending: str) -> int | None:
    """Where a case's violation of a rule becomes certain, by brute force over its prefixes
    (see `tests.test_rulestates.verdict`): the position of the first event after which no
    continuation fulfils the rule, or of the event ``ending`` with the rule violated."""
    acts = [activity for activity, _ in trace]
    b = rule.activities[-1] if len(rule.activities) > 1 else None
    for i in range(1, len(acts) + 1):
        dead = verdict(rule.template, acts[:i], rule.activities[0], b) == "violated"
        ended = acts[i - 1] == ending and brute(rule.template, acts[:i], *rule.activities) == -1
        if dead or ended:
            return trace[i - 1][1]
    return None


def test_a_violation_fires_where_it_becomes_certain_round_by_round(any_store) -> None:
    """Events arrive in rounds; after each round the rule's case states equal a full check
    of the log, and each firing is at the position where the brute force says the case's
    violation became certain. The first check reports what was there as one firing."""
    store, alerts = any_store, Alerts(any_store)
    shuffled = random.Random(31)
    names = ["order", "approve", "pay", "ship", "close", "note"]
    plans = {f"c{n}": [shuffled.choice(names) for _ in range(shuffled.randint(1, 6))]
             for n in range(20)}  # fmt: skip
    turns = [case for case, plan in plans.items() for _ in plan]
    shuffled.shuffle(turns)
    written = dict.fromkeys(plans, 0)
    quarter = len(turns) // 4
    rounds = [turns[i * quarter : (i + 1) * quarter if i < 3 else None] for i in range(4)]
    declared = {
        "paid-unapproved": "precedence(approve, pay)",
        "unshipped": "response(order, ship)",
        "double-pay": "absence(note)",
    }
    for number, chunk in enumerate(rounds):
        for case in chunk:
            step = written[case]
            written[case] += 1
            moment = START + timedelta(hours=step)
            store.append("log", case, [Event(plans[case][step], moment)])
        if number == 0:
            for name, text in declared.items():
                alerts.add(Rule(name, "log", "violates", violates=text, completed_by=("close",)))
            first_head = store.head("log")
        alerts.check()
        events = store.read("log").sort("case_id", "timestamp", "position")
        for name, text in declared.items():
            follower = alerts.follower(name)
            assert follower is not None
            full = check(events, [written_rule(text, "test")]).rules[0]
            values = follower.values()
            violating = values.filter(pl.col("value") == -1)["case_id"].sort().to_list()
            assert violating == sorted(full.violating_cases), (number, name)
    events = store.read("log").sort("position")
    traces: dict[str, list[tuple[str, int]]] = {}
    for case, activity, position in events.select("case_id", "activity", "position").rows():
        traces.setdefault(case, []).append((activity, position))
    firings = alerts.firings()
    for name, text in declared.items():
        rule = written_rule(text, "test")
        certain = {
            case: at for case, trace in traces.items()
            if (at := _certain_at(trace, rule, "close")) is not None
        }  # fmt: skip
        mine = firings.filter(pl.col("rule") == name)
        before = sorted(case for case, at in certain.items() if at <= first_head)
        later = sorted(at for at in certain.values() if at > first_head)
        summary = mine.filter(pl.col("position") == first_head)
        if before:
            assert summary["value"].to_list() == [len(before)], name
        assert mine.filter(pl.col("position") > first_head)["position"].to_list() == later, name
        for row in mine.filter(pl.col("position") > first_head).iter_rows(named=True):
            case = next(c for c, at in certain.items() if at == row["position"])
            assert row["message"].startswith(f"case {case} violates {rule}")
    assert alerts.check() == []  # nothing new: nothing fires twice


def test_a_late_event_rebuilds_its_case_and_a_second_process_catches_up(tmp_path) -> None:
    """An event earlier than its case's latest one is put in its place; an `Alerts` of
    another process starts from the last check and fires only what is new."""
    with EventStore(tmp_path / "s.db") as store:
        store.append("log", "c1", [Event("a", START), Event("x", START + timedelta(hours=2))])
        first = Alerts(store)
        first.add(Rule("chained", "log", "violates", violates="chainresponse(a, b)"))
        assert [f.value for f in first.check()] == [1]  # a, then x: broken for good
        store.append("log", "c1", [Event("b", START + timedelta(hours=1))])  # a b x now
        assert first.check() == []
        follower = first.follower("chained")
        assert follower is not None
        assert follower.values()["value"].to_list() == [1]  # fulfilled, as a full check says
        store.append("log", "c2", [Event("a", START), Event("a", START + timedelta(hours=1))])
        second = Alerts(store)
        fired = second.check()
        assert [(f.position, f.message) for f in fired] == [
            (5, "case c2 violates chainresponse(a, b)")
        ]
        assert first.check() == []  # the head is checked already


def test_a_violates_rule_is_backtested_on_what_was_known(tmp_path) -> None:
    """The backtest advances the states by the events known at each step: a case that pays
    without approval fires at the step its payment became known."""
    with EventStore(tmp_path / "s.db") as store:
        for day in range(6):
            events = [Event("order", START + timedelta(days=day))]
            events.append(Event("pay" if day == 3 else "approve",
                                START + timedelta(days=day, hours=12)))  # fmt: skip
            store.append("log", f"c{day}", events)
        rule = Rule("unapproved", "log", "violates", violates="precedence(approve, pay)")
        series = backtest(store, rule, step=timedelta(days=1))
        fires = series.filter(pl.col("fires"))
        assert fires["moment"].to_list() == [START + timedelta(days=4)]
        assert series["value"].to_list() == [0, 0, 0, 1, 1, 1]  # days 1 to 6
        assert series["events_known"].is_sorted()


def test_the_cli_adds_checks_and_backtests_a_violates_rule(tmp_path) -> None:
    db = str(tmp_path / "s.db")
    with EventStore(db) as store:
        store.append("log", "c1", [Event("Pay, part", START), Event("Ship", START)])
        store.append("log", "c2", [Event("Ship", START)])

    def run(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(app, ["--db", db, *args])
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        return result.output

    said = run("alerts", "add", "early", "--log", "log", "--violates",
               'precedence("Pay, part", Ship)')  # fmt: skip
    assert 'a case violates precedence("Pay, part", Ship)' in said
    assert "fired: early" in run("alerts", "check")
    assert "1 case(s) violate" in run("alerts")
    assert "cases violating" in run("alerts", "backtest", "early")
    assert "no template 'precede'" in run(
        "alerts", "add", "x", "--log", "log", "--violates", "precede(A, B)", code=2
    )
    assert "template(A, B)" in run("alerts", "add", "x", "--log", "log", "--violates", "A", code=2)


def test_a_breach_rule_names_the_cases_predicted_to_miss_the_deadline(tmp_path, monkeypatch):
    """On a log where checked cases wait five more days, a rule "predicted to take longer
    than 6 days, chance above 50 %" names the cases `predict` gives that chance (not those
    past the deadline already), retrains weekly in its backtest, and is right far more
    often than the share of cases that breach."""
    from tests.test_predictions import generated
    from workbench import predictions
    from workbench.alerts import breach_scores

    db = str(tmp_path / "p.db")
    history = generated(300, planted=True, days=60)  # as it stands on day 50: cases open
    with EventStore(db) as store:
        store.import_frame("log", history.filter(pl.col("timestamp") <= START + timedelta(50)))

    def run(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(app, ["--db", db, *args])
        assert result.exit_code == code, result.output
        return result.output

    said = run("alerts", "add", "late", "--log", "log", "--breach", "6d", "--probability", "0.5")
    assert "predicted to take longer than" in said
    run("alerts", "check")
    predicted = json.loads(run("predict", "log", "--target", "outcome:slow:6d", "--json"))
    named = sorted(c["case_id"] for c in predicted["cases"]
                   if c["risk"] > 0.5 and c["elapsed_seconds"] <= 6 * 86_400)  # fmt: skip
    assert named
    fired = json.loads(run("alerts", "--json"))
    assert [f["value"] for f in fired] == [len(named)]
    assert named[0] in fired[0]["message"]
    fits = []
    trained = predictions.fit

    def counted(*args, **options):  # type: ignore[no-untyped-def]
        found = trained(*args, **options)
        fits.append(args[1])  # a model trained (a moment with too few cases trains none)
        return found

    monkeypatch.setattr(predictions, "fit", counted)
    with EventStore(db) as store:
        rule = Alerts(store).rules()[0]
        series = backtest(store, rule, step=timedelta(days=1))
        scores = breach_scores(store, rule, series)
    assert series["fires"].any()
    assert (
        series["value"].drop_nulls().to_list()
        == series["cases"]
        .list.len()
        .filter(series["value"].is_not_null())
        .cast(pl.Float64)
        .to_list()
    )
    assert 5 <= len(fits) <= 8  # about once a week, not once a step
    assert all(later - earlier >= timedelta(days=7) for earlier, later in pairwise(fits))
    assert 0.3 < scores["base_rate"] < 0.7
    assert scores["precision"] > scores["base_rate"] + 0.15
    assert scores["recall"] > 0.5
    assert "took longer" in run("alerts", "backtest", "late", "--step", "3d")
    assert "leave out --calendar" in run(
        "alerts", "add", "x", "--log", "log", "--breach", "6d", "--calendar", "office", code=2
    )
    assert "probability 1.5" in run(
        "alerts", "add", "x", "--log", "log", "--breach", "6d", "--probability", "1.5", code=2
    )
