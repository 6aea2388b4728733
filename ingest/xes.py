"""XES event logs (plain or gzipped): rustxes first, a streaming lxml parser when it cannot.

rustxes parses a whole file into Polars at once and fast; on a file it cannot read (broken
XML, a truncated download) it panics without saying where. Then the streaming parser reads
the file again, yields every complete trace before the fault, and names the line.
"""

from __future__ import annotations

import os
import tempfile
import zlib
from collections.abc import Iterator
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
    try:
        with plain_file(source) as plain:  # a gzipped file is decompressed within a bound
            frame = _rustxes(plain)
    except TooLarge:
        raise
    except IngestError:  # a truncated download: the streaming parser keeps what it can
        frame = None
    rows = _rows_of(frame) if frame is not None else _stream(source)
    options = options or ParseOptions()
    chosen = _chosen(mapping)
    if not options.timed:
        chosen = replace(chosen, timestamp=None)
    # XES dates carry their offsets and both parsers return UTC: --timezone does not apply.
    utc = replace(options, timezone="UTC")
    yield from from_frames(
        _with_activity(rows, chosen, source),
        source,
        mapping=chosen,
        options=utc,
        skip_rows=skip_rows,
        infer_types=False,
    )


def _with_activity(
    rows: Iterator[pl.DataFrame], chosen: ColumnMapping, source: Path
) -> Iterator[pl.DataFrame]:
    """The tables, after checking the first one has the activity attribute at all."""
    first = True
    for raw in rows:
        if first and chosen.activity not in raw.columns:
            raise IngestError(
                f"{source}: no event has a {chosen.activity} (the activity); "
                "name another attribute with --activity"
            )
        first = False
        yield raw


def _chosen(mapping: ColumnMapping | None) -> ColumnMapping:
    """XES's standard keys, where the user chose nothing else."""
    given = (mapping or ColumnMapping()).as_dict()
    return ColumnMapping(**{**XES_MAPPING.as_dict(), **given})


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


def _rows_of(frame: pl.DataFrame) -> Iterator[pl.DataFrame]:
    """rustxes's frame in batches, with each event's trace and position for messages."""
    case = "case:concept:name"
    if case in frame.columns:
        trace = (pl.col(case) != pl.col(case).shift(1)).fill_null(True).cum_sum()
    else:
        trace = pl.lit(1, dtype=pl.UInt32)
    frame = (
        frame.with_columns(
            pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(LINE),
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
