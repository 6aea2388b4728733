"""The read model: segments are derived from the store and never the truth.

A read through the segments equals a scan of the store, in case order, after any sequence
of appends, imports (late events, ties, new and widened attributes), rebuilds, deleted and
truncated segment files and a log dropped and made again; with and without cuts by valid
and transaction time, filters and column selection. Every projection computed from the
segments equals the same projection computed from the store's events on the real logs."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from ingest.jobs import ingest
from tests.conftest import fresh_location, real_log
from workbench import Event, EventStore, causality, projections, timetravel
from workbench.filters import Contains, Filters, TimeRange
from workbench.processmap import process_map
from workbench.readmodel import ORDER, ReadModel, decoded

DEMO = Path(__file__).resolve().parent.parent / "sample_data"

START = datetime(2024, 1, 1, tzinfo=UTC)
ACTIVITIES = ("a", "b", "c", "d")


def store_order(store: EventStore, log: str, **cuts: object) -> pl.DataFrame:
    """What the read model must give: the store's scan, in case order."""
    return store.scan(log, **cuts).sort(ORDER).collect()  # type: ignore[arg-type]


def check_reads(model: ReadModel, log: str) -> None:
    """Every kind of read through the segments equals the store's."""
    store = model.store
    everything = store_order(store, log)
    assert_frame_equal(model.read(log), everything)
    if everything.is_empty():
        return
    times = everything["timestamp"].sort()
    middle_time = times[times.len() // 2]
    positions = everything["position"].sort()
    middle_position = int(positions[positions.len() // 2])
    recorded = everything["recorded_at"].sort()[everything.height // 2]
    cuts: list[dict[str, object]] = [
        {"as_of": middle_time},
        {"known_at": middle_position},
        {"known_at": recorded},
        {"as_of": middle_time, "known_at": middle_position},
        {"known_at": 0},
    ]
    for cut in cuts:
        assert_frame_equal(model.read(log, **cut), store_order(store, log, **cut))  # type: ignore[arg-type]
    for cut in [{}, *cuts]:
        check_case_rows(model, log, cut)
    chosen = Filters((Contains(("b",)), TimeRange(START, middle_time)))
    assert_frame_equal(
        model.read(log, then=chosen.apply),
        chosen.apply(everything.lazy()).collect(),
    )
    columns = ["case_id", "activity", "position"]
    assert_frame_equal(
        model.read(log, known_at=middle_position, then=lambda e: e.select(columns)),
        store_order(store, log, known_at=middle_position).select(columns),
    )
    coded = model.read(log, coded=True)
    assert coded.schema["case_id"] == pl.Categorical
    assert_frame_equal(decoded(coded), everything)


def check_whole_cases(model: ReadModel, log: str) -> None:
    """Each row group of a segment holds whole cases, and the row groups' case-id
    statistics do not overlap: a case is in one row group, and a filter on it reads that
    one."""
    for segment in model.segments(log):
        file = pq.ParquetFile(segment.path)
        column = file.schema_arrow.get_field_index("case_id")
        bounds = []
        for index in range(file.num_row_groups):
            statistics = file.metadata.row_group(index).column(column).statistics
            cases = pl.from_arrow(file.read_row_group(index, columns=["case_id"]))
            assert isinstance(cases, pl.DataFrame)
            ids = cases["case_id"].cast(pl.String)
            assert (statistics.min, statistics.max) == (ids.min(), ids.max())
            bounds.append((statistics.min, statistics.max))
        for (_, before), (after, _) in itertools.pairwise(bounds):
            assert before < after, (segment.path.name, bounds)


def check_case_rows(model: ReadModel, log: str, cut: dict[str, object]) -> None:
    """The read model's case rows and folded case states after a cut equal those of the
    store's events after it."""
    events = store_order(model.store, log, **cut).lazy()
    wanted = projections.case_rows(events, presorted=True).collect()
    found = model.case_rows(log, **cut)  # type: ignore[arg-type]
    assert found.schema["case_id"] == pl.Categorical
    assert_frame_equal(decoded(found), wanted)
    folded = timetravel.fold(events, presorted=True).sort("case_id").collect()
    assert_frame_equal(decoded(model.folded(log, **cut)), folded)  # type: ignore[arg-type]


def segment_files(model: ReadModel) -> list[Path]:
    assert model.folder is not None
    return sorted(model.folder.glob("*/segment-*.parquet"))


# One step of a random history: (kind, a number to vary it by).
STEPS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "append",
                "append",
                "late",
                "import",
                "import",
                "import attribute",
                "import text attribute",
                "refresh",
                "delete segment",
                "truncate segment",
                "delete folder",
                "delete case rows",
                "truncate case rows",
                "other writer",
                "recreate",
            ]
        ),
        st.integers(min_value=0, max_value=40),
    ),
    min_size=1,
    max_size=12,
)


def _frame(count: int, seed: int, hours: int = 0) -> pl.DataFrame:
    """``count`` events of a few cases, with ties (equal times in a case)."""
    return pl.DataFrame(
        {
            "case_id": [f"case {(seed + i) % 7}" for i in range(count)],
            "activity": [ACTIVITIES[(seed * 3 + i) % 4] for i in range(count)],
            "timestamp": [START + timedelta(hours=hours + (i // 2)) for i in range(count)],
        }
    )


def _apply(step: str, number: int, model: ReadModel, location: str, round_: int) -> None:
    store, log = model.store, "log"
    seed = number + 100 * round_
    if step == "append":
        events = [
            Event(ACTIVITIES[(number + i) % 4], START + timedelta(hours=number + i // 2))
            for i in range(1 + number % 3)
        ]
        store.append(log, f"case {number % 7}", events)
    elif step == "late":  # events that happened before what the store has
        store.append(log, f"case {number % 5}", [Event("a", START - timedelta(days=number + 1))])
    elif step == "import":
        store.import_frame(log, _frame(5 + number, seed, hours=number))
    elif step == "import attribute":
        store.import_frame(log, _frame(5 + number, seed).with_columns(amount=pl.lit(number)))
    elif step == "import text attribute":  # widens `amount` from integers to text
        store.import_frame(log, _frame(6, seed).with_columns(amount=pl.lit(f"n{number}")))
    elif step == "refresh" and store.has_log(log):
        model.refresh(log)
    elif step == "delete segment" and segment_files(model):
        files = segment_files(model)
        files[number % len(files)].unlink()
    elif step == "truncate segment" and segment_files(model):
        files = segment_files(model)
        chosen = files[number % len(files)]
        chosen.write_bytes(chosen.read_bytes()[: chosen.stat().st_size // 2])
    elif step in ("delete case rows", "truncate case rows") and model.folder is not None:
        for path in [*model.folder.glob("*/cases-*"), *model.folder.glob("*/folded-*")]:
            if step == "delete case rows":
                path.unlink()
            else:
                path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    elif step == "delete folder" and model.folder is not None:
        shutil.rmtree(model.folder, ignore_errors=True)
    elif step == "other writer":  # another process, without a read model
        with EventStore(location) as other:
            other.import_frame(log, _frame(4 + number, seed + 1, hours=number))
    elif step == "recreate" and store.has_log(log):  # the same name, another log
        store.drop(log)
        model.drop(log)
        store.import_frame(log, _frame(3 + number, seed + 2))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=STEPS)
def test_a_read_through_the_segments_equals_a_scan_of_the_store(tmp_path, steps) -> None:
    folder = tmp_path / f"run-{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    location = str(folder / "store.db")
    with EventStore(location) as store:
        # Tiny thresholds, so that small histories make, merge and catch up segments.
        model = ReadModel(store, min_tail=3, min_batch=4, chunk=5, fan_in=2)
        for round_, (step, number) in enumerate(steps):
            _apply(step, number, model, location, round_)
            model.flush()
            if store.has_log("log"):
                check_reads(model, "log")
                check_whole_cases(model, "log")
        if store.has_log("log"):
            model.refresh("log")
            status = model.status("log")
            assert status.lag == 0
            assert status.segments == 1
            check_reads(model, "log")
            check_whole_cases(model, "log")


def test_segments_on_postgres_follow_the_same_rules(tmp_path, monkeypatch) -> None:
    pytest.importorskip("psycopg")
    with fresh_location("postgres", tmp_path) as location, EventStore(location) as store:
        monkeypatch.setenv("WORKBENCH_SEGMENTS", str(tmp_path / "segments"))
        model = ReadModel(store, min_tail=3, min_batch=4, chunk=5, fan_in=2)
        assert model.folder is not None
        assert model.folder.parent == tmp_path / "segments"
        store.import_frame("log", _frame(30, 1))
        store.append("log", "case 1", [Event("a", START - timedelta(days=3))])
        model.flush()
        check_reads(model, "log")
        assert model.refresh("log").lag == 0
        check_reads(model, "log")


def test_without_a_folder_reads_go_to_the_store(tmp_path, monkeypatch) -> None:
    with EventStore(tmp_path / "s.db") as store:
        model = ReadModel(store)
        model.folder = None
        store.import_frame("log", _frame(30, 1))
        check_reads(model, "log")
        status = model.status("log")
        assert status.segments == 0
        assert status.lag == 30


def test_an_import_writes_segments_as_batches_commit(tmp_path) -> None:
    from ingest.options import ParseOptions, Tuning
    from sample_data.generator import write

    csv = tmp_path / "orders.csv"
    write(csv, events=9_000, seed=3)
    with EventStore(tmp_path / "s.db") as store:
        model = ReadModel(store)
        summary = ingest(
            store, csv, log="orders", options=ParseOptions(tuning=Tuning(batch_rows=2_000))
        )
        model.flush()
        status = model.status("orders")
        # Every batch became a segment without a read of the store.
        assert status.lag == 0
        assert status.segments == status.covered // 2_000 + 1 > 1
        assert_frame_equal(model.read("orders"), store_order(store, "orders"))
        merged = model.refresh("orders")
        assert merged.segments == 1
        assert merged.covered == summary.events_added
        check_reads(model, "orders")


def test_the_files_written_keep_case_ids_as_text(tmp_path) -> None:
    """The process that writes segments (an import's) does not code case ids: the mapping
    of coded values is never let go, and a hundred million events have ten million ids.
    Segments of batches, merged ones and their per-case rows keep them as text; reads give
    them coded as before."""
    from ingest.options import ParseOptions, Tuning
    from sample_data.generator import write

    csv = tmp_path / "orders.csv"
    write(csv, events=5_000, seed=3)
    with EventStore(tmp_path / "s.db") as store:
        model = ReadModel(store)
        ingest(store, csv, log="orders", options=ParseOptions(tuning=Tuning(batch_rows=2_000)))
        model.flush()
        folder = next((tmp_path / "s.db.segments").iterdir())
        batches = sorted(folder.glob("segment-*.parquet"))
        assert len(batches) > 1
        assert model.refresh("orders").segments == 1
        merged = sorted(folder.glob("*.parquet"))
        assert [path.name.split("-")[0] for path in merged] == ["cases", "folded", "segment"]
        for path in [*batches[:1], *merged]:
            if path.exists():
                assert pl.read_parquet_schema(path)["case_id"] == pl.String, path.name
        assert model.scan("orders", coded=True).collect_schema()["case_id"] == pl.Categorical
        assert model.case_rows("orders")["case_id"].dtype == pl.Categorical
        check_reads(model, "orders")


def test_a_read_only_folder_is_read_not_written(tmp_path) -> None:
    import os

    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    with EventStore(tmp_path / "s.db") as store:
        model = ReadModel(store, min_tail=3, min_batch=4, chunk=5, fan_in=2)
        assert model.folder is not None
        model.folder.mkdir()
        model.folder.chmod(0o500)
        store.import_frame("log", _frame(30, 1))
        check_reads(model, "log")


def test_a_broken_segment_under_a_running_reader_is_never_read_as_truth(tmp_path) -> None:
    with EventStore(tmp_path / "s.db") as store:
        model = ReadModel(store, min_tail=3, min_batch=4, chunk=5, fan_in=2)
        store.import_frame("log", _frame(60, 1))
        model.refresh("log")
        expected = store_order(store, "log")
        (segment,) = segment_files(model)
        # The same size, other bytes: only reading it can tell.
        segment.write_bytes(b"\0" * segment.stat().st_size)
        assert_frame_equal(model.read("log"), expected)
        assert segment_files(model), "rebuilt"
        assert_frame_equal(model.read("log"), expected)


# ------------------------------------------------------------------ projections


def _projections() -> dict[str, Callable[[pl.LazyFrame], object]]:
    return {
        "directly_follows": lambda e: projections.directly_follows(e, presorted=True),
        "variants": lambda e: projections.variants(e, presorted=True),
        "start_activities": lambda e: projections.start_activities(e, presorted=True),
        "end_activities": lambda e: projections.end_activities(e, presorted=True),
        "cases": lambda e: projections.cases(e, presorted=True),
        "activities": lambda e: projections.activities(e, presorted=True),
        "instances": lambda e: projections.instances(e, presorted=True),
        "resources": projections.resources,
        "handover": lambda e: projections.handover(e, presorted=True),
        "throughput": projections.throughput,
        "wip": projections.wip,
        "rework": projections.rework,
        "bottlenecks": lambda e: projections.bottlenecks(e, presorted=True),
        "dotted_chart": lambda e: projections.dotted_chart(e, presorted=True),
    }


def _collected(result: object) -> pl.DataFrame:
    frame = result.collect() if isinstance(result, pl.LazyFrame) else result
    assert isinstance(frame, pl.DataFrame)
    return decoded(frame)


@pytest.fixture(scope="module")
def real_logs(tmp_path_factory) -> Iterator[ReadModel]:
    db = tmp_path_factory.mktemp("real") / "real.db"
    with EventStore(db) as store:
        model = ReadModel(store)
        for name, log in (
            ("sepsis.xes.gz", "sepsis"),
            ("receipt.csv", "receipt"),
            ("running-example.xes", "running"),
            ("bpic2012.xes.gz", "bpic2012"),
        ):
            ingest(store, real_log(name), log=log)
            model.refresh(log)
        # The demo: late events, corrections by causation id, attributes that come later.
        for part in ("order-to-cash.csv.gz", "order-to-cash-late.csv.gz"):
            ingest(store, DEMO / part, log="demo")
        model.refresh("demo")
        yield model


@pytest.mark.parametrize("log", ["sepsis", "receipt", "running", "bpic2012", "demo"])
def test_every_projection_from_segments_equals_the_store(real_logs, log) -> None:
    model = real_logs
    assert model.status(log).lag == 0
    from_store = model.store.scan(log).collect().lazy()
    coded = model.read(log, coded=True).lazy()
    for name, projection in _projections().items():
        expected = _collected(projection(projections.ordered(from_store)))
        try:
            assert_frame_equal(_collected(projection(coded)), expected)
        except AssertionError as error:
            raise AssertionError(f"{name} on {log}: {error}") from None
    _time_travel_agrees(from_store, coded, log)
    _causality_agrees(from_store, coded, log)
    from_segments = process_map(model.read(log, coded=True).lazy(), activities=80, paths=80)
    direct = process_map(from_store, activities=80, paths=80)
    for part in ("nodes", "edges", "starts", "ends"):
        assert_frame_equal(decoded(getattr(from_segments, part)), getattr(direct, part))


def _time_travel_agrees(from_store: pl.LazyFrame, coded: pl.LazyFrame, log: str) -> None:
    """State, diff, corrections and work in progress computed on codes in case order (as the
    app does) equal those computed on text in the store's order."""
    stamps = from_store.select("timestamp").collect()["timestamp"].sort()
    t1, t2, t3 = (stamps[int(stamps.len() * q)] for q in (0.3, 0.6, 0.97))
    for at in (t1, t2, t3):
        ours = _collected(timetravel.state_at(coded, at, presorted=True))
        theirs = timetravel.state_at(from_store, at).collect()
        _same(ours, theirs, f"state_at {at} on {log}")
        _same(decoded(timetravel.summary(ours)), timetravel.summary(theirs), f"summary on {log}")
    ours_diff = timetravel.diff(coded, t1, t2, presorted=True)
    theirs_diff = timetravel.diff(from_store, t1, t2)
    for name in ("started", "completed", "moved", "new_edges", "kpis"):
        ours_part, theirs_part = getattr(ours_diff, name), getattr(theirs_diff, name)
        _same(decoded(ours_part), theirs_part, f"diff {name} on {log}")
    _same(
        decoded(timetravel.corrections(coded)),
        timetravel.corrections(from_store),
        f"corrections on {log}",
    )


def _same(ours: pl.DataFrame, theirs: pl.DataFrame, what: str) -> None:
    try:
        assert_frame_equal(ours, theirs)
    except AssertionError as error:
        raise AssertionError(f"{what}: {error}") from None


def _causality_agrees(from_store: pl.LazyFrame, coded: pl.LazyFrame, log: str) -> None:
    """A case's timeline and an event's causes and effects, on codes as the app computes
    them, equal those on text."""
    events = from_store.collect()
    linked = events.filter(pl.col("causation_id").is_not_null())
    event = (linked if linked.height else events).row(0, named=True)
    ours, theirs = (
        causality.trace(coded, event["event_id"]),
        causality.trace(from_store, event["event_id"]),
    )
    assert ours.event == theirs.event, f"trace on {log}"
    _same(decoded(ours.causes), theirs.causes, f"causes on {log}")
    _same(decoded(ours.effects), theirs.effects, f"effects on {log}")
    _same(
        decoded(causality.timeline(coded, event["case_id"])),
        causality.timeline(from_store, event["case_id"]),
        f"timeline on {log}",
    )
