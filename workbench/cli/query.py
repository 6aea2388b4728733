"""Read-only SQL over the logs, with time travel: the query command."""

from __future__ import annotations

import json
import sys
import threading
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from workbench.cli.commands import command, stop_requested
from workbench.cli.options import EngineOption, SparkMasterOption, with_filters
from workbench.cli.output import check_output, fail, heading, out, records, warn
from workbench.cli.session import engine_of, existing_log, session, workbench

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


@partial(command, name="serve-sql", stoppable=True)
@with_filters
def serve_sql(
    port: Annotated[int, typer.Option(help="The port to listen on.")] = 5433,
    host: Annotated[
        str,
        typer.Option(
            help="The address to listen on: this machine only by default; another needs"
            " --password or --auth password (or --no-auth)."
        ),
    ] = "127.0.0.1",
    password: Annotated[
        str | None,
        typer.Option(
            envvar="WORKBENCH_SQL_PASSWORD",
            help="One password for every client (any user name), checked by SCRAM-SHA-256;"
            " better given in WORKBENCH_SQL_PASSWORD than on the command line.",
        ),
    ] = None,
    auth: Annotated[
        str,
        typer.Option(
            help="none, or password: clients log in as users of `workbench users` (their"
            " password crosses the wire: use --tls-cert off this machine), and each query"
            " sees only the logs its user may see.",
        ),
    ] = "none",
    no_auth: Annotated[
        bool,
        typer.Option(
            "--no-auth",
            help="Listen on another address than this machine's without a password: anyone"
            " who reaches the port reads every log.",
        ),
    ] = False,
    tls_cert: Annotated[
        Path | None, typer.Option(help="A PEM certificate (chain): clients may then use TLS.")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="The certificate's PEM key.")] = None,
    log: Annotated[
        str | None, typer.Option(help="Only this log's rows (default: every log).")
    ] = None,
    limit: Annotated[
        int, typer.Option(min=0, help="At most this many rows per query (a notice says so).")
    ] = 1_000_000,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            min=0.001,
            help="Stop a query after this many seconds (a client's statement_timeout may"
            " lower it).",
        ),
    ] = 60.0,
    engine: EngineOption = "polars",
    spark_master: SparkMasterOption = None,
    *,
    cut: Cut,
    filters: Filters,
) -> None:
    """Serve the query language on PostgreSQL's wire protocol, read-only: psql, psycopg,
    DBeaver or Metabase connect as to a PostgreSQL server and query the tables of `workbench
    query` (with the filters and cut given here as every query's start). Runs until Ctrl-C.

    Example: workbench serve-sql --port 5433 --log orders
    """
    from workbench.bounded import physical_memory
    from workbench.cli.data import is_loopback
    from workbench.sqlserver import Endpoint, Server, tls_context

    if auth not in ("none", "password"):
        fail(f"--auth {auth!r}: choose none or password")
    if auth == "password" and password is not None:
        fail("serve-sql: give --password (one for everyone) or --auth password (users), not both")
    if (tls_cert is None) != (tls_key is None):
        fail("serve-sql: TLS needs both --tls-cert and --tls-key")
    checked = "password" if password is not None else "users" if auth == "password" else "none"
    if checked == "none" and not is_loopback(host):
        if not no_auth:
            fail(
                f"serve-sql: listening on {host} would open every log to anyone who reaches"
                f" port {port}; add --password (or WORKBENCH_SQL_PASSWORD), --auth password,"
                " or --no-auth to accept that"
            )
        warn(f"serving SQL on {host}:{port} without a password: anyone who reaches it reads")
    if checked == "users" and tls_cert is None and not is_loopback(host):
        warn("--auth password without --tls-cert: passwords cross the network in clear text")
    opened = workbench()
    if checked == "users" and not opened.store.users.all():
        fail(
            "serve-sql --auth password: the store has no users; add one with `workbench users add`"
        )
    if log is not None:
        existing_log(log)
    try:
        tls = None if tls_cert is None else tls_context(str(tls_cert), str(tls_key))
    except (OSError, ValueError) as error:
        fail(f"--tls-cert {tls_cert}: {error}")
    from workbench.application import Workbench

    served = Workbench(
        session.location, timeout=session.timeout, cache_bytes=physical_memory() // 8
    )
    served.use(engine, spark_master)
    bench = served.acting(opened.user)
    endpoint = Endpoint(
        bench,
        log=log,
        cut=cut,
        filters=filters,
        limit=limit,
        timeout=timeout,
        auth=checked,
        password=password,
        tls=tls,
    )
    try:
        server = Server((host, port), endpoint)
    except OSError as error:
        fail(f"serve-sql: cannot listen on {host}:{port}: {error.strerror or error}")
    where = f"host={host} port={server.port} dbname=workbench"
    heading("serving SQL", f" on {host}:{server.port}, read-only; Ctrl-C stops it")
    heading("connect", f': psql "{where}"' + ("" if checked != "users" else " user=NAME"))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2})
    thread.start()
    try:
        stop_requested.wait()
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        bench.close()
