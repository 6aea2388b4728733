"""Declare rules: discovery and checking equal pm4py's on real logs, template by template,
and each template's definition (LTLf over finite traces) evaluated by brute force on
generated traces; where pm4py departs from the definition (nonsuccession,
nonchainsuccession), the definition wins and the test says so."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ingest.jobs import ingest
from tests.conftest import real_log
from workbench import EventStore
from workbench.cli import app
from workbench.rulefiles import read
from workbench.rules import (
    FULFILLED,
    INACTIVE,
    TEMPLATES,
    UNARY,
    VIOLATED,
    Rule,
    RulesError,
    check,
    discover,
)

#: Where pm4py reads a template otherwise than its definition (see `workbench.rules`).
NOT_AS_PM4PY = {"nonsuccession", "nonchainsuccession"}


def brute(template: str, trace: list[str], a: str, b: str | None = None) -> int:
    """A template's value in a trace, from its definition, one position at a time."""
    n = len(trace)
    at_a = [i for i in range(n) if trace[i] == a]
    at_b = [i for i in range(n) if trace[i] == b]

    def response() -> bool:
        return all(any(j > i for j in at_b) for i in at_a)

    def precedence() -> bool:
        return all(any(i < j for i in at_a) for j in at_b)

    def altresponse() -> bool:
        return all(any(j > i and not any(i < k < j for k in at_a) for j in at_b) for i in at_a)

    def altprecedence() -> bool:
        return all(any(i < j and not any(i < k < j for k in at_b) for i in at_a) for j in at_b)

    def chainresponse() -> bool:
        return all(i + 1 < n and trace[i + 1] == b for i in at_a)

    def chainprecedence() -> bool:
        return all(j > 0 and trace[j - 1] == a for j in at_b)

    a_in, b_in = bool(at_a), bool(at_b)
    either = a_in or b_in
    table: dict[str, tuple[bool, bool]] = {
        "existence": (True, a_in),
        "exactly_one": (True, len(at_a) == 1),
        "init": (True, n > 0 and trace[0] == a),
        "absence": (True, not a_in),
        "responded_existence": (a_in, b_in),
        "coexistence": (either, a_in == b_in),
        "response": (a_in, response()),
        "precedence": (b_in, precedence()),
        "succession": (either, response() and precedence()),
        "altresponse": (a_in, altresponse()),
        "altprecedence": (b_in, altprecedence()),
        "altsuccession": (either, altresponse() and altprecedence()),
        "chainresponse": (a_in, chainresponse()),
        "chainprecedence": (b_in, chainprecedence()),
        "chainsuccession": (either, chainresponse() and chainprecedence()),
        "noncoexistence": (either, not (a_in and b_in)),
        "nonsuccession": (either, not any(i < j for i in at_a for j in at_b)),
        "nonchainsuccession": (
            either,
            not any(i + 1 < n and trace[i + 1] == b for i in at_a),
        ),
    }
    active, holds = table[template]
    if not active:
        return INACTIVE
    return FULFILLED if holds else VIOLATED


def _events(traces: list[list[str]]) -> pl.DataFrame:
    rows = [
        {"case_id": f"c{n:03}", "activity": act, "event_id": f"c{n:03}-{i}"}
        for n, trace in enumerate(traces)
        for i, act in enumerate(trace)
    ]
    return pl.DataFrame(rows, schema={"case_id": pl.String, "activity": pl.String,
                                      "event_id": pl.String})  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from("abcd"), min_size=1, max_size=9), min_size=1, max_size=6))
def test_every_template_is_its_definition(traces: list[list[str]]) -> None:
    """On generated traces, every rule's activations and fulfilments, and every case's
    violations, are what the template's definition gives, position by position."""
    events = _events(traces)
    names = sorted({act for trace in traces for act in trace} | {"z"})  # z: in no trace
    rules = [
        Rule(t, (a,) if t in UNARY else (a, b))
        for t in TEMPLATES
        for a in names
        for b in (names if t not in UNARY else [a])
        if t in UNARY or a != b
    ]
    checked = check(events, rules)
    for result in checked.rules:
        rule = result.rule
        values = [brute(rule.template, trace, *rule.activities) for trace in traces]
        assert result.activations == sum(v != INACTIVE for v in values), rule
        assert result.fulfilments == sum(v == FULFILLED for v in values), rule
        assert result.violating_cases == [
            f"c{n:03}" for n, v in enumerate(values) if v == VIOLATED
        ], rule
    found = {(r.template, r.activities): (r.support, r.confidence) for r in discover(
        events, min_support=0.0, min_confidence=0.0)}  # fmt: skip
    for result in checked.rules:
        key = (result.rule.template, result.rule.activities)
        if "z" in key[1]:  # discovery speaks of the log's activities only, as pm4py's
            continue
        if result.activations:
            assert found[key] == (result.activations, result.fulfilments), key
        else:
            assert key not in found


def test_the_events_involved_in_a_violation() -> None:
    events = _events([["a", "b", "a", "c", "b", "c"]])
    checked = check(
        events,
        [
            Rule("chainresponse", ("a", "b")),
            Rule("absence", ("c",)),
            Rule("nonsuccession", ("b", "c")),
            Rule("precedence", ("d", "b")),
            Rule("existence", ("d",)),
        ],
    )
    (case,) = checked.cases
    assert case.violated == [
        ("chainresponse", ("a", "b")),
        ("absence", ("c",)),
        ("nonsuccession", ("b", "c")),
        ("precedence", ("d", "b")),
        ("existence", ("d",)),
    ]
    assert case.events == [
        ["c000-2"],  # the second a is followed by c
        ["c000-3", "c000-5"],
        ["c000-1", "c000-3", "c000-4", "c000-5"],
        ["c000-1", "c000-4"],
        [],
    ]
    assert case.fitness == 0.0


def _pm4py_frame(events: pl.DataFrame) -> Any:
    return events.select(
        pl.col("case_id").alias("case:concept:name"),
        pl.col("activity").alias("concept:name"),
        pl.col("timestamp").alias("time:timestamp"),
    ).to_pandas()


def _keyed(model: dict[str, Any]) -> dict[tuple[str, tuple[str, ...]], tuple[int, int]]:
    return {
        (template, (key,) if isinstance(key, str) else tuple(key)): (v["support"], v["confidence"])
        for template, rules in model.items()
        for key, v in rules.items()
    }


@pytest.mark.parametrize(
    ("name", "support"),
    [
        ("running-example.csv", 0.2),
        ("receipt.csv", 0.3),
        ("sepsis.xes.gz", 0.3),
        ("bpic2012.xes.gz", 0.5),
    ],
)
def test_discovery_and_checking_equal_pm4py(tmp_path, name, support) -> None:
    """Every rule pm4py discovers, with its support and confidence, and every case's
    violated rules, except the two templates pm4py reads otherwise: there, the
    definition (brute force) agrees with us and not with pm4py."""
    from pm4py.algo.conformance.declare.variants import classic as conformance
    from pm4py.algo.discovery.declare.variants import classic as discovery

    with EventStore(tmp_path / "s.db") as store:
        ingest(store, real_log(name), log="log")
        events = store.scan("log").collect().sort("case_id", "timestamp", "position")
    frame = _pm4py_frame(events)
    parameters = {"min_support_ratio": support, "min_confidence_ratio": 0.5}
    theirs = _keyed(discovery.apply(frame, parameters=parameters))
    found = discover(events, min_support=support, min_confidence=0.5)
    ours = {rule.key: (rule.support, rule.confidence) for rule in found}
    differing = {key for key in set(ours) | set(theirs) if ours.get(key) != theirs.get(key)}
    assert {template for template, _ in differing} <= NOT_AS_PM4PY
    assert len(ours) > 100
    traces = {
        case: list(acts)
        for case, acts in events.group_by("case_id", maintain_order=True)
        .agg("activity")
        .iter_rows()
    }
    for template, acts in sorted(differing)[:40]:
        values = [brute(template, trace, *acts) for trace in traces.values()]
        support_, confidence = sum(v != INACTIVE for v in values), values.count(FULFILLED)
        expected = (support_, confidence)
        if support_ >= len(traces) * support and confidence >= support_ * 0.5:
            assert ours[(template, acts)] == expected
        else:
            assert (template, acts) not in ours
    model: dict[str, dict[Any, Any]] = {}
    for rule in found:
        key = rule.activities[0] if len(rule.activities) == 1 else rule.activities
        model.setdefault(rule.template, {})[key] = {"support": 1, "confidence": 1}
    results = conformance.apply(frame, model)
    cases = frame.groupby("case:concept:name", sort=False).size().index.tolist()
    expected_cases = dict(zip(cases, results, strict=True))
    checked = check(events, found)
    differences: Counter[str] = Counter()
    for case in checked.cases:
        pm4py_case = expected_cases[case.case_id]
        theirs_violated = {
            (d[0], (d[1],) if isinstance(d[1], str) else tuple(d[1]))
            for d in pm4py_case["deviations"]
        }
        for template, acts in theirs_violated ^ set(case.violated):
            differences[template] += 1
            assert brute(template, traces[case.case_id], *acts) == (
                VIOLATED if (template, acts) in case.violated else FULFILLED
            )
        if theirs_violated == set(case.violated):
            assert case.fitness == pytest.approx(pm4py_case["dev_fitness"])
    assert set(differences) <= NOT_AS_PM4PY


def _cli(db: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--db", str(db), *args])
    return result.exit_code, result.output


@pytest.fixture
def run_db(tmp_path) -> Path:
    """A store with the running example, as the log ``run``."""
    db = tmp_path / "s.db"
    with EventStore(db) as store:
        ingest(store, real_log("running-example.csv"), log="run")
    return db


def test_the_commands_discover_write_read_and_check(run_db, tmp_path) -> None:
    db = run_db
    path = tmp_path / "rules.json"
    code, output = _cli(db, "rules", "discover", "run", "--min-support", "0.5",
                        "--output", str(path))  # fmt: skip
    assert code == 0, output
    written = json.loads(path.read_text())
    assert written["kind"] == "declare"
    assert {"template": "init", "activities": ["register request"], "support": 6,
            "confidence": 6} in written["rules"]  # fmt: skip
    code, output = _cli(db, "rules", "check", "run", "--rules", str(path), "--json")
    assert code == 0, output
    checked = json.loads(output)
    assert set(checked) == {"rules", "cases"}
    assert set(checked["rules"][0]) == {
        "template", "activities", "activations", "fulfilments", "violations", "violating_cases"
    }  # fmt: skip
    assert [c["case_id"] for c in checked["cases"]] == ["1", "2", "3", "4", "5", "6"]
    mine = tmp_path / "mine.json"
    mine.write_text(json.dumps({"rules": [
        {"template": "response", "activities": ["decide", "pay compensation"]},
        {"template": "absence", "activities": ["reinitiate request"]},
    ]}))  # fmt: skip
    code, output = _cli(db, "rules", "check", "run", "--rules", str(mine), "--json")
    assert code == 0, output
    cases = {c["case_id"]: c for c in json.loads(output)["cases"]}
    assert cases["3"]["violated"] == [["absence", ["reinitiate request"]]]
    assert cases["1"]["violated"] == [["response", ["decide", "pay compensation"]]]
    assert cases["6"]["violated"] == []
    assert cases["6"]["fitness"] == 1.0
    assert cases["1"]["fitness"] == 0.5


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("{", "not JSON"),
        ('{"rules": [{"template": "respons", "activities": ["a", "b"]}]}', "rule 1: template"),
        ('{"rules": [{"template": "response", "activities": ["a"]}]}', "takes 2 activities"),
        ('{"rules": [{"template": "init", "activities": ["a", "b"]}]}', "takes 1 activities"),
        ('{"rules": [{"template": "response", "activities": ["a", "a"]}]}', "two different"),
        ('{"kind": "petri-net", "rules": []}', "the kinds are declare, temporal-profile"),
        ('{"kind": "log-skeleton", "always_after": [["a"]]}', "always_after must be a list"),
        ('{"kind": "log-skeleton", "activ_freq": {"a": [-1]}}', "activ_freq must map"),
        ('{"kind": "temporal-profile", "rules": [{"activities": ["a", "b"]}]}', "mean_seconds"),
        ('{"kind": "temporal-profile", "zeta": -1, "rules": []}', "zeta -1"),
    ],
)
def test_a_bad_rules_file_is_one_line_naming_it(run_db, tmp_path, content, words) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(RulesError, match=words):
        read(path)
    code, output = _cli(run_db, "rules", "check", "run", "--rules", str(path))
    assert code == 2
    assert output.count("\n") == 1
    assert str(path) in output


# ------------------------------------------------------------------ the temporal profile


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 5_000)), min_size=1, max_size=8),
        min_size=1,
        max_size=6,
    ),
    st.sampled_from([0.0, 0.5, 1.0, 6.0]),
)
def test_the_temporal_profile_is_its_definition(cases: list[list[tuple[str, int]]], zeta) -> None:
    """Every pair of events of a case (the earlier first) is an observation of its pair of
    activities: the mean and sample deviation per pair, and the observations outside
    mean +- zeta deviations, by brute force."""
    import statistics
    import sys
    from datetime import UTC, datetime, timedelta

    from workbench import temporal_profile

    start = datetime(2024, 1, 1, tzinfo=UTC)
    rows = []
    traces = []
    for n, case in enumerate(cases):
        ordered = sorted(case, key=lambda event: event[1])  # time, then as given
        traces.append(ordered)
        rows.extend(
            {"case_id": f"c{n:03}", "activity": act, "event_id": f"c{n:03}-{i}",
             "timestamp": start + timedelta(seconds=t)}
            for i, (act, t) in enumerate(ordered)
        )  # fmt: skip
    events = pl.DataFrame(rows)
    observed: dict[tuple[str, str], list[float]] = {}
    for trace in traces:
        for i in range(len(trace)):
            for j in range(i + 1, len(trace)):
                pair = (trace[i][0], trace[j][0])
                observed.setdefault(pair, []).append(float(trace[j][1] - trace[i][1]))
    profile = temporal_profile.discover(events)
    assert [g.activities for g in profile] == sorted(observed)
    for gap in profile:
        values = observed[gap.activities]
        assert gap.observations == len(values)
        assert gap.mean_seconds == pytest.approx(statistics.mean(values))
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        assert gap.stdev_seconds == pytest.approx(spread, abs=1e-6)
    checked = temporal_profile.check(events, profile, zeta)
    bands = {g.activities: (g.mean_seconds, g.stdev_seconds) for g in profile}
    for n, trace in enumerate(traces):
        expected = []
        for i in range(len(trace)):
            for j in range(i + 1, len(trace)):
                pair = (trace[i][0], trace[j][0])
                mean, spread = bands[pair]
                seconds = float(trace[j][1] - trace[i][1])
                if seconds < mean - zeta * spread or seconds > mean + zeta * spread:
                    distance = abs(seconds - mean) / spread if spread > 0 else sys.maxsize
                    expected.append((pair, seconds, distance, (f"c{n:03}-{i}", f"c{n:03}-{j}")))
        found = [
            (d.activities, d.seconds, d.zeta, d.events) for d in checked.deviations[f"c{n:03}"]
        ]
        assert len(found) == len(expected)
        for mine, wanted in zip(found, expected, strict=True):
            assert mine[0] == wanted[0]
            assert mine[3] == wanted[3]
            assert mine[1] == pytest.approx(wanted[1])
            assert mine[2] == pytest.approx(wanted[2])


@pytest.mark.parametrize("name", ["running-example.csv", "receipt.csv", "sepsis.xes.gz"])
def test_the_temporal_profile_equals_pm4py(tmp_path, name) -> None:
    import pm4py

    from workbench import temporal_profile

    with EventStore(tmp_path / "s.db") as store:
        ingest(store, real_log(name), log="log")
        events = store.scan("log").collect().sort("case_id", "timestamp", "position")
    frame = _pm4py_frame(events)
    theirs = pm4py.discover_temporal_profile(frame)
    profile = temporal_profile.discover(events)
    assert {g.activities for g in profile} == set(theirs)
    for gap in profile:
        mean, spread = theirs[gap.activities]
        assert gap.mean_seconds == pytest.approx(mean, rel=1e-9, abs=1e-6)
        assert gap.stdev_seconds == pytest.approx(spread, rel=1e-6, abs=1e-6)
    checked = temporal_profile.check(events, profile, 2.0)
    results = pm4py.conformance_temporal_profile(frame, theirs, zeta=2.0)
    cases = frame.groupby("case:concept:name", sort=False).size().index.tolist()
    assert sum(len(r) for r in results) > 0
    for case, deviations in zip(cases, results, strict=True):
        found = checked.deviations[case]
        assert [(d.activities, round(d.seconds, 3)) for d in found] == [
            ((a, b), round(seconds, 3)) for a, b, seconds, _ in deviations
        ]


def test_the_commands_with_a_temporal_profile(run_db, tmp_path) -> None:
    db = run_db
    path = tmp_path / "profile.json"
    code, output = _cli(db, "rules", "discover", "run", "--kind", "temporal-profile",
                        "--output", str(path))  # fmt: skip
    assert code == 0, output
    written = json.loads(path.read_text())
    assert written["kind"] == "temporal-profile"
    assert written["zeta"] == 6.0
    assert len(written["rules"]) == 39
    code, output = _cli(db, "rules", "check", "run", "--rules", str(path), "--zeta", "0.5",
                        "--json")  # fmt: skip
    assert code == 0, output
    checked = json.loads(output)
    case = next(c for c in checked["cases"] if c["violated"])
    assert case["violated"][0][0] == "temporal_profile"
    assert len(case["deviations"][0]) == 4
    assert 0 <= case["fitness"] < 1
    code, output = _cli(db, "rules", "discover", "run", "--kind", "temporal-profile",
                        "--min-support", "0.5")  # fmt: skip
    assert code == 2
    assert "Declare's" in output


# ------------------------------------------------------------------ the log skeleton


def skeleton_holds(relation: str, trace: list[str], a: str, b: str) -> bool | None:
    """Whether a relation holds in a trace, from its definition (None: the trace does not
    speak of it)."""
    at_a = [i for i, act in enumerate(trace) if act == a]
    at_b = [i for i, act in enumerate(trace) if act == b]
    if relation == "equivalence":
        return None if not (at_a or at_b) else len(at_a) == len(at_b)
    if not at_a:
        return None
    if relation == "always_after":
        return all(any(j > i for j in at_b) for i in at_a)
    if relation == "always_before":
        return all(any(j < i for j in at_b) for i in at_a)
    if relation == "never_together":
        return not at_b
    return all(i + 1 < len(trace) and trace[i + 1] == b for i in at_a)  # directly_follows


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from("abcd"), min_size=1, max_size=8), min_size=1, max_size=8),
    st.sampled_from([0.0, 0.25, 0.5]),
)
def test_the_log_skeleton_is_its_definition(traces: list[list[str]], noise: float) -> None:
    from workbench import skeleton

    events = _events(traces)
    names = sorted({act for trace in traces for act in trace})
    found = skeleton.discover(events, noise=noise)
    for relation in skeleton.RELATIONS:
        expected = set()
        for a in names:
            for b in names:
                if a == b:
                    continue
                verdicts = [skeleton_holds(relation, t, a, b) for t in traces]
                spoken = [v for v in verdicts if v is not None]
                if spoken and sum(spoken) >= len(spoken) * (1 - noise):
                    expected.add((a, b))
        assert found.relations[relation] == expected, relation
    checked = skeleton.check(events, found)
    for n, trace in enumerate(traces):
        wanted = sorted(
            (relation, pair)
            for relation in skeleton.RELATIONS
            for pair in found.relations[relation]
            if skeleton_holds(relation, trace, *pair) is False
        )
        counts = Counter(trace)
        wanted += [
            ("activ_freq", (act, times))
            for act, times in counts.items()
            if times not in found.counts[act]
        ]
        wanted += [
            ("activ_freq", (act, 0))
            for act, allowed in found.counts.items()
            if act not in counts and min(allowed) > 0
        ]
        assert checked.deviations[f"c{n:03}"] == sorted(wanted)


@pytest.mark.parametrize("name", ["running-example.csv", "receipt.csv", "sepsis.xes.gz"])
def test_the_log_skeleton_against_pm4py(tmp_path, name) -> None:
    """pm4py agrees on never-together, directly-follows and the counts; where it differs
    on the others, the definition (brute force) agrees with us."""
    import pm4py

    from workbench import skeleton

    with EventStore(tmp_path / "s.db") as store:
        ingest(store, real_log(name), log="log")
        events = store.scan("log").collect().sort("case_id", "timestamp", "position")
    frame = _pm4py_frame(events)
    theirs = pm4py.discover_log_skeleton(frame, noise_threshold=0.0)
    ours = skeleton.discover(events)
    traces = [
        list(acts)
        for _, acts in events.group_by("case_id", maintain_order=True).agg("activity").iter_rows()
    ]
    for relation in ("never_together", "directly_follows"):
        assert ours.relations[relation] == set(theirs[relation]), relation
    assert ours.counts == {act: set(c) for act, c in theirs["activ_freq"].items()}
    for relation in ("equivalence", "always_after", "always_before"):
        for pair in ours.relations[relation] ^ set(theirs[relation]):
            verdicts = [skeleton_holds(relation, t, *pair) for t in traces]
            holds_everywhere = all(v is not False for v in verdicts)
            assert holds_everywhere == (pair in ours.relations[relation]), (relation, pair)
    kept = {**{r: [] for r in skeleton.RELATIONS}, "activ_freq": theirs["activ_freq"]}
    kept["never_together"] = list(theirs["never_together"])
    results = pm4py.conformance_log_skeleton(frame, kept)
    cases = frame.groupby("case:concept:name", sort=False).size().index.tolist()
    restricted = skeleton.Skeleton(
        {"never_together": ours.relations["never_together"]}, ours.counts
    )
    checked = skeleton.check(events, restricted)
    for case, result in zip(cases, results, strict=True):
        expected = []
        for relation, what in result["deviations"]:
            if relation == "activ_freq":
                expected.append((relation, what))
            else:
                expected.extend((relation, pair) for pair in what)
        assert checked.deviations[case] == sorted(expected), case
        assert checked.fitness(case) == pytest.approx(result["dev_fitness"])


def test_the_commands_with_a_log_skeleton(run_db, tmp_path) -> None:
    path = tmp_path / "skeleton.json"
    code, output = _cli(run_db, "rules", "discover", "run", "--kind", "log-skeleton",
                        "--output", str(path))  # fmt: skip
    assert code == 0, output
    written = json.loads(path.read_text())
    assert written["kind"] == "log-skeleton"
    assert ["register request", "decide"] in written["always_after"]
    assert written["activ_freq"]["register request"] == [1]
    code, output = _cli(run_db, "rules", "check", "run", "--rules", str(path), "--json")
    assert code == 0, output
    checked = json.loads(output)
    assert all(case["fitness"] == 1.0 for case in checked["cases"])
    code, output = _cli(run_db, "rules", "discover", "run", "--noise", "0.1")
    assert code == 2
    assert "log skeleton's" in output
