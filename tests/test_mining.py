"""Discovery, conformance and export: the numbers equal pm4py's, exports import back."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from ingest.jobs import ingest
from sample_data.demo import DEMO_LOG, load_demo
from tests.conftest import real_log
from workbench import EventStore, bounded, export, mining
from workbench.cli import app
from workbench.filters import Contains, Filters, Variants

START = datetime(2024, 1, 1, tzinfo=UTC)
KEYS = {"activity_key": mining.ACTIVITY, "timestamp_key": mining.TIME, "case_id_key": mining.CASE}


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> EventStore:
    db = tmp_path_factory.mktemp("mining") / "m.db"
    with EventStore(db) as store:
        ingest(store, real_log("running-example.xes"), log="running")
        ingest(store, real_log("receipt.csv"), log="receipt")
        ingest(store, real_log("sepsis.xes.gz"), log="sepsis")
        ingest(store, real_log("bpic2012.xes.gz"), log="bpic2012")
        yield store


@pytest.mark.parametrize(
    ("log", "top"),
    # BPIC 2012's cases of its 300 most frequent variants: pm4py's own precision over the
    # whole log takes minutes (it replays every prefix from the start).
    [("running", None), ("receipt", None), ("sepsis", None), ("bpic2012", 300)],
)
def test_token_replay_fitness_and_precision_equal_pm4py(logs, log, top) -> None:
    events = logs.scan(log)
    if top:
        events = Filters((Variants(top=top),)).apply(events)
    model = mining.discover(events, noise=0.2)
    ours = mining.token_replay(events, model)
    pm = mining.pm4py()
    frame = mining.to_pandas(events)
    theirs = pm.fitness_token_based_replay(frame, model.net, model.initial, model.final, **KEYS)
    precision = pm.precision_token_based_replay(
        frame, model.net, model.initial, model.final, **KEYS
    )
    assert ours.fitness == pytest.approx(theirs["log_fitness"], abs=1e-12)
    assert ours.average_trace_fitness == pytest.approx(theirs["average_trace_fitness"], abs=1e-12)
    assert ours.precision == pytest.approx(precision, abs=1e-12)
    assert ours.cases.height == events.select(pl.col("case_id").n_unique()).collect().item()


def assert_same_tokens(ours: list[Any], theirs: list[dict[str, Any]]) -> None:
    """Per trace, the tokens, the fitness and whether it fits are pm4py's."""
    for mine, pm4py in zip(ours, theirs, strict=True):
        assert (mine.missing, mine.consumed, mine.remaining, mine.produced) == (
            pm4py["missing_tokens"],
            pm4py["consumed_tokens"],
            pm4py["remaining_tokens"],
            pm4py["produced_tokens"],
        )
        assert mine.fitness == pm4py["trace_fitness"]
        assert mine.fits == pm4py["trace_is_fit"]


def test_each_variant_replays_as_pm4py_replays_it(logs) -> None:
    from workbench import replay

    events = logs.scan("sepsis")
    model = mining.discover(events, noise=0.2)
    ranked, _ = mining._variants(events)
    sequences = [tuple(v) for v in ranked["variant"].to_list()]
    ours = replay.fitness(sequences, model)
    with mining.quiet():
        theirs = mining.pm4py().conformance_diagnostics_token_based_replay(
            mining._variant_frame(sequences), model.net, model.initial, model.final, **KEYS
        )
    assert len(ours) == len(theirs) == 846
    assert_same_tokens(ours, theirs)
    assert any(not mine.fits for mine in ours)  # the noise threshold leaves some out


@pytest.mark.parametrize("seed", [5, 11, 23])
def test_token_replay_equals_pm4py_on_traces_that_are_all_distinct(seed) -> None:
    """No two traces share more than a short prefix, most do not fit, and the model has
    hidden steps and loops: per trace the tokens, the fitness and the precision are
    pm4py's."""
    from tests.noisy import noisy_log
    from workbench import replay

    model, sequences = noisy_log(seed, 200)
    assert len(set(sequences)) == len(sequences) == 200
    ours = replay.fitness(sequences, model)
    frame = mining._variant_frame(sequences)
    with mining.quiet():
        theirs = mining.pm4py().conformance_diagnostics_token_based_replay(
            frame, model.net, model.initial, model.final, **KEYS
        )
        precision = mining.pm4py().precision_token_based_replay(
            frame, model.net, model.initial, model.final, **KEYS
        )
    assert_same_tokens(ours, theirs)
    assert sum(not mine.fits for mine in ours) > 100
    assert replay.precision([(s, 1) for s in sequences], model) == pytest.approx(
        precision, abs=1e-12
    )
    hidden = [t for t in model.net.transitions if t.label is None]
    assert hidden  # the replay walks through hidden transitions


def test_precision_counts_escaping_edges_after_each_fitting_prefix() -> None:
    from workbench import replay

    # A model that allows a, then b or c; the log only ever shows b after a.
    model_log = pl.LazyFrame(
        {
            "case_id": ["x", "x", "y", "y"],
            "activity": ["a", "b", "a", "c"],
            "timestamp": pl.datetime_range(
                pl.datetime(2024, 1, 1), pl.datetime(2024, 1, 4), "1d", eager=True
            ),
            "position": [1, 2, 3, 4],
        }
    )
    wide = mining.discover(model_log)
    # After "a", the model enables b and c and the log shows b: one escaping edge of two,
    # for each of two cases; at the start, a is enabled and shown.
    assert replay.precision([(("a", "b"), 2)], wide) == pytest.approx(1 - 2 / (2 + 4))


@pytest.mark.parametrize("engine", ["r4pm", "pm4py"])
@pytest.mark.parametrize(("log", "top"), [("running", None), ("receipt", 15)])
def test_alignments_per_variant_equal_alignments_per_case(logs, log, top, engine) -> None:
    events = logs.scan(log)
    if top:  # receipt's rare variants take pm4py a minute: its 15 most frequent
        events = Filters((Variants(top=top),)).apply(events)
    model = mining.discover(logs.scan(log), noise=0.2)
    seen: list[tuple[int, int]] = []
    ours = mining.alignments(
        events,
        model,
        progress=lambda done, total: seen.append((done, total)),
        engine=engine,
    )
    pm = mining.pm4py()
    with mining.quiet():  # pm4py's soundness check fails on warnings turned into errors
        theirs = pm.fitness_alignments(
            mining.to_pandas(events), model.net, model.initial, model.final, **KEYS
        )
    assert ours.fitness == pytest.approx(theirs["log_fitness"], abs=1e-12)
    assert ours.average_trace_fitness == pytest.approx(theirs["averageFitness"], abs=1e-12)
    assert seen[-1] == (ours.variants, ours.variants)
    assert not ours.stopped


def test_alignments_say_when_the_budget_stopped_them(logs) -> None:
    events = logs.scan("receipt")
    model = mining.discover(Filters((Variants(top=3),)).apply(events))
    result = mining.alignments(events, model, limit=bounded.Limit(seconds=1e-9))
    assert result.stopped
    assert result.variants_checked < result.variants
    assert result.notes[0].startswith("stopped at the time budget")


def test_deviations_name_moves_on_log_and_on_model(logs) -> None:
    events = logs.scan("running")
    model = mining.discover(Filters((Variants(top=1),)).apply(events))
    result = mining.alignments(events, model)
    assert result.fitness < 1
    assert result.deviations.height > 0
    assert (result.deviations["moves_on_log"] + result.deviations["moves_on_model"] > 0).all()
    unfit = result.cases.filter(~pl.col("fitting"))
    assert unfit.height == (result.cases["fitness"] < 1).sum()


def test_discovery_on_a_filtered_log_uses_only_the_filtered_events(logs, tmp_path) -> None:
    events = logs.scan("running")
    kept = Filters((Contains(("reject request",)),)).apply(events)
    model = mining.discover(kept, algorithm="heuristics")
    labels = {t.label for t in model.net.transitions if t.label is not None}
    activities = set(kept.select("activity").unique().collect()["activity"])
    assert labels <= activities
    assert "pay compensation" not in labels  # only in the cases that were filtered out
    with EventStore(tmp_path / "only.db") as alone:
        alone.import_frame(
            "kept", kept.collect().drop("log", "position", "revision", "recorded_at")
        )
        again = mining.discover(alone.scan("kept"), algorithm="heuristics")
    assert again.summary() == model.summary()


@pytest.mark.parametrize("algorithm", mining.ALGORITHMS)
def test_models_round_trip_through_pnml_and_render_as_dot(logs, tmp_path, algorithm) -> None:
    model = mining.discover(logs.scan("running"), algorithm=algorithm)
    mining.write_model(model, tmp_path / "m.pnml")
    again = mining.read_model(tmp_path / "m.pnml")
    assert again.summary() == model.summary()
    assert mining.to_dot(model).startswith("digraph")
    if model.bpmn is not None:
        mining.write_model(model, tmp_path / "m.bpmn")
        assert mining.read_model(tmp_path / "m.bpmn").bpmn is not None


def test_an_invalid_model_file_is_a_clear_error(tmp_path, logs) -> None:
    broken = tmp_path / "broken.pnml"
    broken.write_text("this is not xml")
    with pytest.raises(mining.ModelError, match=r"broken\.pnml: not a readable PNML model"):
        mining.read_model(broken)
    result = CliRunner().invoke(
        app, ["--db", str(logs.path), "conformance", "running", "--model", str(broken)]
    )
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    with pytest.raises(mining.ModelError, match="no such file"):
        mining.read_model(tmp_path / "missing.bpmn")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> EventStore:
    with EventStore(tmp_path_factory.mktemp("export") / "demo.db") as store:
        load_demo(store)
        yield store


@pytest.mark.parametrize("format", ["xes", "csv", "parquet"])
def test_exports_import_back_into_the_same_events(demo, tmp_path, format) -> None:
    path = tmp_path / f"demo.{format}"
    count = export.export(demo, DEMO_LOG, demo.scan(DEMO_LOG), path, format=format)
    summary = ingest(demo, path, log=f"again-{format}")
    assert summary.events_added == count == demo.scan(DEMO_LOG).select(pl.len()).collect().item()
    before = export.exported(demo.scan(DEMO_LOG)).sort("event_id")
    after = export.exported(demo.scan(f"again-{format}")).sort("event_id")
    assert after.schema["timestamp"] == pl.Datetime("us", "UTC")
    assert_frame_equal(after.select(before.columns), before)


def test_a_filtered_export_holds_only_the_filtered_events(demo, tmp_path) -> None:
    kept = Filters((Contains(("Cancel Order",)),)).apply(demo.scan(DEMO_LOG))
    count = export.export(demo, DEMO_LOG, kept, tmp_path / "cancelled.parquet", format="parquet")
    assert count == kept.select(pl.len()).collect().item()
    assert pl.read_parquet(tmp_path / "cancelled.parquet")["case_id"].n_unique() < 500


def test_ocel_export_imports_back_with_the_same_objects_and_links(tmp_path) -> None:
    with EventStore(tmp_path / "ocel.db") as store:
        ingest(store, real_log("ocel_ocel20_example.jsonocel"), log="ocel")
        path = tmp_path / "again.jsonocel"
        export.export(store, "ocel", store.scan("ocel"), path, format="ocel")
        ingest(store, path, log="again", format="ocel2-json")
        for table in ("objects", "event_objects", "object_objects", "object_attributes"):
            before, after = getattr(store, table)("ocel"), getattr(store, table)("again")
            assert_frame_equal(after.sort(after.columns), before.sort(before.columns))
        before = export.exported(store.scan("ocel")).sort("event_id")
        after = export.exported(store.scan("again")).sort("event_id")
        assert_frame_equal(after.select(before.columns), before)
        store.import_frame("plain", export.exported(store.scan("ocel")))
        with pytest.raises(export.ExportError, match="not an object-centric log"):
            export.export(store, "plain", store.scan("plain"), tmp_path / "x.json", format="ocel")


def test_cli_discover_conformance_export(demo, tmp_path) -> None:
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, ["--db", str(demo.path), *args])
        assert result.exit_code == 0, result.output
        return result.stdout

    model = tmp_path / "o2c.bpmn"
    run("discover", DEMO_LOG, "--noise", "0.2", "--output", str(model))
    tokens = json.loads(run("conformance", DEMO_LOG, "--model", str(model), "--json"))
    assert 0 < tokens["fitness"] <= 1
    assert 0 < tokens["precision"] <= 1
    aligned = json.loads(
        run("conformance", DEMO_LOG, "--model", str(model), "--method", "alignments", "--json")
    )
    assert {"fitness", "deviations"} <= set(aligned)
    assert aligned["engine"] == "r4pm"
    monthly = json.loads(
        run(
            "conformance", DEMO_LOG, "--model", str(model), "--method", "alignments",
            "--aligner", "pm4py", "--every", "month", "--json",
        )
    )  # fmt: skip
    assert monthly["engine"] == "pm4py"
    assert monthly["fitness"] == pytest.approx(aligned["fitness"], abs=1e-12)
    starts = demo.scan(DEMO_LOG).group_by("case_id").agg(pl.col("timestamp").min()).collect()
    months = starts.select(pl.col("timestamp").dt.truncate("1mo").n_unique()).item()
    assert len(monthly["over_time"]) == months
    assert sum(row["cases"] for row in monthly["over_time"]) == starts.height
    refused = runner.invoke(
        app,
        ["--db", str(demo.path), "conformance", DEMO_LOG, "--model", str(model), "--every", "x"],
    )
    assert refused.exit_code == 2
    assert "choose day, week, month" in refused.output
    run("export", DEMO_LOG, "--format", "csv", "--output", str(tmp_path / "o2c.csv"))
    assert (tmp_path / "o2c.csv").stat().st_size > 1000


def test_no_case_to_check_is_not_a_fitness_of_zero_11(logs) -> None:
    events = logs.scan("running")
    model = mining.discover(events)
    nothing = events.filter(pl.col("activity") == "no such activity")
    for result in (mining.token_replay(nothing, model), mining.alignments(nothing, model)):
        assert (result.fitness, result.fitting_cases, result.variants) == (None, None, 0)
        assert "nothing to check" in result.notes[0]
    for seconds in (0, -5):
        with pytest.raises(ValueError, match="positive"):
            bounded.Limit(seconds=seconds)


def _known_model() -> mining.Model:
    pm = mining.pm4py()
    tree = pm.parse_process_tree("->( 'a', X( 'b', 'c' ), +( 'd', 'e' ), 'f' )")
    net, initial, final = pm.convert_to_petri_net(tree)
    return mining.Model(net, initial, final, "tree", tree=tree)


def _log_of(traces: list[list[str]]) -> pl.LazyFrame:
    rows = [
        (f"case {n}", activity, step)
        for n, trace in enumerate(traces)
        for step, activity in enumerate(trace)
    ]
    return pl.LazyFrame(
        {
            "case_id": [case for case, _, _ in rows],
            "activity": [activity for _, activity, _ in rows],
            "timestamp": [START + timedelta(hours=step) for *_, step in rows],
            "position": list(range(1, len(rows) + 1)),
        }
    )


# Every run of the known model, several cases each.
RUNS = [
    [first, choice, *middle, "f"]
    for first in ["a"]
    for choice in ["b", "c"]
    for middle in (["d", "e"], ["e", "d"])
] * 3


@pytest.mark.parametrize("engine", ["r4pm", "pm4py"])
def test_a_log_of_the_model_fits_and_a_missing_activity_is_skipped_in_every_case(engine) -> None:
    model = _known_model()
    fitting = mining.alignments(_log_of(RUNS), model, engine=engine)  # type: ignore[arg-type]
    assert fitting.average_trace_fitness == 1.0
    assert fitting.fitting_cases == 1.0
    # pm4py's log fitness counts the model's silent steps (a cost of 1 in 10,000 each).
    assert fitting.fitness == pytest.approx(1.0, abs=1e-4)
    assert fitting.deviations.is_empty()
    assert fitting.log_moves is not None
    assert fitting.log_moves.is_empty()
    assert mining.token_replay(_log_of(RUNS), model).fitness == 1.0
    without = [[a for a in run if a != "d"] for run in RUNS]
    skipping = mining.alignments(_log_of(without), model, engine=engine)  # type: ignore[arg-type]
    assert skipping.deviations.rows() == [("d", 0, len(RUNS))]
    assert skipping.transitions is not None
    skipped = dict(
        zip(skipping.transitions["activity"], skipping.transitions["skipped"], strict=True)
    )
    assert skipped == {"a": 0, "b": 0, "c": 0, "d": len(RUNS), "e": 0, "f": 0}
    assert (skipping.cases["fitness"] < 1).all()
    drawn = mining.deviations_dot(model, skipping)
    assert f"0 in step, {len(RUNS)} skipped (0% fit)" in drawn


def test_conformance_per_month_counts_each_case_in_the_month_it_started() -> None:
    model = _known_model()
    events = _log_of([*RUNS, ["a", "b", "f"]]).with_columns(
        pl.when(pl.col("case_id") == f"case {len(RUNS)}")
        .then(pl.col("timestamp").dt.offset_by("40d"))
        .otherwise(pl.col("timestamp"))
        .alias("timestamp")
    )
    result = mining.alignments(events, model)
    months = mining.over_time(result, events, "month")
    assert months["cases"].to_list() == [len(RUNS), 1]
    assert months["fitting_cases"].to_list() == [1.0, 0.0]
    assert months["fitness"][0] == 1.0
    assert months["fitness"][1] < 1


@pytest.mark.parametrize("log", ["running", "receipt", "sepsis"])
def test_discovery_from_the_variants_gives_pm4pys_model_of_the_log(logs, log) -> None:
    events = logs.scan(log)
    frame = mining.to_pandas(events)
    pm = mining.pm4py()
    for noise in (0.0, 0.2):
        ours = mining.discover(events, noise=noise)
        with mining.quiet():
            theirs = pm.discover_process_tree_inductive(frame, noise_threshold=noise, **KEYS)
        assert str(ours.tree) == str(theirs), noise
    alpha = mining.discover(events, algorithm="alpha")
    heuristics = mining.discover(events, algorithm="heuristics")
    with mining.quiet():
        net, _, _ = pm.discover_petri_net_alpha(frame, **KEYS)
        heuristic_net, _, _ = pm.discover_petri_net_heuristics(frame, **KEYS)

    def shape(net: object) -> tuple[list[str], list[str], list[tuple[str, str]]]:
        return (
            sorted(str(p) for p in net.places),  # type: ignore[attr-defined]
            sorted(str(t) for t in net.transitions),  # type: ignore[attr-defined]
            sorted((str(a.source), str(a.target)) for a in net.arcs),  # type: ignore[attr-defined]
        )

    assert shape(alpha.net) == shape(net)
    assert shape(heuristics.net) == shape(heuristic_net)
    assert sum(mining.variant_log(events).values()) == frame["case:concept:name"].nunique()


def test_an_unsound_model_is_read_with_a_warning(logs, tmp_path) -> None:
    from pm4py.objects.petri_net.obj import PetriNet
    from pm4py.objects.petri_net.utils import petri_utils

    model = _known_model()
    sound = tmp_path / "sound.pnml"
    mining.write_model(model, sound)
    assert mining.read_model(sound).notes == ()
    # A transition from the start into a place nothing leaves: a dead end.
    (start,) = list(model.initial)
    trap = PetriNet.Place("trap")
    detour = PetriNet.Transition("detour", "detour")
    model.net.places.add(trap)
    model.net.transitions.add(detour)
    petri_utils.add_arc_from_to(start, detour, model.net)
    petri_utils.add_arc_from_to(detour, trap, model.net)
    unsound = tmp_path / "unsound.pnml"
    mining.write_model(model, unsound)
    (note,) = mining.read_model(unsound).notes
    assert "unsound.pnml is not a sound workflow net" in note
    result = CliRunner().invoke(
        app, ["--db", str(logs.path), "conformance", "running", "--model", str(unsound)]
    )
    assert result.exit_code == 0, result.output
    assert "warning: unsound.pnml is not a sound workflow net" in result.stderr
