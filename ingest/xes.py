"""XES event logs (plain or gzipped): rustxes first, a streaming lxml parser when it cannot.

rustxes parses a whole file into Polars at once and fast; on a file it cannot read (broken
XML, a truncated download) it panics without saying where. Then the streaming parser reads
the file again, yields every complete trace before the fault, and names the line.
"""

from __future__ import annotations

import os
import re
import tempfile
import zlib
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl

from ingest import batch as batching
from ingest.batch import LINE, PLACE, Batch, from_frames
from ingest.formats import TooLarge, open_binary, plain_file
from ingest.mapping import ColumnMapping, IngestError, ParseOptions, parse_times, typed_value

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
        _with_activity(_tables(source), chosen, source),
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


# The first piece is small so that writing starts at once; the next hold about a batch.
FIRST_PIECE = 2 << 20
LARGEST_PIECE = 256 << 20
_TRACE = re.compile(rb"<trace[\s>]")


def _tables(source: Path) -> Generator[pl.DataFrame, None, None]:
    """The log's events as tables in file order, each with its event number (`LINE`) and
    place ("trace 3, event 2").

    rustxes parses a whole file at once, and single-threaded; a large log is cut at trace
    boundaries into pieces, each parsed as a small XES file of its own (the log's header,
    some traces, the closing tag) on a thread of its own (rustxes releases the GIL), so
    that parsing the next piece overlaps converting and writing this one. A piece rustxes
    cannot read (a ``<trace`` inside a comment, a broken file) hands over to the
    whole-file parsers, which skip the events already given.
    """
    given = traces = 0
    frame: pl.DataFrame | None = None
    try:
        with plain_file(source) as plain:  # a gzipped file is decompressed within a bound
            pieces = _pieces(plain)
            pool = ThreadPoolExecutor(1, thread_name_prefix="xes-parse")
            try:
                upcoming = pool.submit(_next_parsed, pieces)
                while True:
                    finished, frame = upcoming.result()
                    if finished or frame is None:
                        break
                    upcoming = pool.submit(_next_parsed, pieces)
                    yield from _rows_of(frame, first_event=given, first_trace=traces)
                    given += frame.height
                    traces += _trace_count(frame)
            finally:
                pool.shutdown(wait=True)
                pieces.close()
            if finished and given:
                return
            frame = _rustxes(plain)  # one piece could not be read alone: the whole file
    except TooLarge:
        raise
    except IngestError:  # a truncated download: the streaming parser keeps what it can
        frame = None
    if frame is not None and frame.height > given:
        yield from _rows_of(frame.slice(given), first_event=given, first_trace=traces)
    elif frame is None:
        yield from _skipped(_stream(source), given)


def _next_parsed(pieces: Iterator[Path | None]) -> tuple[bool, pl.DataFrame | None]:
    """(True, None) after the last piece; else the next piece parsed, None when it could
    not be (or could not be cut)."""
    piece = next(pieces, _END)
    if piece is _END:
        return True, None
    if piece is None:
        return False, None
    try:
        return False, _rustxes(piece)
    finally:
        piece.unlink(missing_ok=True)


_END = Path()


def _skipped(tables: Iterator[pl.DataFrame], rows: int) -> Iterator[pl.DataFrame]:
    """The tables without their first ``rows`` rows."""
    for table in tables:
        if rows >= table.height:
            rows -= table.height
            continue
        yield table.slice(rows)
        rows = 0


def _pieces(plain: Path) -> Generator[Path | None, None, None]:
    """The file as small XES files of whole traces (temporary files: the caller removes
    each when it has read it); nothing when it has no trace, and None where it cannot be
    cut safely (a comment among the traces may hold anything)."""
    size = FIRST_PIECE
    header: bytes | None = None
    pending = b""
    with plain.open("rb") as handle:
        while True:
            block = handle.read(size)
            pending += block
            if header is None:
                found = _TRACE.search(pending)
                if found is None:
                    if not block:
                        return
                    continue
                header = _lean(pending[: found.start()])
                pending = pending[found.start() :]
            if block:
                cut = _last_trace(pending)
                if cut <= 0:
                    continue
                body, pending = pending[:cut], pending[cut:]
            else:
                end = pending.rfind(b"</log>")
                body, pending = (pending[:end] if end >= 0 else pending), b""
            if b"<!--" in body:
                yield None
                return
            descriptor, name = tempfile.mkstemp(suffix=".xes")
            with os.fdopen(descriptor, "wb") as target:
                target.write(header + body + b"</log>\n")
            yield Path(name)
            if not block:
                return
            # Pieces of about a batch of events from here on.
            events = max(body.count(b"<event"), 1)
            size = min(max(len(body) * batching.BATCH_ROWS // events, FIRST_PIECE), LARGEST_PIECE)


_OPENING = re.compile(rb"<log\b[^>]*>")
_DECLARATIONS = re.compile(
    rb"<(?:extension|classifier)\b[^>]*>|<global\b[^>]*/>|<global\b.*?</global>", re.DOTALL
)


def _lean(header: bytes) -> bytes:
    """What every piece needs of the log's header: the ``<log>`` tag with its namespace,
    the extensions, the classifiers and the global defaults; not the log's own attributes
    (some logs carry megabytes of metadata there, which no event needs)."""
    opening = _OPENING.search(header)
    if opening is None:  # no <log> tag we recognise: keep the header whole
        return header
    kept = b"\n".join(match.group() for match in _DECLARATIONS.finditer(header, opening.end()))
    return header[: opening.end()] + b"\n" + kept + b"\n"


def _last_trace(data: bytes) -> int:
    """Where the last ``<trace`` element of ``data`` starts (-1: none)."""
    end = len(data)
    while (start := data.rfind(b"<trace", 0, end)) >= 0:
        if _TRACE.match(data, start):
            return start
        end = start
    return -1


def _trace_count(frame: pl.DataFrame) -> int:
    case = "case:concept:name"
    if case not in frame.columns:
        return 1
    return int((frame[case] != frame[case].shift(1)).fill_null(True).sum())


def _rustxes(source: Path) -> pl.DataFrame | None:
    """The whole log through rustxes, or None when it cannot read the file."""
    import rustxes

    try:
        with _quiet_stderr():
            frame, _ = rustxes.import_xes(str(source))
    except BaseException as error:  # rustxes panics (PanicException derives BaseException)
        if isinstance(error, KeyboardInterrupt | SystemExit):
            raise
        return None
    return frame if frame.height else None


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Keep a native library's panic message and backtrace off the user's terminal."""
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _rows_of(
    frame: pl.DataFrame, *, first_event: int = 0, first_trace: int = 0
) -> Iterator[pl.DataFrame]:
    """rustxes's frame in batches, with each event's number and place for messages
    (counting on from ``first_event`` events in ``first_trace`` traces before it)."""
    case = "case:concept:name"
    if case in frame.columns:
        trace = (pl.col(case) != pl.col(case).shift(1)).fill_null(True).cum_sum() + first_trace
    else:
        trace = pl.lit(1, dtype=pl.UInt32)
    frame = (
        frame.with_columns(
            pl.int_range(first_event + 1, first_event + pl.len() + 1, dtype=pl.Int64).alias(LINE),
            trace.alias("_trace"),
        )
        .with_columns(
            pl.format(
                "trace {}, event {}",
                pl.col("_trace"),
                pl.int_range(1, pl.len() + 1).over("_trace"),
            ).alias(PLACE)
        )
        .drop("_trace")
    )
    for offset in range(0, frame.height, batching.BATCH_ROWS):
        yield frame.slice(offset, batching.BATCH_ROWS)


# ------------------------------------------------------------------ streaming fallback

_TYPES = {"string", "date", "int", "float", "boolean", "id"}


def keys(source: Path, *, events: int = 1_000) -> list[str]:
    """The attribute keys of the first ``events`` events, as columns for a mapping (trace
    attributes with their ``case:`` prefix), in order of appearance."""
    from lxml import etree

    found: dict[str, None] = {}
    seen = 0
    with open_binary(Path(source)) as handle:
        parser = etree.iterparse(
            handle, events=("end",), huge_tree=True, resolve_entities=False, no_network=True
        )
        try:
            for _, element in parser:
                tag = etree.QName(element).localname
                key = element.get("key")
                parent = element.getparent()
                if tag in _TYPES and key is not None and parent is not None:
                    scope = etree.QName(parent).localname
                    if scope == "trace":
                        found.setdefault(f"case:{key}")
                    elif scope == "event":
                        found.setdefault(key)
                elif tag == "event":
                    seen += 1
                    if seen >= events:
                        break
        except etree.XMLSyntaxError:
            pass  # the keys before the fault are what the file offers
    return list(found)


def _stream(source: Path) -> Iterator[pl.DataFrame]:
    """Parse the file with lxml's iterparse, one complete trace at a time.

    Raises `IngestError` naming the line of the first fault, after yielding every complete
    trace before it.
    """
    from lxml import etree

    rows: list[dict[str, Any]] = []
    traces = 0
    with open_binary(source) as handle:
        # No entity expansion and no network: an XML bomb stays a small file.
        context = etree.iterparse(
            handle,
            events=("start", "end"),
            huge_tree=True,
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
        )
        trace_attributes: dict[str, Any] = {}
        trace_rows: list[dict[str, Any]] = []
        event: dict[str, Any] | None = None
        defaults: dict[str, dict[str, Any]] = {"event": {}, "trace": {}}
        events_in_trace = 0
        try:
            for action, element in context:
                tag = etree.QName(element).localname
                if action == "start":
                    if tag == "trace":
                        traces += 1
                        trace_attributes, trace_rows, events_in_trace = {}, [], 0
                    elif tag == "event":
                        events_in_trace += 1
                        event = {
                            LINE: element.sourceline,
                            PLACE: f"trace {traces}, event {events_in_trace}"
                            f" (line {element.sourceline})",
                        }
                    continue
                if tag == "event" and event is not None:
                    trace_rows.append({**defaults["event"], **event})
                    event = None
                elif tag == "trace":
                    trace_defaults = {f"case:{k}": v for k, v in defaults["trace"].items()}
                    rows.extend({**trace_defaults, **trace_attributes, **row} for row in trace_rows)
                    trace_rows = []
                    element.clear(keep_tail=False)
                    while element.getprevious() is not None:  # keep memory flat
                        del element.getparent()[0]
                    if len(rows) >= batching.BATCH_ROWS:
                        yield _frame(rows)
                        rows = []
                elif tag in _TYPES and element.get("key") is not None:
                    parent = etree.QName(element.getparent()).localname
                    key, value = element.get("key"), _value(tag, element.get("value"))
                    if parent == "event" and event is not None:
                        event[key] = value
                    elif parent == "trace" and event is None:
                        trace_attributes[f"case:{key}"] = value
                    elif parent == "global":  # XES defaults for events or traces lacking a key
                        scope = element.getparent().get("scope", "event")
                        defaults.setdefault(scope, {})[key] = value
        except etree.XMLSyntaxError as error:
            if rows:
                yield _frame(rows)
            raise IngestError(
                f"{source}: line {error.lineno}: malformed XML ({error.msg}); stopped in "
                f"trace {traces}, after {max(traces - 1, 0)} complete traces"
            ) from error
        except (EOFError, OSError, zlib.error) as error:
            if rows:
                yield _frame(rows)
            raise IngestError(
                f"{source}: the gzip data is corrupt or truncated in trace {traces} "
                f"({error}); {max(traces - 1, 0)} complete traces before it were read"
            ) from error
    if traces == 0:
        raise IngestError(f"{source}: not an XES log (no <trace> element)")
    if rows:
        yield _frame(rows)


class _Date(str):
    """A date attribute's text, parsed to UTC when its batch is built."""


def _value(tag: str, text: str | None) -> Any:
    if tag == "date" and text is not None:
        return _Date(text)
    return typed_value(
        {"int": "integer", "float": "float", "boolean": "boolean"}.get(tag, ""), text
    )


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    columns: dict[str, pl.Series] = {}
    for name in names:
        values = [row.get(name) for row in rows]
        if any(isinstance(value, _Date) for value in values):
            text = pl.Series(name, [None if v is None else str(v) for v in values], pl.String)
            columns[name] = parse_times(text, ParseOptions())
            continue
        try:
            columns[name] = pl.Series(name, values, strict=True)
        except (TypeError, pl.exceptions.PolarsError):
            columns[name] = pl.Series(name, [None if v is None else str(v) for v in values])
    return pl.DataFrame(columns).with_columns(pl.col(LINE).cast(pl.Int64))
