"""Frames to Plotly figures, Vega-Lite charts and DOT text: pure functions, testable
without Streamlit.

Durations are plotted in the unit that suits their size (hours or days) and every axis
names its unit.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import plotly.graph_objects as go
import polars as pl

from workbench.dot import quote

HOUR = 3_600.0
VegaLite = dict[str, Any]  # a Vega-Lite specification
DAY = 86_400.0


def _unit(seconds: pl.Series) -> tuple[float, str]:
    """Hours for short durations, days for long ones."""
    typical = seconds.median()
    return (DAY, "days") if typical is not None and float(typical) > 2 * DAY else (HOUR, "hours")  # type: ignore[arg-type]


def _seconds(series: pl.Series) -> pl.Series:
    return series.dt.total_microseconds().cast(pl.Float64) / 1e6


def _layout(figure: go.Figure, title: str, x: str, y: str) -> go.Figure:
    figure.update_layout(
        title=title,
        xaxis_title=x,
        yaxis_title=y,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"orientation": "h", "y": -0.2},
    )
    return figure


def _vega(title: str, rows: pl.DataFrame, **chart: Any) -> VegaLite:
    """A Vega-Lite chart of ``rows`` (inline, times as the wall-clock time they show), its
    ``mark`` and ``encoding`` (or ``layer``) as given. Vega draws it in the browser at a
    fraction of Plotly's cost: the first Plotly chart of a session keeps the browser busy
    for about 0.75 s after the page has come."""
    times = [name for name, dtype in rows.schema.items() if isinstance(dtype, pl.Datetime)]
    shown = rows.with_columns(pl.col(name).dt.strftime("%Y-%m-%dT%H:%M:%S") for name in times)
    if "mark" in chart:
        chart["mark"] = {"tooltip": True, **chart["mark"]}
    return {"title": title, "data": {"values": shown.to_dicts()}, "height": 320, **chart}


def _axis(field: str, kind: str, title: str | None, **more: Any) -> VegaLite:
    return {"field": field, "type": kind, "title": title, **more}


PERIODS = {"day": "1d", "week": "1w", "month": "1mo"}  # the periods charts are drawn per


def events_over_time(throughput: pl.DataFrame, period: str) -> VegaLite:
    """Events per period (from `throughput`), a bar across each period: a Vega-Lite
    chart."""
    rows = throughput.select(
        "period", end=pl.col("period").dt.offset_by(PERIODS[period]), events="events"
    )
    return _vega(
        f"Events per {period}",
        rows,
        mark={"type": "bar", "stroke": "white", "strokeWidth": 0.5},
        encoding={
            "x": _axis("period", "temporal", "period (start)"),
            "x2": {"field": "end"},
            "y": _axis("events", "quantitative", "events"),
            "y2": {"datum": 0},  # a bar from zero (x and x2 alone make a range of height 1)
        },
    )


def rates(throughput: pl.DataFrame, period: str) -> VegaLite:
    """Cases arriving and completing per period (from `throughput`), a Vega-Lite chart."""
    rows = throughput.select(
        "period", started=pl.col("cases_started"), completed=pl.col("cases_completed")
    ).unpivot(index="period", variable_name="cases", value_name="count")
    return _vega(
        f"Arrival and completion rate per {period}",
        rows,
        mark={"type": "line", "point": len(rows) <= 120},
        encoding={
            "x": _axis("period", "temporal", "period"),
            "y": _axis("count", "quantitative", "cases"),
            "color": _axis("cases", "nominal", None, legend={"orient": "bottom"}),
        },
    )


def duration_histogram(bins: pl.DataFrame) -> VegaLite:
    """How long cases take (from `Summary.histogram`: a bar per bin, not a value per case,
    so that a log of a million cases sends the browser sixty numbers), a Vega-Lite
    chart."""
    low, high = _seconds(bins["from"]), _seconds(bins["to"])
    half = bins["cases"].cum_sum() * 2 >= bins["cases"].sum()
    size, unit = _unit(((low + high) / 2).filter(half).head(1))  # by the median case's bin
    rows = pl.DataFrame({"from": low / size, "to": high / size, "cases": bins["cases"]})
    return _vega(
        "Case duration",
        rows,
        mark={"type": "bar"},
        encoding={
            "x": _axis("from", "quantitative", f"duration ({unit})", bin={"binned": True}),
            "x2": {"field": "to"},
            "y": _axis("cases", "quantitative", "cases"),
        },
    )


def wip(open_cases: pl.DataFrame, period: str) -> VegaLite:
    """Open cases per period (from `wip`), a Vega-Lite chart."""
    return _vega(
        f"Work in progress per {period}",
        open_cases.select("period", "open_cases"),
        mark={"type": "area", "line": True, "opacity": 0.4},
        encoding={
            "x": _axis("period", "temporal", "period"),
            "y": _axis("open_cases", "quantitative", "open cases"),
        },
    )


def ranked_durations(
    frame: pl.DataFrame,
    label: str,
    value: str,
    title: str,
    *,
    top: int = 15,
    working_day: float | None = None,
) -> VegaLite:
    """A horizontal bar per row of ``label``, by the duration column ``value`` (in working
    hours or days of ``working_day`` seconds, when it is working time), largest first: a
    Vega-Lite chart."""
    head = frame.drop_nulls(value).sort(value, descending=True).head(top)
    seconds = _seconds(head[value])
    size, unit = _unit(seconds) if seconds.len() else (HOUR, "hours")
    if working_day:
        size, unit = (working_day, "working days") if size == DAY else (HOUR, "working hours")
    shown = f"{value.replace('_', ' ')} ({unit})"
    rows = pl.DataFrame({label: head[label].cast(pl.String), shown: (seconds / size).round(2)})
    return _ranked(title, rows, label, shown)


def duration_table(frame: pl.DataFrame, *, working_day: float | None = None) -> pl.DataFrame:
    """A table for display: each duration column as a number of hours or days (whichever
    suits its values), the unit in its name, so that a column never mixes units. Durations
    in working time (``working_day``: the seconds of a calendar's working day) are in
    working hours or working days of that length."""
    converted = []
    for name, dtype in frame.schema.items():
        if not isinstance(dtype, pl.Duration):
            converted.append(pl.col(name))
            continue
        size, unit = _unit(_seconds(frame[name]).drop_nulls())
        if working_day:
            size, unit = (working_day, "working days") if size == DAY else (HOUR, "working hours")
        converted.append(
            (pl.col(name).dt.total_microseconds() / 1e6 / size).round(2).alias(f"{name} ({unit})")
        )
    return frame.select(converted)


def readable(frame: pl.DataFrame) -> pl.DataFrame:
    """A table for display: seconds (columns ending ``_s``) as durations in one unit per
    column (`duration_table`), shares (``_share``) as percentages and percentages
    (``_pct``) rounded to one decimal; never raw seconds or four decimals."""
    columns = []
    for name, dtype in frame.schema.items():
        if not dtype.is_numeric():
            columns.append(pl.col(name))
        elif name.endswith("_s"):
            micros = (pl.col(name) * 1e6).round(0).cast(pl.Int64)
            columns.append(micros.cast(pl.Duration("us")).alias(name.removesuffix("_s")))
        elif name.endswith("_share"):
            columns.append(
                (pl.col(name) * 100).round(1).alias(f"{name.removesuffix('_share')} (%)")
            )
        elif name.endswith("_pct"):
            columns.append(pl.col(name).round(1).alias(f"{name.removesuffix('_pct')} (%)"))
        else:
            columns.append(pl.col(name))
    return duration_table(frame.select(columns))


def ranked_counts(
    frame: pl.DataFrame, label: str, value: str, title: str, *, top: int = 15
) -> VegaLite:
    """A horizontal bar per row of ``label``, by the count column ``value``, largest first:
    a Vega-Lite chart."""
    head = frame.sort(value, descending=True).head(top)
    shown = value.replace("_", " ")
    return _ranked(title, head.select(pl.col(label).cast(pl.String), pl.col(value).alias(shown)),
                   label, shown)  # fmt: skip


def _ranked(title: str, rows: pl.DataFrame, label: str, value: str) -> VegaLite:
    """Horizontal bars of ``value`` per ``label``, in the rows' order, each labelled with
    its value (in the unit the axis names)."""
    bars = {
        "y": _axis(label, "nominal", None, sort=None, axis={"labelLimit": 260}),
        "x": _axis(value, "quantitative", value),
    }
    text = {"type": "text", "align": "left", "dx": 3, "tooltip": True}
    return _vega(
        title,
        rows,
        height={"step": 20},  # a row per bar, every label shown
        layer=[
            {"mark": {"type": "bar", "tooltip": True}, "encoding": bars},
            {"mark": text, "encoding": {**bars, "text": {"field": value, "format": ",.1~f"}}},
        ],
    )


def timeline(frame: pl.DataFrame, *, working_day: float | None = None) -> VegaLite:
    """One case's events as bars: waiting before each event and its service time (working
    time, in days of ``working_day`` seconds, when given), a Vega-Lite chart."""
    waiting = _seconds(frame["waiting"].fill_null(timedelta(0)))
    service = _seconds(frame["service"].fill_null(timedelta(0)))
    size, unit = _unit(pl.concat([waiting, service]))
    if working_day:
        size, unit = (working_day, "working days") if size == DAY else (HOUR, "working hours")
    # In a sequential case every event is on the critical path: a star on each says nothing.
    informative = not bool(frame["critical"].fill_null(False).all())
    labels = [
        f"{n + 1}. {activity}" + (" ★" if critical and informative else "")
        for n, (activity, critical) in enumerate(
            zip(frame["activity"], frame["critical"], strict=True)
        )
    ]
    rows = pl.DataFrame(
        {"event": labels * 2, "time": ["waiting"] * len(labels) + ["service"] * len(labels)}
    ).with_columns(value=pl.concat([waiting, service]) / size)
    title = "Waiting and service time per event" + (
        " (★ critical path)" if informative else " (sequential: every event is critical)"
    )
    return _vega(
        title,
        rows,
        mark={"type": "bar"},
        height={"step": 20},  # a row per event, every label shown
        encoding={
            "y": _axis("event", "nominal", None, sort=labels, axis={"labelLimit": 260}),
            "x": _axis("value", "quantitative", unit, stack="zero"),
            "color": _axis(
                "time", "nominal", None, sort=["waiting", "service"], legend={"orient": "bottom"}
            ),
        },
    )


def dotted_chart(
    points: pl.DataFrame, *, relative: bool = False, total: int | None = None
) -> go.Figure:
    """The dotted chart: one dot per event, cases on the y axis, colour by activity;
    ``total`` is the number of events when ``points`` are the first of them."""
    figure = go.Figure()
    for (activity,), group in points.group_by("activity", maintain_order=True):
        x = _seconds(group["relative"]) / DAY if relative else group["timestamp"]
        figure.add_trace(
            go.Scattergl(
                x=x, y=group["case_rank"], mode="markers", name=str(activity), marker={"size": 3}
            )
        )
    title = "Dotted chart"
    if total is not None and total > points.height:
        title += f" (first {points.height:,} of {total:,} events)"
    return _layout(
        figure, title, "days since case start" if relative else "time", "case (by start)"
    )


def wip_by_activity(summary: pl.DataFrame) -> VegaLite:
    """Open cases by their last activity (from `timetravel.summary`), most first: a
    Vega-Lite chart."""
    head = summary.filter(pl.col("open") > 0).sort("open", descending=True).head(20)
    rows = head.select(pl.col("last_activity").cast(pl.String), pl.col("open").alias("open cases"))
    return _ranked("Open cases by last activity", rows, "last_activity", "open cases")


def handover_dot(edges: pl.DataFrame, *, top: int = 40) -> str:
    """The handover-of-work network as DOT: an arrow per pair, width by frequency."""
    head = edges.head(top)
    most = max(int(head["frequency"].max() or 1), 1) if head.height else 1  # type: ignore[arg-type]
    lines = [
        "digraph handover {",
        "  rankdir=LR;",
        '  node [shape=ellipse, style=filled, fillcolor="#e0ecff", fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=10, color="#4a6fa5"];',
    ]
    for row in head.iter_rows(named=True):
        width = 1 + 5 * row["frequency"] / most
        lines.append(
            f"  {quote(row['source'])} -> {quote(row['target'])}"
            f' [label="{row["frequency"]:,}", penwidth={width:.1f}];'
        )
    lines.append("}")
    return "\n".join(lines)


def conformance_over_time(periods: pl.DataFrame, period: str) -> go.Figure:
    """Average trace fitness and the share of cases that fit, per period of the cases'
    start (from `mining.over_time`), with the cases checked as bars behind. Periods are
    categories named by their start (one period is one bar, not an axis of milliseconds);
    cases are counted in whole numbers."""
    formats = {"day": "%Y-%m-%d", "week": "week of %Y-%m-%d", "month": "%b %Y"}
    names = periods["period"].dt.strftime(formats.get(period, "%Y-%m-%d")).to_list()
    if period == "quarter":
        names = [f"Q{(m.month - 1) // 3 + 1} {m.year}" for m in periods["period"].to_list()]
    figure = go.Figure(
        [
            go.Bar(
                x=names,
                y=periods["cases"],
                name="cases checked",
                yaxis="y2",
                marker_color="#dfe7f1",
            ),
            go.Scatter(x=names, y=periods["fitness"], name="average trace fitness"),
            go.Scatter(x=names, y=periods["fitting_cases"], name="share of cases fit"),
        ]
    )
    figure.update_layout(
        xaxis={"type": "category"},
        yaxis={"range": [0, 1.02], "tickformat": ".0%"},
        yaxis2={
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
            "title": "cases",
            "tickformat": ",d",
            "rangemode": "tozero",
            "dtick": max(1, int(periods["cases"].max() or 1) // 5) if periods.height else 1,
        },
    )
    return _layout(figure, f"Conformance per {period} of the cases' start", "period", "fitness")


QUARTILE_COLOURS = ("#1a9850", "#91cf60", "#fc8d59", "#d73027")  # fastest to slowest quarter
GHOST_COLOUR = "#d35400"  # as the animation draws what was not yet known


def spectrum_lines(lines: pl.DataFrame, source: str, target: str, *, by_value: bool) -> go.Figure:
    """The detailed performance spectrum of one segment: a line per passage from its time at
    ``source`` (top) to its time at ``target`` (bottom), coloured by duration quartile or by
    the attribute value (``by_value``); ghosts dashed."""
    figure = go.Figure()
    solid = lines.filter(~pl.col("ghost"))
    if by_value:
        common = solid["value"].fill_null("(none)").value_counts(sort=True).head(8)["value"]
        keyed = solid.with_columns(
            group=pl.when(pl.col("value").fill_null("(none)").is_in(common.implode()))
            .then(pl.col("value").fill_null("(none)"))
            .otherwise(pl.lit("other"))
        )
        groups = [(name, None) for name in [*common.to_list(), "other"]]
    else:
        keyed = solid.with_columns(group=pl.format("quartile {}", "quartile"))
        groups = [(f"quartile {q}", QUARTILE_COLOURS[q - 1]) for q in (1, 2, 3, 4)]
    for name, colour in groups:
        part = keyed.filter(pl.col("group") == name)
        if part.height:
            figure.add_trace(_passages(part, name, colour, dash=None))
    ghosts = lines.filter(pl.col("ghost"))
    if ghosts.height:
        figure.add_trace(_passages(ghosts, "not yet known then", GHOST_COLOUR, dash="dash"))
    figure.update_yaxes(
        tickvals=[1, 0], ticktext=[source, target], range=[-0.1, 1.1], showgrid=False
    )
    return _layout(figure, f"{source} → {target}", "time (UTC)", "")


def _passages(
    lines: pl.DataFrame, name: str, colour: str | None, *, dash: str | None
) -> go.Scatter:
    """One trace of many lines (separated by gaps), each from (start, 1) to (end, 0)."""
    count = lines.height
    x: list[object] = [None] * (3 * count)
    x[0::3] = lines["start"].to_list()
    x[1::3] = lines["end"].to_list()
    y = [1, 0, None] * count
    return go.Scatter(
        x=x,
        y=y,
        mode="lines",
        name=name,
        line={"width": 1, "color": colour, "dash": dash},
        opacity=0.6,
        hoverinfo="skip",
    )


def spectrum_bins(bins: pl.DataFrame, every: str, *, ghosts: bool) -> go.Figure:
    """The aggregated performance spectrum: per time bin, the passages of each duration
    quartile, stacked (and the ghosts among them, when there are)."""
    figure = go.Figure(
        [
            go.Bar(
                x=bins["bin"],
                y=bins[f"q{q}"],
                name=f"quartile {q}",
                marker={"color": QUARTILE_COLOURS[q - 1]},
            )
            for q in (1, 2, 3, 4)
        ]
    )
    if ghosts and bins["ghosts"].sum():
        figure.add_trace(
            go.Scatter(
                x=bins["bin"],
                y=bins["ghosts"],
                name="not yet known then",
                mode="markers",
                marker={"color": GHOST_COLOUR, "symbol": "x"},
            )
        )
    figure.update_layout(barmode="stack")
    return _layout(figure, f"Passages per {every}, by duration quartile", "from", "passages")


def query_chart(frame: pl.DataFrame, x: str, y: str, kind: str) -> VegaLite:
    """A query's answer drawn: ``y`` (a number) against ``x`` as a line or as bars, in the
    answer's order: a Vega-Lite chart. An ``x`` Vega cannot place on a scale (durations,
    times of day, lists, text) is drawn as categories, by its text."""
    dtype = frame.schema[x]
    scaled = dtype.is_numeric() or isinstance(dtype, pl.Datetime | pl.Date)
    kind_of_x = ("temporal" if dtype.is_temporal() else "quantitative") if scaled else "nominal"
    rows = frame.select(pl.col(x) if scaled else _as_text(x, dtype), *([y] if y != x else []))
    return _vega(
        f"{y} by {x}",
        rows,
        mark={"type": "line" if kind == "line" else "bar", "point": kind == "line"},
        encoding={
            "x": _axis(x, kind_of_x, x, **({} if scaled else {"sort": None})),
            "y": _axis(y, "quantitative", y),
        },
    )


def _as_text(name: str, dtype: pl.DataType) -> pl.Expr:
    """A column as text: a duration as Polars writes it ("1d 2h"), a list joined, a record
    as JSON."""
    column = pl.col(name)
    if isinstance(dtype, pl.Duration):
        return column.dt.to_string("polars")
    if isinstance(dtype, pl.List | pl.Array):
        return column.cast(pl.List(pl.String)).list.join(" → ")
    if isinstance(dtype, pl.Struct):
        return column.struct.json_encode()
    return column.cast(pl.String)


def predicted(frame: pl.DataFrame) -> pl.DataFrame:
    """Predictions for display (`predictions.together`): the remaining time and its
    interval in one unit, elapsed time in its own, chances as percentages; numbers, so that
    the table sorts by them."""
    columns = []
    unit_of = {"elapsed_seconds": _unit(frame["elapsed_seconds"].drop_nulls())
               if "elapsed_seconds" in frame.columns else (HOUR, "hours")}  # fmt: skip
    if "remaining_seconds" in frame.columns:
        remaining = _unit(frame["remaining_seconds"].drop_nulls())
        unit_of |= dict.fromkeys(("remaining_seconds", "remaining_low_seconds",
                                  "remaining_high_seconds"), remaining)  # fmt: skip
    names = {
        "prefix_length": "events",
        "elapsed_seconds": "elapsed",
        "last_activity": "last activity",
        "remaining_seconds": "remaining",
        "remaining_low_seconds": "remaining, 10 %",
        "remaining_high_seconds": "remaining, 90 %",
        "next_activity": "next activity",
        "next_activity_probability": "next activity, chance",
        "outcome_probability": "outcome, chance",
    }
    for name in frame.columns:
        shown = names.get(name, name)
        if name in unit_of:
            size, unit = unit_of[name]
            columns.append((pl.col(name) / size).round(2).alias(f"{shown} ({unit})"))
        elif name.endswith("probability") or name == "risk":
            columns.append((pl.col(name) * 100).round(1).alias(f"{shown} (%)"))
        else:
            columns.append(pl.col(name).alias(shown))
    return frame.select(columns)


def backtest_errors(cuts: pl.DataFrame) -> go.Figure:
    """Per cut of a backtest (`predictions.backtest`), the mean absolute error of the
    predicted remaining time beside the baseline's."""
    size, unit = _unit(cuts["baseline_mae_seconds"].drop_nulls())
    figure = go.Figure(
        [
            go.Scatter(
                x=cuts["at"], y=cuts["mae_seconds"] / size, name="model", mode="lines+markers"
            ),
            go.Scatter(
                x=cuts["at"],
                y=cuts["baseline_mae_seconds"] / size,
                name="baseline: last activity and prefix length",
                mode="lines+markers",
                line={"dash": "dot"},
            ),
        ]
    )
    figure.update_layout(yaxis={"rangemode": "tozero"})
    return _layout(figure, "Remaining time: mean absolute error per cut", "cut", unit)


def backtest_coverage(cuts: pl.DataFrame) -> go.Figure:
    """Per cut, the share of actual remaining times inside their 10-90 % interval, against
    the 80 % it should hold (the band: 75-85 %)."""
    figure = go.Figure(
        go.Scatter(
            x=cuts["at"], y=cuts["interval_coverage"], name="inside the interval",
            mode="lines+markers",
        )
    )  # fmt: skip
    figure.add_hrect(y0=0.75, y1=0.85, fillcolor="#1a9850", opacity=0.12, line_width=0)
    figure.add_hline(y=0.8, line_dash="dot", annotation_text="80 %")
    figure.update_layout(yaxis={"range": [0, 1.02], "tickformat": ".0%"})
    return _layout(figure, "Calibration: the 10-90 % interval holds", "cut", "share of cases")


def backtest_accuracy(cuts: pl.DataFrame, measure: str, title: str) -> go.Figure:
    """Per cut, a classification's accuracy (``{measure}_accuracy``) beside the majority
    class's."""
    figure = go.Figure(
        [
            go.Scatter(x=cuts["at"], y=cuts[f"{measure}_accuracy"], name="model",
                       mode="lines+markers"),
            go.Scatter(x=cuts["at"], y=cuts[f"baseline_{measure}_accuracy"],
                       name="baseline: the majority class", mode="lines+markers",
                       line={"dash": "dot"}),
        ]
    )  # fmt: skip
    figure.update_layout(yaxis={"range": [0, 1.02], "tickformat": ".0%"})
    return _layout(figure, title, "cut", "accuracy")


def backtest_outcome(cuts: pl.DataFrame, outcome: str) -> go.Figure:
    """Per cut, how well the chance of an outcome asked about ranks the cases (AUC) and how
    close it is (Brier score, lower is better) beside the base rate's Brier score."""
    figure = go.Figure(
        [
            go.Scatter(x=cuts["at"], y=cuts["outcome_auc"], name="AUC", mode="lines+markers"),
            go.Scatter(x=cuts["at"], y=cuts["outcome_brier"], name="Brier score",
                       mode="lines+markers"),
            go.Scatter(x=cuts["at"], y=cuts["baseline_outcome_brier"],
                       name="Brier score of the base rate", mode="lines+markers",
                       line={"dash": "dot"}),
        ]
    )  # fmt: skip
    figure.update_layout(yaxis={"range": [0, 1.02]})
    return _layout(figure, f"Outcome {outcome}: AUC and Brier score per cut", "cut", "score")
