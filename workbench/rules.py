"""Declarative rules: Declare constraints discovered from a log and checked against it.

A rule is a Declare template over one or two activities (`TEMPLATES`, named as pm4py names
them), read with the LTLf semantics over each case's finite trace: its events in (time,
position) order. Per case a rule is *activated* (the case has what the rule speaks of)
or not, and an activated rule is *fulfilled* or *violated*. Over the log, a rule's
support is the cases that activate it and its confidence the cases that fulfil it, as
pm4py counts them (`discover_declare`), and a case violates a rule when it activates it
and does not fulfil it (`conformance_declare`).

The work is per variant, not per case, and per variant on arrays: each activity's count,
first and last index, the directly-follows counts, and for the alternate templates the
next (or previous) occurrence of every activity after (before) each event. So every pair
of activities is judged at once, by comparisons of small matrices.

Two templates differ from pm4py on purpose. ``nonsuccession(a, b)`` means that no ``b``
follows an ``a`` (G(a → ¬F b)), and ``nonchainsuccession(a, b)`` that no ``b`` directly
follows an ``a`` (G(a → ¬X b)); pm4py takes them as the negation of ``succession`` and
``chainsuccession``, so that the trace ``a b a`` fulfils both there, though ``b`` follows
an ``a`` in it, directly. Both are activated, as in pm4py, by a case that has ``a`` or
``b``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import polars as pl

from workbench.events import WorkbenchError

#: The Declare templates, named as pm4py names them.
TEMPLATES: Final = (
    "existence",
    "exactly_one",
    "init",
    "absence",
    "responded_existence",
    "coexistence",
    "response",
    "precedence",
    "succession",
    "altresponse",
    "altprecedence",
    "altsuccession",
    "chainresponse",
    "chainprecedence",
    "chainsuccession",
    "noncoexistence",
    "nonsuccession",
    "nonchainsuccession",
)
#: Templates over one activity (the others take two).
UNARY: Final = frozenset({"existence", "exactly_one", "init", "absence"})
#: Values of a rule in a case.
FULFILLED, VIOLATED, INACTIVE = 1, -1, 0
_CELLS: Final = 4_000_000  # the cells of the largest array a batch of traces is judged in


class RulesError(WorkbenchError):
    """Rules that cannot be read or used (one line, naming the file and the rule)."""


@dataclass(frozen=True)
class Rule:
    """One constraint: a template over its activities, with the support and confidence
    it was discovered with (cases activating it, cases fulfilling it), if it was."""

    template: str
    activities: tuple[str, ...]
    support: int | None = None
    confidence: int | None = None

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"template": self.template, "activities": list(self.activities)}
        if self.support is not None:
            found["support"] = self.support
            found["confidence"] = self.confidence
        return found

    @property
    def key(self) -> tuple[str, tuple[str, ...]]:
        return (self.template, self.activities)

    def __str__(self) -> str:
        """The rule as `written` reads it: ``response(A, B)``."""
        names = [
            '"' + a.replace('"', '""') + '"' if re.search(r'[,()"]', a) or a != a.strip() else a
            for a in self.activities
        ]
        return f"{self.template}({', '.join(names)})"


@dataclass(frozen=True)
class RuleResult:
    """A rule against a log: cases activating, fulfilling and violating it."""

    rule: Rule
    activations: int
    fulfilments: int
    violations: int
    violating_cases: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "template": self.rule.template,
            "activities": list(self.rule.activities),
            "activations": self.activations,
            "fulfilments": self.fulfilments,
            "violations": self.violations,
            "violating_cases": self.violating_cases,
        }


@dataclass(frozen=True)
class CaseResult:
    """A case against the rules: those it violates, the events involved in each (the
    activations that failed, or the events that should not be there; worked out when
    asked), and its fitness: the share of the rules it does not violate (pm4py's
    ``dev_fitness``)."""

    case_id: str
    violated: list[tuple[str, tuple[str, ...]]]
    fitness: float
    evidence: _Evidence | None = field(default=None, repr=False, compare=False)

    @property
    def events(self) -> list[list[str]]:
        """Per violated rule, the ids of the events involved."""
        return [] if self.evidence is None else self.evidence.events(self.case_id)

    def as_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "violated": [[template, list(acts)] for template, acts in self.violated],
            "events": self.events,
            "fitness": self.fitness,
        }


class _Evidence:
    """What a variant's violations are about, shared by its cases: the events' indices
    per violated rule, worked out once, the first time a case asks."""

    def __init__(
        self,
        trace: np.ndarray,
        broken: list[Rule],
        codes: dict[str, int],
        ids: dict[str, list[str]],
    ) -> None:
        self.trace, self.broken, self.codes, self.ids = trace, broken, codes, ids
        self._where: list[list[int]] | None = None

    def events(self, case_id: str) -> list[list[str]]:
        if self._where is None:
            listed = self.trace.tolist()
            where: dict[int, list[int]] = {}
            for i, code in enumerate(listed):
                where.setdefault(code, []).append(i)
            self._where = [_involved(listed, where, rule, self.codes) for rule in self.broken]
        ids = self.ids[case_id]
        return [[ids[i] for i in found] for found in self._where]


@dataclass(frozen=True)
class Checked:
    """Rules checked against a log."""

    rules: list[RuleResult]
    cases: list[CaseResult]

    def as_dict(self) -> dict[str, Any]:
        return {
            "rules": [r.as_dict() for r in self.rules],
            "cases": [c.as_dict() for c in self.cases],
        }


# ------------------------------------------------------------------ traces


@dataclass
class Variants:
    """A log's distinct traces (activity codes), the cases of each, and each case's event
    ids, with the activities by code."""

    activities: list[str]
    traces: list[np.ndarray]
    cases: list[list[str]]
    event_ids: dict[str, list[str]] = field(default_factory=dict)

    @property
    def weights(self) -> np.ndarray:
        return np.array([len(c) for c in self.cases], dtype=np.int64)


def variants(events: pl.LazyFrame | pl.DataFrame, *, with_events: bool = False) -> Variants:
    """The traces of events in case order (case, time, position)."""
    lazy = events.lazy()
    columns = ["case_id", "activity", *(["event_id"] if with_events else [])]
    frame = lazy.select(columns).with_columns(pl.col("activity").cast(pl.String)).collect()
    activities = sorted(frame["activity"].unique().drop_nulls().to_list())
    codes = {name: index for index, name in enumerate(activities)}
    coded = frame.with_columns(
        code=pl.col("activity").replace_strict(codes, return_dtype=pl.Int32),
        case_id=pl.col("case_id").cast(pl.String),
    )
    traces = coded.group_by("case_id", maintain_order=True).agg(
        "code", *(["event_id"] if with_events else [])
    )
    grouped = traces.group_by("code", maintain_order=True).agg("case_id")
    found = Variants(
        activities,
        [np.asarray(codes_, dtype=np.int64) for codes_ in grouped["code"].to_list()],
        grouped["case_id"].to_list(),
    )
    if with_events:
        found.event_ids = dict(
            zip(traces["case_id"].to_list(), traces["event_id"].to_list(), strict=True)
        )
    return found


# ------------------------------------------------------------------ judging


def _padded(traces: Sequence[np.ndarray], size: int) -> tuple[np.ndarray, np.ndarray]:
    """The traces padded to the longest with code ``size`` (no activity's), and which
    activity each position has: [trace, position, activity]."""
    longest = max(len(t) for t in traces)
    padded = np.full((len(traces), longest), size)
    for row, trace in enumerate(traces):
        padded[row, : len(trace)] = trace
    return padded, padded[:, :, None] == np.arange(size)[None, None, :]


def basics(
    traces: Sequence[np.ndarray],
    size: int,
    *,
    padded: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, ...]:
    """Per trace and activity: its count, whether present, its first and last index
    (none: past the end, -1); and per trace the directly-follows counts [trace, a, b]."""
    codes, mine = padded if padded is not None else _padded(traces, size)
    number, longest = codes.shape
    count = mine.sum(axis=1)
    small = np.int16 if longest < 32_000 else np.int32
    column = np.arange(longest, dtype=small)[None, :, None]
    first = np.where(mine, column, longest).min(axis=1)
    last = np.where(mine, column, -1).max(axis=1)
    real = codes < size
    pairs = real[:, :-1] & real[:, 1:]
    rows = np.broadcast_to(np.arange(number)[:, None], pairs.shape)[pairs]
    flat = (rows * size + codes[:, :-1][pairs]) * size + codes[:, 1:][pairs]
    follows = np.bincount(flat, minlength=number * size * size).reshape(number, size, size)
    return count, count > 0, first, last, follows


def _judged(traces: Sequence[np.ndarray], size: int) -> dict[str, np.ndarray]:
    """Every template's value (`FULFILLED`, `VIOLATED`, `INACTIVE`) in each of some traces:
    per trace a vector over activities for the unary templates, a matrix [a, b] for the
    others (so arrays [trace, a] and [trace, a, b]). The traces are padded to the longest
    with code ``size``, which no activity has."""
    number = len(traces)
    lengths = np.array([len(t) for t in traces])
    padded, mine = _padded(traces, size)
    longest = padded.shape[1]
    count, present, first, last, follows = basics(traces, size, padded=(padded, mine))
    small = np.int16 if longest < 32_000 else np.int32  # positions: less memory to stream
    column = np.arange(longest, dtype=small)[None, :, None]
    # For each event and each activity: its next occurrence after the event (none: past
    # the longest trace), its previous one before it (none: -2).
    none_after, none_before = small(longest + 1), small(-2)
    ahead = np.minimum.accumulate(np.where(mine, column, none_after)[:, ::-1], axis=1)[:, ::-1]
    after = np.concatenate(
        [ahead[:, 1:], np.full((number, 1, size), none_after, dtype=small)], axis=1
    )
    behind = np.maximum.accumulate(np.where(mine, column, none_before), axis=1)
    before = np.concatenate(
        [np.full((number, 1, size), none_before, dtype=small), behind[:, :-1]], axis=1
    )
    code = np.minimum(padded, size - 1)[:, :, None]
    same_after = np.minimum(np.take_along_axis(after, code, axis=2), lengths[:, None, None])
    same_before = np.maximum(np.take_along_axis(before, code, axis=2), -1)
    # [trace, a, b]: a's answered by a b before the next a; [trace, b, a]: b's preceded by
    # an a since the last b. Counts as floats, so that the products run in BLAS (exact:
    # far below 2**24).
    weights = mine.astype(np.float32).transpose(0, 2, 1)
    answered = weights @ (after < same_after).astype(np.float32)
    preceded = weights @ (before > same_before).astype(np.float32)

    a_on = np.broadcast_to(present[:, :, None], (number, size, size))
    b_on = np.broadcast_to(present[:, None, :], (number, size, size))
    off_diagonal = ~np.eye(size, dtype=bool)[None, :, :]

    def value(active: np.ndarray, holds: np.ndarray) -> np.ndarray:
        found = np.where(active & off_diagonal, np.where(holds, FULFILLED, VIOLATED), INACTIVE)
        return found.astype(np.int8)

    both = a_on & b_on
    by_a, by_b = count[:, :, None], count[:, None, :]
    judged = {
        "existence": np.where(present, FULFILLED, VIOLATED).astype(np.int8),
        "exactly_one": np.where(count == 1, FULFILLED, VIOLATED).astype(np.int8),
        "init": np.where(np.arange(size)[None, :] == padded[:, :1], FULFILLED, VIOLATED).astype(
            np.int8
        ),
        "responded_existence": value(a_on, b_on),
        "response": value(a_on, both & (last[:, :, None] < last[:, None, :])),
        "precedence": value(b_on, both & (first[:, :, None] < first[:, None, :])),
        "altresponse": value(a_on, answered == by_a),
        "altprecedence": value(b_on, preceded.transpose(0, 2, 1) == by_b),
        "chainresponse": value(a_on, follows == by_a),
        "chainprecedence": value(b_on, follows == by_b),
        "nonsuccession": value(a_on | b_on, ~(both & (first[:, :, None] < last[:, None, :]))),
        "nonchainsuccession": value(a_on | b_on, follows == 0),
    }
    judged["absence"] = -judged["existence"]
    judged["succession"] = np.minimum(judged["response"], judged["precedence"])
    judged["altsuccession"] = np.minimum(judged["altresponse"], judged["altprecedence"])
    judged["chainsuccession"] = np.minimum(judged["chainresponse"], judged["chainprecedence"])
    existence = judged["responded_existence"]
    judged["coexistence"] = np.minimum(existence, existence.transpose(0, 2, 1))
    judged["noncoexistence"] = -judged["coexistence"]
    return judged


def batches(traces: Sequence[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """The traces' indices in batches of similar length, each small enough to judge at
    once: at most `_CELLS` cells of traces x positions (or activities) x activities."""
    order = np.argsort([len(t) for t in traces], kind="stable")
    start = 0
    while start < len(order):
        longest = len(traces[order[start]])
        end = start + 1
        while end < len(order):
            longest = max(longest, len(traces[order[end]]))
            if (end - start + 1) * max(longest, size) * max(size, 1) > _CELLS:
                break
            end += 1
        yield order[start:end]
        start = end


def _tallies(found: Variants) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per template, the cases activating and the cases fulfilling each rule."""
    size = len(found.activities)
    weights = found.weights
    totals: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for batch in batches(found.traces, size):
        judged = _judged([found.traces[i] for i in batch], size)
        weight = weights[batch]
        for template, values in judged.items():
            active = np.tensordot(weight, values != INACTIVE, axes=1)
            fulfilled = np.tensordot(weight, values == FULFILLED, axes=1)
            if template in totals:
                totals[template][0].__iadd__(active)
                totals[template][1].__iadd__(fulfilled)
            else:
                totals[template] = (active.astype(np.int64), fulfilled.astype(np.int64))
    return totals


def discover(
    events: pl.LazyFrame | pl.DataFrame,
    *,
    min_support: float = 0.9,
    min_confidence: float = 0.9,
    templates: Iterable[str] = TEMPLATES,
) -> list[Rule]:
    """The Declare rules of a log that at least ``min_support`` of its cases activate and
    at least ``min_confidence`` of those fulfil (pm4py's ``discover_declare`` with
    ``min_support_ratio`` and ``min_confidence_ratio``), in `TEMPLATES` order, then by
    activities."""
    chosen = _templates(templates)
    found = variants(events)
    cases = int(found.weights.sum())
    if cases == 0:
        return []
    rules = []
    for template, (active, fulfilled) in _tallies(found).items():
        if template not in chosen:
            continue
        for index in zip(*np.nonzero(active), strict=True):
            support, confidence = int(active[index]), int(fulfilled[index])
            if support >= cases * min_support and confidence >= support * min_confidence:
                names = tuple(found.activities[i] for i in index)
                rules.append(Rule(template, names, support, confidence))
    order = {name: index for index, name in enumerate(TEMPLATES)}
    return sorted(rules, key=lambda r: (order[r.template], r.activities))


def check(events: pl.LazyFrame | pl.DataFrame, rules: Sequence[Rule]) -> Checked:
    """Each rule against each case of a log (pm4py's ``conformance_declare``): per rule
    the cases activating, fulfilling and violating it; per case the rules it violates,
    the events involved, and its fitness. An activity no case has is absent from each."""
    found = variants(events, with_events=True)
    names = list(found.activities)
    for rule in rules:
        names.extend(a for a in rule.activities if a not in names)
    codes = {name: index for index, name in enumerate(names)}
    by_template: dict[str, tuple[np.ndarray, tuple[np.ndarray, ...]]] = {}
    for template in TEMPLATES:
        numbers = [n for n, rule in enumerate(rules) if rule.template == template]
        if numbers:
            pairs = np.array([[codes[a] for a in rules[n].activities] for n in numbers])
            by_template[template] = (np.array(numbers), tuple(pairs.T))
    values = np.zeros((len(found.traces), len(rules)), dtype=np.int8)
    for batch in batches(found.traces, len(names)):
        judged = _judged([found.traces[i] for i in batch], len(names))
        for template, (chosen, index) in by_template.items():
            everything: tuple[Any, ...] = (slice(None), *index)
            values[np.ix_(batch, chosen)] = judged[template][everything]
    weights = found.weights
    activated = weights @ (values != INACTIVE)
    fulfilled = weights @ (values == FULFILLED)
    keys = [rule.key for rule in rules]
    shared = []  # per variant: the rules violated, the fitness, the evidence
    for number, trace in enumerate(found.traces):
        failed = np.flatnonzero(values[number] == VIOLATED).tolist()
        broken = [rules[n] for n in failed]
        fitness = 1.0 - len(broken) / len(rules) if rules else 1.0
        evidence = _Evidence(trace, broken, codes, found.event_ids)
        shared.append(([keys[n] for n in failed], fitness, evidence))
    order = sorted((case, number) for number, cases in enumerate(found.cases) for case in cases)
    case_ids = np.array([case for case, _ in order], dtype=object)
    of_case = np.array([number for _, number in order], dtype=np.int64)
    per_case = [CaseResult(case, *shared[number]) for case, number in order]
    by_case = values[of_case] if len(of_case) else values[:0]
    results = [
        RuleResult(
            rule,
            int(activated[n]),
            int(fulfilled[n]),
            len(violating),
            violating.tolist(),
        )
        for n, rule in enumerate(rules)
        for violating in [case_ids[by_case[:, n] == VIOLATED]]
    ]
    return Checked(results, per_case)


def _involved(
    trace: list[int], where: dict[int, list[int]], rule: Rule, codes: dict[str, int]
) -> list[int]:
    """The indices of the events a violated rule is about: the activations that failed,
    or the events that should not be there (``where``: each activity's indices)."""
    acts = [codes[a] for a in rule.activities]
    at = [where.get(code, []) for code in acts]
    template, end = rule.template, len(trace)
    if template == "existence":
        return []
    if template in ("absence", "exactly_one"):
        return at[0]
    if template == "init":
        return [0]
    a, b = at
    found: set[int] = set()
    if template in ("responded_existence", "coexistence"):
        found |= set(a if not b else b if not a else [])
    if template == "noncoexistence":
        found |= set(a + b)
    if template in ("response", "succession"):
        found |= {i for i in a if not b or i > b[-1]}
    if template in ("precedence", "succession"):
        found |= {j for j in b if not a or j < a[0]}
    if template in ("chainresponse", "chainsuccession"):
        found |= {i for i in a if i + 1 >= end or trace[i + 1] != acts[1]}
    if template in ("chainprecedence", "chainsuccession"):
        found |= {j for j in b if j == 0 or trace[j - 1] != acts[0]}
    if template in ("altresponse", "altsuccession"):
        bounds = [*a[1:], end] if a else []
        found |= {i for i, stop in zip(a, bounds, strict=True) if not any(i < j < stop for j in b)}
    if template in ("altprecedence", "altsuccession"):
        bounds = [-1, *b[:-1]] if b else []
        found |= {
            j for start, j in zip(bounds, b, strict=True) if not any(start < i < j for i in a)
        }
    if template == "nonsuccession":
        found |= {i for i in a if b and i < b[-1]} | {j for j in b if a and j > a[0]}
    if template == "nonchainsuccession":
        pairs = [i for i in a if i + 1 < end and trace[i + 1] == acts[1]]
        found |= set(pairs) | {i + 1 for i in pairs}
    return sorted(found)


def parse_rule(template: str, activities: Sequence[str], where: str) -> Rule:
    """A rule named in a command's words (``response``, ``["A", "B"]``), checked."""
    if template not in TEMPLATES:
        raise RulesError(
            f"{where}: no template {template!r}; the templates are {', '.join(TEMPLATES)}"
        )
    return Rule(
        template,
        named_activities(
            where, {"activities": list(activities)}, 1 if template in UNARY else 2, template
        ),
    )


def written(text: str, where: str) -> Rule:
    """A rule written as ``template(A, B)`` (``existence(A)``); an activity whose name has
    a comma or a parenthesis in double quotes: ``response("Pay, part", B)``.

    >>> written('response("Pay, part", Ship)', "--violates").activities
    ('Pay, part', 'Ship')
    """
    found = re.fullmatch(r"\s*(\w+)\s*\((.*)\)\s*", text, flags=re.DOTALL)
    if found is None:
        raise RulesError(f"{where} {text!r}: write the rule as template(A, B), say response(A, B)")
    try:
        acts = next(csv.reader([found.group(2)], skipinitialspace=True))
    except (csv.Error, StopIteration):
        acts = []
    return parse_rule(found.group(1), [a.strip() for a in acts], f"{where} {text!r}")


def _templates(templates: Iterable[str]) -> set[str]:
    chosen = set(templates)
    unknown = sorted(chosen - set(TEMPLATES))
    if unknown:
        raise RulesError(f"no template {unknown[0]!r}: the templates are {', '.join(TEMPLATES)}")
    return chosen


# ------------------------------------------------------------------ files


def named_activities(where: str, item: dict[str, Any], wanted: int, what: str) -> tuple[str, ...]:
    acts = item.get("activities")
    if isinstance(acts, str):
        acts = [acts]
    if (
        not isinstance(acts, list)
        or len(acts) != wanted
        or not all(isinstance(a, str) and a for a in acts)
    ):
        raise RulesError(f"{where}: {what} takes {wanted} activities (names)")
    if wanted == 2 and acts[0] == acts[1] and what != "a temporal profile's pair":
        raise RulesError(f"{where}: {what} takes two different activities")
    return tuple(acts)
