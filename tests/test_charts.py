"""The charts the app draws with Vega-Lite: valid specifications that draw what they say."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import jsonschema
import polars as pl
import pytest
from altair.vegalite.v6.schema.core import load_schema

from dashboards import charts

START = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return load_schema()  # type: ignore[no-any-return]


def _rows(spec: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(spec["data"]["values"])


def _flow() -> pl.DataFrame:
    months = [START.replace(month=m) for m in (1, 2, 3)]
    return pl.DataFrame(
        {"period": months, "events": [5, 7, 2], "cases_started": [2, 3, 0]}
    ).with_columns(cases_completed=pl.lit(1), open_cases=pl.lit(4))


def _all(flow: pl.DataFrame) -> list[dict[str, Any]]:
    bins = pl.DataFrame(
        {
            "from": [timedelta(days=d) for d in (0, 3, 6)],
            "to": [timedelta(days=d) for d in (3, 6, 9)],
            "cases": [4, 9, 1],
        }
    )
    waits = pl.DataFrame(
        {"name": ["a → b", "b → c", "c → a"], "mean": [timedelta(hours=h) for h in (5, 1, 9)]}
    )
    line = pl.DataFrame(
        {
            "activity": ["a", "b", "c"],
            "waiting": [None, timedelta(hours=2), timedelta(hours=1)],
            "service": [timedelta(hours=1), None, timedelta(hours=3)],
            "critical": [True, False, True],
        }
    )
    answer = pl.DataFrame(
        {
            "day": [date(2024, 1, d) for d in (1, 2)],
            "at": [START, START + timedelta(days=1)],
            "kind": ["x", "y"],
            "n": [1.5, 2.0],
            "took": [timedelta(hours=1), timedelta(hours=2)],
        }
    )
    return [
        charts.events_over_time(flow, "month"),
        charts.rates(flow, "month"),
        charts.wip(flow, "month"),
        charts.duration_histogram(bins),
        charts.ranked_durations(waits, "name", "mean", "Paths by mean waiting time"),
        charts.ranked_counts(flow.with_columns(name=pl.lit("x")), "name", "events", "Events"),
        charts.wip_by_activity(pl.DataFrame({"last_activity": ["a", "b"], "open": [3, 0]})),
        charts.timeline(line),
        *(
            charts.query_chart(answer, x, "n", kind)
            for x in answer.columns
            for kind in ("line", "bar")
        ),
    ]


def test_every_chart_is_valid_vega_lite(schema: dict[str, Any]) -> None:
    for spec in _all(_flow()):
        jsonschema.validate(spec, schema)
        assert spec["data"]["values"], spec["title"]
    broken = charts.rates(_flow(), "month")
    broken["encoding"]["x"]["type"] = "a kind Vega-Lite does not have"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_each_period_is_a_bar_from_its_start_to_the_next() -> None:
    spec = charts.events_over_time(_flow(), "month")
    rows = _rows(spec)
    assert rows["period"].to_list()[1:] == rows["end"].to_list()[:-1]
    assert rows["end"][-1] == "2024-04-01T00:00:00"  # the last month ends too
    assert spec["encoding"]["y2"] == {"datum": 0}


def test_ranked_bars_are_largest_first_in_the_axis_unit() -> None:
    waits = pl.DataFrame({"name": ["a", "b", "c"], "mean": [timedelta(hours=h) for h in (5, 1, 9)]})
    spec = charts.ranked_durations(waits, "name", "mean", "Mean waiting")
    rows = _rows(spec)
    assert rows["name"].to_list() == ["c", "a", "b"]
    assert rows["mean (hours)"].to_list() == [9.0, 5.0, 1.0]
    assert spec["layer"][0]["encoding"]["y"]["sort"] is None  # as given: largest first


def test_a_query_chart_draws_each_kind_of_column_as_it_can() -> None:
    answer = pl.DataFrame(
        {
            "at": [START, START + timedelta(days=1)],
            "n": [1, 2],
            "kind": ["x", "y"],
            "took": [timedelta(hours=1), timedelta(hours=2)],
            "variant": [["a", "b"], ["a"]],
            "detail": [{"k": 1}, {"k": 2}],
        }
    )
    kinds = {
        x: charts.query_chart(answer, x, "n", "bar")["encoding"]["x"]["type"]
        for x in answer.columns
    }
    assert kinds == {
        "at": "temporal",
        "n": "quantitative",
        "kind": "nominal",
        "took": "nominal",
        "variant": "nominal",
        "detail": "nominal",
    }
    assert _rows(charts.query_chart(answer, "took", "n", "line"))["took"].to_list() == ["1h", "2h"]
    assert _rows(charts.query_chart(answer, "variant", "n", "bar"))["variant"][0] == "a → b"
