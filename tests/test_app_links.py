"""A link names the log it shows: one the page cannot show (missing, or an object-centric
log itself) is said so, and no other log's data is shown in its place."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ingest.jobs import ingest
from sample_data.demo import DEMO_LOG, load_demo
from tests.conftest import real_log
from tests.test_app import APP, PAGES, close_app_store, graph, vega_chart
from workbench import EventStore

OCEL = "p2p"
DATA_PAGES = [page for page in PAGES if page not in ("logs", "upload")]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("links") / "links.db"
    with EventStore(db) as store:
        load_demo(store)
        ingest(store, real_log("ocel_ocel20_example.jsonocel"), log=OCEL)
        views = [s.log for s in store.logs() if s.kind == "view"]
    assert views, "the OCEL log has views"
    return db


@pytest.fixture
def open_page(mixed, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WORKBENCH_DB", str(mixed))

    def start(page: str, log: str, **query: str) -> AppTest:
        app = AppTest.from_file(APP, default_timeout=120)
        app.query_params["log"] = log
        for key, value in query.items():
            app.query_params[key] = value
        app.run()
        if page != "logs":
            app.switch_page(f"views/{page}.py").run()
        assert not app.exception, [e.value for e in app.exception]
        return app

    yield start
    close_app_store()


def _shown(app: AppTest) -> list[str]:
    """Every text the page shows outside the sidebar."""
    texts = [t.value for t in app.main.title] + [m.value for m in app.main.markdown]
    texts += [str(m.value) for m in app.main.metric] + [c.value for c in app.main.caption]
    return texts


@pytest.mark.parametrize("page", DATA_PAGES)
def test_a_link_to_a_missing_log_says_so_and_shows_nothing_else(open_page, page) -> None:
    app = open_page(page, "no-such-log")
    assert any("There is no log named" in e.value for e in app.main.error)
    assert not app.main.metric
    assert not app.main.dataframe
    assert not app.get("graphviz_chart")
    assert not app.get("iframe")
    assert not app.main.title
    assert not any(DEMO_LOG in text for text in _shown(app))
    assert app.query_params["log"] == "no-such-log"  # the link is left as it was
    assert app.sidebar.selectbox(key="log").value is None


@pytest.mark.parametrize("page", DATA_PAGES)
def test_a_link_to_an_object_centric_log_offers_its_views(open_page, mixed, page) -> None:
    app = open_page(page, OCEL)
    if page == "objects":  # the page for object-centric logs shows the log itself
        assert app.title[0].value == f"Object-centric · {OCEL}"
        assert graph(app)
        return
    assert any("is an object-centric log" in w.value for w in app.main.warning)
    offered = [b.label for b in app.main.button]
    with EventStore(mixed) as store:
        views = [s.log for s in store.logs() if s.kind == "view"]
    assert offered == views
    assert not app.main.metric
    assert not app.main.dataframe
    assert not app.main.title
    next(b for b in app.main.button if b.label == views[0]).click().run()
    assert app.query_params["log"] == views[0]
    assert app.title, "the chosen view is shown"
    assert views[0] in app.title[0].value


@pytest.mark.parametrize("page", DATA_PAGES)
def test_a_link_to_a_view_shows_that_view(open_page, mixed, page) -> None:
    with EventStore(mixed) as store:
        view = next(s.log for s in store.logs() if s.kind == "view")
    app = open_page(page, view)
    assert not app.main.error
    assert app.title, "the page shows the view"
    assert (OCEL if page == "objects" else view) in app.title[0].value
    assert app.sidebar.selectbox(key="log").value == view


def test_case_ids_are_in_their_natural_order_and_stars_only_inform(tmp_path, monkeypatch) -> None:
    from datetime import datetime, timedelta

    from workbench import Event

    db = tmp_path / "natural.db"
    start = datetime(2024, 1, 1)
    with EventStore(db) as store:
        for case in ("10", "2", "1", "100", "c10", "c9"):
            events = [Event(a, start + timedelta(hours=n)) for n, a in enumerate("abc")]
            store.append("numbers", case, events)
    monkeypatch.setenv("WORKBENCH_DB", str(db))
    app = AppTest.from_file(APP, default_timeout=120)
    app.query_params["log"] = "numbers"
    app.run()
    app.switch_page("views/cases.py").run()
    assert not app.exception
    shown = app.main.dataframe[0].value["case_id"].tolist()
    assert shown == ["1", "2", "10", "100", "c9", "c10"]
    spec, bars = vega_chart(app, "Waiting and service time per event")
    assert "sequential" in spec["title"]  # every event is critical: none is starred
    assert bars["event"].unique(maintain_order=True).to_list() == ["1. a", "2. b", "3. c"]
    close_app_store()
