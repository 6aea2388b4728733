"""How attributes are kept: typed columns in attribute tables, the same rules on every backend.

Every attribute of a log has a kind (`KINDS`) and one or more columns. A column holds values
of one kind only, stored as an integer, a real or text (`PHYSICAL`): times as microseconds,
dates as days, times of day as nanoseconds. When a later batch brings values of a wider
kind (an integer attribute that now has text), the attribute gets a column of the new kind
and its kind widens; the older columns stay as they are and are cast to the attribute's
kind when read. So nothing stored is ever rewritten, and every backend reads the same
values: the casts happen in Polars, not in SQL.

A log's columns are spread over attribute tables of at most `TABLE_COLUMNS` columns each
(table 0, 1, 2, ...), keyed by position: SQLite allows 2,000 columns a table and
PostgreSQL 1,600, and logs with thousands of attributes exist. Case attributes
(``case:...``, as XES trace attributes and pm4py's case columns are named) get tables of
their own (`CASE_TABLES` on): their values usually stay the same along a case, so a
backend may keep them once per run of equal values in a case (SQLite does).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

import polars as pl

from workbench.events import UTC_MICROS, WRITABLE

TABLE_COLUMNS: Final = 1_000
#: The first attribute table of case attributes (see the module's documentation).
CASE_TABLES: Final = 10_000

#: The kinds of attribute, with the Polars type a scan returns for each.
KINDS: Final[dict[str, pl.DataType]] = {
    "Boolean": pl.Boolean(),
    "Int64": pl.Int64(),
    "Float64": pl.Float64(),
    "String": pl.String(),
    "Datetime": UTC_MICROS,
    "Date": pl.Date(),
    "Duration": pl.Duration("us"),
    "Time": pl.Time(),
    "Null": pl.String(),  # only nulls seen so far: the first real kind replaces it
}
#: How each kind is stored: INTEGER, REAL or TEXT (each backend names its own SQL type).
PHYSICAL: Final[dict[str, str]] = {
    "Boolean": "INTEGER",
    "Int64": "INTEGER",
    "Float64": "REAL",
    "String": "TEXT",
    "Datetime": "INTEGER",
    "Date": "INTEGER",
    "Duration": "INTEGER",
    "Time": "INTEGER",
    "Null": "TEXT",
}
PHYSICAL_TYPES: Final[dict[str, pl.DataType]] = {
    "INTEGER": pl.Int64(),
    "REAL": pl.Float64(),
    "TEXT": pl.String(),
}


def kind_of(dtype: pl.DataType) -> str:
    """The kind under which values of this Polars type are kept."""
    if dtype == pl.Null:
        return "Null"
    if dtype == pl.Boolean:
        return "Boolean"
    if dtype.is_integer():
        return "Int64"
    if dtype.is_float() or dtype.is_decimal():
        return "Float64"
    if isinstance(dtype, pl.Datetime):
        return "Datetime"
    if dtype == pl.Date:
        return "Date"
    if isinstance(dtype, pl.Duration):
        return "Duration"
    if dtype == pl.Time:
        return "Time"
    return "String"


def widen(old: str, new: str) -> str:
    """The kind that holds values of both kinds: integers and reals make reals, anything
    else mixed makes text."""
    if old == new or new == "Null":
        return old
    if old == "Null":
        return new
    if {old, new} == {"Int64", "Float64"}:
        return "Float64"
    return "String"


@dataclass(frozen=True)
class Column:
    """One stored column of an attribute: the kind of its values, its table and its name."""

    kind: str
    table: int
    name: str


@dataclass(frozen=True)
class Attribute:
    """An attribute of a log: its kind (widened over all its values) and its columns."""

    kind: str
    columns: tuple[Column, ...] = ()

    def column_for(self, kind: str) -> Column | None:
        """The column that takes values of ``kind``, if the attribute has one."""
        return next((column for column in self.columns if column.kind == kind), None)


Attributes = dict[str, Attribute]


def loads(text: str) -> Attributes:
    """A log's attributes from their stored JSON.

    Stores made before attributes could have several columns keep ``name: [kind, column]``
    in table 0; such a column may hold values of narrower kinds, which the cast on read
    (`read_expression`) turns into its attribute's kind, as it always did.
    """
    found: Attributes = {}
    for name, spec in json.loads(text).items():
        if isinstance(spec, list):
            kind, column = spec
            found[name] = Attribute(kind, (Column(kind, 0, column),))
        else:
            found[name] = Attribute(
                spec["kind"], tuple(Column(k, int(t), c) for k, t, c in spec["columns"])
            )
    return found


def dumps(attributes: Attributes) -> str:
    """The JSON a backend stores for a log's attributes (see `loads`)."""
    return json.dumps(
        {
            name: {
                "kind": spec.kind,
                "columns": [[c.kind, c.table, c.name] for c in spec.columns],
            }
            for name, spec in attributes.items()
        }
    )


def is_case_table(table: int) -> bool:
    """Whether an attribute table holds case attributes (see `CASE_TABLES`)."""
    return table >= CASE_TABLES


def runs(rows: pl.DataFrame) -> pl.DataFrame:
    """Rows of a case table (``position``, ``case_key`` and its columns) reduced to where a
    run of equal values in a case starts: each event has the values of its case's last
    run starting at or before it (`spread`)."""
    rows = rows.sort("case_key", "position")
    values = [name for name in rows.columns if name not in ("position", "case_key")]
    changed = pl.col("case_key") != pl.col("case_key").shift(1)
    for name in values:
        changed = changed | pl.col(name).ne_missing(pl.col(name).shift(1))
    return rows.filter(changed.fill_null(True))


def spread(runs: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """The values of the runs (`runs`) at each event (``position``, ``case_key``), with
    the events' positions."""
    found = (
        events.select("position", "case_key")
        .sort("position")
        .join_asof(
            runs.sort("position"),
            on="position",
            by="case_key",
            strategy="backward",
            check_sortedness=False,  # both sorted by position just now
        )
    )
    return found.drop("case_key")


def table_name(log_id: int, table: int) -> str:
    """The attribute table ``table`` of a log; built from integers only, never user text."""
    return f"attributes_{int(log_id)}" if table == 0 else f"attributes_{int(log_id)}_{int(table)}"


@dataclass(frozen=True)
class Plan:
    """How a frame's attributes are written: the log's attributes afterwards, the columns to
    add first, and for each column the expression that gives its values."""

    attributes: Attributes
    new_columns: tuple[Column, ...]
    values: dict[Column, pl.Expr]

    def tables(self) -> dict[int, list[Column]]:
        """The columns written, by attribute table."""
        by_table: dict[int, list[Column]] = {}
        for column in self.values:
            by_table.setdefault(column.table, []).append(column)
        return by_table


def plan(known: Attributes, schema: pl.Schema) -> Plan:
    """Where the attributes of a frame with this schema go.

    Values whose kind the attribute already covers are cast to the attribute's kind (in
    Polars, as a read would) and go to its column of that kind; values of a wider kind get
    a new column and widen the attribute.
    """
    merged = dict(known)
    used = _columns_per_table(known.values())
    new_columns: list[Column] = []
    values: dict[Column, pl.Expr] = {}
    for name, dtype in schema.items():
        if name in WRITABLE:
            continue
        batch_kind = kind_of(dtype)
        current = merged.get(name, Attribute("Null"))
        kind = widen(current.kind, batch_kind)
        if batch_kind == "Null":
            merged[name] = current
            continue
        column = current.column_for(kind)
        if column is None:
            column = _next_column(used, kind, case=name.startswith("case:"))
            new_columns.append(column)
            current = Attribute(kind, (*current.columns, column))
        merged[name] = Attribute(kind, current.columns)
        values[column] = physical(pl.col(name).cast(KINDS[kind]), kind).alias(column.name)
    return Plan(merged, tuple(new_columns), values)


def _columns_per_table(attributes: Iterable[Attribute]) -> dict[int, int]:
    used: dict[int, int] = {}
    for attribute in attributes:
        for column in attribute.columns:
            used[column.table] = max(used.get(column.table, 0), int(column.name[1:]))
    return used


def _next_column(used: dict[int, int], kind: str, *, case: bool) -> Column:
    first = CASE_TABLES if case else 0
    table = max((t for t in used if (t >= CASE_TABLES) == case), default=first)
    if used.get(table, 0) >= TABLE_COLUMNS:
        table += 1
    used[table] = used.get(table, 0) + 1
    return Column(kind, table, f"a{used[table]}")


def physical(value: pl.Expr, kind: str) -> pl.Expr:
    """A value of ``kind`` as its column stores it (see `PHYSICAL`)."""
    if kind in ("Datetime", "Date", "Duration", "Time"):
        value = value.cast(KINDS[kind]).to_physical()
    return value.cast(PHYSICAL_TYPES[PHYSICAL[kind]])


def read_expression(name: str, attribute: Attribute) -> pl.Expr:
    """An attribute's values from its stored columns (read under their own names), in the
    attribute's kind."""
    target = KINDS[attribute.kind]
    parts = [
        pl.col(read_label(column))
        .cast(PHYSICAL_TYPES[PHYSICAL[column.kind]])
        .cast(KINDS[column.kind])
        .cast(target)
        for column in attribute.columns
    ]
    if not parts:
        return pl.lit(None, dtype=target).alias(name)
    return (parts[0] if len(parts) == 1 else pl.coalesce(parts)).alias(name)


def by_table(attributes: Iterable[Attribute]) -> dict[int, list[Column]]:
    """The stored columns of these attributes, by attribute table."""
    found: dict[int, list[Column]] = {}
    for attribute in attributes:
        for column in attribute.columns:
            found.setdefault(column.table, []).append(column)
    return found


def read_label(column: Column) -> str:
    """The name a column is read under (unique across a log's tables)."""
    return column.name if column.table == 0 else f"{column.name}_{column.table}"


def wanted(attributes: Mapping[str, Attribute], names: Iterable[str] | None) -> Attributes:
    """The attributes a read needs (all of them when ``names`` is None)."""
    if names is None:
        return dict(attributes)
    chosen = set(names)
    return {name: spec for name, spec in attributes.items() if name in chosen}
