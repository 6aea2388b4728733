"""XES for rustxes in pieces: the file cut at trace boundaries into small XES files, parsed
here or in parser processes (`ingest.xes.worker`) side by side with the writing, and the
whole file when a piece cannot be read alone."""

from __future__ import annotations

import contextlib
import mmap
import os
import re
import subprocess
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from ingest.batch import IN_TRACE, LINE, TRACE
from ingest.errors import IngestError
from ingest.formats import TooLarge, copy_range, is_gzipped, plain_file
from ingest.options import Tuning
from ingest.xes.lines import lean_header
from ingest.xes.stream import stream_tables


def rustxes_text(text: bytes) -> pl.DataFrame | None:
    """A small XES document through rustxes (None when it cannot read it)."""
    descriptor, name = tempfile.mkstemp(suffix=".xes")
    with os.fdopen(descriptor, "wb") as target:
        target.write(text)
    return _parsed(Path(name))


def pieces_parsed(source: Path, tuning: Tuning) -> Generator[pl.DataFrame, None, None]:
    """The log's events as tables, parsed by rustxes.

    rustxes parses a whole file at once, and single-threaded; a large log is cut at trace
    boundaries into pieces, each parsed as a small XES file of its own (the log's header,
    some traces, the closing tag) in ``tuning.xes_parsers`` processes of their own (rustxes
    holds the GIL), so that pieces are parsed side by side while this one is converted and written.
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
    first = tuning.xes_first_piece
    large = size > 3 * first or (size > 3 * first // 8 and is_gzipped(source))
    pool = _Parsers(tuning.xes_parsers) if large else here
    try:
        with plain_file(source) as plain:  # a gzipped file is decompressed within a bound
            pieces = cut_pieces(plain, tuning)
            parsing: deque[Callable[[], pl.DataFrame | None]] = deque()

            def parse_next() -> bool:
                piece = next(pieces, _END)
                if piece is _END:
                    return False
                parsing.append((pool if parsing or given else here).submit(piece))
                return True

            try:
                # Pieces handed over ahead of the one being read: a parser starts on the next
                # as soon as it has written one (a parsed piece waits on disk, not in memory).
                more = all(parse_next() for _ in range(tuning.xes_parsers + 1))
                while parsing:
                    frame = parsing.popleft()()
                    if frame is None:
                        break
                    more = more and parse_next()
                    yield from rows_of(
                        frame, tuning.batch_rows, first_event=given, first_trace=traces
                    )
                    given += frame.height
                    traces += trace_count(frame)
                else:
                    finished = True
            finally:
                for waiting in parsing:  # parsed, but not needed: its files go
                    waiting()
                pieces.close()
            if finished and given:
                return
            frame = parse_whole(plain)  # one piece could not be read alone: the whole file
    except TooLarge:
        raise
    except IngestError:  # a truncated download: the streaming parser keeps what it can
        frame = None
    finally:
        pool.close()
    if frame is not None and frame.height > given:
        yield from rows_of(
            frame.slice(given), tuning.batch_rows, first_event=given, first_trace=traces
        )
    elif frame is None:
        yield from skipped(stream_tables(source, tuning.batch_rows), given)


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
        return parse_whole(piece)
    finally:
        piece.unlink(missing_ok=True)


class _Parsers:
    """``count`` parser processes (`ingest.xes.worker`), each with at most one piece at a
    time: pieces go round, and come back in the order they were given."""

    def __init__(self, count: int) -> None:
        root = str(Path(__file__).resolve().parent.parent.parent)
        path = os.environ.get("PYTHONPATH")
        environment = {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else "")}
        self.processes = [
            subprocess.Popen(
                [sys.executable, "-m", "ingest.xes.worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=environment,
                text=True,
                process_group=0,  # Ctrl-C is for the importer, which stops them
            )
            for _ in range(count)
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


_TRACE = re.compile(rb"<trace[\s>]")


def skipped(tables: Iterator[pl.DataFrame], rows: int) -> Iterator[pl.DataFrame]:
    """The tables without their first ``rows`` rows."""
    for table in tables:
        if rows >= table.height:
            rows -= table.height
            continue
        yield table.slice(rows)
        rows = 0


def cut_pieces(plain: Path, tuning: Tuning) -> Generator[Path | None, None, None]:
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
        # The first piece is small and parsed right here, so that writing starts at once
        # while the parser processes start; the next double in size up to half a batch
        # each, so that the writer never waits long for the next one.
        size = largest = first = tuning.xes_first_piece
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
            if size == first:  # at most about half a batch of events from here on
                events = max(data[start:cut].count(b"<event"), 1)
                largest = min(
                    max((cut - start) * tuning.batch_rows // 2 // events, first),
                    tuning.xes_largest_piece,
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


def trace_count(frame: pl.DataFrame) -> int:
    case = "case:concept:name"
    if case not in frame.columns:
        return 1
    return int((frame[case] != frame[case].shift(1)).fill_null(True).sum())


def parse_whole(source: Path) -> pl.DataFrame | None:
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


def rows_of(
    frame: pl.DataFrame, size: int, *, first_event: int = 0, first_trace: int = 0
) -> Iterator[pl.DataFrame]:
    """rustxes's frame in batches of ``size`` rows, with each event's number and place for messages
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
    for offset in range(0, frame.height, size):
        yield frame.slice(offset, size)
