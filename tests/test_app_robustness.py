"""The app over hostile names and unusual logs (issue 11): data never becomes Markdown, a log
without times says so, start/complete logs can be filtered by lifecycle, case headings read
right, and the log picker follows the address."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboards.markdown import escape
from ingest.jobs import ingest
from ingest.mapping import ColumnMapping
from ingest.options import ParseOptions
from tests.test_app import edges, graph
from workbench import EventStore

APP = str(Path(__file__).resolve().parent.parent / "dashboards" / "app.py")
LINKY = "[x](mailto:a@b.c) *bold* :red[no] $1$"


@pytest.fixture(scope="module")
def odd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("odd")
    db = folder / "odd.db"
    hostile = folder / "hostile.csv"
    hostile.write_text(
        "case,activity,time,note\n"
        "Case 1,Check [manual],2024-01-01T09:00,*a*\n"
        "Case 1,`done`,2024-01-01T10:00,[b](c)\n"
    )
    untimed = folder / "model.csv"
    untimed.write_text("trace,step\nt1,a\nt1,b\nt2,a\nt2,c\n")
    intervals = folder / "intervals.csv"
    rows = ["case,activity,time,lifecycle:transition"]
    for case in range(5):
        for step, name in enumerate(["Register", "Check", "Decide"]):
            for phase, minute in (("start", 0), ("complete", 30)):
                rows.append(
                    f"c{case},{name},2024-01-0{case + 1}T{9 + step:02d}:{minute:02d},{phase}"
                )
    intervals.write_text("\n".join(rows) + "\n")
    with EventStore(db) as store:
        ingest(store, hostile, log=LINKY)
        ingest(
            store,
            untimed,
            log="untimed",
            mapping=ColumnMapping(case_id="trace", activity="step"),
            options=ParseOptions(timed=False),
        )
        ingest(store, intervals, log="intervals")
    return db


@pytest.fixture
def start(odd: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.setenv("WORKBENCH_DB", str(odd))

    def run(page: str, log: str) -> AppTest:
        app = AppTest.from_file(APP, default_timeout=120)
        app.query_params["log"] = log
        app.run()
        app.switch_page(f"views/{page}.py").run()
        assert not app.exception, [e.value for e in app.exception]
        return app

    yield run
    from dashboards import state

    state.clear()
    state.store().close()


@pytest.mark.parametrize("page", ["overview", "process_map", "variants", "cases", "performance"])
def test_a_log_name_full_of_markdown_is_shown_as_it_is_11(start, page) -> None:
    app = start(page, LINKY)
    title = app.title[0].value
    assert escape(LINKY) in title
    assert "[x](mailto" not in title  # the link syntax is escaped, so it cannot render


def test_the_case_heading_does_not_repeat_case_11(start) -> None:
    app = start("cases", LINKY)
    assert app.subheader[0].value == "Case 1"


@pytest.mark.parametrize("page", ["overview", "performance", "time_travel"])
def test_a_log_without_times_says_so_where_times_would_show_11(start, page) -> None:
    app = start(page, "untimed")
    assert any("has no times" in info.value for info in app.info)
    assert not app.error


def test_a_start_complete_log_can_keep_only_complete_events_11(start) -> None:
    app = start("process_map", "intervals")
    assert [edge for edge in edges(graph(app)) if edge[0] == edge[1]]
    picker = next(m for m in app.multiselect if m.label.startswith("Lifecycle"))
    assert set(picker.options) >= {"start", "complete"}
    picker.set_value(["complete"])
    next(b for b in app.button if b.label == "Apply").click().run()
    assert not app.exception
    assert app.query_params["lifecycle"] == "complete"
    # Without start events there is no start-to-complete loop on each activity.
    assert not [edge for edge in edges(graph(app)) if edge[0] == edge[1]]


def test_the_log_picker_follows_the_address_and_changes_it(start) -> None:
    app = start("overview", "untimed")
    assert app.selectbox(key="log").value == "untimed"
    app.selectbox(key="log").set_value("intervals").run()
    assert not app.exception
    assert app.query_params["log"] == "intervals"
    assert "intervals" in app.title[0].value
