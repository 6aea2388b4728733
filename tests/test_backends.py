"""Two backends, one answer: the real logs give identical CLI output on SQLite and on
PostgreSQL, and `copy` moves a store between them (and back) without changing an event."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from ingest.jobs import ingest
from sample_data.demo import DEMO_LOG, load_demo
from tests.conftest import fresh_location, real_log
from workbench import EventStore, checkpoints
from workbench.cli import app
from workbench.store.copying import copy_store

LOGS = {
    "running": "running-example.xes",
    "receipt": "receipt.csv",
    "sepsis": "sepsis.xes.gz",
    "bpic": "bpic2012.xes.gz",
}


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The four real logs imported into a SQLite and a PostgreSQL store."""
    folder = tmp_path_factory.mktemp("backends")
    with (
        fresh_location("sqlite", folder) as sqlite,
        fresh_location("postgres", folder) as postgres,
    ):
        for location in (sqlite, postgres):
            with EventStore(location) as store:
                for log, name in LOGS.items():
                    ingest(store, real_log(name), log=log)
        yield {"sqlite": sqlite, "postgres": postgres}


def _cli(location: str, *args: str) -> str:
    result = CliRunner().invoke(app, ["--db", location, *args])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("log", list(LOGS))
def test_stats_dfg_and_state_are_identical_on_both_backends(stores, log) -> None:
    at = {"running": "2011-01-05", "receipt": "2011-06-01", "sepsis": "2014-06-01"}.get(
        log, "2011-12-01"
    )
    for args in (
        ("stats", log, "--json", "--top", "20"),
        ("dfg", log, "--json"),
        ("state", log, "--at", at, "--format", "json"),
        ("stats", log, "--json", "--from", at),
    ):
        sqlite, postgres = (_cli(stores[b], *args) for b in ("sqlite", "postgres"))
        assert json.loads(sqlite) == json.loads(postgres), args


def _snapshot(store: EventStore) -> dict[str, object]:
    """Everything a copy must keep, in comparable form."""
    found: dict[str, object] = {"logs": store.logs()}
    for log in store.log_names():
        found[f"events {log}"] = store.read(log)
        found[f"objects {log}"] = (
            store.objects(log),
            store.object_attributes(log),
            store.event_objects(log),
            store.object_objects(log),
        )
        found[f"rejects {log}"] = store.ledger.rejects(log).drop("job_id")
    found["jobs"] = [
        {k: v for k, v in job.as_dict().items() if k != "job_id"} for job in store.ledger.jobs()
    ]
    found["projections"] = [
        (row.log, row.name, row.at, row.position) for row in store.projections.list()
    ]
    found["queries"] = store.queries.list()
    return found


def _assert_same(one: dict[str, object], other: dict[str, object]) -> None:
    assert one.keys() == other.keys()
    for key, value in one.items():
        theirs = other[key]
        if isinstance(value, pl.DataFrame):
            assert isinstance(theirs, pl.DataFrame)
            assert_frame_equal(value, theirs, check_dtypes=True)
        elif isinstance(value, tuple):
            assert isinstance(theirs, tuple)
            for mine, their in zip(value, theirs, strict=True):
                assert_frame_equal(mine, their)
        else:
            assert value == theirs, key


@pytest.mark.slow
def test_copy_round_trips_sqlite_to_postgres_to_sqlite(tmp_path: Path) -> None:
    first = tmp_path / "first.db"
    with EventStore(first) as store:
        load_demo(store)
        ingest(store, real_log("sepsis.xes.gz"), log="sepsis")
        ingest(store, real_log("ocel_ocel20_example.jsonocel"), log="p2p")
        broken = tmp_path / "broken.csv"
        broken.write_text("case,activity,time\nc1,a,2024-01-01\nc1,b,soon\n")
        ingest(store, broken, log="broken")
        store.drop("broken")  # a gap in the positions
        ingest(store, broken, log="kept")  # a job with a refused row
        checkpoints.refresh(store, DEMO_LOG, "variants")
        checkpoints.define_sql(
            store, "per_activity", "SELECT activity, count(*) FROM events GROUP BY 1"
        )
        original = _snapshot(store)
    with fresh_location("postgres", tmp_path) as server:
        with EventStore(first) as source, EventStore(server) as target:
            report = copy_store(source, target)
            assert report.events_copied == sum(s.events for s in source.logs() if s.kind != "view")
            _assert_same(original, _snapshot(target))
            again = copy_store(source, target)
            assert (again.events_copied, again.jobs) == (0, 0)
            assert again.events_present == report.events_copied
        back = tmp_path / "back.db"
        with EventStore(server) as source, EventStore(back) as target:
            copy_store(source, target)
            _assert_same(original, _snapshot(target))
            # The copy is a store like any other: appends continue after its last position.
            head = max(target.head(log) for log in target.log_names())
            appended = target.import_frame(
                "kept",
                pl.DataFrame(
                    {
                        "case_id": ["c9"],
                        "activity": ["x"],
                        "timestamp": [datetime(2024, 2, 1, tzinfo=UTC)],
                    }
                ),
            )
            assert appended.position == head + 1


def test_copy_refuses_a_target_whose_positions_hold_other_events(tmp_path: Path, events) -> None:
    with EventStore(tmp_path / "a.db") as source, EventStore(tmp_path / "b.db") as target:
        source.append("one", "c1", events)
        target.append("other", "c1", events)
        with pytest.raises(Exception, match="hold other events"):
            copy_store(source, target)
        assert target.log_names() == ["other"]


def test_copy_from_the_command_line(tmp_path: Path) -> None:
    first, second = tmp_path / "a.db", tmp_path / "b.db"
    with EventStore(first) as store:
        load_demo(store)
    out = _cli(str(first), "copy", str(first), str(second))
    assert "Copied" in out
    with EventStore(first) as one, EventStore(second) as other:
        assert_frame_equal(one.read(DEMO_LOG), other.read(DEMO_LOG))


def test_the_app_serves_a_postgresql_store(tmp_path, monkeypatch) -> None:
    from streamlit.testing.v1 import AppTest

    from dashboards import state

    with fresh_location("postgres", tmp_path) as server:
        with EventStore(server) as store:
            load_demo(store)
        monkeypatch.setenv("WORKBENCH_DB", server)
        app_path = str(Path(__file__).resolve().parent.parent / "dashboards" / "app.py")
        app = AppTest.from_file(app_path, default_timeout=120)
        app.run()
        app.switch_page("views/overview.py").run()
        assert not app.exception, [e.value for e in app.exception]
        assert {m.label: m.value for m in app.metric}["Cases"] == "3,688"
        assert "secret" not in state.store_name()
        state.clear()
        state.store().close()
