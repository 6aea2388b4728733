"""Root causes ranked by impact: a planted cause comes first; where nothing was planted,
nothing passes the significance test; every kind of outcome, from the command."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from ingest.jobs import ingest
from workbench import EventStore
from workbench.application import Workbench
from workbench.causes import CausesError, Outcome
from workbench.cli import app

REGIONS = ("north", "south", "east", "west")
RESOURCES = ("ana", "ben", "cas", "dee", "eva", "fay")


def _log(path: Path, *, planted: bool, cases: int = 600, seed: int = 7) -> Path:
    """A generated log: each case in a region, handled by one resource, three steps over
    one to three days; with ``planted``, cas's cases in the north take three times as
    long."""
    chance = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    lines = ["case_id,activity,timestamp,resource,region"]
    for number in range(cases):
        region, resource = chance.choice(REGIONS), chance.choice(RESOURCES)
        begin = start + timedelta(hours=chance.uniform(0, 24 * 180))
        span = timedelta(days=chance.uniform(1, 3))
        if planted and resource == "cas" and region == "north":
            span *= 3
        for step, activity in enumerate(("Open", "Work", "Close")):
            at = begin + span * step / 2
            lines.append(f"C{number:04},{activity},{at.isoformat()},{resource},{region}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _store(tmp_path: Path, *, planted: bool) -> Path:
    db = tmp_path / "causes.db"
    with EventStore(db) as store:
        ingest(store, _log(tmp_path / "log.csv", planted=planted), log="log")
    return db


def test_a_planted_cause_is_ranked_first(tmp_path) -> None:
    db = _store(tmp_path, planted=True)
    with Workbench(db) as bench:
        found = bench.causes("log", "slow")
    first = found.table.row(0, named=True)
    assert first["kind"] == "combination"
    assert set(first["value"].split(" & ")) == {"north", "cas"}
    assert first["significant"]
    assert first["rate"] > 0.9
    assert found.cases == round(found.total * 0.1)


def test_where_nothing_was_planted_nothing_passes(tmp_path) -> None:
    db = _store(tmp_path, planted=False)
    with Workbench(db) as bench:
        for outcome in ("slow", "slow:p75", "slow:2d"):
            found = bench.causes("log", outcome)
            assert found.table.height > 0, outcome  # groups were tried ...
            assert not found.table["significant"].any(), outcome  # ... and none passed


def test_every_outcome_from_the_command(tmp_path) -> None:
    db = _store(tmp_path, planted=True)
    runner = CliRunner()

    def causes(*args: str) -> dict:
        result = runner.invoke(app, ["--db", str(db), "causes", "log", *args, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)  # type: ignore[no-any-return]

    slow = causes("--outcome", "slow:4d")
    assert set(slow) == {"outcome", "cases", "total_cases", "rate", "causes"}
    assert set(slow["causes"][0]) >= {
        "kind", "name", "value", "cases", "rate", "lift", "median_duration_seconds", "p_value"
    }  # fmt: skip
    assert slow["total_cases"] == 600
    by_attribute = causes("--outcome", "attribute:region=north")
    assert all(c["name"] != "region" for c in by_attribute["causes"])  # not explained by itself
    assert by_attribute["cases"] > 0
    rule = causes("--outcome", "violates:chainresponse(Open,Close)")
    assert rule["cases"] == 600  # Work comes between
    refused = runner.invoke(app, ["--db", str(db), "causes", "log", "--outcome", "fast"])
    assert refused.exit_code == 2
    assert refused.output.count("\n") == 1
    missing = runner.invoke(app, ["--db", str(db), "causes", "log", "--outcome", "not-fitting"])
    assert missing.exit_code == 2
    assert "--model" in missing.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("slow", Outcome("slow", "slow", percentile=0.9)),
        ("slow:p75", Outcome("slow", "slow:p75", percentile=0.75)),
        ("slow:7d", Outcome("slow", "slow:7d", longer_than=timedelta(days=7))),
        ("activity:Pay", Outcome("activity", "activity:Pay", activity="Pay")),
        ("attribute:K=v=w", Outcome("attribute", "attribute:K=v=w", attribute=("K", "v=w"))),
        (
            "violates:response(A, B)",
            Outcome("violates", "violates:response(A, B)", rule=("response", ("A", "B"))),
        ),
    ],
)
def test_outcomes_read(text, expected) -> None:
    assert Outcome.parse(text) == expected


@pytest.mark.parametrize("text", ["fast", "slow:soon", "activity:", "violates:response", "x:y"])
def test_an_outcome_that_does_not_read_is_refused(text) -> None:
    with pytest.raises(CausesError, match="--outcome"):
        Outcome.parse(text)


def test_a_groups_cases_for_a_filter(tmp_path) -> None:
    db = _store(tmp_path, planted=True)
    with Workbench(db) as bench:
        found = bench.causes("log", "slow")
        cases = bench.cases("log")
    first = found.table.row(0, named=True)
    picked = found.cases_of(first["kind"], first["name"], first["value"])
    assert len(picked) == first["cases"]
    events = pl.read_csv(tmp_path / "log.csv")
    expected = (
        events.filter((pl.col("resource") == "cas") & (pl.col("region") == "north"))
        .select(pl.col("case_id").cast(pl.String))
        .unique()
        .sort("case_id")["case_id"]
        .to_list()
    )
    assert picked == expected
    assert cases.height == 600


def test_given_cases_are_the_outcome(tmp_path) -> None:
    """The app names the cases (those that do not fit a model it has drawn): ranked as
    the same cases found by an outcome are."""
    db = _store(tmp_path, planted=True)
    with Workbench(db) as bench:
        slow = bench.causes("log", "slow")
        table = bench.cases("log")
        seconds = table["duration"].dt.total_seconds()
        limit = seconds.quantile(0.9, interpolation="linear")
        ids = table.filter(seconds > limit)["case_id"].cast(pl.String).to_list()
        given = bench.causes("log", "the slowest tenth", having=ids)
    assert given.outcome == "the slowest tenth"
    assert given.table.equals(slow.table)
