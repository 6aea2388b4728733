"""The `workbench` command: a thin layer over the store and the importers."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from workbench.events import WorkbenchError
from workbench.store import EventStore

app = typer.Typer(
    help="Workbench: import event logs, explore them, rebuild any moment.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def command(function: Callable[..., None]) -> Callable[..., None]:
    """Register a command whose help ends with the docstring's ``Example:`` line."""
    doc = function.__doc__ or ""
    body, _, example = doc.partition("Example:")
    function.__doc__ = body.rstrip()
    return app.command(epilog=f"Example: {example.strip()}" if example else None)(function)


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


def _fail(message: str) -> Any:
    err.print(f"[red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def main() -> None:
    """Entry point of the `workbench` console script."""
    try:
        app()
    except WorkbenchError as error:
        err.print(f"[red]error:[/] {error}", highlight=False, soft_wrap=True)
        sys.exit(2)
