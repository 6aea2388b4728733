"""The commands that summarize a log: stats, dfg (the process map), activities, the
performance spectrum, compare."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from workbench.cli.commands import command
from workbench.cli.options import (
    CalendarOption,
    EngineOption,
    JsonOption,
    LogArgument,
    SparkMasterOption,
    attribute_filter,
    with_filters,
)
from workbench.cli.output import emit_json, fail, heading, out, seconds, warn
from workbench.cli.session import (
    engine_of,
    existing_log,
    store,
    untimed_note,
    workbench,
)
from workbench.durations import human, human_working

if TYPE_CHECKING:
    from workbench.application import Cut
    from workbench.filters import Filters


@command
@with_filters
def stats(
    log: LogArgument,
    top: Annotated[int, typer.Option(help="How many variants to show.")] = 5,
    calendar: CalendarOption = None,
    as_json: JsonOption = False,
    engine: EngineOption = "polars",
    spark_master: SparkMasterOption = None,
    *,
    cut: Cut,
    filters: Filters,
) -> None:
    """Counts, case durations, top variants, start and end activities of a log.

    Example: workbench stats orders --from 2024-03-01 --attribute region=north
    """
    found = engine_of(engine, spark_master).summary(
        existing_log(log), cut, filters, top=top, calendar=calendar
    )
    described = [*cut.describe(), *filters.describe()]
    if as_json:
        emit_json({"log": log, "filters": described, **found.to_dict()})
        return
    heading(log, f"  ({'; '.join(described)})" if described else "")
    out.print(
        f"{found.cases:,} cases, {found.events:,} events, "
        f"{found.activities:,} activities, {found.variants:,} variants"
    )
    if found.timed:
        if found.calendar:  # in working days of the calendar's working day
            day = workbench().working_day(found.calendar, log)
            out.print(
                f"case duration (working time, {workbench().calendar_words(log, found.calendar)}): "
                + ", ".join(
                    f"{name} {human_working(value, day)}" for name, value in found.durations.items()
                )
            )
        else:
            out.print(
                "case duration: "
                + ", ".join(f"{name} {human(value)}" for name, value in found.durations.items())
            )
    else:
        warn(str(untimed_note(log)))
    variants_table = Table("cases", "share", "variant")
    for row in found.top_variants.iter_rows(named=True):
        variants_table.add_row(
            f"{row['cases']:,}", f"{row['share']:.1%}", " → ".join(row["variant"])
        )
    out.print(variants_table)
    out.print("starts: " + ", ".join(f"{a} ({n:,})" for a, n in found.start_activities.items()))
    out.print("ends: " + ", ".join(f"{a} ({n:,})" for a, n in found.end_activities.items()))


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
    calendar: CalendarOption = None,
    as_json: JsonOption = False,
    engine: EngineOption = "polars",
    spark_master: SparkMasterOption = None,
    *,
    cut: Cut,
    filters: Filters,
) -> None:
    """The directly-follows graph (process map) of a log, as a table, JSON or DOT.

    Example: workbench dfg orders --dot --measure median > map.dot
    """
    from workbench.processmap import MEASURES, edge_label, edge_value, to_dot

    if measure not in MEASURES:
        fail(f"--measure {measure!r}: choose one of {', '.join(MEASURES)}")
    bench = engine_of(engine, spark_master)
    if measure != "frequency" and untimed_note(existing_log(log)):
        fail(f"--measure {measure}: {untimed_note(log)}")
    pmap = bench.dfg(
        existing_log(log), cut, filters, activities=detail, paths=paths, calendar=calendar
    )
    described = [*cut.describe(), *filters.describe()]
    if as_dot:
        title = f"{log} ({'; '.join(described)})" if described else log
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
                "filters": described,
                "nodes": nodes,
                "edges": edges,
                "start_activities": dict(pmap.starts.iter_rows()),
                "end_activities": dict(pmap.ends.iter_rows()),
                "calendar": pmap.calendar,
            }
        )
        return
    values = edge_value(pmap.edges, measure)
    table = Table("from", "to", "cases", measure)
    for row, value in zip(pmap.edges.iter_rows(named=True), values, strict=True):
        shown = edge_label(row["frequency"], value, measure, pmap.working_day)
        table.add_row(row["source"], row["target"], f"{row['cases']:,}", shown)
    out.print(table)


@command
@with_filters
def activities(
    log: LogArgument,
    calendar: CalendarOption = None,
    as_json: JsonOption = False,
    engine: EngineOption = "polars",
    spark_master: SparkMasterOption = None,
    *,
    cut: Cut,
    filters: Filters,
) -> None:
    """Per activity: its events (instances), cases, and the mean, median and 90th percentile
    of its service time (start to completion) and its waiting time (from the end of the
    case's previous activity to its start). Starts come from a start time column (a log of
    intervals) or from start/complete lifecycle pairs; without them service time is zero.

    Example: workbench activities orders --calendar office --json
    """
    from workbench.projections import STATISTICS

    found = engine_of(engine, spark_master).activities(
        existing_log(log), cut, filters, calendar=calendar
    )
    if as_json:
        emit_json(
            [
                {
                    "activity": row["activity"],
                    "events": row["events"],
                    "cases": row["cases"],
                    "resources": row["resources"],
                    **{
                        f"{kind}_seconds": {
                            name: seconds(row[f"{name}_{kind}"]) for name in STATISTICS
                        }
                        for kind in ("service", "waiting")
                    },
                    "calendar": calendar,
                }
                for row in found.iter_rows(named=True)
            ]
        )
        return
    described = [*cut.describe(), *filters.describe()]
    if calendar:
        described.append(f"working time, {workbench().calendar_words(log, calendar)}")
    heading(log, f"  ({'; '.join(described)})" if described else "")
    day = workbench().working_day(calendar, log)
    table = Table(
        "activity",
        "events",
        "cases",
        *(f"{k} {n}" for k in ("service", "waiting") for n in STATISTICS),
    )
    for row in found.iter_rows(named=True):
        table.add_row(
            row["activity"],
            f"{row['events']:,}",
            f"{row['cases']:,}",
            *(
                human_working(row[f"{name}_{kind}"], day)
                for kind in ("service", "waiting")
                for name in STATISTICS
            ),
        )
    out.print(table)


@partial(command, paired=("segment",))
@with_filters
def spectrum(
    log: LogArgument,
    segment: Annotated[
        list[str] | None,
        typer.Option(
            metavar="A B",
            help="A segment: activity A directly followed by B (repeatable; by default the"
            " three most frequent paths).",
        ),
    ] = None,
    every: Annotated[
        str | None,
        typer.Option(help="Bins of the aggregated spectrum: 1h, 6h, 1d, 1w, 1mo, 3mo or 1y."),
    ] = None,
    color: Annotated[
        str | None,
        typer.Option(help="Colour lines by this attribute (at the segment's first event)."),
    ] = None,
    calendar: CalendarOption = None,
    as_json: JsonOption = False,
    *,
    cut: Cut,
    filters: Filters,
) -> None:
    """The performance spectrum: each passage of a case through a segment A → B, from its
    time at A to its time at B, classed by the quartile of the segment's durations (1 the
    fastest quarter), and per time bin the passages of each quartile. With --known-at, the
    passages the store did not know then are ghosts.

    Example: workbench spectrum orders --segment Approve Pay --every 1w
    """
    from workbench.cli.commands import pairs

    found = workbench().spectrum(
        existing_log(log), pairs(segment), cut, filters, every=every, calendar=calendar, color=color
    )
    described = [*cut.describe(), *filters.describe()]
    if as_json:
        emit_json({"log": log, "filters": described, **found.to_dict()})
        return
    if calendar:
        described.append(f"working time, {workbench().calendar_words(log, calendar)}")
    heading(log, f"  ({'; '.join(described)})" if described else "")
    day = workbench().working_day(calendar, log)
    for part in found.segments:
        cuts = ", ".join(human_working(cut, day) for cut in part.quartiles if cut is not None)
        ghosts = int(part.lines["ghost"].sum())
        out.print(
            f"{part.source} → {part.target}: {part.lines.height:,} passages"
            + (f"; quartiles part at {cuts}" if cuts else "")
            + (f"; {ghosts:,} not yet known then" if found.ghosts else "")
        )
        ghost_column = ("ghosts",) if found.ghosts else ()
        table = Table(f"from (per {found.every})", "q1", "q2", "q3", "q4", *ghost_column)
        for row in part.bins.iter_rows(named=True):
            table.add_row(
                row["bin"].isoformat(),
                *(f"{row[f'q{q}']:,}" for q in (1, 2, 3, 4)),
                *((f"{row['ghosts']:,}",) if found.ghosts else ()),
            )
        if part.bins.height:
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
    calendar: CalendarOption = None,
    as_json: JsonOption = False,
    *,
    cut: Cut,
    filters: Filters,
) -> None:
    """Compare two groups of cases of one log, A and B (two periods, two attribute values,
    or both), after the common filters: KPIs, the process map's edges with frequency and
    median waiting time in each, variants found in only one, and the activities whose
    waiting times changed most, with case counts.

    Example: workbench compare orders --a-to 2024-04-01 --b-from 2024-04-01
    """
    from workbench.application import moment
    from workbench.filters import Filters, TimeRange

    sides = []
    for name, start, end, attribute in (
        ("A", a_from, a_to, a_attribute),
        ("B", b_from, b_to, b_attribute),
    ):
        flag = f"--{name.lower()}"
        if not (start or end or attribute):
            fail(f"give group {name}: {flag}-from/{flag}-to or {flag}-attribute")
        items: list[Any] = list(filters.items)
        if start or end:
            low = moment(start, f"{flag}-from") if start else None
            high = moment(end, f"{flag}-to") if end else None
            items.append(TimeRange(low, high))
        items.extend(attribute_filter(pair, f"{flag}-attribute") for pair in attribute or [])
        sides.append(Filters(tuple(items)))
    found = workbench().compare(existing_log(log), sides[0], sides[1], cut, calendar=calendar)
    for note in found.notes:
        warn(note)
    if as_json:
        emit_json(found.to_dict())
        return
    words = f" (working time, {workbench().calendar_words(log, calendar)})" if calendar else ""
    heading(log, ": A against B" + words)
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
