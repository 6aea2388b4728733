"""The performance spectrum: its passages equal a brute-force enumeration of the
directly-follows occurrences, its ghosts equal the difference between known-at cuts, its
totals equal the process map's, and the page shows the command's numbers."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ingest.jobs import ingest
from tests.conftest import real_log
from workbench import Event, EventStore
from workbench.application import Cut, Workbench
from workbench.calendars import Calendar
from workbench.cli import app
from workbench.spectrum import spectrum

START = datetime(2024, 3, 1, tzinfo=UTC)
NAMES = ("a", "b", "Prüfung")
SEGMENTS = [("a", "b"), ("b", "a"), ("a", "a"), ("Prüfung", "b")]


def _cli(db: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--db", str(db), *args])
    return result.exit_code, result.output


def _enumerated(events: pl.DataFrame) -> dict[tuple[str, str], list[tuple]]:
    """Every directly-follows occurrence, case by case in (timestamp, position) order."""
    found: dict[tuple[str, str], list[tuple]] = {}
    rows = events.sort("case_id", "timestamp", "position").rows(named=True)
    for before, after in itertools.pairwise(rows):
        if before["case_id"] == after["case_id"]:
            found.setdefault((before["activity"], after["activity"]), []).append(
                (
                    before["case_id"],
                    before["timestamp"],
                    after["timestamp"],
                    before["position"],
                    after["position"],
                )
            )
    return found


_event = st.tuples(st.integers(0, 5), st.sampled_from(NAMES), st.integers(0, 60))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(_event, min_size=1, max_size=40), office=st.booleans())
def test_passages_equal_a_brute_force_enumeration(rows, office) -> None:
    events = pl.DataFrame(
        {
            "position": list(range(1, len(rows) + 1)),
            "case_id": [f"c{case}" for case, *_ in rows],
            "activity": [activity for _, activity, _ in rows],
            "timestamp": [START + timedelta(hours=hour) for *_, hour in rows],
        },
        schema_overrides={"timestamp": pl.Datetime("us", "UTC")},
    )
    calendar = Calendar.parse("office", ["mon-fri 09:00-17:00"]) if office else None
    found = spectrum(events.lazy(), SEGMENTS, calendar=calendar, every="1d")
    expected = _enumerated(events)
    for part in found.segments:
        wanted = expected.get((part.source, part.target), [])
        lines = part.lines
        got = sorted(
            zip(
                lines["case_id"],
                lines["start"],
                lines["end"],
                lines["source_position"],
                lines["target_position"],
                strict=True,
            )
        )
        assert got == sorted(wanted)
        took = [(calendar.duration(a, b) if calendar else b - a) for _, a, b, *_ in sorted(wanted)]
        assert sorted(lines["duration"].to_list()) == sorted(took)
        # The quartiles: the fastest quarter is 1, and a longer passage is never in a lower one.
        ordered = lines.sort("duration")
        assert ordered["quartile"].is_sorted()
        assert set(lines["quartile"]) <= {1, 2, 3, 4}
        assert not lines["ghost"].any()
        assert part.bins.select(pl.sum_horizontal("q1", "q2", "q3", "q4")).sum().item() == len(
            wanted
        )
        if wanted:
            assert part.bins["bin"].to_list() == sorted({a.replace(hour=0) for _, a, *_ in wanted})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first=st.lists(_event, min_size=1, max_size=25),
    late=st.lists(_event, min_size=1, max_size=8),
)
def test_ghosts_are_what_the_store_did_not_know_at_the_cut(tmp_path_factory, first, late) -> None:
    db = tmp_path_factory.mktemp("ghosts") / "s.db"
    with EventStore(db) as store:
        store.import_frame(
            "log",
            pl.DataFrame(
                {
                    "case_id": [f"c{case}" for case, *_ in first],
                    "activity": [activity for _, activity, _ in first],
                    "timestamp": [START + timedelta(hours=hour) for *_, hour in first],
                }
            ),
        )
        cut = store.head("log")
        for case, activity, hour in late:  # recorded later, some earlier than what is stored
            store.append("log", f"c{case}", [Event(activity, START + timedelta(hours=hour))])
        whole = spectrum(store.scan("log"), SEGMENTS, known_at=cut)
        then = spectrum(store.scan("log", known_at=cut), SEGMENTS)
    for now_part, then_part in zip(whole.segments, then.segments, strict=True):
        known = set(
            zip(then_part.lines["source_position"], then_part.lines["target_position"], strict=True)
        )
        for row in now_part.lines.iter_rows(named=True):
            key = (row["source_position"], row["target_position"])
            assert row["ghost"] == (max(key) > cut)
            assert (key in known) != row["ghost"]
        assert now_part.bins["ghosts"].sum() == now_part.lines["ghost"].sum()


@pytest.mark.parametrize(("name", "log"), [("interval_event_log.xes", "iv"), ("receipt.csv", "r")])
def test_passages_add_up_to_the_process_map(tmp_path, name, log) -> None:
    """Counts and total times per segment equal the map's edges: on a log of intervals too,
    where a passage runs from a completion to the next start."""
    with EventStore(tmp_path / "s.db") as store:
        ingest(store, real_log(name), log=log)
    with Workbench(tmp_path / "s.db") as bench:
        edges = bench.dfg(log).edges.head(6)
        pairs = list(zip(edges["source"], edges["target"], strict=True))
        found = bench.spectrum(log, pairs)
    for part, row in zip(found.segments, edges.iter_rows(named=True), strict=True):
        assert part.lines.height == row["frequency"]
        assert part.lines["duration"].sum() == row["total_duration"]
        assert part.lines["case_id"].n_unique() == row["cases"]


def test_the_spectrum_command(tmp_path) -> None:
    db = tmp_path / "s.db"
    assert _cli(db, "ingest", str(real_log("running-example.csv")), "--log", "run")[0] == 0
    code, output = _cli(
        db,
        "spectrum",
        "run",
        "--segment",
        "register request",
        "examine casually",
        "--segment",
        "decide",
        "reject request",
        "--every",
        "1w",
        "--json",
    )
    assert code == 0, output
    found = json.loads(output)
    assert found["every"] == "1w"
    assert [(s["source"], s["target"]) for s in found["segments"]] == [
        ("register request", "examine casually"),
        ("decide", "reject request"),
    ]
    first = found["segments"][0]
    assert first["passages"] == len(first["lines"]) > 0
    assert set(first["lines"][0]) >= {"case_id", "start", "end", "duration_seconds", "quartile"}
    assert sum(b["q1"] + b["q2"] + b["q3"] + b["q4"] for b in first["bins"]) == first["passages"]
    code, output = _cli(db, "spectrum", "run")  # the three most frequent paths
    assert code == 0, output
    assert "passages" in output
    code, output = _cli(db, "spectrum", "run", "--segment", "decide", "nowhere")
    assert code == 2
    assert "no activity 'nowhere'" in output
    code, output = _cli(db, "spectrum", "run", "--segment", "decide")
    assert code == 2
    code, output = _cli(db, "spectrum", "run", "--every", "2d")
    assert code == 2
    assert "--every '2d': choose one of" in output


def test_the_spectrum_tab_shows_the_command_numbers(tmp_path, monkeypatch) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.test_app import APP, close_app_store

    db = tmp_path / "s.db"
    with EventStore(db) as store:
        ingest(store, real_log("interval_event_log.xes"), log="iv")
    assert _cli(db, "calendar", "add", "office", "--hours", "mon-fri 09:00-17:00")[0] == 0
    code, output = _cli(db, "spectrum", "iv", "--calendar", "office", "--json")
    assert code == 0, output
    expected = json.loads(output)["segments"]
    monkeypatch.setenv("WORKBENCH_DB", str(db))
    app_test = AppTest.from_file(APP, default_timeout=120)
    app_test.query_params.update({"log": "iv", "calendar": "office", "view": "Spectrum"})
    app_test.run()
    app_test.switch_page("views/performance.py").run()
    try:
        assert not app_test.exception, [e.value for e in app_test.exception]
        captions = [c.value for c in app_test.main.caption]
        counted = [c for c in captions if " passages" in c]
        assert len(counted) == len(expected) == 3
        for caption, segment in zip(counted, expected, strict=True):
            assert caption.startswith(f"{segment['passages']:,} passages")
        assert any("calendar office" in c for c in captions)
        with Workbench(db) as bench:
            spectrum_now = bench.spectrum("iv", calendar="office", cut=Cut())
        assert [p.lines.height for p in spectrum_now.segments] == [s["passages"] for s in expected]
    finally:
        close_app_store()
