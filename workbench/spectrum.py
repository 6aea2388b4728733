"""The performance spectrum: every passage of a case through a segment, over time.

A segment is a pair of activities A → B; a case passes through it each time an A is directly
followed by a B in the case (the directly-follows steps of the process map, in its order).
Drawn as a line from the moment of A (top) to the moment of B (bottom), the passages show
what averages hide: batching (lines that meet at B), overtaking (lines that cross), queues
(lines that lengthen), a change of regime (Denisov, Fahland and van der Aalst, "Unbiased,
fine-grained description of processes performance from event data", 2018; psmineR).

Each passage is classed by the quartile of its segment's durations it falls in (1 the
fastest quarter, 4 the slowest), in working time by a calendar when one is given; the
aggregated spectrum counts, per time bin of the passages' starts, the passages of each
quartile. Bitemporal, as the animation is: given ``known_at`` (a time, or a position), a
passage the store did not yet know then (either of its events was recorded later) is a
ghost: a late occurrence, news that had not arrived.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import polars as pl

from workbench import projections
from workbench.calendars import between
from workbench.events import WorkbenchError

if TYPE_CHECKING:
    from workbench.calendars import Hours

#: The widths a bin may have (Polars durations), the narrowest that gives at most `BINS` bins.
WIDTHS: Final = ("1h", "6h", "1d", "1w", "1mo", "3mo", "1y")
BINS: Final = 120
_APPROXIMATE: Final = {
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "1d": timedelta(days=1),
    "1w": timedelta(weeks=1),
    "1mo": timedelta(days=31),
    "3mo": timedelta(days=92),
    "1y": timedelta(days=366),
}


class SpectrumError(WorkbenchError):
    """A spectrum that cannot be drawn as asked (an unknown bin width)."""


@dataclass(frozen=True)
class Segment:
    """The passages through one segment ``source`` → ``target``.

    ``lines``: one row per passage, earliest first: ``case_id``, ``start``, ``end``,
    ``duration``, ``quartile`` (1-4), ``ghost``, ``source_position``, ``target_position``,
    and ``value`` (the colouring attribute at the source event) when one was chosen.
    ``bins``: per time bin of the starts (``bin``), the passages of each quartile (``q1`` to
    ``q4``) and the ghosts among them. ``quartiles``: the durations that part the quarters.
    """

    source: str
    target: str
    lines: pl.DataFrame
    bins: pl.DataFrame
    quartiles: tuple[timedelta | None, timedelta | None, timedelta | None]


@dataclass(frozen=True)
class Spectrum:
    """The passages through each segment asked for, with the bin width (``every``) and
    what the durations and ghosts mean."""

    segments: tuple[Segment, ...]
    every: str
    calendar: str | None
    ghosts: bool
    color: str | None

    def to_dict(self) -> dict[str, Any]:
        """The spectrum as JSON-ready data (`workbench spectrum --json`): times stay
        datetimes, durations are seconds."""
        return {
            "calendar": self.calendar,
            "every": self.every,
            "ghosts": self.ghosts,
            "color": self.color,
            "segments": [
                {
                    "source": part.source,
                    "target": part.target,
                    "passages": part.lines.height,
                    "quartiles_seconds": [
                        None if cut is None else cut.total_seconds() for cut in part.quartiles
                    ],
                    "lines": [
                        {
                            "case_id": row["case_id"],
                            "start": row["start"],
                            "end": row["end"],
                            "duration_seconds": row["duration"].total_seconds(),
                            "quartile": row["quartile"],
                            "ghost": row["ghost"],
                            **({"value": row["value"]} if "value" in row else {}),
                        }
                        for row in part.lines.iter_rows(named=True)
                    ],
                    "bins": [
                        {"start": row.pop("bin"), **row} for row in part.bins.iter_rows(named=True)
                    ],
                }
                for part in self.segments
            ],
        }


def passages(
    events: pl.LazyFrame, segments: Sequence[tuple[str, str]], *, color: str | None = None
) -> pl.DataFrame:
    """Every passage through the ``segments``: ``source``, ``target``, ``case_id``,
    ``start``, ``end``, ``recorded`` (when the store had both events), ``source_position``,
    ``target_position``, and ``value`` (``color`` at the source event)."""
    schema = events.collect_schema()
    carry = ["position", "recorded_at"] + ([color] if color else [])
    wanted = pl.DataFrame(
        {"source": [a for a, _ in segments], "target": [b for _, b in segments]},
        schema={"source": pl.String, "target": pl.String},
    )
    found = (
        projections.steps(events, carry=[name for name in carry if name in schema])
        .filter(pl.col("target").is_not_null())
        .with_columns(pl.col("activity", "target").cast(pl.String))
        .join(wanted.lazy(), left_on=["activity", "target"], right_on=["source", "target"])
        .select(
            pl.col("activity").alias("source"),
            "target",
            pl.col("case_id").cast(pl.String),
            pl.col("timestamp").alias("start"),
            pl.col("target_time").alias("end"),
            pl.max_horizontal("recorded_at", "target_recorded_at").alias("recorded")
            if "recorded_at" in schema
            else pl.lit(None, pl.Datetime("us", "UTC")).alias("recorded"),
            pl.col("position").alias("source_position"),
            pl.col("target_position"),
            *([pl.col(color).cast(pl.String).alias("value")] if color else []),
        )
    )
    return found.collect().sort("start", "end", "source_position")


def spectrum(
    events: pl.LazyFrame,
    segments: Sequence[tuple[str, str]],
    *,
    every: str | None = None,
    known_at: datetime | int | None = None,
    calendar: Hours | None = None,
    color: str | None = None,
) -> Spectrum:
    """The performance spectrum of ``events`` through the ``segments``, binned ``every``
    (one of `WIDTHS`; by default the narrowest that gives at most `BINS` bins), durations in
    the ``calendar``'s working time when there is one, ghosts by ``known_at``."""
    if every is not None and every not in WIDTHS:
        raise SpectrumError(f"--every {every!r}: choose one of {', '.join(WIDTHS)}")
    found = passages(events, segments, color=color)
    found = found.with_columns(
        duration=between(found["start"], found["end"], calendar, found["case_id"]),
        ghost=_unknown(found, known_at),
    )
    width = every or _width(found)
    parts: list[Segment] = []
    for source, target in segments:
        lines = found.filter((pl.col("source") == source) & (pl.col("target") == target))
        parts.append(_segment(source, target, lines, width))
    return Spectrum(
        tuple(parts),
        width,
        None if calendar is None else calendar.name,
        known_at is not None,
        color,
    )


def _segment(source: str, target: str, lines: pl.DataFrame, every: str) -> Segment:
    durations = lines["duration"]
    cuts = tuple(
        durations.quantile(share, interpolation="linear") if durations.len() else None
        for share in (0.25, 0.5, 0.75)
    )
    quartile = pl.lit(1, pl.Int8)
    for cut in cuts:
        if cut is not None:
            quartile = quartile + (pl.col("duration") > pl.lit(cut, pl.Duration("us"))).cast(
                pl.Int8
            )
    classed = lines.with_columns(quartile=quartile)
    bins = (
        classed.group_by(pl.col("start").dt.truncate(every).alias("bin"))
        .agg(
            *((pl.col("quartile") == q).sum().cast(pl.Int64).alias(f"q{q}") for q in (1, 2, 3, 4)),
            ghosts=pl.col("ghost").sum().cast(pl.Int64),
        )
        .sort("bin")
    )
    kept = ["case_id", "start", "end", "duration", "quartile", "ghost"]
    kept += ["source_position", "target_position"]
    if "value" in classed.columns:
        kept.append("value")
    quartiles = tuple(_as_timedelta(cut) for cut in cuts)
    return Segment(source, target, classed.select(kept), bins, quartiles)  # type: ignore[arg-type]


def _as_timedelta(value: object) -> timedelta | None:
    return value if isinstance(value, timedelta) else None


def _unknown(found: pl.DataFrame, known_at: datetime | int | None) -> pl.Series:
    """Whether the store did not know a passage at ``known_at`` (False without one)."""
    if known_at is None:
        return pl.Series("ghost", [False] * found.height, dtype=pl.Boolean)
    if isinstance(known_at, datetime):
        late = pl.col("recorded") > pl.lit(known_at).cast(pl.Datetime("us", "UTC"))
    else:
        late = pl.max_horizontal("source_position", "target_position") > known_at
    return found.select(late.alias("ghost")).to_series()


def _width(found: pl.DataFrame) -> str:
    """The narrowest bin width that gives at most `BINS` bins over the passages' starts."""
    if found.is_empty():
        return "1d"
    first, last = found["start"].min(), found["start"].max()
    assert isinstance(first, datetime)
    assert isinstance(last, datetime)
    span = last - first
    for width in WIDTHS:
        if span <= _APPROXIMATE[width] * BINS:
            return width
    return WIDTHS[-1]
