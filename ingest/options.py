"""How a source is read: the options a user sets (time zone, day-first dates, encoding,
whether it has times), and the sizes the readers work in (`Tuning`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _from_environment(name: str, default: int) -> int:
    given = os.environ.get(name, "")
    return int(given) if given.isdigit() and int(given) > 0 else default


@dataclass(frozen=True)
class Tuning:
    """The sizes the readers work in. Each trades memory for fewer, larger steps; the
    defaults suit every file, and a test passes small ones to reach, on a small file, the
    paths a large one takes (a batch boundary, a piece boundary, a record cut by a read).

    ``batch_rows`` rows are committed together (the unit of progress, of resumption and of
    peak memory; ``WORKBENCH_BATCH_ROWS``). A CSV file is read ``record_bytes`` of whole
    records at a time. XES written one element per line is parsed by the line parser
    (``xes_line_parser``), its first piece ``xes_first_lines`` bytes so that writing starts
    at once; other XES is cut into pieces for rustxes, the first ``xes_first_piece`` bytes,
    doubling up to ``xes_largest_piece``, parsed in ``xes_parsers`` processes
    (``WORKBENCH_XES_PARSERS``).
    """

    batch_rows: int = field(
        default_factory=lambda: _from_environment("WORKBENCH_BATCH_ROWS", 100_000)
    )
    record_bytes: int = 8 << 20
    xes_line_parser: bool = True
    xes_first_lines: int = 1 << 20
    xes_first_piece: int = 2 << 20
    xes_largest_piece: int = 256 << 20
    # One process keeps the writer busy on two cores (writing, not parsing, is the slower
    # half) at the memory of one parsed piece; more only add memory there.
    xes_parsers: int = field(default_factory=lambda: _from_environment("WORKBENCH_XES_PARSERS", 1))


@dataclass(frozen=True)
class ParseOptions:
    """How to read a source: the zone of naive timestamps (an IANA name or a fixed offset
    such as ``+02:00``, see `check_timezone`), day-first dates, the encoding of text, whether
    it has times; and the sizes its reader works in."""

    timezone: str = "UTC"
    dayfirst: bool = False
    encoding: str = "utf-8"  # of text formats (CSV, JSON lines); XML declares its own
    timed: bool = True  # False: the log has no times; events keep the order of the file
    tuning: Tuning = field(default_factory=Tuning)
