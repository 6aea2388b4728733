"""The restatement audit: a period's figures as known after each import."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from workbench.cli.commands import F, command
from workbench.cli.options import CalendarOption, JsonOption, LogArgument, with_filters
from workbench.cli.output import emit_json, fail, heading, out, records
from workbench.cli.session import (
    existing_log,
    workbench,
)
from workbench.durations import human

if TYPE_CHECKING:
    from workbench.filters import Filters


def _without_times(function: F) -> F:
    """The filter flags but --from and --to, which name the period here."""
    return with_filters(function, cuts=False, times=False)


@command
@_without_times
def restatements(
    log: LogArgument,
    start: Annotated[
        str | None, typer.Option("--from", help="The period: cases active from this time.")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="The period: cases active until.")] = None,
    by: Annotated[
        str, typer.Option(help="How late each activity, resource or source (file) reports.")
    ] = "activity",
    calendar: CalendarOption = None,
    as_json: JsonOption = False,
    *,
    filters: Filters,
) -> None:
    """A period's figures as known after each import that changed them (cases, events,
    median throughput time, late events that caused the change), how late each source
    reports, and the recent periods whose figures are still provisional; of the cases the
    filters keep (--activity, --attribute, --lifecycle), judged as known after each import.

    Example: workbench restatements orders --from 2024-03-01 --json
    """
    existing_log(log)
    if by not in ("activity", "resource", "source"):
        fail(f"--by {by!r}: choose activity, resource or source")
    from workbench.application import moment

    low = moment(start, "--from") if start else None
    high = moment(end, "--to") if end else None
    if low is not None and high is not None and high < low:
        fail(f"--to {end} is before --from {start}")
    bench = workbench()
    history = bench.restatements(log, filters, start=low, end=high, calendar=calendar)
    if as_json:
        emit_json([{**row, "calendar": calendar} for row in records(history)])
        return
    period = f" from {start or 'the start'} to {end or 'now'}" if start or end else ""
    working = f" (working time, {workbench().calendar_words(log, calendar)})" if calendar else ""
    heading(log, f"{period}: as known after each import that changed it{working}")
    table = Table("known at", "recorded", "cases", "events", "median duration", "late events")
    for row in history.iter_rows(named=True):
        median = row["median_duration_s"]
        table.add_row(
            f"{row['known_at']:,}",
            row["recorded_at"].isoformat(timespec="seconds"),
            f"{row['cases']:,}",
            f"{row['events']:,}",
            human(None if median is None else timedelta(seconds=median)),
            f"{row['events_added_late']:,}",
        )
    out.print(table)
    late = bench.lateness(log, filters, by=by, calendar=calendar).head(15)
    reporting = Table(by, "events", "late", "median lateness", "p90 lateness")
    for row in late.iter_rows(named=True):
        reporting.add_row(
            Path(str(row[by])).name if by == "source" else str(row[by]),
            f"{row['events']:,}",
            f"{row['late_share']:.1%}",
            human(row["median_lateness"]),
            human(row["p90_lateness"]),
        )
    out.print(reporting)
    periods = bench.provisional(log, filters)
    pending = periods.filter(periods["provisional"])
    for row in pending.iter_rows(named=True):
        out.print(
            f"provisional: {row['period'].date().isoformat()} month, about"
            f" {row['still_to_arrive']:.0%} of its events usually arrive later"
        )
