"""The animation: its frames, as data, equal a walk over every move and moment; a late
event is a ghost until it is recorded; the exported page plays in a real browser."""

from __future__ import annotations

import itertools
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from workbench import Event, EventStore, animation
from workbench.calendars import Calendar
from workbench.cli import app
from workbench.store import to_micros

START = datetime(2024, 3, 1, tzinfo=UTC)
CHROMIUM = Path("/usr/bin/chromium")


def _walk(
    events: pl.DataFrame,
    start: datetime,
    step: timedelta,
    frames: int,
    known_at: int | None,
    moments: list[int] | None = None,
) -> dict[tuple[int, str, str, int], tuple[int, int]]:
    """Tokens by brute force: every move of every case against every frame's moment (evenly
    spaced from ``start``, or the ``moments`` given, in microseconds)."""
    found: dict[tuple[int, str, str, int], tuple[int, int]] = {}
    rows = events.sort("case_id", "timestamp", "position").rows(named=True)
    low, size = to_micros(start), int(step / timedelta(microseconds=1))
    clocks = moments or [low + frame * size for frame in range(frames)]
    for before, after in itertools.pairwise(rows):
        if before["case_id"] != after["case_id"]:
            continue
        departed, arrived = to_micros(before["timestamp"]), to_micros(after["timestamp"])
        recorded = max(to_micros(before["recorded_at"]), to_micros(after["recorded_at"]))
        unknown = known_at is not None and max(before["position"], after["position"]) > known_at
        for frame, clock in enumerate(clocks):
            if departed <= clock < arrived:
                stretch = min((clock - departed) * animation.BINS // (arrived - departed), 3)
                key = (frame, before["activity"], after["activity"], stretch)
                solid, ghost = found.get(key, (0, 0))
                if unknown and recorded > clock:
                    ghost += 1
                else:
                    solid += 1
                found[key] = (solid, ghost)
    return found


def _tokens(found: animation.Animation) -> dict[tuple[int, str, str, int], tuple[int, int]]:
    names = {row[0]: (row[1], row[2]) for row in found.edges.iter_rows()}
    return {
        (frame, *names[edge], stretch): (solid, ghost)
        for frame, edge, stretch, solid, ghost in found.tokens.iter_rows()
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_frames_equal_a_walk_over_every_move_and_moment(tmp_path, seed) -> None:
    chance = random.Random(seed)
    rows = [
        (f"case {chance.randint(0, 12)} ✓", chance.choice(["a", "b", "Prüfung", "c"]),
         START + timedelta(hours=chance.randint(0, 30)))
        for _ in range(90)
    ]  # fmt: skip
    with EventStore(tmp_path / "s.db") as store:
        store.import_frame(
            "log",
            pl.DataFrame(
                {
                    "case_id": [r[0] for r in rows],
                    "activity": [r[1] for r in rows],
                    "timestamp": [r[2] for r in rows],
                }
            ),
        )
        known = store.head("log")
        for case in range(5):  # late events, earlier than stored ones
            late = Event("late", START + timedelta(hours=chance.randint(0, 30), minutes=7))
            store.append("log", f"case {case} ✓", [late])
        events = store.read("log")
    for known_at in (None, known):
        found = animation.animate(
            events.lazy(), START, START + timedelta(hours=24), frames=50, known_at=known_at
        )
        assert _tokens(found) == _walk(events, found.start, found.step, 50, known_at)
        assert found.tokens.height > 0
    # Everything the store has was recorded long after 2024: unknown moves stay ghosts.
    assert found.tokens.filter(pl.col("ghost") > 0).height > 0
    # In working time: frames evenly spaced in the calendar's hours, none in closed hours.
    office = Calendar.parse("office", ["mon-fri 08:00-12:00", "mon-fri 13:00-18:00"])
    window = (START, START + timedelta(hours=30))
    found = animation.animate(events.lazy(), *window, frames=40, calendar=office)
    moments = [found.moment(frame) for frame in range(40)]
    assert moments == sorted(moments)
    assert all(office.duration(window[0], moment) <= office.duration(*window) for moment in moments)
    steps = {office.duration(a, b) for a, b in itertools.pairwise(moments)}
    assert max(steps) - min(steps) <= timedelta(microseconds=1) or len(steps) == 1
    assert all(moment.hour in (8, 9, 10, 11, 13, 14, 15, 16, 17) for moment in moments[1:])
    assert _tokens(found) == _walk(events, START, found.step, 40, None, list(found.clocks))


def test_a_late_event_is_a_ghost_until_it_is_recorded(tmp_path) -> None:
    now = datetime.now(UTC)
    with EventStore(tmp_path / "s.db") as store:
        store.append("log", "c1", [Event("a", now - timedelta(seconds=50))])
        known = store.head("log")
        before = datetime.now(UTC)
        time.sleep(0.05)
        # The move a -> b lasts into the future; b is recorded only now.
        store.append("log", "c1", [Event("b", now + timedelta(seconds=20))])
        time.sleep(0.05)
        after = datetime.now(UTC)
        events = store.read("log")
    found = animation.animate(
        events.lazy(),
        now - timedelta(seconds=60),
        now + timedelta(seconds=10),
        frames=141,
        known_at=known,
    )
    seen = {
        found.moment(frame): (solid, ghost)
        for frame, _, _, solid, ghost in found.tokens.iter_rows()
    }
    assert any(ghost for moment, (_, ghost) in seen.items() if moment < before)
    assert all(
        ghost == 1 and solid == 0 for moment, (solid, ghost) in seen.items() if moment < before
    )
    assert any(solid for moment, (solid, _) in seen.items() if moment > after)
    assert all(
        solid == 1 and ghost == 0 for moment, (solid, ghost) in seen.items() if moment > after
    )
    # Without "as known at", the same move is solid throughout.
    plain = animation.animate(
        events.lazy(), now - timedelta(seconds=60), now + timedelta(seconds=10), frames=141
    )
    assert int(plain.tokens["ghost"].sum()) == 0


def test_the_exported_page_plays_in_a_browser(tmp_path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    from sample_data.demo import DEMO_LOG, load_demo

    db = tmp_path / "demo.db"
    with EventStore(db) as store:
        load_demo(store)
        known = store.ledger.jobs(log=DEMO_LOG)[-1].last_position
    page_file = tmp_path / "map.html"
    result = CliRunner().invoke(
        app,
        [
            "--db", str(db), "animate", DEMO_LOG, "--from", "2024-03-01", "--to", "2024-04-01",
            "--known-at", str(known), "--output", str(page_file),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "ghost token" in result.output
    text = page_file.read_text()
    assert "<svg" in text
    assert "http" not in text.split("<svg", 1)[1].replace("http://www.w3.org", "")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        errors: list[str] = []
        page.on(
            "console",
            lambda message: errors.append(message.text) if message.type == "error" else None,
        )
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(page_file.as_uri())
        page.wait_for_function("window.wbFrame !== undefined", timeout=30_000)
        page.select_option("#wb-speed", "86400000")  # one day a second: a month in 30 s
        first = page.evaluate("window.wbFrame")
        clock = page.inner_text("#wb-clock")
        page.wait_for_timeout(1_500)
        assert page.evaluate("window.wbFrame") != first
        assert page.inner_text("#wb-clock") != clock
        assert page.locator("#wb-map circle").count() > 0
        page.click("#wb-play")  # pause: the clock stops
        stopped = page.evaluate("window.wbFrame")
        page.wait_for_timeout(700)
        assert page.evaluate("window.wbFrame") == stopped
        browser.close()
    assert errors == []


def test_an_empty_window_is_a_clear_error(tmp_path) -> None:
    with EventStore(tmp_path / "s.db") as store:
        store.append("log", "c1", [Event("a", START), Event("b", START + timedelta(hours=1))])
    refused = CliRunner().invoke(
        app,
        ["--db", str(tmp_path / "s.db"), "animate", "log", "--from", "2024-03-02",
         "--to", "2024-03-01", "--output", str(tmp_path / "m.html")],
    )  # fmt: skip
    assert refused.exit_code == 2
    assert "is not after --from" in refused.output


def test_the_map_starts_and_ends_where_the_process_map_does(tmp_path) -> None:
    from workbench import processmap, projections

    start = datetime(2024, 1, 1, tzinfo=UTC)
    with EventStore(tmp_path / "a.db") as store:
        for case, steps in (("c1", "abc"), ("c2", "abd"), ("c3", "x")):
            events = [Event(a, start + timedelta(hours=n)) for n, a in enumerate(steps)]
            store.append("log", case, events)
        events = store.scan("log")
        found = animation.animate(events, start, start + timedelta(days=1), frames=10)
        pmap = processmap.process_map(projections.ordered(events))
    dot = animation.to_dot(found)
    assert '"__start" -> "a" [label=" 2", style=dashed]' in dot
    assert '"__start" -> "x" [label=" 1", style=dashed]' in dot  # a one-event case too
    assert '"d" -> "__end" [label=" 1", style=dashed]' in dot
    assert sorted(found.starts.rows()) == sorted(pmap.starts.rows())
    assert sorted(found.ends.rows()) == sorted(pmap.ends.rows())
    assert "<svg" in animation.layout(dot)


def test_a_correction_flashes_in_its_frame_only(tmp_path) -> None:
    """A correction recorded long before the window does not flash on its first frame."""
    later = datetime.now(UTC) + timedelta(days=400)
    with EventStore(tmp_path / "s.db") as store:
        store.import_frame(
            "log",
            pl.DataFrame(
                {
                    "case_id": ["c1", "c1", "c1"],
                    "activity": ["a", "b", "b"],
                    "timestamp": [later, later + timedelta(hours=1), later + timedelta(hours=2)],
                    "event_id": ["e1", "e2", "e2-fixed"],
                    "corrects": [None, None, "e2"],
                }
            ),
        )
        events = store.read("log")
    window = (later, later + timedelta(hours=3))
    found = animation.animate(events.lazy(), *window, frames=10, known_at=datetime.now(UTC))
    assert found.flashes.is_empty()
