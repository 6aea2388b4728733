"""The `workbench` command: a thin layer over the store and the importers.

One module per group of commands; `common` holds what they share (the app, the store,
output, errors and the options declared once).
"""

from __future__ import annotations

import typer

from workbench.cli import data, explore, mining, travel
from workbench.cli.common import DEFAULT_DB, DbOption, TimeoutOption, app, session

__all__ = ["app", "data", "explore", "main", "mining", "travel"]


@app.callback()
def main_options(
    ctx: typer.Context, db: DbOption = DEFAULT_DB, timeout: TimeoutOption = 60.0
) -> None:
    """Workbench: import event logs, explore them, rebuild any moment.

    Example: workbench --db loans.db ingest loans.csv
    """
    session.location = db
    session.timeout = timeout
    ctx.call_on_close(session.close)


def main() -> None:
    """Entry point of the `workbench` console script."""
    app()
