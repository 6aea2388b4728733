"""Cases moving on the process map: tokens along its edges, as data and as one HTML file.

A case is on the edge from activity a to activity b from its event a until its next event
b. The animation samples a time window at evenly spaced moments (frames) and counts, per
edge and frame, the cases on it, split into `BINS` stretches of the edge by how far along
they are: tokens are aggregated per edge, so a log of millions of cases plays as smoothly
as one of ten.

Bitemporal: shown "as known at" a position or time, a case whose move was recorded after
the animation's clock is a ghost (dashed) until the clock reaches the moment it was
recorded, and then solid; an activity flashes when a correction of one of its events is
recorded. Tokens follow the edges as Graphviz draws them: `to_html` lays the map out with
``dot`` and writes one self-contained HTML page that plays in any browser, no server.
"""

from __future__ import annotations

import html
import json
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from workbench import projections
from workbench.dot import quote
from workbench.durations import human_duration
from workbench.events import WorkbenchError
from workbench.processmap import END_NODE, START_NODE, endpoint_edges
from workbench.store import from_micros, to_micros

if TYPE_CHECKING:
    from workbench.calendars import Calendar, Hours

BINS = 4  # stretches of an edge a token's position is rounded to
FRAMES = 240


class AnimationError(WorkbenchError):
    """The animation cannot be made (no Graphviz, an empty window)."""


@dataclass(frozen=True)
class Animation:
    """Frames of tokens on the map's edges."""

    start: datetime
    step: timedelta  # clock time between frames
    frames: int
    edges: pl.DataFrame  # edge (id), source, target, cases (moves in the window)
    tokens: pl.DataFrame  # frame, edge, bin, solid, ghost: cases on the edge then
    flashes: pl.DataFrame  # frame, activity: a correction recorded then
    ghosts: bool  # whether moves recorded after the clock are told apart
    # activity, cases: where cases start and end, drawn as the process map draws them
    starts: pl.DataFrame = field(default_factory=lambda: _no_ends())
    ends: pl.DataFrame = field(default_factory=lambda: _no_ends())
    # With a calendar, the clock runs in its working time: ``step`` is working time, and
    # ``clocks`` the moment of each frame (microseconds), closed hours skipped.
    calendar: str | None = None
    clocks: tuple[int, ...] = ()

    def moment(self, frame: int) -> datetime:
        """The clock at a frame."""
        if self.clocks:
            return from_micros(self.clocks[frame])
        return self.start + self.step * frame


def _no_ends() -> pl.DataFrame:
    return pl.DataFrame(schema={"activity": pl.String, "cases": pl.Int64})


def transits(events: pl.LazyFrame) -> pl.LazyFrame:
    """Each move of a case from one event to its next: ``case_id``, ``source``, ``target``,
    ``departed`` and ``arrived`` (microseconds), ``recorded`` (when the store had both
    events, microseconds) and ``learned`` (the position from which it had both), in the
    store's order within each case."""
    return (
        events.sort("case_id", "timestamp", "position")
        .select(
            "case_id",
            pl.col("activity").cast(pl.String).alias("source"),
            pl.col("activity").cast(pl.String).shift(-1).over("case_id").alias("target"),
            pl.col("timestamp").dt.epoch("us").alias("departed"),
            pl.col("timestamp").dt.epoch("us").shift(-1).over("case_id").alias("arrived"),
            pl.max_horizontal(
                pl.col("recorded_at"), pl.col("recorded_at").shift(-1).over("case_id")
            )
            .dt.epoch("us")
            .alias("recorded"),
            pl.max_horizontal(
                pl.col("position"), pl.col("position").shift(-1).over("case_id")
            ).alias("learned"),
        )
        .filter(pl.col("target").is_not_null())
    )


def animate(
    events: pl.LazyFrame,
    start: datetime,
    end: datetime,
    *,
    frames: int = FRAMES,
    known_at: datetime | int | None = None,
    calendar: Hours | None = None,
) -> Animation:
    """The animation of ``events`` from ``start`` to ``end`` in ``frames`` frames.

    With ``known_at`` (a time, or a position), a move the store did not know then is a
    ghost until the clock reaches the moment it was recorded: a late event shows as what
    it was, news that had not arrived. Without it every move is solid. With a
    ``calendar``, the frames are evenly spaced in its working time: nights, weekends and
    holidays pass in no time. The clock is one for the whole log: with calendars by an
    attribute's value (`Assigned`), the log's default calendar's (elapsed time without
    one)."""
    from workbench.calendars import Assigned

    if isinstance(calendar, Assigned):
        calendar = calendar.default
    ghosts = known_at is not None
    if end <= start:
        raise AnimationError("the animation's window ends before it starts")
    if frames < 2:
        raise AnimationError("an animation needs at least two frames")
    low, high = to_micros(start), to_micros(end)
    if calendar is None:
        step = max((high - low) // (frames - 1), 1)
        moments = [low + frame * step for frame in range(frames)]
    else:
        step, moments = _working_clocks(calendar, start, end, frames)
    clocks = pl.Series("clock", moments, dtype=pl.Int64)
    moves = transits(events).collect()
    edges = (
        moves.group_by("source", "target")
        .agg(cases=pl.len().cast(pl.Int64))
        .sort(["cases", "source", "target"], descending=[True, False, False])
        .with_row_index("edge")
        .with_columns(pl.col("edge").cast(pl.Int64))
    )
    last = frames - 1
    timeline = pl.DataFrame({"frame": pl.int_range(frames, eager=True), "clock": clocks})
    covered = (
        moves.join(edges.select("edge", "source", "target"), on=["source", "target"])
        .filter((pl.col("arrived") > pl.col("departed")) & (pl.col("arrived") > clocks[0]))
        .filter(pl.col("departed") <= clocks[last])
        .with_columns(
            # The frames whose moment lies in [departed, arrived).
            first=pl.lit(clocks).search_sorted(pl.col("departed"), side="left").cast(pl.Int64),
            after=pl.lit(clocks).search_sorted(pl.col("arrived"), side="left").cast(pl.Int64),
        )
        .filter(pl.col("after") > pl.col("first"))
        .with_columns(frame=pl.int_ranges("first", "after"))
        .explode("frame")
        .join(timeline, on="frame", how="left")
        .with_columns(
            bin=(
                (pl.col("clock") - pl.col("departed"))
                * BINS
                // (pl.col("arrived") - pl.col("departed"))
            ).clip(0, BINS - 1),
            ghost=(
                (pl.col("recorded") > pl.col("clock")) & _unknown(known_at)
                if ghosts
                else pl.lit(False)
            ),
        )
    )
    tokens = (
        covered.group_by("frame", "edge", "bin")
        .agg(
            solid=(~pl.col("ghost")).sum().cast(pl.Int64),
            ghost=pl.col("ghost").sum().cast(pl.Int64),
        )
        .sort("frame", "edge", "bin")
        .select(pl.col("frame", "edge", "bin").cast(pl.Int64), "solid", "ghost")
    )
    flashes = pl.DataFrame(schema={"frame": pl.Int64, "activity": pl.String})
    if ghosts:
        from workbench.timetravel import corrections

        fixed = corrections(events)
        if fixed.height:
            flashes = (
                fixed.select("activity", pl.col("recorded_at").dt.epoch("us").alias("recorded"))
                # Each frame flashes what was recorded since the frame before it (the first:
                # within one frame's span before it), not every correction of the past.
                .filter(pl.col("recorded") > 2 * clocks[0] - clocks[1])
                .with_columns(frame=pl.lit(clocks).search_sorted(pl.col("recorded"), side="left"))
                .filter(pl.col("frame").is_between(0, last))
                .select(pl.col("frame").cast(pl.Int64), pl.col("activity").cast(pl.String))
                .unique()
                .sort("frame", "activity")
            )
    ends = projections.case_ends(events.with_columns(pl.col("activity").cast(pl.String)))
    ends = ends.collect().lazy()  # once, for the starts and the ends

    def counted(first: bool) -> pl.DataFrame:
        found = projections.ends_of(ends, first=first).collect()
        return found.with_columns(pl.col("cases").cast(pl.Int64))

    return Animation(
        from_micros(low),
        timedelta(microseconds=step),
        frames,
        edges,
        tokens,
        flashes,
        ghosts,
        counted(first=True),
        counted(first=False),
        None if calendar is None else calendar.name,
        () if calendar is None else tuple(moments),
    )


def _working_clocks(
    calendar: Calendar, start: datetime, end: datetime, frames: int
) -> tuple[int, list[int]]:
    """The working microseconds between frames, and each frame's moment (microseconds):
    evenly spaced in the calendar's working time from ``start`` to ``end``, each at the
    moment that much working time had passed (at an opening, where it falls on a closing)."""
    clock = calendar.clock(start, end)
    low, high = to_micros(start), to_micros(end)
    first, last = (int(value) for value in clock.at(np.array([low, high], dtype=np.int64)))
    if last <= first:
        raise AnimationError(f"the window has no working time in the calendar {calendar.name}")
    step = max((last - first) // (frames - 1), 1)
    offsets = first + step * np.arange(frames, dtype=np.int64)
    return step, [max(int(moment), low) for moment in clock.moments(offsets)]


def _unknown(known_at: datetime | int | None) -> pl.Expr:
    """Whether the store did not know a move at ``known_at``."""
    if isinstance(known_at, datetime):
        return pl.col("recorded") > to_micros(known_at)
    return pl.col("learned") > (known_at or 0)


def _activities(animation: Animation) -> list[str]:
    """The activities on the animation's edges, in the order nodes are numbered."""
    return sorted(set(animation.edges["source"]) | set(animation.edges["target"]))


def to_dot(animation: Animation) -> str:
    """The map the tokens move on: every edge the events take, labelled with its moves, and
    with the id the player finds it by (``edge<N>``)."""
    lines = [
        "digraph animation {",
        '  graph [rankdir=TB, fontname="Helvetica", nodesep=0.35, ranksep=0.5, bgcolor="white"];',
        '  node [shape=box, style="rounded,filled", fillcolor="#eef4fb", color="#5b6b7f",'
        ' fontname="Helvetica", fontsize=11];',
        '  edge [color="#9aa7b5", fontname="Helvetica", fontsize=9, arrowsize=0.7];',
    ]
    names = _activities(animation)
    for index, name in enumerate(names):
        lines.append(f'  {quote(name)} [id="node{index}"];')
    # Where cases start and end, as on the process map, so that both are laid out alike.
    if animation.starts.height:
        lines.append(START_NODE)
    if animation.ends.height:
        lines.append(END_NODE)
    lines.extend(endpoint_edges(animation.starts, animation.ends))
    biggest = max(int(animation.edges["cases"].max() or 1), 1)  # type: ignore[arg-type]
    for edge, source, target, cases in animation.edges.iter_rows():
        width = 0.6 + 3 * cases / biggest
        lines.append(
            f'  {quote(source)} -> {quote(target)} [id="edge{edge}",'
            f" label={quote(f' {cases:,}')}, penwidth={width:.2f}];"
        )
    lines.append("}")
    return "\n".join(lines)


def layout(dot: str) -> str:
    """The map laid out and drawn by Graphviz as SVG."""
    program = shutil.which("dot")
    if program is None:
        raise AnimationError(
            "the animation needs Graphviz to lay out the map: install it (Debian: apt-get"
            " install graphviz)"
        )
    done = subprocess.run(
        [program, "-Tsvg"], input=dot.encode(), capture_output=True, check=False, timeout=300
    )
    if done.returncode != 0:
        raise AnimationError(f"Graphviz could not lay out the map: {done.stderr.decode()[:200]}")
    text = done.stdout.decode()
    return text[text.index("<svg") :]  # without the XML declaration and doctype


def to_html(animation: Animation, *, title: str = "Workbench animation") -> str:
    """One self-contained HTML page that plays the animation (play, pause, speed, a clock
    and a slider to scrub), with the map drawn by Graphviz."""
    names = _activities(animation)
    frames: list[list[list[int]]] = [[] for _ in range(animation.frames)]
    for frame, edge, stretch, solid, ghost in animation.tokens.iter_rows():
        frames[frame].append([edge, stretch, solid, ghost])
    flashes: list[list[int]] = [[] for _ in range(animation.frames)]
    for frame, activity in animation.flashes.iter_rows():
        if activity in names:  # an activity on no edge (one-event cases) has no node id
            flashes[frame].append(names.index(activity))
    data = {
        "start": to_micros(animation.start) // 1000,
        "step": animation.step / timedelta(milliseconds=1),
        "clocks": [moment // 1000 for moment in animation.clocks],
        "calendar": animation.calendar,
        "frames": frames,
        "flashes": flashes,
        "edges": animation.edges["edge"].to_list(),
        "bins": BINS,
        "ghosts": animation.ghosts,
        "span": human_duration((animation.step * (animation.frames - 1)).total_seconds()),
    }
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return (
        _PAGE.replace("{{title}}", html.escape(title))
        .replace("{{svg}}", layout(to_dot(animation)))
        .replace("{{data}}", payload)
    )


def as_dict(animation: Animation) -> dict[str, Any]:
    """The animation as JSON-ready data."""
    return {
        "start": animation.start.isoformat(),
        "step_s": animation.step.total_seconds(),
        "calendar": animation.calendar,
        "moments": [from_micros(moment).isoformat() for moment in animation.clocks],
        "frames": animation.frames,
        "edges": animation.edges.to_dicts(),
        "tokens": animation.tokens.to_dicts(),
        "flashes": animation.flashes.to_dicts(),
    }


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{title}}</title>
<style>
body { font-family: Helvetica, Arial, sans-serif; margin: 16px; color: #1a1a1a; }
#wb-bar { display: flex; gap: 12px; align-items: center; margin-bottom: 8px; flex-wrap: wrap; }
#wb-clock { font-variant-numeric: tabular-nums; min-width: 16em; font-weight: bold; }
#wb-frame { flex: 1; min-width: 200px; }
#wb-map svg { max-width: 100%; height: auto; }
.wb-flash { animation: wb-flash 1s ease-out; }
@keyframes wb-flash { from { stroke: #c0392b; stroke-width: 5; } to { stroke-width: 1; } }
.wb-legend { font-size: 12px; color: #5b6b7f; }
</style></head><body>
<h3>{{title}}</h3>
<div id="wb-bar">
<button id="wb-play" type="button">Pause</button>
<label>Speed <select id="wb-speed">
<option value="86400000">1 day per second</option>
<option value="604800000" selected>1 week per second</option>
<option value="2592000000">1 month per second</option>
</select></label>
<span id="wb-clock"></span>
<input id="wb-frame" type="range" min="0" value="0">
</div>
<div class="wb-legend">Tokens: cases on their way between two events, sized by how many;
dashed: recorded later than the clock (not yet known then).</div>
<div id="wb-map">{{svg}}</div>
<script id="wb-data" type="application/json">{{data}}</script>
<script>
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var data = JSON.parse(document.getElementById("wb-data").textContent);
  var svg = document.querySelector("#wb-map svg");
  var graph = svg.querySelector("g.graph") || svg;
  var layer = document.createElementNS(NS, "g");
  graph.appendChild(layer);
  var paths = {}, lengths = {};
  data.edges.forEach(function (id) {
    var group = document.getElementById("edge" + id);
    var path = group ? group.querySelector("path") : null;
    if (path) { paths[id] = path; lengths[id] = path.getTotalLength(); }
  });
  var count = data.frames.length, frame = -1, clock = 0, playing = true, last = null;
  var slider = document.getElementById("wb-frame"), label = document.getElementById("wb-clock");
  var speed = document.getElementById("wb-speed"), play = document.getElementById("wb-play");
  slider.max = String(count - 1);
  function token(point, n, ghost) {
    var circle = document.createElementNS(NS, "circle");
    circle.setAttribute("cx", point.x); circle.setAttribute("cy", point.y);
    circle.setAttribute("r", String(Math.min(3 + 2 * Math.sqrt(n), 15)));
    if (ghost) {
      circle.setAttribute("fill", "none"); circle.setAttribute("stroke", "#d35400");
      circle.setAttribute("stroke-dasharray", "3,2"); circle.setAttribute("opacity", "0.8");
    } else {
      circle.setAttribute("fill", "#d35400"); circle.setAttribute("fill-opacity", "0.85");
    }
    var tip = document.createElementNS(NS, "title");
    tip.textContent = n + (ghost ? " case(s), recorded later" : " case(s)");
    circle.appendChild(tip);
    layer.appendChild(circle);
    if (n >= 10) {
      var text = document.createElementNS(NS, "text");
      text.setAttribute("x", point.x); text.setAttribute("y", point.y + 3);
      text.setAttribute("text-anchor", "middle"); text.setAttribute("font-size", "9");
      text.setAttribute("fill", ghost ? "#d35400" : "#ffffff");
      text.textContent = String(n);
      layer.appendChild(text);
    }
  }
  function draw(k) {
    if (k === frame) { return; }
    frame = k;
    while (layer.firstChild) { layer.removeChild(layer.firstChild); }
    data.frames[k].forEach(function (t) {
      var path = paths[t[0]];
      if (!path) { return; }
      var point = path.getPointAtLength(lengths[t[0]] * (t[1] + 0.5) / data.bins);
      if (t[2] > 0) { token(point, t[2], false); }
      if (t[3] > 0) { token({x: point.x + 4, y: point.y + 4}, t[3], true); }
    });
    data.flashes[k].forEach(function (n) {
      var node = document.getElementById("node" + n);
      var shape = node ? node.querySelector("path, polygon, ellipse") : null;
      if (shape) {
        shape.classList.remove("wb-flash"); void shape.getBBox(); shape.classList.add("wb-flash");
      }
    });
    var moment = new Date(data.clocks.length ? data.clocks[k] : data.start + k * data.step);
    label.textContent = moment.toISOString().replace("T", " ").slice(0, 16) + " UTC"
      + (data.calendar ? " (working time, " + data.calendar + ")" : "");
    slider.value = String(k);
    window.wbFrame = k;
  }
  function tick(now) {
    if (playing && last !== null) {
      clock += (now - last) / 1000 * Number(speed.value);
      if (clock > data.step * (count - 1)) { clock = 0; }
    }
    last = now;
    draw(Math.min(count - 1, Math.floor(clock / data.step)));
    window.requestAnimationFrame(tick);
  }
  play.addEventListener("click", function () {
    playing = !playing; play.textContent = playing ? "Pause" : "Play";
  });
  slider.addEventListener("input", function () {
    clock = Number(slider.value) * data.step; draw(Number(slider.value));
  });
  draw(0);
  window.requestAnimationFrame(tick);
})();
</script>
</body></html>
"""
