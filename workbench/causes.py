"""Root causes ranked by impact: what sets the cases with an outcome apart.

An outcome is a set of cases: slow ones, ones containing an activity or an attribute
value, ones violating a rule, ones that do not fit a model (`Outcome`; the application
works out which cases have it). The candidate explanations are groups of cases: those
with a case or event attribute value, with a resource, containing an activity or lacking
it, of a variant, starting in a month or on a weekday. For each group the answer gives the
outcome's rate in it against its rate in the other cases (the lift), how many cases the
group accounts for beyond the overall rate (the impact), the median duration of its cases,
and the probability of so many outcome cases in a group that size by chance: a one-sided
hypergeometric test (Fisher's exact test), its p-values adjusted for the number of groups
tried (Holm's step-down method), so that chance is not ranked. Pairs of the strongest
groups are tried too (a resource in one region, where neither by itself is the cause).
The groups that pass (adjusted p below ``alpha``) come first, the most certain first,
then by impact; the others follow, marked.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final

import numpy as np
import polars as pl

from workbench.events import VOCABULARY, WorkbenchError
from workbench.rules import RulesError, written

ALPHA: Final = 0.05
#: Outcomes by their first word.
KINDS: Final = ("slow", "activity", "attribute", "ends-otherwise", "violates", "not-fitting")
_STRONGEST: Final = 12  # single groups whose pairs are tried too
_UNITS: Final = {"s": 1, "min": 60, "h": 3600, "d": 86_400, "w": 604_800}
_WEEKDAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class CausesError(WorkbenchError):
    """An outcome that cannot be read (one line, naming it)."""


@dataclass(frozen=True)
class Outcome:
    """What a case has or not: ``slow`` (duration above the p90), ``slow:p75`` (another
    percentile), ``slow:7d`` (above a duration), ``activity:A``, ``attribute:K=V``,
    ``ends-otherwise:A,B`` (the last activity is none of them), ``violates:TEMPLATE(A,B)``
    (a Declare rule), ``not-fitting`` (against a model)."""

    kind: str
    text: str
    percentile: float | None = None
    longer_than: timedelta | None = None
    activity: str | None = None
    attribute: tuple[str, str] | None = None
    rule: tuple[str, tuple[str, ...]] | None = None
    ends: tuple[str, ...] | None = None

    @classmethod
    def parse(cls, text: str) -> Outcome:
        kind, _, rest = text.partition(":")
        if kind == "slow":
            if not rest:
                return cls(kind, text, percentile=0.9)
            found = re.fullmatch(r"p(\d{1,2}(?:\.\d+)?)", rest)
            if found:
                return cls(kind, text, percentile=float(found.group(1)) / 100)
            found = re.fullmatch(r"(\d+(?:\.\d+)?)(s|min|h|d|w)", rest)
            if found is None:
                raise CausesError(f"--outcome {text}: write slow, slow:p75 or slow:7d")
            seconds = float(found.group(1)) * _UNITS[found.group(2)]
            return cls(kind, text, longer_than=timedelta(seconds=seconds))
        if kind == "activity" and rest:
            return cls(kind, text, activity=rest)
        if kind == "attribute" and "=" in rest:
            key, _, value = rest.partition("=")
            return cls(kind, text, attribute=(key, value))
        if kind == "violates":
            try:
                return cls(kind, text, rule=written(rest, f"--outcome {text}:").key)
            except RulesError as error:
                raise CausesError(str(error)) from None
        if kind == "ends-otherwise" and rest:
            return cls(kind, text, ends=tuple(a.strip() for a in rest.split(",")))
        if kind == "not-fitting" and not rest:
            return cls(kind, text)
        raise CausesError(
            f"--outcome {text!r}: choose slow, slow:p75, slow:7d, activity:A, attribute:K=V,"
            " ends-otherwise:A,B, violates:TEMPLATE(A,B) or not-fitting"
        )


@dataclass(frozen=True)
class Causes:
    """The outcome, its cases among all, and the groups tried, best first; ``members``
    says which cases are in which single group, ``parts`` which two groups a pair is."""

    outcome: str
    cases: int
    total: int
    table: pl.DataFrame
    members: pl.DataFrame | None = field(default=None, repr=False, compare=False)
    parts: dict[tuple[str, str, str], tuple[tuple[str, str, str], ...]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def cases_of(self, kind: str, name: str, value: str) -> list[str]:
        """The ids of the cases in a group of the table."""
        if self.members is None:
            return []
        wanted = self.parts.get((kind, name, value), ((kind, name, value),))
        found: set[str] | None = None
        for part in wanted:
            ids = set(
                self.members.filter(
                    (pl.col("kind") == part[0])
                    & (pl.col("name") == part[1])
                    & (pl.col("value") == part[2])
                )["case_id"].to_list()
            )
            found = ids if found is None else found & ids
        return sorted(found or ())

    def as_dict(self, top: int | None = None) -> dict[str, Any]:
        rows = self.table.head(top) if top is not None else self.table
        return {
            "outcome": self.outcome,
            "cases": self.cases,
            "total_cases": self.total,
            "rate": self.cases / self.total if self.total else None,
            "causes": [
                {
                    **row,
                    "median_duration_seconds": _finite(row["median_duration_seconds"]),
                }
                for row in rows.iter_rows(named=True)
            ],
        }


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def candidates(events: pl.LazyFrame, table: pl.DataFrame, *, exclude: set[str]) -> pl.DataFrame:
    """The groups of cases to try: one row per case and group (``kind``, ``name``,
    ``value``). ``exclude`` names the attributes (``K``) and activities (``activity:A``)
    that define the outcome: groups by them would explain it by itself."""
    schema = events.collect_schema()
    frames: list[pl.LazyFrame | pl.DataFrame] = []
    present = events.select("case_id", "activity").unique()
    frames.append(
        present.select(
            "case_id", kind=pl.lit("activity"), name=pl.lit("contains"), value=pl.col("activity")
        )
    )
    activities = table.select("case_id").join(
        present.select("activity").unique().collect(), how="cross"
    )
    lacking = activities.join(present.collect(), on=["case_id", "activity"], how="anti")
    frames.append(
        lacking.select(
            "case_id", kind=pl.lit("activity"), name=pl.lit("lacks"), value=pl.col("activity")
        )
    )
    if "resource" in schema:
        frames.append(
            events.filter(pl.col("resource").is_not_null())
            .select(
                "case_id",
                kind=pl.lit("resource"),
                name=pl.lit("resource"),
                value=pl.col("resource").cast(pl.String),
            )
            .unique()
        )
    frames.append(
        table.select(
            "case_id",
            kind=pl.lit("variant"),
            name=pl.lit("variant"),
            value=pl.col("variant").list.join(" → "),
        )
    )
    frames.append(
        table.select(
            "case_id",
            kind=pl.lit("start"),
            name=pl.lit("month"),
            value=pl.col("start").dt.strftime("%Y-%m"),
        )
    )
    weekday = (
        pl.col("start")
        .dt.weekday()
        .replace_strict(dict(enumerate(_WEEKDAYS, start=1)), return_dtype=pl.String)
    )
    frames.append(
        table.select("case_id", kind=pl.lit("start"), name=pl.lit("weekday"), value=weekday)
    )
    for name in schema.names():
        if name in VOCABULARY or name in exclude or schema[name].is_temporal():
            continue
        column = events.select(pl.col(name))
        kind = schema[name]
        if kind.is_numeric() and column.select(pl.col(name).n_unique()).collect().item() > 8:
            per_case = events.group_by("case_id").agg(pl.col(name).max())
            edges = (
                per_case.select(pl.col(name).quantile(q).alias(f"q{q}") for q in (0.25, 0.5, 0.75))
                .collect()
                .row(0)
            )
            value = (
                pl.when(pl.col(name) <= edges[0])
                .then(pl.lit(f"≤ {edges[0]:g}"))
                .when(pl.col(name) <= edges[1])
                .then(pl.lit(f"{edges[0]:g} to {edges[1]:g}"))
                .when(pl.col(name) <= edges[2])
                .then(pl.lit(f"{edges[1]:g} to {edges[2]:g}"))
                .otherwise(pl.lit(f"> {edges[2]:g}"))
            )
            frames.append(
                per_case.filter(pl.col(name).is_not_null()).select(
                    "case_id", kind=pl.lit("attribute"), name=pl.lit(name), value=value
                )
            )
            continue
        frames.append(
            events.filter(pl.col(name).is_not_null())
            .select(
                "case_id",
                kind=pl.lit("attribute"),
                name=pl.lit(name),
                value=pl.col(name).cast(pl.String),
            )
            .unique()
        )
    collected = [f.collect() if isinstance(f, pl.LazyFrame) else f for f in frames]
    found = pl.concat(
        [f.with_columns(pl.col("case_id").cast(pl.String)) for f in collected if f.height],
        how="vertical_relaxed",
    )
    left_out = [name.removeprefix("activity:") for name in exclude if name.startswith("activity:")]
    if left_out:  # the activities that define the outcome say nothing about it
        found = found.filter(~((pl.col("kind") == "activity") & pl.col("value").is_in(left_out)))
    return found


def rank(
    events: pl.LazyFrame,
    table: pl.DataFrame,
    having: set[str],
    outcome: str,
    *,
    exclude: set[str] | None = None,
    min_cases: int | None = None,
    alpha: float = ALPHA,
) -> Causes:
    """The groups of cases ranked by what they explain of ``having`` (the ids of the cases
    with the outcome) among the cases of ``table`` (`workbench.projections.cases`)."""
    from scipy.stats import hypergeom

    table = table.with_columns(pl.col("case_id").cast(pl.String))
    total = table.height
    labelled = table.select(
        "case_id",
        seconds=pl.col("duration").dt.total_microseconds() / 1e6,
        outcome=pl.col("case_id").is_in(list(having)),
    )
    hits = int(labelled["outcome"].sum())
    empty = Causes(outcome, hits, total, _empty())
    if total == 0 or hits == 0 or hits == total:
        return empty
    floor = min_cases if min_cases is not None else max(5, math.ceil(total / 100))
    members = candidates(events, table, exclude=exclude or set()).join(labelled, on="case_id")
    groups = _groups(members, floor, total)
    overall = hits / total
    singles = groups.height
    combined = _pairs(members, groups, overall, floor, total)
    groups = pl.concat([groups, combined.select(groups.columns)])
    # The pairs tried were chosen for their strong parts: the family is every pair that
    # could have been, or chance would pass through the choosing.
    family = singles + singles * (singles - 1) // 2
    if groups.is_empty():
        return empty
    size = groups["cases"].to_numpy()
    inside = groups["outcome_cases"].to_numpy()
    # P(at least this many outcome cases among `size` drawn from `total` with `hits`).
    p_values = hypergeom.sf(inside - 1, total, hits, size)
    adjusted = _holm(p_values, family)
    ranked = (
        groups.with_columns(
            rate=pl.col("outcome_cases") / pl.col("cases"),
            rate_without=(hits - pl.col("outcome_cases")) / (total - pl.col("cases")),
            impact=pl.col("outcome_cases") - pl.col("cases") * overall,
            p_value=pl.Series(adjusted),
        )
        .with_columns(
            lift=pl.col("rate") / overall,
            significant=pl.col("p_value") < alpha,
        )
        .filter(pl.col("rate") > pl.col("rate_without"))
        .sort(
            ["significant", "p_value", "impact", "kind", "name", "value"],
            descending=[True, False, True, False, False, False],
        )
        .select(
            "kind",
            "name",
            "value",
            "cases",
            "outcome_cases",
            "rate",
            "rate_without",
            "lift",
            "impact",
            "median_duration_seconds",
            "p_value",
            "significant",
        )
    )
    pairs: dict[tuple[str, str, str], tuple[tuple[str, str, str], ...]] = {
        (row["kind"], row["name"], row["value"]): (
            (row["kind_1"], row["name_1"], row["value_1"]),
            (row["kind_2"], row["name_2"], row["value_2"]),
        )
        for row in combined.iter_rows(named=True)
    }
    return Causes(
        outcome, hits, total, ranked, members.select("case_id", "kind", "name", "value"), pairs
    )


def _groups(members: pl.DataFrame, floor: int, total: int) -> pl.DataFrame:
    """Per group: its cases, those with the outcome, their median duration."""
    return (
        members.group_by("kind", "name", "value")
        .agg(
            cases=pl.len(),
            outcome_cases=pl.col("outcome").sum().cast(pl.UInt32),
            median_duration_seconds=pl.col("seconds").median(),
        )
        .with_columns(pl.col("cases").cast(pl.UInt32))
        .filter((pl.col("cases") >= floor) & (pl.col("cases") < total))
    )


def _pairs(
    members: pl.DataFrame, groups: pl.DataFrame, overall: float, floor: int, total: int
) -> pl.DataFrame:
    """The cases two of the strongest groups (by impact, of different names) have in
    common, as groups of their own (kind ``combination``): a cause may be a resource in
    one region, and neither by itself."""
    strongest = (
        groups.filter(pl.col("outcome_cases") > pl.col("cases") * overall)
        .with_columns(impact=pl.col("outcome_cases") - pl.col("cases") * overall)
        .sort(["impact", "kind", "name", "value"], descending=[True, False, False, False])
        .head(_STRONGEST)
        .select("kind", "name", "value")
    )
    chosen = members.join(strongest, on=["kind", "name", "value"], how="semi").with_columns(
        label=pl.format("{}: {}", "kind", "name")
    )
    pairs = (
        chosen.join(chosen, on="case_id", suffix="_2")
        .filter(pl.col("label") < pl.col("label_2"))
        .group_by("label", "value", "label_2", "value_2", "kind", "name", "kind_2", "name_2")
        .agg(
            cases=pl.len().cast(pl.UInt32),
            outcome_cases=pl.col("outcome").sum().cast(pl.UInt32),
            median_duration_seconds=pl.col("seconds").median(),
        )
        .filter((pl.col("cases") >= floor) & (pl.col("cases") < total))
    )
    parts = groups.select(
        label=pl.format("{}: {}", "kind", "name"),
        value="value",
        part_cases="cases",
        part_rate=pl.col("outcome_cases") / pl.col("cases"),
    )
    for side in ("", "_2"):  # a pair that is one of its parts, or no sharper, says nothing new
        pairs = pairs.join(
            parts.rename({name: f"{name}{side}" for name in parts.columns}),
            on=[f"label{side}", f"value{side}"],
        ).filter(
            (pl.col("cases") < pl.col(f"part_cases{side}"))
            & (pl.col("outcome_cases") / pl.col("cases") > pl.col(f"part_rate{side}"))
        )
    return pairs.select(
        kind=pl.lit("combination"),
        name=pl.format("{} & {}", "label", "label_2"),
        value=pl.format("{} & {}", "value", "value_2"),
        cases="cases",
        outcome_cases="outcome_cases",
        median_duration_seconds="median_duration_seconds",
        kind_1="kind",
        name_1="name",
        value_1="value",
        kind_2="kind_2",
        name_2="name_2",
        value_2="value_2",
    )


def _holm(p_values: np.ndarray, family: int) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error) of the hypotheses tested,
    out of a ``family`` of that many or more (the others count as not passing)."""
    count = len(p_values)
    order = np.argsort(p_values, kind="stable")
    stepped = np.minimum(1.0, p_values[order] * (max(family, count) - np.arange(count)))
    stepped = np.maximum.accumulate(stepped)
    adjusted = np.empty(count)
    adjusted[order] = stepped
    return adjusted


def _empty() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "kind": pl.String,
            "name": pl.String,
            "value": pl.String,
            "cases": pl.UInt32,
            "outcome_cases": pl.UInt32,
            "rate": pl.Float64,
            "rate_without": pl.Float64,
            "lift": pl.Float64,
            "impact": pl.Float64,
            "median_duration_seconds": pl.Float64,
            "p_value": pl.Float64,
            "significant": pl.Boolean,
        }
    )
