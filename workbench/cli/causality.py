"""The cause-and-effect commands: timeline (one case), trace (one event's causes and
effects), why (what goes with long cases) and causes (what sets any outcome apart)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from workbench.cli.commands import command
from workbench.cli.options import CalendarOption, JsonOption, LogArgument, with_filters
from workbench.cli.output import emit_json, fail, heading, out, records, warn
from workbench.cli.session import (
    existing_log,
    store,
    workbench,
)
from workbench.durations import human, human_working

if TYPE_CHECKING:
    from workbench.application import Cut
    from workbench.causes import Causes
    from workbench.filters import Filters


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
@with_filters
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
    top: Annotated[int, typer.Option(help="Groups shown (--json: all).")] = 15,
    *,
    cut: Cut,
    filters: Filters,
    as_json: JsonOption = False,
) -> None:
    """What goes with long cases (and, with --successful, unsuccessful ones): `causes`
    with the outcome slow:pQ (or ends-otherwise:A,B besides), ranked the same way.

    Example: workbench why orders --quantile 0.9 --top 10
    """
    if not 0 < quantile < 1:
        fail(f"--quantile {quantile:g}: give a number between 0 and 1")
    outcome = f"slow:p{quantile * 100:g}"
    if successful:
        outcome += f"|ends-otherwise:{','.join(successful)}"
    found = workbench().causes(existing_log(log), outcome, cut, filters)
    _show(found, outcome, top, as_json=as_json)


@command
@with_filters
def causes(
    log: LogArgument,
    outcome: Annotated[
        str,
        typer.Option(
            help="slow (above the p90), slow:p75, slow:7d, activity:A, attribute:K=V,"
            " violates:TEMPLATE(A,B) (a Declare rule) or not-fitting (--model)."
        ),
    ],
    model: Annotated[
        Path | None, typer.Option(help="With not-fitting: the .pnml or .bpmn model.")
    ] = None,
    min_cases: Annotated[
        int | None, typer.Option(help="Groups of fewer cases are not tried [1 %, at least 5].")
    ] = None,
    alpha: Annotated[
        float, typer.Option(help="A group passes when its adjusted p-value is below this.")
    ] = 0.05,
    top: Annotated[int, typer.Option(help="Groups shown (--json: all).")] = 15,
    *,
    cut: Cut,
    filters: Filters,
    as_json: JsonOption = False,
) -> None:
    """Root causes ranked by impact: which attribute values, resources, activities (present
    or absent), variants, start months and weekdays go with an outcome, each with the
    outcome's rate in it against the rest, the cases it accounts for, the median duration,
    and a p-value adjusted for the number of groups tried, so that chance is not ranked.

    Example: workbench causes orders --outcome slow:p90
    """
    read = None
    if model is not None:
        from workbench import mining

        net = mining.read_model(model)
        for note in net.notes:
            warn(note)
        read = net
    if not 0 < alpha < 1:
        fail(f"--alpha {alpha:g}: give a number between 0 and 1")
    found = workbench().causes(
        existing_log(log), outcome, cut, filters, model=read, min_cases=min_cases, alpha=alpha
    )
    _show(found, outcome, top, as_json=as_json)


def _show(found: Causes, outcome: str, top: int, *, as_json: bool) -> None:
    if as_json:
        emit_json(found.as_dict())
        return
    share = found.cases / found.total if found.total else 0.0
    heading(outcome, f": {found.cases:,} of {found.total:,} cases ({share:.0%})")
    table = Table("group", "value", "cases", "rate", "vs rest", "lift", "median", "p (adjusted)")
    for row in found.table.head(top).iter_rows(named=True):
        table.add_row(
            row["kind"] if row["name"] == row["kind"] else f"{row['kind']}: {row['name']}",
            str(row["value"]),
            f"{row['cases']:,}",
            f"{row['rate']:.0%}",
            f"{row['rate_without']:.0%}",
            f"{row['lift']:.2f}",
            human(timedelta(seconds=row["median_duration_seconds"])),
            f"{row['p_value']:.2g}" + ("" if row["significant"] else " (chance?)"),
        )
    out.print(table if found.table.height else "no group of cases sets the outcome apart")
