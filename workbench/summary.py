"""A log's headline figures, one definition for every face and engine.

`workbench stats`, the Overview page, both sides of Compare and the Spark engine all show
these numbers; each builds them here, from a case table (`projections.cases`, or the
Spark engine's equal one) and a variant table (`projections.variants`), so they cannot
differ. Percentiles are linearly interpolated, as numpy and pm4py compute them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from workbench.calendars import Hours

#: The case-duration statistics, in the order they are shown.
DURATION_STATISTICS = ("mean", "median", "p90", "min", "max")

#: The columns of a case table (`projections.cases`) that `summarize` reads.
SUMMARIZED = ("case_id", "start", "end", "duration", "events", "rework")

#: At most this many bins in the case-duration histogram.
BINS = 60

_MINUTE, _HOUR, _DAY = 60, 3600, 86400
#: Bin widths in seconds a reader takes in at a glance: whole seconds, minutes, hours,
#: days, weeks and years (below a second and beyond a thousand years, powers of ten).
WIDTHS = (
    *(f * 10.0**k for k in range(-6, 0) for f in (1, 2, 5)),
    1, 2, 5, 10, 15, 30,
    _MINUTE, 2 * _MINUTE, 5 * _MINUTE, 10 * _MINUTE, 15 * _MINUTE, 30 * _MINUTE,
    _HOUR, 2 * _HOUR, 3 * _HOUR, 6 * _HOUR, 12 * _HOUR,
    _DAY, 2 * _DAY, 7 * _DAY, 14 * _DAY, 30 * _DAY, 90 * _DAY, 180 * _DAY,
    *(f * 10**k * 365 * _DAY for k in range(4) for f in (1, 2, 5)),
)  # fmt: skip


@dataclass(frozen=True)
class Summary:
    """Counts, case durations, rework, top variants, start and end activities of a set of
    cases. Durations are None when the log has no times (or no case passes)."""

    cases: int
    events: int
    activities: int
    variants: int
    timed: bool
    durations: dict[str, timedelta | None]  # DURATION_STATISTICS of case durations
    rework_share: float | None  # cases that repeat an activity, of all cases
    first: datetime | None  # the first event's time
    last: datetime | None  # the last event's time
    top_variants: pl.DataFrame = field(repr=False)  # variant, cases, share
    start_activities: dict[str, int] = field(default_factory=dict)
    end_activities: dict[str, int] = field(default_factory=dict)
    calendar: str | None = None  # durations in this calendar's working time (None: elapsed)
    #: How many cases took how long (elapsed time, whatever the calendar): `histogram`.
    histogram: pl.DataFrame = field(default_factory=lambda: histogram(pl.Series([])), repr=False)

    @property
    def median(self) -> timedelta | None:
        """The median case duration."""
        return self.durations["median"]

    @property
    def p90(self) -> timedelta | None:
        """The 90th percentile of case durations (linear interpolation)."""
        return self.durations["p90"]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form: durations in seconds, variants as lists of activities."""
        return {
            "cases": self.cases,
            "events": self.events,
            "activities": self.activities,
            "variants": self.variants,
            "timed": self.timed,
            "calendar": self.calendar,
            "case_duration_seconds": {
                name: None if value is None else value.total_seconds()
                for name, value in self.durations.items()
            },
            "rework_share": self.rework_share,
            "top_variants": [
                {"variant": list(row["variant"]), "cases": row["cases"], "share": row["share"]}
                for row in self.top_variants.iter_rows(named=True)
            ],
            "start_activities": self.start_activities,
            "end_activities": self.end_activities,
            "case_duration_histogram": [
                {
                    "from_seconds": row["from"].total_seconds(),
                    "to_seconds": row["to"].total_seconds(),
                    "cases": row["cases"],
                }
                for row in self.histogram.iter_rows(named=True)
            ],
        }


def histogram(durations: pl.Series, bins: int = BINS) -> pl.DataFrame:
    """How many of ``durations`` fall in each bin (``from`` inclusive, ``to`` exclusive,
    ``cases``), at most ``bins`` bins (one more when the longest lies on an edge) of one
    width from `WIDTHS`, the narrowest that covers the range, starting at a multiple of
    it. Empty bins between are kept, so the bars stand where their durations are: a few
    rows for a chart, not a value per case.

    >>> from datetime import timedelta as td
    >>> found = histogram(pl.Series([td(minutes=m) for m in (1, 3, 4, 59)]), bins=6)
    >>> [(str(a), c) for a, c in found.select("from", "cases").iter_rows()]
    [('0:00:00', 3), ('0:10:00', 0), ('0:20:00', 0), ('0:30:00', 0), ('0:40:00', 0), ('0:50:00', 1)]
    """
    empty = pl.DataFrame(
        schema={"from": pl.Duration("us"), "to": pl.Duration("us"), "cases": pl.UInt32}
    )
    micros = durations.drop_nulls().cast(pl.Duration("us")).dt.total_microseconds()
    if micros.is_empty():
        return empty
    low, high = int(micros.min()), int(micros.max())  # type: ignore[arg-type]
    needed = (high - low) / bins / 1e6
    width = round(1e6 * next((w for w in WIDTHS if w >= needed), WIDTHS[-1]))
    start = low // width * width
    index = (micros - start) // width
    counted = index.value_counts(name="cases").rename({index.name: "bin"})
    every = pl.DataFrame({"bin": pl.int_range(0, int(index.max()) + 1, eager=True)})
    return every.join(counted.cast({"bin": pl.Int64}), on="bin", how="left").select(
        (pl.col("bin") * width + start).cast(pl.Duration("us")).alias("from"),
        ((pl.col("bin") + 1) * width + start).cast(pl.Duration("us")).alias("to"),
        pl.col("cases").fill_null(0).cast(pl.UInt32),
    )


def summarize(
    cases: pl.DataFrame,
    variants: pl.DataFrame,
    *,
    activities: int,
    starts: pl.DataFrame | None = None,
    ends: pl.DataFrame | None = None,
    timed: bool = True,
    top: int = 5,
    calendar: Hours | None = None,
) -> Summary:
    """The summary of a case table and its variant table (of the same cases).

    ``starts`` and ``ends`` are the start and end activity counts (`projections
    .start_activities`); ``timed`` is False for a log imported without times, whose
    durations mean nothing. With a ``calendar``, a case's duration is the working time
    from its start to its end (`workbench.calendars.Calendar.seconds`).

    >>> from datetime import UTC
    >>> day = datetime(2024, 1, 1, tzinfo=UTC)
    >>> cases = pl.DataFrame({
    ...     "start": [day] * 4,
    ...     "end": [day + timedelta(hours=h) for h in (1, 2, 3, 4)],
    ...     "events": [2, 2, 3, 2],
    ...     "rework": [0, 0, 1, 0],
    ... }).with_columns(duration=pl.col("end") - pl.col("start"))
    >>> variants = pl.DataFrame({"variant": [["a", "b"]], "cases": [4], "share": [1.0]})
    >>> found = summarize(cases, variants, activities=2)
    >>> found.median, found.p90  # linear: 2.5 h, and 3 h + 0.7 h
    (datetime.timedelta(seconds=9000), datetime.timedelta(seconds=13320))
    """
    count = cases.height
    durations: dict[str, timedelta | None] = dict.fromkeys(DURATION_STATISTICS)
    if timed and count:
        micros = cases["duration"].dt.total_microseconds().cast(pl.Float64)
        if calendar is not None:
            micros = calendar.seconds(cases["start"], cases["end"], cases["case_id"]) * 1e6
        found = {
            "mean": micros.mean(),
            "median": micros.median(),
            "p90": micros.quantile(0.9, interpolation="linear"),
            "min": micros.min(),
            "max": micros.max(),
        }
        durations = {
            name: None if value is None else timedelta(microseconds=round(float(value)))  # type: ignore[arg-type]
            for name, value in found.items()
        }
    first = cases["start"].min() if timed and count else None
    last = cases["end"].max() if timed and count else None
    return Summary(
        cases=count,
        events=int(cases["events"].sum()) if count else 0,
        activities=activities,
        variants=variants.height,
        timed=timed,
        durations=durations,
        rework_share=float((cases["rework"] > 0).mean()) if count else None,  # type: ignore[arg-type]
        first=first if isinstance(first, datetime) else None,
        last=last if isinstance(last, datetime) else None,
        top_variants=variants.select("variant", "cases", "share").head(top),
        start_activities=dict(starts.iter_rows()) if starts is not None else {},
        end_activities=dict(ends.iter_rows()) if ends is not None else {},
        calendar=None if calendar is None else calendar.name,
        histogram=histogram(cases["duration"] if timed else pl.Series([])),
    )
