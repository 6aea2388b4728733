"""The streaming fallback: an lxml parser that reads what rustxes cannot (a broken or
truncated file), keeps every complete trace before the fault and names the line."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

from ingest.batch import LINE, PLACE
from ingest.errors import IngestError
from ingest.formats import open_binary
from ingest.options import ParseOptions
from ingest.times import parse_times
from ingest.values import typed_value

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


def stream_tables(source: Path, size: int) -> Iterator[pl.DataFrame]:
    """Parse the file with lxml's iterparse, one complete trace at a time, in tables of
    about ``size`` rows.

    Raises `IngestError` naming the line of the first fault, after yielding every complete
    trace before it.
    """
    from lxml import etree

    rows: list[dict[str, Any]] = []
    traces = 0
    with open_binary(source) as handle:
        # No entity expansion and no network: an XML bomb stays a small file.
        parser = etree.XMLPullParser(
            events=("start", "end"),
            huge_tree=True,
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
        )
        context = _parsed_events(handle, parser)
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
                    if len(rows) >= size:
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


def _parsed_events(handle: Any, parser: Any) -> Iterator[tuple[str, Any]]:
    """The parser's events as the file is fed to it: every event before a fault is given
    before the fault is raised (lxml's own iterparse, from 6.2, raises a fault found ahead
    in its buffer before giving the events that precede it)."""
    while data := handle.read(_CHUNK):
        try:
            parser.feed(data)
        finally:  # what was parsed before a fault, then the fault
            yield from parser.read_events()
    try:
        parser.close()
    finally:
        yield from parser.read_events()


_CHUNK = 1 << 16


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
