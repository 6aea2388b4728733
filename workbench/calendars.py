"""Working calendars: business time between two moments.

A calendar is the working hours of each weekday in a time zone (several ranges a day for a
lunch break: ``mon-fri 09:00-12:00`` and ``mon-fri 13:00-17:00``), minus holidays: dates
named one by one and, optionally, a country's public holidays from the maintained
``holidays`` package. Business time between two moments is the working time between
them: a wait that starts on Friday afternoon and ends on Monday morning is a few working
hours, not three days; a moment outside working hours counts from the next opening.

The hours are local: each working day's ranges become intervals in UTC through the time
zone's own rules, so a day of a daylight-saving change has the hours it really had (an
hour less in spring, an hour more in autumn when a range spans the change). Durations are
exact to the microsecond: the working time up to a moment is the working time of the
intervals before it plus the part of the interval it falls in (a sorted search over the
intervals, vectorized over a whole column).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import polars as pl

from workbench.events import WorkbenchError
from workbench.store.calendars import ASSIGNED
from workbench.store.frames import from_micros, to_micros

if TYPE_CHECKING:
    from holidays import HolidayBase

    from workbench.store.calendars import Calendars

DAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS: Final = re.compile(
    r"^\s*(?P<days>[a-z]{3}(?:\s*-\s*[a-z]{3})?(?:\s*,\s*[a-z]{3}(?:\s*-\s*[a-z]{3})?)*)"
    r"\s+(?P<open>\d{1,2}:\d{2})\s*-\s*(?P<close>\d{1,2}:\d{2})\s*$"
)


class CalendarError(WorkbenchError):
    """A calendar that cannot be taken as given (the message names the part)."""


Range = tuple[int, int]  # minutes after local midnight: open, close


@dataclass(frozen=True)
class Calendar:
    """Working hours per weekday (0 = Monday) in ``timezone``, minus ``holidays`` and, with
    ``country``, that country's public holidays."""

    name: str
    hours: tuple[tuple[Range, ...], ...]  # seven days, each its ranges in order
    timezone: str = "UTC"
    holidays: frozenset[date] = field(default_factory=frozenset)
    country: str | None = None

    @classmethod
    def parse(
        cls,
        name: str,
        hours: Iterable[str],
        *,
        timezone: str = "UTC",
        holidays: Iterable[str] = (),
        country: str | None = None,
    ) -> Calendar:
        """A calendar from the command line's words: ``--hours "mon-fri 09:00-17:00"``
        (repeatable), ``--holidays 2024-12-25,2024-12-26``, ``--country NL``,
        ``--timezone Europe/Amsterdam``."""
        days: list[list[Range]] = [[] for _ in DAYS]
        for text in hours:
            found = _HOURS.match(text.lower())
            if found is None:
                raise CalendarError(
                    f"--hours {text!r}: write days and a time range, such as"
                    " 'mon-fri 09:00-17:00' or 'sat 10:00-13:00'"
                )
            opening, closing = _minutes(found["open"], text), _minutes(found["close"], text)
            if closing <= opening:
                raise CalendarError(f"--hours {text!r}: the range must end after it starts")
            for day in _days(found["days"], text):
                days[day].append((opening, closing))
        merged = tuple(_merged(ranges) for ranges in days)
        if not any(merged):
            raise CalendarError(f"calendar {name!r}: give working hours (--hours)")
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise CalendarError(
                f"--timezone {timezone!r}: give an IANA time zone such as Europe/Amsterdam"
            ) from None
        dates = set()
        for text in holidays:
            try:
                dates.add(date.fromisoformat(text.strip()))
            except ValueError:
                raise CalendarError(f"--holidays {text!r}: write dates as 2024-12-25") from None
        if country is not None:
            import holidays as public

            if country.upper() not in public.list_supported_countries():
                raise CalendarError(
                    f"--country {country!r}: give a country code the holidays package knows,"
                    " such as NL, DE, US or GB"
                )
            country = country.upper()
        return cls(name, merged, timezone, frozenset(dates), country)

    # ------------------------------------------------------------------ as stored

    def to_json(self) -> str:
        """The calendar as the store keeps it."""
        return json.dumps(
            {
                "hours": [[list(r) for r in ranges] for ranges in self.hours],
                "timezone": self.timezone,
                "holidays": sorted(day.isoformat() for day in self.holidays),
                "country": self.country,
            }
        )

    @classmethod
    def from_json(cls, name: str, text: str) -> Calendar:
        found = json.loads(text)
        return cls(
            name,
            tuple(tuple((int(a), int(b)) for a, b in ranges) for ranges in found["hours"]),
            found["timezone"],
            frozenset(date.fromisoformat(day) for day in found["holidays"]),
            found.get("country"),
        )

    def as_dict(self) -> dict[str, object]:
        """The calendar as plain JSON-ready values (hours as "09:00-17:00" per day)."""
        return {
            "name": self.name,
            "hours": {
                DAYS[index]: [f"{_clock(a)}-{_clock(b)}" for a, b in ranges]
                for index, ranges in enumerate(self.hours)
            },
            "timezone": self.timezone,
            "country": self.country,
            "holidays": sorted(day.isoformat() for day in self.holidays),
            "weekly_hours": self.weekly_seconds / 3600,
        }

    def describe(self) -> list[str]:
        """The calendar in words: its hours per day, time zone and holidays."""
        lines = []
        for index, ranges in enumerate(self.hours):
            shown = ", ".join(f"{_clock(a)}-{_clock(b)}" for a, b in ranges) or "closed"
            lines.append(f"{DAYS[index]}: {shown}")
        lines.append(f"time zone: {self.timezone}")
        if self.country:
            lines.append(f"public holidays of {self.country}")
        if self.holidays:
            lines.append("holidays: " + ", ".join(sorted(d.isoformat() for d in self.holidays)))
        return lines

    @property
    def weekly_seconds(self) -> int:
        """Working seconds in a week without holidays."""
        return sum((b - a) * 60 for ranges in self.hours for a, b in ranges)

    @property
    def day_seconds(self) -> float:
        """The working seconds of an average working day (a day with hours)."""
        days = sum(1 for ranges in self.hours if ranges)
        return self.weekly_seconds / days if days else 0.0

    # ------------------------------------------------------------------ business time

    def is_holiday(self, day: date) -> bool:
        """Whether a local date is a holiday (named, or the country's)."""
        return day in self.holidays or (self.country is not None and day in self._public)

    @cached_property
    def _public(self) -> HolidayBase:
        import holidays as public

        assert self.country is not None
        return public.country_holidays(self.country)

    def intervals(self, start: datetime, end: datetime) -> np.ndarray:
        """The working intervals (UTC microseconds, shape n x 2, in order) of the local days
        from the day before ``start`` to the day after ``end``."""
        zone = ZoneInfo(self.timezone)
        first = start.astimezone(zone).date() - timedelta(days=1)
        last = end.astimezone(zone).date() + timedelta(days=1)
        found: list[tuple[int, int]] = []
        day = first
        while day <= last:
            ranges = self.hours[day.weekday()]
            if ranges and not self.is_holiday(day):
                for opening, closing in ranges:
                    low = to_micros(_local(day, opening, zone))
                    high = to_micros(_local(day, closing, zone))
                    if high > low:
                        found.append((low, high))
            day += timedelta(days=1)
        return np.array(found, dtype=np.int64).reshape(-1, 2)

    def clock(self, start: datetime, end: datetime) -> Clock:
        """The working clock over the local days around ``start`` to ``end``."""
        return Clock(self.intervals(start, end))

    def seconds(
        self, starts: pl.Series, ends: pl.Series, cases: pl.Series | None = None
    ) -> pl.Series:
        """Working seconds (floats, exact to the microsecond) from each start to its end
        (negative when the end comes first; null where either is null). ``cases`` (each
        duration's case) matters only to `Assigned` calendars."""
        low = starts.cast(pl.Datetime("us", "UTC")).dt.epoch("us")
        high = ends.cast(pl.Datetime("us", "UTC")).dt.epoch("us")
        known = low.is_not_null() & high.is_not_null()
        result = np.full(len(low), np.nan)
        if known.any():
            a = low.filter(known).to_numpy()
            b = high.filter(known).to_numpy()
            clock = self.clock(
                from_micros(int(min(a.min(), b.min()))), from_micros(int(max(a.max(), b.max())))
            )
            result[known.to_numpy()] = (clock.at(b) - clock.at(a)) / 1e6
        return pl.Series(starts.name, result).fill_nan(None)

    def durations(
        self, starts: pl.Series, ends: pl.Series, cases: pl.Series | None = None
    ) -> pl.Series:
        """`seconds` as a duration column of whole microseconds."""
        return _as_duration(self.seconds(starts, ends))

    def duration(self, start: datetime, end: datetime) -> timedelta:
        """Working time from ``start`` to ``end``."""
        found = self.seconds(pl.Series([start]), pl.Series([end]))[0]
        return timedelta(seconds=float(found))


class Clock:
    """Working microseconds counted from the first of some working intervals (UTC
    microseconds, n x 2, in order: `Calendar.intervals`) up to any moment, and back."""

    def __init__(self, intervals: np.ndarray) -> None:
        self.starts = intervals[:, 0]
        self.lengths = intervals[:, 1] - intervals[:, 0]
        lengths = self.lengths
        self.before = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(lengths) else lengths

    def at(self, moments: np.ndarray) -> np.ndarray:
        """The working microseconds up to each moment (microseconds)."""
        if not len(self.starts):
            return np.zeros(len(moments), dtype=np.int64)
        index = np.searchsorted(self.starts, moments, side="right") - 1
        at = np.maximum(index, 0)
        done = np.minimum(np.clip(moments - self.starts[at], 0, None), self.lengths[at])
        return np.where(index < 0, 0, self.before[at] + done)

    def moments(self, working: np.ndarray) -> np.ndarray:
        """The moment each amount of working microseconds is reached (the inverse of `at`;
        at the next opening where it falls on a closing)."""
        index = np.searchsorted(self.before, working, side="right") - 1
        found: np.ndarray = self.starts[index] + (working - self.before[index])
        return found


@dataclass(frozen=True, eq=False)
class Assigned:
    """A log's calendars by the value of one attribute (``calendar assign NAME --log LOG
    --attribute site=Utrecht,Delft``): a site's, a team's or a resource's working hours.

    A duration counts in the calendar of the value the attribute has in its case when the
    duration ends: the value of the case's last event by then that carries the attribute
    (by time, then append order), or, before the first such event, the first value the case
    carries. A value without a calendar of its own, and a case without the attribute, count
    in the log's ``default`` calendar (elapsed time without one)."""

    key: str
    chosen: dict[str, Calendar]  # value -> its calendar
    default: Calendar | None
    #: Where the attribute's value changes in each case: ``case_id`` (text), ``at`` (UTC
    #: microseconds), ``calendar`` (an index into `calendars`; -1: the default), in order;
    #: of several at one moment, the last in append order.
    changes: pl.DataFrame
    #: Each case's first value's calendar (``case_id``, ``calendar``): before any change.
    firsts: pl.DataFrame
    name: str = ASSIGNED

    @classmethod
    def of(
        cls,
        key: str,
        chosen: dict[str, Calendar],
        default: Calendar | None,
        events: pl.LazyFrame,
    ) -> Assigned:
        """The assignment over a log's ``events`` (as cut: a value recorded later does not
        count)."""
        calendars = list(dict.fromkeys(calendar.name for calendar in chosen.values()))
        index = {value: calendars.index(calendar.name) for value, calendar in chosen.items()}
        schema = events.collect_schema()
        if key not in schema:
            carried = pl.DataFrame(
                schema={"case_id": pl.String, "at": pl.Int64, "calendar": pl.Int32}
            )
        else:
            carried = (
                events.select(
                    pl.col("case_id").cast(pl.String),
                    at=pl.col("timestamp").cast(pl.Datetime("us", "UTC")).dt.epoch("us"),
                    position=pl.col("position"),
                    value=pl.col(key).cast(pl.String),
                )
                .filter(pl.col("value").is_not_null() & pl.col("at").is_not_null())
                .sort("case_id", "at", "position")
                .select(
                    "case_id",
                    "at",
                    calendar=pl.col("value").replace_strict(
                        index, default=-1, return_dtype=pl.Int32
                    ),
                )
                .collect()
            )
        changes = carried.unique(["case_id", "at"], keep="last", maintain_order=True)
        firsts = carried.unique("case_id", keep="first", maintain_order=True).drop("at")
        return cls(key, dict(chosen), default, changes, firsts)

    @property
    def calendars(self) -> tuple[Calendar, ...]:
        """The distinct calendars the values have, in the order `changes` counts them."""
        return tuple({calendar.name: calendar for calendar in self.chosen.values()}.values())

    def which(self, cases: pl.Series, moments: pl.Series) -> np.ndarray:
        """Each row's calendar (an index into `calendars`; -1: the default): the one of the
        attribute's value in its case at its moment."""
        rows = pl.DataFrame(
            {
                "case_id": cases.cast(pl.String),
                "at": moments.cast(pl.Datetime("us", "UTC")).dt.epoch("us"),
            }
        ).with_row_index("row")
        first = self.firsts.rename({"calendar": "first"})
        found = (
            rows.filter(pl.col("at").is_not_null())
            .sort("at")
            .join_asof(
                self.changes.sort("at"),
                on="at",
                by="case_id",
                strategy="backward",
                check_sortedness=False,  # sorted by "at" above, which is what it needs
            )
            .join(first, on="case_id", how="left")
            .select("row", pl.coalesce("calendar", "first", pl.lit(-1, pl.Int32)))
        )
        result = np.full(len(rows), -1, dtype=np.int32)
        result[found["row"].to_numpy()] = found["calendar"].to_numpy()
        return result

    def seconds(
        self, starts: pl.Series, ends: pl.Series, cases: pl.Series | None = None
    ) -> pl.Series:
        """Working seconds from each start to its end in the calendar of its case's value
        at its end (`Calendar.seconds` otherwise)."""
        if cases is None:
            raise TypeError("durations by an attribute's calendars need each one's case")
        which = self.which(cases, ends)
        calendars = self.calendars
        result = np.full(len(starts), np.nan)
        for index in np.unique(which):
            rows = pl.Series(np.flatnonzero(which == index))
            calendar = self.default if index < 0 else calendars[index]
            part = between(starts.gather(rows), ends.gather(rows), calendar)
            result[rows.to_numpy()] = part.dt.total_microseconds().cast(pl.Float64).to_numpy() / 1e6
        return pl.Series(starts.name, result).fill_nan(None)

    def durations(
        self, starts: pl.Series, ends: pl.Series, cases: pl.Series | None = None
    ) -> pl.Series:
        """`seconds` as a duration column of whole microseconds."""
        return _as_duration(self.seconds(starts, ends, cases))

    def clock(self, start: datetime, end: datetime) -> Clock | None:
        """One clock for a whole log (the animation's): the default calendar's, None for
        elapsed time."""
        return None if self.default is None else self.default.clock(start, end)

    @property
    def day_seconds(self) -> float:
        """A working day (what ``--within 2d`` and "days" in durations mean): the one the
        values' calendars and the default (a day of 24 hours for elapsed time) share, or
        infinity where they differ, since a "day" then means different times: durations
        are shown in hours and a span in days is refused."""
        days = {calendar.day_seconds for calendar in self.calendars}
        days.add(86400.0 if self.default is None else self.default.day_seconds)
        return days.pop() if len(days) == 1 else math.inf

    @property
    def weekly_seconds(self) -> float:
        """A working week, as `day_seconds` a day."""
        weeks = {float(calendar.weekly_seconds) for calendar in self.calendars}
        weeks.add(604800.0 if self.default is None else float(self.default.weekly_seconds))
        return weeks.pop() if len(weeks) == 1 else math.inf

    def to_json(self) -> str:
        """What the working time stands on: the attribute, each value's calendar, the
        default, and where the values change (as a digest)."""
        changes = self.changes.hash_rows(seed=0).sum() if self.changes.height else 0
        return json.dumps(
            {
                "attribute": self.key,
                "values": {value: c.to_json() for value, c in sorted(self.chosen.items())},
                "default": None if self.default is None else self.default.to_json(),
                "changes": [self.changes.height, int(changes)],
            }
        )

    def describe(self) -> list[str]:
        """The assignment in words: each value's calendar, then the default."""
        lines = [f"{self.key}={value}: {calendar.name}" for value, calendar in self.chosen.items()]
        other = "elapsed time" if self.default is None else self.default.name
        return [*lines, f"otherwise: {other}"]


#: Working time by one calendar, or by an attribute's calendars.
Hours = Calendar | Assigned


def between(
    starts: pl.Series,
    ends: pl.Series,
    calendar: Hours | None,
    cases: pl.Series | None = None,
) -> pl.Series:
    """Durations from each start to its end: elapsed, or the ``calendar``'s working time
    (for `Assigned` calendars, by each one's case in ``cases``)."""
    return ends - starts if calendar is None else calendar.durations(starts, ends, cases)


def _as_duration(seconds: pl.Series) -> pl.Series:
    return (seconds * 1e6).round().cast(pl.Int64).cast(pl.Duration("us"))


def known(calendars: Calendars, name: str, known_at: datetime | None = None) -> Calendar | None:
    """The calendar of that name as the store knew it at ``known_at`` (None: now), if it
    did."""
    kept = calendars.known(known_at).get(name)
    return None if kept is None else Calendar.from_json(name, kept.definition)


def assigned(
    calendars: Calendars,
    log: str,
    events: Callable[[list[str]], pl.LazyFrame],
    known_at: datetime | None = None,
) -> Hours | None:
    """A log's calendars by attribute value as the store knew them at ``known_at`` (None:
    now), over its events (``events(columns)``, read only when the log has such calendars);
    without them, its default calendar (None: elapsed time)."""
    default_name = calendars.assigned(known_at).get(log)
    default = None if default_name is None else known(calendars, default_name, known_at)
    keys = calendars.by_value(known_at).get(log, {})
    if not keys:
        return default
    key, values = next(iter(keys.items()))
    kept = calendars.known(known_at)
    chosen = {
        value: Calendar.from_json(name, kept[name].definition)
        for value, name in values.items()
        if name in kept
    }
    return Assigned.of(key, chosen, default, events(["case_id", "timestamp", "position", key]))


def _local(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """A local wall-clock time of a day (24:00: the next midnight) as an aware datetime."""
    if minutes >= 24 * 60:
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)


def _minutes(text: str, whole: str) -> int:
    hours, minutes = (int(part) for part in text.split(":"))
    if not (0 <= minutes < 60 and (0 <= hours < 24 or (hours == 24 and minutes == 0))):
        raise CalendarError(f"--hours {whole!r}: {text} is not a time of day")
    return hours * 60 + minutes


def _days(text: str, whole: str) -> list[int]:
    found: list[int] = []
    for part in text.split(","):
        ends = [end.strip() for end in part.split("-")]
        if any(end not in DAYS for end in ends):
            raise CalendarError(f"--hours {whole!r}: days are {', '.join(DAYS)}")
        first, last = DAYS.index(ends[0]), DAYS.index(ends[-1])
        found.extend(
            range(first, last + 1) if first <= last else [*range(first, 7), *range(0, last + 1)]
        )
    return found


def _merged(ranges: list[Range]) -> tuple[Range, ...]:
    """Ranges in order, overlapping or touching ones joined."""
    joined: list[Range] = []
    for opening, closing in sorted(ranges):
        if joined and opening <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(joined[-1][1], closing))
        else:
            joined.append((opening, closing))
    return tuple(joined)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
