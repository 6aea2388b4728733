"""The cause-and-effect commands: timeline (one case), trace (one event's causes and
effects) and why (what goes with long cases)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from workbench.cli.commands import command
from workbench.cli.options import CalendarOption, JsonOption, LogArgument
from workbench.cli.output import emit_json, fail, heading, out, records
from workbench.cli.session import (
    existing_log,
    store,
    workbench,
)
from workbench.durations import human, human_working

if TYPE_CHECKING:
    pass


@command
def timeline(
    log: LogArgument,
    case_id: Annotated[str, typer.Argument(help="The case.")],
    calendar: CalendarOption = None,
    as_json: JsonOption = False,
) -> None:
    """One case's events in order with waiting and service times; ★ marks the critical path.

    Example: workbench timeline orders O-000042 --calendar office
    """
    bench = workbench()
    chosen = bench.durations_in(existing_log(log), calendar)
    frame = bench.timeline(log, case_id, calendar=chosen)
    if as_json:
        emit_json([{**row, "calendar": chosen} for row in records(frame)])
        return
    day = bench.working_day(chosen, log)

    if chosen:
        heading(log, f"  (working time, {bench.calendar_words(log, chosen)})")
    table = Table("", "time", "activity", "resource", "waiting", "service", "event id")
    for row in frame.iter_rows(named=True):
        table.add_row(
            "★" if row["critical"] else "",
            f"{row['timestamp']:%Y-%m-%d %H:%M:%S}",
            row["activity"],
            row.get("resource") or "",
            human_working(row["waiting"], day),
            human_working(row["service"], day),
            row["event_id"],
        )
    out.print(table)


@command
def trace(
    log: LogArgument,
    event_id: Annotated[str, typer.Argument(help="The event.")],
    as_dot: Annotated[bool, typer.Option("--dot", help="Print Graphviz DOT.")] = False,
    as_json: JsonOption = False,
) -> None:
    """An event's causes back to the root and everything it caused, across cases, from the
    events' causation ids.

    Example: workbench trace orders "O-42@2024-03-01T09:00:00Z/Pick#1" --dot
    """
    from workbench.causality import trace as event_trace

    chain = event_trace(store().scan(existing_log(log)), event_id)
    if as_dot:
        print(chain.to_dot())
    elif as_json:
        emit_json(chain.to_dict())
    else:
        print(chain.tree())
        print(f"{chain.causes.height} cause(s), {chain.effects.height} effect(s)")


@command
def why(
    log: LogArgument,
    quantile: Annotated[
        float, typer.Option(help="Cases longer than this quantile of durations are long.")
    ] = 0.75,
    successful: Annotated[
        list[str] | None,
        typer.Option(
            "--successful",
            help="An activity ending a successful case; cases ending otherwise count as"
            " problems too (repeatable).",
        ),
    ] = None,
    top: Annotated[int, typer.Option(help="Factors shown.")] = 15,
    as_json: JsonOption = False,
) -> None:
    """Root causes of long cases: the attribute values, activities, resources and rework
    that go with them, ranked by how many problem cases they account for.

    Example: workbench why orders --quantile 0.9 --top 10
    """
    from workbench.causality import why as root_causes

    if not 0 < quantile < 1:
        fail(f"--quantile {quantile:g}: give a number between 0 and 1")
    frame = root_causes(store().scan(existing_log(log)), quantile=quantile, successful=successful)
    frame = frame.head(top)
    if as_json:
        emit_json(records(frame))
        return
    table = Table("factor", "value", "cases", "problem rate", "vs without", "lift", "extra time")
    for row in frame.iter_rows(named=True):
        table.add_row(
            row["kind"] if row["factor"] == row["kind"] else f"{row['kind']}: {row['factor']}",
            str(row["value"]),
            f"{row['cases']:,}",
            f"{row['problem_rate']:.0%}",
            f"{row['rate_without']:.0%}",
            f"{row['lift']:.2f}",
            human(row["extra_duration"]),
        )
    out.print(table)
