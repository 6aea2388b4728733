"""The demo log that ships with the package, and how it is built and loaded.

It comes as two files: the events as first exported, and the late ones that arrived
afterwards. Loading them as two jobs makes the store learn of the late events after the
events that happened later, so "as known at" views differ from "as of" views, as in life.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl

from ingest.jobs import Summary, ingest
from sample_data.generator import _ISO, frames
from workbench.store import EventStore

HERE = Path(__file__).resolve().parent
DEMO_LOG = "order-to-cash"
DEMO_FILES = (HERE / "order-to-cash.csv.gz", HERE / "order-to-cash-late.csv.gz")
DEMO_EVENTS = 40_000
DEMO_SEED = 7


def build_demo(directory: Path = HERE) -> tuple[int, int]:
    """Write the two demo files; returns the events in each."""
    log = pl.concat(frames(events=DEMO_EVENTS, seed=DEMO_SEED))
    late = pl.col("arrived_at") > pl.col("timestamp")
    on_time, late_ones = log.filter(~late), log.filter(late)
    for frame, path in zip((on_time, late_ones), DEMO_FILES, strict=True):
        text = frame.write_csv(datetime_format=_ISO).encode()
        (directory / path.name).write_bytes(gzip.compress(text, compresslevel=9, mtime=0))
    return on_time.height, late_ones.height


def load_demo(store: EventStore) -> list[Summary]:
    """Import the demo log into the store (a no-op when it is already there)."""
    return [ingest(store, path, log=DEMO_LOG) for path in DEMO_FILES]
