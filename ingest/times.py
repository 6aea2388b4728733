"""Times in sources: time zones and fixed offsets, naive times read in a zone, and the
formats times are written in."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Final

import polars as pl

from ingest.errors import IngestError
from ingest.options import ParseOptions

_FIXED_OFFSET: Final = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)


def fixed_offset(timezone: str) -> timedelta | None:
    """The offset of a fixed-offset zone (``+02:00``, ``-0530``, ``UTC+2``), else None.

    >>> fixed_offset("+02:00"), fixed_offset("UTC-5"), fixed_offset("Europe/Paris")
    (datetime.timedelta(seconds=7200), datetime.timedelta(days=-1, seconds=68400), None)
    """
    found = _FIXED_OFFSET.match(timezone.strip())
    if found is None:
        return None
    sign, hours, minutes = found.groups()
    offset = timedelta(hours=int(hours), minutes=int(minutes or 0))
    return -offset if sign == "-" else offset


def check_timezone(timezone: str) -> str:
    """A time zone for naive times: an IANA name (``Europe/Amsterdam``) or a fixed offset
    up to 14 hours (``+02:00``); else `IngestError`."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    offset = fixed_offset(timezone)
    if offset is not None:
        if abs(offset) > timedelta(hours=14):
            raise IngestError(f"time zone offset {timezone!r} is beyond ±14:00")
        return timezone.strip()
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise IngestError(
            f"unknown time zone {timezone!r} (use an IANA name such as Europe/Amsterdam, UTC,"
            " or a fixed offset such as +02:00)"
        ) from None
    return timezone


def localize(values: pl.Series, timezone: str) -> pl.Series:
    """Naive datetimes read in a zone (or at a fixed offset), as UTC microseconds.

    An ambiguous time (the hour the clocks go back) is read as the earlier one; a time that
    does not exist in the zone (the hour the clocks go forward) becomes null, and the
    importer says why (`gap_reason`).
    """
    values = values.dt.cast_time_unit("us")
    offset = fixed_offset(timezone)
    if offset is not None:
        return values.dt.replace_time_zone("UTC") - offset
    return values.dt.replace_time_zone(
        timezone, ambiguous="earliest", non_existent="null"
    ).dt.convert_time_zone("UTC")


# Formats tried on timestamps: ISO 8601 with `T` or a space, with an offset (`%#z` also
# reads `Z`) or without, then the usual local notations.
_OFFSET_FORMATS: Final = (
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M%#z",
    "%Y-%m-%d %H:%M%#z",
)


_ISO_FORMATS: Final = (
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
)


_DAYFIRST: Final = (
    "%d/%m/%Y %H:%M:%S%.f",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%d-%m-%Y %H:%M:%S%.f",
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y",
    "%d.%m.%Y %H:%M:%S%.f",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
)


_MONTHFIRST: Final = (
    "%m/%d/%Y %H:%M:%S%.f",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y",
)


def parse_times(values: pl.Series, options: ParseOptions) -> pl.Series:
    """Parse strings to UTC datetimes (microseconds); unparseable values become null.

    Offsets are honoured; naive times are read in ``options.timezone``. The format is chosen
    on the first values and the others are tried only on what it leaves unparsed, so a
    column in one format costs one pass.

    >>> parse_times(pl.Series(["2024-01-01T10:00:00+01:00", "2024-01-01 10:00"]),
    ...             ParseOptions()).to_list()  # doctest: +NORMALIZE_WHITESPACE
    [datetime.datetime(2024, 1, 1, 9, 0, tzinfo=zoneinfo.ZoneInfo(key='UTC')),
     datetime.datetime(2024, 1, 1, 10, 0, tzinfo=zoneinfo.ZoneInfo(key='UTC'))]
    """
    text = values.cast(pl.String)
    naive = _DAYFIRST if options.dayfirst else _MONTHFIRST
    formats = [*_OFFSET_FORMATS, *_ISO_FORMATS, *naive]
    head = text.drop_nulls().head(50)
    formats.sort(key=lambda fmt: -_parse(head, fmt, options).count())
    result = _parse(text, formats[0], options)
    for fmt in formats[1:]:
        unparsed = result.is_null() & text.is_not_null()
        if not unparsed.any():
            break
        result = result.zip_with(~unparsed, _parse(text, fmt, options))
    return result


def _parse(text: pl.Series, fmt: str, options: ParseOptions) -> pl.Series:
    utc = pl.Datetime("us", "UTC")
    if "z" in fmt:
        parsed = text.str.to_datetime(fmt, strict=False, time_unit="us")
        if not isinstance(parsed.dtype, pl.Datetime) or parsed.dtype.time_zone is None:
            return parsed.cast(utc)
        return parsed.dt.convert_time_zone("UTC")
    parsed = text.str.to_datetime(fmt, strict=False, time_unit="us", exact=True)
    return localize(parsed, options.timezone).cast(utc)
