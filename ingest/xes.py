"""XES event logs (plain or gzipped): rustxes first, a streaming lxml parser when it cannot.

rustxes parses a whole file into Polars at once and fast; on a file it cannot read (broken
XML, a truncated download) it panics without saying where. Then the streaming parser reads
the file again, yields every complete trace before the fault, and names the line.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import re
import subprocess
import sys
import tempfile
import zlib
from collections import deque
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl

from ingest import batch as batching
from ingest.batch import IN_TRACE, LINE, PLACE, TRACE, Batch, from_frames
from ingest.errors import IngestError
from ingest.formats import TooLarge, copy_range, is_gzipped, open_binary, plain_file
from ingest.mapping import ColumnMapping
from ingest.options import ParseOptions
from ingest.times import parse_times
from ingest.values import typed_value
from ingest.xes_lines import Reader, lean_header

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


# Parser processes: one keeps the writer busy on two cores (writing, not parsing, is the
# slower half) at the memory of one parsed piece; more only add memory there.
PARSERS = int(os.environ.get("WORKBENCH_XES_PARSERS", "1"))
# Pieces handed over ahead of the one being read: a parser starts on the next piece as soon
# as it has written one (a parsed piece waits on disk, not in memory).
AHEAD = PARSERS + 1
# The first piece is small and parsed right here, so that writing starts at once while the
# parser processes start; the next pieces double in size up to half a batch each, so that
# the writer never waits long for the next one.
FIRST_PIECE = 2 << 20
LARGEST_PIECE = 256 << 20
# The line parser (`ingest.xes_lines`) reads logs written one element per line; its first
# piece of text is small, so that writing starts at once.
LINE_PARSER = True
FIRST_LINES = 1 << 20
_TRACE = re.compile(rb"<trace[\s>]")


def _tables(source: Path) -> Generator[pl.DataFrame, None, None]:
    """The log's events as tables in file order, each with its event number (`LINE`) and
    place ("trace 3, event 2").

    A log written one element per line, as most are, is parsed by `ingest.xes_lines` on a
    thread while the tables before are written. What that parser leaves (a log of another
    shape from its start, or the rest of one where it had to stop) is read by rustxes.
    """
    if not LINE_PARSER:
        yield from _pieces_parsed(source)
        return
    reader = Reader(
        source, _rustxes_text, first_piece=FIRST_LINES, piece_events=batching.BATCH_ROWS // 2
    )
    given = traces = 0
    try:
        for frame in reader:
            yield from _rows_of(frame, first_event=given, first_trace=traces)
            given += frame.height
            traces += _trace_count(frame)
    finally:
        reader.close()
    if reader.complete and given:
        return
    if not given:
        yield from _pieces_parsed(source)
        return
    try:
        with plain_file(source) as plain:
            whole = _rustxes(plain)
    except TooLarge:
        raise
    except IngestError:  # a truncated download: the streaming parser keeps what it can
        whole = None
    if whole is not None and whole.height > given:
        yield from _rows_of(whole.slice(given), first_event=given, first_trace=traces)
    elif whole is None:
        yield from _skipped(_stream(source), given)


def _rustxes_text(text: bytes) -> pl.DataFrame | None:
    """A small XES document through rustxes (None when it cannot read it)."""
    descriptor, name = tempfile.mkstemp(suffix=".xes")
    with os.fdopen(descriptor, "wb") as target:
        target.write(text)
    return _parsed(Path(name))


def _pieces_parsed(source: Path) -> Generator[pl.DataFrame, None, None]:
    """The log's events as tables, parsed by rustxes.

    rustxes parses a whole file at once, and single-threaded; a large log is cut at trace
    boundaries into pieces, each parsed as a small XES file of its own (the log's header,
    some traces, the closing tag) in `PARSERS` processes of their own (rustxes holds the
    GIL), so that pieces are parsed side by side while this one is converted and written.
    The first piece, a small one, is parsed here while those processes start. A piece
    rustxes cannot read (a broken file), or a file that cannot be cut, hands over to the
    whole-file parsers, which skip the events already given.
    """
    given = traces = 0
    frame: pl.DataFrame | None = None
    finished = False
    here = _HereParser()
    # Processes pay off from a few pieces on (a gzipped file is several times larger
    # unpacked), and start while a gzipped file is unpacked.
    size = source.stat().st_size
    large = size > 3 * FIRST_PIECE or (size > 3 * FIRST_PIECE // 8 and is_gzipped(source))
    pool = _Parsers() if large else here
    try:
        with plain_file(source) as plain:  # a gzipped file is decompressed within a bound
            pieces = _pieces(plain)
            parsing: deque[Callable[[], pl.DataFrame | None]] = deque()

            def parse_next() -> bool:
                piece = next(pieces, _END)
                if piece is _END:
                    return False
                parsing.append((pool if parsing or given else here).submit(piece))
                return True

            try:
                more = all(parse_next() for _ in range(AHEAD))
                while parsing:
                    frame = parsing.popleft()()
                    if frame is None:
                        break
                    more = more and parse_next()
                    yield from _rows_of(frame, first_event=given, first_trace=traces)
                    given += frame.height
                    traces += _trace_count(frame)
                else:
                    finished = True
            finally:
                for waiting in parsing:  # parsed, but not needed: its files go
                    waiting()
                pieces.close()
            if finished and given:
                return
            frame = _rustxes(plain)  # one piece could not be read alone: the whole file
    except TooLarge:
        raise
    except IngestError:  # a truncated download: the streaming parser keeps what it can
        frame = None
    finally:
        pool.close()
    if frame is not None and frame.height > given:
        yield from _rows_of(frame.slice(given), first_event=given, first_trace=traces)
    elif frame is None:
        yield from _skipped(_stream(source), given)


class _HereParser:
    """Pieces parsed in this process, one by one when their events are asked for."""

    def submit(self, piece: Path | None) -> Callable[[], pl.DataFrame | None]:
        return lambda: _parsed(piece)

    def close(self) -> None:
        pass


def _parsed(piece: Path | None) -> pl.DataFrame | None:
    """A piece parsed (and then removed); None when it could not be read or cut."""
    if piece is None:
        return None
    try:
        return _rustxes(piece)
    finally:
        piece.unlink(missing_ok=True)


class _Parsers:
    """`PARSERS` parser processes (`ingest.xes_worker`), each with at most one piece at a
    time: pieces go round, and come back in the order they were given."""

    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parent.parent)
        path = os.environ.get("PYTHONPATH")
        environment = {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else "")}
        self.processes = [
            subprocess.Popen(
                [sys.executable, "-m", "ingest.xes_worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=environment,
                text=True,
                process_group=0,  # Ctrl-C is for the importer, which stops them
            )
            for _ in range(PARSERS)
        ]
        self.given = 0

    def submit(self, piece: Path | None) -> Callable[[], pl.DataFrame | None]:
        """Hand a piece to the next process; the call returned waits for its events (None:
        the piece could not be read or cut, or the process is gone). The piece and its
        parsed copy are removed when it is read."""
        if piece is None:
            return lambda: None
        process = self.processes[self.given % len(self.processes)]
        self.given += 1
        target = piece.with_suffix(".arrow")
        assert process.stdin is not None
        assert process.stdout is not None
        try:
            process.stdin.write(f"{piece}\t{target}\n")
            process.stdin.flush()
        except OSError:
            piece.unlink(missing_ok=True)
            return lambda: None
        answer = process.stdout

        def result() -> pl.DataFrame | None:
            try:
                rows = answer.readline().strip()
                if not rows.isdigit():
                    return None
                return pl.read_ipc(target)
            finally:
                piece.unlink(missing_ok=True)
                target.unlink(missing_ok=True)

        return result

    def close(self) -> None:
        for process in self.processes:
            with contextlib.suppress(OSError):
                assert process.stdin is not None
                process.stdin.close()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()


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
    each when it has read it); nothing when it has no trace, and None when it cannot be cut
    safely (a comment or CDATA among the traces may hold anything).

    The file is mapped, not read: cuts are found by searching backwards from where a piece
    should end, and each piece's traces are copied by the kernel (``copy_file_range``)."""
    if plain.stat().st_size == 0:
        return
    with plain.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        found = _TRACE.search(data)
        if found is None:
            return
        header = lean_header(data[: found.start()]) + b"\n"
        start = found.start()
        end = data.rfind(b"</log>")
        end = len(data) if end < start else end
        if data.find(b"<!--", start, end) >= 0 or data.find(b"<![CDATA[", start, end) >= 0:
            yield None
            return
        size = largest = FIRST_PIECE
        while start < end:
            cut = end if start + size >= end else _trace_before(data, start, start + size)
            if cut <= start:  # one trace longer than a piece: it ends at the next trace
                after = _TRACE.search(data, start + 1)
                cut = end if after is None or after.start() >= end else after.start()
            descriptor, name = tempfile.mkstemp(suffix=".xes")
            with os.fdopen(descriptor, "wb") as target:
                target.write(header)
                target.flush()
                copy_range(handle.fileno(), target.fileno(), start, cut - start)
                target.write(b"</log>\n")
            yield Path(name)
            if size == FIRST_PIECE:  # at most about half a batch of events from here on
                events = max(data[start:cut].count(b"<event"), 1)
                largest = min(
                    max((cut - start) * batching.BATCH_ROWS // 2 // events, FIRST_PIECE),
                    LARGEST_PIECE,
                )
            size = min(2 * size, largest)
            start = cut


def _trace_before(data: mmap.mmap, low: int, high: int) -> int:
    """Where the last ``<trace`` element starting after ``low`` and before ``high`` starts
    (``low`` when there is none)."""
    while (found := data.rfind(b"<trace", low + 1, high)) > low:
        if _TRACE.match(data, found):
            return found
        high = found
    return low


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
    sink = os.open(os.devnull, os.O_WRONLY)
    os.dup2(sink, 2)
    os.close(sink)
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
    starts = (
        (pl.col(case) != pl.col(case).shift(1)).fill_null(True)
        if case in frame.columns
        else pl.int_range(pl.len()) == 0
    )
    row = pl.int_range(pl.len(), dtype=pl.UInt32)
    frame = frame.with_columns(
        pl.int_range(first_event + 1, first_event + pl.len() + 1, dtype=pl.Int64).alias(LINE),
        (starts.cum_sum().cast(pl.UInt32) + first_trace).alias(TRACE),
        (row - pl.when(starts).then(row).forward_fill() + 1).alias(IN_TRACE),
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
