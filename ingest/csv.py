"""CSV event logs (plain or gzipped), read in batches."""

from __future__ import annotations

import csv
import gzip
import os
import shutil
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from ingest import batch as batching
from ingest.batch import LINE, Batch, from_frames
from ingest.formats import sniff
from ingest.mapping import ColumnMapping, EmptySource, IngestError, ParseOptions, first_line

_SEPARATORS = (",", ";", "\t", "|")


def read(
    source: Path,
    *,
    mapping: ColumnMapping | None = None,
    options: ParseOptions | None = None,
    skip_rows: int = 0,
) -> Iterator[Batch]:
    """Yield batches of events in the vocabulary of DESIGN.md, with the rows refused.

    The first batch fixes the column mapping (``Batch.events`` columns show it). Rows before
    ``skip_rows`` are read (their derived ids count) but not yielded: a resumed job skips
    what it already committed.
    """
    options = options or ParseOptions()
    source = Path(source)
    head = sniff(source)
    separator = _separator(source, head)
    with _plain(source) as plain:
        columns = _header(source, plain, separator)
        lazy = pl.scan_csv(
            plain,
            separator=separator,
            infer_schema=False,
            row_index_name=LINE,
            row_index_offset=2,
            missing_columns="insert",
            truncate_ragged_lines=False,
            encoding="utf8-lossy",
        )
        frames = (
            _drop_index_column(raw) for raw in lazy.collect_batches(chunk_size=batching.BATCH_ROWS)
        )
        try:
            yield from from_frames(
                frames, source, mapping=mapping, options=options, skip_rows=skip_rows
            )
        except pl.exceptions.PolarsError as error:
            raise IngestError(f"{source}: not a readable CSV file ({first_line(error)})") from error
        except EmptySource:
            raise EmptySource(
                f"{source}: has a header ({', '.join(columns)}) but no rows"
            ) from None


def _separator(source: Path, head: bytes) -> str:
    first = head.decode("utf-8", errors="replace").splitlines()[0] if head else ""
    counts = {sep: first.count(sep) for sep in _SEPARATORS}
    best = max(counts, key=lambda sep: counts[sep])
    if counts[best] == 0:
        raise IngestError(
            f"{source}: line 1 has no column separator (, ; tab |): not a CSV event log"
        )
    return best


def _header(source: Path, plain: Path, separator: str) -> list[str]:
    with plain.open(encoding="utf-8", errors="replace", newline="") as handle:
        row = next(csv.reader(handle, delimiter=separator), [])
    if len(row) < 3:
        raise IngestError(
            f"{source}: line 1 has {len(row)} column(s); an event log needs at least a case, "
            "an activity and a timestamp"
        )
    return row


def _drop_index_column(raw: pl.DataFrame) -> pl.DataFrame:
    """Drop an unnamed leading column that only counts rows (a pandas index written to CSV)."""
    unnamed = [c for c in raw.columns if c == "" or c.startswith("__UNNAMED__")]
    for column in unnamed:
        values = raw[column].cast(pl.Int64, strict=False)
        if values.null_count() == 0 and (values.diff().drop_nulls() == 1).all():
            raw = raw.drop(column)
        else:
            raw = raw.rename({column: f"column_{raw.columns.index(column)}"})
    return raw


class _plain:
    """The path of a plain-text copy of a gzipped file (the file itself when not gzipped)."""

    def __init__(self, source: Path) -> None:
        self.source = source
        self.copy: Path | None = None

    def __enter__(self) -> Path:
        with self.source.open("rb") as handle:
            gzipped = handle.read(2) == b"\x1f\x8b"
        if not gzipped:
            return self.source
        descriptor, name = tempfile.mkstemp(suffix=".csv")
        self.copy = Path(name)
        try:
            with gzip.open(self.source, "rb") as compressed, os.fdopen(descriptor, "wb") as plain:
                shutil.copyfileobj(compressed, plain, 1 << 20)
        except (OSError, EOFError, zlib.error) as error:
            self.copy.unlink()
            raise IngestError(
                f"{self.source}: the gzip data is corrupt or truncated ({error})"
            ) from error
        return self.copy

    def __exit__(self, *exc: object) -> None:
        if self.copy is not None:
            self.copy.unlink(missing_ok=True)
