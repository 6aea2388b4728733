"""Process discovery and conformance checking through pm4py, the reference implementation.

pm4py is imported here only, lazily, with its banner and progress bars off. Events go to
pm4py in the store's order (case, then ``(timestamp, position)``), so its results are the
ones pm4py gives on the same log. Conformance works on variants: a variant is replayed or
aligned once and its result counts for each of its cases, which gives the same log-level
numbers as case by case (pm4py sums over traces) for far less work.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

import polars as pl
from lxml import etree

from workbench import aligners, bounded, replay
from workbench.models import Model, ModelError, pm4py, quiet
from workbench.projections import ordered

F = TypeVar("F", bound=Callable[..., Any])
Algorithm = Literal["inductive", "heuristics", "alpha"]
ALGORITHMS: tuple[Algorithm, ...] = ("inductive", "heuristics", "alpha")
CASE, ACTIVITY, TIME = "case:concept:name", "concept:name", "time:timestamp"


def _quietly(function: F) -> F:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with quiet():
            return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def to_pandas(events: pl.LazyFrame) -> Any:
    """The events as the pandas frame pm4py reads, in the store's order within each case."""
    frame = (
        ordered(events)
        .select(
            pl.col("case_id").alias(CASE),
            pl.col("activity").alias(ACTIVITY),
            pl.col("timestamp").alias(TIME),
        )
        .collect()
    )
    return frame.to_pandas()


def _variant_frame(variants: list[tuple[str, ...]]) -> Any:
    """One case per variant (case id: its index, zero-padded so that sorting keeps the order),
    with increasing times."""
    start = datetime(2000, 1, 1, tzinfo=UTC)
    rows = [
        (f"{index:09d}", activity, start + timedelta(seconds=step))
        for index, variant in enumerate(variants)
        for step, activity in enumerate(variant)
    ]
    frame = pl.DataFrame(
        rows,
        schema={CASE: pl.String, ACTIVITY: pl.String, TIME: pl.Datetime("us", "UTC")},
        orient="row",
    )
    return frame.to_pandas()


def discover(
    events: pl.LazyFrame,
    *,
    algorithm: Algorithm = "inductive",
    noise: float = 0.0,
    limit: bounded.Limit | None = None,
) -> Model:
    """A model of the events: inductive miner (with a noise threshold from 0 to 1), heuristics
    miner or alpha miner. All three work on the variants (`variant_log`), never on the
    events one by one, and give the model pm4py gives for the log.

    Within ``limit`` (a wall-clock budget, a memory ceiling) or not at all: a miner that
    reaches it is stopped and `Stopped` says which limit it reached."""
    if algorithm not in ALGORITHMS:
        raise ModelError(f"unknown algorithm {algorithm!r}; choose {', '.join(ALGORITHMS)}")
    if not 0 <= noise <= 1:
        raise ModelError(f"noise {noise:g}: give a threshold from 0 to 1")
    variants = variant_log(events)
    if not variants:
        raise ModelError("no events to discover a model from")
    outcome = _bounded(_discover_work, (variants, algorithm, noise), limit)
    if outcome.stopped is not None:
        assert limit is not None
        raise Stopped(
            f"the {algorithm} miner reached {limit.describe(outcome.stopped)} before it found"
            " a model: nothing was discovered; give a larger limit, a higher noise threshold"
            " or filter the log"
        )
    found: Model = outcome.results[0]
    # BPMN does not pickle: the worker gives the net (and tree), and BPMN is made here.
    with quiet():
        pm = pm4py()
        if found.tree is not None:
            found.bpmn = pm.convert_to_bpmn(found.tree)
        else:
            found.bpmn = _bpmn_of(pm, found.net, found.initial, found.final)
    return found


def _discover_work(payload: tuple[Counter[tuple[str, ...]], Algorithm, float]) -> Iterator[Model]:
    """The miner, where `bounded.run` runs it: one model."""
    variants, algorithm, noise = payload
    with quiet():
        pm = pm4py()
        if algorithm == "inductive":
            tree = _inductive(variants, noise)
            net, initial, final = pm.convert_to_petri_net(tree)
            yield Model(net, initial, final, algorithm, tree=tree)
        elif algorithm == "heuristics":
            yield Model(*_heuristics(variants), algorithm)
        else:
            # Alpha looks only at which activities follow which: one case per variant says
            # it all.
            keys = {"activity_key": ACTIVITY, "timestamp_key": TIME, "case_id_key": CASE}
            frame = _variant_frame(list(variants))
            net, initial, final = pm.discover_petri_net_alpha(frame, **keys)
            yield Model(net, initial, final, algorithm)


def _bounded(
    work: Callable[[Any], Iterator[Any]],
    payload: Any,
    limit: bounded.Limit | None,
    progress: Callable[[int], None] | None = None,
) -> bounded.Outcome[Any]:
    """`bounded.run`, with the work's errors as `ModelError`."""
    try:
        return bounded.run(work, payload, limit, progress=progress)
    except bounded.WorkerFailed as error:
        raise ModelError(str(error)) from error


class Stopped(ModelError):
    """A limit was reached before the work gave anything to show."""


def variant_log(events: pl.LazyFrame) -> Counter[tuple[str, ...]]:
    """The variants and their cases, in the order pm4py meets them (cases by id): what the
    miners work on, far smaller than the events."""
    per_case = _per_case(events).sort("case_id")
    return Counter(tuple(variant) for variant in per_case["variant"].to_list())


def _per_case(events: pl.LazyFrame) -> pl.DataFrame:
    """Each case (as text) with its activities in the store's order (``variant``), in the
    order the cases first appear."""
    return (
        ordered(events)
        .group_by(pl.col("case_id").cast(pl.String), maintain_order=True)
        .agg(variant=pl.col("activity").cast(pl.String))
        .collect()
    )


def _heuristics(variants: Counter[tuple[str, ...]]) -> tuple[Any, Any, Any]:
    """pm4py's heuristics miner (its default thresholds) from the variants: the counts it
    takes from a frame (activities, start and end activities, directly-follows pairs, pairs
    two apart and triples), each weighted by the variant's cases."""
    from pm4py.algo.discovery.heuristics.variants import classic
    from pm4py.objects.conversion.heuristics_net import converter

    starts: Counter[str] = Counter()
    ends: Counter[str] = Counter()
    occurrences: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    apart: Counter[tuple[str, str]] = Counter()
    triples: Counter[tuple[str, str, str]] = Counter()
    for variant, cases in variants.items():
        starts[variant[0]] += cases
        ends[variant[-1]] += cases
        for index, activity in enumerate(variant):
            occurrences[activity] += cases
            if index + 1 < len(variant):
                pairs[(activity, variant[index + 1])] += cases
            if index + 2 < len(variant):
                apart[(activity, variant[index + 2])] += cases
                triples[(activity, variant[index + 1], variant[index + 2])] += cases
    ranked = dict(sorted(occurrences.items(), key=lambda item: (-item[1], item[0])))
    parameters = {
        classic.Parameters.DEPENDENCY_THRESH: 0.5,
        classic.Parameters.AND_MEASURE_THRESH: 0.65,
        classic.Parameters.LOOP_LENGTH_TWO_THRESH: 0.5,
        classic.Parameters.ACTIVITY_KEY: ACTIVITY,
    }
    net = classic.apply_heu_dfg(
        dict(sorted(pairs.items())),
        activities=list(ranked),
        activities_occurrences=ranked,
        start_activities=dict(starts),
        end_activities=dict(ends),
        dfg_window_2=dict(sorted(apart.items())),
        freq_triples=dict(sorted(triples.items())),
        parameters=parameters,
    )
    return converter.apply(net, parameters=parameters)  # type: ignore[no-any-return]


def _inductive(variants: Counter[tuple[str, ...]], noise: float) -> Any:
    """pm4py's inductive miner (IMf with a noise threshold, else IM) on the variants, as
    `pm4py.discover_process_tree_inductive` runs it on a log of those cases."""
    from pm4py.algo.discovery.inductive.dtypes.im_ds import IMDataStructureUVCL
    from pm4py.algo.discovery.inductive.variants.im import IMUVCL
    from pm4py.algo.discovery.inductive.variants.imf import IMFUVCL
    from pm4py.objects.process_tree.utils import generic

    parameters = {
        "activity_key": ACTIVITY,
        "noise_threshold": noise,
        "multiprocessing": False,
        "disable_fallthroughs": False,
    }
    miner = IMFUVCL(parameters) if noise > 0 else IMUVCL(parameters)
    tree = generic.fold(miner.apply(IMDataStructureUVCL(variants), parameters))
    generic.tree_sort(tree)
    return tree


def _bpmn_of(pm: Any, net: Any, initial: Any, final: Any) -> Any:
    try:
        return pm.convert_to_bpmn(net, initial, final)
    except Exception:  # not every net converts (e.g. alpha nets that are not workflow nets)
        return None


@_quietly
def write_model(model: Model, path: Path) -> None:
    """Write the model as PNML (``.pnml``) or BPMN 2.0 XML (``.bpmn``), by extension."""
    pm = pm4py()
    suffix = path.suffix.lower()
    if suffix == ".pnml":
        pm.write_pnml(model.net, model.initial, model.final, str(path))
    elif suffix == ".bpmn":
        if model.bpmn is None:
            raise ModelError(f"{path}: the {model.algorithm} model has no BPMN form; write .pnml")
        pm.write_bpmn(model.bpmn, str(path))
    else:
        raise ModelError(f"{path}: give a file ending in .pnml or .bpmn")


@_quietly
def read_model(path: Path) -> Model:
    """Read a PNML or BPMN file; raises `ModelError` naming the file when it cannot."""
    if not path.exists():
        raise ModelError(f"{path}: no such file")
    pm = pm4py()
    suffix = path.suffix.lower()
    try:
        # Check the XML first: pm4py's readers leave the file open when the parse fails.
        with path.open("rb") as handle:
            etree.parse(handle)
        if suffix == ".pnml":
            net, initial, final = pm.read_pnml(str(path))
            if not initial or not final:
                raise ModelError(f"{path}: the net has no initial or final marking")
            model = Model(net, initial, final, "pnml")
        elif suffix == ".bpmn":
            bpmn = pm.read_bpmn(str(path))
            net, initial, final = pm.convert_to_petri_net(bpmn)
            model = Model(net, initial, final, "bpmn", bpmn=bpmn)
        else:
            raise ModelError(f"{path}: give a .pnml or .bpmn model")
    except ModelError:
        raise
    except Exception as error:  # the XML parsers raise many kinds
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelError(f"{path}: not a readable {suffix[1:].upper()} model ({first})") from error
    # Undecided (WOFLAN explores the states of a very concurrent net for long) gives no
    # note: not knowing is not a fault of the model.
    if soundness(model) is not False:
        return model
    note = (
        f"{path.name} is not a sound workflow net (pm4py's check_soundness): some final"
        " states cannot be reached or tokens are left behind, so fitness and alignments on"
        " it can mislead"
    )
    return replace(model, notes=(*model.notes, note))


SOUNDNESS_SECONDS = 3.0


def soundness(model: Model) -> bool | None:
    """Whether the net is a sound workflow net, by pm4py's `check_soundness` (WOFLAN), in a
    worker within `SOUNDNESS_SECONDS` (None: not decided in that time)."""
    limit = bounded.Limit(SOUNDNESS_SECONDS, min(bounded.default_memory(), 1024**3))
    outcome = _bounded(_soundness_work, model.net_only(), limit)
    return None if outcome.stopped is not None else bool(outcome.results[0])


def _soundness_work(model: Model) -> Iterator[bool]:
    with quiet():
        found = pm4py().check_soundness(model.net, model.initial, model.final)
    yield bool(found[0] if isinstance(found, tuple) else found)


@_quietly
def to_dot(model: Model, *, view: Literal["petri", "bpmn", "tree"] = "petri") -> str:
    """The model as Graphviz DOT, for the browser to draw: top to bottom, so that a model of
    a long process is drawn tall, at a size where its labels can be read, rather than
    squeezed into the width of the page."""
    if view == "tree":
        if model.tree is None:
            raise ModelError("only the inductive miner gives a process tree")
        from pm4py.visualization.process_tree import visualizer as tree_visualizer

        return str(tree_visualizer.apply(model.tree).source)
    if view == "bpmn":
        if model.bpmn is None:
            raise ModelError("this model has no BPMN form")
        from pm4py.visualization.bpmn import visualizer as bpmn_visualizer

        return str(bpmn_visualizer.apply(model.bpmn, parameters={"rankdir": "TB"}).source)
    from pm4py.visualization.petri_net import visualizer as net_visualizer

    return str(
        net_visualizer.apply(
            model.net, model.initial, model.final, parameters={"set_rankdir": "TB"}
        ).source
    )


NOTES = 8  # moves on log listed beside one place of the model


def deviations_dot(model: Model, result: Conformance) -> str:
    """The Petri net with the alignments' deviations drawn on it, as Graphviz DOT.

    Each visible transition is coloured by the share of the cases reaching it that skipped
    it (moves on model: white when none did, dark red when all did) and labelled with the
    cases that passed it in step with the log, the cases that skipped it and the share
    that fit there. Each activity done where the model does not allow it (a move on log)
    is listed in a red note beside the transition the alignment had passed last, with its
    count (the `NOTES` most frequent there; the deviations table has them all).
    """
    from workbench.dot import quote

    passed: dict[str, tuple[int, int]] = {}
    if result.transitions is not None:
        for activity, synchronous, skipped in result.transitions.iter_rows():
            passed[activity] = (synchronous, skipped)
    lines = [
        "digraph model {",
        '  graph [rankdir=TB, fontname="Helvetica", nodesep=0.3, ranksep=0.35];',
        '  node [fontname="Helvetica", fontsize=10];',
        '  edge [color="#5b6b7f", arrowsize=0.6];',
    ]
    names: dict[Any, str] = {}
    for index, place in enumerate(sorted(model.net.places, key=lambda p: str(p.name))):
        names[place] = f"p{index}"
        if place in model.initial:
            look = 'style=filled, fillcolor="#2e9d5b", color="#2e9d5b"'
        elif place in model.final:
            look = 'shape=doublecircle, style=filled, fillcolor="#c0392b", color="#c0392b"'
        else:
            look = 'color="#5b6b7f"'
        lines.append(f'  p{index} [shape=circle, label="", width=0.22, {look}];')
    for index, transition in enumerate(sorted(model.net.transitions, key=lambda t: str(t.name))):
        names[transition] = f"t{index}"
        if transition.label is None:
            lines.append(
                f'  t{index} [shape=box, label="", width=0.12, height=0.35, style=filled,'
                ' fillcolor="#3a3a3a"];'
            )
            continue
        synchronous, skipped = passed.get(transition.label, (0, 0))
        reached = synchronous + skipped
        share = skipped / reached if reached else 0.0
        light, dark = (0xFF, 0xFF, 0xFF), (0xB0, 0x1E, 0x1E)
        fill = "#{:02x}{:02x}{:02x}".format(
            *(round(a + (b - a) * share) for a, b in zip(light, dark, strict=True))
        )
        font = "#ffffff" if share > 0.5 else "#1a1a1a"
        label = transition.label
        if reached:
            label += f"\n{synchronous:,} in step, {skipped:,} skipped ({1 - share:.0%} fit)"
        lines.append(
            f"  t{index} [shape=box, style=filled, label={quote(label)},"
            f' fillcolor="{fill}", fontcolor="{font}", color="#5b6b7f"];'
        )
    for arc in model.net.arcs:
        lines.append(f"  {names[arc.source]} -> {names[arc.target]};")
    anchors = {t.label: names[t] for t in model.net.transitions if t.label is not None}
    start = next((names[p] for p in model.initial), None)
    if result.log_moves is not None:
        # One note per place in the model: the activities done there, most frequent first.
        by_place: dict[str | None, list[tuple[str, int]]] = {}
        for activity, after, moves in result.log_moves.iter_rows():
            where = anchors.get(after, start) if after is not None else start
            by_place.setdefault(where, []).append((activity, moves))
        for index, (where, done) in enumerate(by_place.items()):
            shown = [f"{activity} ({moves:,})" for activity, moves in done[:NOTES]]
            if len(done) > NOTES:
                shown.append(f"and {len(done) - NOTES} more (see the table)")
            text = "not allowed here:\n" + "\n".join(shown)
            lines.append(
                f'  m{index} [shape=note, style=filled, fillcolor="#fdecea", color="#c0392b",'
                f' fontcolor="#c0392b", fontsize=9, label={quote(text)}];'
            )
            if where is not None:
                lines.append(
                    f'  {where} -> m{index} [style=dashed, color="#c0392b", arrowhead=none];'
                )
    lines.append("}")
    return "\n".join(lines)


@dataclass
class Conformance:
    """How well a log fits a model."""

    method: Literal["tokens", "alignments"]
    fitness: float | None  # log fitness as pm4py computes it; None when no case was checked
    average_trace_fitness: float | None
    fitting_cases: float | None  # share of cases that fit
    precision: float | None  # token replay only
    cases: pl.DataFrame  # case_id, variant, fitness, fitting
    deviations: pl.DataFrame  # activity, moves_on_log, moves_on_model (alignments)
    variants: int
    variants_checked: int
    seconds: float
    stopped: bool = False  # the time budget ran out before every variant was checked
    notes: list[str] = field(default_factory=list)
    engine: str = "pm4py"  # what computed it: pm4py's algorithm, r4pm, or both
    # Alignments: per visible transition, cases that passed it in step with the log and
    # cases that skipped it (moves on model); and each move on log with the visible
    # transition the alignment had passed last (None: none yet), in cases.
    transitions: pl.DataFrame | None = None
    log_moves: pl.DataFrame | None = None
    # Each variant's activities (index, as ``cases.variant``, and variant), to show them.
    variant_activities: pl.DataFrame | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (without the per-case table)."""
        return {
            "method": self.method,
            "fitness": self.fitness,
            "average_trace_fitness": self.average_trace_fitness,
            "fitting_cases": self.fitting_cases,
            "precision": self.precision,
            "variants": self.variants,
            "variants_checked": self.variants_checked,
            "stopped": self.stopped,
            "engine": self.engine,
            "seconds": self.seconds,
            "deviations": self.deviations.to_dicts(),
            "notes": self.notes,
        }


def _variants(events: pl.LazyFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(variants with their case counts, most first; each case with its variant's index)."""
    per_case = _per_case(events)
    ranked = (
        per_case.group_by("variant")
        .agg(cases=pl.len())
        .with_columns(key=pl.col("variant").list.join("\u0000"))
        .sort(["cases", "key"], descending=[True, False])
        .drop("key")
        .with_row_index("index")
    )
    return ranked, per_case.join(ranked.select("variant", "index"), on="variant")


GROUP = 64  # variants replayed per message from a worker


def token_replay(
    events: pl.LazyFrame,
    model: Model,
    *,
    limit: bounded.Limit | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Conformance:
    """Token-based replay: fitness per variant, weighted by cases, and precision, with
    pm4py's numbers (`workbench.replay` runs pm4py's replay once per distinct step).

    Within ``limit``: when it is reached, the variants replayed so far (most frequent first)
    are reported (``stopped``), their fitness only; precision needs every variant."""
    started = time.perf_counter()
    ranked, per_case = _variants(events)
    if ranked.is_empty():
        return _nothing_to_check("tokens", started)
    sequences = [tuple(v) for v in ranked["variant"].to_list()]
    counts = ranked["cases"].to_list()
    total = len(sequences)
    outcome = _bounded(
        _replay_work,
        (model.net_only(), sequences, counts),
        limit,
        None if progress is None else lambda n: progress(min(n * GROUP, total), total),
    )
    results = [r for kind, found in outcome.results if kind == "fitness" for r in found]
    precision = next((found for kind, found in outcome.results if kind == "precision"), None)
    totals = {name: 0.0 for name in ("missing", "consumed", "remaining", "produced")}
    for result, count in zip(results, counts, strict=False):
        for name in totals:
            totals[name] += getattr(result, name) * count
    fitness = (
        0.5 * (1 - totals["missing"] / totals["consumed"])
        + 0.5 * (1 - totals["remaining"] / totals["produced"])
        if results
        else None
    )
    per_variant = pl.DataFrame(
        {
            "index": ranked["index"].head(len(results)),
            "fitness": [r.fitness for r in results],
            "fitting": [r.fits for r in results],
        },
        schema={"index": pl.UInt32, "fitness": pl.Float64, "fitting": pl.Boolean},
    )
    result = _result(
        "tokens",
        fitness,
        per_variant,
        ranked,
        per_case,
        None if precision is None else float(precision),
        _empty_deviations(),
        started,
        stopped=outcome.stopped is not None,
    )
    if outcome.stopped is not None:
        assert limit is not None
        result.notes.append(
            _stopped_note(limit, outcome.stopped, "replayed", ranked, per_case, len(results))
        )
        if precision is None:
            result.notes.append("precision is not computed: it needs every variant replayed")
    return result


def _replay_work(
    payload: tuple[Model, list[tuple[str, ...]], list[int]],
) -> Iterator[tuple[str, Any]]:
    """Token replay where `bounded.run` runs it: fitness for each group of variants, most
    frequent first, then precision over them all."""
    model, sequences, counts = payload
    with quiet():
        steps = replay.Steps(model)
        for first in range(0, len(sequences), GROUP):
            yield "fitness", replay.fitness(sequences[first : first + GROUP], model, steps=steps)
        pairs = list(zip(sequences, counts, strict=True))
        yield "precision", replay.precision(pairs, model, steps=steps)


def _stopped_note(
    limit: bounded.Limit,
    reason: bounded.Reason,
    done: str,
    ranked: pl.DataFrame,
    per_case: pl.DataFrame,
    checked: int,
) -> str:
    covered = int(ranked.head(checked)["cases"].sum()) if checked else 0
    return (
        f"stopped at {limit.describe(reason)}: {checked:,} of {ranked.height:,} variants"
        f" {done}, covering {covered:,} of {per_case.height:,} cases; the figures are theirs"
        f" and the other {ranked.height - checked:,} variants are not checked"
    )


def alignments(
    events: pl.LazyFrame,
    model: Model,
    *,
    limit: bounded.Limit | None = None,
    progress: Callable[[int, int], None] | None = None,
    engine: aligners.Engine = "auto",
) -> Conformance:
    """Alignments, once per variant, most frequent first, within ``limit``.

    ``engine``: r4pm (Rust, the default when installed) or pm4py. Both find an optimal
    alignment under pm4py's standard costs, so costs and fitness are equal; where several
    alignments are optimal they may choose different ones, so moves per activity can differ
    (their number per case cannot), which the notes say. A variant r4pm cannot align (more
    than 255 tokens in a place) is aligned by pm4py.

    When the limit (a wall-clock budget, a memory ceiling) is reached, the variants aligned
    so far are reported (``stopped``) and the fitness covers the cases of those variants
    only, which the notes say.
    """
    if engine not in ("auto", "r4pm", "pm4py"):
        raise ModelError(f"unknown alignment engine {engine!r}; choose r4pm or pm4py")
    started = time.perf_counter()
    ranked, per_case = _variants(events)
    if ranked.is_empty():
        return _nothing_to_check("alignments", started)
    sequences = [tuple(v) for v in ranked["variant"].to_list()]
    total = len(sequences)
    outcome = _bounded(
        aligners.align,
        (model.net_only(), sequences, engine),
        limit,
        None if progress is None else lambda n: progress(n, total),
    )
    results = [found for found, _ in outcome.results]
    by_rust = sum(1 for _, by in outcome.results if by == "r4pm")
    checked = ranked.head(len(results))
    counts = checked["cases"].to_list()
    cost = sum(r["cost"] * n for r, n in zip(results, counts, strict=True))
    worst = sum(r["bwc"] * n for r, n in zip(results, counts, strict=True))
    fitness = (1.0 - cost / worst if worst > 0 else 0.0) if results else None
    per_variant = pl.DataFrame(
        {
            "index": checked["index"],
            "fitness": [float(r["fitness"]) for r in results],
            "fitting": [r["fitness"] == 1.0 for r in results],
        },
        schema={"index": pl.UInt32, "fitness": pl.Float64, "fitting": pl.Boolean},
    )
    moves: dict[str, list[int]] = {}
    synchronous: dict[str, int] = {}
    placed: dict[tuple[str, str | None], int] = {}
    for result, count in zip(results, counts, strict=True):
        after: str | None = None  # the last visible transition the alignment passed
        for log_move, model_move in result["alignment"]:  # (log label, model label) steps
            if model_move == ">>" and log_move != ">>":
                moves.setdefault(log_move, [0, 0])[0] += count
                placed[(log_move, after)] = placed.get((log_move, after), 0) + count
            elif log_move == ">>" and model_move is not None:
                moves.setdefault(model_move, [0, 0])[1] += count
                after = model_move
            elif log_move != ">>" and model_move is not None:
                synchronous[model_move] = synchronous.get(model_move, 0) + count
                after = model_move
    deviations = pl.DataFrame(
        [(a, on_log, on_model) for a, (on_log, on_model) in moves.items()],
        schema={"activity": pl.String, "moves_on_log": pl.Int64, "moves_on_model": pl.Int64},
        orient="row",
    ).sort(["moves_on_log", "moves_on_model", "activity"], descending=[True, True, False])
    labels = sorted({t.label for t in model.net.transitions if t.label is not None})
    transitions = pl.DataFrame(
        {
            "activity": labels,
            "synchronous": [synchronous.get(label, 0) for label in labels],
            "skipped": [moves.get(label, [0, 0])[1] for label in labels],
        },
        schema={"activity": pl.String, "synchronous": pl.Int64, "skipped": pl.Int64},
    )
    log_moves = pl.DataFrame(
        [(activity, where, n) for (activity, where), n in placed.items()],
        schema={"activity": pl.String, "after": pl.String, "moves": pl.Int64},
        orient="row",
    ).sort(["moves", "activity"], descending=[True, False])
    answer = _result(
        "alignments",
        fitness,
        per_variant,
        ranked,
        per_case,
        None,
        deviations,
        started,
        stopped=outcome.stopped is not None,
    )
    answer.transitions, answer.log_moves = transitions, log_moves
    if outcome.stopped is not None:
        assert limit is not None
        answer.notes.append(
            _stopped_note(limit, outcome.stopped, "aligned", ranked, per_case, len(results))
        )
    engines = (["r4pm"] if by_rust else []) + (["pm4py"] if by_rust < len(results) else [])
    if results:
        answer.notes.append(
            f"aligned by {' and '.join(engines)}"
            + (
                ": fitness as pm4py computes it; where several alignments are optimal, moves"
                " per activity may differ from pm4py's choice (never their number per case)"
                if by_rust
                else ""
            )
        )
    answer.engine = " and ".join(engines) or "none"
    return answer


def _nothing_to_check(method: Literal["tokens", "alignments"], started: float) -> Conformance:
    """The result over a log (or filter) without cases: no figures, and a note saying why."""
    return Conformance(
        method,
        None,
        None,
        None,
        None,
        pl.DataFrame(
            schema={
                "case_id": pl.String,
                "variant": pl.UInt32,
                "fitness": pl.Float64,
                "fitting": pl.Boolean,
            }
        ),
        _empty_deviations(),
        0,
        0,
        time.perf_counter() - started,
        notes=["no case passes the filters: there is nothing to check"],
    )


def _empty_deviations() -> pl.DataFrame:
    return pl.DataFrame(
        schema={"activity": pl.String, "moves_on_log": pl.Int64, "moves_on_model": pl.Int64}
    )


def _result(
    method: Literal["tokens", "alignments"],
    fitness: float | None,
    per_variant: pl.DataFrame,
    ranked: pl.DataFrame,
    per_case: pl.DataFrame,
    precision: float | None,
    deviations: pl.DataFrame,
    started: float,
    *,
    stopped: bool,
) -> Conformance:
    cases = per_case.join(per_variant.cast({"index": pl.UInt32}), on="index", how="left").select(
        "case_id", pl.col("index").alias("variant"), "fitness", "fitting"
    )
    checked = cases.filter(pl.col("fitness").is_not_null())
    some = checked.height > 0
    found = Conformance(
        method,
        None if fitness is None else float(fitness),
        float(checked["fitness"].mean()) if some else None,  # type: ignore[arg-type]
        float(checked["fitting"].cast(pl.Float64).mean()) if some else None,  # type: ignore[arg-type]
        precision,
        cases,
        deviations,
        ranked.height,
        per_variant.height,
        time.perf_counter() - started,
        stopped,
    )
    found.variant_activities = ranked.select(
        pl.col("index"), pl.col("variant").cast(pl.List(pl.String))
    )
    return found


PERIODS: dict[str, str] = {"day": "1d", "week": "1w", "month": "1mo", "quarter": "1q", "year": "1y"}


def over_time(result: Conformance, events: pl.LazyFrame, every: str = "month") -> pl.DataFrame:
    """Conformance per period (``day``, ``week`` from Monday, ``month``, ``quarter``,
    ``year``) in which the cases started: the cases checked, the share of them that fit and
    their average trace fitness; the first step towards monitoring conformance."""
    if every not in PERIODS:
        raise ModelError(f"--every {every!r}: choose {', '.join(PERIODS)}")
    starts = (
        events.group_by(pl.col("case_id").cast(pl.String))
        .agg(start=pl.col("timestamp").min())
        .collect()
    )
    checked = result.cases.filter(pl.col("fitness").is_not_null()).with_columns(
        pl.col("case_id").cast(pl.String)
    )
    return (
        checked.join(starts, on="case_id")
        .group_by(period=pl.col("start").dt.truncate(PERIODS[every]))
        .agg(
            cases=pl.len(),
            fitting_cases=pl.col("fitting").cast(pl.Float64).mean(),
            fitness=pl.col("fitness").mean(),
        )
        .sort("period")
    )


@dataclass
class Analysis:
    """A model (discovered or given) and how the log conforms to it."""

    model: Model
    conformance: Conformance
    discovered: bool


def analyse(
    events: pl.LazyFrame,
    *,
    algorithm: Algorithm = "inductive",
    noise: float = 0.0,
    model: Path | None = None,
    method: Literal["tokens", "alignments"] = "tokens",
    limit: bounded.Limit | None = None,
    engine: aligners.Engine = "auto",
    progress: Callable[[str, float], None] | None = None,
) -> Analysis:
    """Discover a model (or read ``model``) and check the events against it, reporting
    progress as (stage, fraction done): what the app runs as a background job. ``limit``
    holds for the whole: discovery and the check share its budget."""

    def report(stage: str, done: float) -> None:
        if progress is not None:
            progress(stage, done)

    report("discovering the model" if model is None else "reading the model", 0.0)
    found = (
        discover(events, algorithm=algorithm, noise=noise, limit=limit)
        if model is None
        else read_model(model)
    )
    report("checking conformance", 0.3)
    if method == "tokens":
        result = token_replay(
            events,
            found,
            limit=limit,
            progress=lambda done, total: report(
                f"replaying variants ({done:,} of {total:,})", 0.3 + 0.7 * done / max(total, 1)
            ),
        )
    else:
        result = alignments(
            events,
            found,
            limit=limit,
            engine=engine,
            progress=lambda done, total: report(
                f"aligning variants ({done:,} of {total:,})", 0.3 + 0.7 * done / max(total, 1)
            ),
        )
    report("done", 1.0)
    return Analysis(found, result, model is None)
