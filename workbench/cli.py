"""The `workbench` command: a thin layer over the store and the importers."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from workbench.events import WorkbenchError, parse_time
from workbench.store import EventStore

app = typer.Typer(
    help="Workbench: import event logs, explore them, rebuild any moment.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def command(
    function: Callable[..., None], *, on: typer.Typer | None = None, name: str | None = None
) -> Callable[..., None]:
    """Register a command whose help ends with the docstring's ``Example:`` line."""
    doc = function.__doc__ or ""
    body, _, example = doc.partition("Example:")
    function.__doc__ = body.rstrip()
    epilog = f"Example: {example.strip()}" if example else None
    return (on or app).command(name, epilog=epilog)(function)


out = Console()
err = Console(stderr=True)

PROGRESS_BYTES = 4_000_000  # files larger than this get a progress bar

DbOption = Annotated[
    Path,
    typer.Option(
        "--db",
        envvar="WORKBENCH_DB",
        help="The store file (created if missing).",
        show_default=True,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


class _State:
    db: Path = Path("workbench.db")
    store: EventStore | None = None

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None


state = _State()


@app.callback()
def main_options(ctx: typer.Context, db: DbOption = Path("workbench.db")) -> None:
    """Workbench: import event logs, explore them, rebuild any moment.

    Example: workbench --db loans.db ingest loans.csv
    """
    state.db = db
    ctx.call_on_close(state.close)


def _store() -> EventStore:
    """The store of this invocation, opened on first use and closed when the command ends."""
    if state.store is None:
        state.store = EventStore(state.db)
    return state.store


@command
def ingest(
    path: Annotated[Path, typer.Argument(help="The file to import.")],
    log: Annotated[str | None, typer.Option(help="Log name (default: the file name).")] = None,
    case: Annotated[str | None, typer.Option(help="Column of the case id.")] = None,
    activity: Annotated[str | None, typer.Option(help="Column of the activity.")] = None,
    timestamp: Annotated[str | None, typer.Option(help="Column of the timestamp.")] = None,
    resource: Annotated[str | None, typer.Option(help="Column of the resource.")] = None,
    timezone: Annotated[
        str, typer.Option(help="Time zone of timestamps without an offset.")
    ] = "UTC",
    dayfirst: Annotated[bool, typer.Option(help="Read 01/02/2024 as 1 February.")] = False,
    strict: Annotated[bool, typer.Option(help="Refuse the whole file if any row is bad.")] = False,
    format: Annotated[
        str | None,
        typer.Option(
            help="Override the detected format: csv, xes, parquet, arrow, jsonl, ocel2-json,"
            " ocel2-xml, ocel2-sqlite, ocel1-json."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Import an event log file into the store, as a recorded job.

    Columns are detected by name (case:concept:name, Case ID, concept:name, Activity,
    time:timestamp, Timestamp, org:resource, ...) and by content; the flags override.
    Rows that cannot be imported are kept aside: see `workbench rejects LOG`.
    Importing the same content again adds nothing. Exit code 0: all imported;
    1: imported up to a fault in the file (named); 2: nothing imported.

    Example: workbench ingest orders.csv --log orders --timezone Europe/Amsterdam
    """
    from ingest.jobs import ingest as run_job
    from ingest.mapping import ColumnMapping, IngestError, ParseOptions

    mapping = ColumnMapping(case_id=case, activity=activity, timestamp=timestamp, resource=resource)
    options = ParseOptions(timezone=timezone, dayfirst=dayfirst)
    _check_timezone(timezone)
    store = _store()
    try:
        with _progress(path, quiet=as_json) as progress:
            summary = run_job(
                store,
                path,
                log=log,
                mapping=mapping,
                options=options,
                strict=strict,
                format=format,
                progress=progress,
            )
    except IngestError as error:
        _fail(str(error))
    if as_json:
        fields = (
            "log",
            "events_read",
            "events_added",
            "duplicates",
            "rejected",
            "status",
            "job_id",
        )
        out.print_json(json.dumps({name: summary.as_dict()[name] for name in fields}))
        return
    if summary.status == "unchanged":
        out.print(f"[bold]{summary.log}[/]: {summary.message}")
        return
    out.print(
        f"[bold]{summary.log}[/]: {summary.events_added:,} events added "
        f"({summary.events_read:,} read, {summary.duplicates:,} already stored, "
        f"{summary.rejected:,} rejected) in {summary.seconds:.2f} s"
    )
    if summary.rejected:
        out.print(f"See the rejected rows with: workbench rejects {summary.log}")
    if summary.status == "partial":
        err.print(
            f"[yellow]warning:[/] stopped early: {summary.message}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)


@command
def logs(as_json: JsonOption = False) -> None:
    """List the logs in the store with their cases, events and time range.

    An object-centric log (OCEL) shows its object types, followed by its views: one
    case-centric log per object type, named LOG/TYPE, usable wherever a log name is.

    Example: workbench logs --json
    """
    summaries = _store().logs()
    if as_json:
        rows = []
        for s in summaries:
            row: dict[str, Any] = {
                "log": s.log,
                "cases": s.cases,
                "events": s.events,
                "first_timestamp": s.first_timestamp.isoformat() if s.first_timestamp else None,
                "last_timestamp": s.last_timestamp.isoformat() if s.last_timestamp else None,
                "kind": s.kind,
            }
            if s.kind == "object":
                row["object_types"] = dict(s.object_types)
            rows.append(row)
        out.print_json(json.dumps(rows))
        return
    if not summaries:
        out.print("The store has no logs yet. Import one with: workbench ingest FILE")
        return
    table = Table(title=None)
    for header, justify in (
        ("log", "left"),
        ("kind", "left"),
        ("cases", "right"),
        ("events", "right"),
        ("from (UTC)", "left"),
        ("to (UTC)", "left"),
    ):
        table.add_column(header, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for s in summaries:
        table.add_row(
            f"  {s.log}" if s.kind == "view" else s.log,
            {"object": "objects", "view": "view"}.get(s.kind, ""),
            f"{s.cases:,}" if s.kind != "object" else "",
            f"{s.events:,}",
            f"{s.first_timestamp:%Y-%m-%d}" if s.first_timestamp else "",
            f"{s.last_timestamp:%Y-%m-%d}" if s.last_timestamp else "",
        )
    out.print(table)


@command
def rejects(
    log: Annotated[str, typer.Argument(help="The log.")],
    as_json: JsonOption = False,
) -> None:
    """List the rows refused while importing into a log: file, line, field and reason.

    Example: workbench rejects orders
    """
    store = _store()
    if log not in store.log_names() and not store.jobs(log=log):
        _fail(f"no log named {log!r} in the store (see `workbench logs`)")
    frame = store.rejects(log)
    if as_json:
        out.print_json(json.dumps(frame.to_dicts()))
        return
    if frame.is_empty():
        out.print(f"No rejected rows for {log!r}.")
        return
    table = Table("file", "where", "field", "value", "reason")
    for row in frame.iter_rows(named=True):
        table.add_row(
            Path(row["source"]).name,
            row["place"] or f"line {row['line']}",
            row["field"] or "",
            row["value"] or "",
            row["reason"],
        )
    out.print(table)


@command
def jobs(as_json: JsonOption = False) -> None:
    """List ingest jobs, newest first, with their counts and status.

    Example: workbench jobs --json
    """
    records = _store().jobs()
    if as_json:
        out.print_json(json.dumps(records))
        return
    if not records:
        out.print("No ingest jobs yet.")
        return
    table = Table("job", "log", "source", "format", "status", "read", "added", "dupl.", "rej.", "s")
    for job in records:
        table.add_row(
            str(job["job_id"]),
            job["log"],
            Path(job["source"]).name,
            job["format"],
            job["status"],
            f"{job['events_read']:,}",
            f"{job['events_added']:,}",
            f"{job['duplicates']:,}",
            f"{job['rejected']:,}",
            f"{job['seconds'] or 0:.2f}",
        )
    out.print(table)


@command
def drop(
    log: Annotated[str, typer.Argument(help="The log to remove.")],
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: remove it for good.")] = False,
) -> None:
    """Remove a log, its events, jobs and rejects. The only way events leave the store.

    Example: workbench drop orders --yes
    """
    if not yes:
        _fail(f"dropping {log!r} removes its events for good; repeat with --yes to confirm")
    try:
        removed = _store().drop(log)
    except WorkbenchError as error:
        _fail(str(error))
    out.print(f"Dropped {log!r}: {removed:,} events removed.")


FromOption = Annotated[
    str | None,
    typer.Option("--from", help="Cases active from this time (ISO 8601, UTC if no offset)."),
]
ToOption = Annotated[str | None, typer.Option("--to", help="Cases active until this time.")]
ActivityOption = Annotated[
    list[str] | None, typer.Option("--activity", help="Cases with this activity (repeatable).")
]
AttributeOption = Annotated[
    list[str] | None,
    typer.Option("--attribute", help="Cases with KEY=VALUE (VALUE may be a,b,c; repeatable)."),
]
AsOfOption = Annotated[
    str | None, typer.Option("--as-of", help="The log as it happened up to this time.")
]
LifecycleOption = Annotated[
    list[str] | None,
    typer.Option(
        "--lifecycle", help="Only events with this lifecycle, e.g. complete (repeatable)."
    ),
]
KnownAtOption = Annotated[
    str | None,
    typer.Option("--known-at", help="The log as the store knew it then (a time or a position)."),
]


def _moment(text: str, flag: str) -> datetime:
    try:
        return parse_time(text)
    except ValueError:
        _fail(
            f"{flag} {text!r} is not an ISO 8601 time (e.g. 2024-03-01 or 2024-03-01T09:30+01:00)"
        )


def _events(
    log: str,
    start: str | None,
    end: str | None,
    activity: list[str] | None,
    attribute: list[str] | None,
    as_of: str | None,
    known_at: str | None,
    lifecycle: list[str] | None = None,
) -> tuple[Any, Any]:
    """The log's events after the time cuts and filters given as flags, and the filters."""
    from workbench.filters import Attribute, Contains, Filters, Lifecycle, TimeRange

    store = _store()
    if not store.has_log(log):
        _fail(f"no log named {log!r} in the store (see `workbench logs`)")
    cut_known: datetime | int | None = None
    if known_at is not None:
        cut_known = int(known_at) if known_at.isdigit() else _moment(known_at, "--known-at")
    events = store.scan(log, as_of=_moment(as_of, "--as-of") if as_of else None, known_at=cut_known)
    items: list[Any] = []
    if start or end:
        items.append(
            TimeRange(
                _moment(start, "--from") if start else None, _moment(end, "--to") if end else None
            )
        )
    if lifecycle:
        items.append(Lifecycle(tuple(lifecycle)))
    if activity:
        items.append(Contains(tuple(activity)))
    for pair in attribute or []:
        key, sep, values = pair.partition("=")
        if not sep or not key:
            _fail(f"--attribute {pair!r}: write KEY=VALUE")
        if key not in events.collect_schema():
            _fail(f"--attribute {pair!r}: the log has no attribute {key!r}")
        items.append(Attribute(key, tuple(values.split(","))))
    filters = Filters(tuple(items))
    return filters.apply(events), filters


def _seconds(value: Any) -> float | None:
    return None if value is None else value.total_seconds()


@command
def stats(
    log: Annotated[str, typer.Argument(help="The log (or LOG/TYPE view).")],
    start: FromOption = None,
    end: ToOption = None,
    activity: ActivityOption = None,
    attribute: AttributeOption = None,
    as_of: AsOfOption = None,
    known_at: KnownAtOption = None,
    lifecycle: LifecycleOption = None,
    top: Annotated[int, typer.Option(help="How many variants to show.")] = 5,
    as_json: JsonOption = False,
) -> None:
    """Counts, case durations, top variants, start and end activities of a log.

    Example: workbench stats orders --from 2024-03-01 --attribute region=north
    """
    import polars as pl

    from workbench.projections import cases, end_activities, start_activities, variants

    events, filters = _events(log, start, end, activity, attribute, as_of, known_at, lifecycle)
    table = cases(events).collect()
    kinds = variants(events).collect()
    durations = table["duration"]
    summary = {
        "log": log,
        "filters": filters.describe(),
        "cases": table.height,
        "events": int(table["events"].sum()) if table.height else 0,
        "activities": events.select(pl.col("activity").n_unique()).collect().item(),
        "variants": kinds.height,
        "case_duration_seconds": {
            "mean": _seconds(durations.mean()),
            "median": _seconds(durations.median()),
            "p90": _seconds(durations.quantile(0.9, interpolation="linear")),
            "min": _seconds(durations.min()),
            "max": _seconds(durations.max()),
        },
        "top_variants": [
            {"variant": row["variant"], "cases": row["cases"], "share": row["share"]}
            for row in kinds.head(top).iter_rows(named=True)
        ],
        "start_activities": dict(start_activities(events).collect().iter_rows()),
        "end_activities": dict(end_activities(events).collect().iter_rows()),
    }
    if as_json:
        out.print_json(json.dumps(summary, default=str))
        return
    from workbench.processmap import human_duration

    out.print(f"[bold]{log}[/]" + (f"  ({'; '.join(summary['filters'])})" if filters else ""))
    out.print(
        f"{summary['cases']:,} cases, {summary['events']:,} events, "
        f"{summary['activities']:,} activities, {summary['variants']:,} variants"
    )
    times = summary["case_duration_seconds"]
    out.print(
        "case duration: "
        + ", ".join(f"{name} {human_duration(value)}" for name, value in times.items())
    )
    variants_table = Table("cases", "share", "variant")
    for row in summary["top_variants"]:
        variants_table.add_row(
            f"{row['cases']:,}", f"{row['share']:.1%}", " → ".join(row["variant"])
        )
    out.print(variants_table)
    out.print(
        "starts: " + ", ".join(f"{a} ({n:,})" for a, n in summary["start_activities"].items())
    )
    out.print("ends: " + ", ".join(f"{a} ({n:,})" for a, n in summary["end_activities"].items()))


@command
def dfg(
    log: Annotated[str, typer.Argument(help="The log (or LOG/TYPE view).")],
    as_dot: Annotated[bool, typer.Option("--dot", help="Print Graphviz DOT.")] = False,
    measure: Annotated[
        str, typer.Option(help="Edge value: frequency, mean, median, p90 or total waiting time.")
    ] = "frequency",
    detail: Annotated[
        float, typer.Option(help="Activities kept: the most frequent covering PCT % of events.")
    ] = 100.0,
    paths: Annotated[
        float, typer.Option(help="Edges kept: the most frequent covering PCT % of transitions.")
    ] = 100.0,
    start: FromOption = None,
    end: ToOption = None,
    activity: ActivityOption = None,
    attribute: AttributeOption = None,
    as_of: AsOfOption = None,
    known_at: KnownAtOption = None,
    lifecycle: LifecycleOption = None,
    as_json: JsonOption = False,
) -> None:
    """The directly-follows graph (process map) of a log, as a table, JSON or DOT.

    Example: workbench dfg orders --dot --measure median > map.dot
    """
    from workbench.processmap import MEASURES, edge_value, human_duration, process_map, to_dot

    if measure not in MEASURES:
        _fail(f"--measure {measure!r}: choose one of {', '.join(MEASURES)}")
    for name, value in (("--detail", detail), ("--paths", paths)):
        if not 0 <= value <= 100:
            _fail(f"{name} {value:g}: give a percentage from 0 to 100")
    events, filters = _events(log, start, end, activity, attribute, as_of, known_at, lifecycle)
    pmap = process_map(events, activities=detail, paths=paths)
    if as_dot:
        title = f"{log} ({'; '.join(filters.describe())})" if filters else log
        print(to_dot(pmap, measure=measure, title=title))
        return
    if as_json:
        edges = [
            {
                "source": row["source"],
                "target": row["target"],
                "frequency": row["frequency"],
                "cases": row["cases"],
                **{
                    f"{name}_seconds": _seconds(row[f"{name}_duration"])
                    for name in ("mean", "median", "p90", "min", "max", "total")
                },
            }
            for row in pmap.edges.iter_rows(named=True)
        ]
        nodes = [{"activity": a, "frequency": f, "cases": c} for a, f, c in pmap.nodes.iter_rows()]
        document = {
            "log": log,
            "filters": filters.describe(),
            "nodes": nodes,
            "edges": edges,
            "start_activities": dict(pmap.starts.iter_rows()),
            "end_activities": dict(pmap.ends.iter_rows()),
        }
        out.print_json(json.dumps(document))
        return
    values = edge_value(pmap.edges, measure)
    table = Table("from", "to", "cases", measure)
    for row, value in zip(pmap.edges.iter_rows(named=True), values, strict=True):
        shown = f"{row['frequency']:,}" if measure == "frequency" else human_duration(value)
        table.add_row(row["source"], row["target"], f"{row['cases']:,}", shown)
    out.print(table)


@command
def demo(
    as_json: JsonOption = False,
) -> None:
    """Load the bundled order-to-cash demo log (and its late-arriving events) into the store.

    Example: workbench demo
    """
    from sample_data.demo import load_demo

    summaries = load_demo(_store())
    if as_json:
        out.print_json(json.dumps([s.as_dict() for s in summaries]))
        return
    for summary in summaries:
        out.print(
            f"[bold]{summary.log}[/]: {summary.events_added:,} events added from "
            f"{Path(summary.source).name} ({summary.status})"
        )


@command
def serve(
    port: Annotated[int, typer.Option(help="The port to listen on.")] = 8501,
    headless: Annotated[bool, typer.Option(help="Do not open a browser.")] = True,
) -> None:
    """Start the Workbench app (Streamlit) on the store.

    Example: workbench --db loans.db serve --port 8502
    """
    app_path = Path(__file__).resolve().parent.parent / "dashboards" / "app.py"
    env = {**os.environ, "WORKBENCH_DB": str(state.db.resolve())}
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app_path),
        "--server.port",
        str(port),
        "--server.headless",
        "true" if headless else "false",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",
    ]
    state.close()
    # Replace this process, so that stopping `workbench serve` stops the server itself.
    os.execve(sys.executable, command, env)


def _check_timezone(name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        _fail(f"unknown time zone {name!r} (use an IANA name such as Europe/Amsterdam or UTC)")


class _progress:
    """A progress bar over the rows of a large file, on the terminal only."""

    def __init__(self, path: Path, *, quiet: bool) -> None:
        self.path = path
        self.quiet = quiet or not err.is_terminal
        self.bar: Progress | None = None

    def __enter__(self) -> Callable[[int], None] | None:
        try:
            large = self.path.stat().st_size > PROGRESS_BYTES
        except OSError:
            return None
        if self.quiet or not large:
            return None
        with self.path.open("rb") as handle:
            lines = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 22), b""))
        self.bar = Progress(
            TextColumn(f"importing {self.path.name}"),
            BarColumn(),
            TextColumn("{task.completed:,} rows"),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        )
        self.bar.start()
        task = self.bar.add_task("rows", total=max(lines - 1, 1))
        bar = self.bar
        return lambda rows: bar.update(task, completed=rows)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def _fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


# The time-travel commands register themselves on `app`.
from workbench import cli_mining, cli_travel  # noqa: E402, F401


def main() -> None:
    """Entry point of the `workbench` console script."""
    try:
        app()
    except WorkbenchError as error:
        err.print(f"[red]error:[/] {error}", highlight=False, soft_wrap=True)
        sys.exit(2)
