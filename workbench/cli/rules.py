"""Declarative rules: `rules discover` finds Declare constraints in a log, `rules check`
checks a log against them."""

from __future__ import annotations

from datetime import timedelta
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
    from workbench.skeleton import Skeleton
    from workbench.temporal_profile import Gap

rules_app = typer.Typer(no_args_is_help=True, epilog="Example: workbench rules discover orders")
app.add_typer(rules_app, name="rules", help="Declarative rules (Declare): discover and check.")


@partial(command, on=rules_app, name="discover")
@with_filters
def discover(
    log: LogArgument,
    kind: Annotated[
        str,
        typer.Option(
            help="declare (constraints), temporal-profile (times between) or log-skeleton."
        ),
    ] = "declare",
    min_support: Annotated[
        float | None,
        typer.Option(help="Declare: keep rules at least this share of the cases activate [0.9]."),
    ] = None,
    min_confidence: Annotated[
        float | None,
        typer.Option(help="Declare: ... and at least this share of those fulfil [0.9]."),
    ] = None,
    templates: Annotated[
        str | None,
        typer.Option(help="Declare: only these templates, comma-separated (default: all 18)."),
    ] = None,
    noise: Annotated[
        float | None,
        typer.Option(help="Log skeleton: the share of cases a relation may fail in [0]."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="Write the rules to this JSON file (for rules check).")
    ] = None,
    *,
    cut: Cut,
    filters: Filters,
    as_json: JsonOption = False,
) -> None:
    """Discover rules: Declare constraints (response, precedence, chain succession ... as
    pm4py names them), each with its support (cases that activate it) and confidence
    (cases that fulfil it); the temporal profile, the mean and deviation of the time from
    each activity to each later one; or the log skeleton, the relations that hold in every
    case and how often each activity occurs.

    Example: workbench rules discover orders --min-support 0.8 --output rules.json
    """
    from workbench import rulefiles

    if kind not in rulefiles.KINDS:
        fail(f"--kind {kind!r}: choose {', '.join(rulefiles.KINDS)}")
    if output is not None:
        check_output(output)
    bench, name = workbench(), existing_log(log)
    declares = (min_support, min_confidence, templates)
    if kind != "declare" and any(option is not None for option in declares):
        fail("--min-support, --min-confidence and --templates are Declare's")
    if kind != "log-skeleton" and noise is not None:
        fail("--noise is the log skeleton's")
    if kind == "temporal-profile":
        _profile(bench.temporal_profile(name, cut, filters), log, output, as_json)
        return
    if kind == "log-skeleton":
        _skeleton(bench.log_skeleton(name, cut, filters, noise=noise or 0.0), log, output, as_json)
        return
    chosen = None if templates is None else [t.strip() for t in templates.split(",") if t]
    found = bench.discover_rules(
        name,
        cut,
        filters,
        min_support=0.9 if min_support is None else min_support,
        min_confidence=0.9 if min_confidence is None else min_confidence,
        templates=chosen,
    )
    if output is not None:
        rulefiles.write(found, output, log=log)
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


def _skeleton(found: Skeleton, log: str, output: Path | None, as_json: bool) -> None:
    from workbench import rulefiles
    from workbench.skeleton import COUNTS, RELATIONS

    if output is not None:
        rulefiles.write(found, output, log=log)
    if as_json:
        emit_json({"kind": "log-skeleton", "log": log, **found.as_dict()})
        return
    if output is not None:
        heading(str(output), f": {sum(len(p) for p in found.relations.values()):,} relations")
        return
    table = Table("relation", "activities")
    for relation in RELATIONS:
        for a, b in sorted(found.relations.get(relation, set())):
            table.add_row(relation, f"{a} → {b}")
    for act, counts in sorted(found.counts.items()):
        table.add_row(COUNTS, f"{act}: {', '.join(str(n) for n in sorted(counts))} times")
    out.print(table)


def _profile(gaps: list[Gap], log: str, output: Path | None, as_json: bool) -> None:
    from workbench import rulefiles
    from workbench.durations import human

    if output is not None:
        rulefiles.write(gaps, output, log=log)
    if as_json:
        emit_json({"kind": "temporal-profile", "log": log, "rules": [g.as_dict() for g in gaps]})
        return
    if output is not None:
        heading(str(output), f": {len(gaps):,} pairs")
        return
    table = Table("from", "to", "mean", "deviation", "observations")
    for gap in gaps:
        table.add_row(
            *gap.activities,
            human(timedelta(seconds=gap.mean_seconds)),
            human(timedelta(seconds=gap.stdev_seconds)),
            f"{gap.observations:,}",
        )
    out.print(table)


@partial(command, on=rules_app, name="check")
@with_filters
def check(
    log: LogArgument,
    rules_file: Annotated[
        Path, typer.Option("--rules", help="The rules: a JSON file from rules discover, or yours.")
    ],
    zeta: Annotated[
        float | None,
        typer.Option(help="A temporal profile's band: this many deviations (the file's, or 6)."),
    ] = None,
    *,
    cut: Cut,
    filters: Filters,
    as_json: JsonOption = False,
) -> None:
    """Check each case against rules: per rule the cases activating, fulfilling and
    violating it; per case the rules it violates, the events involved, and its fitness.

    Example: workbench rules check orders --rules rules.json --json
    """
    from workbench import rulefiles

    given = rulefiles.read(rules_file)
    bench, name = workbench(), existing_log(log)
    if given.kind == "log-skeleton":
        if zeta is not None:
            fail("--zeta is a temporal profile's: this is a log skeleton")
        assert given.skeleton is not None
        found = bench.conform_to_skeleton(name, given.skeleton, cut, filters).as_dict()
    elif given.kind == "temporal-profile":
        band = given.zeta if zeta is None else zeta
        profiled = bench.conform_to_profile(name, given.gaps, cut, filters, zeta=band)
        found = profiled.as_dict()
    else:
        if zeta is not None:
            fail("--zeta is a temporal profile's: these are Declare rules")
        found = bench.conform_to_rules(name, given.rules, cut, filters).as_dict()
    if as_json:
        emit_json(found)
        return
    table = Table("template", "activities", "activations", "fulfilments", "violations")
    for result in sorted(found["rules"], key=lambda r: -r["violations"]):
        table.add_row(
            result["template"],
            " → ".join(result["activities"]),
            f"{result['activations']:,}",
            f"{result['fulfilments']:,}",
            f"{result['violations']:,}",
        )
    out.print(table)
    cases = found["cases"]
    fitting = sum(1 for case in cases if not case["violated"])
    mean = sum(case["fitness"] for case in cases) / len(cases) if cases else 1.0
    heading(
        "cases", f": {len(cases):,}, of which {fitting:,} violate no rule; mean fitness {mean:.3f}"
    )
