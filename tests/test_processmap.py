"""Process maps: abstraction that stays readable and connected, DOT that renders."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from ingest.jobs import ingest
from tests.conftest import real_log
from workbench import EventStore
from workbench.cli import app
from workbench.durations import human_duration
from workbench.processmap import process_map, to_dot
from workbench.projections import cases, directly_follows, variants


@pytest.fixture(scope="module")
def sepsis(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("map") / "store.db"
    with EventStore(db) as store:
        ingest(store, real_log("sepsis.xes.gz"), log="sepsis")
    return db


def test_full_detail_is_the_directly_follows_graph(sepsis) -> None:
    with EventStore(sepsis) as store:
        events = store.scan("sepsis")
        pmap = process_map(events)
        assert pmap.nodes.height == events.select(pl.col("activity").n_unique()).collect().item()
        assert pmap.edges.height == directly_follows(events).collect().height


def test_detail_levels_shrink_the_map_and_keep_it_connected(sepsis) -> None:
    with EventStore(sepsis) as store:
        events = store.scan("sepsis")
        assert process_map(events, activities=0).nodes.height == 1
        small = process_map(events, activities=60, paths=30)
        full = process_map(events)
        assert small.nodes.height < full.nodes.height
        assert small.edges.height < full.edges.height
        linked = set(small.edges["source"]) | set(small.edges["target"])
        assert set(small.nodes["activity"]) <= linked


def test_a_map_of_frequencies_is_the_map_without_its_times(sepsis) -> None:
    """Time travel draws its map by frequency and does not compute the times: the same
    nodes, edges, starts and ends and the same drawing, the times null."""
    from polars.testing import assert_frame_equal

    with EventStore(sepsis) as store:
        full = process_map(store.scan("sepsis"), paths=60)
        counted = process_map(store.scan("sepsis"), paths=60, times=False)
    for part in ("nodes", "starts", "ends"):
        assert_frame_equal(getattr(counted, part), getattr(full, part))
    kept = ["source", "target", "frequency", "cases"]
    assert_frame_equal(counted.edges.select(kept), full.edges.select(kept))
    assert counted.edges.schema == full.edges.schema
    times = [name for name in full.edges.columns if name.endswith("_duration")]
    assert counted.edges.select(times).null_count().sum_horizontal().item() == (
        len(times) * counted.edges.height
    )
    assert full.edges.select(times).null_count().sum_horizontal().item() == 0
    assert to_dot(counted) == to_dot(full)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
@pytest.mark.parametrize("measure", ["frequency", "mean", "median", "p90", "total"])
def test_dot_renders(sepsis, measure) -> None:
    with EventStore(sepsis) as store:
        dot = to_dot(process_map(store.scan("sepsis")), measure=measure, title='a "map"')
    svg = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True, check=True)
    assert svg.stdout.count('class="node"') == 16 + 2  # activities, start and end


def test_dot_escapes_names() -> None:
    events = pl.LazyFrame(
        {
            "position": [1, 2],
            "case_id": ["c", "c"],
            "activity": ['say "hi"', "back\\slash"],
            "timestamp": pl.Series([0, 3_600_000_000]).cast(pl.Datetime("us", "UTC")),
        }
    )
    dot = to_dot(process_map(events), measure="mean")
    assert '"say \\"hi\\""' in dot
    assert '"back\\\\slash"' in dot
    assert "1.0 h" in dot
    if shutil.which("dot"):
        subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True, check=True)


def test_human_duration() -> None:
    assert [human_duration(s) for s in (5, 90, 5_400, 172_800, 1_209_600)] == [
        "5 s",
        "1.5 min",
        "1.5 h",
        "2.0 d",
        "2.0 wk",
    ]


def _cli(db: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--db", str(db), *args])
    return result.exit_code, result.stdout, result.stderr


def test_stats_json_agrees_with_the_projections(sepsis) -> None:
    code, out, _ = _cli(sepsis, "stats", "sepsis", "--json")
    assert code == 0
    summary = json.loads(out)
    with EventStore(sepsis) as store:
        table = cases(store.scan("sepsis")).collect()
        kinds = variants(store.scan("sepsis")).collect()
    assert (summary["cases"], summary["events"], summary["variants"]) == (
        1_050,
        15_214,
        kinds.height,
    )
    assert summary["case_duration_seconds"]["median"] == table["duration"].median().total_seconds()
    assert summary["top_variants"][0]["cases"] == kinds["cases"][0]


def test_dfg_json_and_filters(sepsis) -> None:
    code, out, _ = _cli(sepsis, "dfg", "sepsis", "--json", "--attribute", "InfectionSuspected=true")
    assert code == 0
    document = json.loads(out)
    with EventStore(sepsis) as store:
        events = store.scan("sepsis").filter(pl.col("InfectionSuspected").any().over("case_id"))
        expected = directly_follows(events).collect()
    assert len(document["edges"]) == expected.height
    assert sum(edge["frequency"] for edge in document["edges"]) == expected["frequency"].sum()
    assert document["filters"] == ["cases with InfectionSuspected in true"]
    code, out, _ = _cli(sepsis, "dfg", "sepsis", "--dot", "--detail", "50")
    assert code == 0
    assert out.startswith("digraph")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["dfg", "nope"], "no log named 'nope'"),
        (["dfg", "sepsis", "--measure", "fastest"], "--measure 'fastest'"),
        (["dfg", "sepsis", "--detail", "120"], "percentage from 0 to 100"),
        (["stats", "sepsis", "--from", "yesterday"], "--from 'yesterday' is not an ISO 8601"),
        (["stats", "sepsis", "--attribute", "colour=red"], "no attribute 'colour'"),
        (["stats", "sepsis", "--attribute", "novalue"], "write KEY=VALUE"),
    ],
)
def test_bad_flags_fail_clearly(sepsis, args, message) -> None:
    code, _, err = _cli(sepsis, *args)
    assert code == 2
    assert message in err


@pytest.mark.parametrize("seed", range(5))
def test_cases_per_activity_and_per_path_are_distinct_cases(seed) -> None:
    """Counted by runs of one case id in case order, they equal a count of distinct ids,
    with repeats in a case, ties in time, a case of one event, and coded ids or not."""
    import random

    chosen = random.Random(seed)
    rows = [
        (f"c{chosen.randrange(40)}", chosen.choice("abcd"), chosen.randrange(6), position)
        for position in range(400)
    ]
    rows.append(("lonely", "e", 3, 400))
    chosen.shuffle(rows)
    events = pl.DataFrame(
        rows, schema=["case_id", "activity", "day", "position"], orient="row"
    ).with_columns(timestamp=pl.datetime(2024, 1, 1) + pl.duration(days="day"))
    ordered = events.sort("case_id", "timestamp", "position")
    steps = ordered.with_columns(target=pl.col("activity").shift(-1).over("case_id")).drop_nulls(
        "target"
    )
    expected_nodes = dict(events.group_by("activity").agg(pl.col("case_id").n_unique()).rows())
    expected_edges = {
        (s, t): n
        for s, t, n in steps.group_by("activity", "target").agg(pl.col("case_id").n_unique()).rows()
    }
    for frame in (events, events.with_columns(pl.col("case_id", "activity").cast(pl.Categorical))):
        pmap = process_map(frame.lazy())
        assert dict(pmap.nodes.select("activity", "cases").rows()) == expected_nodes
        assert {(s, t): n for s, t, n in pmap.edges.select("source", "target", "cases").rows()} == (
            expected_edges
        )
        found = directly_follows(frame.lazy()).collect()
        assert {(s, t): n for s, t, n in found.select("source", "target", "cases").rows()} == (
            expected_edges
        )
