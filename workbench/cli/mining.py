"""The discovery, conformance and export commands."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from workbench.cli.commands import command
from workbench.cli.options import (
    BudgetOption,
    JsonOption,
    LogArgument,
    MemoryOption,
    memory_size,
    with_filters,
)
from workbench.cli.output import check_output, emit_json, fail, heading, out, warn
from workbench.cli.session import existing_log, store, workbench

if TYPE_CHECKING:
    import polars as pl

    from workbench.application import Cut
    from workbench.filters import Filters


OutputOption = Annotated[Path, typer.Option("--output", help="The file to write.")]


@command
@with_filters
def discover(
    log: LogArgument,
    output: OutputOption,
    algorithm: Annotated[str, typer.Option(help="inductive, heuristics or alpha.")] = "inductive",
    noise: Annotated[float, typer.Option(help="Inductive miner's noise threshold, 0 to 1.")] = 0.0,
    budget: BudgetOption = None,
    memory: MemoryOption = None,
    *,
    cut: Cut,
    filters: Filters,
) -> None:
    """Discover a process model from the (filtered) log and write it as PNML or BPMN (by the
    file's extension).

    Example: workbench discover orders --noise 0.2 --output orders.pnml
    """
    from workbench import mining

    if output.suffix.lower() not in (".pnml", ".bpmn"):
        fail(f"--output {output}: give a file ending in .pnml or .bpmn")
    check_output(output)
    chosen: Any = algorithm  # checked by mining.discover, which names the choices
    model = workbench().discover(
        existing_log(log), cut, filters,
        algorithm=chosen, noise=noise, budget=budget, memory=memory_size(memory),
    )  # fmt: skip
    mining.write_model(model, output)
    parts = model.summary()
    out.print(
        f"{algorithm} model of {log}: {parts['places']} places, {parts['transitions']}"
        f" transitions ({parts['visible_transitions']} visible), written to {output}"
    )


@command
@with_filters
def conformance(
    log: LogArgument,
    model: Annotated[Path, typer.Option("--model", help="A .pnml or .bpmn model.")],
    method: Annotated[str, typer.Option(help="tokens (replay) or alignments.")] = "tokens",
    budget: BudgetOption = None,
    memory: MemoryOption = None,
    aligner: Annotated[
        str,
        typer.Option(
            help="Alignments by r4pm (Rust; the default when installed) or pm4py: the same"
            " fitness; where several alignments are optimal, moves may differ."
        ),
    ] = "auto",
    every: Annotated[
        str | None,
        typer.Option(
            help="Also fitness per day, week, month, quarter or year in which cases started."
        ),
    ] = None,
    *,
    cut: Cut,
    filters: Filters,
    as_json: JsonOption = False,
) -> None:
    """Check how well the (filtered) log fits a model: fitness and precision by token replay,
    or fitness and the deviations per activity by alignments (computed once per variant).

    Example: workbench conformance orders --model orders.pnml --every month
    """
    from workbench import mining

    if method not in ("tokens", "alignments"):
        fail(f"--method {method!r}: choose tokens or alignments")
    if aligner not in ("auto", "r4pm", "pm4py"):
        fail(f"--aligner {aligner!r}: choose r4pm or pm4py")
    if every is not None and every not in mining.PERIODS:
        fail(f"--every {every!r}: choose {', '.join(mining.PERIODS)}")
    net = mining.read_model(model)
    for note in net.notes:
        warn(note)
    bench = workbench()
    chosen: Any = method, aligner  # checked above
    result = bench.conformance(
        existing_log(log), net, cut, filters,
        method=chosen[0], aligner=chosen[1], budget=budget, memory=memory_size(memory),
    )  # fmt: skip
    events = bench.events(log, cut, filters)
    periods = None if every is None else mining.over_time(result, events, every)
    if as_json:
        found = result.to_dict()
        if periods is not None:
            found["over_time"] = [
                {**row, "period": row["period"].isoformat()} for row in periods.to_dicts()
            ]
        emit_json(found)
        return
    heading(log, f" against {model.name} ({method})")
    out.print(
        f"fitness {_share(result.fitness, '.4f')}, average trace fitness"
        f" {_share(result.average_trace_fitness, '.4f')}"
    )
    if result.precision is not None:
        out.print(f"precision {result.precision:.4f}")
    out.print(
        f"{_share(result.fitting_cases, '.1%')} of cases fit; {result.variants_checked:,} of"
        f" {result.variants:,} variants checked in {result.seconds:.1f} s"
    )
    for note in result.notes:
        out.print(f"note: {note}")
    if result.deviations.height:
        table = Table("activity", "moves on log", "moves on model")
        for name, on_log, on_model in result.deviations.head(20).iter_rows():
            table.add_row(name, f"{on_log:,}", f"{on_model:,}")
        out.print(table)
    if periods is not None:
        table = Table(every or "period", "cases", "fit", "average trace fitness")
        for period, cases, fitting, fitness in periods.iter_rows():
            table.add_row(
                period.date().isoformat(), f"{cases:,}", f"{fitting:.1%}", f"{fitness:.4f}"
            )
        out.print(table)


def _share(value: float | None, spec: str) -> str:
    """A figure, or n/a when there was nothing to compute it from."""
    return "n/a" if value is None else format(value, spec)


@command
@with_filters
def export(
    log: LogArgument,
    format: Annotated[str, typer.Option(help="xes, csv, parquet or ocel (OCEL 2.0 JSON).")],
    output: OutputOption,
    partition_by: Annotated[
        str | None,
        typer.Option(
            "--partition-by",
            help="Parquet only: a dataset folder per year, month or day (for Spark or a"
            " cluster), keeping the store's positions.",
        ),
    ] = None,
    pseudonymize: Annotated[
        str | None,
        typer.Option(
            help="Columns to replace by keyed pseudonyms (resource,case_id,...): the same"
            " value gets the same pseudonym in every export of this store; the key stays in"
            " the store.",
        ),
    ] = None,
    *,
    cut: Cut,
    filters: Filters,
) -> None:
    """Export the (filtered) log with its attributes and UTC times; it imports back into the
    same events.

    Example: workbench export orders --format xes --output orders.xes
    """
    from workbench import export as exporting

    columns = [name.strip() for name in (pseudonymize or "").split(",") if name.strip()]
    if columns and format == "ocel":
        fail("--pseudonymize works with --format csv, xes or parquet")

    def hidden(events: pl.LazyFrame, log: str) -> pl.LazyFrame:
        if not columns:
            return events
        try:
            hidden_events = exporting.pseudonymized(store(), log, events, columns)
        except exporting.ExportError as error:
            fail(str(error))
        for name in exporting.revealing(events, columns):
            warn(
                f"--pseudonymize: the column {name!r} holds values of"
                f" {', '.join(columns)}; add it to --pseudonymize to hide them too"
            )
        return hidden_events

    if format not in exporting.FORMATS:
        fail(f"--format {format!r}: choose {', '.join(exporting.FORMATS)}")
    if partition_by is not None:
        if format != "parquet":
            fail("--partition-by writes a Parquet dataset: give --format parquet")
        if partition_by not in exporting.PARTITIONS:
            fail(f"--partition-by {partition_by!r}: choose {', '.join(exporting.PARTITIONS)}")
        if output.exists() and (not output.is_dir() or any(output.iterdir())):
            fail(f"--output {output}: give a new or empty folder for the dataset")
        if not output.parent.is_dir():
            fail(f"--output {output}: the folder {output.parent} does not exist")
        events = hidden(workbench().events(existing_log(log), cut, filters), log)
        count = exporting.to_partitioned_parquet(events, output, partition_by)
        out.print(f"{count:,} events of {log} written to {output}, one folder per {partition_by}")
        return
    check_output(output)
    from workbench.store import LogName

    source = LogName.parse(log).log if format == "ocel" else log
    events = hidden(workbench().events(existing_log(source), cut, filters), source)
    count = exporting.export(store(), source, events, output, format=format)
    out.print(f"{count:,} events of {source} written to {output}")
