"""The checkpointed projections: projections, and its subcommands refresh, add, remove and
snapshot; with the read model's segments."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from workbench.cli.commands import app, command
from workbench.cli.options import JsonOption
from workbench.cli.output import emit_json, out
from workbench.cli.session import (
    existing_log,
    read_model,
    store,
    workbench,
)

if TYPE_CHECKING:
    from workbench.readmodel import Status


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
    names = [log] if log is not None else [s.log for s in workbench().logs()]
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
    for c in workbench().refresh_projections(None if log is None else existing_log(log)):
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
    workbench().define_projection(name, query, description=description)
    out.print(f"projection {name!r} added")


@partial(command, on=projections_app, name="remove")
def projections_remove(name: Annotated[str, typer.Argument(help="The projection's name.")]) -> None:
    """Remove a SQL projection and its checkpoints.

    Example: workbench projections remove per_region
    """
    workbench().remove_projection(name)
    out.print(f"projection {name!r} removed")


@partial(command, on=projections_app, name="snapshot")
def projections_snapshot(
    log: Annotated[str, typer.Argument(help="The log.")],
    count: Annotated[int, typer.Option(help="Snapshots, evenly spaced over the log's range.")] = 12,
) -> None:
    """Store snapshots of every case's state, so that `state` starts from the nearest one.

    Example: workbench projections snapshot orders --count 24
    """
    moments = workbench().snapshot(existing_log(log), count)
    out.print(f"{len(moments)} snapshots of {log}")
