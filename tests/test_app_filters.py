"""Every page honours the sidebar's filters, or says plainly that it shows the whole log:
with a filter set, each page's counts are the filtered counts of the application's verbs."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from sample_data.demo import DEMO_LOG
from tests.test_app import vega_chart
from tests.test_app_links import OCEL, mixed, open_page  # noqa: F401  (fixtures)
from workbench import mining
from workbench.application import Cut, Workbench
from workbench.cli import app as cli
from workbench.filters import Attribute, Filters, TimeRange

NORTH = Filters((Attribute("region", ("north",)),))
QUERY = {"attr": '["region", ["north"]]'}


def _filtered(app: AppTest) -> None:
    assert any(c.value == "Filtered: cases with region in north" for c in app.main.caption)


def _metrics(app: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in app.main.metric}


@pytest.fixture
def bench(mixed):  # type: ignore[no-untyped-def]  # noqa: F811
    with Workbench(mixed) as opened:
        yield opened


def test_the_overview_counts_the_filtered_cases(open_page, bench) -> None:  # noqa: F811
    app = open_page("overview", DEMO_LOG, **QUERY)
    _filtered(app)
    found = bench.summary(DEMO_LOG, filters=NORTH)
    whole = bench.summary(DEMO_LOG)
    assert found.cases < whole.cases
    assert _metrics(app)["Cases"] == f"{found.cases:,}"
    assert _metrics(app)["Events"] == f"{found.events:,}"
    assert _metrics(app)["Variants"] == f"{found.variants:,}"


def test_the_overview_histogram_is_the_json_of_stats(open_page, mixed) -> None:  # noqa: F811
    """The case-duration histogram the Overview draws has the bins `stats --json` prints
    for the same filter: a bar per bin, not a value per case."""
    app = open_page("overview", DEMO_LOG, **QUERY)
    _filtered(app)
    _, bars = vega_chart(app, "Case duration")
    result = CliRunner().invoke(
        cli, ["--db", str(mixed), "stats", DEMO_LOG, "--attribute", "region=north", "--json"]
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    bins = printed["case_duration_histogram"]
    assert sum(row["cases"] for row in bins) == printed["cases"]
    assert bars["cases"].to_list() == [row["cases"] for row in bins]
    assert len(bins) <= 61
    # Each bar spans its bin, in the axis's unit: the bins' edges in a fixed ratio to them.
    seconds = [row["to_seconds"] - row["from_seconds"] for row in bins]
    widths = (bars["to"] - bars["from"]).to_list()
    assert all(w > 0 for w in widths)
    ratios = [w / s for w, s in zip(widths, seconds, strict=True)]
    assert max(ratios) - min(ratios) < 1e-9 * max(ratios)


def test_the_map_variants_and_cases_are_of_the_filtered_cases(open_page, bench) -> None:  # noqa: F811
    pmap = bench.dfg(DEMO_LOG, filters=NORTH)
    app = open_page("process_map", DEMO_LOG, **QUERY)
    _filtered(app)
    shown = next(c.value for c in app.main.caption if "paths shown" in c.value)
    assert f"{pmap.edges.height} paths shown" in shown
    app = open_page("variants", DEMO_LOG, **QUERY)
    _filtered(app)
    assert len(app.main.dataframe[0].value) == bench.variants(DEMO_LOG, filters=NORTH).height
    app = open_page("cases", DEMO_LOG, **QUERY)
    _filtered(app)
    cases = bench.summary(DEMO_LOG, filters=NORTH).cases
    assert any(c.value == f"{cases:,} of {cases:,} cases" for c in app.main.caption)


def test_performance_tables_are_of_the_filtered_cases(open_page, bench) -> None:  # noqa: F811
    from workbench import projections

    app = open_page("performance", DEMO_LOG, **QUERY, view="Activities")  # the tab, by link
    _filtered(app)
    expected = bench.metric(DEMO_LOG, projections.activities, filters=NORTH)
    shown = next(d.value for d in app.main.dataframe if len(d.value) == expected.height)
    counts = {c for c in shown.columns if "events" in c or "count" in c or "cases" in c}
    assert counts, list(shown.columns)
    whole = bench.metric(DEMO_LOG, projections.activities)
    column = next(iter(sorted(counts)))
    assert int(shown[column].sum()) == int(expected[column].sum())
    assert int(shown[column].sum()) < int(whole[column].sum())


def test_compare_compares_within_the_filtered_cases(open_page, bench) -> None:  # noqa: F811
    app = open_page("compare", DEMO_LOG, **QUERY)
    _filtered(app)
    summary = next(s for s in bench.store.logs() if s.log == DEMO_LOG)
    first, last = summary.first_timestamp, summary.last_timestamp
    assert first is not None
    assert last is not None
    middle = first + (last - first) / 2
    start = datetime.combine(middle.date(), datetime.min.time(), UTC)
    end = datetime.combine(last.date(), datetime.min.time(), UTC) + timedelta(days=1)
    b = Filters((*NORTH.items, TimeRange(start, end)))
    found = bench.compare(DEMO_LOG, b, b)
    assert _metrics(app)["Cases (B)"] == f"{found.b['cases']:,}"


def test_time_travel_state_and_restatements_are_of_the_filtered_cases(open_page, bench) -> None:  # noqa: F811
    app = open_page("time_travel", DEMO_LOG, **QUERY)
    _filtered(app)
    summary = next(s for s in bench.store.logs() if s.log == DEMO_LOG)
    first, last = summary.first_timestamp, summary.last_timestamp
    assert first is not None
    assert last is not None
    low, high = first.replace(tzinfo=None), last.replace(tzinfo=None)
    at = (low + (high - low) / 2).replace(tzinfo=UTC)
    now = bench.state(DEMO_LOG, at, Cut(), NORTH)
    assert _metrics(app)["Cases started"] == f"{now.height:,}"
    # What we reported: a month's restatements and how late each activity reports, of the
    # filtered cases (they were of the whole log).
    month = datetime(low.year, low.month, 1, tzinfo=UTC) + timedelta(days=62)
    month = month.replace(day=1)
    app.query_params["view"] = "Reported against true"  # the tab, as its link opens it
    app.run()
    app.selectbox(key="restated").set_value(month).run()
    following = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    history = bench.restatements(DEMO_LOG, NORTH, start=month, end=following)
    whole = bench.restatements(DEMO_LOG, start=month, end=following)
    assert history["cases"].to_list() != whole["cases"].to_list()
    late = bench.lateness(DEMO_LOG, NORTH)
    tables = [d.value for d in app.main.dataframe]
    assert any(
        "cases" in t.columns and t["cases"].tolist() == history["cases"].to_list() for t in tables
    )
    assert any(
        "events" in t.columns and "activity" in t.columns
        and sorted(t["events"].tolist()) == sorted(late["events"].to_list())
        for t in tables
    )  # fmt: skip


@pytest.mark.parametrize(("page", "log"), [("objects", OCEL), ("projections", DEMO_LOG)])
def test_pages_of_the_whole_log_say_so(open_page, page, log) -> None:  # noqa: F811
    app = open_page(page, log, **QUERY)
    assert any(i.value.startswith("Not filtered:") for i in app.main.info)
    quiet = open_page(page, log)
    assert not any(i.value.startswith("Not filtered:") for i in quiet.main.info)


def test_discovery_checks_the_filtered_cases(open_page, bench, mixed) -> None:  # noqa: F811
    app = open_page("mining", DEMO_LOG, **QUERY)
    _filtered(app)
    next(b for b in app.button if b.label == "Run").click().run()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(m.label == "Fitness" for m in app.main.metric):
        time.sleep(0.5)
        app.run()
    assert not app.main.error
    events = bench.events(DEMO_LOG, Cut(), NORTH)
    model = mining.discover(events, noise=0.2)
    expected = mining.token_replay(events, model)
    assert _metrics(app)["Fitness"] == f"{expected.fitness:.3f}"
    checked = _metrics(app)["Variants checked"]
    assert checked.endswith(f"of {expected.variants:,}")
    assert expected.cases.height == pl.DataFrame(events.collect())["case_id"].n_unique()


def test_performance_runs_the_chosen_tab_only(open_page) -> None:  # noqa: F811
    """The Performance page computes the tab in its link (``view``) and no other, keeps it
    when filters are applied, and does not carry it to other pages."""
    app = open_page("performance", DEMO_LOG, **QUERY)
    assert [list(d.value.columns)[:2] for d in app.main.dataframe] == [["kind", "name"]]
    app = open_page("performance", DEMO_LOG, **QUERY, view="Rework")
    tables = [list(d.value.columns) for d in app.main.dataframe]
    assert len(tables) == 1
    assert "repetitions" in tables[0]
    carried = [link.proto.query_string for link in app.sidebar.get("page_link")]
    assert carried
    assert all("log=" in query and "view=" not in query for query in carried)


def test_the_follower_filter_from_the_sidebar_gives_the_clis_figures(open_page, bench) -> None:  # noqa: F811
    """Chosen in the sidebar's form, the four-eyes check reaches the link and the page, and
    the Overview shows the cases `workbench stats --follows ... --json` counts."""
    app = open_page("overview", DEMO_LOG)
    edges = bench.dfg(DEMO_LOG).edges  # the most frequent path: a pair that occurs
    a, b = str(edges["source"][0]), str(edges["target"][0])
    app.sidebar.selectbox(key="follow-a").set_value(a)
    app.sidebar.selectbox(key="follow-b").set_value(b)
    app.sidebar.selectbox(key="follow-people").set_value("by different resources (four eyes)")
    next(button for button in app.sidebar.button if button.label == "Apply").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert "follows" in app.query_params
    result = CliRunner().invoke(
        cli,
        ["--db", os.environ["WORKBENCH_DB"], "stats", DEMO_LOG, "--follows", a, b,
         "--different-attribute", "resource", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    cases = json.loads(result.output)["cases"]
    assert cases > 0
    assert _metrics(app)["Cases"] == f"{cases:,}"
    assert any("different resource" in c.value for c in app.sidebar.caption)
