"""The log skeleton (Verbeek and Medeiros de Carvalho): relations between activities that
hold in (nearly) every case, and how often each activity occurs in a case.

- ``equivalence`` (a, b): a and b occur equally often in every case;
- ``always_after`` (a, b): every a is followed, later in the case, by a b;
- ``always_before`` (a, b): every a is preceded, earlier in the case, by a b;
- ``never_together`` (a, b): no case has both;
- ``directly_follows`` (a, b): every a is directly followed by a b;
- ``activ_freq``: per activity, the numbers of times it occurs in a case (0 included).

A relation (a, b) is discovered when it holds in at least ``1 - noise`` of the cases that
have a (for equivalence, a or b); the counts of an activity are the most frequent ones that
together cover ``1 - noise`` of the cases. A case violates a relation (a, b) when it has a
and the relation does not hold in it, and its activity counts when an activity occurs a
number of times the skeleton does not allow (an activity the skeleton does not know counts
as allowed 0 times); equivalence (a, b) speaks of a case with a or b.

pm4py's log skeleton (``discover_log_skeleton``, ``conformance_log_skeleton``) agrees on
never-together, directly-follows (discovery) and the activity counts. It reads the others
otherwise: its always-after and always-before check some occurrence, not every one (the
trace ``a b a`` keeps always-after (a, b) there), it compares the traces having a pair with
the *occurrences* of its first activity (so that an activity occurring twice in a case
never has an always-after relation), its equivalence looks only at the cases with a (so
``b`` alone in a case does not break equivalence (a, b)), and its directly-follows check
asks for one a directly followed by a b, not every a.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import polars as pl

from workbench.rules import RulesError, Variants, basics, batches, variants

RELATIONS: Final = (
    "equivalence",
    "always_after",
    "always_before",
    "never_together",
    "directly_follows",
)
COUNTS: Final = "activ_freq"


@dataclass(frozen=True)
class Skeleton:
    """The relations (pairs of activities) and the activity counts."""

    relations: dict[str, set[tuple[str, str]]]
    counts: dict[str, set[int]]

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            name: sorted([a, b] for a, b in self.relations.get(name, set())) for name in RELATIONS
        }
        found[COUNTS] = {act: sorted(counts) for act, counts in sorted(self.counts.items())}
        return found

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> Skeleton:
        relations: dict[str, set[tuple[str, str]]] = {}
        for name in RELATIONS:
            pairs = data.get(name, [])
            if not isinstance(pairs, list) or not all(
                isinstance(p, list) and len(p) == 2 and all(isinstance(a, str) for a in p)
                for p in pairs
            ):
                raise RulesError(f"{where}: {name} must be a list of [A, B] pairs")
            relations[name] = {(a, b) for a, b in pairs}
        counts = data.get(COUNTS, {})
        if not isinstance(counts, dict) or not all(
            isinstance(v, list) and all(isinstance(n, int) and n >= 0 for n in v)
            for v in counts.values()
        ):
            raise RulesError(f"{where}: {COUNTS} must map activities to lists of counts")
        return cls(relations, {act: set(v) for act, v in counts.items()})


def _holds(traces: Sequence[np.ndarray], size: int) -> dict[str, np.ndarray]:
    """Per trace, whether each relation holds for each pair [trace, a, b] (vacuously where
    the trace lacks a), and the counts [trace, a]."""
    count, present, first, last, follows = basics(traces, size)
    a_in = present[:, :, None]
    b_in = present[:, None, :]
    return {
        "equivalence": count[:, :, None] == count[:, None, :],
        "always_after": ~a_in | (b_in & (last[:, :, None] < last[:, None, :])),
        "always_before": ~a_in | (b_in & (first[:, None, :] < first[:, :, None])),
        "never_together": ~(a_in & b_in),
        "directly_follows": ~a_in | (follows == count[:, :, None]),
        COUNTS: count,
    }


def _active(relation: str, present: np.ndarray) -> np.ndarray:
    """Per trace and pair, whether the relation speaks of the trace (it has a; for
    equivalence, a or b)."""
    a_in: np.ndarray = present[:, :, None]
    if relation == "equivalence":
        either: np.ndarray = a_in | present[:, None, :]
        return either
    return np.broadcast_to(a_in, (*present.shape, present.shape[1]))


def discover(events: pl.LazyFrame | pl.DataFrame, *, noise: float = 0.0) -> Skeleton:
    """The log skeleton of a log (see the module); ``noise`` the share of the cases a
    relation may fail in."""
    if not 0 <= noise < 1:
        raise RulesError(f"--noise {noise:g}: give a share from 0 up to (not) 1")
    found = variants(events)
    size = len(found.activities)
    weights = found.weights
    cases = int(weights.sum())
    active = {name: np.zeros((size, size), dtype=np.int64) for name in RELATIONS}
    holding = {name: np.zeros((size, size), dtype=np.int64) for name in RELATIONS}
    tally: list[Counter[int]] = [Counter() for _ in range(size)]
    for batch in batches(found.traces, size):
        judged = _holds([found.traces[i] for i in batch], size)
        weight = weights[batch]
        present = judged[COUNTS] > 0
        for name in RELATIONS:
            on = _active(name, present)
            active[name] += np.tensordot(weight, on, axes=1)
            holding[name] += np.tensordot(weight, on & judged[name], axes=1)
        for row, case_weight in zip(judged[COUNTS], weight, strict=True):
            for code, times in enumerate(row.tolist()):
                tally[code][times] += int(case_weight)
    relations: dict[str, set[tuple[str, str]]] = {}
    off_diagonal = ~np.eye(size, dtype=bool)
    for name in RELATIONS:
        keep = (active[name] > 0) & (holding[name] >= active[name] * (1 - noise)) & off_diagonal
        relations[name] = {
            (found.activities[a], found.activities[b])
            for a, b in zip(*np.nonzero(keep), strict=True)
        }
    counts: dict[str, set[int]] = {}
    for code, seen in enumerate(tally):
        kept: set[int] = set()
        covered = 0
        for times, number in sorted(seen.items(), key=lambda item: (-item[1], item[0])):
            if covered >= (1 - noise) * cases:
                break
            kept.add(times)
            covered += number
        counts[found.activities[code]] = kept
    return Skeleton(relations, counts)


@dataclass(frozen=True)
class SkeletonCheck:
    """A log against a skeleton: per case its deviations, in pm4py's form ((relation,
    (a, b)), or (activ_freq, (activity, count))), the constraints that applied, and per
    relation pair the cases having a and those violating it."""

    deviations: dict[str, list[tuple[str, tuple[Any, Any]]]]
    applied: dict[str, int]
    pairs: list[tuple[str, tuple[str, str], int, list[str]]] = field(default_factory=list)

    def fitness(self, case_id: str) -> float:
        """1 - deviations / constraints that applied (pm4py's ``dev_fitness``)."""
        applied = self.applied.get(case_id, 0)
        return 1.0 - len(self.deviations.get(case_id, [])) / applied if applied else 1.0

    def as_dict(self) -> dict[str, Any]:
        rules = [
            {
                "template": relation,
                "activities": list(pair),
                "activations": having,
                "fulfilments": having - len(violating),
                "violations": len(violating),
                "violating_cases": violating,
            }
            for relation, pair, having, violating in self.pairs
        ]
        cases = [
            {
                "case_id": case,
                "violated": [[relation, [str(x) for x in what]] for relation, what in found],
                "events": [[] for _ in found],
                "fitness": self.fitness(case),
            }
            for case, found in sorted(self.deviations.items())
        ]
        return {"rules": rules, "cases": cases}


def check(events: pl.LazyFrame | pl.DataFrame, skeleton: Skeleton) -> SkeletonCheck:
    """Each case against a skeleton (see the module)."""
    found: Variants = variants(events)
    names = list(found.activities)
    for related in skeleton.relations.values():
        for pair in related:
            names.extend(a for a in pair if a not in names)
    names.extend(a for a in skeleton.counts if a not in names)
    codes = {name: index for index, name in enumerate(names)}
    size = len(names)
    chosen = {relation: sorted(skeleton.relations.get(relation, set())) for relation in RELATIONS}
    having: dict[tuple[str, tuple[str, str]], int] = {}
    violating: dict[tuple[str, tuple[str, str]], list[str]] = {}
    deviations: dict[str, list[tuple[str, tuple[Any, Any]]]] = {}
    applied: dict[str, int] = {}
    for batch in batches(found.traces, size):
        judged = _holds([found.traces[i] for i in batch], size)
        present = judged[COUNTS] > 0
        for row, index in enumerate(batch):
            cases = found.cases[index]
            lines: list[tuple[str, tuple[Any, Any]]] = []
            total = 0
            for relation in RELATIONS:
                for pair in chosen[relation]:
                    a, b = codes[pair[0]], codes[pair[1]]
                    either = relation == "equivalence" and present[row, b]
                    if not (present[row, a] or either):
                        continue
                    total += 1
                    key = (relation, pair)
                    having[key] = having.get(key, 0) + len(cases)
                    if not judged[relation][row, a, b]:
                        lines.append((relation, pair))
                        violating.setdefault(key, []).extend(cases)
            counted = judged[COUNTS][row]
            for code in np.flatnonzero(counted).tolist():
                total += 1
                act = names[code]
                allowed = skeleton.counts.get(act)
                if allowed is None:
                    lines.append((COUNTS, (act, 0)))
                elif int(counted[code]) not in allowed:
                    lines.append((COUNTS, (act, int(counted[code]))))
            for act, allowed in skeleton.counts.items():
                if allowed and min(allowed) > 0 and counted[codes[act]] == 0:
                    total += 1
                    lines.append((COUNTS, (act, 0)))
            lines.sort(key=lambda line: (line[0], line[1]))
            for case in cases:
                deviations[case] = lines
                applied[case] = total
    pairs = [
        (
            relation,
            pair,
            having.get((relation, pair), 0),
            sorted(violating.get((relation, pair), [])),
        )
        for relation in RELATIONS
        for pair in chosen[relation]
    ]
    return SkeletonCheck(deviations, applied, pairs)
