"""Column mapping for tabular sources: which source column is the case, the activity, the time.

Detection goes by name first (XES keys, the usual export headers), then by content for the
timestamp. Explicit choices always win. Every unmapped column is kept as an attribute, typed
by its content (numbers stay numbers, times stay times).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Final

import polars as pl

from ingest.errors import IngestError, MappingNeeded
from ingest.options import ParseOptions
from ingest.times import parse_times

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
#: The optional start time of an interval log (pm4py's name), kept as a Datetime attribute.
START: Final = "start_timestamp"


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
    START: ("start_timestamp", "time:start", "starttime", "startdatetime", "startedat"),
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
    start_timestamp: str | None = None
    resource: str | None = None
    lifecycle: str | None = None
    event_id: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None

    def as_dict(self) -> dict[str, str]:
        """The roles that are mapped, as ``{role: column}``."""
        return {role: column for role, column in asdict(self).items() if column is not None}


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
    for role, given in (("timestamp", chosen.timestamp), (START, chosen.start_timestamp)):
        if not timed and given is not None:
            flag = "--" + role.replace("_", "-")
            raise IngestError(f"{source}: {flag} {given!r} and --no-times contradict each other")
    for role, column in chosen.as_dict().items():
        if column not in columns:
            raise IngestError(
                f"{source}: there is no column {column!r} for {role} "
                f"(columns: {', '.join(repr(c) for c in columns)})"
                + ("; a log without times imports with --no-times" if role == "timestamp" else "")
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
        if getattr(chosen, role) is not None or (role in ("timestamp", START) and not timed):
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
