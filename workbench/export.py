"""Export a (filtered) log: XES, CSV, Parquet, and OCEL 2.0 JSON for object-centric logs.

Exports keep every attribute and write times in UTC; importing an export again gives the
same events (the same ids, activities, times, resources and attributes).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import quoteattr

import polars as pl

from workbench.events import VOCABULARY, WorkbenchError
from workbench.projections import ordered
from workbench.store import UNTIMED, EventStore, LogName, from_micros

Format = Literal["xes", "csv", "parquet", "ocel"]
FORMATS: tuple[Format, ...] = ("xes", "csv", "parquet", "ocel")
# What the store assigns or derives: not part of an export.
_INTERNAL = ("log", "position", "revision", "recorded_at")
_ISO = "%Y-%m-%dT%H:%M:%S%.6fZ"
_VOCABULARY_NAMES = frozenset(VOCABULARY)


UNTIMED_MOMENT = from_micros(UNTIMED)  # the time of every event of a log without times


class ExportError(WorkbenchError):
    """A log cannot be exported as asked."""


# What a pseudonym can replace: who and what identifies a case, an event or a person.
PSEUDONYMIZABLE = ("case_id", "resource", "event_id", "correlation_id", "causation_id")


def pseudonymized(
    store: EventStore, log: str, events: pl.LazyFrame, columns: list[str]
) -> pl.LazyFrame:
    """The events with each value of ``columns`` replaced by its pseudonym: the column's
    name and the first 16 hex digits of the HMAC-SHA256 of the value under the store's own
    key (`workbench.store.users.Users.key`, kept in the store, never exported). The same
    value gets the same pseudonym in every export of the same store, so exports can be
    joined; without the key the values cannot be recovered or tested for. Nulls stay null.
    Refused: columns the log does not have, and times, numbers the store assigns, and the
    activity (what happened is the analysis)."""
    import hashlib
    import hmac

    schema = store.schema(log)
    for name in columns:
        if name not in schema:
            raise ExportError(f"--pseudonymize {name}: the log has no column {name!r}")
        if name not in PSEUDONYMIZABLE and name in _VOCABULARY_NAMES:
            raise ExportError(
                f"--pseudonymize {name}: choose among {', '.join(PSEUDONYMIZABLE)} and the"
                " log's attributes"
            )
    key = store.users.key("pseudonyms")
    for name in columns:
        values = events.select(pl.col(name).cast(pl.String).drop_nulls().unique()).collect()
        found = values[name].to_list()
        pseudonyms = [
            f"{name}-" + hmac.new(key, f"{name}\0{value}".encode(), hashlib.sha256).hexdigest()[:16]
            for value in found
        ]
        events = events.with_columns(
            pl.col(name)
            .cast(pl.String)
            .replace_strict(found, pseudonyms, default=None, return_dtype=pl.String)
        )
    return events


def revealing(events: pl.LazyFrame, columns: list[str]) -> list[str]:
    """The other text columns that hold values of the ``columns`` to pseudonymize (an
    attribute kept from the source under another name, event ids derived from case ids):
    left as they are, they would give the values away."""
    schema = events.collect_schema()
    originals = (
        pl.concat(
            [
                events.select(pl.col(name).cast(pl.String).alias("value")).drop_nulls().unique()
                for name in columns
            ]
        )
        .unique()
        .collect()["value"]
    )
    if originals.is_empty():
        return []
    found = []
    for name, dtype in schema.items():
        if name in columns or name in _INTERNAL or dtype != pl.String:
            continue
        values = pl.col(name)
        hit = values.is_in(originals.implode())
        if name == "event_id":  # derived ids begin with the case id: "CASE@TIME/ACTIVITY#N"
            hit = hit | values.str.split("@").list.first().is_in(originals.implode())
        if events.select(hit.any()).collect().item():
            found.append(name)
    return found


def exported(events: pl.LazyFrame) -> pl.DataFrame:
    """The events to export: in case and time order, without the store's own columns, and
    without columns that are empty throughout. A log imported without times (``--no-times``:
    every event at the store's untimed moment) is exported without them, in its order, so
    that it imports back (with ``--no-times``) into the same events."""
    frame = ordered(events).drop(_INTERNAL, strict=False).collect()
    untimed = frame.height > 0 and bool((frame["timestamp"] == UNTIMED_MOMENT).all())
    return frame.select(
        name
        for name in frame.columns
        if name in ("case_id", "activity")
        or (name == "timestamp" and not untimed)
        or (name != "timestamp" and frame[name].null_count() < frame.height)
    )


def to_csv(events: pl.LazyFrame, path: Path) -> int:
    """Write CSV with ISO 8601 UTC times; returns the number of events."""
    frame = exported(events)
    frame.write_csv(path, datetime_format=_ISO)
    return frame.height


def to_parquet(events: pl.LazyFrame, path: Path) -> int:
    """Write Parquet with UTC timestamps; returns the number of events."""
    frame = exported(events)
    frame.write_parquet(path)
    return frame.height


# Partitions of a Parquet dataset for a cluster: the period of each event's time (UTC).
PARTITIONS = {"year": "%Y", "month": "%Y-%m", "day": "%Y-%m-%d"}


def to_partitioned_parquet(events: pl.LazyFrame, folder: Path, by: str) -> int:
    """A Parquet dataset in ``folder``, one Hive-style folder per period (``month=2024-03``),
    for Spark or any engine that reads such datasets. Unlike the other exports it keeps the
    store's ``position`` and ``recorded_at``, so that a cluster orders equal times and cuts
    by what was known when exactly as the store does; returns the number of events."""
    if by not in PARTITIONS:
        raise ExportError(f"--partition-by {by!r}: choose {', '.join(PARTITIONS)}")
    frame = ordered(events).drop("log", strict=False).collect()
    if by in frame.columns:
        raise ExportError(f"--partition-by {by}: the log has an attribute named {by!r}")
    frame = frame.with_columns(pl.col("timestamp").dt.strftime(PARTITIONS[by]).alias(by))
    folder.mkdir(parents=True, exist_ok=True)
    if frame.height:
        frame.write_parquet(folder, partition_by=by)
    return frame.height


_XES_KEYS = {
    "activity": "concept:name",
    "timestamp": "time:timestamp",
    "resource": "org:resource",
    "lifecycle": "lifecycle:transition",
    "event_id": "identity:id",
}


def _xes_attribute(key: str, value: Any) -> str:
    if isinstance(value, bool):
        kind, text = "boolean", "true" if value else "false"
    elif isinstance(value, int):
        kind, text = "int", str(value)
    elif isinstance(value, float):
        kind, text = "float", repr(value)
    elif isinstance(value, datetime):
        kind, text = "date", value.isoformat().replace("+00:00", "Z")
    else:
        kind, text = "string", str(value)
    return f"<{kind} key={quoteattr(key)} value={quoteattr(text)}/>"


def to_xes(events: pl.LazyFrame, path: Path) -> int:
    """Write XES 1.0 (IEEE 1849): a trace per case, ``case:*`` attributes on the trace."""
    frame = exported(events)
    trace_columns = [name for name in frame.columns if name.startswith("case:")]
    with path.open("w", encoding="utf-8") as handle:
        handle.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        handle.write(
            '<log xes.version="1.0" xes.features="nested-attributes"'
            ' xmlns="http://www.xes-standard.org/">\n'
            '  <extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>\n'
            '  <extension name="Time" prefix="time" uri="http://www.xes-standard.org/time.xesext"/>\n'
            '  <extension name="Organizational" prefix="org" uri="http://www.xes-standard.org/org.xesext"/>\n'
            '  <extension name="Lifecycle" prefix="lifecycle" uri="http://www.xes-standard.org/lifecycle.xesext"/>\n'
            '  <extension name="Identity" prefix="identity" uri="http://www.xes-standard.org/identity.xesext"/>\n'
        )
        for (case_id,), trace in frame.group_by("case_id", maintain_order=True):
            handle.write(f"  <trace>{_xes_attribute('concept:name', case_id)}")
            first = trace.row(0, named=True)
            for name in trace_columns:
                if first[name] is not None:
                    handle.write(_xes_attribute(name.removeprefix("case:"), first[name]))
            handle.write("\n")
            for row in trace.drop("case_id", *trace_columns).iter_rows(named=True):
                parts = (
                    _xes_attribute(_XES_KEYS.get(name, name), value)
                    for name, value in row.items()
                    if value is not None
                )
                handle.write(f"    <event>{''.join(parts)}</event>\n")
            handle.write("  </trace>\n")
        handle.write("</log>\n")
    return frame.height


def to_ocel(store: EventStore, log: str, events: pl.LazyFrame, path: Path) -> int:
    """Write an object-centric log as OCEL 2.0 JSON: its objects with their attributes and
    links, and the (filtered) events with the objects they touch."""
    frame = exported(events)
    objects = store.objects(log)
    if objects.is_empty():
        raise ExportError(f"{log} is not an object-centric log; export it as xes, csv or parquet")
    links = store.event_objects(log).join(frame.select("event_id"), on="event_id")
    attributes = store.object_attributes(log)
    relations = store.object_objects(log)
    plain = [
        name
        for name in frame.columns
        if name not in ("case_id", "event_id", "activity", "timestamp")
    ]
    event_types: dict[str, set[str]] = {}
    document_events = []
    related = {
        event_id: group.select("object_id", "qualifier").to_dicts()
        for (event_id,), group in links.group_by("event_id")
    }
    for row in frame.iter_rows(named=True):
        names = [name for name in plain if row[name] is not None]
        event_types.setdefault(row["activity"], set()).update(names)
        document_events.append(
            {
                "id": row["event_id"],
                "type": row["activity"],
                "time": row["timestamp"].isoformat().replace("+00:00", "Z"),
                "attributes": [{"name": n, "value": _json_value(row[n])} for n in names],
                "relationships": [
                    {"objectId": link["object_id"], "qualifier": link["qualifier"] or ""}
                    for link in related.get(row["event_id"], [])
                ],
            }
        )
    values = {
        object_id: group.to_dicts() for (object_id,), group in attributes.group_by("object_id")
    }
    outgoing = {source: group.to_dicts() for (source,), group in relations.group_by("source_id")}
    kinds: dict[str, dict[str, str]] = {}
    document_objects = []
    for object_id, object_type in objects.iter_rows():
        own = values.get(object_id, [])
        for value in own:
            kinds.setdefault(object_type, {})[value["name"]] = value["kind"]
        document_objects.append(
            {
                "id": object_id,
                "type": object_type,
                "attributes": [
                    {
                        "name": value["name"],
                        "time": _json_value(value["changed_at"]) or "1970-01-01T00:00:00Z",
                        "value": value["value"],
                    }
                    for value in own
                ],
                "relationships": [
                    {"objectId": link["target_id"], "qualifier": link["qualifier"] or ""}
                    for link in outgoing.get(object_id, [])
                ],
            }
        )
    for object_type in objects["object_type"].unique().to_list():
        kinds.setdefault(object_type, {})
    event_kinds = {name: _ocel_kind(frame.schema[name]) for name in plain}
    document = {
        "objectTypes": [
            {"name": name, "attributes": [{"name": a, "type": k} for a, k in sorted(attrs.items())]}
            for name, attrs in sorted(kinds.items())
        ],
        "eventTypes": [
            {
                "name": name,
                "attributes": [{"name": a, "type": event_kinds[a]} for a in sorted(names)],
            }
            for name, names in sorted(event_types.items())
        ],
        "objects": document_objects,
        "events": document_events,
    }
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return frame.height


def _ocel_kind(dtype: pl.DataType) -> str:
    if dtype == pl.Boolean:
        return "boolean"
    if dtype.is_integer():
        return "integer"
    if dtype.is_float():
        return "float"
    if dtype.is_temporal():
        return "time"
    return "string"


def _json_value(value: Any) -> Any:
    return value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else value


def export(store: EventStore, log: str, events: pl.LazyFrame, path: Path, *, format: Format) -> int:
    """Write the events of ``log`` to ``path`` in ``format``; returns the events written."""
    if format not in FORMATS:
        raise ExportError(f"unknown format {format!r}; choose {', '.join(FORMATS)}")
    if format == "ocel":
        return to_ocel(store, LogName.parse(log).log, events, path)
    writers = {"xes": to_xes, "csv": to_csv, "parquet": to_parquet}
    return writers[format](events, path)
