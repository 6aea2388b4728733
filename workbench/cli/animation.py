"""The animation of cases moving along the process map."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.commands import command
from workbench.cli.options import CalendarOption, KnownAtOption, LogArgument
from workbench.cli.output import check_output, fail, out
from workbench.cli.session import (
    existing_log,
    store,
    workbench,
)
from workbench.durations import human


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
    calendar: CalendarOption = None,
) -> None:
    """Write an HTML page in which cases move as tokens along the process map over a time
    window (play, pause, speed, clock; it needs no server). With --known-at, moves the
    store did not know then are ghosts until the clock reaches their recording.

    Example: workbench animate orders --from 2024-03-01 --output map.html
    """
    from workbench.animation import to_html
    from workbench.application import Cut, moment

    existing_log(log)
    check_output(output)
    summary = store().summary(log)
    if not summary.timed or summary.first_timestamp is None or summary.last_timestamp is None:
        fail(f"{log}: the log has no times to animate")
    low = moment(start, "--from") if start else summary.first_timestamp
    high = moment(end, "--to") if end else summary.last_timestamp
    if high <= low:
        fail(f"--to {end} is not after --from {start}")
    chosen = workbench().durations_in(log, calendar)
    found = workbench().animation(
        log, low, high, Cut.parse(known_at=known_at), frames=frames, calendar=chosen
    )
    output.write_text(to_html(found, title=f"{log}: {low:%Y-%m-%d} to {high:%Y-%m-%d}"))
    ghosts = int(found.tokens["ghost"].sum()) if found.tokens.height else 0
    out.print(
        f"{found.edges.height:,} edges, {frames:,} frames of {human(found.step)}"
        + (f" of working time ({chosen})" if chosen else "")
        + " each"
        + (f", {ghosts:,} ghost token(s)" if known_at else "")
        + f": written to {output}"
    )
