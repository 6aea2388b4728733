"""Logs whose traces are all distinct: a random process tree (with hidden steps, choices,
loops and parallel branches), its Petri net, and traces played out of it with noise
(events swapped, dropped, inserted), so that no two traces are equal and most do not fit.
Token replay has no prefixes to share on them."""

from __future__ import annotations

import random

from workbench.models import Model, pm4py, quiet


def noisy_log(seed: int, traces: int) -> tuple[Model, list[tuple[str, ...]]]:
    """A model of 30 to 40 activities and ``traces`` distinct noisy traces of it (the same
    for the same seed)."""
    pm4py()
    from pm4py.algo.simulation.playout.process_tree import algorithm as playout
    from pm4py.algo.simulation.tree_generator import algorithm as generator
    from pm4py.objects.conversion.process_tree import converter

    state = random.getstate()
    random.seed(seed)  # pm4py's generator and play-out draw from `random`
    try:
        with quiet():
            tree = generator.apply(
                parameters={"min": 30, "mode": 35, "max": 40, "silent": 0.1, "loop": 0.1,
                            "or": 0.0}
            )  # fmt: skip
            net, initial, final = converter.apply(tree)
            played = playout.apply(tree, parameters={"num_traces": traces * 2})
        labels = sorted({t.label for t in net.transitions if t.label})
        found: dict[tuple[str, ...], None] = {}
        for trace in played:
            acts = [event["concept:name"] for event in trace]
            for _ in range(random.randint(0, 3)):
                draw = random.random()
                if draw < 1 / 3 and len(acts) > 1:
                    i = random.randrange(len(acts) - 1)
                    acts[i], acts[i + 1] = acts[i + 1], acts[i]
                elif draw < 2 / 3 and len(acts) > 1:
                    del acts[random.randrange(len(acts))]
                else:
                    acts.insert(random.randrange(len(acts) + 1), random.choice(labels))
            if acts:
                found.setdefault(tuple(acts))
            if len(found) == traces:
                break
    finally:
        random.setstate(state)
    return Model(net, initial, final, "generated"), list(found)
