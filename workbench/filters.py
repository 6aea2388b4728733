"""Log filters: values that can be stored, shown, turned into a URL query, and applied.

Every filter is a frozen dataclass with ``apply(events) -> LazyFrame`` (lazy, composable)
and a query form. Case-level filters keep or drop whole cases; event-level filters keep or
drop events. `Filters` composes them in order and round-trips through a URL query string.

>>> f = Filters((CaseSize(min=2), Attribute("customer", ("Smith, Ann", "Lee, Bo"))))
>>> f.to_query()
'size_min=2&attr=%5B%22customer%22%2C+%5B%22Smith%2C+Ann%22%2C+%22Lee%2C+Bo%22%5D%5D'
>>> Filters.from_query(f.to_query()) == f
True
>>> Filters.from_query("attr=region=north,south").items
(Attribute(name='region', values=('north', 'south'), level='case', keep=True),)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal, Protocol
from urllib.parse import parse_qsl, urlencode

import polars as pl

from workbench.events import WorkbenchError, as_utc, parse_time
from workbench.projections import ordered

if TYPE_CHECKING:
    from workbench.calendars import Hours

TimeMode = Literal["contained", "intersecting", "started", "completed", "trim"]


class Filter(Protocol):
    """What every filter offers."""

    def apply(self, events: pl.LazyFrame) -> pl.LazyFrame:
        """The events that pass."""
        ...

    def query(self) -> list[tuple[str, str]]:
        """The filter as URL query parameters."""
        ...

    def describe(self) -> str:
        """One line for a person: what the filter keeps."""
        ...


def _bounded(value: pl.Expr, low: object | None, high: object | None) -> pl.Expr:
    """Whether ``value`` is from ``low`` to ``high`` (None: no bound)."""
    condition = pl.lit(True)
    if low is not None:
        condition = condition & (value >= pl.lit(low))
    if high is not None:
        condition = condition & (value <= pl.lit(high))
    return condition


def _keep_cases(events: pl.LazyFrame, condition: pl.Expr) -> pl.LazyFrame:
    """Keep the cases whose events satisfy a per-case condition (an aggregate over `over`)."""
    return events.filter(condition.over("case_id"))


@dataclass(frozen=True)
class TimeRange:
    """Cases in a time window: contained in it, intersecting it, started or completed in it;
    or ``trim``: only the events inside it."""

    start: datetime | None = None
    end: datetime | None = None
    mode: TimeMode = "intersecting"

    def apply(self, events: pl.LazyFrame) -> pl.LazyFrame:
        if self.mode == "trim":
            return events.filter(self._within(pl.col("timestamp")))
        first, last = pl.col("timestamp").min(), pl.col("timestamp").max()
        return _keep_cases(events, self._keeps(first, last))

    def on_cases(self) -> pl.Expr | None:
        """The cases this keeps, over per-case rows (`projections.case_rows`: ``start`` and
        ``end`` are the case's first and last time); None for ``trim``, which drops events."""
        return None if self.mode == "trim" else self._keeps(pl.col("start"), pl.col("end"))

    def _keeps(self, first: pl.Expr, last: pl.Expr) -> pl.Expr:
        """Whether a case with these first and last times is kept (not ``trim``)."""
        if self.mode == "started":
            return self._within(first)
        if self.mode == "completed":
            return self._within(last)
        if self.mode == "contained":
            return self._within(first) & self._within(last)
        condition = pl.lit(True)  # intersecting: active at some time in the window
        if self.start is not None:
            condition = condition & (last >= pl.lit(as_utc(self.start)))
        if self.end is not None:
            condition = condition & (first <= pl.lit(as_utc(self.end)))
        return condition

    def _within(self, value: pl.Expr) -> pl.Expr:
        low = None if self.start is None else as_utc(self.start)
        high = None if self.end is None else as_utc(self.end)
        return _bounded(value, low, high)

    def query(self) -> list[tuple[str, str]]:
        pairs = []
        if self.start:
            pairs.append(("from", as_utc(self.start).isoformat()))
        if self.end:
            pairs.append(("to", as_utc(self.end).isoformat()))
        if self.mode != "intersecting":
            pairs.append(("time_mode", self.mode))
        return pairs

    def describe(self) -> str:
        window = f"{self.start or '…'} to {self.end or '…'}"
        return {
            "trim": f"events from {window}",
            "started": f"cases started {window}",
            "completed": f"cases completed {window}",
            "contained": f"cases entirely within {window}",
        }.get(self.mode, f"cases active {window}")


@dataclass(frozen=True)
class Attribute:
    """Keep (or drop) by attribute values: cases with at least one such event (``case``), or
    the events themselves (``event``). Values compare as text."""

    name: str
    values: tuple[str, ...]
    level: Literal["case", "event"] = "case"
    keep: bool = True

    def apply(self, events: pl.LazyFrame) -> pl.LazyFrame:
        matches = pl.col(self.name).cast(pl.String).is_in(list(self.values)).fill_null(False)
        if self.level == "event":
            return events.filter(matches if self.keep else ~matches)
        any_match = matches.any()
        return _keep_cases(events, any_match if self.keep else ~any_match)

    def query(self) -> list[tuple[str, str]]:
        key = {
            ("case", True): "attr",
            ("case", False): "attr_not",
            ("event", True): "event_attr",
            ("event", False): "event_attr_not",
        }[(self.level, self.keep)]
        # JSON keeps names and values with any character (commas, '=') as they are.
        return [(key, json.dumps([self.name, list(self.values)], ensure_ascii=False))]

    def describe(self) -> str:
        verb = "with" if self.keep else "without"
        what = "cases" if self.level == "case" else "events"
        return f"{what} {verb} {self.name} in {', '.join(self.values)}"


@dataclass(frozen=True)
class Variants:
    """Cases of the most frequent variants: the ``top`` k, those covering ``coverage`` % of
    cases, or the variants given (activity sequences)."""

    top: int | None = None
    coverage: float | None = None
    chosen: tuple[tuple[str, ...], ...] = ()

    def apply(self, events: pl.LazyFrame) -> pl.LazyFrame:
        per_case = (
            ordered(events).group_by("case_id").agg(variant=pl.col("activity").cast(pl.String))
        )
        ranked = (
            per_case.group_by("variant")
            .agg(cases=pl.len())
            .sort(["cases", "variant"], descending=[True, False])
            .with_columns(
                rank=pl.int_range(1, pl.len() + 1),
                covered=pl.col("cases").cum_sum() / pl.col("cases").sum(),
            )
        )
        keep = pl.lit(True)
        if self.top is not None:
            keep = keep & (pl.col("rank") <= self.top)
        if self.coverage is not None:
            before = pl.col("covered") - pl.col("cases") / pl.col("cases").sum()
            keep = keep & (before < self.coverage / 100)
        wanted = ranked.filter(keep).select("variant")
        if self.chosen:
            chosen = pl.LazyFrame({"variant": [list(v) for v in self.chosen]})
            wanted = (
                chosen
                if self.top is None and self.coverage is None
                else wanted.join(chosen, on="variant")
            )
        cases = per_case.join(wanted, on="variant", how="semi").select("case_id")
        return events.join(cases, on="case_id", how="semi", maintain_order="left")

    def query(self) -> list[tuple[str, str]]:
        pairs = []
        if self.top is not None:
            pairs.append(("variants_top", str(self.top)))
        if self.coverage is not None:
            pairs.append(("variants_coverage", f"{self.coverage:g}"))
        pairs.extend(
            ("variant", json.dumps(list(variant), ensure_ascii=False)) for variant in self.chosen
        )
        return pairs

    def describe(self) -> str:
        parts = []
        if self.top is not None:
            parts.append(f"the {self.top} most frequent variants")
        if self.coverage is not None:
            parts.append(f"variants covering {self.coverage:g}% of cases")
        if self.chosen:
            parts.append(f"{len(self.chosen)} chosen variant(s)")
        return "cases of " + " and ".join(parts)


@dataclass(frozen=True)
class Endpoints:
    """Cases that start (or end) with one of the given activities."""

    activities: tuple[str, ...]
    at: Literal["start", "end"] = "start"

    def apply(self, events: pl.LazyFrame) -> pl.LazyFrame:
        edge = (
            ordered(events)
            .group_by("case_id")
            .agg(pl.col("activity").first() if self.at == "start" else pl.col("activity").last())
        )
        cases = edge.filter(pl.col("activity").is_in(list(self.activities))).select("case_id")
        return events.join(cases, on="case_id", how="semi", maintain_order="left")

    def on_cases(self) -> pl.Expr:
        """The cases this keeps, over per-case rows (`projections.case_rows`)."""
        edge = pl.col("variant").list.first() if self.at == "start" else pl.col("last_activity")
        return edge.cast(pl.String).is_in(list(self.activities))

    def query(self) -> list[tuple[str, str]]:
        return [(self.at, activity) for activity in self.activities]

    def describe(self) -> str:
        return f"cases that {self.at} with {', '.join(self.activities)}"


@dataclass(frozen=True)
class Contains:
    """Cases with at least one event of each given activity."""

    activities: tuple[str, ...]

    def apply(self, events: pl.LazyFrame) -> pl.LazyFrame:
        for activity in self.activities:
            events = _keep_cases(events, (pl.col("activity") == activity).any())
        return events

    def on_cases(self) -> pl.Expr:
        """The cases this keeps, over per-case rows (`projections.case_rows`)."""
        condition = pl.lit(True)
        for activity in self.activities:
            has = pl.col("variant").list.eval((pl.element().cast(pl.String) == activity).any())
            condition = condition & has.list.first()
        return condition

    def query(self) -> list[tuple[str, str]]:
        return [("activity", activity) for activity in self.activities]

    def describe(self) -> str:
        return f"cases with {' and '.join(self.activities)}"


@dataclass(frozen=True)
class Follows:
    """Cases in which an event of ``source`` is followed by one of ``target`` (eventually,
    or ``directly``: the next event of the case), at most ``within`` later, with the same
    value of the attribute ``same`` or another value of ``different`` (the four-eyes check:
    ``different="resource"``); with ``exclude``, the other cases. Order within a case is
    (time, position); a value that is missing is neither the same nor different."""

    source: str
    target: str
    directly: bool = False
    within: timedelta | None = None
    same: str | None = None
    different: str | None = None
    exclude: bool = False
    #: ``within`` counts this calendar's working time (bound by `Filters.in_calendar`).
    calendar: Hours | None = None

    def apply(self, events: pl.LazyFrame) -> pl.LazyFrame:
        schema = events.collect_schema()
        for name in (self.same, self.different):
            if name is not None and name not in schema:
                raise WorkbenchError(f"the follower filter: the log has no attribute {name!r}")
        base = ("case_id", "activity", "timestamp", "position")
        extra = [n for n in dict.fromkeys((self.same, self.different)) if n and n not in base]
        steps = (
            events.select(*base, *extra)
            .sort("case_id", "timestamp", "position")
            .with_columns(__step=pl.int_range(pl.len()).over("case_id"))
        )
        sources = steps.filter(pl.col("activity").cast(pl.String) == self.source)
        targets = steps.filter(pl.col("activity").cast(pl.String) == self.target)
        pairs = sources.join(targets, on="case_id", suffix="__b")
        condition = (
            pl.col("__step__b") == pl.col("__step") + 1
            if self.directly
            else pl.col("__step__b") > pl.col("__step")
        )
        if self.within is not None and self.calendar is None:
            condition = condition & (pl.col("timestamp__b") - pl.col("timestamp") <= self.within)
        if self.same is not None:
            condition = condition & (pl.col(f"{self.same}__b") == pl.col(self.same)).fill_null(
                False
            )
        if self.different is not None:
            condition = condition & (
                pl.col(f"{self.different}__b") != pl.col(self.different)
            ).fill_null(False)
        found = pairs.filter(condition)
        if self.within is not None and self.calendar is not None:  # in working time
            candidates = found.select("case_id", "timestamp", "timestamp__b").collect()
            working = self.calendar.seconds(
                candidates["timestamp"], candidates["timestamp__b"], candidates["case_id"]
            )
            found = candidates.filter(working <= self.within.total_seconds()).lazy()
        found = found.select("case_id").unique()
        return events.join(found, on="case_id", how="anti" if self.exclude else "semi")

    def query(self) -> list[tuple[str, str]]:
        spec: dict[str, object] = {"a": self.source, "b": self.target}
        if self.directly:
            spec["directly"] = True
        if self.within is not None:
            spec["within"] = self.within.total_seconds()
        if self.same is not None:
            spec["same"] = self.same
        if self.different is not None:
            spec["different"] = self.different
        if self.exclude:
            spec["exclude"] = True
        if self.within is not None and self.calendar is not None:  # which working time
            definition = self.calendar.to_json().encode()
            spec["calendar"] = f"{self.calendar.name}@{hashlib.sha256(definition).hexdigest()[:12]}"
        return [("follows", json.dumps(spec, ensure_ascii=False))]

    def describe(self) -> str:
        how = "directly followed" if self.directly else "followed"
        text = f"cases where {self.source} is {how} by {self.target}"
        if self.within is not None:
            text += f" within {self.within}"
            if self.calendar is not None:
                text += f" of working time ({self.calendar.name})"
        if self.same is not None:
            text += f", same {self.same}"
        if self.different is not None:
            text += f", different {self.different}"
        return f"not ({text})" if self.exclude else text

    @classmethod
    def from_query(cls, text: str) -> Follows:
        """The filter a URL's ``follows`` value names (JSON, as `query` writes it)."""
        try:
            spec = json.loads(text)
            return cls(
                str(spec["a"]),
                str(spec["b"]),
                directly=bool(spec.get("directly", False)),
                within=None
                if spec.get("within") is None
                else timedelta(seconds=float(spec["within"])),
                same=spec.get("same"),
                different=spec.get("different"),
                exclude=bool(spec.get("exclude", False)),
            )
        except (ValueError, TypeError, KeyError):
            raise WorkbenchError(f"follows={text!r}: not a follower filter") from None


@dataclass(frozen=True)
class CaseDuration:
    """Cases whose duration (first to last event) lies within bounds."""

    min: timedelta | None = None
    max: timedelta | None = None

    def apply(self, events: pl.LazyFrame) -> pl.LazyFrame:
        duration = pl.col("timestamp").max() - pl.col("timestamp").min()
        return _keep_cases(events, _bounded(duration, self.min, self.max))

    def on_cases(self) -> pl.Expr:
        """The cases this keeps, over per-case rows (`projections.case_rows`)."""
        return _bounded(pl.col("duration"), self.min, self.max)

    def query(self) -> list[tuple[str, str]]:
        pairs = []
        if self.min is not None:
            pairs.append(("duration_min", str(int(self.min.total_seconds()))))
        if self.max is not None:
            pairs.append(("duration_max", str(int(self.max.total_seconds()))))
        return pairs

    def describe(self) -> str:
        return f"cases lasting {self.min or 0} to {self.max or '∞'}"


@dataclass(frozen=True)
class CaseSize:
    """Cases with a number of events within bounds."""

    min: int | None = None
    max: int | None = None

    def apply(self, events: pl.LazyFrame) -> pl.LazyFrame:
        return _keep_cases(events, _bounded(pl.len(), self.min, self.max))

    def on_cases(self) -> pl.Expr:
        """The cases this keeps, over per-case rows (`projections.case_rows`)."""
        return _bounded(pl.col("events"), self.min, self.max)

    def query(self) -> list[tuple[str, str]]:
        pairs = []
        if self.min is not None:
            pairs.append(("size_min", str(self.min)))
        if self.max is not None:
            pairs.append(("size_max", str(self.max)))
        return pairs

    def describe(self) -> str:
        return f"cases with {self.min or 0} to {self.max or '∞'} events"


@dataclass(frozen=True)
class Lifecycle:
    """Events with the given lifecycle transitions (e.g. only ``complete``)."""

    values: tuple[str, ...]

    def apply(self, events: pl.LazyFrame) -> pl.LazyFrame:
        wanted = [value.lower() for value in self.values]
        return events.filter(pl.col("lifecycle").str.to_lowercase().is_in(wanted))

    def query(self) -> list[tuple[str, str]]:
        return [("lifecycle", value) for value in self.values]

    def describe(self) -> str:
        return f"{', '.join(self.values)} events"


@dataclass(frozen=True)
class ActivityCoverage:
    """Abstraction: keep the most frequent activities that together cover ``percent`` % of the
    events (at least one), and drop the events of the others, as a process-map slider does."""

    percent: float

    def apply(self, events: pl.LazyFrame) -> pl.LazyFrame:
        kept = kept_activities(events, self.percent)
        return events.join(kept, on="activity", how="semi", maintain_order="left")

    def query(self) -> list[tuple[str, str]]:
        return [("activity_coverage", f"{self.percent:g}")]

    def describe(self) -> str:
        return f"activities covering {self.percent:g}% of events"


#: A case list longer than this goes into a URL by reference (see `Cases`).
LISTED_CASES = 50


@dataclass(frozen=True)
class Cases:
    """The cases with the given ids (for example the cases that do not fit a model).

    A short list goes into the URL as it is; a long one by ``ref``, the name under which
    it was stored with the log (`case_list_name`), so that a link stays short and still
    opens the same cases. ``label`` says what the list is."""

    ids: tuple[str, ...]
    ref: str | None = None
    label: str = ""

    def on_cases(self) -> pl.Expr:
        """The cases this keeps, over per-case rows (`projections.case_rows`)."""
        return pl.col("case_id").cast(pl.String).is_in(list(self.ids))

    def apply(self, events: pl.LazyFrame) -> pl.LazyFrame:
        wanted = pl.LazyFrame({"_case": list(self.ids)}, schema={"_case": pl.String})
        return events.join(
            wanted,
            left_on=pl.col("case_id").cast(pl.String),
            right_on="_case",
            how="semi",
            maintain_order="left",
        )

    def query(self) -> list[tuple[str, str]]:
        pairs = [("cases_label", self.label)] if self.label else []
        if self.ref is not None:
            return [*pairs, ("cases_ref", self.ref)]
        return [*pairs, *(("case", case) for case in self.ids)]

    def describe(self) -> str:
        what = self.label or "chosen cases"
        if self.ref is not None and not self.ids:
            return f"{what} (a stored list this store does not have: no case)"
        return f"{what} ({len(self.ids):,} case{'s' if len(self.ids) != 1 else ''})"

    @classmethod
    def of(cls, ids: Iterable[str], label: str = "") -> Cases:
        """The filter for these cases; a long list gets its reference (store the list
        under `case_list_name` of it)."""
        chosen = tuple(sorted(set(ids)))
        if len(chosen) <= LISTED_CASES:
            return cls(chosen, None, label)
        digest = hashlib.sha256("\x00".join(chosen).encode()).hexdigest()[:16]
        return cls(chosen, digest, label)


def case_list_name(ref: str) -> str:
    """The name a long case list is stored under with its log (`StoredProjections`)."""
    return f"case-list/{ref}"


def kept_activities(events: pl.LazyFrame, percent: float) -> pl.LazyFrame:
    """The most frequent activities covering ``percent`` % of events (at least one)."""
    counted = (
        events.group_by("activity")
        .agg(frequency=pl.len())
        .sort(["frequency", "activity"], descending=[True, False])
        .with_columns(before=pl.col("frequency").cum_sum() - pl.col("frequency"))
    )
    total = pl.col("frequency").sum()
    return counted.filter(
        (pl.col("before") < total * percent / 100) | (pl.int_range(pl.len()) == 0)
    ).select("activity")


@dataclass(frozen=True)
class Filters:
    """Filters applied in order; empty means the whole log."""

    items: tuple[Filter, ...] = field(default_factory=tuple)

    def apply(self, events: pl.LazyFrame) -> pl.LazyFrame:
        """The events that pass every filter."""
        for item in self.items:
            events = item.apply(events)
        return events

    def on_cases(self) -> pl.Expr | None:
        """The cases these filters keep, over per-case rows (`projections.case_rows`), when
        every filter keeps or drops whole cases by what the rows hold; None when one drops
        events or needs more (then the events are filtered)."""
        condition = pl.lit(True)
        for item in self.items:
            judge = getattr(item, "on_cases", None)
            found = judge() if judge is not None else None
            if found is None:
                return None
            condition = condition & found
        return condition

    def __bool__(self) -> bool:
        return bool(self.items)

    def in_calendar(self, calendar: Hours | None) -> Filters:
        """The filters with the follower filter's ``within`` in the ``calendar``'s working
        time (elapsed time when None)."""
        return Filters(
            tuple(
                replace(item, calendar=calendar) if isinstance(item, Follows) else item
                for item in self.items
            )
        )

    def describe(self) -> list[str]:
        """A line per filter, for people."""
        return [item.describe() for item in self.items]

    def to_query(self) -> str:
        """A URL query string that `from_query` turns back into the same filters."""
        return urlencode([pair for item in self.items for pair in item.query()])

    @classmethod
    def from_query(
        cls,
        query: str | Mapping[str, str | list[str]],
        lists: Callable[[str], Sequence[str] | None] | None = None,
    ) -> Filters:
        """Filters from a URL query (a string or a mapping of names to values); ``lists``
        finds a stored case list by its reference (`Cases`)."""
        pairs = list(_pairs(query))
        values: dict[str, list[str]] = {}
        for key, value in pairs:
            values.setdefault(key, []).append(value)
        items: list[Filter] = []
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                continue
            seen.add(key)
            items.extend(_parse(key, values, seen, lists))
        return cls(tuple(items))


def _pairs(query: str | Mapping[str, str | list[str]]) -> Iterable[tuple[str, str]]:
    if isinstance(query, str):
        yield from parse_qsl(query.lstrip("?"), keep_blank_values=False)
        return
    for key, value in query.items():
        for one in [value] if isinstance(value, str) else value:
            yield key, one


def _attribute_values(text: str) -> tuple[str, tuple[str, ...]]:
    """An attribute filter's name and values: JSON ``[name, [values]]``, or the short form
    ``name=a,b`` a person may type into a URL."""
    try:
        name, listed = json.loads(text)
        return str(name), tuple(str(value) for value in listed)
    except (ValueError, TypeError):
        name, _, listed = text.partition("=")
        return name, tuple(listed.split(","))


def _sequence(text: str) -> tuple[str, ...]:
    """A variant: JSON ``[activities]``, or activities joined by an arrow."""
    try:
        found = json.loads(text)
    except ValueError:
        return tuple(text.split("\u2192"))
    return tuple(str(a) for a in found) if isinstance(found, list) else (str(found),)


def _parse(
    key: str,
    values: dict[str, list[str]],
    seen: set[str],
    lists: Callable[[str], Sequence[str] | None] | None = None,
) -> list[Filter]:
    """The filter(s) a query key starts; related keys are marked as seen."""
    first = values[key][0]
    if key in ("case", "cases_ref", "cases_label"):
        seen.update(("case", "cases_ref", "cases_label"))
        label = values.get("cases_label", [""])[0]
        ref = values.get("cases_ref", [None])[0]
        if ref is None:
            return [Cases(tuple(values.get("case", [])), None, label)]
        found = lists(ref) if lists is not None else None
        return [Cases(tuple(found or ()), ref, label)]
    if key in ("from", "to", "time_mode"):
        seen.update(("from", "to", "time_mode"))
        start, end = values.get("from", [None])[0], values.get("to", [None])[0]
        mode = values.get("time_mode", ["intersecting"])[0]
        since = parse_time(start) if start else None
        until = parse_time(end) if end else None
        return [TimeRange(since, until, mode)]  # type: ignore[arg-type]
    if key in ("attr", "attr_not", "event_attr", "event_attr_not"):
        level = "event" if key.startswith("event") else "case"
        result: list[Filter] = []
        for item in values[key]:
            name, listed = _attribute_values(item)
            result.append(
                Attribute(name, listed, level, keep=not key.endswith("_not"))  # type: ignore[arg-type]
            )
        return result
    if key in ("variants_top", "variants_coverage", "variant"):
        seen.update(("variants_top", "variants_coverage", "variant"))
        top = values.get("variants_top", [None])[0]
        coverage = values.get("variants_coverage", [None])[0]
        chosen = tuple(_sequence(v) for v in values.get("variant", []))
        return [Variants(int(top) if top else None, float(coverage) if coverage else None, chosen)]
    if key in ("start", "end"):
        return [Endpoints(tuple(values[key]), key)]  # type: ignore[arg-type]
    if key == "activity":
        return [Contains(tuple(values[key]))]
    if key == "follows":
        return [Follows.from_query(text) for text in values[key]]
    if key in ("duration_min", "duration_max"):
        seen.update(("duration_min", "duration_max"))
        low, high = values.get("duration_min", [None])[0], values.get("duration_max", [None])[0]
        return [
            CaseDuration(
                timedelta(seconds=float(low)) if low else None,
                timedelta(seconds=float(high)) if high else None,
            )
        ]
    if key in ("size_min", "size_max"):
        seen.update(("size_min", "size_max"))
        low, high = values.get("size_min", [None])[0], values.get("size_max", [None])[0]
        return [CaseSize(int(low) if low else None, int(high) if high else None)]
    if key == "lifecycle":
        return [Lifecycle(tuple(values[key]))]
    if key == "activity_coverage":
        return [ActivityCoverage(float(first))]
    return []
