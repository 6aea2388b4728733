"""The commands that bring data in and look after it: ingest, logs, rejects, jobs, drop,
demo, serve."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from workbench.cli.commands import command, stop_requested
from workbench.cli.options import JsonOption
from workbench.cli.output import emit_json, err, fail, heading, out, warn
from workbench.cli.session import is_url, session, store, workbench

if TYPE_CHECKING:
    from workbench.application import Workbench
    from workbench.store import Firing

PROGRESS_BYTES = 4_000_000  # files larger than this get a progress bar


@partial(command, stoppable=True)
def ingest(
    path: Annotated[Path, typer.Argument(help="The file to import.")],
    log: Annotated[str | None, typer.Option(help="Log name (default: the file name).")] = None,
    case: Annotated[str | None, typer.Option(help="Column of the case id.")] = None,
    activity: Annotated[str | None, typer.Option(help="Column of the activity.")] = None,
    timestamp: Annotated[
        str | None,
        typer.Option(help="Column of the timestamp (the completion, in an interval log)."),
    ] = None,
    start_timestamp: Annotated[
        str | None,
        typer.Option(
            help="Column of the start time, in a log of intervals (detected: start_timestamp,"
            " time:start, Start Time)."
        ),
    ] = None,
    resource: Annotated[str | None, typer.Option(help="Column of the resource.")] = None,
    timezone: Annotated[
        str,
        typer.Option(
            help="Time zone of timestamps without an offset: an IANA name (Europe/Amsterdam)"
            " or a fixed offset (+02:00)."
        ),
    ] = "UTC",
    dayfirst: Annotated[bool, typer.Option(help="Read 01/02/2024 as 1 February.")] = False,
    encoding: Annotated[
        str, typer.Option(help="Encoding of a CSV or JSON lines file (latin-1, cp1252, ...).")
    ] = "utf-8",
    no_times: Annotated[
        bool,
        typer.Option(
            "--no-times",
            help="The file has no timestamps: keep the events in the order of the file.",
        ),
    ] = False,
    strict: Annotated[bool, typer.Option(help="Refuse the whole file if any row is bad.")] = False,
    format: Annotated[
        str | None,
        typer.Option(
            help="Override the detected format: csv, xes, parquet, arrow, jsonl, ocel2-json,"
            " ocel2-xml, ocel2-sqlite, ocel1-json, ocel1-xml, ocel1-csv."
        ),
    ] = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            help="Keep importing what is appended to a CSV or JSON lines file, or the files"
            " dropped into a folder, until Ctrl-C.",
        ),
    ] = False,
    poll: Annotated[float, typer.Option(help="With --follow: seconds between looks.")] = 1.0,
    as_json: JsonOption = False,
) -> None:
    """Import an event log file into the store, as a recorded job.

    Columns are detected by name (case:concept:name, Case ID, concept:name, Activity,
    time:timestamp, Timestamp, org:resource, ...) and by content; the flags override.
    Rows that cannot be imported are kept aside: see `workbench rejects LOG`.
    Importing the same content again adds nothing. Exit code 0: all imported;
    1: imported up to a fault in the file (named); 2: nothing imported.

    With --follow, a growing CSV or JSON lines file is imported up to its last complete
    line, round after round (a line still being written waits for its end), and a folder's
    files are imported once they stop growing; stopped and started again, it resumes, and
    nothing is stored twice.

    Example: workbench ingest orders.csv --log orders --timezone Europe/Amsterdam
    """
    from ingest.mapping import ColumnMapping
    from ingest.options import ParseOptions
    from ingest.times import check_timezone

    mapping = ColumnMapping(
        case_id=case,
        activity=activity,
        timestamp=timestamp,
        start_timestamp=start_timestamp,
        resource=resource,
    )
    options = ParseOptions(
        timezone=check_timezone(timezone),
        dayfirst=dayfirst,
        encoding=encoding,
        timed=not no_times,
    )
    bench = workbench()
    if follow:
        _follow(bench, path, log, mapping, options, poll, as_json)
        return
    with _progress(path, quiet=as_json) as progress:
        imported = bench.import_file(
            path,
            log=log,
            mapping=mapping,
            options=options,
            strict=strict,
            format=format,
            progress=progress,
            stop=stop_requested,
        )
    summary, fired = imported.summary, imported.fired
    if as_json:
        fields = (
            "log",
            "events_read",
            "events_added",
            "duplicates",
            "rejected",
            "links_refused",
            "resumed_after",
            "status",
            "job_id",
        )
        emit_json({name: summary.as_dict()[name] for name in fields})
        if summary.status == "partial":
            raise typer.Exit(1)
        return
    if summary.status == "unchanged":
        heading(summary.log, f": {summary.message}")
        return
    refused = f", {summary.links_refused:,} links refused" if summary.links_refused else ""
    heading(
        summary.log,
        f": {summary.events_added:,} events added ({summary.events_read:,} read,"
        f" {summary.duplicates:,} already stored, {summary.rejected:,} rejected{refused})"
        f" in {summary.seconds:.2f} s",
    )
    if summary.resumed_after:
        out.print(
            f"Resumed job {summary.job_id}: an earlier run had committed the first"
            f" {summary.resumed_after:,} rows of the file; the figures are this run's."
        )
    if summary.rejected or summary.links_refused:
        out.print(f"See what was refused with: workbench rejects {_quoted(summary.log)}")
    for row in fired:
        out.print(f"alert {row.rule} fired: {row.message}")
    if summary.status == "partial":
        warn(f"stopped early: {summary.message}")
        raise typer.Exit(1)


def _quoted(text: str) -> str:
    """A word as a shell would need it."""
    import shlex

    return shlex.quote(text)


@command
def logs(as_json: JsonOption = False) -> None:
    """List the logs in the store with their cases, events and time range.

    An object-centric log (OCEL) shows its object types, followed by its views: one
    case-centric log per object type, named LOG/TYPE, usable wherever a log name is.

    Example: workbench logs --json
    """
    summaries = workbench().logs()
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
                "timed": s.timed,
                "warning": s.warning,
            }
            if s.kind == "object":
                row["object_types"] = dict(s.object_types)
            rows.append(row)
        emit_json(rows)
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
            f"  {s.log}" if s.kind == "view" else s.log + (" (!)" if s.warning else ""),
            {"object": "objects", "view": "view"}.get(s.kind, ""),
            f"{s.cases:,}" if s.kind != "object" else "",
            f"{s.events:,}",
            f"{s.first_timestamp:%Y-%m-%d}" if s.first_timestamp and s.timed else "",
            f"{s.last_timestamp:%Y-%m-%d}" if s.last_timestamp and s.timed else "",
        )
    out.print(table)
    for s in summaries:
        if s.warning and s.kind != "view":
            warn(f"{s.log}: {s.warning}")


@command
def rejects(
    log: Annotated[str, typer.Argument(help="The log.")],
    as_json: JsonOption = False,
) -> None:
    """List the rows refused while importing into a log: file, line, field and reason.

    Example: workbench rejects orders
    """
    if log not in store().log_names() and not store().ledger.jobs(log=log):
        fail(f"no log named {log!r} in the store (see `workbench logs`)")
    frame = store().ledger.rejects(log)
    if as_json:
        emit_json(frame.to_dicts())
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
    bench = workbench()
    found = [job for job in store().ledger.jobs() if bench.user is None or bench.has_log(job.log)]
    if as_json:
        emit_json([job.as_dict() for job in found])
        return
    if not found:
        out.print("No ingest jobs yet.")
        return
    table = Table(
        "job", "log", "source", "by", "format", "status", "read", "added", "dupl.", "rej.", "s"
    )
    for job in found:
        table.add_row(
            str(job.job_id),
            job.log,
            Path(job.source).name,
            job.actor or "",
            job.format,
            job.status,
            f"{job.events_read:,}",
            f"{job.events_added:,}",
            f"{job.duplicates:,}",
            f"{job.rejected:,}",
            f"{job.seconds or 0:.2f}",
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
        fail(f"dropping {log!r} removes its events for good; repeat with --yes to confirm")
    removed = workbench().drop(log)
    out.print(f"Dropped {log!r}: {removed:,} events removed.")


@command
def demo(as_json: JsonOption = False) -> None:
    """Load the bundled order-to-cash demo log (and its late-arriving events) into the store.

    Example: workbench demo
    """
    from sample_data.demo import load_demo

    summaries = load_demo(store())
    if as_json:
        emit_json([s.as_dict() for s in summaries])
        return
    for summary in summaries:
        heading(
            summary.log,
            f": {summary.events_added:,} events added from {Path(summary.source).name}"
            f" ({summary.status})",
        )


LOOPBACK = "127.0.0.1"  # where `serve` listens unless told otherwise: this machine only


@command
def serve(
    port: Annotated[int, typer.Option(help="The port to listen on.")] = 8501,
    host: Annotated[
        str,
        typer.Option(
            help="The address to listen on: this machine only by default; 0.0.0.0 for every"
            " network it is on (then authentication is required, or --no-auth)."
        ),
    ] = LOOPBACK,
    auth: Annotated[
        str,
        typer.Option(
            help="none; password: a login page before anything else, for the users of"
            " `workbench users`; oidc: your organisation's OpenID Connect provider (see"
            " --secrets)."
        ),
    ] = "none",
    secrets: Annotated[
        Path | None,
        typer.Option(
            help="With --auth oidc: Streamlit's secrets file with the [auth] section that"
            " names the provider (redirect_uri, cookie_secret, client_id, ...)."
        ),
    ] = None,
    oidc_provider: Annotated[
        str | None,
        typer.Option(help="With --auth oidc: which provider of [auth] (if it names several)."),
    ] = None,
    session_minutes: Annotated[
        float, typer.Option(min=1, help="With --auth: a session idle this long ends.")
    ] = 30,
    no_auth: Annotated[
        bool,
        typer.Option(
            "--no-auth",
            help="Listen on another address than this machine's without authentication:"
            " anyone who reaches the port reads every log and can import into the store.",
        ),
    ] = False,
    max_upload_mb: Annotated[
        int, typer.Option(min=1, help="The largest file the Upload page accepts, in MB.")
    ] = 200,
    headless: Annotated[bool, typer.Option(help="Do not open a browser.")] = True,
) -> None:
    """Start the Workbench app (Streamlit) on the store.

    It listens on this machine only (127.0.0.1) unless --host says otherwise. Cross-site
    request forgery protection stays on and error details stay in the server's log, not
    the browser.

    Example: workbench --db loans.db serve --port 8502
    """
    if auth not in ("none", "password", "oidc"):
        fail(f"--auth {auth!r}: choose none, password or oidc")
    if auth == "oidc":
        _check_oidc(secrets, oidc_provider)
    if auth == "none" and not is_loopback(host):
        if not no_auth:
            fail(
                f"serve: listening on {host} would open every log to anyone who reaches port"
                f" {port}, with no login; add --auth password (users from `workbench users"
                " add NAME --role admin`), or --no-auth to accept that"
            )
        warn(
            f"serving on {host}:{port} without authentication: anyone who reaches it reads"
            " every log and can import into the store"
        )
    opened = store()  # refuse a store that cannot be opened here, with one line
    if auth != "none" and not opened.users.all():
        fail(
            f"serve --auth {auth}: the store has no users; add one with `workbench users"
            " add NAME --role admin`" + (" --oidc" if auth == "oidc" else "")
        )
    session.close()
    app_path = Path(__file__).resolve().parent.parent.parent / "dashboards" / "app.py"
    location = session.location
    if not is_url(location):
        location = str(Path(location).resolve())
    env = {**os.environ, "WORKBENCH_DB": location, "WORKBENCH_AUTH": auth}
    env["WORKBENCH_SESSION_MINUTES"] = f"{session_minutes:g}"
    if oidc_provider:
        env["WORKBENCH_OIDC_PROVIDER"] = oidc_provider
    # Streamlit, with what every page imports imported before it listens.
    command_line = [sys.executable, "-m", "dashboards.launch", "run", str(app_path)]
    if auth == "oidc" and secrets is not None:
        command_line += ["--secrets.files", str(secrets.resolve())]
    for option, value in streamlit_options(host, port, max_upload_mb, headless=headless):
        command_line += [f"--{option}", value]
    # Replace this process, so that stopping `workbench serve` stops the server itself.
    os.execve(sys.executable, command_line, env)


def _check_oidc(secrets: Path | None, provider: str | None) -> None:
    """Refuse `serve --auth oidc` that cannot work, with one line: Streamlit's login needs
    Authlib and an [auth] section in a secrets file."""
    import importlib.util
    import tomllib

    if importlib.util.find_spec("authlib") is None:
        fail("serve --auth oidc needs Authlib: pip install 'Authlib>=1.3.2'")
    if secrets is None:
        fail("serve --auth oidc needs --secrets FILE: the TOML file with your provider's [auth]")
    try:
        settings = tomllib.loads(secrets.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        fail(f"--secrets {secrets}: {error}")
    section = settings.get("auth")
    if not isinstance(section, dict):
        fail(f"--secrets {secrets}: no [auth] section (redirect_uri, cookie_secret, ...)")
    for key in ("redirect_uri", "cookie_secret"):
        if key not in section:
            fail(f"--secrets {secrets}: [auth] has no {key}")
    if provider is not None and not isinstance(section.get(provider), dict):
        fail(f"--oidc-provider {provider}: --secrets {secrets} has no [auth.{provider}]")


def is_loopback(host: str) -> bool:
    """Whether an address to listen on is this machine's own (no other can reach it)."""
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def streamlit_options(
    host: str, port: int, max_upload_mb: int, *, headless: bool = True
) -> list[tuple[str, str]]:
    """Streamlit's options for `serve`: where it listens, and its protections kept on
    whatever a configuration file says (XSRF and CORS protection, no error details in the
    browser, the upload limit)."""
    return [
        ("server.address", host),
        ("server.port", str(port)),
        ("server.headless", "true" if headless else "false"),
        ("server.enableXsrfProtection", "true"),
        ("server.enableCORS", "true"),
        ("server.maxUploadSize", str(max_upload_mb)),
        ("client.showErrorDetails", "none"),
        ("client.toolbarMode", "minimal"),
        ("browser.gatherUsageStats", "false"),
    ]


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
            TextColumn(f"importing {self.path.name}", markup=False),
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


@command
def copy(
    source: Annotated[
        str, typer.Argument(help="The store to copy: a file or a postgresql:// URL.")
    ],
    target: Annotated[str, typer.Argument(help="The store to copy into (created if missing).")],
) -> None:
    """Copy every log, job, refused row, object table, stored projection and user query of
    one store into another (SQLite and PostgreSQL either way), keeping positions, revisions,
    event ids and transaction times. Running it again copies nothing twice.

    Example: workbench copy workbench.db postgresql://me@localhost:5432/workbench
    """
    from workbench.store import EventStore
    from workbench.store.copying import copy_store

    with EventStore(source) as origin, EventStore(target) as destination:
        report = copy_store(origin, destination, progress=lambda line: err.print(line))
    out.print(
        f"Copied {report.events_copied:,} events of {report.logs} log(s)"
        f" ({report.events_present:,} were there already), {report.jobs} job(s),"
        f" {report.projections} stored projection(s) and {report.queries} user query(ies)"
        f" into {destination.location}."
    )


def _follow(
    bench: Workbench,
    path: Path,
    log: str | None,
    mapping: Any,
    options: Any,
    poll: float,
    quiet: bool,
) -> None:
    """`workbench ingest --follow`: rounds until Ctrl-C, a line (or JSON object) each."""
    from ingest.jobs import Summary

    if poll <= 0:
        fail(f"--poll {poll:g}: give a positive number of seconds")
    if not path.exists():
        fail(f"{path}: no such file or folder")

    def report(summary: Summary, fired: list[Firing]) -> None:
        for row in fired:
            if not quiet:
                out.print(f"alert {row.rule} fired: {row.message}")
        if quiet:
            emit_json(summary.as_dict())
            return
        out.print(
            f"{summary.log}: {summary.events_added:,} added, {summary.duplicates:,} already"
            f" there, {summary.rejected:,} rejected ({summary.status})"
            + (f": {summary.message}" if summary.message and summary.status != "completed" else "")
        )

    if not quiet:
        out.print(f"following {path} (Ctrl-C stops)")
    bench.follow(
        path, log=log, mapping=mapping, options=options, poll=poll, stop=stop_requested,
        report=report,
    )  # fmt: skip
