"""The app, driven by Streamlit's AppTest from its entry point: every page on the demo log
and on Sepsis, the numbers against the library's, and the main interactions."""

from __future__ import annotations

import base64
import html
import json
import re
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from dashboards.markdown import escape
from ingest.jobs import ingest
from sample_data.demo import DEMO_LOG, load_demo
from tests.conftest import real_log
from workbench import Event, EventStore, mining, projections, timetravel
from workbench.filters import Filters, TimeRange

APP = str(Path(__file__).resolve().parent.parent / "dashboards" / "app.py")
PAGES = {
    "logs": "Event logs",
    "upload": "Upload an event log",
    "overview": "Overview",
    "process_map": "Process map",
    "variants": "Variants",
    "cases": "Cases",
    "performance": "Performance",
    "compare": "Compare",
    "objects": "Object-centric",
    "time_travel": "Time travel",
    "predictions": "Predictions",
    "projections": "Projections",
    "query": "Query",
    "mining": "Discovery and conformance",
}
NODE = re.compile(r'^\s+"(?!__)[^"]+" \[label=', re.MULTILINE)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("app") / "app.db"
    with EventStore(db) as store:
        load_demo(store)
        ingest(store, real_log("sepsis.xes.gz"), log="sepsis")
    return db


@pytest.fixture
def app_on(loaded, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WORKBENCH_DB", str(loaded))

    def start(page: str = "logs", log: str | None = None, **query: str) -> AppTest:
        app = AppTest.from_file(APP, default_timeout=120)
        if log is not None:
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


@pytest.fixture
def empty_app(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    db = tmp_path / "empty.db"
    monkeypatch.setenv("WORKBENCH_DB", str(db))
    app = AppTest.from_file(APP, default_timeout=120)
    app.run()
    yield db, app
    close_app_store()


def close_app_store() -> None:
    from dashboards import state

    state.clear()
    state.store().close()
    state._open.clear()


def scan(db: Path, log: str, filters: Filters | None = None) -> pl.LazyFrame:
    """The log's events, read now and closed (the tests compare the app against them)."""
    with EventStore(db) as store:
        return (filters or Filters()).apply(store.read(log).lazy())


def graph(app: AppTest) -> str:
    """The page's first drawing: the SVG of a graph as wide as the page
    (`dashboards.layout.graph`) or of a drawing at its own size (`dashboards.layout
    .drawing`), or the DOT of a chart the browser lays out (without Graphviz installed)."""
    for element in app.get("html"):
        found = GRAPH.search(element.proto.body)
        if found:
            return base64.b64decode(found.group(1)).decode()
    charts = app.get("graphviz_chart")
    if charts:
        return str(charts[0].proto.spec)
    frames = [frame for frame in app.get("iframe") if "<svg" in frame.proto.srcdoc]
    assert frames, "no graph on the page"
    return str(frames[0].proto.srcdoc)


def vega_chart(app: AppTest, title: str) -> tuple[dict[str, Any], pl.DataFrame]:
    """The page's Vega-Lite chart whose title has ``title``: its specification, and the
    rows it draws (Streamlit sends them apart from the specification, as Arrow)."""
    import pyarrow as pa

    for chart in app.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        if title in str(spec.get("title", "")):
            table = pa.ipc.open_stream(chart.proto.data.data).read_all()
            return spec, pl.DataFrame(pl.from_arrow(table))
    raise AssertionError(f"no chart titled {title!r} on the page")


GRAPH = re.compile(r'class="workbench-graph"[^>]*src="data:image/svg\+xml;base64,([^"]+)"')


def nodes(drawn: str) -> list[str]:
    """The names of a graph's nodes (not its start and end), from its SVG or DOT."""
    if "<svg" in drawn:
        found = re.findall(r'class="node">\s*<title>([^<]*)</title>', drawn)
        return [html.unescape(name) for name in found if not name.startswith("__")]
    return NODE.findall(drawn)


def edges(drawn: str) -> list[tuple[str, str]]:
    """A graph's edges (source, target), from its SVG or DOT."""
    if "<svg" in drawn:
        titles = re.findall(r'class="edge">\s*<title>([^<]*)</title>', drawn)
        pairs = [html.unescape(title).split("->", 1) for title in titles]
    else:
        lines = [line.split("[")[0] for line in drawn.splitlines() if "->" in line]
        pairs = [line.split("->", 1) for line in lines]
    return [(a.strip().strip('"'), b.strip().strip('"')) for a, b in pairs]


def labelled(drawn: str, label: str) -> bool:
    """Whether an edge of a graph (its SVG or DOT) is labelled ``label``."""
    return f"> {label}</text>" in drawn or f'[label=" {label}"' in drawn


def _finished(app: AppTest) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        app.run()
        if any(metric.label == "Fitness" for metric in app.metric):
            return
        time.sleep(0.5)
    raise AssertionError("the conformance job did not finish")


def test_an_empty_store_offers_the_demo_log(empty_app) -> None:
    db, app = empty_app
    assert "has no logs yet" in app.markdown[0].value
    app.button[0].click().run()
    assert not app.exception
    with EventStore(db) as store:
        assert store.log_names() == [DEMO_LOG]


@pytest.mark.parametrize("log", [DEMO_LOG, "sepsis"])
@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_opens_on_each_log(app_on, page, log) -> None:
    app = app_on(page, log)
    assert app.title[0].value.startswith(PAGES[page])
    if page not in ("logs", "upload"):
        assert escape(log) in app.title[0].value
    assert not app.error


@pytest.mark.parametrize("log", [DEMO_LOG, "sepsis"])
def test_overview_kpis_equal_the_projections(app_on, loaded, log) -> None:
    app = app_on("overview", log)
    metrics = {metric.label: metric.value for metric in app.metric}
    events = scan(loaded, log)
    table = projections.cases(events).collect()
    assert metrics["Cases"] == f"{table.height:,}"
    assert metrics["Events"] == f"{events.select(pl.len()).collect().item():,}"
    assert metrics["Variants"] == f"{projections.variants(events).collect().height:,}"
    activities = events.select(pl.col("activity").n_unique()).collect().item()
    assert metrics["Activities"] == f"{activities:,}"


@pytest.mark.parametrize("log", [DEMO_LOG, "sepsis"])
def test_the_full_map_has_a_node_per_activity_and_the_slider_abstracts(app_on, loaded, log) -> None:
    app = app_on("process_map", log)
    activities = scan(loaded, log).select(pl.col("activity").n_unique()).collect().item()
    assert len(nodes(graph(app))) == activities
    app.slider[0].set_value(50).run()
    assert not app.exception
    assert 0 < len(nodes(graph(app))) < activities


def test_choosing_a_variant_filters_the_whole_app(app_on, loaded) -> None:
    app = app_on("variants", DEMO_LOG)
    app.session_state["variants"] = {"selection": {"rows": [1], "columns": []}}
    app.run()
    button = next(b for b in app.button if b.label.startswith("Filter the app"))
    button.click().run()
    assert not app.exception
    assert "variant" in app.query_params
    ranked = projections.variants(scan(loaded, DEMO_LOG)).collect()
    app.switch_page("views/overview.py").run()
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Cases"] == f"{ranked['cases'][1]:,}"
    assert metrics["Variants"] == "1"


def test_a_time_filter_from_the_sidebar_applies_to_every_page(app_on, loaded) -> None:
    app = app_on("overview", DEMO_LOG)
    app.date_input[0].set_value((date(2024, 2, 1), date(2024, 2, 29)))
    next(b for b in app.button if b.label == "Apply").click().run()
    assert not app.exception
    assert app.query_params["from"]
    chosen = TimeRange(datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC))
    expected = projections.cases(scan(loaded, DEMO_LOG, Filters((chosen,)))).collect().height
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Cases"] == f"{expected:,}"
    assert any("2024-02-01" in caption.value for caption in app.caption)
    app.switch_page("views/variants.py").run()  # the filter survives the page switch
    assert app.query_params["from"]


def test_the_time_travel_slider_rebuilds_the_state_at_that_moment(app_on, loaded) -> None:
    app = app_on("time_travel", DEMO_LOG)
    moment = datetime(2024, 2, 15, 12, 0)
    app.slider(key="moment").set_value(moment).run()
    assert not app.exception
    state = timetravel.state_at(scan(loaded, DEMO_LOG), moment.replace(tzinfo=UTC)).collect()
    counts = timetravel.status_counts(state)
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Cases started"] == f"{state.height:,}"
    assert metrics["Open"] == f"{counts['open']:,}"


def test_as_known_before_the_late_events(app_on, loaded) -> None:
    app = app_on("time_travel", DEMO_LOG)
    earlier = next(option for option in app.select_slider[0].options if "after import" in option)
    app.select_slider[0].set_value(earlier).run()
    assert not app.exception
    assert any("Late events" in info.value for info in app.info)


def test_upload_a_small_csv_and_find_it_in_the_log_picker(app_on) -> None:
    app = app_on("upload")
    content = (
        b"case,step,when,who\n"
        b"A,register,2024-05-01 09:00,ann\nA,approve,2024-05-01 10:00,bob\n"
        b"B,register,2024-05-02 09:00,ann\nB,reject,2024-05-02 11:00,bob\n"
        b"C,register,not a time,ann\n"
    )
    app.file_uploader[0].set_value(("tiny.csv", content, "text/csv")).run()
    assert not app.exception
    # "when" holds one bad time, so it is not detected: the page asks for the column, in its
    # own words (no command-line flag, no server path).
    (problem,) = [error.value for error in app.error]
    assert "timestamp" in problem
    assert "--" not in problem
    assert "workbench-uploads" not in problem
    picker = next(s for s in app.selectbox if s.label == "Timestamp")
    assert picker.value is None
    assert "(detect)" not in picker.options
    picker.set_value("when").run()
    assert not app.error
    assert app.dataframe[0].value.shape[0] == 4  # the preview: the bad row is not among them
    app.text_input[0].set_value("tiny-upload").run()
    next(b for b in app.button if b.label == "Import").click().run()
    assert not app.exception
    assert any("4 events added" in s.value and "1 row(s) refused" in s.value for s in app.warning)
    # The sidebar knows the new log at once, without a reload.
    assert app.selectbox(key="log").value == "tiny-upload"
    assert not any("No logs yet" in caption.value for caption in app.caption)
    app.switch_page("views/overview.py").run()  # following the link to explore it
    assert app.selectbox(key="log").value == "tiny-upload"
    assert {m.label: m.value for m in app.metric}["Cases"] == "2"


def test_discovery_and_conformance_run_as_a_background_job(app_on, loaded) -> None:
    app = app_on("mining", DEMO_LOG)
    assert app.title[0].value.startswith("Discovery and conformance")
    next(b for b in app.button if b.label == "Run").click().run()
    assert not app.exception
    _finished(app)
    assert not app.exception
    assert not app.error
    metrics = {metric.label: metric.value for metric in app.metric}
    model = mining.discover(scan(loaded, DEMO_LOG), noise=0.2)
    expected = mining.token_replay(scan(loaded, DEMO_LOG), model)
    assert metrics["Fitness"] == f"{expected.fitness:.3f}"
    assert metrics["Precision"] == f"{expected.precision:.3f}"
    assert "<svg" in graph(app)


def test_the_projections_page_shows_the_read_model_and_brings_it_up_to_date(app_on, loaded) -> None:
    import shutil

    shutil.rmtree(f"{loaded}.segments", ignore_errors=True)  # derived: safe to delete
    app = app_on("projections", DEMO_LOG)
    status = app.dataframe[1].value
    with EventStore(loaded) as store:
        events = store.head(DEMO_LOG)
        # A few events appended elsewhere: too few to be written on a read, so they lag.
        store.append(
            "scratch", "c1", [Event("a", datetime(2024, 1, 1)), Event("b", datetime(2024, 1, 2))]
        )
    # Rebuilt by the pages' first read, never missing from what they show.
    assert (status["lag (events)"].iloc[0], status["position"].iloc[0]) == (0, events)
    app = app_on("projections", "scratch")
    assert app.dataframe[1].value["lag (events)"].iloc[0] == 2
    next(b for b in app.button if b.label == "Bring up to date").click().run()
    assert not app.exception
    status = app.dataframe[1].value
    assert (status["lag (events)"].iloc[0], status["segments"].iloc[0]) == (0, 1)


def test_a_projection_is_shown_when_chosen(app_on, loaded) -> None:
    """The page lists the projections at once and builds one's rows only when chosen."""
    from workbench.application import Workbench

    app = app_on("projections", DEMO_LOG)
    assert len(app.dataframe) == 2  # the projections and the read model, no contents yet
    next(s for s in app.selectbox if s.label == "Show").set_value("variants").run()
    assert not app.exception
    shown = app.dataframe[2].value
    with Workbench(loaded) as bench:
        expected = bench.projection(DEMO_LOG, "variants")
    assert shown["cases"].tolist() == expected["cases"].to_list()
    assert [list(v) for v in shown["variant"]] == expected["variant"].to_list()


def test_declare_rules_on_the_page_equal_the_command_and_filter_the_app(app_on, loaded) -> None:
    """The Rules section shows what `rules discover` and `rules check --json` print for
    the same log, and its button filters every page to a rule's violating cases."""
    import json

    from typer.testing import CliRunner

    from workbench.cli import app as cli

    app = app_on("mining", "sepsis")
    assert not any(s.label == "Minimum support" for s in app.slider)  # not until asked
    app.toggle(key="rules-on").set_value(True).run()
    next(s for s in app.slider if s.label == "Minimum support").set_value(0.5).run()
    next(s for s in app.slider if s.label == "Minimum confidence").set_value(0.8).run()
    assert not app.exception
    path = loaded.parent / "sepsis-rules.json"
    runner = CliRunner()
    found = runner.invoke(cli, ["--db", str(loaded), "rules", "discover", "sepsis",
                                "--min-support", "0.5", "--min-confidence", "0.8",
                                "--output", str(path)])  # fmt: skip
    assert found.exit_code == 0, found.output
    written = json.loads(path.read_text())["rules"]
    checked = runner.invoke(
        cli, ["--db", str(loaded), "rules", "check", "sepsis", "--rules", str(path), "--json"]
    )
    result = json.loads(checked.output)
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Rules"] == f"{len(written):,}"
    keeping = sum(1 for case in result["cases"] if not case["violated"])
    assert metrics["Cases that keep every rule"] == f"{keeping:,} of {len(result['cases']):,}"
    by_rule = {(r["template"], " → ".join(r["activities"])): r["violations"]
               for r in result["rules"]}  # fmt: skip
    table = next(d.value for d in app.dataframe if "violations" in d.value.columns)
    assert {(row.template, row.activities): row.violations for row in table.itertuples()} == by_rule
    chosen = next(s for s in app.selectbox if s.label == "A rule's violating cases").value
    next(b for b in app.button if b.label.startswith("Show only these")
         and b.key == "rules-filter").click().run()  # fmt: skip
    assert not app.exception
    query = {key: app.query_params[key] for key in app.query_params}
    named = f"{chosen['template']}({', '.join(chosen['activities'])})"
    assert query["cases_label"] == f"cases that violate {named}"
    assert len(query.get("case", [])) == chosen["violations"] or "cases_ref" in query


@pytest.mark.parametrize(
    ("kind", "command"),
    [("Temporal profile", "temporal-profile"), ("Log skeleton", "log-skeleton")],
)
def test_a_temporal_profile_and_a_skeleton_on_the_page_equal_the_command(
    app_on, loaded, kind, command
) -> None:
    """The Rules section discovers and checks the other two kinds as `rules discover
    --kind` and `rules check --json` do, and filters the app to a pair's deviating cases."""
    import json

    from typer.testing import CliRunner

    from workbench.cli import app as cli

    app = app_on("mining", "sepsis")
    app.toggle(key="rules-on").set_value(True).run()
    next(s for s in app.selectbox if s.label == "Kind").set_value(kind).run()
    noise = []
    if command == "log-skeleton":  # with none, every case keeps the log's own skeleton
        next(s for s in app.slider if s.label == "Noise").set_value(0.1).run()
        noise = ["--noise", "0.1"]
    assert not app.exception, [e.value for e in app.exception]
    path = loaded.parent / f"sepsis-{command}.json"
    runner = CliRunner()
    found = runner.invoke(cli, ["--db", str(loaded), "rules", "discover", "sepsis",
                                "--kind", command, *noise, "--output", str(path)])  # fmt: skip
    assert found.exit_code == 0, found.output
    checked = runner.invoke(
        cli, ["--db", str(loaded), "rules", "check", "sepsis", "--rules", str(path), "--json"]
    )
    result = json.loads(checked.output)
    by_rule = {(r["template"], " → ".join(r["activities"])): r["violations"]
               for r in result["rules"]}  # fmt: skip
    table = next(d.value for d in app.dataframe if "violations" in d.value.columns)
    assert {(row.template, row.activities): row.violations for row in table.itertuples()} == by_rule
    assert any(by_rule.values())
    metrics = {metric.label: metric.value for metric in app.metric}
    with EventStore(loaded) as store:
        cases = store.read("sepsis")["case_id"].n_unique()
    keeping = cases - sum(1 for case in result["cases"] if case["violated"])
    assert 0 < keeping < cases
    assert metrics["Cases that keep every rule"] == f"{keeping:,} of {cases:,}"
    chosen = next(s for s in app.selectbox if s.label == "A rule's violating cases").value
    next(b for b in app.button if b.label.startswith("Show only these")
         and b.key == "rules-filter").click().run()  # fmt: skip
    assert not app.exception
    named = f"{chosen['template']}({', '.join(chosen['activities'])})"
    assert app.query_params["cases_label"] == f"cases that violate {named}"


def test_deviations_on_the_model_and_a_filter_to_the_cases_that_do_not_fit(app_on, loaded) -> None:
    app = app_on("mining", "sepsis")
    next(r for r in app.radio if r.label == "Conformance").set_value("alignments").run()
    next(b for b in app.button if b.label == "Run").click().run()
    _finished(app)
    assert not app.exception
    drawn = graph(app)
    assert "skipped" in drawn
    assert "not allowed here" in drawn
    # Drawn at its own size (scale 1, in a frame that scrolls), every text at 11 px or more.
    assert "scale(1 1)" in drawn
    sizes = [float(size) for size in re.findall(r'font-size="([\d.]+)"', drawn)]
    assert sizes
    assert min(sizes) * 4 / 3 >= 11
    model = mining.discover(scan(loaded, "sepsis"), noise=0.2)
    expected = mining.alignments(scan(loaded, "sepsis"), model)
    unfit = set(expected.cases.filter(pl.col("fitness") < 1)["case_id"].to_list())
    assert len(unfit) > 50  # long: the link names a stored list
    next(b for b in app.button if b.label.startswith("Show only these")).click().run()
    assert not app.exception
    query = {key: app.query_params[key] for key in app.query_params}
    assert "cases_ref" in query
    assert "case" not in query
    for page in ("overview", "variants"):  # the filter follows every page
        app.switch_page(f"views/{page}.py").run()
        assert not app.exception
    app.switch_page("views/overview.py").run()
    assert {m.label: m.value for m in app.metric}["Cases"] == f"{len(unfit):,}"
    # A shared link: a new session with the same query shows the same cases.
    shared = app_on("overview", **{k: v[0] if isinstance(v, list) else v for k, v in query.items()})
    assert {m.label: m.value for m in shared.metric}["Cases"] == f"{len(unfit):,}"
    assert any("do not fit" in caption.value for caption in shared.caption)


def test_compare_shows_two_groups_as_the_compare_module_does(app_on, loaded) -> None:
    from workbench.compare import compare
    from workbench.filters import Attribute

    app = app_on("compare", DEMO_LOG)
    assert graph(app)
    metrics = {m.label: m.value for m in app.metric}
    assert "Cases (B)" in metrics
    app.radio(key="compare-mode").set_value("attribute").run()
    app.selectbox(key="compare-attribute").set_value("region").run()
    next(m for m in app.multiselect if m.label.startswith("A:")).set_value(["north"]).run()
    chosen = ["south", "east"]
    next(m for m in app.multiselect if m.label.startswith("B:")).set_value(chosen).run()
    assert not app.exception
    metrics = {m.label: m.value for m in app.metric}
    expected = compare(
        scan(loaded, DEMO_LOG, Filters((Attribute("region", ("north",)),))),
        scan(loaded, DEMO_LOG, Filters((Attribute("region", ("south", "east")),))),
    )
    assert metrics["Cases (B)"] == f"{expected.b['cases']:,}"
    assert (
        f"({expected.a['cases']:,})"
        in next(m for m in app.metric if m.label == "Cases (B)").proto.delta
    )


def test_time_travel_restates_a_month_and_overview_marks_provisional_periods(
    app_on, loaded, tmp_path, monkeypatch
) -> None:
    from workbench import restatements as audit

    app = app_on("time_travel", DEMO_LOG, view="Reported against true")
    months = app.selectbox(key="restated")
    months.set_value(next(m for m in months.options if m.startswith("March"))).run()
    assert not app.exception
    with EventStore(loaded) as store:
        expected = audit.restatements(
            store,
            DEMO_LOG,
            start=datetime(2024, 3, 1, tzinfo=UTC),
            end=datetime(2024, 4, 1, tzinfo=UTC),
        )
    shown = next(
        frame.value for frame in app.dataframe if "events_added_late" in frame.value.columns
    )
    assert shown["events"].tolist() == expected["events"].to_list()
    assert shown["events_added_late"].tolist() == expected["events_added_late"].to_list()
    brought = next(
        frame.value
        for frame in app.dataframe
        if any(str(name).startswith("lateness (") for name in frame.value.columns)
    )
    assert len(brought) == expected["events"][-1] - expected["events"][0]
    close_app_store()
    # A stream whose recent days still wait for late events: the Overview says so.
    db = tmp_path / "stream.db"
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with EventStore(db) as store:
        for day in range(40):
            store.append("stream", f"c{day}", [Event("work", start + timedelta(days=day))])
            if day >= 10:
                late = start + timedelta(days=day - 10, hours=1)
                store.append("stream", f"c{day - 10}", [Event("check", late)])
    monkeypatch.setenv("WORKBENCH_DB", str(db))
    overview = AppTest.from_file(APP, default_timeout=120)
    overview.query_params["log"] = "stream"
    overview.run()
    overview.switch_page("views/overview.py").run()
    assert not overview.exception
    assert any("Provisional" in warning.value for warning in overview.warning)


def test_time_travel_animates_the_process_with_ghosts(app_on, loaded) -> None:
    app = app_on("time_travel", DEMO_LOG, view="Watch the process move")
    app.selectbox(key="animation-known").set_value(
        next(o for o in app.selectbox(key="animation-known").options if o.startswith("after"))
    ).run()
    next(b for b in app.button if b.label == "Animate").click().run()
    assert not app.exception
    assert not app.error
    downloads = app.get("download_button")
    assert any("animation" in str(d.proto.label) for d in downloads)


def test_the_object_centric_page_draws_the_map_and_an_objects_lifecycle(
    tmp_path, monkeypatch
) -> None:
    from workbench import objectcentric

    db = tmp_path / "ocel.db"
    with EventStore(db) as store:
        ingest(store, real_log("ocel_ocel20_example.sqlite"), log="procurement")
    monkeypatch.setenv("WORKBENCH_DB", str(db))
    app = AppTest.from_file(APP, default_timeout=120)
    app.query_params["log"] = "procurement"
    app.run()
    app.switch_page("views/objects.py").run()
    assert not app.exception
    drawn = graph(app)
    assert "Insert Payment" in drawn
    assert "Purchase Requisition" in drawn
    app.multiselect(key="object-types").set_value(["Invoice"]).run()
    assert "Purchase Requisition" not in graph(app).split("__legend")[1]
    app.selectbox(key="object-type").set_value("Purchase Order").run()
    app.selectbox(key="object-id").set_value("PO1").run()
    assert not app.exception
    with EventStore(db) as store:
        expected = objectcentric.lifecycle(store, "procurement", "PO1")
    shown = [frame.value for frame in app.dataframe]
    assert any(
        list(frame.get("event_id", [])) == expected.events["event_id"].to_list() for frame in shown
    )
    # A view of the log (one object type) opens on every page, the new ones included.
    for page in ("overview", "time_travel", "compare", "objects", "process_map"):
        view = AppTest.from_file(APP, default_timeout=120)
        view.query_params["log"] = "procurement/Invoice"
        view.run()
        view.switch_page(f"views/{page}.py").run()
        assert not view.exception, page
        assert not view.error, (page, [e.value for e in view.error])
    close_app_store()


def test_live_the_page_follows_new_events(tmp_path, monkeypatch) -> None:
    db = tmp_path / "live.db"
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with EventStore(db) as store:
        store.append("live", "c1", [Event("a", start), Event("b", start + timedelta(hours=1))])
    monkeypatch.setenv("WORKBENCH_DB", str(db))
    app = AppTest.from_file(APP, default_timeout=120)
    app.query_params["log"] = "live"
    app.run()
    app.switch_page("views/overview.py").run()
    assert {m.label: m.value for m in app.metric}["Cases"] == "1"
    app.toggle(key="live").set_value(True).run()
    assert not app.exception
    assert any(c.value.startswith("Live · head 2") for c in app.sidebar.caption)
    with EventStore(db) as store:
        store.append("live", "c2", [Event("a", start + timedelta(hours=2))])
    app.run()  # the live check sees the head move and runs the page again
    app.run()
    assert not app.exception
    assert {m.label: m.value for m in app.metric}["Cases"] == "2"
    assert any("head 3" in c.value for c in app.sidebar.caption)
    close_app_store()


def test_why_beside_the_slow_cases_equals_the_command_and_filters(app_on, loaded) -> None:
    """The Overview's "Why?" ranks what `workbench causes --outcome slow` ranks, and its
    button filters every page to the group's cases."""
    import json

    from typer.testing import CliRunner

    from workbench.cli import app as cli

    app = app_on("overview", "sepsis")
    next(t for t in app.toggle if t.label == "Rank the groups of cases").set_value(True).run()
    assert not app.exception
    result = CliRunner().invoke(
        cli, ["--db", str(loaded), "causes", "sepsis", "--outcome", "slow", "--json"]
    )
    expected = [c for c in json.loads(result.output)["causes"] if c["significant"]][:10]
    table = next(d.value for d in app.dataframe if "p" in d.value.columns)
    assert table["value"].tolist() == [c["value"] for c in expected]
    assert table["cases"].tolist() == [c["cases"] for c in expected]
    next(b for b in app.button if b.key == "why-filter-slow").click().run()
    assert not app.exception
    query = {key: app.query_params[key] for key in app.query_params}
    assert query["cases_label"] == f"{expected[0]['name']} = {expected[0]['value']}"
