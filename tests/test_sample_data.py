"""The generated order-to-cash log: deterministic, realistic, with explicit cause and effect."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from sample_data.demo import DEMO_FILES, DEMO_LOG, load_demo
from sample_data.generator import frames, write


@pytest.fixture(scope="module")
def log() -> pl.DataFrame:
    return pl.concat(frames(events=20_000, seed=11))


def test_same_seed_same_log_whatever_the_chunk_size(log) -> None:
    chunked = pl.concat(frames(events=20_000, seed=11, chunk_cases=97))
    assert_frame_equal(
        log.sort("event_id"),
        chunked.sort("event_id"),
    )
    other = pl.concat(frames(events=20_000, seed=12))
    assert not other.equals(log)


def test_size_is_close_to_what_was_asked(log) -> None:
    assert 16_000 < log.height < 24_000


def test_causation_ids_point_at_real_events_and_cross_cases(log) -> None:
    causes = log.filter(pl.col("causation_id").is_not_null())
    assert causes["causation_id"].is_in(log["event_id"].implode()).all()
    owner = log.select(
        pl.col("event_id").alias("causation_id"), pl.col("case_id").alias("cause_case")
    )
    joined = causes.join(owner, on="causation_id")
    assert (joined["cause_case"] != joined["case_id"]).any(), "no back order crosses cases"
    roots = log.filter(pl.col("causation_id").is_null())
    assert roots["activity"].unique().to_list() == ["Create Order"]


def test_process_has_parallel_optional_and_rework_behaviour(log) -> None:
    activities = set(log["activity"].unique())
    assert {"Approve Order", "Change Order", "Payment Reminder", "Cancel Order"} <= activities
    per_case = log.group_by("case_id").agg(pl.col("activity"))
    orders = [
        [a for a in acts if a in ("Pick Items", "Prepare Invoice")]
        for acts in per_case.sort("case_id")["activity"].to_list()
    ]
    assert any(o[:1] == ["Prepare Invoice"] for o in orders)
    assert any(o[:1] == ["Pick Items"] for o in orders)
    rework = (
        log.group_by("case_id", "activity")
        .len()
        .filter((pl.col("activity") == "Check Credit") & (pl.col("len") > 1))
    )
    assert rework.height > 0
    assert log.group_by("case_id", "timestamp").len()["len"].max() > 1  # equal timestamps
    assert set(log["lifecycle"].unique()) == {"start", "complete"}


def test_late_events_arrive_after_later_events(log) -> None:
    late = log.filter(pl.col("arrived_at") > pl.col("timestamp"))
    assert 0 < late.height < log.height * 0.05
    position = log.with_row_index("row")
    first_late = position.filter(pl.col("arrived_at") > pl.col("timestamp")).row(0, named=True)
    earlier_rows = position.filter(pl.col("row") < first_late["row"])
    assert (earlier_rows["timestamp"] > first_late["timestamp"]).any()


def test_resources_work_shifts(log) -> None:
    people = log.filter(pl.col("resource") != "ERP")
    assert (people["timestamp"].dt.weekday() != 7).all()  # no Sunday work
    warehouse_night = people.filter(pl.col("resource") == "Lena")["timestamp"].dt.hour()
    assert set(warehouse_night.unique()) <= {22, 23, 0, 1, 2, 3, 4, 5}


def test_streams_to_parquet_and_csv(tmp_path) -> None:
    assert (
        write(tmp_path / "log.parquet", events=3_000)
        == pl.read_parquet(tmp_path / "log.parquet").height
    )
    rows = write(tmp_path / "log.csv", events=3_000)
    assert pl.read_csv(tmp_path / "log.csv").height == rows


def test_demo_loads_then_is_a_no_op(store) -> None:
    first = load_demo(store)
    assert [s.status for s in first] == ["completed", "completed"]
    again = load_demo(store)
    assert [s.status for s in again] == ["unchanged", "unchanged"]
    (summary,) = store.logs()
    assert summary.log == DEMO_LOG
    assert 2_000 < summary.cases < 5_000
    assert all(path.exists() for path in DEMO_FILES)
    # the late file was appended afterwards: the store learned of those events last
    frame = store.read(DEMO_LOG)
    late = frame.filter(pl.col("arrived_at") > pl.col("timestamp"))
    assert (
        late["position"].min()
        > frame.filter(pl.col("arrived_at") == pl.col("timestamp"))["position"].max()
    )
