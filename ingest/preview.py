"""A look at a file before it is imported: its format, columns, detected mapping, first rows.

The app's upload page shows this and lets the user change the mapping; the import then
runs as an ordinary ingest job with that mapping.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from ingest.batch import LINE, PLACE
from ingest.errors import IngestError
from ingest.formats import detect_format, sniff
from ingest.jobs import READERS
from ingest.mapping import ColumnMapping
from ingest.options import ParseOptions
from workbench.store.frames import with_derived_ids

#: Formats whose columns the user maps (OCEL logs name their events' parts themselves).
MAPPABLE = ("csv", "parquet", "arrow", "xes", "jsonl")
#: Formats with times that may lack an offset (read in a chosen time zone); XES and OCEL XML
#: dates carry their offsets.
ZONED = (
    "csv", "parquet", "arrow", "jsonl", "ocel2-json", "ocel2-sqlite", "ocel1-json", "ocel1-csv",
)  # fmt: skip
#: Formats in a text encoding the user may have to name.
TEXT = ("csv", "jsonl")


@dataclass(frozen=True)
class Preview:
    """What an import of the file would do with its first rows."""

    format: str
    columns: list[str]  # the file's columns (mappable formats), else empty
    mapping: ColumnMapping  # the columns used for each role
    events: pl.DataFrame  # the first events as they would be stored
    rejects: pl.DataFrame  # first rows that would be refused, with the reasons

    @property
    def mappable(self) -> bool:
        """Whether the user can choose the columns."""
        return self.format in MAPPABLE


def preview(
    path: Path,
    *,
    rows: int = 20,
    mapping: ColumnMapping | None = None,
    options: ParseOptions | None = None,
) -> Preview:
    """The first ``rows`` events of a file as an import would read them.

    Raises `IngestError` (naming the file) when the file cannot be imported.
    """
    kind = detect_format(path, sniff(path))
    batches = READERS[kind](path, mapping=mapping or ColumnMapping(), options=options)
    try:
        first = next(iter(batches))
    except StopIteration:
        raise IngestError(f"{path}: no events") from None
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()
    events = with_derived_ids(first.events).drop(LINE, PLACE, strict=False)
    encoding = options.encoding if options is not None else "utf-8"
    return Preview(
        kind, _columns(path, kind, encoding), first.mapping, events.head(rows), first.rejects
    )


def columns(path: Path, *, encoding: str = "utf-8") -> tuple[str, list[str]]:
    """The file's format and, for formats whose columns the user maps, its columns."""
    kind = detect_format(path, sniff(path))
    return kind, _columns(path, kind, encoding)


def _columns(path: Path, kind: str, encoding: str = "utf-8") -> list[str]:
    if kind == "csv":
        from ingest.csv import header

        return header(path, encoding=encoding)
    if kind == "parquet":
        return list(pq.ParquetFile(path).schema_arrow.names)
    if kind == "arrow":
        return list(pl.read_ipc_schema(path))
    if kind == "xes":
        from ingest.xes.stream import keys

        return keys(path)
    if kind == "jsonl":
        from ingest.jsonl import columns as json_columns

        return json_columns(path)
    return []
