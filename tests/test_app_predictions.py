"""Predictions in the app: the Predictions page equals `workbench predict --json` for the
same moment and cut, its backtest equals `predict backtest --json`, and Cases and Time
travel show every open case's predictions beside it."""

from __future__ import annotations

import json
import shlex
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from dashboards import charts
from sample_data.demo import DEMO_LOG, load_demo
from tests.test_app import APP, close_app_store
from tests.test_predictions import START, generated
from workbench import EventStore
from workbench.application import Cut, Workbench
from workbench.cli import app as cli
from workbench.durations import human_duration


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, Path]:
    """The demo log (imported in parts: as known after an earlier import), and a log as it
    stands on day 50 of 60, with cases open."""
    folder = tmp_path_factory.mktemp("predicting")
    demo, midstream = folder / "demo.db", folder / "midstream.db"
    with EventStore(demo) as store:
        load_demo(store)
    history = generated(300, planted=True, days=60)
    with EventStore(midstream) as store:
        store.import_frame("log", history.filter(pl.col("timestamp") <= START + timedelta(50)))
    return {"demo": demo, "midstream": midstream}


@pytest.fixture
def open_page(monkeypatch):  # type: ignore[no-untyped-def]
    def start(db: Path, page: str, log: str, **query: str) -> AppTest:
        monkeypatch.setenv("WORKBENCH_DB", str(db))
        app = AppTest.from_file(APP, default_timeout=300)
        app.query_params["log"] = log
        for key, value in query.items():
            app.query_params[key] = value
        app.run()
        app.switch_page(f"views/{page}.py").run()
        assert not app.exception, [e.value for e in app.exception]
        return app

    yield start
    close_app_store()


def command(app: AppTest, db: Path) -> dict:
    """The command the page says gives the same, run, its JSON."""
    said = app.code[-1].value
    assert said.startswith("workbench ")
    result = CliRunner().invoke(cli, ["--db", str(db), *shlex.split(said)[1:]])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def shown(app: AppTest) -> pl.DataFrame:
    return pl.from_pandas(app.dataframe[0].value)


def test_the_page_predicts_as_the_command_as_known_after_an_earlier_import(open_page, stores):
    app = open_page(stores["demo"], "predictions", DEMO_LOG)
    assert not app.metric  # nothing trained until asked
    assert not app.code
    app.toggle(key="predict-open").set_value(True)
    earlier = next(o for o in app.select_slider(key="predict-known").options if "after import" in o)
    app.select_slider(key="predict-known").set_value(earlier)
    with EventStore(stores["demo"]) as store:
        last = store.summary(DEMO_LOG).last_timestamp
    assert last is not None
    latest = last.replace(tzinfo=None)
    app.slider(key="predict-moment").set_value(latest).run()
    assert not app.exception, [e.value for e in app.exception]
    then = command(app, stores["demo"])  # at the latest event, as known after that import
    with Workbench(stores["demo"]) as bench:
        now = bench.predict(DEMO_LOG, at=latest.replace(tzinfo=UTC))
    assert then["trained_on"] != now.trained_on  # the late events complete other cases
    assert {m.label: m.value for m in app.metric}["Trained on (complete cases)"] == (
        f"{then['trained_on']:,}"
    )
    app.slider(key="predict-moment").set_value(datetime(2024, 3, 1, 12)).run()
    assert not app.exception, [e.value for e in app.exception]
    found = command(app, stores["demo"])
    assert "--known-at" in app.code[-1].value
    cases = pl.DataFrame(found["cases"]).sort(
        "remaining_seconds", "case_id", descending=[True, False]
    )
    assert cases.height > 20
    assert shown(app).equals(charts.predicted(cases))
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Open cases"] == f"{cases.height:,}"
    assert metrics["Trained on (complete cases)"] == f"{found['trained_on']:,}"
    median = cases["remaining_seconds"].median()
    assert metrics["Median remaining"] == human_duration(float(median))  # type: ignore[arg-type]


def test_the_backtest_on_the_page_equals_the_command(open_page, stores):
    app = open_page(stores["midstream"], "predictions", "log", view="Backtest")
    app.selectbox(key="backtest-every").set_value("week")
    app.text_input(key="backtest-outcome").set_value("slow:6d").run()
    assert any("takes a minute" in info.value for info in app.info)
    next(b for b in app.button if b.label == "Run the backtest").click().run()
    assert not app.exception, [e.value for e in app.exception]
    found = command(app, stores["midstream"])
    overall = found["overall"]
    metrics = {m.label: m for m in app.metric}
    assert metrics["Remaining time: MAE"].value == human_duration(overall["mae_seconds"])
    assert metrics["10-90 % interval holds"].value == f"{overall['interval_coverage']:.0%}"
    assert metrics["Next activity right"].value == f"{overall['next_activity_accuracy']:.0%}"
    assert metrics["Outcome: AUC"].value == f"{overall['outcome_auc']:.2f}"
    assert overall["mae_seconds"] < overall["baseline_mae_seconds"]  # the planted delay
    assert len(app.get("plotly_chart")) == 4
    cuts = shown(app)
    assert cuts.height == len(found["cuts"]) >= 4
    assert cuts["open"].to_list() == [c["open"] for c in found["cuts"]]


def test_the_backtest_on_the_page_in_working_time(open_page, stores, tmp_path):
    db = tmp_path / "office.db"
    db.write_bytes(stores["midstream"].read_bytes())
    said = CliRunner().invoke(
        cli, ["--db", str(db), "calendar", "add", "office", "--hours", "mon-fri 09:00-17:00"]
    )
    assert said.exit_code == 0, said.output
    app = open_page(db, "predictions", "log", view="Backtest", calendar="office")
    app.selectbox(key="backtest-every").set_value("week")
    next(b for b in app.button if b.label == "Run the backtest").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert "--calendar office" in app.code[-1].value
    overall = command(app, db)["overall"]
    working = next(c.value for c in app.caption if "working time of the" in c.value)
    assert f"MAE {human_duration(overall['mae_business_seconds'])}" in working
    assert overall["mae_business_seconds"] < overall["mae_seconds"]


def test_cases_and_time_travel_show_the_predictions_beside_the_open_cases(open_page, stores):
    db = stores["midstream"]
    app = open_page(db, "cases", "log")
    app.toggle(key="predict").set_value(True).run()
    assert not app.exception, [e.value for e in app.exception]
    table = shown(app)
    with Workbench(db) as bench:
        ahead = bench.predicted("log")
    predicted = table.filter(pl.col("next activity").is_not_null())
    assert predicted.height == ahead.height > 10
    expected = charts.predicted(ahead.sort("remaining_seconds", descending=True))
    assert predicted["case_id"].to_list() == expected["case_id"].to_list()  # open first
    for column in ("remaining (days)", "remaining, 90 % (days)", "next activity", "outcome"):
        assert predicted[column].to_list() == expected[column].to_list(), column
    assert table.height == 300 - (300 - table.height)  # every case, closed ones too
    assert table.filter(pl.col("next activity").is_null()).height == table.height - ahead.height

    travel = open_page(db, "time_travel", "log")
    travel.toggle(key="travel-predict").set_value(True).run()
    assert not travel.exception, [e.value for e in travel.exception]
    moment = travel.slider(key="moment").value.replace(tzinfo=UTC)
    with Workbench(db) as bench:
        then = bench.predicted("log", Cut(), at=moment)
    states = shown(travel).filter(pl.col("next activity").is_not_null())
    assert states.height == then.height > 10
    assert sorted(states["case_id"]) == sorted(then["case_id"])
