"""JSON lines event logs: CloudEvents, or plain objects mapped like CSV columns.

CloudEvents map to the vocabulary: ``type`` is the activity, ``subject`` the case, ``time``
the timestamp, ``id`` and ``source`` together the event id (``id@source``, so that the same
event sent twice is stored once), and the ``correlationid`` / ``causationid`` extensions
the cause-and-effect links (a causation id names an event of the same source). The fields of
``data`` become attributes. Plain JSON lines are mapped like CSV columns, nested objects
flattened to dotted names.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import polars as pl

from ingest.batch import LINE, PLACE, PROBLEM, Batch, from_frames
from ingest.errors import IngestError
from ingest.formats import open_binary
from ingest.mapping import ColumnMapping
from ingest.options import ParseOptions, Tuning
from ingest.times import parse_times

#: Deeper JSON is refused line by line: no event log nests like that, and parsers do not
#: survive much deeper nesting.
MAX_DEPTH = 64
_ISO_START = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d")
CLOUDEVENTS = ColumnMapping(
    case_id="subject",
    activity="type",
    timestamp="time",
    event_id="event_id",
    correlation_id="correlationid",
    causation_id="causationid",
)


def read(
    source: Path,
    *,
    mapping: ColumnMapping | None = None,
    options: ParseOptions | None = None,
    skip_rows: int = 0,
) -> Iterator[Batch]:
    """Yield batches of events, one JSON object a line; broken lines become rejects."""
    source = Path(source)
    options = options or ParseOptions()
    chunks = _chunks(source, options.tuning.batch_rows)
    first = next(chunks, None)
    if first is None:
        raise IngestError(f"{source}: the file holds no JSON objects")
    if PROBLEM in first.columns and first[PROBLEM].is_not_null().all():
        line = first.row(0, named=True)
        raise IngestError(f"{source}: line {line[LINE]}: {line[PROBLEM]}; no line could be read")
    cloudevents = _is_cloudevents(first)
    chosen = mapping or ColumnMapping()
    if cloudevents:
        # The optional extensions are mapped where the log has them.
        present = set(_cloudevent_columns(first).columns)
        standard = {
            role: column
            for role, column in CLOUDEVENTS.as_dict().items()
            if column in present or role in ("case_id", "activity", "timestamp")
        }
        chosen = ColumnMapping(**{**standard, **chosen.as_dict()})
        if not options.timed:
            chosen = replace(chosen, timestamp=None)
    frames = (
        _cloudevent_columns(frame) if cloudevents else frame for frame in _chain(first, chunks)
    )
    # JSON declares its types; only the times hidden in strings are read (see `_dates`).
    yield from from_frames(
        frames, source, mapping=chosen, options=options, skip_rows=skip_rows, infer_types=False
    )


def columns(source: Path) -> list[str]:
    """The columns of a JSON lines file as its first lines show them (for CloudEvents, as the
    mapping sees them: ``data`` fields by their own names, ids scoped by source)."""
    first = next(_chunks(Path(source), Tuning().batch_rows), None)
    if first is None:
        raise IngestError(f"{source}: the file holds no JSON objects")
    if _is_cloudevents(first):
        first = _cloudevent_columns(first)
    return [name for name in first.columns if name not in (LINE, PLACE, PROBLEM)]


def _chain(first: pl.DataFrame, rest: Iterator[pl.DataFrame]) -> Iterator[pl.DataFrame]:
    yield first
    yield from rest


def _chunks(source: Path, size: int) -> Iterator[pl.DataFrame]:
    """Tables of ``size`` lines each; a broken line is a row with only its `PROBLEM`."""
    with open_binary(source) as handle:
        lines: list[bytes] = []
        numbers: list[int] = []
        for number, raw in enumerate(handle, start=1):
            if raw.strip():
                lines.append(raw)
                numbers.append(number)
            if len(lines) >= size:
                yield _table(source, lines, numbers)
                lines, numbers = [], []
        if lines:
            yield _table(source, lines, numbers)


def _table(source: Path, lines: list[bytes], numbers: list[int]) -> pl.DataFrame:
    """Parse lines at once; only when that fails, line by line to find the broken ones."""
    try:
        frame = _with_lines(_parse(lines), numbers)
    except (pl.exceptions.PolarsError, ValueError):
        kept, good, broken = [], [], []
        for number, line in zip(numbers, lines, strict=True):
            try:
                value = json.loads(line)
            except ValueError as error:
                broken.append((number, f"not valid JSON ({error})"))
                continue
            except RecursionError:
                broken.append((number, f"nested more than {MAX_DEPTH} levels deep"))
                continue
            if not isinstance(value, dict):
                broken.append((number, f"not a JSON object but {type(value).__name__}"))
                continue
            if _depth(value) > MAX_DEPTH:
                broken.append((number, f"nested more than {MAX_DEPTH} levels deep"))
                continue
            kept.append(line)
            good.append(number)
        problems = pl.DataFrame(broken, schema={LINE: pl.Int64, PROBLEM: pl.String}, orient="row")
        problems = problems.with_columns(pl.format("line {}", pl.col(LINE)).alias(PLACE))
        parsed = _with_lines(_parse(kept), good) if kept else problems.clear()
        frame = pl.concat([parsed, problems], how="diagonal_relaxed").sort(LINE)
    return frame


def _depth(value: object) -> int:
    """How deeply objects and lists nest in a JSON value (without recursion)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth <= MAX_DEPTH:
                children = item.values() if isinstance(item, dict) else item
                pending.extend((child, depth + 1) for child in children)
    return deepest


def _with_lines(frame: pl.DataFrame, numbers: list[int]) -> pl.DataFrame:
    frame = _dates(_flatten(frame))
    return frame.with_columns(pl.Series(LINE, numbers, dtype=pl.Int64)).with_columns(
        pl.format("line {}", pl.col(LINE)).alias(PLACE)
    )


def _parse(lines: list[bytes]) -> pl.DataFrame:
    return pl.read_ndjson(
        io.BytesIO(b"\n".join(line.rstrip(b"\r\n") for line in lines)), infer_schema_length=None
    )


def _flatten(frame: pl.DataFrame) -> pl.DataFrame:
    """Nested objects become dotted columns (``data.amount``); lists stay JSON text."""
    while True:
        structs = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.Struct)]
        if not structs:
            break
        for name in structs:
            fields = frame[name].struct.unnest()
            fields = fields.rename({field: f"{name}.{field}" for field in fields.columns})
            frame = frame.drop(name).hstack(fields)
    lists = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.List)]
    return frame.with_columns(
        pl.col(name).map_elements(
            lambda value: json.dumps(value.to_list() if hasattr(value, "to_list") else value),
            return_dtype=pl.String,
        )
        for name in lists
    )


def _dates(frame: pl.DataFrame) -> pl.DataFrame:
    """String columns that all read as ISO 8601 times become UTC datetimes."""
    for name, dtype in frame.schema.items():
        if dtype != pl.String:
            continue
        present = frame[name].drop_nulls()
        if present.len() == 0 or not _ISO_START.match(present[0]):
            continue
        parsed = parse_times(frame[name], ParseOptions())
        if parsed.null_count() == frame[name].null_count():
            frame = frame.with_columns(parsed.alias(name))
    return frame


def _is_cloudevents(frame: pl.DataFrame) -> bool:
    return "specversion" in frame.columns or {"id", "source", "type"} <= set(frame.columns)


def _cloudevent_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """CloudEvents fields in the shape `CLOUDEVENTS` maps: ids scoped by their source."""
    source = pl.col("source").cast(pl.String) if "source" in frame.columns else pl.lit("")
    columns = [pl.format("{}@{}", pl.col("id").cast(pl.String), source).alias("event_id")]
    if "causationid" in frame.columns:
        columns.append(
            pl.when(pl.col("causationid").is_not_null())
            .then(pl.format("{}@{}", pl.col("causationid").cast(pl.String), source))
            .alias("causationid")
        )
    frame = frame.with_columns(columns).drop("id")
    renamed = {
        name: name.removeprefix("data.") for name in frame.columns if name.startswith("data.")
    }
    clashes = set(renamed.values()) & (set(frame.columns) - set(renamed))
    return frame.rename({old: new for old, new in renamed.items() if new not in clashes})
