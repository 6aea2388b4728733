"""The hand-off pipeline of the XES line parser: a reader thread that unpacks the file a few
chunks ahead, cuts it into pieces of whole traces and parses each (`ingest.xes.lines`, or
rustxes for a piece it declines) while the caller writes the pieces before."""

from __future__ import annotations

import contextlib
import queue
import re
import threading
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Generic, TypeVar

import polars as pl

from ingest.errors import IngestError
from ingest.formats import Bounded, TooLarge, open_binary
from ingest.xes.lines import SIX_FIELDS, defaults, lean_header, parse_lines

T = TypeVar("T")


class Handoff(ABC, Generic[T]):
    """A thread of its own that hands items over through a bounded queue, and stops (its
    queue drained) when the caller needs no more."""

    def __init__(self, name: str, depth: int) -> None:
        self._queue: queue.Queue[T | BaseException] = queue.Queue(maxsize=depth)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @abstractmethod
    def _run(self) -> None:
        """The thread's work: hand items over (`_put`) until done or stopped."""

    def _put(self, item: T | BaseException) -> bool:
        """Hand an item over, unless the caller has stopped; whether it was handed."""
        while not self._stopped.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def close(self) -> None:
        """Stop (the caller needs no more); returns when the thread has ended."""
        self._stopped.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.05)
        self._thread.join()


class Reader(Handoff[pl.DataFrame | None]):
    """The events of an XES file as frames, read, cut into pieces of whole traces and parsed
    (`parse`) on a thread of their own while the caller converts and writes the frames
    before.

    A piece `parse` declines is parsed by rustxes (``fallback``: the piece as XES text,
    its events or None). The reader stops early, with `complete` false, where it cannot go
    on safely: a header it does not read, a first piece it declines, a comment or CDATA
    section among the traces, a piece rustxes cannot read either, or a broken or
    truncated file; the caller reads the rest another way. A decompression bomb
    (`TooLarge`) is raised to the caller.
    """

    def __init__(
        self,
        source: Path,
        fallback: Callable[[bytes], pl.DataFrame | None],
        *,
        first_piece: int = 1 << 20,
        largest_piece: int = 64 << 20,
        piece_events: int = 50_000,
    ) -> None:
        self.source = source
        self.fallback = fallback
        self.first_piece, self.largest_piece = first_piece, largest_piece
        self.piece_events = piece_events
        self.complete = False
        super().__init__("xes-reader", depth=2)
        self._thread.start()

    def __iter__(self) -> Iterator[pl.DataFrame]:
        while (item := self._queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
        self._thread.join()

    def _run(self) -> None:
        try:
            self.complete = self._read()
        except TooLarge as error:
            self._put(error)
            return
        except (OSError, EOFError, zlib.error, IngestError, pl.exceptions.PolarsError):
            self.complete = False  # a broken file: the caller reads again, and says where
        except BaseException as error:  # a fault of the reader's own: the caller raises it
            self._put(error)
            return
        self._put(None)

    def _read(self) -> bool:
        with open_binary(self.source) as stream:
            ahead = _Ahead(stream)  # unpacked on a thread of its own, while pieces are parsed
            try:
                return self._pieces(ahead)
            finally:
                ahead.close()

    def _pieces(self, ahead: _Ahead) -> bool:
        chunks: list[bytes] = []
        # The header: all before the first trace (megabytes, in some), searched for it in
        # the last two chunks each time, so that a tag split between them is found.
        while (found := _TRACE.search(tail := b"".join(chunks[-2:]))) is None:
            more = ahead.take(1)
            if not more:
                return False  # no trace: the caller says what the file is
            chunks.extend(more)
        data = b"".join(chunks)
        start = len(data) - len(tail) + found.start()
        header = data[:start]
        known = defaults(header)
        if known is None:
            return False
        lean = lean_header(header)
        size, largest, first = self.first_piece, self.largest_piece, True
        # The text not yet parsed: the start of a trace, then whole chunks unpacked since.
        pending: list[bytes] = [data[start:]]
        while not self._stopped.is_set():
            more = ahead.take(size)
            ended = not more
            if ended:  # what is pending ends the file
                block = b"".join(pending)
                cut = _after_last_trace(block)
                if not _TAIL.fullmatch(block, cut):
                    return False  # something after the last trace besides </log>
                if not cut:
                    return True
                more, pending = [block], []
            last = len(more) - 1  # the chunk where the last complete trace ends
            while last >= 0 and not (cut := _after_last_trace(more[last])):
                last -= 1
            if last < 0:
                pending.extend(more)  # one trace longer than the piece: read on
                size = min(2 * size, largest)
                continue
            # One copy: the piece, after the line that tells the reader its fields.
            before = memoryview(more[last])[:cut]
            lines = b"".join((SIX_FIELDS, *pending, *more[:last], before))
            pending = [more[last][cut:], *more[last + 1 :]]
            if len(lines) > len(SIX_FIELDS):
                frame = parse_lines(lines, known)
                # A piece `parse_lines` takes has no "<" but in its tags, so no comment or
                # CDATA section: only a piece it declines is searched for them.
                if frame is None and (first or b"<!--" in lines or b"<![CDATA[" in lines):
                    # Not the plain case from the start, or a comment, which may hide
                    # anything, even a cut: the caller's parsers read it.
                    return False
                if frame is None:
                    piece = memoryview(lines)[len(SIX_FIELDS) :]
                    frame = self.fallback(b"".join((lean, piece, b"</log>\n")))
                if frame is None:
                    return False
                if not self._put(frame):
                    return False
                if first:  # pieces of at most about `piece_events` events from here on
                    per_event = len(lines) // frame.height
                    largest = max(min(per_event * self.piece_events, largest), size)
                first = False
            if ended:
                return True
            size = min(2 * size, largest)
        return False


class _Ahead(Handoff[bytes]):
    """A stream read on a thread of its own, a few chunks ahead of the caller (unpacking a
    gzipped file releases the GIL, so it overlaps with parsing)."""

    CHUNK = 2 << 20

    def __init__(self, stream: IO[bytes] | Bounded) -> None:
        super().__init__("xes-unpack", depth=4)
        self._stream = stream
        self._ended = False
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stopped.is_set():
                data = self._stream.read(self.CHUNK)
                self._put(data)
                if not data:
                    return
        except BaseException as error:  # raised to the caller, in its turn
            self._put(error)

    def take(self, size: int) -> list[bytes]:
        """Chunks of at least ``size`` bytes in all, fewer at the end; none after it."""
        taken: list[bytes] = []
        count = 0
        while count < size and not self._ended:
            item = self._queue.get()
            if isinstance(item, BaseException):
                raise item
            if not item:
                self._ended = True
                break
            taken.append(item)
            count += len(item)
        return taken


_TRACE = re.compile(rb"<trace[\s>]")
_TAIL = re.compile(rb"\s*(?:</log>\s*)?")


def _after_last_trace(data: bytes) -> int:
    """Where the line ending the last complete trace in ``data`` ends (0 if none does)."""
    found = data.rfind(b"</trace>")
    if found < 0:
        return 0
    end = data.find(b"\n", found)
    return len(data) if end < 0 else end + 1
