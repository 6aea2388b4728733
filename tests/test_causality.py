"""Cause and effect: timelines, causation chains, inferred links, root causes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from typer.testing import CliRunner

from sample_data import generator
from workbench import causality
from workbench.cli import app

START = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def generated() -> pl.DataFrame:
    return pl.concat(generator.frames(events=4_000, seed=11))


@pytest.fixture
def loaded(store, generated):
    store.import_frame("o2c", generated.drop("arrived_at"))
    return store


def expected_chain(frame: pl.DataFrame, event_id: str) -> tuple[list[str], set[str]]:
    """Causes (root first) and transitive effects, straight from the generator's rows."""
    cause = dict(zip(frame["event_id"], frame["causation_id"], strict=True))
    causes = []
    current = cause[event_id]
    while current is not None:
        causes.append(current)
        current = cause[current]
    effects: set[str] = set()
    frontier = {event_id}
    while frontier:
        frontier = {e for e, c in cause.items() if c in frontier} - effects
        effects |= frontier
    return causes[::-1], effects


def test_trace_returns_the_causes_and_effects_the_generator_wrote(loaded, generated) -> None:
    by_case = dict(zip(generated["event_id"], generated["case_id"], strict=True))
    # Back orders: an event whose cause lies in another case.
    crossing = generated.filter(
        pl.col("causation_id").is_not_null()
        & (pl.col("causation_id").replace_strict(by_case, default=None) != pl.col("case_id"))
    )
    assert crossing.height > 0, "the generator writes back orders across cases"
    chosen = [*crossing["causation_id"].head(3), *generated["event_id"].sample(20, seed=1)]
    events = loaded.scan("o2c")
    for event_id in chosen:
        chain = causality.trace(events, event_id)
        causes, effects = expected_chain(generated, event_id)
        assert chain.causes["event_id"].to_list() == causes
        assert set(chain.effects["event_id"]) == effects
    back_order = causality.trace(events, crossing["causation_id"][0])
    assert back_order.effects["case_id"].n_unique() > 1  # its effects reach another case


def test_trace_as_tree_and_dot(loaded, generated) -> None:
    event_id = generated.filter(pl.col("activity") == "Pick Items")["event_id"][0]
    chain = causality.trace(loaded.scan("o2c"), event_id)
    tree = chain.tree()
    assert "▶ Pick Items" in tree
    assert tree.splitlines()[0].startswith("Create Order")
    dot = chain.to_dot()
    assert dot.startswith("digraph trace {")
    assert dot.count("->") == chain.causes.height + chain.effects.height


def test_an_unknown_event_is_named() -> None:
    events = pl.LazyFrame(
        {
            "event_id": ["a"],
            "case_id": ["c"],
            "activity": ["x"],
            "timestamp": [START],
            "position": [1],
        }
    )
    with pytest.raises(causality.UnknownEvent, match="'zz'"):
        causality.trace(events, "zz")


def test_timeline_waiting_service_and_critical_path() -> None:
    events = pl.LazyFrame(
        {
            "position": [1, 2, 3, 4, 5],
            "case_id": ["c"] * 5,
            "event_id": ["a", "b", "c", "d", "e"],
            "activity": ["order", "pick", "pick", "invoice", "ship"],
            "lifecycle": [None, "start", "complete", None, None],
            "timestamp": [START + timedelta(hours=h) for h in (0, 1, 3, 4, 6)],
            "causation_id": [None, "a", "b", "a", "c"],
        }
    )
    frame = causality.timeline(events, "c")
    assert frame["waiting"].to_list()[1:] == [timedelta(hours=h) for h in (1, 2, 1, 2)]
    assert frame["service"].to_list() == [None, None, timedelta(hours=2), None, None]
    # The invoice ran in parallel: it is not on the chain that ends with shipping.
    assert frame.filter("critical")["event_id"].to_list() == ["a", "b", "c", "e"]
    with pytest.raises(causality.UnknownCase):
        causality.timeline(events, "nope")


def test_links_are_explicit_where_ids_exist_and_inferred_elsewhere() -> None:
    events = pl.LazyFrame(
        {
            "position": [1, 2, 3],
            "case_id": ["c", "c", "c"],
            "event_id": ["a", "b", "c"],
            "activity": ["x", "y", "z"],
            "timestamp": [START + timedelta(hours=h) for h in (0, 1, 2)],
            "causation_id": [None, None, "a"],
        }
    )
    found = causality.links(events).collect().sort("target")
    assert found.select("source", "target", "kind").rows() == [
        ("a", "b", "follows"),
        ("a", "c", "caused"),
    ]


def test_object_links_follow_shared_objects() -> None:
    event_objects = pl.DataFrame({"event_id": ["e1", "e2", "e3"], "object_id": ["i1", "i1", "i2"]})
    events = pl.LazyFrame(
        {
            "event_id": ["e1", "e2", "e3"],
            "position": [1, 2, 3],
            "timestamp": [START, START + timedelta(hours=1), START],
        }
    )
    assert causality.object_links(event_objects, events).rows() == [("e1", "e2", "i1")]


def test_why_ranks_the_factor_that_makes_cases_long() -> None:
    from workbench import causes, projections

    rows = []
    for n in range(40):
        slow = n % 4 == 0
        region = "north" if slow else "south"
        rows.append((f"c{n}", "order", 0, region))
        rows.append((f"c{n}", "ship", 100 if slow else 10, region))
    events = pl.LazyFrame(
        {
            "position": list(range(1, len(rows) + 1)),
            "case_id": [r[0] for r in rows],
            "activity": [r[1] for r in rows],
            "timestamp": [START + timedelta(hours=r[2]) for r in rows],
            "region": [r[3] for r in rows],
        }
    )
    table = projections.cases(events).collect()
    slow = {f"c{n}" for n in range(0, 40, 4)}
    ranked = causes.rank(events, table, slow, "slow:p75").table
    top = ranked.row(0, named=True)
    assert (top["name"], top["value"], top["cases"], top["rate"]) == ("region", "north", 10, 1.0)
    assert top["median_duration_seconds"] == 100 * 3600
    assert top["significant"]


def test_cli_trace_timeline_why_state_diff(tmp_path, generated) -> None:
    from workbench import EventStore

    db = tmp_path / "cli.db"
    with EventStore(db) as store:
        store.import_frame("o2c", generated.drop("arrived_at"))
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, ["--db", str(db), *args])
        assert result.exit_code == 0, result.output
        return result.output

    event_id = generated.filter(pl.col("activity") == "Ship")["event_id"][0]
    assert run("trace", "o2c", event_id, "--dot").startswith("digraph")
    document = json.loads(run("trace", "o2c", event_id, "--json"))
    assert document["event"]["event_id"] == event_id
    case_id = generated["case_id"][0]
    timeline = json.loads(run("timeline", "o2c", case_id, "--json"))
    assert timeline[0]["activity"] == "Create Order"
    assert isinstance(timeline[1]["waiting"], float)
    factors = json.loads(run("why", "o2c", "--json"))
    assert factors["outcome"] == "slow:p75"
    assert {"name", "value", "cases", "lift", "p_value"} <= set(factors["causes"][0])
    at = generated["timestamp"].sort()[generated.height // 2].isoformat()
    state = json.loads(run("state", "o2c", "--at", at, "--format", "json"))
    assert {"case_id", "last_activity", "status", "events", "elapsed", "rework"} <= set(state[0])
    head = str(len(generated) // 2)
    earlier = json.loads(run("state", "o2c", "--at", at, "--known-at", head, "--format", "json"))
    assert sum(r["events"] for r in earlier) < sum(r["events"] for r in state)
    run("state", "o2c", "--at", at, "--format", "parquet", "--output", str(tmp_path / "s.pq"))
    assert pl.read_parquet(tmp_path / "s.pq").height == len(state)
    assert "case_id" in run("state", "o2c", "--at", at, "--format", "csv").splitlines()[0]
    change = json.loads(run("diff", "o2c", "--from", "2024-01-02", "--to", at, "--json"))
    assert change["started"]
    listed = json.loads(run("projections", "--json"))
    assert {row["name"] for row in listed} >= {"directly_follows", "variants", "cases"}
    run("projections", "refresh")
    assert all(row["lag"] == 0 for row in json.loads(run("projections", "--json")))
    run("projections", "add", "regions", "SELECT region, count(*) AS n FROM events GROUP BY 1")
    assert "regions" in run("projections")
    run("projections", "snapshot", "o2c", "--count", "3")
    assert json.loads(run("state", "o2c", "--at", at, "--format", "json")) == state


def test_cli_errors_are_one_line(tmp_path) -> None:
    runner = CliRunner()
    db = str(tmp_path / "e.db")
    result = runner.invoke(app, ["--db", db, "state", "nope", "--at", "2024-01-01"])
    assert result.exit_code == 2
    assert "no log named 'nope'" in result.output
    result = runner.invoke(app, ["--db", db, "state", "nope", "--at", "yesterday"])
    assert result.exit_code == 2
