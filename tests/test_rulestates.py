"""Declare rules followed event by event: after every round of new events, each case's
state per rule gives the value a full check gives, and a violation is reported exactly at
the event from which no continuation of the case could fulfil the rule (or at the event
that ended the case), as a brute force over continuations says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import product

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_rules import brute
from workbench.rules import FULFILLED, TEMPLATES, UNARY, VIOLATED, Rule, check
from workbench.rulestates import VERDICTS, Follower, automaton

START = datetime(2026, 1, 1, tzinfo=UTC)
NAMES = "abc"


def rules_over(names: str) -> list[Rule]:
    return [
        Rule(t, (a,) if t in UNARY else (a, b))
        for t in TEMPLATES
        for a in names
        for b in (names if t not in UNARY else a)
        if t in UNARY or a != b
    ]


def verdict(template: str, prefix: list[str], a: str, b: str | None, *, longest: int = 4) -> str:
    """RV-LTL's verdict on a prefix, by brute force: the template's value in the prefix and
    in every continuation of it by up to ``longest`` events."""
    # Which activity another one is does not matter to a template: one name for them all.
    seen = tuple(x if x in (a, b) else "x" for x in prefix)
    return _verdict(template, seen, a, b, longest)


@cache
def _verdict(template: str, seen: tuple[str, ...], a: str, b: str | None, longest: int) -> str:
    prefix = list(seen)
    now = brute(template, prefix, a, b) == VIOLATED
    later = [
        brute(template, prefix + list(more), a, b) == VIOLATED
        for n in range(1, longest + 1)
        for more in product([a, b or "y", "x"], repeat=n)
    ]
    if now and all(later):
        return "violated"
    if now:
        return "pending"
    return "holding" if any(later) else "satisfied"


def test_the_automaton_is_every_template_on_every_short_trace() -> None:
    """Every trace of up to four events over a, b and another activity: the automaton's
    value is the template's definition, and its verdict the brute force's."""
    auto = automaton()
    for n in range(5):
        for trace in product("abx", repeat=n):
            state = 0
            for symbol in trace:
                state = auto.step[state, "abx".index(symbol)]
            for template in TEMPLATES:
                b = None if template in UNARY else "b"
                if trace:
                    assert auto.value[template][state] == brute(template, list(trace), "a", b)
                found = VERDICTS[auto.verdict[template][state]]
                assert found == verdict(template, list(trace), "a", b), (template, trace)


def frame(rows: list[tuple[str, str, datetime, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"case_id": pl.String, "activity": pl.String,
                "timestamp": pl.Datetime("us", "UTC"), "position": pl.Int64},
        orient="row",
    )  # fmt: skip


def in_order(rows: list[tuple[str, str, datetime, int]]) -> dict[str, list[str]]:
    """Each case's trace: its events by time, then position."""
    traces: dict[str, list[str]] = {}
    for case, activity, _, _ in sorted(rows, key=lambda r: (r[0], r[2], r[3])):
        traces.setdefault(case, []).append(activity)
    return traces


def assert_equals_a_full_check(follower: Follower, rows: list) -> None:
    traces = in_order(rows)
    found = follower.values()
    assert sorted(follower.case_ids) == sorted(traces)
    for (case, rule), value in zip(
        found.select("case_id", "rule").iter_rows(), found["value"].to_list(), strict=True
    ):
        kept = follower.rules[rule]
        assert value == brute(kept.template, traces[case], *kept.activities), (case, kept)
    events = frame(sorted(rows, key=lambda r: (r[0], r[2], r[3]))).with_columns(
        event_id=pl.col("position").cast(pl.String)
    )
    full = check(events, follower.rules)
    for result in full.rules:
        violating = set(
            found.filter(
                (pl.col("rule") == follower.rules.index(result.rule))
                & (pl.col("value") == VIOLATED)
            )["case_id"]
        )
        assert violating == set(result.violating_cases), result.rule


traces_ = st.lists(st.lists(st.sampled_from(NAMES), min_size=1, max_size=7), min_size=1,
                   max_size=5)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(traces_, st.data())
def test_rounds_of_events_equal_a_full_check_and_report_where_certain(traces, data) -> None:
    """Events of interleaved cases arrive in rounds, in each case's order: after each
    round the states equal a full check, and each violation is reported once, at the
    position the brute force names: the first event after which no continuation fulfils
    the rule, or the completing event ``c`` (a case ends there) with the rule violated."""
    turns = data.draw(st.permutations([n for n, t in enumerate(traces) for _ in t]))
    rows, taken = [], [0] * len(traces)
    for position, n in enumerate(turns, start=1):  # the cases interleave, each in its order
        i = taken[n]
        taken[n] += 1
        rows.append((f"k{n}", traces[n][i], START + timedelta(hours=i), position))
    rules = rules_over(NAMES)
    follower = Follower(rules, completed=["c"])
    cuts = sorted(data.draw(st.sets(st.integers(1, len(rows)), max_size=4)) | {len(rows)})
    reported: list = []
    start = 0
    for cut in cuts:
        reported += follower.advance(frame(rows[start:cut]))
        start = cut
        assert_equals_a_full_check(follower, rows[:cut])
    expected = []
    for case, trace in in_order(rows).items():
        positions = [r[3] for r in sorted(rows, key=lambda r: r[3]) if r[0] == case]
        for rule in rules:
            b = rule.activities[-1] if len(rule.activities) > 1 else None
            for i in range(1, len(trace) + 1):
                prefix = trace[:i]
                dead = verdict(rule.template, prefix, rule.activities[0], b, longest=3)
                value = brute(rule.template, prefix, *rule.activities)
                ended = prefix[-1] == "c" and value == VIOLATED
                if dead == "violated" or ended:
                    expected.append((positions[i - 1], case, rule.key, dead != "violated"))
                    break
    found = [(v.position, v.case_id, v.rule.key, v.at_end) for v in reported]
    assert sorted(found) == sorted(expected)
    assert [v.position for v in reported] == sorted(v.position for v in reported)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.sampled_from(NAMES), st.integers(0, 20)),
        min_size=1,
        max_size=25,
    ),
    st.sets(st.integers(1, 25), max_size=5),
)
def test_events_out_of_order_rebuild_their_case(events, cuts) -> None:
    """Events arrive in any time order (late ones among them): the states still equal a
    full check of the events so far, each case read in (time, position) order."""
    rows = [
        (f"k{case}", activity, START + timedelta(hours=hour), position)
        for position, (case, activity, hour) in enumerate(events, start=1)
    ]
    known: list = []

    def reread(cases: list[str]) -> pl.DataFrame:
        return frame([r for r in known if r[0] in cases])

    follower = Follower(rules_over(NAMES), completed=["c"], reread=reread)
    start = 0
    for cut in sorted({c for c in cuts if c < len(rows)} | {len(rows)}):
        known = rows[:cut]
        follower.advance(frame(rows[start:cut]))
        start = cut
        assert_equals_a_full_check(follower, known)


def test_a_violation_is_reported_once() -> None:
    """``absence(a)`` is violated for good at the first ``a``; a second ``a`` says nothing
    new. ``response(a, b)`` is pending until the case ends, and reported there."""
    rules = [Rule("absence", ("a",)), Rule("response", ("a", "b"))]
    follower = Follower(rules, completed=["end"])
    t = START
    first = follower.advance(frame([("1", "a", t, 1), ("1", "x", t, 2)]))
    assert [(v.rule.template, v.position, v.at_end) for v in first] == [("absence", 1, False)]
    assert follower.advance(frame([("1", "a", t, 3)])) == []
    verdicts = follower.values().filter(pl.col("rule") == 1)["verdict"].to_list()
    assert verdicts == ["pending"]
    last = follower.advance(frame([("1", "end", t, 4)]))
    assert [(v.rule.template, v.position, v.at_end) for v in last] == [("response", 4, True)]
    assert follower.violating(1) == ["1"]
    assert follower.values()["value"].to_list() == [VIOLATED, VIOLATED]
    assert FULFILLED not in follower.values()["value"].to_list()


def test_an_unknown_template_is_refused() -> None:
    from workbench.rules import RulesError

    with pytest.raises(RulesError, match="no template"):
        Follower([Rule("eventually", ("a",))])
