"""Frames of events on their way into the store: checked, typed, given ids, grouped by case.

These are the store's rules for what it accepts, the same for every backend: a frame is
normalized to the writable vocabulary (`normalize`), repeated ids are dropped and cases
grouped (`prepare`), and events without an id get one derived from their content
(`derive_event_ids`), so that importing the same records again stores nothing.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import polars as pl

from workbench.events import UTC_MICROS, VOCABULARY, WRITABLE, Event, InvalidEvents, as_utc


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch, UTC; a naive datetime is taken as UTC."""
    delta = as_utc(moment) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    """The UTC datetime of a microsecond count (inverse of `to_micros`)."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


#: A column of a frame on its way into the store, never an attribute: whether the event's id
#: is the one derived from its content as the first event of its case, time and activity
#: (``...#0``). A store may keep such an id implicitly: SQLite stores none (no index entry,
#: no text) and derives it again on read (`derived_id`). Until a store needs its text, such
#: an id is left out (null) of the frame: `with_derived_ids` fills it in.
DERIVED: Final = "\x00derived"


def derived_id(case_id: pl.Expr, timestamp: pl.Expr, activity: pl.Expr, occurrence: Any) -> pl.Expr:
    """The derived id of an event: ``case@time/activity#occurrence``, time in UTC to the
    microsecond (``timestamp`` is a UTC datetime)."""
    moment = timestamp.dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
    return pl.format("{}@{}/{}#{}", case_id, moment, activity, occurrence)


def derive_event_ids(frame: pl.DataFrame, occurrence: pl.Series | None = None) -> pl.Series:
    """Deterministic event ids from each event's content: case, UTC time, activity, occurrence.

    Importing the same records again yields the same ids, so nothing is stored twice. The
    ids sort by case and then by time, the order in which a batch is written.

    >>> frame = pl.DataFrame({"case_id": ["c1", "c1"], "activity": ["a", "a"],
    ...     "timestamp": [datetime(2024, 1, 1, tzinfo=UTC)] * 2})
    >>> derive_event_ids(frame).to_list()
    ['c1@2024-01-01T00:00:00.000000Z/a#0', 'c1@2024-01-01T00:00:00.000000Z/a#1']

    ``occurrence`` numbers repeats of the same case, time and activity; by default they are
    counted within the frame (an importer reading in batches counts across batches).
    """
    repeat = (
        pl.int_range(pl.len()).over("case_id", "timestamp", "activity")
        if occurrence is None
        else pl.lit(occurrence)
    )
    return frame.select(
        derived_id(pl.col("case_id"), pl.col("timestamp"), pl.col("activity"), repeat).alias(
            "event_id"
        )
    ).to_series()


def with_derived_ids(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with the ids left out of it filled in: in a normalized frame, only ids
    derived as the first of their case, time and activity (`DERIVED`) are left out."""
    if not frame["event_id"].null_count():
        return frame
    return frame.with_columns(
        pl.col("event_id").fill_null(
            derived_id(pl.col("case_id"), pl.col("timestamp"), pl.col("activity"), 0)
        )
    )


def repeated_ids(frame: pl.DataFrame, occurrence: pl.Series) -> pl.Series:
    """The frame's event ids, with those missing derived where ``occurrence`` (the number
    of the event among those of its case, time and activity) is not the first: the first
    are left out, as `DERIVED` events (`with_derived_ids`)."""
    ids = frame["event_id"]
    repeats = (ids.is_null() & (occurrence > 0)).arg_true()
    if not repeats.len():
        return ids
    return ids.scatter(repeats, derive_event_ids(frame[repeats], occurrence.gather(repeats)))


def generated_ids(count: int) -> list[str]:
    """Unique ids for events appended without one; they sort in append order."""
    now = time.time_ns()
    salt = secrets.token_hex(4)
    return [f"{now:016x}{index:06x}-{salt}" for index in range(count)]


def frame_of_events(case_id: str, events: Sequence[Event]) -> pl.DataFrame:
    """The events of one case as a frame in the writable vocabulary plus attribute columns.

    Raises `InvalidEvents` for text that is not Unicode a store can keep (lone surrogates).
    """
    try:
        return _frame_of_events(case_id, events)
    except UnicodeEncodeError as error:
        raise InvalidEvents(
            f"case {case_id!r}: text that is not valid Unicode ({error.reason}: "
            f"{error.object[error.start : error.end]!r})"
        ) from None


def _frame_of_events(case_id: str, events: Sequence[Event]) -> pl.DataFrame:
    ids = [event.event_id for event in events]
    if any(event_id is None for event_id in ids):
        generated = iter(generated_ids(len(ids)))
        ids = [event_id if event_id is not None else next(generated) for event_id in ids]
    names: list[str] = []
    for event in events:
        names.extend(name for name in event.attributes if name not in names)
    columns: dict[str, pl.Series] = {
        "event_id": pl.Series(ids, dtype=pl.String),
        "case_id": pl.Series([case_id] * len(events), dtype=pl.String),
        "activity": pl.Series([event.activity for event in events], dtype=pl.String),
        "timestamp": pl.Series(
            [to_micros(event.timestamp) for event in events], dtype=pl.Int64
        ).cast(UTC_MICROS),
    }
    for name in ("resource", "lifecycle", "correlation_id", "causation_id"):
        columns[name] = pl.Series([getattr(event, name) for event in events], dtype=pl.String)
    for name in names:
        values = [event.attributes.get(name) for event in events]
        try:
            columns[name] = pl.Series(name, values, strict=True)
        except (TypeError, pl.exceptions.PolarsError):
            columns[name] = pl.Series(name, [None if v is None else str(v) for v in values])
        dtype = columns[name].dtype
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
            columns[name] = columns[name].dt.replace_time_zone("UTC")
    return pl.DataFrame(columns)


def _refuse_nul(frame: pl.DataFrame) -> None:
    """Text with a NUL character cannot be kept by every backend (PostgreSQL refuses it)."""
    for name, dtype in frame.schema.items():
        if dtype == pl.String and frame[name].str.contains("\x00", literal=True).any():
            raise InvalidEvents(f"{name}: text with a NUL character (U+0000) cannot be stored")


def normalize(frame: pl.DataFrame) -> pl.DataFrame:
    """Check and coerce a frame of events to the writable vocabulary; attributes follow,
    and `DERIVED` last. An event without an id gets the one derived from its content; as
    the first of its case, time and activity, it is `DERIVED` and its id is left out until
    a store needs its text (`with_derived_ids`).

    Raises `InvalidEvents` naming the problem: a missing required column, empty case ids or
    activities, timestamps that are not datetimes, or attributes named like vocabulary columns.
    """
    missing = [name for name in ("case_id", "activity", "timestamp") if name not in frame.columns]
    _refuse_nul(frame)
    if missing:
        raise InvalidEvents(f"events lack the column(s) {', '.join(missing)}")
    clashes = [name for name in frame.columns if name in VOCABULARY and name not in WRITABLE]
    if clashes:
        raise InvalidEvents(f"the store assigns {', '.join(clashes)}; do not supply them")
    timestamp = frame.schema["timestamp"]
    if not isinstance(timestamp, pl.Datetime):
        raise InvalidEvents(f"timestamp must be a datetime column, not {timestamp}")
    if timestamp.time_zone is None:
        frame = frame.with_columns(pl.col("timestamp").dt.replace_time_zone("UTC"))
    frame = frame.with_columns(
        pl.col("timestamp").dt.convert_time_zone("UTC").dt.cast_time_unit("us"),
        pl.col("case_id").cast(pl.String),
        pl.col("activity").cast(pl.String),
    )
    for name in ("case_id", "activity"):
        if frame[name].null_count() or (frame[name] == "").any():
            raise InvalidEvents(f"{name} is empty in some events")
    if frame["timestamp"].null_count():
        raise InvalidEvents("timestamp is empty in some events")
    optional = [
        pl.lit(None, dtype=pl.String).alias(name) for name in WRITABLE if name not in frame.columns
    ]
    frame = frame.with_columns(optional)
    frame = frame.with_columns(
        pl.col(name).cast(pl.String) for name in WRITABLE if name != "timestamp"
    )
    first = (
        pl.col(DERIVED).cast(pl.Boolean).fill_null(False)
        if DERIVED in frame.columns
        else pl.lit(False)
    )
    frame = frame.with_columns(first.alias(DERIVED))
    ids = frame["event_id"]
    if ids.null_count() and (ids.is_null() & ~frame[DERIVED]).any():  # ids to derive
        occurrence = frame.select(
            pl.int_range(pl.len(), dtype=pl.UInt32).over("case_id", "timestamp", "activity")
        ).to_series()
        frame = frame.with_columns(
            (pl.col(DERIVED) | (pl.col("event_id").is_null() & pl.lit(occurrence == 0))),
            repeated_ids(frame, occurrence),
        )
    attributes = [name for name in frame.columns if name not in WRITABLE and name != DERIVED]
    return frame.select(*WRITABLE, *attributes, DERIVED)


@dataclass(frozen=True)
class Prepared:
    """A frame of events ready to write: normalized, one row per event id, grouped by case.

    `prepare` makes one; it needs no store, so an importer can prepare the next batch on
    another thread while the store writes this one.
    """

    events: pl.DataFrame
    events_read: int


def prepare(frame: pl.DataFrame) -> Prepared:
    """Normalize a frame, drop repeated event ids, and sort it by case (stable)."""
    events_read = frame.height
    if frame.height:
        frame = normalize(frame)
        # Ids derived as the first of their kind (`DERIVED`, ``...#0``) differ from each
        # other by construction: only the others can repeat, or equal one of them.
        others = frame.filter(~pl.col(DERIVED))["event_id"]
        if others.len() and (others.is_duplicated().any() or others.str.ends_with("#0").any()):
            frame = with_derived_ids(frame).unique("event_id", keep="first", maintain_order=True)
        frame = frame.sort("case_id", maintain_order=True)
    return Prepared(events=frame, events_read=events_read)
