"""Column mapping for tabular sources: which source column is the case, the activity, the time.

Detection goes by name first (XES keys, the usual export headers), then by content for the
timestamp. Explicit choices always win. Every unmapped column is kept as an attribute, typed
by its content (numbers stay numbers, times stay times).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import timedelta
from typing import Any, Final

import polars as pl

from workbench.events import WorkbenchError


class IngestError(WorkbenchError):
    """A source that cannot be imported; the message names the file and, where known, the place."""


class EmptySource(IngestError):
    """A source that is readable but holds no events."""


class MappingNeeded(IngestError):
    """No column can be told to serve a required role; the user has to name it."""

    FLAGS: Final = {"case_id": "--case", "activity": "--activity", "timestamp": "--timestamp"}

    def __init__(self, source: str, missing: Sequence[str], columns: Sequence[str]) -> None:
        self.source = source
        self.missing = tuple(missing)
        self.columns = tuple(columns)
        what = ", ".join(f"{role} ({self.FLAGS[role]} COLUMN)" for role in self.missing)
        hint = (
            "; a log without times imports with --no-times" if "timestamp" in self.missing else ""
        )
        super().__init__(
            f"{source}: cannot tell which column holds the {what}; "
            f"columns: {', '.join(repr(c) for c in columns)}{hint}"
        )


ROLES: Final = (
    "case_id",
    "activity",
    "timestamp",
    "resource",
    "lifecycle",
    "event_id",
    "correlation_id",
    "causation_id",
)

# Known names per role, best first; compared case-insensitively with spaces, `_` and `-` removed.
_NAMES: Final[dict[str, tuple[str, ...]]] = {
    "case_id": (
        "case:concept:name",
        "caseid",
        "case",
        "casename",
        "case:id",
        "caseconcept:name",
        "traceid",
        "processinstance",
    ),
    "activity": (
        "concept:name",
        "activity",
        "activityname",
        "activityid",
        "eventname",
        "event",
        "task",
        "action",
        "step",
    ),
    "timestamp": (
        "time:timestamp",
        "timestamp",
        "completetimestamp",
        "endtimestamp",
        "endtime",
        "completetime",
        "time",
        "eventtime",
        "datetime",
        "date",
        "starttimestamp",
        "starttime",
    ),
    "resource": ("org:resource", "resource", "user", "performer", "agent", "employee", "actor"),
    "lifecycle": ("lifecycle:transition", "lifecycle", "transition", "eventtype"),
    "event_id": ("event_id", "eventid", "id:event", "identity:id"),
    "correlation_id": ("correlation_id", "correlationid"),
    "causation_id": ("causation_id", "causationid"),
}


def _key(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name).lower()


@dataclass(frozen=True)
class ColumnMapping:
    """Source column per role; ``None`` means detect (or absent, for the optional roles)."""

    case_id: str | None = None
    activity: str | None = None
    timestamp: str | None = None
    resource: str | None = None
    lifecycle: str | None = None
    event_id: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None

    def as_dict(self) -> dict[str, str]:
        """The roles that are mapped, as ``{role: column}``."""
        return {role: column for role, column in asdict(self).items() if column is not None}


@dataclass(frozen=True)
class ParseOptions:
    """How to read times: the zone of naive timestamps (an IANA name or a fixed offset such
    as ``+02:00``, see `check_timezone`), and day-first dates."""

    timezone: str = "UTC"
    dayfirst: bool = False
    encoding: str = "utf-8"  # of text formats (CSV, JSON lines); XML declares its own
    timed: bool = True  # False: the log has no times; events keep the order of the file


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


def detect(
    columns: Sequence[str],
    sample: pl.DataFrame,
    chosen: ColumnMapping,
    source: str,
    *,
    timed: bool = True,
) -> ColumnMapping:
    """Complete a mapping from column names and a sample of string values.

    Raises `IngestError` when a chosen column does not exist, and `MappingNeeded` when no
    column can serve as the case id, the activity or (unless not ``timed``) the timestamp.
    """
    if not timed and chosen.timestamp is not None:
        raise IngestError(
            f"{source}: --timestamp {chosen.timestamp!r} and --no-times contradict each other"
        )
    for role, column in chosen.as_dict().items():
        if column not in columns:
            raise IngestError(
                f"{source}: there is no column {column!r} for {role} "
                f"(columns: {', '.join(repr(c) for c in columns)})"
            )
    taken = set(chosen.as_dict().values())
    found: dict[str, str] = {}
    by_key: dict[str, str] = {}
    for column in columns:
        by_key.setdefault(_key(column), column)
    # A table in Workbench's own vocabulary (its export) maps by those names first, whatever
    # other columns (XES keys among them) it carries as attributes.
    own = {"case_id", "activity", "timestamp"} <= set(columns) or (
        not timed and {"case_id", "activity"} <= set(columns)
    )
    for role, names in _NAMES.items():
        if getattr(chosen, role) is not None or (role == "timestamp" and not timed):
            continue
        if own and role in columns and role not in taken:
            found[role] = role
            taken.add(role)
            continue
        for name in names:
            match = by_key.get(_key(name))
            if match is not None and match not in taken:
                found[role] = match
                taken.add(match)
                break
    mapping = replace(chosen, **found)
    if mapping.timestamp is None and timed:
        for column in columns:
            if column in taken or column not in sample.columns:
                continue
            values = sample[column].drop_nulls()
            if values.len() and parse_times(values, ParseOptions()).null_count() == 0:
                mapping = replace(mapping, timestamp=column)
                break
    for role, hint in (("case_id", "case"), ("activity", "activit")):
        if getattr(mapping, role) is None:
            named = [
                c for c in columns if hint in c.lower() and c not in mapping.as_dict().values()
            ]
            if named:
                mapping = replace(mapping, **{role: named[0]})
    required = ("case_id", "activity", "timestamp") if timed else ("case_id", "activity")
    missing = [role for role in required if getattr(mapping, role) is None]
    if missing:
        raise MappingNeeded(source, missing, columns)
    return mapping


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


def typed_value(kind: str, text: Any) -> Any:
    """A value a source declares as ``integer``, ``float``, ``boolean`` or text, typed.

    Text that does not read as its declared type stays text (nothing is lost).
    """
    if not isinstance(text, str):
        return text
    try:
        if kind == "integer":
            return int(text)
        if kind == "float":
            return float(text)
    except ValueError:
        return text
    if kind == "boolean":
        return text.strip().lower() in ("true", "1")
    return text


def first_line(error: BaseException) -> str:
    """The first line of an error's message, for one-line reports."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


_INTEGER: Final = re.compile(r"^-?(0|[1-9]\d*)$")
_FLOAT: Final = re.compile(r"^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
_BOOLEAN: Final = {"true", "false"}


def type_attribute(values: pl.Series, options: ParseOptions) -> pl.Series:
    """A string column as its narrowest lossless type: integer, float, boolean, datetime, text."""
    present = values.drop_nulls()
    if present.len() == 0 or present.str.contains(r"^-?0\d").any():  # codes like 01234
        return values
    if present.str.contains(_INTEGER.pattern).all():
        cast = values.cast(pl.Int64, strict=False)
        if cast.null_count() == values.null_count():
            return cast
    if present.str.contains(_FLOAT.pattern).all():
        return values.cast(pl.Float64, strict=False)
    if present.str.to_lowercase().is_in(list(_BOOLEAN)).all():
        return values.str.to_lowercase() == "true"
    if present.str.contains(r"^\d{4}-\d\d-\d\d|^\d\d?[/.\-]\d\d?[/.\-]\d{4}").all():
        times = parse_times(values, options)
        if times.null_count() == values.null_count():
            return times
    return values
