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
        }


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
    )
