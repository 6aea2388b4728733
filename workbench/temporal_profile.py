"""The temporal profile (Stertz et al.): how long after an A a B comes, in the same case.

For every pair of events of a case, the first before the second (time, then append
order), the time between them is an observation of the pair of their activities. The
profile keeps per pair of activities the mean and the (sample) standard deviation of its
observations, as pm4py's ``discover_temporal_profile`` does. A case deviates from it where
an observation lies further than ``zeta`` standard deviations from its pair's mean
(pm4py's ``conformance_temporal_profile``; zeta is 6 there and here by default); a pair
with one observation, or with equal ones, has a deviation of 0, and then any other time
deviates.

Each case is worked on as arrays: the times between all its pairs of events at once, the
cases in batches of similar length.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import polars as pl

DEFAULT_ZETA: Final = 6.0
TEMPLATE: Final = "temporal_profile"  # how a checked pair is named beside Declare's
_CELLS: Final = 4_000_000  # cases x events x events worked on at once


@dataclass(frozen=True)
class Gap:
    """The time from an A to a later B in a case: its mean and standard deviation in
    seconds over the observations (every such pair of events in every case)."""

    activities: tuple[str, str]
    mean_seconds: float
    stdev_seconds: float
    observations: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "activities": list(self.activities),
            "mean_seconds": self.mean_seconds,
            "stdev_seconds": self.stdev_seconds,
            "observations": self.observations,
        }


@dataclass(frozen=True)
class Deviation:
    """An observation outside its pair's band: the pair, the seconds, how many standard
    deviations from the mean (`sys.maxsize` where the deviation is 0), and the events."""

    activities: tuple[str, str]
    seconds: float
    zeta: float
    events: tuple[str, str]


@dataclass
class Cases:
    """A log's cases as arrays: activity codes, times in seconds from the case's first
    event, event ids; and the activities by code."""

    activities: list[str]
    ids: list[str]
    codes: list[np.ndarray]
    seconds: list[np.ndarray]
    events: pl.Series | None = None  # per case, its event ids (a list each)

    def event_ids(self, index: int) -> list[str]:
        """The event ids of the case at ``index``, read when asked (few cases deviate)."""
        assert self.events is not None
        return list(self.events[index])


def cases(events: pl.LazyFrame | pl.DataFrame, *, with_events: bool = False) -> Cases:
    """The cases of events in case order (case, time, position)."""
    columns = [
        pl.col("case_id").cast(pl.String),
        pl.col("activity").cast(pl.String),
        pl.col("timestamp").dt.epoch("us").alias("micros"),
        *([pl.col("event_id").cast(pl.String)] if with_events else []),
    ]
    frame = events.lazy().select(columns).collect()
    activities = sorted(frame["activity"].unique().drop_nulls().to_list())
    codes = {name: index for index, name in enumerate(activities)}
    coded = frame.with_columns(code=pl.col("activity").replace_strict(codes, return_dtype=pl.Int32))
    grouped = coded.group_by("case_id", maintain_order=True).agg(
        "code", "micros", *(["event_id"] if with_events else [])
    )
    micros = grouped["micros"].to_list()
    return Cases(
        activities,
        grouped["case_id"].to_list(),
        [np.asarray(c, dtype=np.int64) for c in grouped["code"].to_list()],
        [(np.asarray(m, dtype=np.int64) - m[0]) / 1e6 for m in micros],
        grouped["event_id"] if with_events else None,
    )


def _batches(lengths: Sequence[int]) -> Iterator[np.ndarray]:
    """Case indices in batches of similar length, at most `_CELLS` cells of pairs each."""
    order = np.argsort(np.asarray(lengths), kind="stable")
    start = 0
    while start < len(order):
        end = start + 1
        while end < len(order) and (end - start + 1) * lengths[order[end]] ** 2 <= _CELLS:
            end += 1
        yield order[start:end]
        start = end


def _pairs(found: Cases, batch: np.ndarray) -> tuple[Any, ...]:
    """Every pair of events (earlier, later) of the batch's cases: the case (its index in
    the batch), the two positions, the pair's code (a * activities + b) and the seconds
    between them."""
    size = len(found.activities)
    longest = max(len(found.codes[i]) for i in batch)
    codes = np.full((len(batch), longest), -1)
    seconds = np.zeros((len(batch), longest))
    for place, index in enumerate(batch):
        codes[place, : len(found.codes[index])] = found.codes[index]
        seconds[place, : len(found.codes[index])] = found.seconds[index]
    first, second = np.triu_indices(longest, 1)
    real = (codes[:, first] >= 0) & (codes[:, second] >= 0)
    row, pair = np.nonzero(real)
    i, j = first[pair], second[pair]
    code = codes[row, i] * size + codes[row, j]
    gap = seconds[row, j] - seconds[row, i]
    return row, i, j, code, gap


def discover(events: pl.LazyFrame | pl.DataFrame) -> list[Gap]:
    """The temporal profile of a log: every pair of activities that occur in this order
    in some case, by activities."""
    found = cases(events)
    size = len(found.activities)
    cells = size * size
    count = np.zeros(cells, dtype=np.int64)
    mean = np.zeros(cells)
    squares = np.zeros(cells)  # the sum of squared deviations from the mean, per pair
    for batch in _batches([len(c) for c in found.codes]):
        _, _, _, code, gap = _pairs(found, batch)
        # The batch's own count, mean and squares, merged into the running ones (Chan et
        # al.): one pass over the pairs, as exact as two.
        here = np.bincount(code, minlength=cells)
        own = np.divide(
            np.bincount(code, weights=gap, minlength=cells),
            here,
            out=np.zeros(cells),
            where=here > 0,
        )
        own_squares = np.bincount(code, weights=(gap - own[code]) ** 2, minlength=cells)
        merged = count + here
        delta = own - mean
        share = np.divide(here, merged, out=np.zeros(cells), where=merged > 0)
        squares += own_squares + delta**2 * count * share
        mean += delta * share
        count = merged
    spread = np.sqrt(np.divide(squares, count - 1, out=np.zeros_like(squares), where=count > 1))
    gaps = []
    for code in np.flatnonzero(count):
        a, b = divmod(int(code), size)
        names = (found.activities[a], found.activities[b])
        gaps.append(Gap(names, float(mean[code]), float(spread[code]), int(count[code])))
    return sorted(gaps, key=lambda g: g.activities)


@dataclass(frozen=True)
class ProfileCheck:
    """A log against a temporal profile: per pair the cases that have it and those that
    deviate; per case its deviations (in pm4py's order) and the pairs it deviates on."""

    gaps: list[tuple[Gap, int, list[str]]]  # the pair, the cases having it, those deviating
    deviations: dict[str, list[Deviation]]
    observations: dict[str, int]  # per case, its observations of the profile's pairs

    def as_dict(self) -> dict[str, Any]:
        """As `workbench.rules.Checked.as_dict` gives Declare's, with each pair's mean and
        deviation, and each case's deviations: [a, b, seconds, zeta] (zeta None where the
        pair's deviation is 0)."""
        rules = [
            {
                "template": TEMPLATE,
                "activities": list(gap.activities),
                "mean_seconds": gap.mean_seconds,
                "stdev_seconds": gap.stdev_seconds,
                "activations": having,
                "fulfilments": having - len(violating),
                "violations": len(violating),
                "violating_cases": violating,
            }
            for gap, having, violating in self.gaps
        ]
        cases = []
        for case_id in sorted(self.deviations):
            found = self.deviations[case_id]
            pairs = list(dict.fromkeys(d.activities for d in found))
            cases.append(
                {
                    "case_id": case_id,
                    "violated": [[TEMPLATE, list(pair)] for pair in pairs],
                    "events": [
                        sorted({e for d in found if d.activities == pair for e in d.events})
                        for pair in pairs
                    ],
                    "deviations": [
                        [*d.activities, d.seconds, None if d.zeta >= sys.maxsize else d.zeta]
                        for d in found
                    ],
                    "fitness": self.fitness(case_id),
                }
            )
        return {"rules": rules, "cases": cases}

    def fitness(self, case_id: str) -> float:
        """The share of the case's observations within their bands (1.0 without any)."""
        seen = self.observations.get(case_id, 0)
        return 1.0 - len(self.deviations.get(case_id, [])) / seen if seen else 1.0


def check(
    events: pl.LazyFrame | pl.DataFrame, profile: Sequence[Gap], zeta: float = DEFAULT_ZETA
) -> ProfileCheck:
    """Each case's observations against the profile's pairs."""
    found = cases(events, with_events=True)
    names = list(found.activities)
    for gap in profile:
        names.extend(a for a in gap.activities if a not in names)
    size = len(names)
    codes = {name: index for index, name in enumerate(names)}
    remap = np.array([codes[a] for a in found.activities], dtype=np.int64)
    found.codes = [remap[c] if len(remap) else c for c in found.codes]
    found.activities = names
    known = np.full(size * size, -1)
    mean = np.zeros(size * size)
    spread = np.zeros(size * size)
    for number, pair in enumerate(profile):
        at = codes[pair.activities[0]] * size + codes[pair.activities[1]]
        known[at], mean[at], spread[at] = number, pair.mean_seconds, pair.stdev_seconds
    having = np.zeros(len(profile), dtype=np.int64)
    deviating: list[set[int]] = [set() for _ in profile]
    deviations: dict[str, list[Deviation]] = {case: [] for case in found.ids}
    observations: dict[str, int] = {}
    for batch in _batches([len(c) for c in found.codes]):
        row, i, j, code, gap = _pairs(found, batch)
        rule = known[code]
        kept = rule >= 0
        if not kept.all():  # pairs the profile does not have
            row, i, j, code, gap, rule = (v[kept] for v in (row, i, j, code, gap, rule))
        observed = np.bincount(row, minlength=len(batch))
        for r, index in enumerate(batch):
            observations[found.ids[int(index)]] = int(observed[r])
        seen = np.zeros((len(batch), len(profile)), dtype=bool)  # (case, rule) once each
        seen[row, rule] = True
        having += seen.sum(axis=0)
        low, high = mean[code] - zeta * spread[code], mean[code] + zeta * spread[code]
        off = (gap < low) | (gap > high)
        order = np.lexsort((j[off], i[off], row[off]))
        for r, first, second, pair, seconds, number in zip(
            row[off][order], i[off][order], j[off][order], code[off][order],
            gap[off][order], rule[off][order], strict=True,
        ):  # fmt: skip
            index = int(batch[r])
            deviating[int(number)].add(index)
            std = spread[pair]
            distance = abs(seconds - mean[pair]) / std if std > 0 else float(sys.maxsize)
            ids = found.event_ids(index)
            a, b = divmod(int(pair), size)
            deviations[found.ids[index]].append(
                Deviation(
                    (names[a], names[b]),
                    float(seconds),
                    float(distance),
                    (ids[int(first)], ids[int(second)]),
                )
            )
    gaps = [
        (pair, int(having[n]), sorted(found.ids[k] for k in deviating[n]))
        for n, pair in enumerate(profile)
    ]
    return ProfileCheck(gaps, deviations, observations)


def finite(value: float) -> float | None:
    """A number for JSON (None for what JSON cannot hold)."""
    return value if math.isfinite(value) else None
