"""The app, driven by Streamlit's AppTest from its entry point."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ingest.jobs import ingest
from tests.conftest import real_log
from workbench import EventStore

APP = str(Path(__file__).resolve().parent.parent / "dashboards" / "app.py")


@pytest.fixture
def app_on(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    db = tmp_path / "app.db"
    monkeypatch.setenv("WORKBENCH_DB", str(db))

    def start() -> AppTest:
        app = AppTest.from_file(APP, default_timeout=60)
        app.run()
        assert not app.exception, app.exception
        return app

    yield db, start
    from dashboards import state

    if db.exists():
        state.store().close()
    state._open.clear()


def test_an_empty_store_offers_the_demo_log(app_on) -> None:
    db, start = app_on
    app = start()
    assert "has no logs yet" in app.markdown[0].value
    app.button[0].click().run()
    assert not app.exception
    with EventStore(db) as store:
        assert store.log_names() == ["order-to-cash"]
    assert app.metric[1].value == f"{store_events(db):,}"


def test_the_logs_page_lists_each_log_with_its_counts(app_on) -> None:
    db, start = app_on
    with EventStore(db) as store:
        ingest(store, real_log("running-example.csv"))
    app = start()
    assert app.title[0].value == "Event logs"
    table = app.dataframe[0].value
    assert table["log"].tolist() == ["running-example"]
    assert table["cases"].tolist() == [6]
    assert table["events"].tolist() == [42]


def store_events(db: Path) -> int:
    with EventStore(db) as store:
        return sum(summary.events for summary in store.logs())
