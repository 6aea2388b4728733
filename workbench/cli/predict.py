"""Predictions for open cases: `predict LOG` (remaining time, next activity, outcome) and
`predict backtest LOG`, trained only on what was known then."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer
from rich.table import Table
from typer.core import TyperGroup

from workbench.cli.commands import app, command
from workbench.cli.options import JsonOption, LogArgument, with_filters
from workbench.cli.output import emit_json, heading, out
from workbench.cli.session import existing_log, workbench
from workbench.durations import human_duration

if TYPE_CHECKING:
    from workbench.application import Cut
    from workbench.filters import Filters
    from workbench.predictions import Predictions


class _OpenCasesByDefault(TyperGroup):
    """`workbench predict LOG ...` is `workbench predict open LOG ...`."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.commands:
            args = ["open", *args]
        return super().resolve_command(ctx, args)


predict_app = typer.Typer(
    cls=_OpenCasesByDefault,
    no_args_is_help=True,
    epilog="Example: workbench predict orders --target next-activity",
)
app.add_typer(
    predict_app,
    name="predict",
    help="Predictions for open cases (remaining time, next activity, outcome), trained only on"
    " what was known then; `predict backtest` scores them against what happened.",
)

CompletedOption = Annotated[
    list[str] | None,
    typer.Option(
        "--completed-by",
        help="A case is complete after this activity (repeatable; default: the activities that"
        " usually end the log's cases; a case idle longer than 99 % of gaps counts too).",
    ),
]
_EVERY = {"day": "1d", "week": "1w", "month": "1mo", "quarter": "1q"}


@partial(command, on=predict_app, name="open")
@with_filters
def predict_open(
    log: LogArgument,
    target: Annotated[
        list[str] | None,
        typer.Option(
            "--target",
            help="remaining-time (the default), next-activity, outcome (the end activity), or"
            " the chance of outcome:activity:A, outcome:attribute:K=V, outcome:slow:7d (a"
            " deadline missed); repeat it for several side by side.",
        ),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(help="Predict as at this moment (ISO 8601; default: the latest event)."),
    ] = None,
    completed_by: CompletedOption = None,
    top: Annotated[int, typer.Option(help="Cases shown (--json: all).")] = 20,
    *,
    cut: Cut,
    filters: Filters,
    as_json: JsonOption = False,
) -> None:
    """For every case open at a moment: its remaining time (the median, with the 10th and
    90th percentiles), its next activity or its outcome, each with its probability, from
    models trained only on the cases complete by then, as known then.

    Example: workbench predict orders --target next-activity --at 2024-03-01
    """
    from workbench.application import moment

    when = None if at is None else moment(at, "--at")
    every = [
        workbench().predict(
            existing_log(log), cut, filters, target=chosen, at=when, completed_by=completed_by
        )
        for chosen in dict.fromkeys(target or ["remaining-time"])
    ]
    if as_json:
        _emit(every)
        return
    _print(log, every, top)


def _emit(every: list[Predictions]) -> None:
    """The JSON of one target's predictions, or of several side by side
    (`predictions.together`)."""
    from workbench.predictions import together

    first = every[0]
    if len(every) == 1:
        named: dict[str, Any] = {"target": first.target.text}
        cases = first.as_dicts()
    else:
        named = {"targets": [found.target.text for found in every]}
        cases = together(every).to_dicts()
    emit_json({"at": first.at, **named, "trained_on": first.trained_on,
               "completed_by": first.completed_by, "cases": cases})  # fmt: skip


#: The columns of `predictions.together` a table shows, by their headers.
_HEADERS: Final = {
    "remaining_seconds": "remaining (median)",
    "remaining_low_seconds": "10-90 %",
    "next_activity": "next activity",
    "next_activity_probability": "probability",
    "outcome": "outcome",
    "outcome_probability": "probability",
    "risk": "chance",
}

#: What one target's table is ordered by.
_FIRST: Final = ("remaining_seconds", "risk", "next_activity_probability", "outcome_probability")


def _print(log: str, every: list[Predictions], top: int) -> None:
    """The predictions as a table: one target's, its likeliest first, or several's side by
    side."""
    from workbench.predictions import together

    table, first = together(every), every[0]
    which = f", {first.target.text}" if len(every) == 1 else ""
    heading(
        log,
        f": {table.height:,} open case(s) at {first.at.isoformat(timespec='minutes')}{which};"
        f" trained on {first.trained_on:,} complete case(s)",
    )
    present = [name for name in _HEADERS if name in table.columns]
    if len(every) == 1:  # the longest remaining, or the likeliest, first
        table = table.sort(next(n for n in _FIRST if n in present), descending=True)
    shown = Table("case", "events", "elapsed", "last activity", *(_HEADERS[n] for n in present))
    for row in table.head(top).iter_rows(named=True):
        shown.add_row(
            str(row["case_id"]),
            f"{row['prefix_length']:,}",
            human_duration(row["elapsed_seconds"]),
            str(row["last_activity"]),
            *(_cell(name, row) for name in present),
        )
    out.print(shown if table.height else "no case is open then")


def _cell(name: str, row: dict[str, Any]) -> str:
    value = row[name]
    if name == "remaining_low_seconds":
        return f"{human_duration(value)} to {human_duration(row['remaining_high_seconds'])}"
    if name == "remaining_seconds":
        return human_duration(value)
    if name.endswith("probability") or name == "risk":
        return f"{value:.0%}"
    return str(value)


@partial(command, on=predict_app, name="backtest")
@with_filters
def predict_backtest(
    log: LogArgument,
    every: Annotated[
        str, typer.Option(help="A cut every day, week, month or quarter (or 2w, 3mo ...).")
    ] = "month",
    target: Annotated[
        list[str] | None,
        typer.Option(
            "--target",
            help="What to score (repeatable; default: remaining-time, next-activity and"
            " outcome); outcome:activity:A and the like as for `predict`.",
        ),
    ] = None,
    completed_by: CompletedOption = None,
    calendar: Annotated[
        str | None,
        typer.Option(
            help="Also the remaining time's errors in this calendar's working time (default:"
            " the log's calendar, `calendar assign`; elapsed: none)."
        ),
    ] = None,
    *,
    cut: Cut,
    filters: Filters,
    as_json: JsonOption = False,
) -> None:
    """Walk forward through the log: at each cut, train on what was known then, predict
    the cases open then, and score the predictions against what happened later, beside
    two baselines (the mean remaining time of training cases with the same last activity
    and prefix length; the majority class).

    Example: workbench predict backtest orders --every month --json
    """
    name = existing_log(log)
    found = workbench().backtest_predictions(
        name,
        cut,
        filters,
        every=_EVERY.get(every, every),
        targets=target or (),
        completed_by=completed_by,
        calendar=workbench().durations_in(name, calendar),
    )
    if as_json:
        emit_json(found.as_dict())
        return
    heading(log, f": predictions backtested every {every}, {found.cuts.height:,} cut(s)")
    kinds = {t.kind for t in found.targets}
    headers = ["cut", "trained on", "open"]
    working = "mae_business_seconds" in found.overall
    if "remaining-time" in kinds:
        headers += ["MAE", "baseline", "10-90 % holds"]
        headers += ["MAE, working", "baseline, working"] if working else []
    if "next-activity" in kinds:
        headers += ["next right", "baseline"]
    if "outcome" in kinds:
        headers += ["outcome", "baseline"]
    shown = Table(*headers)
    for row in [*found.cuts.iter_rows(named=True), {"at": None, **found.overall}]:
        cells = [
            "overall" if row["at"] is None else row["at"].date().isoformat(),
            "" if row["at"] is None else f"{row['trained_on']:,}",
            "" if row["at"] is None else f"{row['open']:,}",
        ]
        if "remaining-time" in kinds:
            cells += [_maybe(row.get("mae_seconds"), human_duration),
                      _maybe(row.get("baseline_mae_seconds"), human_duration),
                      _maybe(row.get("interval_coverage"), _share)]  # fmt: skip
            if working:
                base = row.get("baseline_mae_business_seconds")
                cells += [_maybe(row.get("mae_business_seconds"), human_duration),
                          _maybe(base, human_duration)]  # fmt: skip
        if "next-activity" in kinds:
            cells += [_maybe(row.get("next_activity_accuracy"), _share),
                      _maybe(row.get("baseline_next_activity_accuracy"), _share)]  # fmt: skip
        if "outcome" in kinds:
            if "outcome_auc" in row:
                auc = _maybe(row.get("outcome_auc"), "{:.2f}".format)
                brier = _maybe(row.get("outcome_brier"), "{:.3f}".format)
                prior = _maybe(row.get("baseline_outcome_brier"), "{:.3f}".format)
                cells += [f"AUC {auc}, Brier {brier}", f"Brier {prior}"]
            else:
                cells += [_maybe(row.get("outcome_accuracy"), _share),
                          _maybe(row.get("baseline_outcome_accuracy"), _share)]  # fmt: skip
        shown.add_row(*cells)
    out.print(shown)


def _share(value: float) -> str:
    return f"{value:.0%}"


def _maybe(value: float | None, shown: Any) -> str:
    return "n/a" if value is None else str(shown(value))
