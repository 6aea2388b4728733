"""Attribute values: a text column typed as its narrowest lossless type, and values a source
declares the type of."""

from __future__ import annotations

import re
from typing import Any, Final

import polars as pl

from ingest.options import ParseOptions
from ingest.times import parse_times


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
