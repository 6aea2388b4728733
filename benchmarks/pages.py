"""The compute time of each page of the app on 1 M generated events, through AppTest: the
first visit (nothing cached but the store) and a second visit (from the caches).

    python benchmarks/pages.py [--events 1000000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
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
    "time_travel",
    "projections",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    options = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    from ingest.jobs import ingest
    from workbench import EventStore

    source = OUT / f"orders-{options.events}.csv"
    if not source.exists():
        write(source, events=options.events, seed=1)
    db = OUT / f"pages-{options.events}.db"
    built = OUT / f"projections-{options.events}.db"
    if not db.exists():
        if built.exists():
            shutil.copy(built, db)
        with EventStore(db) as store:
            if not store.has_log("orders"):
                ingest(store, source, log="orders")
    os.environ["WORKBENCH_DB"] = str(db)
    from streamlit.testing.v1 import AppTest

    print(f"\npages of the app, {options.events:,} generated events (seconds)")
    app = AppTest.from_file(APP, default_timeout=600)
    app.query_params["log"] = "orders"
    started = time.perf_counter()
    app.run()  # the first page reads the log into memory (once per log, filters and head)
    print(f"  opening the app (reads the log): {time.perf_counter() - started:.2f}")
    print(f"  {'page':<14} {'first visit':>12} {'second visit':>13}")
    for page in PAGES:
        times = []
        for _ in range(2):
            started = time.perf_counter()
            app.switch_page(f"pages/{page}.py").run()
            times.append(time.perf_counter() - started)
            assert not app.exception, [e.value for e in app.exception]
        print(f"  {page:<14} {times[0]:12.2f} {times[1]:13.2f}")


if __name__ == "__main__":
    main()
