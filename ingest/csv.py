"""CSV event logs (plain or gzipped, UTF-8 or a declared encoding), read in batches.

Polars reads the file; where it cannot (a row with more fields than the header, bytes that
are not UTF-8), the rest of the file is read by Python's csv module, which names the row
and refuses only it. Nothing is changed silently: a row that cannot be read as it is
becomes a reject with its line and the reason.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from ingest.batch import LINE, PROBLEM, Batch, from_frames
from ingest.errors import EmptySource, IngestError, first_line
from ingest.formats import plain_file, sniff
from ingest.mapping import ColumnMapping
from ingest.options import ParseOptions, Tuning

_SEPARATORS = (",", ";", "\t", "|")
_NOT_UTF8 = re.compile("[\udc80-\udcff]+")


def read(
    source: Path,
    *,
    mapping: ColumnMapping | None = None,
    options: ParseOptions | None = None,
    skip_rows: int = 0,
) -> Iterator[Batch]:
    """Yield batches of events in the vocabulary of DESIGN.md, with the rows refused.

    The first batch fixes the column mapping (``Batch.events`` columns show it). Rows before
    ``skip_rows`` are read (their derived ids count) but not yielded: a resumed job skips
    what it already committed.
    """
    options = options or ParseOptions()
    source = Path(source)
    sniff(source)
    with plain_file(source, encoding=options.encoding) as plain:
        with plain.open("rb") as handle:
            head = handle.read(65_536)
        separator = _separator(source, head)
        columns = _header(source, plain, separator, timed=options.timed)
        names = _column_names(columns)
        frames = (
            _drop_index_column(raw, names[0]) if columns[0] == "" else raw
            for raw in _tables(plain, separator, names, options.tuning)
        )
        try:
            yield from from_frames(
                frames, source, mapping=mapping, options=options, skip_rows=skip_rows
            )
        except pl.exceptions.PolarsError as error:
            raise IngestError(f"{source}: not a readable CSV file ({first_line(error)})") from error
        except EmptySource:
            raise EmptySource(
                f"{source}: has a header ({', '.join(columns)}) but no rows"
            ) from None


def _column_names(header: list[str]) -> list[str]:
    """Names for the header's columns: a column without one is called by its place
    (``column_3``), a repeated name gets its place too (``amount_5``).

    >>> _column_names(["", "case", "amount", "amount", " "])
    ['column_1', 'case', 'amount', 'amount_4', 'column_5']
    """
    names: list[str] = []
    for index, name in enumerate(header, start=1):
        if not name.strip():
            name = f"column_{index}"
        elif name in names:
            name = f"{name}_{index}"
        while name in names:
            name = f"{name}_"
        names.append(name)
    return names


def _tables(
    plain: Path, separator: str, names: list[str], tuning: Tuning
) -> Iterator[pl.DataFrame]:
    """The rows as string tables of ``tuning.batch_rows`` rows with their `LINE`: Polars first; from
    the first row it cannot read, Python's csv module.

    The file is read a few megabytes of whole records at a time, each parsed as it is
    needed: the whole file is never in memory (Polars' own batched reader runs ahead of
    its reader to the end of the file)."""
    schema = dict.fromkeys(names, pl.String)
    done = 0
    waiting: list[pl.DataFrame] = []
    count = 0
    try:
        for chunk in _records(plain, tuning.record_bytes):
            raw = pl.read_csv(
                chunk,
                has_header=False,
                schema=schema,
                separator=separator,
                row_index_name=LINE,
                row_index_offset=2 + done + count,
                truncate_ragged_lines=False,
                encoding="utf8",
            )
            waiting.append(raw)
            count += raw.height
            while count >= tuning.batch_rows:
                rows = pl.concat(waiting)
                table, rest = rows.head(tuning.batch_rows), rows.slice(tuning.batch_rows)
                waiting, count = [rest], rest.height
                done += table.height
                yield table
        if count:
            table = pl.concat(waiting)
            done += table.height
            yield table
    except pl.exceptions.ComputeError as error:
        if not _python_can_read(error):
            raise
        yield from _python_tables(plain, separator, names, skip=done, batch_rows=tuning.batch_rows)


def _records(plain: Path, size: int) -> Iterator[bytes]:
    """The file after its header record, in pieces of whole records of about ``size`` bytes
    (read and parsed one at a time): a record ends at a
    newline outside quotes (a quote inside a quoted field is doubled, so the quotes before
    a record's end are even)."""
    with plain.open("rb") as handle:
        carry = b""
        header = True
        while True:
            data = handle.read(size)
            block = carry + data if carry else data
            if not data:
                if block and not header:
                    yield block
                return
            end = _records_end(block, first=header)
            if not end:
                carry = block  # no whole record yet: read on
                continue
            if header:
                block, header = block[end:], False
                end = _records_end(block)
            if end:
                yield block[:end]
            carry = block[end:]


def _records_end(block: bytes, *, first: bool = False) -> int:
    """Where the last (or, ``first``, the first) whole record in ``block`` ends; 0 if none
    does."""
    quoted = b'"' in block
    end = block.find(b"\n") if first else block.rfind(b"\n")
    while end >= 0:
        if not quoted or block.count(b'"', 0, end) % 2 == 0:
            return end + 1
        end = block.find(b"\n", end + 1) if first else block.rfind(b"\n", 0, end)
    return 0


def _python_can_read(error: Exception) -> bool:
    text = str(error).lower()
    return "utf-8" in text or "utf8" in text or "fields" in text


def _python_tables(
    plain: Path, separator: str, columns: list[str], *, skip: int, batch_rows: int
) -> Iterator[pl.DataFrame]:
    """Rows after the first ``skip``, read by Python's csv module: a row with more fields
    than the header, or with bytes that are not UTF-8, is refused with its reason (`PROBLEM`)
    instead of failing the file; a row with fewer fields has the missing ones empty."""
    width = len(columns)
    with plain.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape", newline="")
        reader = csv.reader(text, delimiter=separator)
        next(reader, None)
        values: list[list[str | None]] = [[] for _ in range(width)]
        lines: list[int] = []
        problems: list[str | None] = []
        for number, row in enumerate(reader, start=2):
            if number - 2 < skip:
                continue
            problem = _problem(row, columns)
            fields: list[str | None] = (
                [None] * width if problem else [*row, *([None] * (width - len(row)))]
            )
            for column, value in zip(values, fields, strict=True):
                column.append(value or None)
            lines.append(number)
            problems.append(problem)
            if len(lines) >= batch_rows:
                yield _table(columns, values, lines, problems)
                values, lines, problems = [[] for _ in range(width)], [], []
        if lines:
            yield _table(columns, values, lines, problems)


def _problem(row: list[str], columns: list[str]) -> str | None:
    """Why a row cannot be imported as it is, or None."""
    if len(row) > len(columns):
        return (
            f"{len(row)} fields where the header has {len(columns)}: a separator or quote"
            " out of place"
        )
    for name, value in zip(columns, row, strict=False):
        bad = _NOT_UTF8.search(value)
        if bad:
            raw = bad.group().encode("utf-8", errors="surrogateescape")
            return (
                f"column {name!r} holds bytes that are not UTF-8 ({raw.hex(' ')}); give the"
                " file's encoding with --encoding (e.g. latin-1 or cp1252)"
            )
    return None


def _table(
    columns: list[str],
    values: list[list[str | None]],
    lines: list[int],
    problems: list[str | None],
) -> pl.DataFrame:
    data: dict[str, pl.Series] = {
        name: pl.Series(name, column, dtype=pl.String)
        for name, column in zip(columns, values, strict=True)
    }
    data[LINE] = pl.Series(LINE, lines, dtype=pl.Int64)
    data[PROBLEM] = pl.Series(PROBLEM, problems, dtype=pl.String)
    return pl.DataFrame(data)


def _separator(source: Path, head: bytes) -> str:
    first = head.decode("utf-8", errors="replace").splitlines()[0] if head else ""
    counts = {sep: first.count(sep) for sep in _SEPARATORS}
    best = max(counts, key=lambda sep: counts[sep])
    if counts[best] == 0:
        raise IngestError(
            f"{source}: line 1 has no column separator (, ; tab |): not a CSV event log"
        )
    return best


def header(source: Path, *, encoding: str = "utf-8") -> list[str]:
    """The columns of a CSV file, as its first line names them."""
    with plain_file(source, encoding=encoding) as plain:
        with plain.open("rb") as handle:
            head = handle.read(65_536)
        return _header(source, plain, _separator(source, head))


def _header(source: Path, plain: Path, separator: str, *, timed: bool = True) -> list[str]:
    with plain.open(encoding="utf-8", errors="replace", newline="") as handle:
        row = next(csv.reader(handle, delimiter=separator), [])
    if len(row) < (3 if timed else 2):
        raise IngestError(
            f"{source}: line 1 has {len(row)} column(s); an event log needs at least a case, "
            + (
                "an activity and a timestamp (a log without times imports with --no-times)"
                if timed
                else "and an activity"
            )
        )
    return row


def _drop_index_column(raw: pl.DataFrame, first: str) -> pl.DataFrame:
    """Drop the unnamed leading column if it only counts rows (a pandas index written to
    CSV); otherwise it is an attribute like any other."""
    values = raw[first].cast(pl.Int64, strict=False)
    if values.null_count() == 0 and (values.diff().drop_nulls() == 1).all():
        return raw.drop(first)
    return raw
