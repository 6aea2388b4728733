"""Shared helpers: run a measured step in a fresh process and read its time and peak memory."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "out"
#: A measured step's setup that imports pm4py without its banner, progress bars and warnings.
QUIET_PM4PY = (
    "import warnings\nwarnings.simplefilter('ignore')\nimport os, sys\n"
    "os.environ['PM4PY_SHOW_PROGRESS_BAR'] = 'False'\nsys._pm4py_welcome_shown = True\n"
    "import pm4py\n"
)

# Runs in the child: import what the step needs (not timed), time the step, report peak RSS.
_HARNESS = """
import json, os, resource, sys, threading, time

def _family_rss():
    # Resident memory of this process and every process it started (helper processes, such
    # as Workbench's XES parsers, count too), in MB.
    total, pending = 0, [os.getpid()]
    while pending:
        pid = pending.pop()
        try:
            with open(f"/proc/{{pid}}/statm") as statm:
                total += int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            for task in os.listdir(f"/proc/{{pid}}/task"):
                with open(f"/proc/{{pid}}/task/{{task}}/children") as children:
                    pending.extend(int(child) for child in children.read().split())
        except (OSError, ValueError):
            continue
    return total / 2**20

_family_peak = [0.0]
_sampling = threading.Event()

def _sample():
    while not _sampling.wait(0.01):
        _family_peak[0] = max(_family_peak[0], _family_rss())

{setup}
_sampler = threading.Thread(target=_sample, daemon=True)
_sampler.start()
started = time.perf_counter()
{step}
seconds = time.perf_counter() - started
_sampling.set()
_sampler.join()
# VmHWM belongs to this process image; ru_maxrss would carry the parent's peak over a fork.
try:
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024
except (OSError, StopIteration):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
# With helper processes, the sampled peak of the whole family when it is the larger.
peak = max(peak, _family_peak[0])
print(json.dumps({{"seconds": seconds, "peak_mb": peak, "result": result}}))
"""


@dataclass(frozen=True)
class Measurement:
    """One timed step: wall seconds, peak resident memory of its process, and its result."""

    seconds: float
    peak_mb: float
    result: Any


def measure(setup: str, step: str) -> Measurement:
    """Time ``step`` (which sets ``result``) in a new interpreter after ``setup``."""
    code = _HARNESS.format(setup=setup, step=step)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"benchmark step failed:\n{done.stderr}")
    values = json.loads(done.stdout.strip().splitlines()[-1])
    return Measurement(values["seconds"], values["peak_mb"], values["result"])


def median(runs: list[Measurement]) -> Measurement:
    """The measurement with the median time."""
    return sorted(runs, key=lambda run: run.seconds)[len(runs) // 2]


def report(
    title: str, ours: list[Measurement], theirs: list[Measurement], goal: float
) -> tuple[float, float]:
    """Print every run, the medians and their ratios; returns (time ratio, memory ratio)."""
    mine, pm4py = median(ours), median(theirs)
    ratio = mine.seconds / pm4py.seconds
    memory = mine.peak_mb / pm4py.peak_mb
    print(f"\n{title}")
    print(
        f"  pm4py      {pm4py.seconds:7.2f} s  {pm4py.peak_mb:7.0f} MB peak   runs: "
        + " ".join(f"{run.seconds:.2f}" for run in theirs)
    )
    print(
        f"  workbench  {mine.seconds:7.2f} s  {mine.peak_mb:7.0f} MB peak   runs: "
        + " ".join(f"{run.seconds:.2f}" for run in ours)
    )
    verdict = "met" if ratio <= goal and memory <= 1.0 else "NOT met"
    print(
        f"  time ratio {ratio:.2f} (goal <= {goal}), memory ratio {memory:.2f} (goal <= 1.0):"
        f" {verdict}"
    )
    return ratio, memory
