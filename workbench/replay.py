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


#: A marking: (place index, tokens) per marked place, in the order the places were marked
#: (pm4py's markings are ordered counters, and one step of its replay reads that order).
Marking = tuple[tuple[int, int], ...]


class Steps:
    """pm4py's token replay of one model (`token_replay.apply_trace`), one event at a time,
    remembered per marking and activity.

    The replay is pm4py's, step for step, on the net as indices: the transition an event
    fires (the first enabled one with its label, in the order pm4py meets the net's
    transitions, else the one its `trans_map` names), the hidden transitions it walks
    through to enable it (`apply_hidden_trans` with the shortest paths between places by
    hidden transitions, places in name order, paths shortest first), the tokens it adds
    when it still is not enabled, and at the end of a trace the hidden transitions towards
    the final marking; for precision, the visible transitions a marking enables,
    eventually. What one replay computes, the next one reuses.
    """

    def __init__(self, model: Model) -> None:
        pm4py()
        from pm4py.algo.conformance.tokenreplay.variants import token_replay as tr
        from pm4py.objects.petri_net.utils import petri_utils

        net = model.net
        # pm4py meets the transitions in the order of the net's set, and arcs in the order
        # of each transition's sets: the same order here, in this process.
        places = list(net.places)
        place = {p: i for i, p in enumerate(places)}
        self._names = [p.name for p in places]
        transitions = list(net.transitions)
        number = {t: i for i, t in enumerate(transitions)}
        self._labels = [t.label for t in transitions]
        # The order `align_utils` sorts enabled transitions in: by name.
        self._by_name = sorted(range(len(transitions)), key=lambda t: (str(transitions[t].name), t))
        self._inputs = [[(place[a.source], a.weight) for a in t.in_arcs] for t in transitions]
        self._outputs = [[(place[a.target], a.weight) for a in t.out_arcs] for t in transitions]
        self._consumes = [sum(w for _, w in arcs) for arcs in self._inputs]
        self._produces = [sum(w for _, w in arcs) for arcs in self._outputs]
        # As `token_replay.apply_log` builds them: the last transition by name per label.
        self._by_label: dict[str, int] = {}
        for transition in sorted(transitions, key=lambda t: t.name):
            self._by_label[transition.label] = number[transition]
        self._with_label: dict[str, list[int]] = {}
        for index, label in enumerate(self._labels):
            self._with_label.setdefault(label, []).append(index)
        paths = petri_utils.get_places_shortest_path_by_hidden(
            net, tr.TechnicalParameters.MAX_REC_DEPTH.value
        )
        self._paths = {
            place[source]: {place[target]: [number[t] for t in path] for target, path in to.items()}
            for source, to in paths.items()
        }
        self.initial: Marking = tuple((place[p], n) for p, n in model.initial.items())
        self._final = {place[p]: n for p, n in model.final.items()}
        self.final_tokens = sum(self._final.values())
        self._steps: dict[tuple[Marking, str], tuple[bool, Marking]] = {}
        self._moves: dict[tuple[Marking, str], tuple[Marking, int, int, int]] = {}
        self._ends: dict[Marking, tuple[int, int, int, int]] = {}
        self._visible: dict[Marking, frozenset[str]] = {}

    # ------------------------------------------------------------------ the net

    def _is_enabled(self, t: int, marking: dict[int, int]) -> bool:
        return all(marking.get(p, 0) >= w for p, w in self._inputs[t])

    def _execute(self, t: int, marking: dict[int, int]) -> dict[int, int]:
        """`semantics.execute`: a new marking, emptied places dropped, new ones last."""
        after = dict(marking)
        for p, w in self._inputs[t]:
            after[p] = after.get(p, 0) - w
            if after[p] == 0:
                del after[p]
        for p, w in self._outputs[t]:
            after[p] = after.get(p, 0) + w
        return after

    def _paths_between(self, sources: Iterable[int], targets: Iterable[int]) -> list[list[int]]:
        """The hidden paths from each marked place to each target, places in name order,
        shortest first (`get_hidden_transitions_to_enable`)."""
        name = self._names.__getitem__
        ends = sorted(targets, key=name)
        found = [
            self._paths[p1][p2]
            for p1 in sorted(sources, key=name)
            for p2 in ends
            if p1 in self._paths and p2 in self._paths[p1]
        ]
        return sorted(found, key=len)

    def _walk_hidden(
        self, t: int, marking: dict[int, int], fired: list[int], depth: int, visited: set[int]
    ) -> dict[int, int]:
        """`apply_hidden_trans`: hidden transitions fired to enable ``t``."""
        if depth >= 2 or t in visited:  # MAX_REC_DEPTH_HIDTRANSENABL
            return marking
        visited.add(t)
        at_start = dict(marking)
        lacking = {p for p, w in self._inputs[t] if marking.get(p, 0) < w}
        groups = self._paths_between(marking, lacking)
        if groups:
            marking = self._enable_hidden(t, marking, fired, visited, groups)
            if not self._is_enabled(t, marking):
                for group in self._paths_between(marking, lacking):
                    for t4 in group:
                        if t4 != t and t4 not in visited:
                            if not self._is_enabled(t4, marking):
                                marking = self._walk_hidden(t4, marking, fired, depth + 1, visited)
                            if self._is_enabled(t4, marking):
                                marking = self._execute(t4, marking)
                                fired.append(t4)
                                visited.add(t4)
            if not self._is_enabled(t, marking) and at_start != marking:
                marking = self._walk_hidden(t, marking, fired, depth + 1, visited)
        return marking

    def _enable_hidden(
        self,
        t: int,
        marking: dict[int, int],
        fired: list[int],
        visited: set[int],
        groups: list[list[int]],
    ) -> dict[int, int]:
        """`enable_hidden_transitions` (not exhaustive): the groups' transitions in turn,
        each group resuming where it stopped, until ``t`` is enabled or nothing moves."""
        resume = [0] * len(groups)
        turn = 0
        while True:
            index = turn % len(groups)
            group = groups[index]
            moved = False
            for _ in range(resume[index], len(group)):
                t3 = group[resume[index]]
                if t3 != t and self._is_enabled(t3, marking) and t3 not in visited:
                    marking = self._execute(t3, marking)
                    fired.append(t3)
                    visited.add(t3)
                    moved = True
                resume[index] += 1
                if self._is_enabled(t, marking):
                    break
            if self._is_enabled(t, marking) or not moved:
                return marking
            turn += 1

    def _fire_event(
        self, marking: dict[int, int], activity: str, *, add_missing: bool
    ) -> tuple[dict[int, int], int, int, int, bool]:
        """One event: (marking after, missing, consumed, produced, whether its transition
        was enabled, after hidden transitions). Without ``add_missing`` an event that does
        not fit stops there (the marking is where it stopped)."""
        if activity not in self._by_label:
            return marking, 0, 0, 0, True  # not in the model: pm4py passes it by
        t = next(
            (i for i in self._with_label[activity] if self._is_enabled(i, marking)),
            self._by_label[activity],
        )
        consumed = produced = missing = 0
        if not self._is_enabled(t, marking):
            fired: list[int] = []
            marking = self._walk_hidden(t, dict(marking), fired, 0, set())
            for hidden in fired:
                consumed += self._consumes[hidden]
                produced += self._produces[hidden]
        fits = self._is_enabled(t, marking)
        if not fits:
            if not add_missing:
                return marking, 1, consumed, produced, False
            marking = dict(marking)
            for p, w in self._inputs[t]:
                have = marking.get(p, 0)
                if have < w:  # `add_missing_tokens`: the arc's weight is added
                    missing += w - have
                    marking[p] = have + w
        consumed += self._consumes[t]
        produced += self._produces[t]
        return self._execute(t, marking), missing, consumed, produced, fits

    # ------------------------------------------------------------------ the steps

    def move(self, marking: Marking, activity: str) -> tuple[Marking, int, int, int]:
        """(marking after, missing, consumed, produced) for one event replayed from
        ``marking`` as fitness replays it: missing tokens are added and the replay goes on."""
        key = (marking, activity)
        found = self._moves.get(key)
        if found is None:
            after, missing, consumed, produced, _ = self._fire_event(
                dict(marking), activity, add_missing=True
            )
            found = (tuple(after.items()), missing, consumed, produced)
            self._moves[key] = found
        return found

    def end(self, marking: Marking) -> tuple[int, int, int, int]:
        """(missing, consumed, remaining, produced) of a trace's end from ``marking``:
        hidden transitions towards the final marking, then the tokens left and lacking."""
        found = self._ends.get(marking)
        if found is None:
            found = self._end(dict(marking))
            self._ends[marking] = found
        return found

    def _end(self, marking: dict[int, int]) -> tuple[int, int, int, int]:
        final = self._final
        consumed = produced = 0

        def reached() -> bool:  # `break_condition_final_marking`
            return final.keys() <= marking.keys()

        for _ in range(5):  # MAX_IT_FINAL1
            if reached():
                break
            for group in self._paths_between(marking, final):
                for t in group:
                    if self._is_enabled(t, marking):
                        marking = self._execute(t, marking)
                        consumed += self._consumes[t]
                        produced += self._produces[t]
                if reached():
                    break
        if not reached() and len(final) == 1:
            sink = next(iter(final))
            towards = sorted(
                (
                    self._paths[p][sink]
                    for p in marking
                    if p in self._paths and sink in self._paths[p]
                ),
                key=len,
            )
            for _ in range(5):  # MAX_IT_FINAL2
                for path in towards:
                    for t in path:
                        if not self._is_enabled(t, marking):
                            break
                        marking = self._execute(t, marking)
                        consumed += self._consumes[t]
                        produced += self._produces[t]
        lacking = sum(max(0, n - marking.get(p, 0)) for p, n in final.items())
        left = sum(max(0, n - final[p]) if p in final else n for p, n in marking.items())
        return lacking, consumed + self.final_tokens, left, produced

    def step(self, marking: Marking, activity: str) -> tuple[bool, Marking]:
        """(whether the event fits, the marking after it) when it is replayed from
        ``marking``, walking through hidden transitions and stopping when it does not fit,
        as precision's replay does."""
        key = (marking, activity)
        found = self._steps.get(key)
        if found is None:
            after, _, _, _, fits = self._fire_event(dict(marking), activity, add_missing=False)
            found = (fits, tuple(after.items()))
            self._steps[key] = found
        return found

    def visible(self, marking: Marking) -> frozenset[str]:
        """The labels of the visible transitions enabled in ``marking`` or after hidden
        transitions (`align_utils.get_visible_transitions_eventually_enabled_by_marking`,
        step for step: transitions by name, each one's marking the last one found for it)."""
        found = self._visible.get(marking)
        if found is None:
            start = dict(marking)
            queue = self._enabled_by_name(start)
            at = dict.fromkeys(queue, start)
            labels: set[str] = set()
            seen: set[tuple[int, frozenset[tuple[int, int]]]] = set()
            index = 0
            while index < len(queue):
                t = queue[index]
                now = at[t]
                key = (t, frozenset(now.items()))
                if key not in seen:
                    label = self._labels[t]
                    if label is not None:
                        labels.add(label)
                    elif self._is_enabled(t, now):
                        after = self._execute(t, now)
                        for following in self._enabled_by_name(after):
                            queue.append(following)
                            at[following] = after
                    seen.add(key)
                index += 1
            found = frozenset(labels)
            self._visible[marking] = found
        return found

    def _enabled_by_name(self, marking: dict[int, int]) -> list[int]:
        return [t for t in self._by_name if self._is_enabled(t, marking)]


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
        initial = stepper.visible(stepper.initial)
        activated = cases * len(initial)
        escaping = cases * len(initial - starts)
        pending = [(prefix_tree(variants), stepper.initial)]
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
        start = (stepper.initial, 0, 0, sum(n for _, n in stepper.initial))
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
