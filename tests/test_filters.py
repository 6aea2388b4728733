"""Filters: what they keep, that they compose with projections, and their URL form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from workbench.filters import (
    ActivityCoverage,
    Attribute,
    CaseDuration,
    CaseSize,
    Contains,
    Endpoints,
    Filters,
    Lifecycle,
    TimeRange,
    Variants,
)
from workbench.projections import cases, variants

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def log_of(rows: list[tuple[str, str, int]], **extra: list[object]) -> pl.LazyFrame:
    """Events from (case, activity, hour) rows, in the given order."""
    return pl.LazyFrame(
        {
            "position": list(range(1, len(rows) + 1)),
            "case_id": [r[0] for r in rows],
            "activity": [r[1] for r in rows],
            "timestamp": [T0 + timedelta(hours=r[2]) for r in rows],
            **extra,
        }
    )


EVENTS = log_of(
    [
        ("a", "x", 0),
        ("a", "y", 2),
        ("b", "x", 5),
        ("b", "z", 9),
        ("c", "x", 1),
        ("c", "y", 3),
        ("d", "x", 1),
        ("d", "y", 30),
    ],
    region=["n", "n", "s", "s", "n", "n", "e", "e"],
    lifecycle=["complete"] * 7 + ["start"],
)


def kept(filter_: object) -> list[str]:
    return sorted(filter_.apply(EVENTS).collect()["case_id"].unique())  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("intersecting", ["a", "c", "d"]),  # b runs from 5 h to 9 h
        ("contained", ["a", "c"]),
        ("started", ["a", "c", "d"]),
        ("completed", ["a", "c"]),
    ],
)
def test_time_range_modes(mode, expected) -> None:
    window = TimeRange(T0, T0 + timedelta(hours=4), mode)
    assert kept(window) == expected


def test_time_range_trim_keeps_events_inside() -> None:
    trimmed = TimeRange(T0 + timedelta(hours=1), T0 + timedelta(hours=5), "trim").apply(EVENTS)
    assert trimmed.collect().height == 5


def test_attribute_case_and_event_level() -> None:
    assert kept(Attribute("region", ("s",))) == ["b"]
    assert kept(Attribute("region", ("s", "e"), keep=False)) == ["a", "c"]
    events = Attribute("activity", ("x",), level="event").apply(EVENTS).collect()
    assert set(events["activity"]) == {"x"}


def test_variants_top_and_coverage() -> None:
    assert kept(Variants(top=1)) == ["a", "c", "d"]  # x→y is the most frequent variant
    assert kept(Variants(coverage=50)) == ["a", "c", "d"]
    assert kept(Variants(coverage=100)) == ["a", "b", "c", "d"]
    assert kept(Variants(chosen=(("x", "z"),))) == ["b"]


def test_endpoints_contains_duration_size_lifecycle() -> None:
    assert kept(Endpoints(("z",), at="end")) == ["b"]
    assert kept(Endpoints(("x",))) == ["a", "b", "c", "d"]
    assert kept(Contains(("y",))) == ["a", "c", "d"]
    assert kept(CaseDuration(max=timedelta(hours=3))) == ["a", "c"]
    assert kept(CaseDuration(min=timedelta(hours=4))) == ["b", "d"]
    assert kept(CaseSize(min=2, max=2)) == ["a", "b", "c", "d"]
    assert Lifecycle(("START",)).apply(EVENTS).collect().height == 1


def test_activity_coverage() -> None:
    assert set(ActivityCoverage(100).apply(EVENTS).collect()["activity"]) == {"x", "y", "z"}
    assert set(ActivityCoverage(0).apply(EVENTS).collect()["activity"]) == {"x"}
    assert set(ActivityCoverage(60).apply(EVENTS).collect()["activity"]) == {"x", "y"}


EXAMPLES = [
    TimeRange(T0, T0 + timedelta(days=1), "contained"),
    TimeRange(None, T0, "trim"),
    Attribute("region", ("north", "south")),
    Attribute("amount", ("3",), level="event", keep=False),
    Variants(top=5),
    Variants(coverage=80.5, chosen=(("a", "b"), ("c",))),
    Endpoints(("Create Order",)),
    Endpoints(("Close", "Cancel"), at="end"),
    Contains(("Pay",)),
    CaseDuration(timedelta(hours=1), timedelta(days=3)),
    CaseSize(2, None),
    Lifecycle(("complete",)),
    ActivityCoverage(75),
]


@pytest.mark.parametrize("filter_", EXAMPLES)
def test_each_filter_round_trips_through_a_url_query(filter_) -> None:
    filters = Filters((filter_,))
    assert Filters.from_query(filters.to_query()) == filters
    assert filter_.describe()


def test_several_filters_round_trip_in_order() -> None:
    # one filter of each kind: two variant filters would share their query keys
    filters = Filters((EXAMPLES[0], EXAMPLES[2], EXAMPLES[3], EXAMPLES[4], EXAMPLES[9]))
    assert Filters.from_query("?" + filters.to_query()) == filters


@st.composite
def logs(draw: st.DrawFn) -> pl.LazyFrame:
    size = draw(st.integers(min_value=1, max_value=40))
    return log_of(
        [
            (draw(st.sampled_from("pqrst")), draw(st.sampled_from("abc")), draw(st.integers(0, 99)))
            for _ in range(size)
        ]
    )


CASE_FILTERS = st.sampled_from(
    [
        (CaseSize(min=3), pl.col("events") >= 3),
        (CaseDuration(max=timedelta(hours=20)), pl.col("duration") <= timedelta(hours=20)),
        (Endpoints(("a",)), pl.col("variant").list.first() == "a"),
        (Contains(("b",)), pl.col("variant").list.contains("b")),
    ]
)


@settings(max_examples=80, deadline=None)
@given(log=logs(), pair=CASE_FILTERS)
def test_case_filters_commute_with_the_case_table(log, pair) -> None:
    filter_, condition = pair
    before = cases(filter_.apply(log)).collect().sort("case_id")
    after = cases(log).collect().filter(condition).sort("case_id")
    assert_frame_equal(before, after)


@settings(max_examples=60, deadline=None)
@given(log=logs(), top=st.integers(1, 4))
def test_top_variants_filter_keeps_the_top_of_the_variant_table(log, top) -> None:
    table = variants(log).collect()
    filtered = variants(Variants(top=top).apply(log)).collect()
    assert filtered["cases"].sum() == table.head(top)["cases"].sum()


def test_a_case_list_round_trips_through_a_link_short_by_ids_and_long_by_reference() -> None:
    from workbench.filters import LISTED_CASES, Cases

    events = pl.LazyFrame({"case_id": [f"c{n}" for n in range(200)] * 2, "activity": ["a"] * 400})
    few = Cases.of(["c3", "c1", "c1"], label="chosen")
    assert few.query() == [("cases_label", "chosen"), ("case", "c1"), ("case", "c3")]
    assert Filters.from_query(Filters((few,)).to_query()) == Filters((few,))
    assert few.apply(events).collect()["case_id"].unique().sort().to_list() == ["c1", "c3"]
    many = Cases.of([f"c{n}" for n in range(LISTED_CASES + 10)], label="do not fit")
    query = Filters((many,)).to_query()
    assert "cases_ref" in query
    assert "case=" not in query
    stored = {many.ref: list(many.ids)}
    again = Filters.from_query(query, stored.get)
    assert again == Filters((many,))
    assert again.apply(events).collect().height == 2 * (LISTED_CASES + 10)
    # A link to a list this store does not have keeps no case, and says so.
    unknown = Filters.from_query(query)
    assert unknown.apply(events).collect().is_empty()
    assert "does not have" in unknown.describe()[0]
