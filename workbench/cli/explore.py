"""The commands that summarize a log: stats and dfg (the process map)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from workbench.cli.common import (
    EngineOption,
    FilterFlags,
    JsonOption,
    LogArgument,
    SparkMasterOption,
    check_engine,
    command,
    emit_json,
    fail,
    filtered,
    heading,
    human,
    out,
    seconds,
    spark_events,
    store,
    untimed_note,
    warn,
    with_filters,
)


@command
@with_filters
def stats(
    log: LogArgument,
    top: Annotated[int, typer.Option(help="How many variants to show.")] = 5,
    as_json: JsonOption = False,
    engine: EngineOption = "polars",
    spark_master: SparkMasterOption = None,
    *,
    flags: FilterFlags,
) -> None:
    """Counts, case durations, top variants, start and end activities of a log.

    Example: workbench stats orders --from 2024-03-01 --attribute region=north
    """
    import polars as pl

    from workbench import projections

    check_engine(engine)
    if engine == "spark":
        from workbench.engines import spark

        on_spark, filters = spark_events(log, flags, spark_master)
        table = spark.cases(on_spark, store().schema(log))
        kinds = spark.variants(on_spark)
        activities = spark.distinct_activities(on_spark)
        starts, ends = spark.start_activities(on_spark), spark.end_activities(on_spark)
    else:
        events, filters = filtered(log, flags)
        table = projections.cases(events).collect()
        kinds = projections.variants(events).collect()
        activities = events.select(pl.col("activity").n_unique()).collect().item()
        starts = projections.start_activities(events).collect()
        ends = projections.end_activities(events).collect()
    durations = table["duration"]
    timed = untimed_note(log) is None
    summary: dict[str, Any] = {
        "log": log,
        "filters": filters.describe(),
        "cases": table.height,
        "events": int(table["events"].sum()) if table.height else 0,
        "activities": activities,
        "variants": kinds.height,
        "timed": timed,
        "case_duration_seconds": {
            "mean": seconds(durations.mean()) if timed else None,  # type: ignore[arg-type]
            "median": seconds(durations.median()) if timed else None,  # type: ignore[arg-type]
            "p90": seconds(durations.quantile(0.9, interpolation="linear"))  # type: ignore[arg-type]
            if timed
            else None,
            "min": seconds(durations.min()) if timed else None,  # type: ignore[arg-type]
            "max": seconds(durations.max()) if timed else None,  # type: ignore[arg-type]
        },
        "top_variants": [
            {"variant": row["variant"], "cases": row["cases"], "share": row["share"]}
            for row in kinds.head(top).iter_rows(named=True)
        ],
        "start_activities": dict(starts.iter_rows()),
        "end_activities": dict(ends.iter_rows()),
    }
    if as_json:
        emit_json(summary)
        return
    from workbench.durations import human_duration

    heading(log, f"  ({'; '.join(summary['filters'])})" if filters else "")
    out.print(
        f"{summary['cases']:,} cases, {summary['events']:,} events, "
        f"{summary['activities']:,} activities, {summary['variants']:,} variants"
    )
    if timed:
        times = summary["case_duration_seconds"]
        out.print(
            "case duration: "
            + ", ".join(f"{name} {human_duration(value)}" for name, value in times.items())
        )
    else:
        warn(str(untimed_note(log)))
    variants_table = Table("cases", "share", "variant")
    for row in summary["top_variants"]:
        variants_table.add_row(
            f"{row['cases']:,}", f"{row['share']:.1%}", " → ".join(row["variant"])
        )
    out.print(variants_table)
    out.print(
        "starts: " + ", ".join(f"{a} ({n:,})" for a, n in summary["start_activities"].items())
    )
    out.print("ends: " + ", ".join(f"{a} ({n:,})" for a, n in summary["end_activities"].items()))


@command
@with_filters
def dfg(
    log: LogArgument,
    as_dot: Annotated[bool, typer.Option("--dot", help="Print Graphviz DOT.")] = False,
    measure: Annotated[
        str, typer.Option(help="Edge value: frequency, mean, median, p90 or total waiting time.")
    ] = "frequency",
    detail: Annotated[
        float, typer.Option(help="Activities kept: the most frequent covering PCT % of events.")
    ] = 100.0,
    paths: Annotated[
        float, typer.Option(help="Edges kept: the most frequent covering PCT % of transitions.")
    ] = 100.0,
    as_json: JsonOption = False,
    engine: EngineOption = "polars",
    spark_master: SparkMasterOption = None,
    *,
    flags: FilterFlags,
) -> None:
    """The directly-follows graph (process map) of a log, as a table, JSON or DOT.

    Example: workbench dfg orders --dot --measure median > map.dot
    """
    from workbench.durations import human_duration
    from workbench.processmap import MEASURES, edge_value, process_map, to_dot

    if measure not in MEASURES:
        fail(f"--measure {measure!r}: choose one of {', '.join(MEASURES)}")
    for name, value in (("--detail", detail), ("--paths", paths)):
        if not 0 <= value <= 100:
            fail(f"{name} {value:g}: give a percentage from 0 to 100")
    check_engine(engine)
    if measure != "frequency" and untimed_note(log):
        fail(f"--measure {measure}: {untimed_note(log)}")
    if engine == "spark":
        from pyspark.sql import functions as F

        from workbench.engines import spark
        from workbench.processmap import assemble

        on_spark, filters = spark_events(log, flags, spark_master)
        if detail < 100:
            on_spark = on_spark.where(F.col("activity").isin(spark.covering(on_spark, detail)))
        pmap = assemble(
            spark.activity_counts(on_spark),
            spark.directly_follows(on_spark),
            spark.start_activities(on_spark),
            spark.end_activities(on_spark),
            paths=paths,
        )
    else:
        events, filters = filtered(log, flags)
        pmap = process_map(events, activities=detail, paths=paths)
    if as_dot:
        title = f"{log} ({'; '.join(filters.describe())})" if filters else log
        print(to_dot(pmap, measure=measure, title=title))
        return
    if as_json:
        edges = [
            {
                "source": row["source"],
                "target": row["target"],
                "frequency": row["frequency"],
                "cases": row["cases"],
                **{
                    f"{name}_seconds": seconds(row[f"{name}_duration"])
                    for name in ("mean", "median", "p90", "min", "max", "total")
                },
            }
            for row in pmap.edges.iter_rows(named=True)
        ]
        nodes = [{"activity": a, "frequency": f, "cases": c} for a, f, c in pmap.nodes.iter_rows()]
        emit_json(
            {
                "log": log,
                "filters": filters.describe(),
                "nodes": nodes,
                "edges": edges,
                "start_activities": dict(pmap.starts.iter_rows()),
                "end_activities": dict(pmap.ends.iter_rows()),
            }
        )
        return
    values = edge_value(pmap.edges, measure)
    table = Table("from", "to", "cases", measure)
    for row, value in zip(pmap.edges.iter_rows(named=True), values, strict=True):
        shown = f"{row['frequency']:,}" if measure == "frequency" else human_duration(value)
        table.add_row(row["source"], row["target"], f"{row['cases']:,}", shown)
    out.print(table)


@command
@with_filters
def compare(
    log: LogArgument,
    a_from: Annotated[str | None, typer.Option("--a-from", help="Group A: cases from.")] = None,
    a_to: Annotated[str | None, typer.Option("--a-to", help="Group A: cases until.")] = None,
    b_from: Annotated[str | None, typer.Option("--b-from", help="Group B: cases from.")] = None,
    b_to: Annotated[str | None, typer.Option("--b-to", help="Group B: cases until.")] = None,
    a_attribute: Annotated[
        list[str] | None,
        typer.Option("--a-attribute", help="Group A: cases with KEY=VALUE (repeatable)."),
    ] = None,
    b_attribute: Annotated[
        list[str] | None,
        typer.Option("--b-attribute", help="Group B: cases with KEY=VALUE (repeatable)."),
    ] = None,
    top: Annotated[int, typer.Option(help="Edges and activities listed in the tables.")] = 15,
    as_json: JsonOption = False,
    *,
    flags: FilterFlags,
) -> None:
    """Compare two groups of cases of one log, A and B (two periods, two attribute values,
    or both), after the common filters: KPIs, the process map's edges with frequency and
    median waiting time in each, variants found in only one, and the activities whose
    waiting times changed most, with case counts.

    Example: workbench compare orders --a-to 2024-04-01 --b-from 2024-04-01
    """
    from dataclasses import replace

    from workbench.compare import compare as comparing

    sides = []
    for name, start, end, attribute in (
        ("A", a_from, a_to, a_attribute),
        ("B", b_from, b_to, b_attribute),
    ):
        if not (start or end or attribute):
            fail(f"give group {name}: --{name.lower()}-from/--{name.lower()}-to or"
                 f" --{name.lower()}-attribute")  # fmt: skip
        side = replace(
            flags,
            start=start or flags.start,
            end=end or flags.end,
            attribute=[*(flags.attribute or []), *(attribute or [])],
        )
        sides.append(filtered(log, side)[0])
    found = comparing(sides[0], sides[1])
    if as_json:
        emit_json(found.to_dict())
        return
    heading(log, ": A against B")
    kpis = Table("", "A", "B", "change")
    for key, label in (
        ("cases", "cases"),
        ("events", "events"),
        ("variants", "variants"),
        ("median_duration_s", "median throughput time"),
        ("p90_duration_s", "90th percentile"),
        ("rework_share", "cases with rework"),
    ):
        a, b = found.a[key], found.b[key]
        shown: list[str]
        if key.endswith("_s"):
            shown = [human(_delta(a)), human(_delta(b))]
        elif key == "rework_share":
            shown = ["n/a" if v is None else f"{v:.1%}" for v in (a, b)]
        else:
            shown = [f"{a:,}", f"{b:,}"]
        change = "" if not a or b is None else f"{(b - a) / a:+.0%}"
        kpis.add_row(label, *shown, change)
    out.print(kpis)
    edges = Table("edge", "A", "B", "change", "median wait A", "median wait B")
    for row in found.edges.head(top).iter_rows(named=True):
        change = row["frequency_change_pct"]
        edges.add_row(
            f"{row['source']} → {row['target']}",
            f"{row['a_frequency']:,}",
            f"{row['b_frequency']:,}",
            "only B" if change is None and row["b_frequency"] else
            "only A" if not row["b_frequency"] else f"{change:+.0f}%",
            human(_delta(row["a_median_wait_s"])),
            human(_delta(row["b_median_wait_s"])),
        )  # fmt: skip
    out.print(edges)
    waits = Table("activity", "cases A", "cases B", "median wait A", "median wait B")
    for row in found.activities.head(top).iter_rows(named=True):
        waits.add_row(
            row["activity"],
            f"{row['a_cases']:,}",
            f"{row['b_cases']:,}",
            human(_delta(row["a_median_wait_s"])),
            human(_delta(row["b_median_wait_s"])),
        )
    out.print(waits)
    out.print(
        f"{found.only_in_a.height:,} variant(s) only in A, {found.only_in_b.height:,} only in B"
    )


def _delta(value: float | None) -> Any:
    from datetime import timedelta

    return None if value is None else timedelta(seconds=value)


@command
def ocdfg(
    log: LogArgument,
    types: Annotated[
        str | None, typer.Option("--types", help="Object types to show, comma-separated.")
    ] = None,
    as_dot: Annotated[bool, typer.Option("--dot", help="Print Graphviz DOT.")] = False,
    measure: Annotated[
        str, typer.Option(help="Edge labels in --dot: frequency or median (waiting time).")
    ] = "frequency",
    as_json: JsonOption = False,
) -> None:
    """The object-centric directly-follows graph of an OCEL log: per object type, the
    directly-follows relation of each object's events (as `dfg LOG/TYPE`), on one map.

    Example: workbench ocdfg orders --types order,item --dot > ocdfg.dot
    """
    from workbench import objectcentric

    if store().summary(log).kind != "object":
        fail(f"{log}: not an object-centric log (import an OCEL file to get one)")
    known = objectcentric.object_types(store(), log)
    chosen = [t.strip() for t in types.split(",") if t.strip()] if types else None
    unknown = [t for t in chosen or [] if t not in known]
    if unknown:
        fail(f"--types: {', '.join(unknown)} not in {log} (it has {', '.join(known)})")
    if measure not in ("frequency", "median"):
        fail(f"--measure {measure!r}: choose frequency or median")
    found = objectcentric.ocdfg(store(), log, chosen)
    if as_dot:
        print(objectcentric.to_dot(found, measure=measure))
        return
    if as_json:
        edges = [
            {
                "object_type": row["object_type"],
                "source": row["source"],
                "target": row["target"],
                "frequency": row["frequency"],
                "event_pairs": row["event_pairs"],
                "objects": row["objects"],
                **{
                    f"{name}_seconds": seconds(row[f"{name}_duration"])
                    for name in ("mean", "median", "p90", "min", "max")
                },
            }
            for row in found.edges.iter_rows(named=True)
        ]
        emit_json({"log": log, "object_types": found.types, "nodes": found.nodes.to_dicts(),
                   "edges": edges})  # fmt: skip
        return
    table = Table("object type", "from", "to", "frequency", "objects", "median wait")
    for row in found.edges.iter_rows(named=True):
        wait = row["median_duration"]
        table.add_row(
            row["object_type"],
            row["source"],
            row["target"],
            f"{row['frequency']:,}",
            f"{row['objects']:,}",
            human(wait),
        )
    out.print(table)
