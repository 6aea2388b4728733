"""Write benchmarks/README.md from the outputs of the last `make bench`.

`make bench` runs each benchmark with its output kept in ``benchmarks/out/NAME.txt`` (with
the command, the commit and the time of the run on the first lines); this gathers them
into one page, so that measured figures are never typed by hand. A benchmark whose output
is missing is listed as not run.

    python benchmarks/readme.py
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import OUT

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: The benchmarks `make bench` runs, in order, with what each measures.
BENCHMARKS = {
    "import_csv": "CSV import of generated orders against pm4py's CSV load",
    "import_xes": "XES import of BPI Challenge 2012 against pm4py.read_xes",
    "memory": "peak memory of an import of millions of events",
    "projections": "the dashboard set (process map, variants, cases, activities) against pm4py",
    "activities": "service times per activity on a log of intervals against pm4py",
    "timetravel": "the state of every case at a moment, cold and from snapshots",
    "pages": "the app through AppTest: first and second visits, filter changes, time travel",
    "cli": "commands from a cold start, whole process, against pm4py's read and DFG",
    "query": "questions in the query language from a cold start, against pm4py answering them",
    "browser": "the app in headless Chromium: first load, click to settled per page",
    "scale": "a hundred million events end to end: import, stats, dfg, state, whole process",
    "spark": "the dashboard set on Apache Spark (local) against Polars",
    "mining": "discovery and conformance against pm4py",
    "rules": "Declare rules and the temporal profile, discovered and checked, against pm4py",
    "predictions": "predictions for open cases, backtested walking forward, against baselines",
    "backends": "SQLite and PostgreSQL stores: import, read, and ten imports into one store",
}


def page() -> str:
    """The page's text."""
    parts = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python benchmarks/readme.py`) from the outputs of the",
        "benchmarks it ran; edit the benchmarks, not this page. Each compares Workbench with",
        "pm4py (or one engine with another) on the same machine in the same run, in fresh",
        "processes, as ratios, with peak memory. Run one alone with the command shown.",
        "",
        f"Machine of the last run: {platform.machine()}, {_cores()} cores,"
        f" {_memory_gb():.0f} GB of memory, Python {platform.python_version()}.",
        "",
    ]
    for name, what in BENCHMARKS.items():
        parts += [f"## {name}", "", f"{what[0].upper()}{what[1:]}.", ""]
        found = OUT / f"{name}.txt"
        if not found.exists():
            parts += [f"Not in the last run; run it with `python benchmarks/{name}.py`.", ""]
            continue
        parts += ["```", _cleaned(found.read_text(encoding="utf-8")), "```", ""]
    return "\n".join(parts)


def _cleaned(output: str) -> str:
    """A benchmark's output as the page shows it: paths relative to the repository, and
    without the log lines of the libraries it drives."""
    kept = [
        line.replace(f"{ROOT}/", "")
        for line in output.rstrip().splitlines()
        if not (line[:4].isdigit() and " WARNING " in line)
    ]
    return "\n".join(kept)


def _cores() -> int:
    import os

    return os.cpu_count() or 1


def _memory_gb() -> float:
    import os

    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    except (ValueError, OSError, AttributeError):
        return 0.0


if __name__ == "__main__":
    (HERE / "README.md").write_text(page(), encoding="utf-8")
    print(f"wrote {HERE / 'README.md'}")
