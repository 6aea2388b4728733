"""From a table read from a source to events in the store's vocabulary, plus the rows refused."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

import polars as pl

from ingest.errors import EmptySource
from ingest.mapping import ROLES, START, ColumnMapping, detect
from ingest.options import ParseOptions
from ingest.times import localize, parse_times
from ingest.values import type_attribute
from workbench.events import UTC_MICROS, VOCABULARY
from workbench.store import UNTIMED, Objects, from_micros
from workbench.store.frames import DERIVED, repeated_ids

#: The time of every event of a log imported without times (``--no-times``), the store's
#: `UNTIMED`: events then keep the order of the file (positions), which is how a case is
#: ordered when times are equal.
UNTIMED_MOMENT: Final = from_micros(UNTIMED)

# Columns every reader adds to what it read; their names hold a NUL character, which no
# CSV header can, so that a source column never collides with them.
LINE = "\x00line"  # the source line (or record number) of each row
PLACE = "\x00place"  # optional: where a row is, in the source's own terms ("trace 3, event 2")
PROBLEM = "\x00problem"  # optional: why a reader could not read a row at all (it is refused)
# Optional, instead of PLACE: the trace of each row and its number within it, so that the
# words ("trace 3, event 2") are made only for the rows refused.
TRACE = "\x00trace"
IN_TRACE = "\x00in_trace"
INTERNAL = (LINE, PLACE, PROBLEM, TRACE, IN_TRACE)

REJECT_SCHEMA = {
    "line": pl.Int64,
    "place": pl.String,
    "field": pl.String,
    "value": pl.String,
    "reason": pl.String,
}


@dataclass(frozen=True)
class Batch:
    """Events ready for `EventStore.import_frame`, the rows refused, and the rows consumed."""

    events: pl.DataFrame
    rejects: pl.DataFrame
    rows: int
    mapping: ColumnMapping
    objects: Objects | None = None  # object-centric logs: objects and links (see OCEL)
    # Which events' ids were derived as the first of their case, time and activity (see
    # `workbench.store.frames.DERIVED`); None when no id was derived. Those ids are left
    # out of ``events`` (null) until a store needs their text (`with_derived_ids`).
    derived: pl.Series | None = None

    def frame(self) -> pl.DataFrame:
        """The events, with `DERIVED` when ids were derived: what `EventStore.import_frame`
        takes."""
        if self.derived is None:
            return self.events
        return self.events.with_columns(self.derived.alias(DERIVED))


class Occurrences:
    """Counts repeats of (case, time, activity) across batches, for derived event ids.

    Two identical events are both kept, as ``#0`` and ``#1``, even when a batch boundary
    falls between them; importing the same rows again numbers them the same way.
    """

    def __init__(self) -> None:
        self.seen = pl.DataFrame(schema={"_key": pl.UInt64, "_seen": pl.UInt32})

    def number(self, events: pl.DataFrame) -> pl.Series:
        """Each event's number among the events with its case, time and activity so far."""
        keys = events.select(
            pl.struct("case_id", "timestamp", "activity").hash().alias("_key")
        ).to_series()
        numbers = pl.zeros(keys.len(), dtype=pl.UInt32, eager=True)
        counts = pl.DataFrame({"_key": keys, "_seen": pl.ones(keys.len(), pl.UInt32, eager=True)})
        repeated = keys.is_duplicated()
        if repeated.any():  # most keys are unique: only the repeated ones are counted
            rows = repeated.arg_true()
            within = pl.DataFrame({"_key": keys.gather(rows)}).select(
                pl.int_range(pl.len(), dtype=pl.UInt32).over("_key")
            )
            numbers = numbers.scatter(rows, within.to_series())
            counts = counts.group_by("_key").agg(pl.col("_seen").sum())
        again = keys.is_in(self.seen["_key"].implode())
        if again.any():  # events seen in earlier batches count on from there
            before = pl.DataFrame({"_key": keys}).join(
                self.seen, on="_key", how="left", maintain_order="left"
            )
            numbers = numbers + before["_seen"].fill_null(0)
            self.seen = pl.concat([self.seen, counts]).group_by("_key").agg(pl.col("_seen").sum())
        else:
            self.seen = pl.concat([self.seen, counts])
        return numbers


def to_batch(
    raw: pl.DataFrame,
    mapping: ColumnMapping,
    options: ParseOptions,
    occurrences: Occurrences,
    *,
    infer_types: bool = True,
) -> Batch:
    """Map, parse and check one table of source rows (string or typed columns plus `LINE`).

    Rows with an empty case id or activity, or a time that cannot be read, are refused with
    their line (or `PLACE`), field, value and reason; the other rows become events. With
    ``infer_types``, text attributes are typed by their content (for text formats); typed
    sources keep the types they declare.
    """
    if mapping.start_timestamp is None:  # typed sources (XES) name their start times so
        named = [name for name in ("start_timestamp", "time:start") if name in raw.columns]
        if named:
            mapping = replace(mapping, start_timestamp=named[0])
    roles = mapping.as_dict()
    if START in roles and roles[START] not in raw.columns:  # this part of the file has none
        del roles[START]
    # A table of a file read in parts may lack a column a later or earlier part has (an XES
    # log whose later traces have no event ids): its rows have none.
    absent = {column for column in roles.values() if column not in raw.columns}
    raw = raw.with_columns(pl.lit(None, pl.String).alias(column) for column in absent)
    text = {
        role: _text(raw[column])
        for role, column in roles.items()
        if role not in ("timestamp", START)
    }
    stamp_source = (
        raw[roles["timestamp"]]
        if "timestamp" in roles
        else pl.repeat(UNTIMED_MOMENT, raw.height, dtype=UTC_MICROS, eager=True)
    )
    stamps, stamp_text = _times(stamp_source, options)
    starts, start_text = _times(raw[roles[START]], options) if START in roles else (None, None)
    lines = raw[LINE].cast(pl.Int64)
    located = [name for name in (PLACE, TRACE, IN_TRACE) if name in raw.columns]
    checks = pl.DataFrame(
        {
            "line": lines,
            "case": text["case_id"],
            "activity": text["activity"],
            "stamp_text": stamp_text,
            "stamp": stamps,
        }
    ).with_columns(raw.select(located))
    if starts is not None:
        checks = checks.with_columns(start_text=start_text, start=starts)
    problems = [
        checks.filter(pl.col("case").is_null()).select(
            "line",
            _place(checks.columns),
            pl.lit(roles["case_id"]).alias("field"),
            pl.lit(None, dtype=pl.String).alias("value"),
            pl.lit("the case id is empty").alias("reason"),
        ),
        checks.filter(pl.col("activity").is_null()).select(
            "line",
            _place(checks.columns),
            pl.lit(roles["activity"]).alias("field"),
            pl.lit(None, dtype=pl.String).alias("value"),
            pl.lit("the activity is empty").alias("reason"),
        ),
        _time_problems(
            checks.filter(pl.col("stamp").is_null()), roles.get("timestamp", ""), options
        ),
    ]
    if starts is not None:
        problems += _start_problems(checks, roles[START], options)
    unreadable = (
        raw[PROBLEM].is_not_null()
        if PROBLEM in raw.columns
        else pl.Series([False] * raw.height, dtype=pl.Boolean)
    )
    rejects = pl.concat(problems).cast(REJECT_SCHEMA)  # type: ignore[arg-type]
    if unreadable.any():
        unread = raw.filter(unreadable).select(
            pl.col(LINE).cast(pl.Int64).alias("line"),
            _place(raw.columns, line=LINE),
            pl.lit(None, dtype=pl.String).alias("field"),
            pl.lit(None, dtype=pl.String).alias("value"),
            pl.col(PROBLEM).cast(pl.String).alias("reason"),
        )
        # An unreadable row has no case or time either; its own reason says it all.
        rejects = pl.concat([unread, rejects.join(unread.select("line"), on="line", how="anti")])
    rejects = rejects.sort("line", maintain_order=True)
    good = ~(
        unreadable
        | checks["case"].is_null()
        | checks["activity"].is_null()
        | checks["stamp"].is_null()
    )
    if starts is not None:
        good = good & ~checks.select(_UNREAD_START | _LATE_START).to_series()
    columns: dict[str, pl.Series] = {role: series.filter(good) for role, series in text.items()}
    columns["timestamp"] = stamps.filter(good)
    kept = raw.filter(good)
    schema = raw.schema
    sources = [c for c in raw.columns if c not in roles.values() and c not in INTERNAL]
    names = attribute_names(
        sources, taken=(*ROLES, START), reserved=(START,) if START in roles else ()
    )
    for name in sources:
        values = kept.get_column(name)
        typed = (
            type_attribute(values, options)
            if infer_types and schema[name] == pl.String
            else _zoned(values, options.timezone)
        )
        columns[names[name]] = typed.alias(names[name])
    events = pl.DataFrame(columns)
    if "event_id" not in events.columns:
        events = events.with_columns(pl.lit(None, dtype=pl.String).alias("event_id"))
    first: pl.Series | None = None
    if events.height and events["event_id"].null_count():
        occurrence = occurrences.number(events)
        first = events["event_id"].is_null() & (occurrence == 0)
        # The first of their kind are left out until a store needs their text.
        events = events.with_columns(repeated_ids(events, occurrence))
    ordered = [role for role in ROLES if role in events.columns]
    attributes = [names[name] for name in sources]
    if starts is not None:
        events = events.with_columns(starts.filter(good).alias(START))
        attributes.insert(0, START)
    return Batch(
        events=events.select(*ordered, *attributes),
        rejects=rejects,
        rows=raw.height,
        mapping=mapping,
        derived=first,
    )


def _place(columns: Sequence[str], *, line: str = "line") -> pl.Expr:
    """Where rows are, in the source's own terms (`PLACE`, `TRACE`) or by line."""
    if PLACE in columns:
        return pl.col(PLACE).cast(pl.String).alias("place")
    if TRACE in columns:
        return pl.format("trace {}, event {}", pl.col(TRACE), pl.col(IN_TRACE)).alias("place")
    return pl.format("line {}", pl.col(line)).alias("place")


def _time_problems(failed: pl.DataFrame, field: str, options: ParseOptions) -> pl.DataFrame:
    """Rejects for the times that could not be read, each with its reason: empty, not a
    time, or a local time that does not exist in the zone (the hour the clocks go forward).
    """
    naive = replace(options, timezone="UTC")
    in_gap = (
        parse_times(failed["stamp_text"], naive).is_not_null()
        if failed.height and failed.schema["stamp_text"] == pl.String
        else pl.Series([False] * failed.height, dtype=pl.Boolean)
    )
    return failed.with_columns(in_gap.alias("in_gap")).select(
        "line",
        _place(failed.columns),
        pl.lit(field).alias("field"),
        pl.col("stamp_text").alias("value"),
        pl.when(pl.col("stamp_text").is_null())
        .then(pl.lit("the timestamp is empty"))
        .when(pl.col("in_gap"))
        .then(
            pl.format(
                "{} does not exist in {}: the clocks went forward then (daylight saving)",
                pl.col("stamp_text"),
                pl.lit(options.timezone),
            )
        )
        .otherwise(pl.format("cannot read {} as a time", pl.col("stamp_text")))
        .alias("reason"),
    )


#: A start time that is given but cannot be read; one later than its event's timestamp.
_UNREAD_START: Final = pl.col("start").is_null() & pl.col("start_text").is_not_null()
_LATE_START: Final = (pl.col("start") > pl.col("stamp")).fill_null(False)


def _start_problems(checks: pl.DataFrame, field: str, options: ParseOptions) -> list[pl.DataFrame]:
    """Rejects for start times that cannot be read, or that come after the event's time.

    An empty start is no problem: the event then took no time, as in a log without starts.
    """
    unread = checks.filter(_UNREAD_START)
    late = checks.filter(_LATE_START)
    return [
        _time_problems(unread.with_columns(stamp_text=pl.col("start_text")), field, options),
        late.select(
            "line",
            _place(late.columns),
            pl.lit(field).alias("field"),
            pl.coalesce("start_text", pl.col("start").dt.to_string("%Y-%m-%dT%H:%M:%S%:z")).alias(
                "value"
            ),
            pl.format(
                "the start time is later than the timestamp ({})",
                pl.col("stamp").dt.to_string("%Y-%m-%dT%H:%M:%S%:z"),
            ).alias("reason"),
        ),
    ]


def attribute_names(
    columns: Sequence[str], *, taken: Sequence[str] = (), reserved: Sequence[str] = ()
) -> dict[str, str]:
    """The attribute name of each source column: its own, except where it is a name of the
    store's vocabulary or ``reserved`` (a column called ``activity`` beside the one chosen as
    the activity),
    which becomes ``source_<name>`` (``source_<name>_2`` and so on if that is taken too), or
    where it has no name, which becomes ``column_<n>`` after its place among the columns.

    >>> attribute_names(["amount", "activity", "source_activity"])
    {'amount': 'amount', 'activity': 'source_activity_2', 'source_activity': 'source_activity'}
    """
    used = set(columns) | set(taken) | set(VOCABULARY)
    names: dict[str, str] = {}
    for index, column in enumerate(columns, start=1):
        if not column.strip():  # a column without a name is called by its place
            candidate, number = f"column_{index}", 1
            while candidate in used:
                number += 1
                candidate = f"column_{index}_{number}"
            used.add(candidate)
            names[column] = candidate
            continue
        if column not in VOCABULARY and column not in reserved:
            names[column] = column
            continue
        candidate, number = f"source_{column}", 1
        while candidate in used:
            number += 1
            candidate = f"source_{column}_{number}"
        used.add(candidate)
        names[column] = candidate
    return names


def _times(source: pl.Series, options: ParseOptions) -> tuple[pl.Series, pl.Series]:
    """A column of times as UTC moments, with the text to show where one could not be read
    (null where the source has no text: typed times that were placed, or none at all)."""
    dtype = source.dtype
    if dtype == pl.Date or isinstance(dtype, pl.Datetime):
        typed = source.cast(pl.Datetime("us")) if dtype == pl.Date else source
        stamps = _zoned(typed, options.timezone)
        # Shown only for the times that could not be placed in the zone (the hour the
        # clocks go forward); those missing in the source have no text either.
        lost = (stamps.is_null() & source.is_not_null()).any()
        text = (
            source.cast(pl.String)
            if lost
            else pl.repeat(None, source.len(), dtype=pl.String, eager=True)
        )
        return stamps, text
    text = _text(source)
    return parse_times(text, options), text


def _zoned(values: pl.Series, timezone: str) -> pl.Series:
    """Typed sources: naive datetimes are read in the given zone and kept in UTC."""
    dtype = values.dtype
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            return localize(values, timezone)
        return values.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    return values


def _text(values: pl.Series) -> pl.Series:
    """Values as trimmed strings, with empty strings as null."""
    text = values.cast(pl.String).str.strip_chars()
    return pl.select(pl.when(text != "").then(text)).to_series().alias(values.name)


def from_frames(
    frames: Iterable[pl.DataFrame],
    source: Path,
    *,
    mapping: ColumnMapping | None,
    options: ParseOptions | None,
    skip_rows: int = 0,
    infer_types: bool = True,
) -> Iterator[Batch]:
    """Batches from a reader's tables: the mapping is settled on the first one.

    The first ``skip_rows`` rows are converted (their derived ids count) but not yielded,
    so that a resumed job numbers repeated events as the first run did.
    """
    options = options or ParseOptions()
    resolved: ColumnMapping | None = None
    occurrences = Occurrences()
    consumed = 0
    for raw in frames:
        if resolved is None:
            columns = [c for c in raw.columns if c not in INTERNAL]
            resolved = detect(
                columns,
                raw.head(1_000),
                mapping or ColumnMapping(),
                str(source),
                timed=options.timed,
            )
        start, consumed = consumed, consumed + raw.height
        if consumed <= skip_rows:
            to_batch(raw, resolved, options, occurrences, infer_types=infer_types)
            continue
        if start < skip_rows:  # the rows taken before are counted, not yielded
            taken = skip_rows - start
            to_batch(raw.head(taken), resolved, options, occurrences, infer_types=infer_types)
            raw = raw.slice(taken)
        yield to_batch(raw, resolved, options, occurrences, infer_types=infer_types)
    if resolved is None:
        raise EmptySource(f"{source}: the log has no events")
