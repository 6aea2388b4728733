"""Which format a file holds, told from its content; the name only breaks ties."""

from __future__ import annotations

import codecs
import gzip
import json
import os
import shutil
import sqlite3
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Final, cast

from ingest.errors import IngestError


def _gzip() -> tuple[Any, type[Exception]]:
    """ISA-L's gzip, which decompresses three to four times faster than zlib, and its error
    for corrupt data; the standard library's on a platform without its wheels."""
    try:
        from isal import igzip, isal_zlib
    except ImportError:
        return gzip, zlib.error
    return igzip, cast(type[Exception], isal_zlib.error)


_GZIP, _GZIP_ERROR = _gzip()

#: Every format `workbench ingest` reads, with the name it is shown under.
FORMATS: Final = {
    "csv": "CSV",
    "xes": "XES",
    "parquet": "Parquet",
    "arrow": "Arrow IPC",
    "jsonl": "JSON lines (CloudEvents or plain)",
    "ocel2-json": "OCEL 2.0 JSON",
    "ocel2-xml": "OCEL 2.0 XML",
    "ocel2-sqlite": "OCEL 2.0 SQLite",
    "ocel1-json": "OCEL 1.0 JSON",
    "ocel1-xml": "OCEL 1.0 XML",
    "ocel1-csv": "OCEL 1.0 CSV",
}


#: A gzipped file may not decompress to more than this many times its own size (and at
#: least `MIN_EXPANDED` bytes are always allowed): a bound on what a decompression bomb
#: costs. Real logs expand 5 to 30 times; WORKBENCH_MAX_EXPANSION raises the bound.
MAX_EXPANSION: Final = int(os.environ.get("WORKBENCH_MAX_EXPANSION", "100"))
MIN_EXPANDED: Final = 256 * 1024 * 1024


def expansion_limit(path: Path) -> int:
    """How many bytes a gzipped file may decompress to."""
    return max(MIN_EXPANDED, MAX_EXPANSION * path.stat().st_size)


def copy_range(source: int, target: int, offset: int, count: int) -> None:
    """``count`` bytes of the file ``source`` from ``offset`` appended to ``target``."""
    while count > 0:
        try:
            done = os.copy_file_range(source, target, count, offset)
        except OSError:  # a file system without it: through memory
            done = os.write(target, os.pread(source, min(count, 1 << 24), offset))
        if done <= 0:
            raise OSError(f"could not copy {count} bytes")
        offset += done
        count -= done


def is_gzipped(path: Path) -> bool:
    """Whether a file starts with gzip's magic bytes."""
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


class TooLarge(IngestError):
    """A compressed file that expands beyond the bound (`expansion_limit`)."""


class Bounded:
    """A binary stream that refuses to give more than ``limit`` bytes (a decompression
    bound): reading past it raises `IngestError` naming the file."""

    def __init__(self, stream: IO[bytes] | gzip.GzipFile, limit: int, source: Path) -> None:
        self.stream, self.limit, self.source, self.count = stream, limit, source, 0

    def _counted(self, data: bytes) -> bytes:
        self.count += len(data)
        if self.count > self.limit:
            raise TooLarge(
                f"{self.source}: decompresses to more than {self.limit:,} bytes"
                f" ({MAX_EXPANSION} times its size); refused as a possible decompression"
                " bomb (set WORKBENCH_MAX_EXPANSION to allow more)"
            )
        return data

    def _capped(self, size: int) -> int:
        """Never read more than one byte past the bound, whatever was asked."""
        room = self.limit - self.count + 1
        return room if size < 0 or size > room else size

    def read(self, size: int = -1) -> bytes:
        try:
            return self._counted(self.stream.read(self._capped(size)))
        except _GZIP_ERROR as error:  # corrupt data, said as zlib says it
            raise zlib.error(str(error)) from error

    def readline(self, size: int = -1) -> bytes:
        try:
            return self._counted(self.stream.readline(self._capped(size)))
        except _GZIP_ERROR as error:
            raise zlib.error(str(error)) from error

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line

    def close(self) -> None:
        self.stream.close()


@contextmanager
def open_binary(path: Path) -> Iterator[IO[bytes] | Bounded]:
    """The file's bytes, decompressed (within `expansion_limit`) if it is gzipped."""
    if not is_gzipped(path):
        with path.open("rb") as plain:
            yield plain
        return
    with _GZIP.open(path, "rb") as compressed:
        yield Bounded(compressed, expansion_limit(path), path)


@contextmanager
def plain_file(path: Path, *, encoding: str = "utf-8") -> Iterator[Path]:
    """A plain UTF-8 copy of a file that is gzipped (decompressed within the bound) or in
    another encoding; the file itself when it is neither. The copy is removed afterwards."""
    if encoding.lower().replace("_", "-") in ("utf-8", "utf8") and not is_gzipped(path):
        yield path
        return
    descriptor, name = tempfile.mkstemp(suffix=path.suffix.removesuffix(".gz") or ".txt")
    copy = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as target, open_binary(path) as source:
            if encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
                shutil.copyfileobj(source, target, 1 << 20)
            else:
                _transcode(source, target, encoding, path)
        yield copy
    except (OSError, EOFError, zlib.error) as error:
        raise IngestError(f"{path}: the gzip data is corrupt or truncated ({error})") from error
    finally:
        copy.unlink(missing_ok=True)


def _transcode(source: IO[bytes] | Bounded, target: IO[bytes], encoding: str, path: Path) -> None:
    try:
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    except LookupError:
        raise IngestError(f"unknown encoding {encoding!r} (e.g. utf-8, latin-1, cp1252)") from None
    offset = 0
    while block := source.read(1 << 20):
        try:
            target.write(decoder.decode(block).encode("utf-8"))
        except UnicodeDecodeError as error:
            raise IngestError(
                f"{path}: byte {offset + error.start:,} is not {encoding} ({error.reason});"
                " give the file's encoding with --encoding"
            ) from None
        offset += len(block)
    target.write(decoder.decode(b"", final=True).encode("utf-8"))


def sniff(path: Path) -> bytes:
    """The first 64 KiB of the file, decompressed if it is gzipped."""
    if not path.exists():
        raise IngestError(f"{path}: no such file")
    if path.is_dir():
        raise IngestError(f"{path}: is a directory, not a file")
    try:
        with path.open("rb") as handle:
            head = handle.read(65_536)
    except OSError as error:
        raise IngestError(f"{path}: cannot be read ({error.strerror})") from error
    if head[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as handle:
                return handle.read(65_536)
        except EOFError as error:  # truncated: what decompresses may still be a valid start
            with gzip.open(path, "rb") as handle:
                start = _read_what_decompresses(handle)
            if not start:
                raise IngestError(f"{path}: the gzip data is corrupt or truncated") from error
            return start
        except (OSError, zlib.error) as error:
            raise IngestError(f"{path}: the gzip data is corrupt ({error})") from error
    return head


def _read_what_decompresses(handle: gzip.GzipFile) -> bytes:
    chunks = []
    try:
        while chunk := handle.read(4096):
            chunks.append(chunk)
    except (EOFError, OSError, zlib.error):
        pass
    return b"".join(chunks)


def detect_format(path: Path, head: bytes) -> str:
    """The format of a file from its first bytes (see `sniff`), or an `IngestError`."""
    if not head.strip():
        raise IngestError(f"{path}: the file is empty")
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"ARROW1") or head.startswith(b"\xff\xff\xff\xff"):
        return "arrow"
    if head.startswith(b"SQLite format 3\x00"):
        return _sqlite_kind(path)
    if head.startswith(b"PK\x03\x04"):
        raise IngestError(f"{path}: a ZIP archive; unpack it and import the log inside")
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"<"):
        return _xml_kind(path, text)
    if text.startswith((b"{", b"[")):
        return _json_kind(path, text)
    if b"\x00" in head or _binary(head):
        raise IngestError(f"{path}: binary content that is not an event log Workbench reads")
    header = text.split(b"\n", 1)[0]
    if b"ocel:eid" in header and b"ocel:type:" in header:
        return "ocel1-csv"
    return "csv"


def _binary(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 4:  # not just a character cut at the end of the sniff
            controls = sum(byte < 9 or 13 < byte < 32 for byte in head)
            return controls > len(head) // 100
    return False


def _xml_kind(path: Path, text: bytes) -> str:
    # OCEL 1.0 XML: a <log> with log-scoped globals, events keyed id/activity/timestamp and
    # their object maps; XES has trace and event globals only, and <trace> elements.
    ocel1 = (b'scope="log"', b"scope='log'", b'key="omap"', b"key='omap'", b'key="ovmap"')
    if any(mark in text for mark in ocel1) and b"<trace" not in text:
        return "ocel1-xml"
    if b"<object-types" in text or b"<objects>" in text or b"<object " in text:
        return "ocel2-xml"
    if b"<log" in text or b"<trace" in text:
        return "xes"
    raise IngestError(f"{path}: XML, but neither XES (<log>, <trace>) nor OCEL XML")


def _json_kind(path: Path, text: bytes) -> str:
    if b'"ocel:events"' in text or b'"ocel:global-log"' in text or b'"ocel:objects"' in text:
        return "ocel1-json"
    if b'"objectTypes"' in text or b'"eventTypes"' in text:
        return "ocel2-json"
    first = text.split(b"\n", 1)[0].strip()
    try:
        json.loads(first)
    except RecursionError:  # nested too deeply: JSON lines, whose reader refuses the line
        return "jsonl"
    except ValueError:
        # A broken first line is still JSON lines when the name or the next lines say so:
        # the reader then names the broken lines.
        named = any(suffix in (".jsonl", ".ndjson") for suffix in path.suffixes)
        lines = [line.strip() for line in text.splitlines()[:20] if line.strip()]
        if not (named or (len(lines) > 1 and all(line.startswith(b"{") for line in lines))):
            raise IngestError(
                f"{path}: JSON, but neither JSON lines (one object a line) nor OCEL"
            ) from None
    return "jsonl"


def _sqlite_kind(path: Path) -> str:
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        raise IngestError(f"{path}: a damaged SQLite file ({error})") from error
    if {"event", "object", "event_object"} <= tables:
        return "ocel2-sqlite"
    if {"events", "logs"} <= tables:
        raise IngestError(f"{path}: a Workbench store; open it with --db instead of importing")
    raise IngestError(f"{path}: a SQLite database without the OCEL 2.0 tables")
