"""How a source is read: the options a user sets (time zone, day-first dates, encoding,
whether it has times)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ParseOptions:
    """How to read times: the zone of naive timestamps (an IANA name or a fixed offset such
    as ``+02:00``, see `check_timezone`), and day-first dates."""

    timezone: str = "UTC"
    dayfirst: bool = False
    encoding: str = "utf-8"  # of text formats (CSV, JSON lines); XML declares its own
    timed: bool = True  # False: the log has no times; events keep the order of the file
