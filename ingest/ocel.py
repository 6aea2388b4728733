"""Object-centric event logs: OCEL 2.0 (JSON, XML, SQLite) and OCEL 1.0 (JSON, XML, CSV).

Each format is parsed into one shape (`Ocel`) with times still as text, so that offsets are
honoured and naive times read in ``--timezone`` the same way for every format. Events go
to the store as events (each its own stream; cases come from flattening by object type),
objects, attribute values over time and links with their qualifiers as `Objects`.
Links to objects (or from events) the log does not define are refused as rejects.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from ingest.batch import LINE, PLACE, REJECT_SCHEMA, Batch, Occurrences, to_batch
from ingest.errors import IngestError, first_line
from ingest.mapping import ColumnMapping
from ingest.options import ParseOptions
from ingest.times import parse_times
from ingest.values import typed_value
from workbench.store import Objects
from workbench.store.frames import with_derived_ids

MAPPING = ColumnMapping(
    case_id="case_id", activity="activity", timestamp="timestamp", event_id="event_id"
)
# OCEL attribute types -> how their values are kept (see `Objects`)
_KINDS = {
    "string": "string",
    "integer": "integer",
    "int": "integer",
    "float": "float",
    "boolean": "boolean",
    "time": "time",
    "date": "time",
}


@dataclass
class Ocel:
    """A parsed object-centric log, times still as text."""

    events: list[dict[str, Any]]  # event_id, activity, timestamp (text), attributes
    event_attribute_kinds: dict[str, str]
    objects: list[tuple[str, str]]  # object_id, object_type
    attributes: list[tuple[str, str, str | None, str, str | None]]  # id, name, time, kind, value
    event_objects: list[tuple[str, str, str | None]]  # event_id, object_id, qualifier
    object_objects: list[tuple[str, str, str | None]]  # source_id, target_id, qualifier


def reader(parse: Callable[[Path], Ocel]) -> Callable[..., Iterator[Batch]]:
    """The importer (one signature for all formats) of an OCEL parser."""

    def read(
        source: Path,
        *,
        mapping: ColumnMapping | None = None,
        options: ParseOptions | None = None,
        skip_rows: int = 0,
    ) -> Iterator[Batch]:
        """Yield batches of events with the log's objects and links, and the rows refused."""
        source = Path(source)
        options = options or ParseOptions()
        try:
            ocel = parse(source)
        except (ValueError, KeyError, TypeError, sqlite3.Error) as error:
            raise IngestError(f"{source}: not a readable OCEL log ({first_line(error)})") from error
        if not ocel.events:
            raise IngestError(f"{source}: the log has no events")
        objects, link_rejects = _objects(ocel, options)
        events = _events(ocel, options)
        occurrences = Occurrences()
        sent = False
        size = options.tuning.batch_rows
        for offset in range(0, events.height, size):
            raw = events.slice(offset, size)
            batch = to_batch(raw, MAPPING, options, occurrences, infer_types=False)
            if offset + raw.height <= skip_rows:
                continue
            rejects = batch.rejects
            if not sent and skip_rows == 0:  # a resumed job recorded these already
                rejects = pl.concat([rejects, link_rejects])
            ids = with_derived_ids(batch.events)["event_id"]
            yield Batch(
                events=batch.events,
                rejects=rejects,
                rows=batch.rows,
                mapping=batch.mapping,
                objects=_links_of(objects, ids, first=not sent),
                derived=batch.derived,
            )
            sent = True

    return read


def _events(ocel: Ocel, options: ParseOptions) -> pl.DataFrame:
    frame = pl.DataFrame(ocel.events, infer_schema_length=None)
    for name, kind in ocel.event_attribute_kinds.items():
        if name in frame.columns and kind == "time" and frame.schema[name] == pl.String:
            frame = frame.with_columns(parse_times(frame[name], options).alias(name))
    frame = frame.with_columns(
        pl.col("event_id").cast(pl.String).alias("case_id"),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(LINE),
    ).with_columns(pl.format("event {} (record {})", pl.col("event_id"), pl.col(LINE)).alias(PLACE))
    return frame


def _objects(ocel: Ocel, options: ParseOptions) -> tuple[Objects, pl.DataFrame]:
    """The objects and links, without links to undefined objects (returned as rejects)."""
    objects = pl.DataFrame(
        ocel.objects, schema={"object_id": pl.String, "object_type": pl.String}, orient="row"
    ).unique("object_id", keep="first", maintain_order=True)
    attributes = pl.DataFrame(
        ocel.attributes,
        schema={
            "object_id": pl.String,
            "name": pl.String,
            "time": pl.String,
            "kind": pl.String,
            "value": pl.String,
        },
        orient="row",
    )
    attributes = attributes.with_columns(
        parse_times(attributes["time"], options).alias("changed_at")
    ).drop("time")
    event_ids = pl.Series([str(event["event_id"]) for event in ocel.events], dtype=pl.String)
    e2o = pl.DataFrame(
        ocel.event_objects,
        schema={"event_id": pl.String, "object_id": pl.String, "qualifier": pl.String},
        orient="row",
    )
    o2o = pl.DataFrame(
        ocel.object_objects,
        schema={"source_id": pl.String, "target_id": pl.String, "qualifier": pl.String},
        orient="row",
    )
    known = objects["object_id"].implode()
    bad_e2o = e2o.filter(
        ~pl.col("object_id").is_in(known) | ~pl.col("event_id").is_in(event_ids.implode())
    )
    bad_o2o = o2o.filter(~pl.col("source_id").is_in(known) | ~pl.col("target_id").is_in(known))
    rejects = pl.concat(
        [
            bad_e2o.select(
                pl.lit(None, dtype=pl.Int64).alias("line"),
                pl.format("event {}", pl.col("event_id")).alias("place"),
                pl.lit("relationships").alias("field"),
                pl.col("object_id").alias("value"),
                pl.when(pl.col("event_id").is_in(event_ids.implode()))
                .then(
                    pl.format(
                        "links to object {}, which the log does not define", pl.col("object_id")
                    )
                )
                .otherwise(
                    pl.format("links event {}, which the log does not define", pl.col("event_id"))
                )
                .alias("reason"),
            ),
            bad_o2o.select(
                pl.lit(None, dtype=pl.Int64).alias("line"),
                pl.format("object {}", pl.col("source_id")).alias("place"),
                pl.lit("relationships").alias("field"),
                pl.col("target_id").alias("value"),
                pl.format(
                    "links {} to {}, and the log does not define both",
                    pl.col("source_id"),
                    pl.col("target_id"),
                ).alias("reason"),
            ),
        ]
    ).cast(REJECT_SCHEMA)  # type: ignore[arg-type]
    good = Objects(
        objects=objects,
        attributes=attributes.filter(pl.col("object_id").is_in(known)),
        event_objects=e2o.join(bad_e2o, on=list(e2o.columns), how="anti", nulls_equal=True),
        object_objects=o2o.join(bad_o2o, on=list(o2o.columns), how="anti", nulls_equal=True),
    )
    return good, rejects


def _links_of(objects: Objects, event_ids: pl.Series, first: bool) -> Objects:
    """What a batch carries: everything about objects with the first, its own links always."""
    links = objects.event_objects.filter(pl.col("event_id").is_in(event_ids.implode()))
    if first:
        return Objects(objects.objects, objects.attributes, links, objects.object_objects)
    empty = objects.objects.clear()
    return Objects(empty, objects.attributes.clear(), links, objects.object_objects.clear())


# ----------------------------------------------------------------------------- parsers


def parse_ocel2_json(source: Path) -> Ocel:
    """OCEL 2.0 JSON: objectTypes, eventTypes, objects, events."""
    document = json.loads(source.read_bytes())
    kinds = _declared(document.get("eventTypes", []))
    object_kinds = {
        (kind["name"], attribute["name"]): _KINDS.get(attribute.get("type", "string"), "string")
        for kind in document.get("objectTypes", [])
        for attribute in kind.get("attributes", [])
    }
    ocel = Ocel([], {n: k for (_, n), k in kinds.items()}, [], [], [], [])
    for event in document.get("events", []):
        row: dict[str, Any] = {
            "event_id": str(event["id"]),
            "activity": event["type"],
            "timestamp": event["time"],
        }
        for attribute in event.get("attributes", []):
            row[attribute["name"]] = attribute.get("value")
        ocel.events.append(row)
        for link in event.get("relationships", []) or []:
            ocel.event_objects.append(
                (str(event["id"]), str(link["objectId"]), link.get("qualifier"))
            )
    for item in document.get("objects", []):
        object_id, object_type = str(item["id"]), item["type"]
        ocel.objects.append((object_id, object_type))
        for attribute in item.get("attributes", []) or []:
            kind = object_kinds.get((object_type, attribute["name"]), "string")
            ocel.attributes.append(
                (
                    object_id,
                    attribute["name"],
                    attribute.get("time"),
                    kind,
                    _text(attribute.get("value")),
                )
            )
        for link in item.get("relationships", []) or []:
            ocel.object_objects.append((object_id, str(link["objectId"]), link.get("qualifier")))
    return ocel


def parse_ocel2_xml(source: Path) -> Ocel:
    """OCEL 2.0 XML: <object-types>, <event-types>, <objects>, <events>."""
    from lxml import etree

    try:
        root = etree.parse(str(source), etree.XMLParser(huge_tree=True)).getroot()
    except etree.XMLSyntaxError as error:
        raise IngestError(f"{source}: line {error.lineno}: malformed XML ({error.msg})") from error
    object_kinds = {
        (kind.get("name"), attribute.get("name")): _KINDS.get(attribute.get("type"), "string")
        for kind in root.iterfind("object-types/object-type")
        for attribute in kind.iterfind("attributes/attribute")
    }
    event_kinds = {
        attribute.get("name"): _KINDS.get(attribute.get("type"), "string")
        for kind in root.iterfind("event-types/event-type")
        for attribute in kind.iterfind("attributes/attribute")
    }
    ocel = Ocel([], event_kinds, [], [], [], [])
    for item in root.iterfind("objects/object"):
        object_id, object_type = item.get("id"), item.get("type")
        ocel.objects.append((object_id, object_type))
        for attribute in item.iterfind("attributes/attribute"):
            name = attribute.get("name")
            kind = object_kinds.get((object_type, name), "string")
            ocel.attributes.append((object_id, name, attribute.get("time"), kind, attribute.text))
        for link in item.iterfind("objects/relationship"):
            ocel.object_objects.append((object_id, link.get("object-id"), link.get("qualifier")))
    for event in root.iterfind("events/event"):
        event_id = event.get("id")
        row: dict[str, Any] = {
            "event_id": event_id,
            "activity": event.get("type"),
            "timestamp": event.get("time"),
        }
        for attribute in event.iterfind("attributes/attribute"):
            name = attribute.get("name")
            row[name] = typed_value(event_kinds.get(name, "string"), attribute.text)
        ocel.events.append(row)
        for link in event.iterfind("objects/relationship"):
            ocel.event_objects.append((event_id, link.get("object-id"), link.get("qualifier")))
    return ocel


def parse_ocel2_sqlite(source: Path) -> Ocel:
    """OCEL 2.0 SQLite: event, object, event_object, object_object and a table per type."""
    connection = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        return _from_sqlite(connection)
    finally:
        connection.close()


def _from_sqlite(db: sqlite3.Connection) -> Ocel:
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    events: dict[str, dict[str, Any]] = {
        str(event_id): {"event_id": str(event_id), "activity": activity}
        for event_id, activity in db.execute("SELECT ocel_id, ocel_type FROM event")
    }
    kinds: dict[str, str] = {}
    for _, suffix in db.execute("SELECT ocel_type, ocel_type_map FROM event_map_type"):
        table = f"event_{suffix}"
        if table not in tables:
            continue
        columns = db.execute(f'PRAGMA table_info("{table}")').fetchall()
        names = [column[1] for column in columns]
        for name, declared in ((c[1], c[2]) for c in columns):
            if name not in ("ocel_id", "ocel_time"):
                kinds[name] = _sql_kind(declared)
        for values in db.execute(f'SELECT * FROM "{table}"'):
            row = dict(zip(names, values, strict=True))
            event = events.get(str(row.pop("ocel_id")))
            if event is not None:
                event["timestamp"] = row.pop("ocel_time")
                event.update({k: typed_value(kinds[k], v) for k, v in row.items()})
    ocel = Ocel([event for event in events.values() if "timestamp" in event], kinds, [], [], [], [])
    ocel.events.extend(
        {**event, "timestamp": None} for event in events.values() if "timestamp" not in event
    )
    types = dict(db.execute("SELECT ocel_id, ocel_type FROM object").fetchall())
    ocel.objects.extend((str(object_id), kind) for object_id, kind in types.items())
    for _, suffix in db.execute("SELECT ocel_type, ocel_type_map FROM object_map_type"):
        table = f"object_{suffix}"
        if table not in tables:
            continue
        columns = db.execute(f'PRAGMA table_info("{table}")').fetchall()
        names = [column[1] for column in columns]
        fields = {
            c[1]: _sql_kind(c[2])
            for c in columns
            if c[1] not in ("ocel_id", "ocel_time", "ocel_changed_field")
        }
        for values in db.execute(f'SELECT * FROM "{table}"'):
            row = dict(zip(names, values, strict=True))
            object_id, time, changed = (
                str(row["ocel_id"]),
                row["ocel_time"],
                row.get("ocel_changed_field"),
            )
            for name, kind in fields.items():
                if (changed is None and row[name] is not None) or changed == name:
                    ocel.attributes.append((object_id, name, time, kind, _text(row[name])))
    ocel.event_objects.extend(
        (str(e), str(o), q)
        for e, o, q in db.execute(
            "SELECT ocel_event_id, ocel_object_id, ocel_qualifier FROM event_object"
        )
    )
    ocel.object_objects.extend(
        (str(s), str(t), q)
        for s, t, q in db.execute(
            "SELECT ocel_source_id, ocel_target_id, ocel_qualifier FROM object_object"
        )
    )
    return ocel


def parse_ocel1_json(source: Path) -> Ocel:
    """OCEL 1.0 JSON: ocel:events and ocel:objects keyed by id, without qualifiers."""
    document = json.loads(source.read_bytes())
    ocel = Ocel([], {}, [], [], [], [])
    for event_id, event in document.get("ocel:events", {}).items():
        row: dict[str, Any] = {
            "event_id": str(event_id),
            "activity": event["ocel:activity"],
            "timestamp": event["ocel:timestamp"],
            **(event.get("ocel:vmap") or {}),
        }
        ocel.events.append(row)
        ocel.event_objects.extend((str(event_id), str(o), None) for o in event.get("ocel:omap", []))
    for object_id, item in document.get("ocel:objects", {}).items():
        ocel.objects.append((str(object_id), item["ocel:type"]))
        for name, value in (item.get("ocel:ovmap") or {}).items():
            ocel.attributes.append((str(object_id), name, None, _kind_of(value), _text(value)))
    return ocel


def parse_ocel1_xml(source: Path) -> Ocel:
    """OCEL 1.0 XML, as pm4py reads and writes it: <events> of <event> with ``id``,
    ``activity``, ``timestamp``, an ``omap`` list of object ids (a ``qualifier`` attribute
    where pm4py wrote one) and a ``vmap`` of attributes; <objects> of <object> with ``id``,
    ``type`` and an ``ovmap`` (a repeated key with a ``timestamp`` is a later value); and
    pm4py's <o2o> links."""
    from lxml import etree

    try:
        root = etree.parse(str(source), etree.XMLParser(huge_tree=True)).getroot()
    except etree.XMLSyntaxError as error:
        raise IngestError(f"{source}: line {error.lineno}: malformed XML ({error.msg})") from error
    ocel = Ocel([], {}, [], [], [], [])
    for event in root.iterfind("events/event"):
        row: dict[str, Any] = {}
        linked: list[tuple[str, str | None]] = []
        for field in event:
            key = field.get("key")
            if key in ("id", "activity", "timestamp"):
                row[{"id": "event_id"}.get(key, key)] = field.get("value")
            elif key == "omap":
                linked.extend((item.get("value"), item.get("qualifier")) for item in field)
            elif key == "vmap":
                for item in field:
                    kind = _KINDS.get(_tag(item), "string")
                    ocel.event_attribute_kinds.setdefault(item.get("key"), kind)
                    row[item.get("key")] = typed_value(kind, item.get("value"))
        if "event_id" not in row:
            raise IngestError(f"{source}: line {event.sourceline}: an event without an id")
        ocel.events.append(row)
        ocel.event_objects.extend((row["event_id"], ref, qualifier) for ref, qualifier in linked)
    for item in root.iterfind("objects/object"):
        fields = {field.get("key"): field for field in item}
        object_id = fields["id"].get("value") if "id" in fields else None
        object_type = fields["type"].get("value") if "type" in fields else None
        if object_id is None or object_type is None:
            raise IngestError(f"{source}: line {item.sourceline}: an object without id or type")
        ocel.objects.append((object_id, object_type))
        seen: set[str] = set()
        for value in fields.get("ovmap", ()):
            name = value.get("key")
            # The first value of a key is the object's own; a repeated key is a change.
            changed = value.get("timestamp") if name in seen else None
            seen.add(name)
            kind = _KINDS.get(_tag(value), "string")
            ocel.attributes.append((object_id, name, changed, kind, value.get("value")))
    for link in root.iterfind("o2o/*"):
        ocel.object_objects.append((link.get("source"), link.get("target"), link.get("qualifier")))
    return ocel


def _tag(element: Any) -> str:
    """An XML element's name without its namespace, in lower case (``string``, ``date``)."""
    return str(element.tag).rsplit("}", 1)[-1].lower()


#: pm4py's OCEL 1.0 CSV: one row per event, a column per object type holding a list.
OCEL1_CSV_PREFIX = "ocel:type:"


def parse_ocel1_csv(source: Path) -> Ocel:
    """OCEL 1.0 CSV, as pm4py writes it (``write_ocel_csv``): ``ocel:eid``,
    ``ocel:activity``, ``ocel:timestamp``, one ``ocel:type:TYPE`` column per object type
    holding a list of object ids (``['o1', 'o2']``), and the event attributes. The objects
    are those the lists name, of the type of their column (attributes of objects live in
    pm4py's separate objects file, which is not read)."""
    import ast

    try:
        table = pl.read_csv(source, infer_schema=False)
    except pl.exceptions.PolarsError as error:
        raise IngestError(f"{source}: not a readable CSV file ({first_line(error)})") from error
    needed = ("ocel:eid", "ocel:activity", "ocel:timestamp")
    missing = [name for name in needed if name not in table.columns]
    if missing:
        raise IngestError(f"{source}: an OCEL 1.0 CSV file needs the columns {', '.join(missing)}")
    kinds = [name for name in table.columns if name.startswith(OCEL1_CSV_PREFIX)]
    attributes = [name for name in table.columns if name not in needed and name not in kinds]
    ocel = Ocel([], {}, [], [], [], [])
    types: dict[str, str] = {}
    for line, row in enumerate(table.iter_rows(named=True), start=2):
        event_id = row["ocel:eid"]
        ocel.events.append(
            {
                "event_id": event_id,
                "activity": row["ocel:activity"],
                "timestamp": row["ocel:timestamp"],
                **{name: row[name] for name in attributes},
            }
        )
        for column in kinds:
            text = row[column]
            if not text or not text.strip():
                continue
            try:
                ids = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                raise IngestError(
                    f"{source}: line {line}: {column} is not a list of object ids ({text!r})"
                ) from None
            for object_id in ids if isinstance(ids, list | tuple | set) else [ids]:
                object_id = str(object_id)
                types.setdefault(object_id, column.removeprefix(OCEL1_CSV_PREFIX))
                ocel.event_objects.append((event_id, object_id, None))
    ocel.objects.extend(types.items())
    return ocel


def _declared(event_types: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    return {
        (kind["name"], attribute["name"]): _KINDS.get(attribute.get("type", "string"), "string")
        for kind in event_types
        for attribute in kind.get("attributes", [])
    }


def _sql_kind(declared: str) -> str:
    declared = (declared or "").upper()
    if "INT" in declared:
        return "integer"
    if "REAL" in declared or "FLOA" in declared or "DOUB" in declared:
        return "float"
    if "BOOL" in declared:
        return "boolean"
    if "TIME" in declared or "DATE" in declared:
        return "time"
    return "string"


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    return "string"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


read_ocel2_json = reader(parse_ocel2_json)
read_ocel2_xml = reader(parse_ocel2_xml)
read_ocel2_sqlite = reader(parse_ocel2_sqlite)
read_ocel1_json = reader(parse_ocel1_json)
read_ocel1_xml = reader(parse_ocel1_xml)
read_ocel1_csv = reader(parse_ocel1_csv)
