"""SQLite and PostgreSQL stores on the same 1 M generated events, in the same run: a durable
import of the CSV (`ingest`: parse, map, type, write, index, commit) and a read of every
event back into Polars, each in a fresh process; times, peak memory and PostgreSQL's ratios
to SQLite. Goals: import <= 2 x SQLite's, read <= 1.5 x.

Then imports into a store that already holds data (``--imports`` logs, one after another,
each in a fresh process, the statistics refreshed by the imports themselves): the first,
the second and the last. Goal: the second and the last take no more than 1.5 x the first.

    python benchmarks/backends.py --postgres postgresql://me@localhost:5432/bench [--events N]

Without --postgres, WORKBENCH_TEST_POSTGRES is used; each run works in a schema of its own,
dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import OUT, Measurement, measure, median
from sample_data.generator import write


def _schema_url(url: str, schema: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--imports", type=int, default=10)
    parser.add_argument("--postgres", default=os.environ.get("WORKBENCH_TEST_POSTGRES"))
    options = parser.parse_args()
    if not options.postgres:
        print("backends: skipped (give --postgres URL or set WORKBENCH_TEST_POSTGRES)")
        return
    import psycopg

    OUT.mkdir(exist_ok=True)
    source = OUT / f"orders-{options.events}.csv"
    if not source.exists():
        rows = write(source, events=options.events, seed=1)
        print(f"generated {source.name}: {rows:,} events")
    runs: dict[str, dict[str, list[Measurement]]] = {
        "sqlite": {"import": [], "read": []},
        "postgres": {"import": [], "read": []},
    }
    for _ in range(options.runs):
        db = OUT / "backends.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(options.postgres, autocommit=True) as connection:
            connection.execute(f"CREATE SCHEMA {schema}")
        try:
            for backend, location in (
                ("sqlite", str(db)),
                ("postgres", _schema_url(options.postgres, schema)),
            ):
                setup = (
                    "from ingest.jobs import ingest\nfrom workbench import EventStore\n"
                    f"store = EventStore({location!r})"
                )
                runs[backend]["import"].append(
                    measure(
                        setup,
                        f"result = ingest(store, {str(source)!r}, log='orders').events_added",
                    )
                )
                runs[backend]["read"].append(measure(setup, "result = store.read('orders').height"))
        finally:
            with psycopg.connect(options.postgres, autocommit=True) as connection:
                connection.execute(f"DROP SCHEMA {schema} CASCADE")
    events = runs["sqlite"]["import"][0].result
    growing = _imports_into_a_full_store(options.postgres, source, options.imports)
    print(f"\nStores, {events:,} events, median of {options.runs} runs")
    for step, goal in (("import", 2.0), ("read", 1.5)):
        lite, server = median(runs["sqlite"][step]), median(runs["postgres"][step])
        ratio = server.seconds / lite.seconds
        for name, found in (("sqlite", runs["sqlite"][step]), ("postgres", runs["postgres"][step])):
            best = median(found)
            print(
                f"  {step:6} {name:9} {best.seconds:7.2f} s  {best.peak_mb:6.0f} MB peak   runs: "
                + " ".join(f"{run.seconds:.2f}" for run in found)
            )
        verdict = "met" if ratio <= goal else "NOT met"
        print(f"  {step:6} PostgreSQL / SQLite: {ratio:.2f} (goal <= {goal}): {verdict}")
    print(f"\nImports one after another into the same store ({events:,} events each)")
    for name, found in growing.items():
        first = found[0].seconds
        shown = [(1, found[0]), (2, found[1]), (len(found), found[-1])]
        print(
            f"  {name:9} "
            + "   ".join(f"#{n}: {m.seconds:6.2f} s {m.peak_mb:5.0f} MB" for n, m in shown)
            + f"   last / first: {found[-1].seconds / first:.2f}"
            + (" (goal <= 1.5): met" if max(m.seconds for _, m in shown) <= 1.5 * first
               else " (goal <= 1.5): NOT met")
        )  # fmt: skip


def _imports_into_a_full_store(
    postgres: str, source: Path, count: int
) -> dict[str, list[Measurement]]:
    """The file imported ``count`` times into new logs of one store, per backend."""
    import psycopg

    found: dict[str, list[Measurement]] = {"sqlite": [], "postgres": []}
    db = OUT / "growing.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    try:
        for backend, location in (
            ("sqlite", str(db)),
            ("postgres", _schema_url(postgres, schema)),
        ):
            setup = (
                "from ingest.jobs import ingest\nfrom workbench import EventStore\n"
                f"store = EventStore({location!r})"
            )
            for number in range(1, count + 1):
                found[backend].append(
                    measure(
                        setup,
                        f"result = ingest(store, {str(source)!r}, log='orders-{number}')"
                        ".events_added",
                    )
                )
    finally:
        with psycopg.connect(postgres, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")
    return found


if __name__ == "__main__":
    main()
