"""The commands that rebuild a moment: state (every case at a moment) and diff (what changed
between two)."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from workbench.cli.commands import command
from workbench.cli.options import (
    CalendarOption,
    EngineOption,
    JsonOption,
    KnownAtOption,
    LogArgument,
    SparkMasterOption,
    with_filters,
)
from workbench.cli.output import check_output, emit_json, fail, heading, out, records, write_text
from workbench.cli.session import (
    engine_of,
    existing_log,
    workbench,
)
from workbench.durations import human

if TYPE_CHECKING:
    from workbench.filters import Filters


AtOption = Annotated[str, typer.Option("--at", help="The moment (ISO 8601, UTC if no offset).")]


@command
@partial(with_filters, cuts=False)
def state(
    log: LogArgument,
    at: AtOption,
    known_at: KnownAtOption = None,
    format: Annotated[str, typer.Option(help="table, csv, json or parquet.")] = "table",
    output: Annotated[
        Path | None, typer.Option(help="Write to this file (required for parquet).")
    ] = None,
    completed: Annotated[
        list[str] | None,
        typer.Option(
            "--completed",
            help="An activity that completes a case (repeatable; default: the log's usual"
            " end activities).",
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help="Cases shown in the table format.")] = 20,
    calendar: CalendarOption = None,
    engine: EngineOption = "polars",
    spark_master: SparkMasterOption = None,
    *,
    filters: Filters,
) -> None:
    """The state of every case at a moment: status, last activity, events, elapsed time,
    rework and attributes, rebuilt from the log (as known at --known-at, if given).

    Example: workbench state orders --at 2024-03-01T12:00 --known-at 2024-03-02
    """
    from workbench import timetravel
    from workbench.application import Cut

    if format not in ("table", "csv", "json", "parquet"):
        fail(f"--format {format!r}: choose table, csv, json or parquet")
    if format == "parquet" and output is None:
        fail("--format parquet writes a file: give --output FILE")
    bench = engine_of(engine, spark_master)
    cut = Cut.parse(as_of=at, known_at=known_at, names=("--at", "--known-at"))
    assert cut.as_of is not None
    at_moment = cut.as_of
    frame = bench.state(
        existing_log(log), at_moment, cut, filters, completed=completed, calendar=calendar
    )
    if format == "parquet":
        assert output is not None
        check_output(output)
        frame.write_parquet(output)
        out.print(f"{frame.height:,} cases written to {output}")
        return
    if format == "csv":
        import polars as pl

        text = frame.with_columns(
            pl.col(name).dt.total_seconds().alias(name)
            for name, dtype in frame.schema.items()
            if isinstance(dtype, pl.Duration)
        ).write_csv()
        write_text(text, output)
        return
    if format == "json":
        write_text(json.dumps(records(frame), ensure_ascii=False), output)
        return
    counts = timetravel.status_counts(frame)
    fixed = workbench().corrections(log, cut, filters)
    heading(
        log,
        f" at {at_moment.isoformat()}"
        + (f", as known at {known_at}" if known_at else "")
        + f": {frame.height:,} cases, {counts['open']:,} open, {counts['completed']:,} completed"
        + (
            f"; elapsed and idle in working time ({workbench().calendar_words(log, calendar)})"
            if calendar
            else ""
        ),
    )
    wip = Table("last activity", "open", "completed", "mean elapsed (open)")
    for row in timetravel.summary(frame).iter_rows(named=True):
        wip.add_row(
            row["last_activity"],
            f"{row['open']:,}",
            f"{row['completed']:,}",
            human(row["mean_elapsed"]),
        )
    out.print(wip)
    if fixed.height:
        out.print(f"{fixed.height:,} correction(s) by then: the state uses the corrected events")
    cases_table = Table("case", "status", "last activity", "events", "elapsed", "rework")
    for row in frame.head(limit).iter_rows(named=True):
        cases_table.add_row(
            row["case_id"],
            row["status"],
            row["last_activity"],
            str(row["events"]),
            human(row["elapsed"]),
            str(row["rework"]),
        )
    out.print(cases_table)
    if frame.height > limit:
        out.print(f"... {frame.height - limit:,} more (use --format csv or json for all)")


@command
def diff(
    log: LogArgument,
    start: Annotated[str, typer.Option("--from", help="The earlier moment.")],
    end: Annotated[str, typer.Option("--to", help="The later moment.")],
    known_at: KnownAtOption = None,
    as_json: JsonOption = False,
) -> None:
    """What changed between two moments: cases started, completed and moved on, new paths
    in the process map, and the KPIs at both moments.

    Example: workbench diff orders --from 2024-03-01 --to 2024-03-08 --json
    """
    from workbench.application import Cut, moment

    t1, t2 = moment(start, "--from"), moment(end, "--to")
    if t2 < t1:
        fail("--to is before --from")
    cut = Cut.parse(known_at=known_at)
    change = workbench().diff(existing_log(log), t1, t2, cut)
    if as_json:
        emit_json(change.to_dict())
        return
    heading(log, f" from {t1.isoformat()} to {t2.isoformat()}")
    kpis = Table("measure", "before", "after", "change")
    for row in change.kpis.iter_rows(named=True):
        kpis.add_row(
            row["measure"], f"{row['before']:,}", f"{row['after']:,}", f"{row['change']:+,}"
        )
    out.print(kpis)
    out.print(f"{change.started.height:,} cases started, {change.completed.height:,} completed")
    moves = change.moved.group_by("before", "after").len().sort("len", descending=True).head(15)
    if moves.height:
        table = Table("from activity", "to activity", "cases")
        for before, after, count in moves.iter_rows():
            table.add_row(before, after, f"{count:,}")
        out.print(table)
    for row in change.new_edges.iter_rows(named=True):
        out.print(f"new path: {row['source']} → {row['target']} ({row['frequency']:,} times)")
