"""The `workbench` command: a thin layer over the store and the importers.

One module per group of commands. What they share, one module per concept: `commands` (the
Typer app, how a command is registered and run), `session` (the application of one
invocation), `options` (the flags declared once, parsed into a `Cut` and `Filters`) and
`output` (what a command prints).
"""

from __future__ import annotations

import typer

# The order of these imports is the order of the commands in `workbench --help`.
# isort: off
from workbench.cli import data, explore, mining
from workbench.cli import timetravel, causality, restatements, animation, projections, query
from workbench.cli import rules
from workbench.cli import alerts
from workbench.cli import predict
from workbench.cli import users, calendars

# isort: on
from workbench.cli.commands import app
from workbench.cli.session import DEFAULT_DB, AsOption, DbOption, TimeoutOption, session

__all__ = [
    "alerts",
    "animation",
    "app",
    "calendars",
    "causality",
    "data",
    "explore",
    "main",
    "mining",
    "predict",
    "projections",
    "query",
    "restatements",
    "rules",
    "timetravel",
    "users",
]


@app.callback()
def main_options(
    ctx: typer.Context,
    db: DbOption = DEFAULT_DB,
    timeout: TimeoutOption = 60.0,
    as_user: AsOption = None,
) -> None:
    """Workbench: import event logs, explore them, rebuild any moment.

    Example: workbench --db loans.db ingest loans.csv
    """
    session.location = db
    session.timeout = timeout
    session.acting = as_user
    ctx.call_on_close(session.close)


def main() -> None:
    """Entry point of the `workbench` console script."""
    app()
