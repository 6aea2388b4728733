"""Declarative rules: `rules discover` finds Declare constraints in a log, `rules check`
checks a log against them."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from workbench.cli.commands import app, command
from workbench.cli.options import JsonOption, LogArgument, with_filters
from workbench.cli.output import check_output, emit_json, fail, heading, out
from workbench.cli.session import existing_log, workbench

if TYPE_CHECKING:
    from workbench.application import Cut
    from workbench.filters import Filters

rules_app = typer.Typer(no_args_is_help=True, epilog="Example: workbench rules discover orders")
app.add_typer(rules_app, name="rules", help="Declarative rules (Declare): discover and check.")

KINDS = ("declare",)


@partial(command, on=rules_app, name="discover")
@with_filters
def discover(
    log: LogArgument,
    kind: Annotated[str, typer.Option(help="The kind of rules: declare.")] = "declare",
    min_support: Annotated[
        float, typer.Option(help="Keep rules that at least this share of the cases activate.")
    ] = 0.9,
    min_confidence: Annotated[
        float,
        typer.Option(help="... and that at least this share of those cases fulfil."),
    ] = 0.9,
    templates: Annotated[
        str | None,
        typer.Option(help="Only these templates, comma-separated (default: all 18)."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="Write the rules to this JSON file (for rules check).")
    ] = None,
    *,
    cut: Cut,
    filters: Filters,
    as_json: JsonOption = False,
) -> None:
    """Discover Declare rules (response, precedence, chain succession ... as pm4py names
    them), each with its support (cases that activate it) and confidence (cases that
    fulfil it).

    Example: workbench rules discover orders --min-support 0.8 --output rules.json
    """
    from workbench import rules

    if kind not in KINDS:
        fail(f"--kind {kind!r}: choose {', '.join(KINDS)}")
    if output is not None:
        check_output(output)
    chosen = None if templates is None else [t.strip() for t in templates.split(",") if t]
    found = workbench().discover_rules(
        existing_log(log),
        cut,
        filters,
        min_support=min_support,
        min_confidence=min_confidence,
        templates=chosen,
    )
    if output is not None:
        rules.write(found, output, log=log)
    if as_json:
        emit_json({"kind": kind, "log": log, "rules": [rule.as_dict() for rule in found]})
        return
    if output is not None:
        heading(str(output), f": {len(found):,} rules")
        return
    table = Table("template", "activities", "support", "confidence")
    for rule in found:
        table.add_row(
            rule.template,
            " → ".join(rule.activities),
            f"{rule.support:,}",
            f"{rule.confidence:,}",
        )
    out.print(table if found else "no rule reaches the support and confidence asked for")


@partial(command, on=rules_app, name="check")
@with_filters
def check(
    log: LogArgument,
    rules_file: Annotated[
        Path, typer.Option("--rules", help="The rules: a JSON file from rules discover, or yours.")
    ],
    *,
    cut: Cut,
    filters: Filters,
    as_json: JsonOption = False,
) -> None:
    """Check each case against Declare rules: per rule the cases activating, fulfilling and
    violating it; per case the rules it violates, the events involved, and its fitness.

    Example: workbench rules check orders --rules rules.json --json
    """
    from workbench import rules

    given = rules.read(rules_file)
    checked = workbench().conform_to_rules(existing_log(log), given, cut, filters)
    if as_json:
        emit_json(checked.as_dict())
        return
    table = Table("template", "activities", "activations", "fulfilments", "violations")
    for result in sorted(checked.rules, key=lambda r: -r.violations):
        table.add_row(
            result.rule.template,
            " → ".join(result.rule.activities),
            f"{result.activations:,}",
            f"{result.fulfilments:,}",
            f"{result.violations:,}",
        )
    out.print(table)
    fitting = sum(1 for case in checked.cases if not case.violated)
    total = len(checked.cases)
    mean = sum(case.fitness for case in checked.cases) / total if total else 1.0
    heading("cases", f": {total:,}, of which {fitting:,} violate no rule; mean fitness {mean:.3f}")
