"""The time-travel and cause-and-effect commands (state, diff, timeline, trace, why) and the
checkpointed projections (projections, and its subcommands)."""

from __future__ import annotations

import json
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import polars as pl
import typer
from rich.table import Table

from workbench.application import Cut, moment
from workbench.cli.common import (
    EngineOption,
    JsonOption,
    KnownAtOption,
    LogArgument,
    SparkMasterOption,
    app,
    check_output,
    command,
    emit_json,
    engine_of,
    existing_log,
    fail,
    heading,
    out,
    read_model,
    records,
    store,
    with_filters,
    workbench,
    write_text,
)
from workbench.durations import human
from workbench.events import WorkbenchError
from workbench.filters import Filters

if TYPE_CHECKING:
    from workbench.readmodel import Status

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

    if format not in ("table", "csv", "json", "parquet"):
        fail(f"--format {format!r}: choose table, csv, json or parquet")
    if format == "parquet" and output is None:
        fail("--format parquet writes a file: give --output FILE")
    bench = engine_of(engine, spark_master)
    cut = Cut.parse(as_of=at, known_at=known_at, names=("--at", "--known-at"))
    assert cut.as_of is not None
    at_moment = cut.as_of
    frame = bench.state(existing_log(log), at_moment, cut, filters, completed=completed)
    if format == "parquet":
        assert output is not None
        check_output(output)
        frame.write_parquet(output)
        out.print(f"{frame.height:,} cases written to {output}")
        return
    if format == "csv":
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
        + f": {frame.height:,} cases, {counts['open']:,} open, {counts['completed']:,} completed",
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


@command
def timeline(
    log: LogArgument,
    case_id: Annotated[str, typer.Argument(help="The case.")],
    as_json: JsonOption = False,
) -> None:
    """One case's events in order with waiting and service times; ★ marks the critical path.

    Example: workbench timeline orders O-000042
    """
    from workbench.causality import timeline as case_timeline

    frame = case_timeline(store().scan(existing_log(log), case_id=case_id), case_id)
    if as_json:
        emit_json(records(frame))
        return
    table = Table("", "time", "activity", "resource", "waiting", "service", "event id")
    for row in frame.iter_rows(named=True):
        table.add_row(
            "★" if row["critical"] else "",
            f"{row['timestamp']:%Y-%m-%d %H:%M:%S}",
            row["activity"],
            row.get("resource") or "",
            human(row["waiting"]),
            human(row["service"]),
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


projections_app = typer.Typer(
    no_args_is_help=False,
    invoke_without_command=True,
    epilog="Example: workbench projections --json",
)
app.add_typer(projections_app, name="projections")


@projections_app.callback()
def projections(
    ctx: typer.Context,
    log: Annotated[str | None, typer.Option(help="Only this log.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List the checkpointed projections of each log with the position they cover and their
    lag (events appended since); the subcommands refresh them and add your own."""
    if ctx.invoked_subcommand is not None:
        return
    from workbench import checkpoints

    found = checkpoints.checkpoints(store(), None if log is None else existing_log(log))
    models = _read_model_status(log)
    if as_json:
        rows = [
            {
                "log": c.log,
                "name": c.name,
                "position": c.position,
                "head": c.head,
                "lag": c.lag,
                "refreshed_at": c.refreshed_at,
                "seconds": c.seconds,
                "incremental": c.incremental,
                "description": c.description,
                "origin": c.origin,
            }
            for c in found
        ]
        emit_json(rows + [_segments_row(status) for status in models])
        return
    table = Table("log", "projection", "position", "lag", "catch-up", "description")
    for c in found:
        table.add_row(
            c.log,
            c.name,
            "never" if c.position is None else f"{c.position:,}",
            f"{c.lag:,}",
            "by case" if c.incremental else "full",
            c.description,
        )
    for status in models:
        row = _segments_row(status)
        table.add_row(
            status.log,
            row["name"],
            f"{status.position:,}",
            f"{status.lag:,}",
            "by position",
            row["description"],
        )
    out.print(table)


def _read_model_status(log: str | None) -> list[Status]:
    """Where the read model of each stored log (or of one) stands."""
    found = store()
    names = [log] if log is not None else [s.log for s in found.logs()]
    return [read_model().status(name) for name in names if not found.resolve(name).is_view]


def _segments_row(status: Status) -> dict[str, Any]:
    """The read model of one log as a row of `workbench projections`."""
    if status.folder is None:
        where = "none: set WORKBENCH_SEGMENTS to keep segments for this store"
    else:
        where = f"{status.segments} file(s), {status.bytes / 1e6:,.1f} MB"
    return {
        "log": status.log,
        "name": "segments",
        "position": status.position,
        "head": status.head,
        "lag": status.lag,
        "refreshed_at": None,
        "seconds": None,
        "incremental": True,
        "description": f"columnar read model, events in case order ({where})",
        "origin": "read model",
    }


@partial(command, on=projections_app, name="refresh")
def projections_refresh(
    log: Annotated[str | None, typer.Argument(help="Only this log.")] = None,
) -> None:
    """Bring every projection and snapshot up to the log's last event.

    Example: workbench projections refresh orders
    """
    from workbench import checkpoints

    for c in checkpoints.refresh_all(store(), None if log is None else existing_log(log)):
        out.print(f"{c.log} {c.name}: at position {c.position:,}")
    for status in _read_model_status(log):
        status = read_model().refresh(status.log)
        out.print(f"{status.log} segments: at position {status.position:,}")


@partial(command, on=projections_app, name="add")
def projections_add(
    name: Annotated[str, typer.Argument(help="The projection's name.")],
    query: Annotated[str, typer.Argument(help="SQL over the table `events`.")],
    description: Annotated[str, typer.Option(help="What it shows.")] = "",
) -> None:
    """Define a projection as SQL over the table `events`; it is checkpointed, works as of
    any moment, and appears in the app.

    Example: workbench projections add regions "SELECT region, count(*) AS n FROM events GROUP BY 1"
    """
    from workbench import checkpoints

    checkpoints.define_sql(store(), name, query, description=description)
    out.print(f"projection {name!r} added")


@partial(command, on=projections_app, name="remove")
def projections_remove(name: Annotated[str, typer.Argument(help="The projection's name.")]) -> None:
    """Remove a SQL projection and its checkpoints.

    Example: workbench projections remove per_region
    """
    from workbench import checkpoints

    checkpoints.remove(store(), name)
    out.print(f"projection {name!r} removed")


@partial(command, on=projections_app, name="snapshot")
def projections_snapshot(
    log: Annotated[str, typer.Argument(help="The log.")],
    count: Annotated[int, typer.Option(help="Snapshots, evenly spaced over the log's range.")] = 12,
) -> None:
    """Store snapshots of every case's state, so that `state` starts from the nearest one.

    Example: workbench projections snapshot orders --count 24
    """
    from workbench import checkpoints

    moments = checkpoints.take_snapshots(store(), existing_log(log), count=count)
    out.print(f"{len(moments)} snapshots of {log}")


@command
def restatements(
    log: LogArgument,
    start: Annotated[
        str | None, typer.Option("--from", help="The period: cases active from this time.")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="The period: cases active until.")] = None,
    by: Annotated[
        str, typer.Option(help="How late each activity, resource or source (file) reports.")
    ] = "activity",
    as_json: JsonOption = False,
) -> None:
    """A period's figures as known after each import that changed them (cases, events,
    median throughput time, late events that caused the change), how late each source
    reports, and the recent periods whose figures are still provisional.

    Example: workbench restatements orders --from 2024-03-01 --json
    """
    existing_log(log)
    if by not in ("activity", "resource", "source"):
        fail(f"--by {by!r}: choose activity, resource or source")
    low = moment(start, "--from") if start else None
    high = moment(end, "--to") if end else None
    if low is not None and high is not None and high < low:
        fail(f"--to {end} is before --from {start}")
    bench = workbench()
    history = bench.restatements(log, start=low, end=high)
    if as_json:
        emit_json(records(history))
        return
    period = f" from {start or 'the start'} to {end or 'now'}" if start or end else ""
    heading(log, f"{period}: as known after each import that changed it")
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
    late = bench.lateness(log, by=by).head(15)
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
    pending = bench.provisional(log).filter(pl.col("provisional"))
    for row in pending.iter_rows(named=True):
        out.print(
            f"provisional: {row['period'].date().isoformat()} month, about"
            f" {row['still_to_arrive']:.0%} of its events usually arrive later"
        )


@command
def animate(
    log: LogArgument,
    output: Annotated[Path, typer.Option("--output", help="The HTML file to write.")],
    start: Annotated[
        str | None, typer.Option("--from", help="The window's start (default: the log's).")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="The window's end (default: the log's).")
    ] = None,
    known_at: KnownAtOption = None,
    frames: Annotated[int, typer.Option(help="Frames (moments) in the window.")] = 240,
) -> None:
    """Write an HTML page in which cases move as tokens along the process map over a time
    window (play, pause, speed, clock; it needs no server). With --known-at, moves the
    store did not know then are ghosts until the clock reaches their recording.

    Example: workbench animate orders --from 2024-03-01 --output map.html
    """
    from workbench.animation import to_html

    existing_log(log)
    check_output(output)
    summary = store().summary(log)
    if not summary.timed or summary.first_timestamp is None or summary.last_timestamp is None:
        fail(f"{log}: the log has no times to animate")
    low = moment(start, "--from") if start else summary.first_timestamp
    high = moment(end, "--to") if end else summary.last_timestamp
    if high <= low:
        fail(f"--to {end} is not after --from {start}")
    found = workbench().animation(log, low, high, Cut.parse(known_at=known_at), frames=frames)
    output.write_text(to_html(found, title=f"{log}: {low:%Y-%m-%d} to {high:%Y-%m-%d}"))
    ghosts = int(found.tokens["ghost"].sum()) if found.tokens.height else 0
    out.print(
        f"{found.edges.height:,} edges, {frames:,} frames of {human(found.step)} each"
        + (f", {ghosts:,} ghost token(s)" if known_at else "")
        + f": written to {output}"
    )


alerts_app = typer.Typer(
    no_args_is_help=False,
    invoke_without_command=True,
    epilog="Example: workbench alerts --json",
)
app.add_typer(alerts_app, name="alerts")

_UNITS = {"s": 1, "min": 60, "h": 3_600, "d": 86_400, "w": 604_800}


def _span(text: str, flag: str) -> float:
    """Seconds from a duration such as 90s, 30min, 12h, 2d or 1w."""
    number = text.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = text[len(number) :] or "s"
    try:
        amount = float(number)
    except ValueError:
        amount = -1.0
    if unit not in _UNITS or amount < 0:
        fail(f"{flag} {text!r}: write a duration such as 90s, 30min, 12h, 2d or 1w")
    return amount * _UNITS[unit]


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

    try:
        found = Alerts(store()).firings(None if log is None else existing_log(log))
    except WorkbenchError as error:
        fail(str(error))
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
    completed_by: Annotated[
        list[str] | None,
        typer.Option(
            "--completed-by",
            help="A case is complete after this activity (repeatable; default: the"
            " activities that usually end the log's cases).",
        ),
    ] = None,
) -> None:
    """Keep an alert rule; it is checked on every import and `workbench alerts check`.

    Example: workbench alerts add slow-approval --log orders --waiting-at "Approve Order"
    --longer-than 2d --more-than 20
    """
    from workbench.alerts import Rule

    existing_log(log)
    periods = {"day": "1d", "week": "1w", "month": "1mo"}
    if period not in periods:
        fail(f"--period {period!r}: choose day, week or month")
    if median_above is not None:
        rule = Rule(
            name, log, "throughput", period=periods[period],
            median_above_s=_span(median_above, "--median-above"),
        )  # fmt: skip
    elif waiting_at is not None:
        if more_than is None:
            fail("--waiting-at needs --more-than (how many cases are too many)")
        rule = Rule(
            name, log, "waiting", activity=waiting_at,
            longer_than_s=_span(longer_than, "--longer-than"), more_than=more_than or 0,
        )  # fmt: skip
    elif more_than is not None:
        rule = Rule(name, log, "open", more_than=more_than)
    else:
        fail("give --waiting-at with --more-than, --more-than alone, or --median-above")
    if completed_by:
        from dataclasses import replace

        rule = replace(rule, completed_by=tuple(completed_by))
    from workbench.alerts import Alerts

    Alerts(store()).add(rule)
    out.print(f"{name}: {rule.describe()} (on {log})")


@partial(command, on=alerts_app, name="rules")
def alerts_rules(as_json: JsonOption = False) -> None:
    """List the alert rules.

    Example: workbench alerts rules --json
    """
    from workbench.alerts import Alerts

    found = Alerts(store()).rules()
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
    from workbench.alerts import Alerts

    if not Alerts(store()).remove(name):
        fail(f"no alert rule {name!r}")
    out.print(f"removed {name}")


@partial(command, on=alerts_app, name="check")
def alerts_check(
    log: Annotated[str | None, typer.Option(help="Only this log's rules.")] = None,
) -> None:
    """Check the rules on their logs as they stand now (imports do this themselves).

    Example: workbench alerts check --log orders
    """
    from workbench.alerts import Alerts

    fired = Alerts(store()).check(None if log is None else existing_log(log))
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
    from workbench.alerts import Alerts, backtest

    rule = next((r for r in Alerts(store()).rules() if r.name == name), None)
    if rule is None:
        fail(f"no alert rule {name!r}")
    assert rule is not None
    series = backtest(store(), rule, step=timedelta(seconds=_span(step, "--step")))
    if as_json:
        emit_json(records(series))
        return
    fires = series.filter(pl.col("fires"))
    heading(rule.log, f": {name} ({rule.describe()}), backtested at {series.height:,} moments")
    table = Table("would have fired at", "value", "events known then")
    for row in fires.iter_rows(named=True):
        shown = row["value"]
        table.add_row(
            row["moment"].isoformat(timespec="minutes"),
            human(timedelta(seconds=shown)) if rule.kind == "throughput" else f"{shown:g}",
            f"{row['events_known']:,}",
        )
    out.print(table if fires.height else "it would never have fired")
    out.print(f"it held at {int(series['holds'].sum()):,} of {series.height:,} moments")
