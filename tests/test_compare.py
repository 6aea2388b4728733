"""Comparing two groups of cases: a log against itself changes nothing; two periods give
the directly-follows graphs of the two filtered logs; the CLI prints the promised JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from sample_data.demo import DEMO_LOG
from workbench import EventStore, projections
from workbench.cli import app
from workbench.compare import compare, to_dot
from workbench.filters import Filters, TimeRange

MARCH = datetime(2024, 3, 1, tzinfo=UTC)


def _events(db: Path, filters: Filters | None = None) -> pl.LazyFrame:
    with EventStore(db) as store:
        return (filters or Filters()).apply(store.read(DEMO_LOG).lazy()).collect().lazy()


def test_a_log_against_itself_changes_nothing(demo_db) -> None:
    events = _events(demo_db)
    same = compare(events, events)
    assert same.a == same.b
    assert same.a["cases"] > 1000
    assert (same.edges["a_frequency"] == same.edges["b_frequency"]).all()
    assert same.edges["frequency_change_pct"].to_list() == [0.0] * same.edges.height
    changes = same.edges["wait_change_pct"].drop_nulls()
    assert (changes == 0).all()
    assert same.only_in_a.is_empty()
    assert same.only_in_b.is_empty()
    assert (same.activities["change_s"].drop_nulls() == 0).all()
    assert "(+0%)" in to_dot(same)


def test_two_periods_have_the_maps_of_the_two_filtered_logs(demo_db) -> None:
    first = Filters((TimeRange(None, MARCH),))
    second = Filters((TimeRange(MARCH, None),))
    found = compare(_events(demo_db, first), _events(demo_db, second))
    for side, filters in (("a", first), ("b", second)):
        alone = (
            projections.directly_follows(projections.ordered(_events(demo_db, filters)))
            .select("source", "target", pl.col("frequency").cast(pl.Int64))
            .collect()
        )
        mine = found.edges.filter(pl.col(f"{side}_frequency") > 0).select(
            "source", "target", pl.col(f"{side}_frequency").alias("frequency")
        )
        assert sorted(mine.rows()) == sorted(alone.rows())
        cases = _events(demo_db, filters).select(pl.col("case_id").n_unique()).collect().item()
        assert getattr(found, side)["cases"] == cases
    # Variants only in one group really are absent from the other.
    b_variants = {
        tuple(v) for v in projections.variants(_events(demo_db, second)).collect()["variant"]
    }
    assert all(tuple(v) not in b_variants for v in found.only_in_a["variant"])


def test_compare_prints_the_documented_json(demo_db) -> None:
    result = CliRunner().invoke(
        app,
        [
            "--db", str(demo_db), "compare", DEMO_LOG,
            "--a-to", "2024-03-01", "--b-from", "2024-03-01", "--json",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert set(found) >= {"a", "b", "edges", "only_in_a", "only_in_b"}
    assert {"cases", "median_duration_s", "p90_duration_s", "rework_share", "variants"} <= set(
        found["a"]
    )
    edge = found["edges"][0]
    assert {
        "source", "target", "a_frequency", "b_frequency", "a_median_wait_s", "b_median_wait_s",
    } <= set(edge)  # fmt: skip
    attributes = CliRunner().invoke(
        app,
        [
            "--db", str(demo_db), "compare", DEMO_LOG,
            "--a-attribute", "region=north", "--b-attribute", "region=south",
        ],
    )  # fmt: skip
    assert attributes.exit_code == 0, attributes.output
    assert "A against B" in attributes.output
    missing = CliRunner().invoke(
        app, ["--db", str(demo_db), "compare", DEMO_LOG, "--a-to", "2024-03-01"]
    )
    assert missing.exit_code == 2
    assert "give group B" in missing.output


def test_a_group_without_cases_says_which_value_never_occurs(demo_db) -> None:
    result = CliRunner().invoke(
        app,
        [
            "--db", str(demo_db), "compare", DEMO_LOG, "--json",
            "--a-attribute", "region=north", "--b-attribute", "region=nowhere",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "warning: group B has no cases: region 'nowhere' never occurs" in result.stderr
    found = json.loads(result.stdout)
    assert found["b"]["cases"] == 0
    assert found["notes"] == ["group B has no cases: region 'nowhere' never occurs in the log"]
    fine = CliRunner().invoke(
        app,
        [
            "--db", str(demo_db), "compare", DEMO_LOG, "--json",
            "--a-attribute", "region=north", "--b-attribute", "region=south",
        ],
    )  # fmt: skip
    assert json.loads(fine.stdout)["notes"] == []
