"""Token replay over a prefix tree of the variants: pm4py's numbers, each step computed once.

pm4py's ETConformance precision replays every distinct prefix of the log from the initial
marking, which costs the sum of the squares of the variants' lengths. Token replay is an
online algorithm: the marking after an event depends only on the marking before it and the
event (pm4py's caches, which could change that, are off). So each distinct prefix is
replayed once, one step on from its parent's marking, and each step is pm4py's own
(`apply_trace` on that one event from that marking), remembered per marking and activity:
a model has few reachable markings, and a log many prefixes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.models import Model, pm4py, quiet


@dataclass(frozen=True)
class Replayed:
    """One variant's token replay, as pm4py reports it for each of its traces."""

    missing: int
    consumed: int
    remaining: int
    produced: int

    @property
    def fitness(self) -> float:
        if self.consumed > 0 and self.produced > 0:
            return 0.5 * (1.0 - self.missing / self.consumed) + 0.5 * (
                1.0 - self.remaining / self.produced
            )
        return 1.0

    @property
    def fits(self) -> bool:
        return self.missing == 0 and self.remaining == 0


@dataclass
class _Node:
    """A distinct prefix of the log: how many cases pass through it, the activities that
    follow it, and the prefixes one longer."""

    cases: int = 0
    following: set[str] = field(default_factory=set)
    children: dict[str, _Node] = field(default_factory=dict)


def prefix_tree(variants: Iterable[tuple[Sequence[str], int]]) -> _Node:
    """The prefixes of the variants (with their numbers of cases) that some activity
    follows, as pm4py counts them: a prefix of length 1 to the variant's length minus 1."""
    root = _Node()
    for variant, cases in variants:
        node = root
        for index in range(len(variant) - 1):
            node = node.children.setdefault(variant[index], _Node())
            node.cases += cases
            node.following.add(variant[index + 1])
    return root


class Steps:
    """pm4py's token replay of one model, one event at a time, remembered per marking and
    activity."""

    def __init__(self, model: Model) -> None:
        pm4py()
        from pm4py.algo.conformance.tokenreplay.variants import token_replay as tr
        from pm4py.objects.log.obj import Event, Trace
        from pm4py.objects.petri_net.utils import align_utils, petri_utils

        self.model = model
        self._tr = tr
        self._event, self._trace = Event, Trace
        self._enabled = align_utils.get_visible_transitions_eventually_enabled_by_marking
        # As `token_replay.apply_log` builds them.
        self.trans_map = {}
        for transition in sorted(model.net.transitions, key=lambda t: t.name):
            self.trans_map[transition.label] = transition
        self.paths = petri_utils.get_places_shortest_path_by_hidden(
            model.net, tr.TechnicalParameters.MAX_REC_DEPTH.value
        )
        self._steps: dict[tuple[Any, str], tuple[bool, Any]] = {}
        self._moves: dict[tuple[Any, str], tuple[Any, int, int, int]] = {}
        self._ends: dict[Any, tuple[int, int, int, int]] = {}
        self._visible: dict[Any, frozenset[str]] = {}
        self.final_tokens = sum(model.final.values())

    def _apply(
        self, marking: Any, activities: Sequence[str], *, remaining: bool = True, **options: Any
    ) -> list[Any]:
        """pm4py's `apply_trace` from ``marking`` over ``activities`` (``remaining``: tokens
        left over make a trace unfit, as in fitness; precision ignores them)."""
        trace = self._trace([self._event({"concept:name": a}) for a in activities])
        return self._tr.apply_trace(  # type: ignore[no-any-return]
            trace,
            self.model.net,
            marking,
            self.model.final,
            self.trans_map,
            False,  # place and transition fitness
            {},
            {},
            {},
            self.paths,
            remaining,
            activity_key="concept:name",
            walk_through_hidden_trans=True,
            post_fix_caching=self._tr.PostFixCaching(),
            marking_to_activity_caching=self._tr.MarkingToActivityCaching(),
            **options,
        )

    def _short(self, marking: Any) -> int:
        """Tokens the final marking has that ``marking`` lacks (what `apply_trace` counts as
        missing at its end)."""
        return sum(max(0, n - marking[p]) for p, n in self.model.final.items())

    def move(self, marking: Any, activity: str) -> tuple[Any, int, int, int]:
        """(marking after, missing, consumed, produced) for one event replayed from
        ``marking`` as fitness replays it: missing tokens are added and the replay goes on."""
        key = (marking, activity)
        found = self._moves.get(key)
        if found is None:
            result = self._apply(
                marking, [activity], try_to_reach_final_marking_through_hidden=False
            )
            after = result[4]
            found = (
                after,
                result[6] - self._short(after),
                result[7] - self.final_tokens,
                result[9] - sum(marking.values()),
            )
            self._moves[key] = found
        return found

    def end(self, marking: Any) -> tuple[int, int, int, int]:
        """(missing, consumed, remaining, produced) of a trace's end from ``marking``:
        hidden transitions towards the final marking, then the tokens left and lacking."""
        found = self._ends.get(marking)
        if found is None:
            result = self._apply(marking, [], try_to_reach_final_marking_through_hidden=True)
            found = (result[6], result[7], result[8], result[9] - sum(marking.values()))
            self._ends[marking] = found
        return found

    def step(self, marking: Any, activity: str) -> tuple[bool, Any]:
        """(whether the event fits, the marking after it) when it is replayed from
        ``marking``, walking through hidden transitions and stopping when it does not fit,
        as precision's replay does."""
        key = (marking, activity)
        found = self._steps.get(key)
        if found is None:
            result = self._apply(
                marking,
                [activity],
                remaining=False,
                try_to_reach_final_marking_through_hidden=False,
                stop_immediately_unfit=True,
            )
            found = (bool(result[0]), result[4])
            self._steps[key] = found
        return found

    def visible(self, marking: Any) -> frozenset[str]:
        """The labels of the visible transitions enabled in ``marking`` or after hidden
        transitions."""
        found = self._visible.get(marking)
        if found is None:
            found = frozenset(
                t.label for t in self._enabled(self.model.net, marking) if t.label is not None
            )
            self._visible[marking] = found
        return found


def precision(
    variants: Sequence[tuple[Sequence[str], int]], model: Model, *, steps: Steps | None = None
) -> float:
    """ETConformance precision (Muñoz-Gama and Carmona) as `pm4py.precision_token_based_replay`
    computes it, from the variants and their numbers of cases.

    Escaping edges are the activities the model allows after a prefix that the log never
    shows after it, weighted by the cases through the prefix; prefixes that do not fit are
    left out; the initial marking counts once per case against the start activities.
    """
    with quiet():
        stepper = steps or Steps(model)
        cases = sum(count for _, count in variants)
        starts = {variant[0] for variant, count in variants if variant and count}
        initial = stepper.visible(model.initial)
        activated = cases * len(initial)
        escaping = cases * len(initial - starts)
        pending = [(prefix_tree(variants), model.initial)]
        while pending:
            node, marking = pending.pop()
            for activity, child in node.children.items():
                fits, after = stepper.step(marking, activity)
                if not fits:
                    continue  # nor does any longer prefix: pm4py stops at the first misfit
                enabled = stepper.visible(after)
                activated += len(enabled) * child.cases
                escaping += len(enabled - child.following) * child.cases
                pending.append((child, after))
    return 1 - escaping / activated if activated > 0 else 1.0


def fitness(
    variants: Sequence[Sequence[str]], model: Model, *, steps: Steps | None = None
) -> list[Replayed]:
    """Token replay of each variant as `pm4py.conformance_diagnostics_token_based_replay`
    does it (missing tokens added, hidden transitions walked, the final marking sought
    through hidden transitions, remaining tokens counted), over a tree of the variants'
    prefixes so that a step shared by many variants is replayed once. ``steps`` shares
    what replays of one model have computed."""
    with quiet():
        stepper = steps or Steps(model)
        ends: dict[int, list[int]] = {}
        root = _Node()
        for index, variant in enumerate(variants):
            node = root
            for activity in variant:
                node = node.children.setdefault(activity, _Node())
            ends.setdefault(id(node), []).append(index)
        results: list[Replayed | None] = [None] * len(variants)
        start = (model.initial, 0, 0, sum(model.initial.values()))
        pending = [(root, *start)]
        while pending:
            node, marking, missing, consumed, produced = pending.pop()
            for index in ends.get(id(node), ()):
                lacking, used, left, made = stepper.end(marking)
                results[index] = Replayed(missing + lacking, consumed + used, left, produced + made)
            for activity, child in node.children.items():
                after, lacking, used, made = stepper.move(marking, activity)
                pending.append((child, after, missing + lacking, consumed + used, produced + made))
    return [result for result in results if result is not None]
