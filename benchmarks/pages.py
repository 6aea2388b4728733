"""The app on generated events, through AppTest, as a user goes: open it, visit every page
(first visit with nothing cached but the store, then a second visit from the caches), change
a filter on the Overview, Process map and Variants pages (each a filter not seen before, so
every page computes cold: read the segments, filter, compute, draw), and travel in time.
Prints seconds per step and the peak memory of the whole session.

    python benchmarks/pages.py [--events 1000000 10000000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import OUT
from sample_data.generator import write

APP = str(Path(__file__).resolve().parent.parent / "dashboards" / "app.py")
PAGES = (
    "logs",
    "overview",
    "process_map",
    "variants",
    "cases",
    "performance",
    "mining",
    "time_travel",
    "projections",
)
FILTERED = ("overview", "process_map", "variants")  # the pages the goal names
GOAL = 1.0  # seconds for a filter change on each of them


def memory_mb(field: str = "VmHWM") -> float:
    """The peak (VmHWM) or current (VmRSS) resident memory of this process."""
    with Path("/proc/self/status").open() as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field)) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000])
    options = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    for events in options.events:  # each in a process of its own: its peak is its own
        if len(options.events) > 1:
            here = [sys.executable, __file__, "--events", str(events)]
            subprocess.run(here, check=True)
        else:
            visit(events)


def visit(count: int) -> None:
    """Build the store of ``count`` generated events (once) and walk the app over it."""
    from ingest.jobs import ingest
    from workbench import EventStore
    from workbench.filters import TimeRange
    from workbench.readmodel import ReadModel

    source = OUT / f"orders-{count}.csv"
    if not source.exists():
        write(source, events=count, seed=1)
    db = OUT / f"pages-{count}.db"
    built = OUT / f"projections-{count}.db"
    if not db.exists():
        if built.exists():
            shutil.copy(built, db)
        with EventStore(db) as store:
            if not store.has_log("orders"):
                ingest(store, source, log="orders")
    with EventStore(db) as store:  # as `workbench ingest` leaves it: segments up to date
        status = ReadModel(store).refresh("orders")
        summary = next(one for one in store.logs() if one.log == "orders")
    first, last = summary.first_timestamp, summary.last_timestamp
    assert first is not None
    assert last is not None
    print(f"\nthe app on {count:,} generated events; read model: {status}")
    os.environ["WORKBENCH_DB"] = str(db)
    from streamlit.testing.v1 import AppTest

    def timed(step: AppTest) -> float:
        started = time.perf_counter()
        step.run()
        assert not app.exception, [e.value for e in app.exception]
        return time.perf_counter() - started

    app = AppTest.from_file(APP, default_timeout=1200)
    app.query_params["log"] = "orders"
    print(f"  opening the app: {timed(app):.2f} s")
    print(f"  {'page':<14} {'first visit':>12} {'second visit':>13} {'memory (MB)':>12}")
    for page in PAGES:
        times = [timed(app.switch_page(f"views/{page}.py")) for _ in range(2)]
        print(f"  {page:<14} {times[0]:12.2f} {times[1]:13.2f} {memory_mb('VmRSS'):12,.0f}")

    # A filter change: a time window none of the pages has seen (each page its own), as the
    # sidebar's Apply sets it in the URL.
    print(f"  filter change (a new time window), goal <= {GOAL:.1f} s per page")
    span = last - first
    for index, page in enumerate(FILTERED):
        app.switch_page(f"views/{page}.py").run()
        start = first + span * (index + 1) / 10
        window = TimeRange(start, start + span / 2)
        for key in ("from", "to", "time_mode"):
            app.query_params.pop(key, None)
        for key, value in window.query():
            app.query_params[key] = value
        seconds = timed(app)
        verdict = "met" if seconds <= GOAL else "NOT met"
        print(f"  {page:<14} {seconds:12.2f}  {verdict:>12} {memory_mb('VmRSS'):12,.0f}")
    for key in ("from", "to", "time_mode"):
        app.query_params.pop(key, None)

    app.switch_page("views/time_travel.py").run()
    print("  time travel (a new moment on the slider)")
    for fraction in (0.25, 0.75):
        moment = (first + span * fraction).astimezone(UTC).replace(tzinfo=None)
        moment = moment - timedelta(microseconds=moment.microsecond)
        seconds = timed(app.slider(key="moment").set_value(moment))
        label = "at " + datetime.isoformat(moment, timespec="minutes")
        print(f"  {label:<26} {seconds:.2f} {memory_mb('VmRSS'):12,.0f}")
    print(f"  peak memory of the session: {memory_mb():,.0f} MB")


if __name__ == "__main__":
    main()
