"""The follower filter (`Follows`) against a brute-force check of every case."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests.conftest import real_log
from tests.test_calendars import brute_force as walk
from workbench.calendars import Calendar
from workbench.cli import app
from workbench.events import WorkbenchError
from workbench.filters import Filters, Follows

START = datetime(2024, 1, 1, tzinfo=UTC)

_event = st.tuples(
    st.integers(0, 5),  # case
    st.sampled_from("abc"),  # activity: few, so that they repeat
    st.integers(0, 6),  # hour: few, so that times tie
    st.sampled_from(["ann", "bo", None]),  # resource
)


def _events(rows: list[tuple[int, str, int, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "case_id": [f"c{case}" for case, *_ in rows],
            "activity": [activity for _, activity, *_ in rows],
            "timestamp": [START + timedelta(hours=hour) for _, _, hour, _ in rows],
            "position": list(range(1, len(rows) + 1)),
            "resource": [resource for *_, resource in rows],
        },
        schema_overrides={"resource": pl.String},
    )


def brute_force(events: pl.DataFrame, rule: Follows) -> set[str]:
    """The cases the rule keeps, by looking at every pair of events of every case."""
    kept = set()
    for (case,), rows in events.group_by("case_id"):
        ordered = rows.sort("timestamp", "position").to_dicts()
        hit = False
        for i, a in enumerate(ordered):
            for j in range(i + 1, len(ordered)):
                b = ordered[j]
                if (a["activity"], b["activity"]) != (rule.source, rule.target):
                    continue
                if rule.directly and j != i + 1:
                    continue
                if rule.within is not None:
                    took = (
                        b["timestamp"] - a["timestamp"]
                        if rule.calendar is None
                        else timedelta(seconds=walk(rule.calendar, a["timestamp"], b["timestamp"]))
                    )
                    if took > rule.within:
                        continue
                if rule.same and not (a[rule.same] is not None and a[rule.same] == b[rule.same]):
                    continue
                if rule.different and not (
                    a[rule.different] is not None
                    and b[rule.different] is not None
                    and a[rule.different] != b[rule.different]
                ):
                    continue
                hit = True
        if hit != rule.exclude:
            kept.add(str(case))
    return kept


_rules = st.builds(
    Follows,
    st.sampled_from("abc"),
    st.sampled_from("abc"),
    directly=st.booleans(),
    within=st.one_of(st.none(), st.integers(0, 4).map(lambda h: timedelta(hours=h))),
    same=st.sampled_from([None, "resource"]),
    different=st.sampled_from([None, "resource"]),
    exclude=st.booleans(),
)


OFFICE = Calendar.parse("office", ["mon-fri 02:00-04:00", "mon-fri 05:00-05:30"])


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(_event, max_size=40), rule=_rules, office=st.booleans())
def test_the_follower_filter_keeps_what_a_brute_force_check_keeps(rows, rule, office) -> None:
    """With a calendar, ``within`` is working time (hours 2-4 and 5-5:30 of each day)."""
    events = _events(rows)
    rule = replace(rule, calendar=OFFICE if office else None)
    found = Filters((rule,)).apply(events.lazy()).collect()
    assert set(found["case_id"].unique().to_list()) == brute_force(events, rule)
    kept = events.filter(pl.col("case_id").is_in(list(brute_force(events, rule))))
    assert found.height == kept.height  # whole cases, every event of them
    again = Filters.from_query(Filters((rule,)).to_query())
    assert again.in_calendar(rule.calendar) == Filters((rule,))  # a link keeps it


def test_the_four_eyes_check_from_the_command_line(tmp_path) -> None:
    db = tmp_path / "s.db"

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(app, ["--db", str(db), *args])
        return result.exit_code, result.output

    assert run("ingest", str(real_log("running-example.csv")), "--log", "run")[0] == 0
    code, output = run(
        "stats", "run", "--follows", "check ticket", "decide",
        "--different-attribute", "resource", "--json",
    )  # fmt: skip
    assert code == 0, output
    found = json.loads(output)
    assert found["filters"] == [
        "cases where check ticket is followed by decide, different resource"
    ]
    code, output = run(
        "stats", "run", "--follows", "check ticket", "decide",
        "--different-attribute", "resource", "--exclude", "--json",
    )  # fmt: skip
    assert json.loads(output)["cases"] + found["cases"] == 6
    hours = ("--hours", "mon-fri 09:00-10:00")
    assert run("calendar", "add", "short", *hours)[0] == 0
    follows = ("--follows", "register request", "decide", "--within", "2d")
    elapsed = json.loads(run("stats", "run", *follows, "--json")[1])
    working = json.loads(run("stats", "run", *follows, "--calendar", "short", "--json")[1])
    # Two working days of this calendar are two of its one-hour openings, days apart: more
    # cases are decided within them than within 48 elapsed hours.
    assert working["cases"] > elapsed["cases"]
    assert working["filters"][0].endswith("of working time (short)")
    code, output = run("stats", "run", "--directly")
    assert code == 2
    assert "--directly goes with --follows A B" in output
    code, output = run("stats", "run", "--follows", "a", "b", "--same-attribute", "nope")
    assert code == 2
    assert "no attribute 'nope'" in output


def test_a_bad_link_is_named() -> None:
    with pytest.raises(WorkbenchError, match="not a follower filter"):
        Filters.from_query("follows=%7Bbroken")


def _pm4py():  # type: ignore[no-untyped-def]
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):  # its banner
        import pm4py
    return pm4py


def _for_pm4py(events: pl.DataFrame, *, resource: bool = False):  # type: ignore[no-untyped-def]
    """The events as pm4py reads them (its column names), in the order they come."""
    columns = [
        pl.col("case_id").alias("case:concept:name"),
        pl.col("activity").alias("concept:name"),
        pl.col("timestamp").alias("time:timestamp"),
    ]
    if resource:
        columns.append(pl.col("resource").alias("org:resource"))
    return events.select(columns).to_pandas()


def _store_events(tmp_path, name: str) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    from ingest.jobs import ingest
    from workbench import EventStore

    with EventStore(tmp_path / "s.db") as store:
        ingest(store, real_log(name), log=name)
        return store.scan(name).sort("case_id", "timestamp", "position").collect()


@pytest.mark.parametrize("name", ["running-example.csv", "receipt.csv"])
def test_eventually_follows_equals_pm4py_for_every_pair_of_activities(tmp_path, name) -> None:
    """pm4py's `filter_eventually_follows_relation`, on the same events in case, time and
    append order, keeps the same cases for every ordered pair, A = B included (its issue
    #342 reported the relation treated as symmetric; this version does not, on these
    logs)."""
    import itertools

    pm4py = _pm4py()
    events = _store_events(tmp_path, name)
    frame = _for_pm4py(events)
    activities = sorted(events["activity"].unique().to_list())
    for a, b in itertools.product(activities, activities):
        ours = Filters((Follows(a, b),)).apply(events.lazy()).collect()["case_id"]
        theirs = pm4py.filter_eventually_follows_relation(frame, [(a, b)])["case:concept:name"]
        assert set(ours.unique().to_list()) == set(theirs.unique()), (a, b)


def test_four_eyes_equals_pm4py_where_it_looks_at_order(tmp_path) -> None:
    """pm4py's `filter_four_eyes_principle` compares each A's resource with the last B's,
    whatever their order: on cases with one A before one B it keeps what we keep; on a case
    where B comes first it keeps the case too, though no B follows an A."""
    pm4py = _pm4py()
    events = _store_events(tmp_path, "running-example.csv")
    a, b = "check ticket", "decide"
    counts = events.group_by("case_id").agg(
        (pl.col("activity") == a).sum().alias("a"), (pl.col("activity") == b).sum().alias("b")
    )
    simple = counts.filter((pl.col("a") == 1) & (pl.col("b") == 1))["case_id"].to_list()
    assert simple, "the running example has cases with one check and one decision"
    chosen = events.filter(pl.col("case_id").is_in(simple))
    ours = Filters((Follows(a, b, different="resource"),)).apply(chosen.lazy()).collect()
    frame = _for_pm4py(chosen, resource=True)
    theirs = pm4py.filter_four_eyes_principle(frame, a, b)["case:concept:name"]
    assert set(ours["case_id"].unique().to_list()) == set(theirs.unique())
    backwards = _events([(0, "b", 0, "ann"), (0, "a", 1, "bo")])  # B first, then A
    frame = _for_pm4py(backwards, resource=True)
    assert len(pm4py.filter_four_eyes_principle(frame, "a", "b")) == 2  # pm4py keeps it
    kept = Filters((Follows("a", "b", different="resource"),)).apply(backwards.lazy())
    assert kept.collect().height == 0  # no b follows an a
