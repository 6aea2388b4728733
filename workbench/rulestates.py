"""Declare rules followed event by event: each case's state per rule, advanced by the
events that arrive, and the moment a violation becomes certain.

Every Declare template (`workbench.rules`) over activities ``a`` and ``b`` is read by one
small automaton over three symbols: the event is ``a``, ``b``, or another activity. Its
state keeps what any template asks of a trace so far: the first activity, how many ``a``
(none, one, more) and whether a ``b`` came, the last activity, whether an ``a`` waits
for its ``b`` (the last ``a`` came after the last ``b``), and whether a ``b`` already
broke a precedence, an alternation or a chain. A template's value in a finished case
(`rules.FULFILLED`, `rules.VIOLATED`, `rules.INACTIVE`) is a function of the state, and
so are the four verdicts of runtime verification (RV-LTL) on a case still open:

- *violated*: no continuation of the case can fulfil the rule (``absence(a)`` after an
  ``a``, ``precedence(a, b)`` after a ``b`` with no ``a`` before): certain now;
- *satisfied*: no continuation can violate it;
- *pending*: the case violates the rule if it ends now, but may still fulfil it
  (``response(a, b)`` with an ``a`` unanswered);
- *holding*: it fulfils the rule (or does not activate it) if it ends now, but may still
  violate it.

A pending violation is certain when the case ends: when its event is one of the
activities that complete a case. `Follower` keeps the states of the cases of one log and
reports each violation at the event that made it certain.

Events are taken in each case's order (time, then position). One that arrives with a
time before the case's latest event changes the order of the case: its state is rebuilt
from all its events, read again through ``reread``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Final

import numpy as np
import polars as pl

from workbench.rules import FULFILLED, INACTIVE, TEMPLATES, VIOLATED, Rule, RulesError

#: The symbols of the automaton: the event is ``a``, ``b``, or another activity.
A, B, OTHER = 0, 1, 2
#: The verdicts on an open case.
VERDICTS: Final = ("violated", "pending", "holding", "satisfied")


@dataclass(frozen=True)
class _Trace:
    """What any template asks of a trace so far (see the module)."""

    first: int = -1  # the first symbol (-1: none yet)
    count_a: int = 0  # 0, 1, or 2 for two or more
    has_b: bool = False
    last: int = -1  # the last symbol
    waiting: bool = False  # the last a came after the last b
    b_before_a: bool = False  # a b came before any a (precedence broken)
    a_again: bool = False  # an a came while an a waited (alternate response broken)
    b_again: bool = False  # a b came with no a since the last b (alternate precedence)
    a_not_chained: bool = False  # an a was followed by something other than b
    b_not_chained: bool = False  # a b came not right after an a
    b_after_a: bool = False  # a b came after an a
    b_right_after_a: bool = False  # a b came right after an a

    def then(self, symbol: int) -> _Trace:
        """The state after one more event."""
        is_a, is_b = symbol == A, symbol == B
        return _Trace(
            first=self.first if self.first >= 0 else symbol,
            count_a=min(self.count_a + is_a, 2),
            has_b=self.has_b or is_b,
            last=symbol,
            waiting=True if is_a else False if is_b else self.waiting,
            b_before_a=self.b_before_a or (is_b and self.count_a == 0),
            a_again=self.a_again or (is_a and self.waiting),
            b_again=self.b_again or (is_b and not self.waiting),
            a_not_chained=self.a_not_chained or (self.last == A and not is_b),
            b_not_chained=self.b_not_chained or (is_b and self.last != A),
            b_after_a=self.b_after_a or (is_b and self.count_a > 0),
            b_right_after_a=self.b_right_after_a or (is_b and self.last == A),
        )

    def values(self) -> dict[str, int]:
        """Every template's value if the trace ended here."""

        def value(active: bool, holds: bool) -> int:
            return (FULFILLED if holds else VIOLATED) if active else INACTIVE

        has_a = self.count_a > 0
        either = has_a or self.has_b
        found = {
            "existence": FULFILLED if has_a else VIOLATED,
            "exactly_one": FULFILLED if self.count_a == 1 else VIOLATED,
            "init": FULFILLED if self.first == A else VIOLATED,
            "absence": VIOLATED if has_a else FULFILLED,
            "responded_existence": value(has_a, self.has_b),
            "response": value(has_a, not self.waiting),
            "precedence": value(self.has_b, not self.b_before_a),
            "altresponse": value(has_a, not self.a_again and not self.waiting),
            "altprecedence": value(self.has_b, not self.b_again),
            "chainresponse": value(has_a, not self.a_not_chained and self.last != A),
            "chainprecedence": value(self.has_b, not self.b_not_chained),
            "nonsuccession": value(either, not self.b_after_a),
            "nonchainsuccession": value(either, not self.b_right_after_a),
        }
        found["succession"] = min(found["response"], found["precedence"])
        found["altsuccession"] = min(found["altresponse"], found["altprecedence"])
        found["chainsuccession"] = min(found["chainresponse"], found["chainprecedence"])
        backwards = value(self.has_b, has_a)
        found["coexistence"] = min(found["responded_existence"], backwards)
        found["noncoexistence"] = -found["coexistence"]
        return found


@dataclass(frozen=True)
class Automaton:
    """The states reachable from the empty trace: ``step[state, symbol]`` the next state,
    and per template ``value[template][state]`` its value if the case ended there and
    ``verdict[template][state]`` its index in `VERDICTS`. State 0 is the empty trace."""

    step: np.ndarray
    value: dict[str, np.ndarray]
    verdict: dict[str, np.ndarray]


@cache
def automaton() -> Automaton:
    """The one automaton every template reads (built once)."""
    states = [_Trace()]
    index = {states[0]: 0}
    edges: list[list[int]] = []
    for state in states:  # grows while it is walked: breadth first
        row = []
        for symbol in (A, B, OTHER):
            following = state.then(symbol)
            if following not in index:
                index[following] = len(states)
                states.append(following)
            row.append(index[following])
        edges.append(row)
    step = np.array(edges, dtype=np.int32)
    values = [state.values() for state in states]
    value = {t: np.array([v[t] for v in values], dtype=np.int8) for t in TEMPLATES}
    verdict = {}
    for template, ends in value.items():
        can_fulfil = _reaches(step, ends != VIOLATED)
        can_violate = _reaches(step, ends == VIOLATED)
        verdict[template] = np.select(
            [~can_fulfil, ends == VIOLATED, can_violate], [0, 1, 2], default=3
        ).astype(np.int8)
    return Automaton(step, value, verdict)


def _reaches(step: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """The states from which some sequence of events (none too) reaches a goal state."""
    found = goal.copy()
    while True:
        wider = found | found[step].any(axis=1)
        if (wider == found).all():
            return found
        found = wider


@dataclass(frozen=True)
class Violation:
    """A case's violation of a rule became certain at an event: at ``position``, whose
    time is ``timestamp``, ``at_end`` when it was only certain because the case ended."""

    case_id: str
    rule: Rule
    position: int
    timestamp: object
    at_end: bool


class Follower:
    """The states of the cases of a log against some Declare rules, advanced by the events
    as they arrive (`advance`), with the violations that became certain.

    ``completed`` names the activities that end a case; ``reread(cases)`` returns all the
    events of some cases known so far, to rebuild the states of cases an out-of-order
    event reaches.
    """

    def __init__(
        self,
        rules: Sequence[Rule],
        *,
        completed: Iterable[str] = (),
        reread: Callable[[list[str]], pl.DataFrame] | None = None,
    ) -> None:
        for rule in rules:
            if rule.template not in TEMPLATES:
                raise RulesError(f"no template {rule.template!r}")
        self.rules = list(rules)
        self.completed = frozenset(completed)
        self.reread = reread
        self.position = 0  # the last position advanced over
        self._automaton = automaton()
        names = sorted({a for rule in self.rules for a in rule.activities} | self.completed)
        self._codes = {name: code for code, name in enumerate(names)}
        self._a = np.array([self._codes[r.activities[0]] for r in self.rules], dtype=np.int64)
        self._b = np.array(
            [self._codes[r.activities[-1]] if len(r.activities) > 1 else -2 for r in self.rules],
            dtype=np.int64,
        )
        self._ending = np.array([self._codes[n] for n in sorted(self.completed)], dtype=np.int64)
        auto = self._automaton
        self._values = np.stack([auto.value[r.template] for r in self.rules], axis=1)
        self._verdicts = np.stack([auto.verdict[r.template] for r in self.rules], axis=1)
        self._cases: dict[str, int] = {}
        self._ids: list[str] = []
        self._states = np.zeros((0, len(self.rules)), dtype=np.int32)
        self._latest: list[object] = []  # per case: the time of its latest event
        self._ended: list[bool] = []  # per case: its latest event completes a case
        self._reported = np.zeros((0, len(self.rules)), dtype=bool)

    # ------------------------------------------------------------------ reading

    @property
    def case_ids(self) -> list[str]:
        return list(self._ids)

    def values(self) -> pl.DataFrame:
        """Per case and rule, the rule's value if the case ended now (``value``: 1, -1,
        0 as `rules.FULFILLED`, `VIOLATED`, `INACTIVE`) and the verdict on it while open."""
        columns = np.arange(len(self.rules))[None, :]
        value = self._values[self._states, columns]
        verdict = self._verdicts[self._states, columns]
        return pl.DataFrame(
            {
                "case_id": np.repeat(np.array(self._ids, dtype=object), len(self.rules)),
                "rule": np.tile(np.arange(len(self.rules)), len(self._ids)),
                "value": value.ravel(),
                "verdict": np.array(VERDICTS, dtype=object)[verdict.ravel()],
            },
            schema={"case_id": pl.String, "rule": pl.Int64, "value": pl.Int8,
                    "verdict": pl.String},
        )  # fmt: skip

    def violating(self, rule: int) -> list[str]:
        """The cases whose violation of a rule (by index) is certain now: no continuation
        fulfils it, or the case ended violating it. Sorted."""
        states = self._states[:, rule]
        certain = (self._verdicts[states, rule] == 0) | (
            np.array(self._ended, dtype=bool) & (self._values[states, rule] == VIOLATED)
        )
        return sorted(self._ids[i] for i in np.flatnonzero(certain))

    # ------------------------------------------------------------------ advancing

    def advance(self, events: pl.DataFrame) -> list[Violation]:
        """Take new events (``case_id``, ``activity``, ``timestamp``, ``position``; every
        position after the last one taken) and return the violations that became certain,
        in position order."""
        if events.is_empty():
            return []
        new = events.select(
            pl.col("case_id").cast(pl.String),
            pl.col("activity").cast(pl.String),
            "timestamp",
            "position",
        )
        self.position = max(self.position, int(new["position"].max()))  # type: ignore[arg-type]
        arrived = dict(
            new.group_by("case_id").agg(pl.col("position").min()).iter_rows()
        )  # per case: the first of its new events
        late = self._late(new)
        if late:
            # Their order changed: all their events again, from the empty trace.
            if self.reread is None:
                raise RulesError("an event out of order needs the case's events read again")
            for case in late:
                index = self._cases[case]
                self._states[index] = 0
                self._latest[index] = None
            again = self.reread(sorted(late)).select(new.columns)
            again = again.filter(pl.col("position") <= self.position)
            new = pl.concat([new.filter(~pl.col("case_id").is_in(list(late))), again])
        return self._run(new, arrived)

    def _late(self, new: pl.DataFrame) -> set[str]:
        """The known cases that an event reaches before their latest one (in time)."""
        first = new.group_by("case_id").agg(pl.col("timestamp").min())
        late = set()
        for case, moment in first.iter_rows():
            index = self._cases.get(case)
            latest = None if index is None else self._latest[index]
            if latest is not None and moment < latest:
                late.add(case)
        return late

    def _add(self, cases: list[str]) -> None:
        """New cases, in one growth of the arrays (one per case would copy them all again
        for each)."""
        for case in cases:
            self._cases[case] = len(self._ids)
            self._ids.append(case)
            self._latest.append(None)
            self._ended.append(False)
        blank = np.zeros((len(cases), len(self.rules)), dtype=np.int32)
        self._states = np.concatenate([self._states, blank])
        self._reported = np.concatenate([self._reported, blank.astype(bool)])

    def _run(self, new: pl.DataFrame, arrived: dict[str, int]) -> list[Violation]:
        """Advance the states by events in each case's order, step by step across the
        cases; a violation is reported once, at the event that made it certain, or, when
        reordered events made it so, at the first of the case's new events."""
        ordered = new.sort("case_id", "timestamp", "position").with_columns(
            step=pl.int_range(pl.len()).over("case_id")
        )
        ids = ordered["case_id"].to_list()
        self._add([case for case in dict.fromkeys(ids) if case not in self._cases])
        rows = np.array([self._cases[c] for c in ids], dtype=np.int64)
        codes = np.array(
            [self._codes.get(a, -1) for a in ordered["activity"].to_list()], dtype=np.int64
        )
        positions = ordered["position"].to_numpy().astype(np.int64)
        times = ordered["timestamp"].to_list()
        steps = ordered["step"].to_numpy()
        symbols = np.where(
            codes[:, None] == self._a[None, :],
            A,
            np.where(codes[:, None] == self._b[None, :], B, OTHER),
        )
        ends = np.isin(codes, self._ending)
        columns = np.arange(len(self.rules))[None, :]
        found: list[tuple[int, int, int, bool]] = []  # position, case row, rule, at the end
        for k in range(int(steps.max()) + 1):
            at = np.flatnonzero(steps == k)
            cases = rows[at]
            states = self._automaton.step[self._states[cases], symbols[at]]
            self._states[cases] = states
            dead = self._verdicts[states, columns] == 0
            now = dead | (ends[at][:, None] & (self._values[states, columns] == VIOLATED))
            fresh = now & ~self._reported[cases]
            self._reported[cases] |= now
            for i, rule in zip(*np.nonzero(fresh), strict=True):
                row = int(cases[i])
                position = max(int(positions[at[i]]), arrived[self._ids[row]])
                found.append((position, row, int(rule), not dead[i, rule]))
        for row, moment, is_end in zip(rows.tolist(), times, ends.tolist(), strict=True):
            latest = self._latest[row]
            if latest is None or moment >= latest:
                self._latest[row] = moment
                self._ended[row] = is_end
        when = dict(zip(positions.tolist(), times, strict=True))
        return [
            Violation(self._ids[row], self.rules[rule], position, when[position], at_end)
            for position, row, rule, at_end in sorted(found)
        ]
