"""Object-centric maps and objects: per type, the OC-DFG is the directly-follows graph of
the flattened view; it equals pm4py's where both order events the same way; convergence,
divergence and an object's lifecycle follow from the links."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from ingest.jobs import ingest
from tests.conftest import real_log
from workbench import EventStore, mining, objectcentric, projections
from workbench.cli import app

LOGS = {
    "example": ("ocel_ocel20_example.sqlite", "read_ocel2_sqlite"),
    "orders": ("order-management.ocel2.sqlite", "read_ocel2_sqlite"),
    "recruiting": ("recruiting.ocel1.jsonocel", "read_ocel"),
}


@pytest.fixture(scope="module")
def ocel(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("ocel") / "ocel.db"
    with EventStore(db) as store:
        for log, (name, _) in LOGS.items():
            ingest(store, real_log(name), log=log)
    return db


@pytest.mark.parametrize("log", list(LOGS))
def test_each_type_is_the_directly_follows_graph_of_its_view(ocel, log) -> None:
    with EventStore(ocel) as store:
        found = objectcentric.ocdfg(store, log)
        assert found.types == objectcentric.object_types(store, log)
        for object_type in found.types:
            view = projections.ordered(store.scan(f"{log}/{object_type}"))
            expected = (
                projections.directly_follows(view)
                .select(
                    pl.col("source").cast(pl.String),
                    pl.col("target").cast(pl.String),
                    pl.col("frequency").cast(pl.Int64),
                    pl.col("cases").cast(pl.Int64),
                    "median_duration",
                )
                .collect()
            )
            mine = found.edges.filter(pl.col("object_type") == object_type).select(
                "source", "target", "frequency", pl.col("objects").alias("cases"), "median_duration"
            )
            assert sorted(mine.rows()) == sorted(expected.rows()), object_type


@pytest.mark.parametrize("log", list(LOGS))
def test_the_map_equals_pm4pys_where_events_are_ordered_alike(ocel, log) -> None:
    name, reader = LOGS[log]
    pm = mining.pm4py()
    with mining.quiet():
        theirs = pm.discover_ocdfg(getattr(pm, reader)(str(real_log(name))))
    with EventStore(ocel) as store:
        found = objectcentric.ocdfg(store, log)
        # Where an object has two events at one moment, the order of the two is a choice
        # (Workbench: the store's order; pm4py: its own): compare the other types.
        tied = {
            t
            for t in found.types
            if store.scan(f"{log}/{t}")
            .group_by("case_id", "timestamp")
            .len()
            .filter(pl.col("len") > 1)
            .collect()
            .height
        }
    compared = [t for t in found.types if t not in tied]
    assert compared
    edges = theirs["edges"]
    for object_type in compared:
        mine = {
            (r["source"], r["target"]): (r["frequency"], r["event_pairs"], r["objects"])
            for r in found.edges.filter(pl.col("object_type") == object_type).iter_rows(named=True)
        }
        pairs = edges["event_couples"].get(object_type, {})
        expected = {
            edge: (
                len(edges["total_objects"][object_type][edge]),
                len(pairs[edge]),
                len(edges["unique_objects"][object_type][edge]),
            )
            for edge in pairs
        }
        assert mine == expected, object_type


def test_convergence_divergence_and_an_objects_lifecycle(ocel) -> None:
    with EventStore(ocel) as store:
        table = objectcentric.convergence(store, "example")
        links = store.event_objects("example").join(store.objects("example"), on="object_id")
        events = store.read("example").select("event_id", "activity")
        linked = links.join(events, on="event_id")
        for row in table.iter_rows(named=True):
            mine = linked.filter(
                (pl.col("activity") == row["activity"])
                & (pl.col("object_type") == row["object_type"])
            )
            per_event = mine.group_by("event_id").agg(pl.col("object_id").n_unique())
            assert row["events"] == per_event.height
            assert row["converging"] == pytest.approx((per_event["object_id"] > 1).mean())
            per_object = mine.group_by("object_id").agg(pl.col("event_id").n_unique())
            assert row["diverging"] == pytest.approx((per_object["event_id"] > 1).mean())
        # Two employees send a package together; an employee repeats an activity all day.
        many = objectcentric.convergence(store, "orders")
        employees = many.filter(pl.col("object_type") == "employees")
        assert (employees["converging"] > 0).any()
        assert (employees["diverging"] == 1).all()
        one = objectcentric.lifecycle(store, "example", "PO1")
        view = store.scan("example/Purchase Order", case_id="PO1").collect()
        assert (
            one.events["event_id"].to_list()
            == view.sort("timestamp", "position")["event_id"].to_list()
        )
        assert "po_quantity" in one.attributes["name"].to_list()
        assert {"R1", "R2"} <= set(one.related["object_id"].to_list())
        with pytest.raises(objectcentric.UnknownObject, match="no object 'no such object'"):
            objectcentric.lifecycle(store, "example", "no such object")


def test_the_cli_prints_the_map_as_json_and_dot(ocel) -> None:
    result = CliRunner().invoke(app, ["--db", str(ocel), "ocdfg", "example", "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert {"nodes", "edges"} <= set(found)
    assert {"object_type", "source", "target", "frequency", "objects", "median_seconds"} <= set(
        found["edges"][0]
    )
    dot = CliRunner().invoke(
        app, ["--db", str(ocel), "ocdfg", "example", "--types", "Invoice", "--dot"]
    )
    assert dot.exit_code == 0
    assert "Insert Payment" in dot.stdout
    assert "Purchase Requisition" not in dot.stdout.split("__legend")[1]
    refused = CliRunner().invoke(app, ["--db", str(ocel), "ocdfg", "example", "--types", "x"])
    assert refused.exit_code == 2
    assert "not in example" in refused.output
    flat = CliRunner().invoke(app, ["--db", str(ocel), "ocdfg", "example/Invoice"])
    assert flat.exit_code == 2
    assert "not an object-centric log" in flat.output


def test_a_refused_link_is_counted_in_the_summary(tmp_path) -> None:
    import json

    from typer.testing import CliRunner

    from tests.conftest import real_log
    from workbench.cli import app

    data = json.loads(real_log("ocel_ocel20_example.jsonocel").read_text())
    data["events"][0]["relationships"].append({"objectId": "ghost-1", "qualifier": "x"})
    source = tmp_path / "ghost.jsonocel"
    source.write_text(json.dumps(data))
    db = str(tmp_path / "g.db")
    result = CliRunner().invoke(app, ["--db", db, "ingest", str(source), "--log", "g"])
    assert result.exit_code == 0, result.output
    assert "0 rejected, 1 links refused" in result.output
    assert "workbench rejects g" in result.output
    found = CliRunner().invoke(app, ["--db", db, "ingest", str(source), "--log", "h", "--json"])
    assert json.loads(found.stdout)["links_refused"] == 1
