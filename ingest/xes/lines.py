"""A vectorized parser for XES written one element per line, as most tools write it.

Each line of such a file is an opening or closing ``<trace>`` or ``<event>`` tag or one
attribute, ``<string key="..." value="..."/>``. Polars' CSV reader takes the lines apart at
their quotes, and running sums place every attribute in its trace and event: a piece is
parsed on Polars' threads, without the GIL, so that parsing overlaps with writing, and in
less time than rustxes takes.

It returns exactly the frame rustxes returns for the same piece (column order aside), and
None for anything outside the plain, regular case: an element it does not know, nested or
list attributes, a key given twice, a key with two types, a value rustxes reads in a way of
its own (a boolean other than ``true`` or ``false``, a malformed number or date), a numeric
character reference. Then rustxes parses that piece, so the result never depends on which
parser read it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

_TYPES = ("string", "date", "int", "float", "boolean", "id")
_ATTRIBUTE = re.compile(
    rb'<(string|date|int|float|boolean|id)\s+key="([^"<]*)"\s+value="([^"<]*)"\s*/>'
)
_GLOBAL = re.compile(rb'<global\s+scope="(trace|event)"\s*>(.*?)</global>', re.DOTALL)
_INTEGER = r"^[+-]?\d+$"
_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_FLOAT = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"
_DATE = r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)?$"
_ENTITY = r"&(?:lt|gt|quot|apos|amp);"
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&apos;", "'"), ("&amp;", "&"))


@dataclass(frozen=True)
class Defaults:
    """The log's global defaults: per scope, each key's type and value (as written)."""

    trace: dict[str, tuple[str, str]] = field(default_factory=dict)
    event: dict[str, tuple[str, str]] = field(default_factory=dict)
    _cache: dict[tuple[bool, str], pl.Series | None] = field(
        default_factory=dict, compare=False, repr=False
    )

    def typed(self, in_event: bool, name: str) -> pl.Series | None:
        """A declared default as rustxes types it (None where it does not), typed once for
        every piece of the log."""
        if (in_event, name) not in self._cache:
            kind, value = (self.event if in_event else self.trace)[name]
            self._cache[in_event, name] = _typed(pl.Series([value]), kind)
        return self._cache[in_event, name]


def defaults(header: bytes) -> Defaults | None:
    """The global defaults declared in a log's header; None when they are not plain
    attributes this parser reads (then rustxes reads the log)."""
    found = Defaults()
    if b"<![CDATA[" in header or header.rfind(b"<!--") > header.rfind(b"-->"):
        return None  # an unclosed comment, or text that may hide anything
    blocks = []
    start = header.find(b"<global")
    while start >= 0:  # found by plain search: a header can be megabytes of log attributes
        comment = header.rfind(b"<!--", 0, start)
        if comment >= 0 and header.find(b"-->", comment, start) < 0:
            return None  # a declaration within a comment
        end = header.find(b"</global>", start)
        declared = _GLOBAL.fullmatch(header, start, end + len(b"</global>")) if end > 0 else None
        if declared is None:
            return None  # a declaration of another form
        blocks.append((declared.group(1), declared.group(2)))
        start = header.find(b"<global", end)
    for scope, body in blocks:
        target = found.trace if scope == b"trace" else found.event
        if _ATTRIBUTE.sub(b"", body).strip():
            return None
        for kind, key, value in _ATTRIBUTE.findall(body):
            try:
                name, text = _name(key.decode()), _unescaped_text(value.decode())
            except UnicodeDecodeError:
                return None
            if name is None or text is None or name in target:
                return None  # not well-formed, or given twice
            target[name] = (kind.decode(), text)
    return found


def parse(piece: bytes | memoryview, known: Defaults) -> pl.DataFrame | None:
    """The events of ``piece`` (whole traces, one element per line) as rustxes gives them;
    None when the piece is not that plain (rustxes then reads it).

    The lines are read as CSV separated by quotes, which no XML attribute value holds:
    ``<string key=|concept:name| value=|A_SUBMITTED|/>``. The parts around the key and
    value repeat from line to line, so they are read as categories and judged once each.
    """
    return parse_lines(b"".join((SIX_FIELDS, piece)), known)


def parse_lines(lines: bytes, known: Defaults) -> pl.DataFrame | None:
    """`parse` of a piece that starts with the line `SIX_FIELDS` (which tells the reader how
    many fields a line has), handed over without a copy."""
    try:
        fields = pl.read_csv(
            lines,
            has_header=False,
            separator='"',
            quote_char=None,
            comment_prefix=None,
            # Fields after the sixth are dropped: a line with a sixth at all is declined.
            truncate_ragged_lines=True,
            schema=_FIELDS,
            empty_string_is_null=False,  # value="" is an empty string
        ).slice(1)
    except pl.exceptions.PolarsError:  # not UTF-8, for one
        return None
    return _parsed(fields, known)


SIX_FIELDS = b'"""""\n'
_FIELDS = {
    "opening": pl.Categorical,
    "key": pl.Categorical,
    "between": pl.Categorical,
    "value": pl.String,
    "closing": pl.Categorical,
    # A fifth quote: more on the line after an attribute (another attribute, say).
    "more": pl.Categorical,
}
# What a line holds before its first quote, and what that makes it.
_OPENINGS = {
    "<trace>": 1,
    "</trace>": 2,
    "<event>": 3,
    "</event>": 4,
    **{f"<{kind} key=": 10 + number for number, kind in enumerate(_TYPES)},
}


def _codes(column: pl.Series) -> pl.Series | None:
    """What each line is (`_OPENINGS`; 0 for a blank line), judged once per category;
    None when a line starts with anything else."""
    categories = column.drop_nulls().unique()
    found = [_OPENINGS.get(text.strip(), 0 if not text.strip() else None) for text in categories]
    codes = [code for code in found if code is not None]
    if len(codes) < len(found):
        return None
    physical = column.to_physical()
    numbers = categories.to_physical().to_list()
    top = max(numbers, default=0)
    if top >= 1 << 16:  # categories are numbered process-wide: a table would be large
        return physical.replace_strict(numbers, codes, return_dtype=pl.UInt8).fill_null(0)
    lookup = [0] * (top + 1)
    for number, code in zip(numbers, codes, strict=True):
        lookup[number] = code
    return pl.Series(lookup, dtype=pl.UInt8).gather(physical).fill_null(0)


def _all(column: pl.Series, accept: Callable[[str], bool]) -> bool:
    """Whether every category a line has in ``column`` is acceptable."""
    return all(accept(text) for text in column.drop_nulls().unique().to_list())


def _parsed(fields: pl.DataFrame, known: Defaults) -> pl.DataFrame | None:
    codes = _codes(fields["opening"])
    if (
        codes is None
        or not _all(fields["key"], lambda key: bool(key) and _name(key) is not None)
        or not _all(fields["between"], lambda text: text[:1].isspace() and text.strip() == "value=")
        or not _all(fields["closing"], lambda text: text.strip() == "/>")
        or fields["more"].is_not_null().any()
    ):
        return None
    fields = fields.with_columns(code=codes)
    code = pl.col("code")
    steps = fields.select(
        "code",
        "key",
        "value",
        shaped=(code >= 10)
        == (
            pl.col("key").is_not_null()
            & pl.col("between").is_not_null()
            & pl.col("closing").is_not_null()
        ),
        trace_no=(code == 1).cum_sum(),
        event_no=(code == 3).cum_sum(),
        in_trace=pl.when(code == 1).then(1).when(code == 2).then(-1).otherwise(0).cum_sum(),
        in_event=pl.when(code == 3).then(1).when(code == 4).then(-1).otherwise(0).cum_sum(),
    )
    checks = steps.select(
        shaped=pl.col("shaped").all(),
        nesting=pl.col("in_trace").is_between(0, 1).all()
        & pl.col("in_event").is_between(0, 1).all(),
        events_in_traces=((pl.col("in_event") == 0) | (pl.col("in_trace") == 1)).all(),
        attributes_in_traces=((code < 10) | (pl.col("in_trace") == 1)).all(),
        traces_outside_events=(((code != 1) & (code != 2)) | (pl.col("in_event") == 0)).all(),
        closed=(pl.col("in_trace").last() == 0) & (pl.col("in_event").last() == 0),
    ).row(0)
    if not all(check is True for check in checks):
        return None
    events = steps.filter(code == 3).select("event_no", "trace_no")
    if events.height == 0:
        return None
    attributes = steps.filter(code >= 10).select(
        "code",
        # A number for each key in each scope: few, and compared as integers.
        (pl.col("key").to_physical().cast(pl.Int64) * 2 + pl.col("in_event")).alias("part"),
        "key",
        "value",
        "trace_no",
        "event_no",
        in_event=pl.col("in_event") == 1,
    )
    if attributes["value"].str.contains(r"[&<\r]").any():
        value = attributes["value"]
        if (
            value.str.contains(r"[<\r]").any()
            or value.str.replace_all(_ENTITY, "").str.contains("&", literal=True).any()
        ):
            return None  # a character reference, a stray "&": rustxes' own reading
        attributes = attributes.with_columns(_unescaped(pl.col("value")))
    traces = int(steps["trace_no"][-1])
    attributes = attributes.with_columns(
        at=pl.when(pl.col("in_event")).then(pl.col("event_no")).otherwise(pl.col("trace_no"))
    )
    # Each key in each scope: its type, and whether its places only grow (in file order),
    # that is, whether it is given at most once in a trace or event.
    parts = (
        attributes.group_by("part")
        .agg(
            pl.col("key").first(),
            pl.col("code").first(),
            types=pl.col("code").n_unique(),
            once=(pl.col("at").diff().drop_nulls() > 0).all(),
        )
        .sort("part")
    )
    if not (parts["types"] == 1).all() or not parts["once"].all():
        return None  # a key with two types, or a key given twice in one trace or event
    groups = attributes.select("part", "value", "at").partition_by(
        "part", as_dict=True, maintain_order=True
    )
    # The values of all keys of a type are typed at once (a date parse has its cost).
    typed: dict[int, pl.Series] = {}
    for code in parts["code"].unique().to_list():
        chosen = parts.filter(pl.col("code") == code)["part"].to_list()
        values = _typed(pl.concat([groups[(part,)]["value"] for part in chosen]), _TYPES[code - 10])
        if values is None:
            return None
        offset = 0
        for part in chosen:
            size = groups[(part,)].height
            typed[part] = values.slice(offset, size)
            offset += size
    scopes = {True: (events.height, "", known.event), False: (traces, "case:", known.trace)}
    columns: list[pl.Series] = []
    for part, key, code in parts.select("part", "key", "code").iter_rows():
        in_event = part % 2 == 1
        width, prefix, declared = scopes[in_event]
        name = _name(str(key)) or ""
        kind = _TYPES[code - 10]
        default = declared.get(name)
        if default is not None and default[0] != kind:
            return None
        fill = None if default is None else known.typed(in_event, name)
        if default is not None and (fill is None or fill.null_count()):
            return None
        values = typed[part]
        if values.len() == width:
            column = values  # every event (or trace) has it
        else:  # each value in its place (events and traces are numbered from 1 in a piece)
            column = pl.repeat(None, width, dtype=values.dtype, eager=True)
            column = column.scatter(groups[(part,)]["at"] - 1, values)
        if not in_event:
            column = column.gather(events["trace_no"] - 1)
        if fill is not None and column.null_count():
            column = column.zip_with(column.is_not_null(), fill.new_from_index(0, column.len()))
        if column.null_count() == column.len():  # seen, but only in traces without events
            column = pl.Series(values=[None] * column.len(), dtype=pl.Null)
        columns.append(column.alias(prefix + name))
    names = [column.name for column in columns]
    if len(set(names)) != len(names):
        return None  # an event attribute "case:x" beside a trace attribute "x"
    return pl.DataFrame(columns)


def _name(key: str) -> str | None:
    """A key's column name: as written, entities and all, as rustxes names it; None for a
    key that is not well-formed XML."""
    if "<" in key or "&" in re.sub(_ENTITY, "", key):
        return None
    return key


def _unescaped_text(value: str) -> str | None:
    """An attribute value with its entities replaced; None for a character reference or a
    stray "&"."""
    if "&" in re.sub(_ENTITY, "", value):
        return None
    for entity, character in _ENTITIES:
        value = value.replace(entity, character)
    return value


def _unescaped(value: pl.Expr) -> pl.Expr:
    for entity, character in _ENTITIES:
        value = value.str.replace_all(entity, character, literal=True)
    return value


def _typed(text: pl.Series, kind: str) -> pl.Series | None:
    """A key's values as rustxes types them; None when one is written in a way rustxes
    reads differently from the XES standard."""
    if kind == "string":
        return text
    if kind == "id":  # rustxes writes UUIDs its own way, and any other id as the nil UUID
        return text if text.str.contains(_UUID).all() else None
    if kind == "int":
        if not text.str.contains(_INTEGER).all():
            return None
        try:
            return text.str.strip_prefix("+").cast(pl.Int64, strict=True)
        except pl.exceptions.PolarsError:
            return None
    if kind == "float":
        if not text.str.contains(_FLOAT).all():
            return None
        try:
            return text.cast(pl.Float64, strict=True)
        except pl.exceptions.PolarsError:
            return None
    if kind == "boolean":
        if not text.is_in(["true", "false"]).all():
            return None
        return text == "true"
    if kind == "date":
        return _dates(text)
    return None


def _dates(text: pl.Series) -> pl.Series | None:
    """Dates as rustxes reads them: RFC 3339 with ``T``, or without an offset (then UTC),
    to nanoseconds; None for anything else (rustxes reads those as nothing)."""
    if not text.str.contains(_DATE).all():
        return None
    try:
        moment = text.str.slice(0, 19).str.strptime(
            pl.Datetime("ns"), "%Y-%m-%dT%H:%M:%S", strict=True
        )
    except pl.exceptions.PolarsError:
        return None  # a month 13, a 24th hour
    # What follows the 19 characters of the moment (a fraction, a zone) is read once for
    # each way it is written where those are few (at most milliseconds: a thousand
    # fractions, and a zone or two, most often), and row by row otherwise.
    tail = text.str.slice(19)
    longest = tail.str.len_bytes().max()
    if tail.len() >= 4_096 and isinstance(longest, int) and longest <= len(".123+01:00"):
        tails = tail.unique()
        shift = tail.replace_strict(tails, _shift(tails), return_dtype=pl.Int64)
    else:
        shift = _shift(tail)
    return (moment + shift.cast(pl.Duration("ns"))).cast(pl.Datetime("ns"))


def _shift(tail: pl.Series) -> pl.Series:
    """Nanoseconds to add to a moment for what follows it: an optional fraction, then an
    optional zone ("Z" or six characters, "+01:00"); the expression has vouched for the
    shape."""
    value = pl.col("tail")
    size = value.str.len_bytes().cast(pl.Int64)
    offset = (size >= 6) & value.str.slice(-6, 1).is_in(["+", "-"])
    zone = pl.when(offset).then(6).when(value.str.ends_with("Z")).then(1).otherwise(0)
    nanoseconds = value.str.slice(1, (size - 1 - zone).clip(0)).str.pad_end(9, "0").cast(pl.Int64)
    minutes = (
        value.str.slice(-5, 2).cast(pl.Int64, strict=False) * 60
        + value.str.slice(-2, 2).cast(pl.Int64, strict=False)
    ) * pl.when(value.str.slice(-6, 1) == "-").then(-1).otherwise(1)
    return (
        pl.DataFrame({"tail": tail})
        .select(nanoseconds - pl.when(offset).then(minutes).otherwise(0) * 60_000_000_000)
        .to_series()
    )


_OPENING = re.compile(rb"<log\b[^>]*>")
_DECLARATIONS = re.compile(
    rb"<(?:extension|classifier)\b[^>]*>|<global\b[^>]*/>|<global\b.*?</global>", re.DOTALL
)


def lean_header(header: bytes) -> bytes:
    """What every piece needs of the log's header: the ``<log>`` tag with its namespace,
    the extensions, the classifiers and the global defaults; not the log's own attributes
    (some logs carry megabytes of metadata there, which no event needs)."""
    opening = _OPENING.search(header)
    if opening is None:  # no <log> tag we recognise: keep the header whole
        return header
    kept = b"\n".join(match.group() for match in _DECLARATIONS.finditer(header, opening.end()))
    return header[: opening.end()] + b"\n" + kept + b"\n"
