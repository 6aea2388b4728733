"""Alert rules: alerts (the firings), and its subcommands add, rules, remove, check and
backtest."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from workbench.cli.commands import app, command
from workbench.cli.options import JsonOption, span
from workbench.cli.output import emit_json, fail, heading, out, records
from workbench.cli.session import (
    existing_log,
    store,
    workbench,
)
from workbench.durations import human

if TYPE_CHECKING:
    pass


alerts_app = typer.Typer(
    no_args_is_help=False,
    invoke_without_command=True,
    epilog="Example: workbench alerts --json",
)
app.add_typer(alerts_app, name="alerts")


@alerts_app.callback()
def alerts(
    ctx: typer.Context,
    log: Annotated[str | None, typer.Option(help="Only this log's firings.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List the firings of the alert rules, each with the position of the log that
    triggered it; the subcommands add, list, check and backtest rules."""
    if ctx.invoked_subcommand is not None:
        return
    from workbench.alerts import Alerts
    from workbench.events import WorkbenchError

    try:
        found = Alerts(store()).firings(None if log is None else existing_log(log))
    except WorkbenchError as error:
        fail(str(error))
    seen = workbench().visible(found["log"].unique().to_list())  # --as: their logs only
    found = found.filter(found["log"].is_in(list(seen)))
    if as_json:
        emit_json(records(found))
        return
    table = Table("rule", "log", "position", "at (valid time)", "recorded", "what")
    for row in found.iter_rows(named=True):
        table.add_row(
            row["rule"],
            row["log"],
            f"{row['position']:,}",
            row["moment"].isoformat(timespec="minutes"),
            row["recorded_at"].isoformat(timespec="seconds"),
            row["message"],
        )
    out.print(table if found.height else "no alert has fired")


@partial(command, on=alerts_app, name="add")
def alerts_add(
    name: Annotated[str, typer.Argument(help="The rule's name.")],
    log: Annotated[str, typer.Option("--log", help="The log it watches.")],
    waiting_at: Annotated[
        str | None, typer.Option(help="Open cases waiting at this activity ...")
    ] = None,
    longer_than: Annotated[
        str, typer.Option(help="... longer than this (90s, 30min, 12h, 2d, 1w) ...")
    ] = "0s",
    more_than: Annotated[
        float | None, typer.Option(help="... exceed this many (or, alone: open cases do).")
    ] = None,
    median_above: Annotated[
        str | None, typer.Option(help="The median throughput time is above this (2d, 1w).")
    ] = None,
    period: Annotated[
        str, typer.Option(help="With --median-above: of cases completed per day, week, month.")
    ] = "week",
    violates: Annotated[
        str | None,
        typer.Option(
            help="A case violates this Declare rule, say 'response(A, B)': fires at the"
            " event that makes a violation certain (`workbench rules` lists the templates)."
        ),
    ] = None,
    breach: Annotated[
        str | None,
        typer.Option(
            help="Open cases predicted to take longer than this (30d, 6w) from their start,"
            " with a chance above --probability, exceed --more-than (default 0): models"
            " trained on what was known then (`workbench predict`), again every --retrain."
        ),
    ] = None,
    probability: Annotated[
        float, typer.Option(help="With --breach: the chance above which a case counts.")
    ] = 0.8,
    retrain: Annotated[
        str, typer.Option(help="With --breach: train the models again after this (1d, 1w).")
    ] = "1w",
    completed_by: Annotated[
        list[str] | None,
        typer.Option(
            "--completed-by",
            help="A case is complete after this activity (repeatable; default: the"
            " activities that usually end the log's cases).",
        ),
    ] = None,
    calendar: Annotated[
        str | None,
        typer.Option(
            help="Times in this calendar's working time: 2d is two working days (default:"
            " the log's calendar, `calendar assign`; elapsed: elapsed time)."
        ),
    ] = None,
) -> None:
    """Keep an alert rule; it is checked on every import and `workbench alerts check`.

    Example: workbench alerts add slow-approval --log orders --waiting-at "Approve Order"
    --longer-than 2d --more-than 20; workbench alerts add paid-unapproved --log orders
    --violates "precedence(Approve Order, Pay)"; workbench alerts add late --log orders
    --breach 30d --probability 0.8
    """
    from workbench.alerts import Rule

    existing_log(log)
    if breach is not None and calendar not in (None, "elapsed"):
        fail("--breach is a deadline in elapsed time: leave out --calendar")
    chosen = workbench().durations_in(log, calendar)
    hours = workbench().hours(log, chosen)
    periods = {"day": "1d", "week": "1w", "month": "1mo"}
    if period not in periods:
        fail(f"--period {period!r}: choose day, week or month")
    if violates is not None:
        rule = Rule(name, log, "violates", violates=violates)
    elif breach is not None:
        rule = Rule(
            name, log, "breach", more_than=more_than or 0,
            deadline_s=span(breach, "--breach").total_seconds(),
            probability=probability, retrain_s=span(retrain, "--retrain").total_seconds(),
        )  # fmt: skip
    elif median_above is not None:
        rule = Rule(
            name, log, "throughput", period=periods[period],
            median_above_s=span(median_above, "--median-above", hours).total_seconds(),
        )  # fmt: skip
    elif waiting_at is not None:
        if more_than is None:
            fail("--waiting-at needs --more-than (how many cases are too many)")
        rule = Rule(
            name, log, "waiting", activity=waiting_at,
            longer_than_s=span(longer_than, "--longer-than", hours).total_seconds(),
            more_than=more_than or 0,
        )  # fmt: skip
    elif more_than is not None:
        rule = Rule(name, log, "open", more_than=more_than)
    else:
        fail(
            "give --waiting-at with --more-than, --more-than alone, --median-above, --violates"
            " or --breach"
        )
    from dataclasses import replace

    if completed_by:
        rule = replace(rule, completed_by=tuple(completed_by))
    if chosen is not None and rule.kind not in ("open", "violates", "breach"):
        rule = replace(rule, calendar=chosen)
    workbench().add_rule(rule)
    out.print(f"{name}: {rule.describe()} (on {log})")


@partial(command, on=alerts_app, name="rules")
def alerts_rules(as_json: JsonOption = False) -> None:
    """List the alert rules.

    Example: workbench alerts rules --json
    """
    from workbench.alerts import Alerts

    found = Alerts(store()).rules()
    seen = workbench().visible([rule.log for rule in found])  # --as: their logs only
    found = [rule for rule in found if rule.log in seen]
    if as_json:
        emit_json([{"name": r.name, "log": r.log, "rule": r.describe()} for r in found])
        return
    table = Table("rule", "log", "condition")
    for rule in found:
        table.add_row(rule.name, rule.log, rule.describe())
    out.print(table if found else "no alert rules")


@partial(command, on=alerts_app, name="remove")
def alerts_remove(name: Annotated[str, typer.Argument(help="The rule's name.")]) -> None:
    """Forget an alert rule (its firings stay).

    Example: workbench alerts remove slow-approval
    """
    if not workbench().remove_rule(name):
        fail(f"no alert rule {name!r}")
    out.print(f"removed {name}")


@partial(command, on=alerts_app, name="check")
def alerts_check(
    log: Annotated[str | None, typer.Option(help="Only this log's rules.")] = None,
) -> None:
    """Check the rules on their logs as they stand now (imports do this themselves).

    Example: workbench alerts check --log orders
    """
    fired = workbench().check_rules(None if log is None else existing_log(log))
    for row in fired:
        out.print(f"fired: {row.rule} at position {row.position:,}: {row.message}")
    if not fired:
        out.print("nothing new fired")


@partial(command, on=alerts_app, name="backtest")
def alerts_backtest(
    name: Annotated[str, typer.Argument(help="The rule's name.")],
    step: Annotated[str, typer.Option(help="Evaluate every (1h, 1d, 1w).")] = "1d",
    as_json: JsonOption = False,
) -> None:
    """Replay a rule over the log's history using only what was known at each moment, and
    say when it would have fired.

    Example: workbench alerts backtest slow-approval --step 1d
    """
    from workbench.alerts import Alerts, backtest, breach_scores

    rule = next((r for r in Alerts(store()).rules() if r.name == name), None)
    if rule is None:
        fail(f"no alert rule {name!r}")
    assert rule is not None
    series = backtest(store(), rule, step=span(step, "--step"))
    scores = breach_scores(store(), rule, series) if rule.kind == "breach" else None
    if as_json:
        emit_json(records(series) if scores is None else {"moments": records(series), **scores})
        return
    fires = series.filter(series["fires"])
    heading(rule.log, f": {name} ({rule.describe()}), backtested at {series.height:,} moments")
    measure = {"violates": "cases violating", "breach": "cases predicted to breach"}.get(
        rule.kind, "value"
    )
    table = Table("would have fired at", measure, "events known then")
    for row in fires.iter_rows(named=True):
        shown = row["value"]
        table.add_row(
            row["moment"].isoformat(timespec="minutes"),
            human(timedelta(seconds=shown)) if rule.kind == "throughput" else f"{shown:g}",
            f"{row['events_known']:,}",
        )
    out.print(table if fires.height else "it would never have fired")
    out.print(f"it held at {int(series['holds'].sum()):,} of {series.height:,} moments")
    if scores is not None:
        share = "n/a" if scores["precision"] is None else f"{scores['precision']:.0%}"
        caught = "n/a" if scores["recall"] is None else f"{scores['recall']:.0%}"
        out.print(
            f"of the {scores['flagged']:,} case(s) it named, {scores['flagged_breached']:,}"
            f" ({share}) took longer; it named {caught} of the {scores['breached']:,} that did,"
            f" before their deadline; of all {scores['decided']:,} decided case(s),"
            f" {scores['base_rate'] or 0:.0%} took longer"
        )
