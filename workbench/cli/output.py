"""What commands print: one-line errors and warnings, headings, tables' text, JSON and
files.

Data is never markup: the consoles print text as it is (a log name ``[x]``, an activity
``Check [manual]`` or a value ``[/bold]`` is shown, not interpreted), and JSON is written
with the standard library.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    import polars as pl


class FoldingConsole(Console):
    """A console whose tables never cut a value: a column too narrow for its values folds
    them onto more lines instead of ending them in an ellipsis (``10,…``)."""

    def print(self, *objects: Any, **options: Any) -> None:
        for item in objects:
            if isinstance(item, Table):
                for column in item.columns:
                    column.overflow = "fold"
        super().print(*objects, **options)


def _width() -> int | None:
    """The terminal's width; when the output is a pipe or a file (and COLUMNS does not say),
    wide enough that lines and tables are printed whole, as a program reading them wants."""
    if sys.stdout.isatty() or os.environ.get("COLUMNS"):
        return None
    return PIPE_WIDTH


PIPE_WIDTH = 4_000
out = FoldingConsole(markup=False, highlight=False, emoji=False, width=_width())
err = Console(stderr=True, markup=False, highlight=False, emoji=False, soft_wrap=True)


def fail(message: str) -> NoReturn:
    """Print one line, ``error: ...``, and exit with code 2."""
    err.print(Text.assemble(("error:", "red"), " ", message))
    raise typer.Exit(2)


def warn(message: str) -> None:
    """Print one line, ``warning: ...``, to stderr."""
    err.print(Text.assemble(("warning:", "yellow"), " ", message))


def heading(title: str, rest: str = "") -> None:
    """A bold title (data shown as it is) followed by plain text."""
    out.print(Text.assemble((title, "bold"), rest))


def emit_json(value: Any) -> None:
    """Print a JSON document (times as ISO 8601 text)."""
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=_jsonable) + "\n")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return str(value)


def records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows ready for JSON: times as ISO 8601 text, durations as seconds."""
    import polars as pl

    converted = frame.with_columns(
        pl.col(name).dt.total_microseconds().truediv(1e6)
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Duration)
    )
    return [
        {
            key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in row.items()
        }
        for row in converted.to_dicts()
    ]


def seconds(value: timedelta | None) -> float | None:
    """A duration as seconds (None stays None)."""
    return None if value is None else value.total_seconds()


def write_text(text: str, output: Path | None) -> None:
    """Text to stdout, or to a file whose folder must exist."""
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    check_output(output)
    output.write_text(text, encoding="utf-8")


def check_output(output: Path) -> None:
    """Refuse an output file in a folder that does not exist, or that is a folder."""
    if output.is_dir():
        fail(f"--output {output}: is a folder; give a file name")
    if not output.parent.is_dir():
        fail(f"--output {output}: the folder {output.parent} does not exist")
