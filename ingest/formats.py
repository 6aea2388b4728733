"""Which format a file holds, told from its content first and its name second."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import Final

from ingest.mapping import IngestError

FORMATS: Final = ("csv",)
# Formats recognised by content that this version cannot import yet, with their names.
_RECOGNISED: Final = {
    "parquet": "Parquet",
    "xes": "XES (XML)",
    "sqlite": "SQLite",
    "json": "JSON",
    "zip": "ZIP archive",
    "arrow": "Arrow IPC",
}


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
        except (OSError, EOFError, zlib.error) as error:
            raise IngestError(f"{path}: the gzip data is corrupt or truncated ({error})") from error
    return head


def detect_format(path: Path, head: bytes) -> str:
    """The format of a file from its first bytes (see `sniff`), or an `IngestError`."""
    if not head.strip():
        raise IngestError(f"{path}: the file is empty")
    kind = _by_content(head)
    if kind == "text":
        return "csv"
    if kind in _RECOGNISED:
        raise IngestError(
            f"{path}: the content is {_RECOGNISED[kind]}, which this version cannot import "
            f"(formats: {', '.join(FORMATS)})"
        )
    raise IngestError(f"{path}: binary content that is not an event log this version can import")


def _by_content(head: bytes) -> str:
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"SQLite format 3\x00"):
        return "sqlite"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"ARROW1"):
        return "arrow"
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"<"):
        return "xes"
    if text.startswith(b"{") or (
        text.startswith(b"[") and text[1:].lstrip()[:1] in (b"{", b"]", b'"')
    ):
        return "json"
    if b"\x00" in head:
        return "binary"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 4:  # not just a character cut at the end of the sniff
            try:
                head.decode("latin-1")
            except UnicodeDecodeError:
                return "binary"
    return "text"
