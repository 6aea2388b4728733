"""Alignments of one variant at a time, by r4pm (Rust) or pm4py, in pm4py's result shape.

Both find an optimal alignment under pm4py's standard costs (a log or model move costs
10,000, a silent step 1), so costs and fitness are equal. `align` is the work that
`workbench.bounded` runs in a worker: it yields each variant's alignment as it finishes, so
that a budget keeps what was aligned before it ran out.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from workbench.models import Model, ModelError, pm4py, quiet

Engine = Literal["auto", "r4pm", "pm4py"]
ACTIVITY = "concept:name"
MOVE = 10_000  # pm4py's cost of a log or model move; a silent step costs 1


def align(
    payload: tuple[Model, list[tuple[str, ...]], Engine],
) -> Iterator[tuple[dict[str, Any], str]]:
    """Each variant's alignment (cost, bwc, fitness, alignment) and the engine that found
    it, in the variants' order. r4pm aligns when installed (unless ``pm4py`` is asked for);
    a variant it cannot align (more than 255 tokens in a place) is aligned by pm4py."""
    model, variants, engine = payload
    with quiet():
        rust = RustAligner.open(model) if engine != "pm4py" else None
        if engine == "r4pm" and rust is None:
            raise ModelError("the r4pm engine is not installed: pip install r4pm")
        python: Pm4pyAligner | None = None
        for variant in variants:
            found = rust.align(variant) if rust is not None else None
            if found is not None:
                yield found, "r4pm"
                continue
            python = python or Pm4pyAligner(model)
            yield python.align(variant), "pm4py"


class Pm4pyAligner:
    """pm4py's alignment of one trace (its default variant and costs), as
    `pm4py.conformance_diagnostics_alignments` computes it for each trace of a log."""

    def __init__(self, model: Model) -> None:
        pm4py()
        from pm4py.algo.conformance.alignments.petri_net import algorithm
        from pm4py.objects.log.obj import Event, Trace
        from pm4py.util import exec_utils

        self.model, self.algorithm = model, algorithm
        self.event, self.trace = Event, Trace
        parameters: dict[Any, Any] = {algorithm.Parameters.ACTIVITY_KEY: ACTIVITY}
        try:
            worst = exec_utils.get_variant(algorithm.DEFAULT_VARIANT).get_best_worst_cost(
                model.net, model.initial, model.final, parameters=dict(parameters)
            )
        except Exception as error:  # pm4py refuses nets it cannot align on
            raise ModelError(f"alignments cannot run on this model: {error}") from error
        parameters[algorithm.Parameters.BEST_WORST_COST_INTERNAL] = worst
        self.parameters = parameters

    def align(self, variant: tuple[str, ...]) -> dict[str, Any]:
        trace = self.trace([self.event({ACTIVITY: activity}) for activity in variant])
        try:
            found = self.algorithm.apply_trace(
                trace,
                self.model.net,
                self.model.initial,
                self.model.final,
                parameters=dict(self.parameters),
                variant=self.algorithm.DEFAULT_VARIANT,
            )
        except Exception as error:
            raise ModelError(f"alignments cannot run on this model: {error}") from error
        if found is None:
            raise ModelError("alignments cannot run on this model: pm4py found no alignment")
        return {
            "cost": found["cost"],
            "bwc": found["bwc"],
            "fitness": found["fitness"],
            "alignment": list(found["alignment"]),
        }


class RustAligner:
    """Alignments by r4pm under pm4py's standard costs, in pm4py's result shape."""

    def __init__(self, net: Any, module: Any) -> None:
        self.net = net
        self.module = module
        self.labels = {tid: t.get("label") for tid, t in net["transitions"].items()}
        self.options = {
            "cost_fn": {
                "log_move_cost": MOVE,
                "model_move_cost": MOVE,
                "silent_move_cost": 1,
                "sync_move_cost": 0,
            }
        }
        empty = module.align_empty_trace(net, self.options)
        self.empty = int(empty["cost"]) if isinstance(empty, dict) and "cost" in empty else None

    @classmethod
    def open(cls, model: Model) -> RustAligner | None:
        """An aligner for the model, or None without r4pm (or a net it cannot take)."""
        try:
            from r4pm import petri_net
            from r4pm.bindings.conformance.case_centric import alignments as module
        except ImportError:
            return None
        try:
            aligner = cls(petri_net.from_pm4py(model.net, model.initial, model.final), module)
        except Exception:  # a net r4pm cannot take: pm4py aligns
            return None
        return aligner if aligner.empty is not None else None

    def align(self, variant: tuple[str, ...]) -> dict[str, Any] | None:
        """The variant's alignment as pm4py gives it (cost, bwc, fitness, alignment), or
        None when r4pm cannot align it."""
        try:
            found = self.module.align_trace(self.net, list(variant), self.options)
        except Exception:
            return None
        if not isinstance(found, dict) or "cost" not in found:
            return None
        assert self.empty is not None
        steps: list[tuple[str | None, str | None]] = []
        for move in found["moves"]:
            (kind, detail), *_ = move.items()
            if kind == "SyncMove":
                activity = variant[detail["trace_event_index"]]
                steps.append((activity, activity))
            elif kind == "LogMove":
                steps.append((variant[detail["trace_event_index"]], ">>"))
            else:
                steps.append((">>", self.labels.get(detail["transition"])))
        cost = int(found["cost"])
        worst = self.empty + len(variant) * MOVE
        fitness = 1 - (cost // MOVE) / (worst // MOVE) if worst // MOVE else 0
        return {"cost": cost, "bwc": worst, "fitness": fitness, "alignment": steps}
