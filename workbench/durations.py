"""Durations as a person reads them."""

from __future__ import annotations

import math
from datetime import timedelta


def human_duration(seconds: float | None) -> str:
    """A duration for a label: 45 s, 12 min, 3.4 h, 2.1 d, 5.3 wk; '' when there is none.

    >>> human_duration(45), human_duration(720), human_duration(12_240), human_duration(None)
    ('45 s', '12 min', '3.4 h', '')
    """
    if seconds is None or math.isnan(seconds):
        return ""
    for limit, unit, size in (
        (60, "s", 1),
        (3_600, "min", 60),
        (86_400, "h", 3_600),
        (604_800, "d", 86_400),
    ):
        if abs(seconds) < limit:
            value = seconds / size
            return f"{value:.0f} {unit}" if value >= 10 or unit == "s" else f"{value:.1f} {unit}"
    return f"{seconds / 604_800:.1f} wk"


def human(value: timedelta | None) -> str:
    """`human_duration` of a timedelta ('' when there is none)."""
    return "" if value is None else human_duration(value.total_seconds())


def human_working(value: timedelta | None, day_seconds: float | None) -> str:
    """Working time as a person reads it: minutes and hours, then working days of
    ``day_seconds`` (a calendar's working day: 8 working hours are one day, not a third of
    one); '' when there is none. Without a working day, elapsed time (`human`); with an
    infinite one (calendars whose working days differ), hours.

    >>> human_working(timedelta(hours=3), 8 * 3600), human_working(timedelta(hours=20), 8 * 3600)
    ('3.0 h', '2.5 working days')
    >>> human_working(timedelta(hours=50), float("inf"))
    '50 h'
    """
    if value is None:
        return ""
    seconds = value.total_seconds()
    if day_seconds == float("inf"):
        hours = seconds / 3600
        return (
            human_duration(seconds) if abs(hours) < 1 else f"{hours:,.{0 if hours >= 10 else 1}f} h"
        )
    if day_seconds is None or day_seconds <= 0 or abs(seconds) < day_seconds:
        return human_duration(seconds)
    days = seconds / day_seconds
    return f"{days:.0f} working days" if days >= 10 else f"{days:.1f} working days"
