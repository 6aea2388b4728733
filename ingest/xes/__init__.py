"""XES event logs (plain or gzipped).

Three parsers, each behind one function, and the events never depend on which read them:

- `lines`: a log written one element per line (as most tools write it) is parsed by a
  vectorized parser, piece by piece, on a thread of its own (`handoff`) while the pieces
  before are written; it returns exactly what rustxes returns, or declines a piece;
- `pieces`: anything it declines is read by rustxes, the file cut at trace boundaries into
  pieces parsed side by side in parser processes (`worker`);
- `stream`: a file neither can read (broken XML, a truncated download) is read again by a
  streaming lxml parser that keeps every complete trace before the fault and names the line.

How large the pieces are, and whether the line parser is tried, is the reader's `Tuning`
(`ParseOptions.tuning`).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import replace
from pathlib import Path

import polars as pl

from ingest.batch import Batch, from_frames
from ingest.errors import IngestError
from ingest.formats import TooLarge, plain_file
from ingest.mapping import ColumnMapping
from ingest.options import ParseOptions, Tuning
from ingest.xes.handoff import Reader
from ingest.xes.pieces import (
    parse_whole,
    pieces_parsed,
    rows_of,
    rustxes_text,
    skipped,
    trace_count,
)
from ingest.xes.stream import stream_tables

XES_MAPPING = ColumnMapping(
    case_id="case:concept:name",
    activity="concept:name",
    timestamp="time:timestamp",
)


def read(
    source: Path,
    *,
    mapping: ColumnMapping | None = None,
    options: ParseOptions | None = None,
    skip_rows: int = 0,
) -> Iterator[Batch]:
    """Yield batches of events in the vocabulary of DESIGN.md, with the rows refused.

    ``concept:name`` is the activity, ``case:concept:name`` the case, ``time:timestamp``
    the time (UTC), ``org:resource`` the resource, ``lifecycle:transition`` the lifecycle;
    trace attributes keep their ``case:`` prefix, and every attribute keeps its XES type.
    """
    source = Path(source)
    options = options or ParseOptions()
    chosen = _chosen(mapping)
    if not options.timed:
        chosen = replace(chosen, timestamp=None)
    # XES dates carry their offsets and both parsers return UTC: --timezone does not apply.
    utc = replace(options, timezone="UTC")
    yield from from_frames(
        _with_activity(_tables(source, options.tuning), chosen, source),
        source,
        mapping=chosen,
        options=utc,
        skip_rows=skip_rows,
        infer_types=False,
    )


def _with_activity(
    rows: Generator[pl.DataFrame, None, None], chosen: ColumnMapping, source: Path
) -> Iterator[pl.DataFrame]:
    """The tables, after checking the first one has the activity attribute at all."""
    first = True
    try:
        for raw in rows:
            if first and chosen.activity not in raw.columns:
                raise IngestError(
                    f"{source}: no event has a {chosen.activity} (the activity); "
                    "name another attribute with --activity"
                )
            first = False
            yield raw
    finally:
        rows.close()  # its parser thread and files go now, not when collected


def _chosen(mapping: ColumnMapping | None) -> ColumnMapping:
    """XES's standard keys, where the user chose nothing else."""
    given = (mapping or ColumnMapping()).as_dict()
    return ColumnMapping(**{**XES_MAPPING.as_dict(), **given})


def _tables(source: Path, tuning: Tuning) -> Generator[pl.DataFrame, None, None]:
    """The log's events as tables in file order, each with its event number (`LINE`) and
    place ("trace 3, event 2").

    A log written one element per line, as most are, is parsed by `lines` on a
    thread while the tables before are written. What that parser leaves (a log of another
    shape from its start, or the rest of one where it had to stop) is read by rustxes.
    """
    if not tuning.xes_line_parser:
        yield from pieces_parsed(source, tuning)
        return
    reader = Reader(
        source,
        rustxes_text,
        first_piece=tuning.xes_first_lines,
        piece_events=tuning.batch_rows // 2,
    )
    given = traces = 0
    try:
        for frame in reader:
            yield from rows_of(frame, tuning.batch_rows, first_event=given, first_trace=traces)
            given += frame.height
            traces += trace_count(frame)
    finally:
        reader.close()
    if reader.complete and given:
        return
    if not given:
        yield from pieces_parsed(source, tuning)
        return
    try:
        with plain_file(source) as plain:
            whole = parse_whole(plain)
    except TooLarge:
        raise
    except IngestError:  # a truncated download: the streaming parser keeps what it can
        whole = None
    if whole is not None and whole.height > given:
        yield from rows_of(
            whole.slice(given), tuning.batch_rows, first_event=given, first_trace=traces
        )
    elif whole is None:
        yield from skipped(stream_tables(source, tuning.batch_rows), given)
