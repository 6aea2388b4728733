"""Read-only SQL over the logs, with time travel: the query command."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from workbench.cli.commands import command
from workbench.cli.options import EngineOption, SparkMasterOption, with_filters
from workbench.cli.output import check_output, fail, heading, out, records, warn
from workbench.cli.session import engine_of, existing_log

if TYPE_CHECKING:
    import polars as pl

    from workbench.application import Cut
    from workbench.filters import Filters
    from workbench.query import Answer

FORMATS = ("table", "json", "csv", "parquet")
#: Rows a table shows unless --limit says otherwise (the other formats give every row).
TABLE_ROWS = 1_000


@command
@with_filters
def query(
    sql: Annotated[
        str | None,
        typer.Argument(help="One SELECT statement (DuckDB's SQL); - reads it from stdin."),
    ] = None,
    log: Annotated[
        str | None, typer.Option(help="Only this log's rows (default: every log).")
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="table, json (a list of rows), csv or parquet.")
    ] = "table",
    output: Annotated[
        Path | None, typer.Option(help="Write to this file (parquet needs one).")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            help=f"At most this many rows (default: {TABLE_ROWS:,} for a table, all otherwise)."
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Stop the query after this many seconds.")
    ] = 60.0,
    tables: Annotated[bool, typer.Option("--tables", help="List the tables and stop.")] = False,
    engine: EngineOption = "polars",
    spark_master: SparkMasterOption = None,
    *,
    cut: Cut,
    filters: Filters,
) -> None:
    """Ask your own question in SQL: the tables events, cases, dfg, variants, logs, the
    object tables and state_at(TIMESTAMP) (--tables lists them), read-only, with FOR
    SYSTEM_TIME AS OF / FOR VALID_TIME AS OF per table (as --known-at / --as-of do for all
    of them).

    Example: workbench query "SELECT activity, count(*) FROM events GROUP BY 1"
    """
    from workbench.query import TABLES

    if tables:
        for name, words in TABLES.items():
            heading(name, f": {words}")
        heading("state_at(TIMESTAMP)", ": every case as it stood then, as `workbench state`")
        return
    if sql is None:
        fail('give a SELECT statement, such as "SELECT count(*) FROM events" (--tables lists them)')
    if output_format not in FORMATS:
        fail(f"--format {output_format!r}: choose {', '.join(FORMATS)}")
    if output_format == "parquet" and output is None:
        fail("--format parquet writes a file: give --output FILE")
    if output is not None:
        check_output(output)
    text = sys.stdin.read() if sql == "-" else sql
    rows = limit if limit is not None or output_format != "table" else TABLE_ROWS
    answer = engine_of(engine, spark_master).query(
        text,
        cut,
        filters,
        log=None if log is None else existing_log(log),
        limit=rows,
        timeout=timeout,
    )
    if not answer.complete:
        warn(_partial(answer, "--limit" if limit is not None else f"a table shows {TABLE_ROWS:,}"))
    _write(answer, output_format, output)


def _partial(answer: Answer, why: str) -> str:
    shown = answer.frame.height
    if answer.total is None:
        return f"the first {shown:,} rows ({why}); counting the rest ran out of the timeout"
    return f"the first {shown:,} of {answer.total:,} rows ({why})"


def _write(answer: Answer, output_format: str, output: Path | None) -> None:
    frame = answer.frame
    if output_format == "parquet":
        assert output is not None
        frame.write_parquet(output)
        heading(str(output), f": {frame.height:,} rows")
        return
    if output_format == "json":
        text = json.dumps(records(frame), ensure_ascii=False, indent=2, default=str) + "\n"
    elif output_format == "csv":
        text = _flat(frame).write_csv()
    else:
        _table(answer)
        return
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        heading(str(output), f": {frame.height:,} rows")


def _flat(frame: pl.DataFrame) -> pl.DataFrame:
    """Nested values (a variant's activities) as JSON text, for CSV."""
    import polars as pl

    nested = [n for n, t in frame.schema.items() if isinstance(t, pl.List | pl.Struct | pl.Array)]
    return frame.with_columns(
        pl.col(n).map_elements(
            lambda v: json.dumps(v.to_list() if hasattr(v, "to_list") else v, default=str),
            return_dtype=pl.String,
        )
        for n in nested
    )


def _table(answer: Answer) -> None:
    read = "; ".join(f"{name} {words}" for name, words in answer.cuts)
    if read:
        heading("read", f": {read}")
    table = Table(*answer.frame.columns)
    for row in records(answer.frame):
        table.add_row(*("" if value is None else _shown(value) for value in row.values()))
    out.print(table)
    total = answer.total
    shown = answer.frame.height
    out.print(f"{total:,} rows" if total == shown else f"{shown:,} rows shown")


def _shown(value: object) -> str:
    if isinstance(value, list):
        return " → ".join(str(item) for item in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
