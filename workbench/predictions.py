"""Predictions for open cases, trained only on what was known then.

At a moment T, the events are those knowable by T (`restatements.knowable`: recorded by
then, or, for a log imported in bulk long after it happened, reached by its frontier) and
that happened by T. From them alone come everything a prediction uses: which activities
complete a case, the cases complete by T (the training cases), the vocabulary of the
features and the models. An event recorded after T cannot change a prediction at T.

A case is complete at T when its last event is one of the activities that complete a
case (given, or those that usually end the log's cases, `timetravel.completing_activities`)
or when it has been idle longer than 99 % of the gaps between two events of a case known
then: many logs have no activity that ends their cases.

Each training case gives observation points: at each of its events but the last, and
half-way to the next one, with what was known of the case at that point (its prefix)
and what happened after (the target). An open case at T is one observation at T. The
features are the standard ones of predictive monitoring: the last three activities, how
often each activity occurred, the prefix's length, the time elapsed, since the last event
and between the last two, the time of day and the weekday, the latest value of each
attribute and the resource, and, but for the remaining time, the cases open at that
moment (the workload: `_encoding`).

Three targets:

- ``remaining-time``: the time until the case ends, its median with the 10th and 90th
  percentiles (gradient-boosted trees with the quantile loss, on the log of the seconds);
- ``next-activity``: the activity that comes next, with its probability;
- ``outcome``: the activity the case ends with, each with its probability; or the
  probability of an outcome (``outcome:activity:A``, ``outcome:attribute:K=V``, or a
  deadline missed, ``outcome:slow:7d``).

The models are scikit-learn's histogram gradient boosting, deterministic for the same
points. `backtest` walks forward: at each cut it trains on what was known then and scores
the cases open then against what happened later, beside two baselines: the mean remaining
time of training points with the same last activity and prefix length, and the majority
class.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import polars as pl

from workbench.causes import Outcome
from workbench.events import VOCABULARY, WorkbenchError
from workbench.timetravel import completing_activities, without_superseded

if TYPE_CHECKING:
    from workbench.calendars import Hours

#: What can be predicted.
TARGETS: Final = ("remaining-time", "next-activity", "outcome")
QUANTILES: Final = (0.1, 0.5, 0.9)
_MAX_POINTS: Final = 60_000  # training points a model learns from (whole cases, latest first)
_MAX_COUNTED: Final = 40  # activities whose counts in the prefix are features
_MAX_ATTRIBUTES: Final = 20  # attribute columns used as features
_MAX_CATEGORIES: Final = 200  # values of a categorical feature kept (the rest: one "other")
MIN_CASES: Final = 20  # completed cases a model needs
_IDLE: Final = 0.99  # a case idle longer than this quantile of the gaps between events ended
_ITERATIONS: Final = 100
_HELD: Final = 0.25  # the share of training cases held out to calibrate the intervals
_LEAST_CHANCE: Final = 0.05  # a case's weight is at most 20 times another's for censoring
_STATE: Final = ("case_id", "k", "timestamp")  # where a point is, for its censoring


class PredictionError(WorkbenchError):
    """A prediction that cannot be made as asked (one line)."""


@dataclass(frozen=True)
class Target:
    """What is predicted: ``kind`` is one of `TARGETS`; an outcome is the end activity,
    or, with ``outcome``, whether a case has it (a `causes.Outcome`: activity:A,
    attribute:K=V or slow:7d)."""

    kind: str
    text: str
    outcome: Outcome | None = None

    @classmethod
    def parse(cls, text: str) -> Target:
        if text in TARGETS:
            return cls(text, text)
        if text.startswith("outcome:"):
            try:
                wanted = Outcome.parse(text.removeprefix("outcome:"))
            except WorkbenchError as error:
                raise PredictionError(f"--target {text}: {error}") from None
            if wanted.kind not in ("activity", "attribute") and wanted.longer_than is None:
                raise PredictionError(
                    f"--target {text}: an outcome is activity:A, attribute:K=V or slow:7d"
                    " (a deadline)"
                )
            return cls("outcome", text, wanted)
        raise PredictionError(
            f"--target {text!r}: choose remaining-time, next-activity, outcome, or"
            " outcome:activity:A, outcome:attribute:K=V, outcome:slow:7d"
        )

    @property
    def binary(self) -> bool:
        return self.outcome is not None


# ------------------------------------------------------------------ cases and points


@dataclass(frozen=True)
class _Vocabulary:
    """What a model's features and training cases were read with, learned from the events
    known when it was trained: the activities that end a case, the idle time after which a
    case has ended, the activities counted and the attributes used."""

    ending: list[str]
    idle: timedelta | None
    counted: list[str]
    attributes: list[str]


@dataclass
class _Known:
    """The events known at a moment, in case order, with each event's prefix features."""

    at: datetime
    events: pl.DataFrame  # one row per event: its prefix's features
    cases: pl.DataFrame  # case_id, start, end, events, last_activity, label, complete, resolved
    vocabulary: _Vocabulary

    @property
    def ending(self) -> list[str]:
        return self.vocabulary.ending

    @property
    def idle(self) -> timedelta | None:
        return self.vocabulary.idle

    @property
    def counted(self) -> list[str]:
        return self.vocabulary.counted

    @property
    def attributes(self) -> list[str]:
        return self.vocabulary.attributes


def _attribute_columns(events: pl.DataFrame) -> list[str]:
    """The attribute columns worth using: not the vocabulary's, not constant, mostly set."""
    found = []
    for name, dtype in events.schema.items():
        if name in VOCABULARY or name in ("known", "corrects"):
            continue
        if not (dtype.is_numeric() or dtype in (pl.String, pl.Categorical, pl.Boolean)):
            continue
        column = events[name]
        if column.null_count() > 0.5 * len(column) or column.n_unique() < 2:
            continue
        found.append(name)
    return found[:_MAX_ATTRIBUTES]


def _known(
    events: pl.DataFrame,
    at: datetime,
    ending: Sequence[str] | None,
    target: Target,
    vocabulary: _Vocabulary | None = None,
) -> _Known:
    """What is known at ``at`` of ``events`` (already only those knowable by then), read
    with the ``vocabulary`` of a model trained earlier, if given (else learned now)."""
    wanted = target.outcome
    if wanted is not None and wanted.attribute and wanted.attribute[0] not in events.columns:
        raise PredictionError(
            f"--target {target.text}: the log has no attribute {wanted.attribute[0]!r}"
        )
    events = events.filter(pl.col("timestamp") <= at).with_columns(
        pl.col("case_id").cast(pl.String),
        pl.col("activity").cast(pl.String),
        pl.col("resource").cast(pl.String),
    )
    # A correction known by then replaces what it corrects (one recorded later does not).
    events = without_superseded(events.lazy()).collect().sort("case_id", "timestamp", "position")
    if vocabulary is None:
        ends = list(ending) if ending else completing_activities(events.lazy(), presorted=True)
        frequent = events["activity"].value_counts(sort=True)["activity"].to_list()
        counted = sorted(frequent[:_MAX_COUNTED])
        attributes = _attribute_columns(events)
    else:
        ends, counted, attributes = vocabulary.ending, vocabulary.counted, vocabulary.attributes
        events = events.with_columns(
            pl.lit(None).alias(name) for name in attributes if name not in events.columns
        )
    prefix = events.with_columns(
        pl.int_range(1, pl.len() + 1).over("case_id").alias("k"),
        pl.col("timestamp").first().over("case_id").alias("start"),
        pl.col("timestamp").shift(1).over("case_id").alias("previous"),
        pl.col("activity").shift(1).over("case_id").alias("a2"),
        pl.col("activity").shift(2).over("case_id").alias("a3"),
        *[
            (pl.col("activity") == name).cum_sum().over("case_id").alias(f"count {name}")
            for name in counted
        ],
        *[
            pl.col(name).forward_fill().over("case_id").alias(f"attribute {name}")
            for name in attributes
        ],
    )
    cases = prefix.group_by("case_id", maintain_order=True).agg(
        start=pl.col("timestamp").first(),
        end=pl.col("timestamp").last(),
        events=pl.len(),
        last_activity=pl.col("activity").last(),
        label=_label(target),
    )
    if vocabulary is None:
        gaps = prefix.select(
            (pl.col("timestamp") - pl.col("previous")).drop_nulls().quantile(_IDLE, "higher")
        ).item()
        idle = gaps if isinstance(gaps, timedelta) else None
        vocabulary = _Vocabulary(ends, idle, counted, attributes)
    # When an observer could tell a case had completed: at its end activity, or once it had
    # been idle long enough (not at its last event, which only hindsight knows was last).
    ended = pl.col("last_activity").is_in(ends)
    complete, resolved = ended, pl.col("end")
    if vocabulary.idle is not None:
        complete = ended | (pl.lit(at) - pl.col("end") > vocabulary.idle)
        resolved = pl.when(ended).then(resolved).otherwise(resolved + vocabulary.idle)
    cases = cases.with_columns(complete=complete).with_columns(
        resolved=pl.when("complete").then(resolved)
    )
    return _Known(at, prefix, cases, vocabulary)


def _label(target: Target) -> pl.Expr:
    """A case's outcome as an aggregation over its events."""
    wanted = target.outcome
    if wanted is None:
        return pl.col("activity").last()
    if wanted.kind == "activity":
        return (pl.col("activity") == wanted.activity).any().cast(pl.String)
    if wanted.kind == "attribute":
        key, value = wanted.attribute  # type: ignore[misc]
        return (pl.col(key).cast(pl.String) == value).any().cast(pl.String)
    assert wanted.longer_than is not None
    span = pl.col("timestamp").last() - pl.col("timestamp").first()
    return (span > wanted.longer_than).cast(pl.String)


def _training_points(known: _Known) -> pl.DataFrame:
    """Observation points of the complete cases, latest-resolved first, up to the cap: two
    per gap between events, each at a moment drawn in the gap (the same draw for the same
    case and event), with the targets, and a ``weight``.

    That is the case as an observer at a random moment finds it: in a long gap more often
    than in a short one, and anywhere in it (points half-way through each gap would tell a
    model that the next event comes after as long as the case has waited already). So a
    point's weight is its gap's share of time, over the chance that a point observed when
    it was would be among them (`_selection`)."""
    complete = known.cases.filter(pl.col("complete") & (pl.col("events") > 1))
    done = complete.sort("resolved", "case_id", descending=[True, False])
    done = done.filter((2 * (pl.col("events") - 1)).cum_sum() <= max(_MAX_POINTS, 2))
    every = _drawn(_steps(known, complete, idle=known.idle))
    points = every.join(done.select("case_id"), on="case_id", how="semi")
    chance = _selection(known, every, done, points)
    weight = points["gap"].dt.total_microseconds().cast(pl.Float64) / chance
    total = weight.sum()
    return points.with_columns(
        remaining=((pl.col("end") - pl.col("obs")).dt.total_microseconds() / 1e6).clip(0.0),
        weight=weight * (len(weight) / total) if total else pl.lit(1.0),
        share=pl.col("gap").dt.total_microseconds() / pl.col("gap").dt.total_microseconds().mean(),
        held=_draw(pl.col("case_id"), 53) < _HELD,  # whole cases: to calibrate intervals
    ).drop("gap", "resolved")


def _steps(known: _Known, cases: pl.DataFrame, *, idle: timedelta | None) -> pl.DataFrame:
    """The gaps between the events of ``cases`` (with their ``end``, ``label`` and
    ``resolved``), each with the next event's time (``following``) and activity. With
    ``idle``, a case that ended without an end activity still looked open to an observer
    until it had been idle long enough: a last gap after its last event, nothing to come."""
    steps = (
        known.events.join(cases.select("case_id", "end", "label", "resolved"), on="case_id")
        .with_columns(
            following=pl.col("timestamp").shift(-1).over("case_id"),
            next_activity=pl.col("activity").shift(-1).over("case_id"),
        )
        .filter(pl.col("following").is_not_null())
        .with_columns(gap=pl.col("following") - pl.col("timestamp"))
    )
    if idle is None:
        return steps
    tails = (
        known.events.join(
            cases.filter(~pl.col("last_activity").is_in(known.ending)).select(
                "case_id", "end", "label", "resolved"
            ),
            on="case_id",
        )
        .filter(pl.col("timestamp") == pl.col("end"))
        .group_by("case_id", maintain_order=True)
        .last()
        .with_columns(
            following=pl.col("timestamp") + idle,
            next_activity=pl.lit(None, pl.String),
            gap=pl.lit(idle),
        )
    )
    return pl.concat([steps, tails.select(steps.columns)])


def _drawn(steps: pl.DataFrame) -> pl.DataFrame:
    """Two observation points per gap, at moments drawn in it."""
    drawn = [
        steps.with_columns(
            obs=pl.col("timestamp") + pl.col("gap") * _draw(pl.struct("case_id", "k"), seed)
        )
        for seed in (11, 29)
    ]
    return pl.concat(drawn).sort("case_id", "k", "obs")


def _selection(
    known: _Known, every: pl.DataFrame, done: pl.DataFrame, points: pl.DataFrame
) -> np.ndarray:
    """Per training point, the chance that a point observed when it was is among them.

    A point's case is a training case when an observer at the moment could tell it had
    completed (at its end activity, or idle long enough after its last event): when the
    time from the point to that, its resolution, is at most the time to the moment. So
    points observed shortly before the moment are only those of cases that were nearly
    done; a model that learned from them as they are would think that a case seen lately
    (a proxy such as the workload gives it away) ends soon. The chance is the distribution
    of the resolution times at that point's distance from the moment, estimated (Kaplan-
    Meier, weighted by time) from every complete case's points and the open cases' points,
    censored at the moment; with the cap, less the chance of resolving before the
    earliest resolution kept. At least `_LEAST_CHANCE` (weights at most twenty-fold)."""
    at = known.at
    open_cases = known.cases.filter(~pl.col("complete"))
    # An open case's last gap runs to the moment.
    current = _open_points(known).with_columns(gap=pl.col("obs") - pl.col("timestamp"))
    censored = _drawn(
        pl.concat(
            [
                _steps(known, open_cases, idle=None).select(*_STATE, "gap"),
                current.select(*_STATE, "gap"),
            ]
        )
    )

    def seconds(expression: pl.Expr) -> pl.Expr:
        return expression.dt.total_microseconds().cast(pl.Float64) / 1e6

    observed = pl.concat(
        [
            every.select(
                time=seconds(pl.col("resolved") - pl.col("obs")),
                weight=seconds(pl.col("gap")),
                happened=pl.lit(1.0),
            ),
            censored.select(
                time=seconds(pl.lit(at) - pl.col("obs")),
                weight=seconds(pl.col("gap")),
                happened=pl.lit(0.0),
            ),
        ]
    )
    until = points.select(seconds(pl.lit(at) - pl.col("obs"))).to_series().to_numpy()
    grid, share = _kaplan_meier(observed)
    chance = _within(grid, share, until)
    if done.height < every["case_id"].n_unique():  # capped: those resolved earlier are not in
        earliest = done["resolved"].min()
        before = points.select(seconds(pl.lit(earliest) - pl.col("obs"))).to_series()
        chance = chance - _within(grid, share, before.to_numpy())
    return np.asarray(np.maximum(chance, _LEAST_CHANCE), dtype=np.float64)


def _within(grid: np.ndarray, share: np.ndarray, spans: np.ndarray) -> np.ndarray:
    """The share of times at or below each of ``spans`` (`_kaplan_meier`'s estimate)."""
    where = np.searchsorted(grid, spans, side="right") - 1
    return np.where(where >= 0, share[np.maximum(where, 0)], 0.0)


def _kaplan_meier(observed: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The weighted Kaplan-Meier estimate of the share of ``time`` at or below each of its
    distinct values (``happened``: 1 for a time seen, 0 for one censored there; each by its
    ``weight``)."""
    ordered = observed.sort("time")
    times = ordered["time"].to_numpy()
    happened, weights = ordered["happened"].to_numpy(), ordered["weight"].to_numpy()
    grid, first = np.unique(times, return_index=True)
    if not len(grid):
        return grid, grid
    before = np.concatenate([[0.0], np.cumsum(weights)])[first]
    at_risk = weights.sum() - before
    seen = np.add.reduceat(weights * happened, first)
    surviving = np.cumprod(1.0 - np.divide(seen, at_risk, out=np.zeros_like(seen),
                                           where=at_risk > 0))  # fmt: skip
    return grid, 1.0 - surviving


def _draw(key: pl.Expr, seed: int) -> pl.Expr:
    """A number in [0, 1) drawn from ``key`` (the same for the same key and seed)."""
    return (key.hash(seed=seed) % 1_000_003).cast(pl.Float64) / 1_000_003


def _open_points(known: _Known) -> pl.DataFrame:
    """One observation per open case: its whole prefix, at the moment."""
    open_cases = known.cases.filter(~pl.col("complete")).select("case_id")
    last = known.events.group_by("case_id", maintain_order=True).last()
    return last.join(open_cases, on="case_id").with_columns(
        obs=pl.lit(known.at).cast(last.schema["timestamp"])
    )


# ------------------------------------------------------------------ features


@dataclass
class _Encoding:
    """How points become a matrix: the categories of each categorical column (learned on
    the training points) and which columns are categorical."""

    categories: dict[str, list[Any]]
    numeric: list[str]
    starts: np.ndarray = field(repr=False)
    ends: np.ndarray = field(repr=False)

    @property
    def columns(self) -> list[str]:
        return [*self.categories, *self.numeric]

    @property
    def mask(self) -> list[bool]:
        return [True] * len(self.categories) + [False] * len(self.numeric)

    def at(self, known: _Known) -> _Encoding:
        """The same encoding, its workload counted among the cases of ``known``."""
        starts, ends = _workload(known)
        return replace(self, starts=starts, ends=ends)


def _workload(known: _Known) -> tuple[np.ndarray, np.ndarray]:
    """The starts and the closes (of those complete) of the cases known, each in order: the
    cases open at a moment are those started by then less those closed by then. A case
    closed when an observer then could tell it had: at its end activity, or once it had
    been idle long enough (not at its last event, which only hindsight knows was its
    last: counted so, the open cases of the past are fewer than those of the moment)."""
    micros = known.cases.select(
        pl.col("start").dt.epoch("us"), pl.col("resolved").dt.epoch("us").fill_null(2**62)
    )
    return np.sort(micros["start"].to_numpy()), np.sort(micros["resolved"].to_numpy())


def _encoding(known: _Known, points: pl.DataFrame, target: Target) -> _Encoding:
    """The features of ``target``'s models. The remaining time's leave the workload out:
    it tells when a point was observed, and the later a training point, the likelier its
    case was a short one (`_selection` weighs that back only in part, at most twenty-fold),
    so trees that split on it predicted every open case to end soon (in the backtest, the
    10-90 % interval held 56-74 % of the outcomes with it and 71-84 % without; the MAE on
    BPI Challenge 2012 was 0.99 of the baseline's with it and 0.93 without)."""
    categorical = ["activity", "a2", "a3", "resource"]
    numeric = ["k", "elapsed", "since_last", "gap", "hour", "weekday"]
    if target.kind != "remaining-time":  # where the workload tells (next activity: 0.79
        numeric.append("workload")  # right on BPIC 2012's W subprocess with it, 0.78 without)
    numeric += [f"count {name}" for name in known.counted]
    for name in known.attributes:
        column = f"attribute {name}"
        (numeric if points.schema[column].is_numeric() else categorical).append(column)
    categories = {}
    for column in categorical:
        values = points[column].cast(pl.String).drop_nulls().value_counts(sort=True)
        categories[column] = sorted(values[column].head(_MAX_CATEGORIES).to_list())
    return _Encoding(categories, numeric, *_workload(known))


def _matrix(encoding: _Encoding, points: pl.DataFrame) -> np.ndarray:
    """The points' features as floats (categories as codes, unknown values as one more
    code, missing ones as NaN)."""
    obs = points["obs"].dt.epoch("us").to_numpy()
    workload = np.searchsorted(encoding.starts, obs, side="right") - np.searchsorted(
        encoding.ends, obs, side="right"
    )
    derived = points.select(
        k=pl.col("k").cast(pl.Float64),
        elapsed=(pl.col("obs") - pl.col("start")).dt.total_microseconds() / 1e6,
        since_last=(pl.col("obs") - pl.col("timestamp")).dt.total_microseconds() / 1e6,
        gap=(pl.col("timestamp") - pl.col("previous")).dt.total_microseconds() / 1e6,
        hour=pl.col("obs").dt.hour() + pl.col("obs").dt.minute() / 60,
        weekday=pl.col("obs").dt.weekday().cast(pl.Float64),
    ).with_columns(workload=pl.Series(workload.astype(np.float64)))
    columns = []
    for column, values in encoding.categories.items():
        codes = {value: float(i) for i, value in enumerate(values)}
        raw = points[column].cast(pl.String)
        coded = raw.replace_strict(codes, default=float(len(values)), return_dtype=pl.Float64)
        columns.append(coded.set(raw.is_null(), None).fill_null(math.nan).to_numpy())
    for column in encoding.numeric:
        source = derived if column in derived.columns else points
        columns.append(source[column].cast(pl.Float64).fill_null(math.nan).to_numpy())
    return np.column_stack(columns) if columns else np.zeros((points.height, 0))


def _fitted(
    classify: bool,
    encoding: _Encoding,
    features: np.ndarray,
    target: np.ndarray,
    weights: np.ndarray,
    **options: Any,
) -> Any:
    """A model fitted on the points (on one thread: see `_one_thread`)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    if classify:  # a tree per class and round: fewer, longer steps
        model: Any = HistGradientBoostingClassifier(
            max_iter=_ITERATIONS // 2,
            learning_rate=0.2,
            categorical_features=encoding.mask,
            early_stopping=False,
            random_state=0,
        )
    else:
        model = HistGradientBoostingRegressor(
            max_iter=_ITERATIONS,
            categorical_features=encoding.mask,
            early_stopping=False,
            random_state=0,
            **options,
        )
    model.fit(features, target, sample_weight=weights)
    return model


def _one_thread() -> Any:
    """The trees fitted and asked on one thread: their own threads, beside Polars' and
    other sessions', spin far more than they work (a minute instead of a second on two
    cores). The limit holds for the libraries loaded when it is set: the trees' first."""
    import sklearn.ensemble  # noqa: F401
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


# ------------------------------------------------------------------ predicting


@dataclass(frozen=True)
class Predictions:
    """Per open case at ``at``: ``case_id``, ``prefix_length``, ``elapsed_seconds``,
    ``last_activity`` and the target's columns (remaining time: ``remaining_seconds`` with
    ``remaining_low_seconds`` and ``remaining_high_seconds``, the 10th and 90th
    percentiles; next activity: ``next_activity``, ``probability`` and ``probabilities``;
    outcome: ``outcome``, ``probability``, ``probabilities``, and for an outcome asked
    about, such as ``outcome:slow:7d``, its chance ``risk``). ``trained_on``: the
    complete cases known when the models were trained, at ``trained_at`` (``at`` unless
    asked later of a `Predictor`); ``points``: the observations the models learned from."""

    target: Target
    at: datetime
    table: pl.DataFrame
    trained_on: int
    points: int
    completed_by: list[str]
    trained_at: datetime | None = None

    def as_dicts(self) -> list[dict[str, Any]]:
        return self.table.to_dicts()


@dataclass(frozen=True, eq=False)
class Predictor:
    """Models trained at ``trained_at`` on what was known then (`fit`), to be asked then or
    at a later moment (`Predictor.predict`): a model retrained less often than it is asked,
    as an alert is, still never sees what was recorded after it was asked."""

    target: Target
    trained_at: datetime
    trained_on: int
    points: int
    vocabulary: _Vocabulary = field(repr=False)
    encoding: _Encoding = field(repr=False)
    # Remaining time: the 10th, 50th and 90th percentile models and the interval's margin;
    # a class: the classes, and the model (none when there is one class).
    models: tuple[Any, ...] = field(repr=False)
    margin: float = 0.0
    classes: tuple[str, ...] = ()
    # What the models said when they were trained, of the cases open then (asked there and
    # then, it would read the same events again).
    then: Predictions | None = field(default=None, repr=False)

    def predict(self, events: pl.DataFrame, at: datetime) -> Predictions:
        """Predictions for the cases open at ``at`` (not before the training), from
        ``events`` knowable by then, read as the models were trained."""
        if at < self.trained_at:
            raise PredictionError(
                f"a model trained at {self.trained_at.isoformat()} cannot predict at"
                f" {at.isoformat()}, before it"
            )
        with _one_thread():
            known = _known(events, at, None, self.target, self.vocabulary)
            return self._ask(known)

    def _ask(self, known: _Known) -> Predictions:
        points = _open_points(known)
        table = points.select(
            "case_id",
            prefix_length=pl.col("k"),
            elapsed_seconds=(pl.col("obs") - pl.col("start")).dt.total_microseconds() / 1e6,
            last_activity=pl.col("activity"),
        )
        wanted = _matrix(self.encoding.at(known), points)
        if self.target.kind == "remaining-time":
            found = _ask_remaining(self.models, self.margin, wanted)
            table = table.with_columns(
                remaining_seconds=found[:, 1],
                remaining_low_seconds=found[:, 0],
                remaining_high_seconds=found[:, 2],
            )
        else:
            classes = list(self.classes)
            chances = _ask_classes(self.models, classes, wanted)
            best = chances.argmax(axis=1) if len(classes) else np.zeros(0, dtype=int)
            name = "next_activity" if self.target.kind == "next-activity" else "outcome"
            table = table.with_columns(
                pl.Series(name, [classes[i] for i in best], dtype=pl.String),
                probability=pl.Series(chances[np.arange(len(best)), best], dtype=pl.Float64),
                probabilities=pl.Series(
                    [
                        [{"value": c, "probability": float(p)}
                         for c, p in sorted(zip(classes, row, strict=True),
                                            key=lambda cp: -cp[1])[:5]]
                        for row in chances
                    ],
                    dtype=pl.List(pl.Struct({"value": pl.String, "probability": pl.Float64})),
                ),
            )  # fmt: skip
            if self.target.binary:  # the chance of the outcome asked about
                column = classes.index("true") if "true" in classes else None
                risk = chances[:, column] if column is not None else np.zeros(len(best))
                table = table.with_columns(risk=pl.Series(risk, dtype=pl.Float64))
        return Predictions(
            self.target,
            known.at,
            table.sort("case_id"),
            self.trained_on,
            self.points,
            known.ending,
            self.trained_at,
        )


def together(found: Sequence[Predictions]) -> pl.DataFrame:
    """Several targets' predictions for the same open cases as one table: the cases'
    columns once, then remaining time (``remaining_seconds``, ``remaining_low_seconds``,
    ``remaining_high_seconds``), the next activity (``next_activity``,
    ``next_activity_probability``) and the end activity (``outcome``,
    ``outcome_probability``) or the chance of an outcome asked about (``risk``)."""
    if not found:
        raise PredictionError("no predictions to put together")
    table = found[0].table.select("case_id", "prefix_length", "elapsed_seconds", "last_activity")
    for each in found:
        kind = each.target.kind
        if kind == "remaining-time":
            columns = [pl.col("^remaining_.*_?seconds$")]
        elif kind == "next-activity":
            columns = [pl.col("next_activity"),
                       pl.col("probability").alias("next_activity_probability")]  # fmt: skip
        elif each.target.binary:
            columns = [pl.col("risk")]
        else:
            columns = [pl.col("outcome"), pl.col("probability").alias("outcome_probability")]
        table = table.join(
            each.table.select("case_id", *columns), on="case_id", how="left", maintain_order="left"
        )
    return table


def fit(
    events: pl.DataFrame,
    at: datetime,
    target: Target,
    *,
    completed_by: Sequence[str] | None = None,
) -> Predictor:
    """Models for ``target`` trained at ``at`` on the cases complete by then, from
    ``events`` knowable by then (those that happened later are left out here), with their
    predictions then (``then``)."""
    with _one_thread():
        return _fit(_known(events, at, completed_by, target), target)


def predict(
    events: pl.DataFrame,
    at: datetime,
    target: Target,
    *,
    completed_by: Sequence[str] | None = None,
) -> Predictions:
    """Predictions at ``at`` for the cases open then, from ``events`` knowable by then
    (those that happened later are left out here), by models trained then."""
    found = fit(events, at, target, completed_by=completed_by).then
    assert found is not None
    return found


def _fit(known: _Known, target: Target) -> Predictor:
    """`_trained`, with its predictions for the cases open then (``then``)."""
    trained = _trained(known, target)
    return replace(trained, then=trained._ask(known))


def _trained(known: _Known, target: Target) -> Predictor:
    training = _training_points(known)
    trained_on = training["case_id"].n_unique() if training.height else 0
    if trained_on < MIN_CASES:
        raise PredictionError(
            f"at {known.at.isoformat()}: {trained_on} case(s) had completed (by "
            f"{', '.join(known.ending) or 'no end activity'}); a model needs {MIN_CASES}"
        )
    encoding = _encoding(known, training, target)
    features = _matrix(encoding, training)
    weights = _weights(training, target)
    fitted = partial(Predictor, target, known.at, trained_on, training.height, known.vocabulary)
    if target.kind == "remaining-time":
        seconds = training["remaining"].to_numpy()
        models, margin = _fit_remaining(
            encoding, features, seconds, weights, training["held"].to_numpy()
        )
        return fitted(encoding, models, margin)
    labels = training["next_activity" if target.kind == "next-activity" else "label"]
    classes, model = _fit_classes(encoding, features, labels.to_list(), weights)
    return fitted(encoding, (model,), classes=tuple(classes))


def _weights(training: pl.DataFrame, target: Target) -> np.ndarray:
    """How much each training point counts: for the remaining time and the next activity,
    its time share over the chance that it was resolved by the moment (`_selection`); for
    an outcome, its time share alone. That chance is the same for every point seen as long
    before the moment, but an outcome of cases that resolve fast (cancelled ones, say) has
    far more of its late points kept than one of cases that take long: weighted up, the
    late points of fast outcomes outvote the rest (in the backtest, on the demo log, the
    end activity was right for 73 % of the cases instead of 87 %)."""
    column = "share" if target.kind == "outcome" else "weight"
    return training[column].to_numpy()


def _remaining(
    encoding: _Encoding,
    features: np.ndarray,
    seconds: np.ndarray,
    weights: np.ndarray,
    held: np.ndarray,
    wanted: np.ndarray,
) -> np.ndarray:
    """The 10th, 50th and 90th percentile of the remaining seconds, per wanted point."""
    if not len(wanted):
        return np.zeros((0, len(QUANTILES)))
    models, margin = _fit_remaining(encoding, features, seconds, weights, held)
    return _ask_remaining(models, margin, wanted)


def _fit_remaining(
    encoding: _Encoding,
    features: np.ndarray,
    seconds: np.ndarray,
    weights: np.ndarray,
    held: np.ndarray,
) -> tuple[tuple[Any, ...], float]:
    """The 10th, 50th and 90th percentile models of the remaining seconds, learned on the
    logarithm (a percentile of it is one of the seconds), and the interval's margin.

    The interval is conformalized (Romano et al., 2019): the quantile models learn from
    the points not ``held`` out, and the held-out cases' points say how far outside the
    interval the truth falls; the interval widens (or narrows) by that much at 80 %."""
    logged = np.log1p(np.maximum(seconds, 0.0))
    learn = ~held if held.any() and (~held).any() else np.ones(len(held), dtype=bool)
    models = tuple(
        _fitted(False, encoding, features[learn], logged[learn], weights[learn],
                loss="quantile", quantile=quantile)
        for quantile in QUANTILES
    )  # fmt: skip
    if learn.all():
        return models, 0.0
    low, high = models[0].predict(features[held]), models[-1].predict(features[held])
    outside = np.maximum(low - logged[held], logged[held] - high)
    return models, _weighted_quantile(outside, weights[held], QUANTILES[-1] - QUANTILES[0])


def _ask_remaining(models: tuple[Any, ...], margin: float, wanted: np.ndarray) -> np.ndarray:
    """The percentiles of the remaining seconds the models give the wanted points."""
    found = np.zeros((len(wanted), len(QUANTILES)))
    if not len(wanted):
        return found
    for column, model in enumerate(models):
        found[:, column] = model.predict(wanted)
    found[:, 0] -= margin
    found[:, -1] += margin
    found = np.maximum(np.expm1(found), 0.0)
    found.sort(axis=1)  # the models may cross: the interval stays an interval
    return found


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, share: float) -> float:
    """The smallest value at or below which ``share`` of the weight lies."""
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    if not len(cumulative) or cumulative[-1] <= 0:
        return 0.0
    index = int(np.searchsorted(cumulative, share * cumulative[-1], side="left"))
    return float(values[order][min(index, len(order) - 1)])


def _classify(
    encoding: _Encoding,
    features: np.ndarray,
    labels: list[str],
    weights: np.ndarray,
    wanted: np.ndarray,
) -> tuple[list[str], np.ndarray]:
    """The classes and each wanted point's probability of each."""
    if not len(wanted):
        keep = [label for label in labels if label is not None]
        return sorted(set(keep)), np.zeros((0, len(set(keep))))
    classes, model = _fit_classes(encoding, features, labels, weights)
    return classes, _ask_classes((model,), classes, wanted)


def _fit_classes(
    encoding: _Encoding, features: np.ndarray, labels: list[str], weights: np.ndarray
) -> tuple[list[str], Any]:
    """The classes, and a model of each point's chances of each (none for one class;
    points without a label, such as a case's end for its next activity, are not learned
    from)."""
    keep = np.array([label is not None for label in labels], dtype=bool)
    if not keep.all():
        features, weights = features[keep], weights[keep]
        labels = [label for label in labels if label is not None]
    classes = sorted(set(labels))
    if len(classes) < 2:
        return classes, None
    return classes, _fitted(True, encoding, features, np.array(labels, dtype=object), weights)


def _ask_classes(models: tuple[Any, ...], classes: list[str], wanted: np.ndarray) -> np.ndarray:
    """Each wanted point's chance of each class."""
    model = models[0]
    if model is None:
        return np.ones((len(wanted), len(classes)))
    order = [classes.index(c) for c in model.classes_]
    chances = np.zeros((len(wanted), len(classes)))
    if len(wanted):
        chances[:, order] = model.predict_proba(wanted)
    return chances


# ------------------------------------------------------------------ backtesting


@dataclass(frozen=True)
class Backtest:
    """Predictions at each cut scored against what happened later: per cut (``cuts``:
    ``at``, ``trained_on``, ``open``, and per target its scores beside the baselines') and
    over every cut's open cases together (``overall``)."""

    targets: tuple[Target, ...]
    every: str
    cuts: pl.DataFrame
    overall: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "every": self.every,
            "targets": [t.text for t in self.targets],
            "cuts": self.cuts.to_dicts(),
            "overall": self.overall,
        }


def backtest(
    events: pl.DataFrame,
    *,
    every: str = "1mo",
    targets: Sequence[Target] = (),
    completed_by: Sequence[str] | None = None,
    hours: Hours | None = None,
) -> Backtest:
    """Walk forward through ``events`` (with ``known``: when each became knowable): at each
    cut, every ``every`` (``1w``, ``1mo``, ``1q``), train on what was known then and score
    the cases open then against what happened later (all of ``events``); a cut where
    fewer than `MIN_CASES` cases had completed is left out. Every target by default. With
    ``hours`` (a working calendar), the remaining time's errors in working time too: the
    working time between the predicted end and the actual one."""
    chosen = tuple(targets) or tuple(Target.parse(t) for t in TARGETS)
    if events.is_empty():
        raise PredictionError("no events to backtest on")
    # As text once, not at every cut.
    events = events.with_columns(
        pl.col("case_id").cast(pl.String), pl.col("activity").cast(pl.String)
    )
    outcome = next((t for t in chosen if t.kind == "outcome"), Target.parse("outcome"))
    first, last = events["timestamp"].min(), events["timestamp"].max()
    assert isinstance(first, datetime)
    assert isinstance(last, datetime)
    try:
        moments = pl.datetime_range(first, last, every, eager=True, time_zone="UTC")
    except (pl.exceptions.InvalidOperationError, pl.exceptions.ComputeError):
        raise PredictionError(f"--every {every!r}: say 1w, 2w, 1mo or 1q") from None
    moments = moments.dt.truncate(every).unique().sort().filter(moments.dt.truncate(every) > first)
    final = _known(events, last, completed_by, outcome)
    truth = final.cases.select(
        "case_id",
        end_final=pl.col("end"),
        complete_final=pl.col("complete"),
        label_final=pl.col("label"),
    )
    rows: list[dict[str, Any]] = []
    pooled: dict[str, list[Any]] = {}
    with _one_thread():
        for at in moments.to_list():
            _cut(events, at, truth, chosen, outcome, completed_by, hours, rows, pooled)
    if not rows:
        raise PredictionError(
            f"no cut every {every} had {MIN_CASES} completed cases before it: try a shorter --every"
        )
    return Backtest(chosen, every, pl.DataFrame(rows), _overall(chosen, pooled))


def _cut(
    events: pl.DataFrame,
    at: datetime,
    truth: pl.DataFrame,
    chosen: Sequence[Target],
    outcome: Target,
    completed_by: Sequence[str] | None,
    hours: Hours | None,
    rows: list[dict[str, Any]],
    pooled: dict[str, list[Any]],
) -> None:
    """One cut of `backtest`: its row, and its scored pairs added to the pooled ones."""
    visible = events.filter((pl.col("known") <= at) & (pl.col("timestamp") <= at))
    known = _known(visible, at, completed_by, outcome)
    training = _training_points(known)
    trained_on = training["case_id"].n_unique() if training.height else 0
    if trained_on < MIN_CASES:
        return
    points = _open_points(known).join(truth, on="case_id", how="left")
    following = _following(events, visible, points["case_id"])
    points = points.join(following, on="case_id", how="left")
    row: dict[str, Any] = {"at": at, "trained_on": trained_on, "open": points.height}
    matrices: dict[tuple[str, ...], tuple[_Encoding, np.ndarray, np.ndarray]] = {}
    for target in chosen:
        encoding = _encoding(known, training, target)
        if tuple(encoding.columns) not in matrices:  # targets of the same features share them
            found = (encoding, _matrix(encoding, training), _matrix(encoding, points))
            matrices[tuple(encoding.columns)] = found
        encoding, features, wanted = matrices[tuple(encoding.columns)]
        scored = _score(target, encoding, training, features, points, wanted, at, hours)
        row.update(scored.pop("row"))
        for name, values in scored.items():
            pooled.setdefault(name, []).extend(values)
    rows.append(row)


def _following(events: pl.DataFrame, visible: pl.DataFrame, cases: pl.Series) -> pl.DataFrame:
    """Per case, the first activity not yet known at the cut (``actual_next``)."""
    later = (
        events.filter(pl.col("case_id").is_in(cases.implode()))
        .join(visible.select("position"), on="position", how="anti")
        .sort("case_id", "timestamp", "position")
    )
    return later.group_by("case_id").agg(actual_next=pl.col("activity").first())


def _score(
    target: Target,
    encoding: _Encoding,
    training: pl.DataFrame,
    features: np.ndarray,
    points: pl.DataFrame,
    wanted: np.ndarray,
    at: datetime,
    hours: Hours | None = None,
) -> dict[str, Any]:
    """One target at one cut: the row's scores, and the pairs to pool over the cuts."""
    weights = _weights(training, target)
    if target.kind == "remaining-time":
        done = points["complete_final"].fill_null(False).to_numpy()
        until = points.select((pl.col("end_final") - pl.lit(at)).dt.total_microseconds() / 1e6)
        actual = np.maximum(until.to_series().fill_null(0.0).to_numpy(), 0.0)
        seconds = training["remaining"].to_numpy()
        held = training["held"].to_numpy()
        found = _remaining(encoding, features, seconds, weights, held, wanted[done])
        baseline = _baseline_remaining(training, points.filter(pl.Series(done)))
        truth = actual[done]
        errors = np.abs(found[:, 1] - truth)
        inside = (found[:, 0] <= truth) & (truth <= found[:, 2])
        base = np.abs(baseline - truth)
        found_row: dict[str, Any] = {
            "remaining_scored": int(done.sum()),
            "mae_seconds": _mean(errors),
            "baseline_mae_seconds": _mean(base),
            "interval_coverage": _mean(inside),
        }
        scored: dict[str, Any] = {
            "errors": errors.tolist(), "baseline_errors": base.tolist(), "inside": inside.tolist()
        }  # fmt: skip
        if hours is not None:
            cases = points.filter(pl.Series(done))["case_id"]
            working = _working_errors(hours, at, cases, truth, found[:, 1])
            working_base = _working_errors(hours, at, cases, truth, baseline)
            found_row["mae_business_seconds"] = _mean(working)
            found_row["baseline_mae_business_seconds"] = _mean(working_base)
            scored |= {"working": working.tolist(), "baseline_working": working_base.tolist()}
        return {"row": found_row, **scored}
    if target.kind == "next-activity":
        has = points["actual_next"].is_not_null().to_numpy()
        labels = training["next_activity"].to_list()
        classes, chances = _classify(encoding, features, labels, weights, wanted[has])
        labels = [label for label in labels if label is not None]
        actual_next = points["actual_next"].to_numpy()[has].tolist()
        return _accuracy("next", "next_activity", classes, chances, actual_next, labels)
    done = points["complete_final"].fill_null(False).to_numpy()
    labels = training["label"].to_list()
    classes, chances = _classify(encoding, features, labels, weights, wanted[done])
    actual = points["label_final"].to_numpy()[done].tolist()
    cases_labels = training.group_by("case_id").agg(pl.col("label").first())["label"].to_list()
    if target.binary:
        column = classes.index("true") if "true" in classes else None
        chance = chances[:, column] if column is not None else np.zeros(len(actual))
        positive = np.array([a == "true" for a in actual], dtype=bool)
        prior = cases_labels.count("true") / len(cases_labels) if cases_labels else 0.0
        brier = (chance - positive) ** 2
        base = (prior - positive) ** 2
        return {
            "row": {
                "outcome_scored": len(actual),
                "outcome_auc": _auc(chance, positive),
                "outcome_brier": _mean(brier),
                "baseline_outcome_brier": _mean(base),
            },
            "chances": chance.tolist(),
            "positives": positive.tolist(),
            "brier": brier.tolist(),
            "baseline_brier": base.tolist(),
        }
    return _accuracy("outcome", "outcome", classes, chances, actual, cases_labels)


def _working_errors(
    hours: Hours, at: datetime, cases: pl.Series, actual: np.ndarray, guessed: np.ndarray
) -> np.ndarray:
    """The working time between each case's predicted end and its actual one (seconds)."""
    moment = pl.Series([at] * len(cases), dtype=pl.Datetime("us", "UTC"))

    def ends(seconds: np.ndarray) -> pl.Series:
        return moment + pl.Series((seconds * 1e6).round().astype(np.int64)).cast(pl.Duration("us"))

    between = hours.seconds(ends(actual), ends(guessed), cases)
    return np.asarray(np.abs(between.fill_null(0.0).to_numpy()), dtype=np.float64)


def _accuracy(
    kind: str,
    measure: str,
    classes: list[str],
    chances: np.ndarray,
    actual: list[str],
    labels: list[str],
) -> dict[str, Any]:
    """The likeliest class against what happened, beside the majority class of
    ``labels``: the row's ``{kind}_scored``, ``{measure}_accuracy`` and its baseline's, and
    the pairs to pool."""
    guessed = [classes[i] for i in chances.argmax(axis=1)] if len(classes) else []
    majority = max(sorted(set(labels)), key=labels.count) if labels else None
    right = [g == a for g, a in zip(guessed, actual, strict=True)]
    base = [majority == a for a in actual]
    return {
        "row": {
            f"{kind}_scored": len(right),
            f"{measure}_accuracy": _mean(right),
            f"baseline_{measure}_accuracy": _mean(base),
        },
        f"{kind}_right": right,
        f"{kind}_baseline_right": base,
    }


def _baseline_remaining(training: pl.DataFrame, points: pl.DataFrame) -> np.ndarray:
    """The mean remaining seconds of the training points with the same last activity and
    prefix length (else the same last activity, else all), each point by its gap's share
    of time: what the cases complete by then say, without the models' correction for the
    cases not complete yet."""
    mean = pl.when(pl.col("share").sum() > 0).then(
        (pl.col("remaining") * pl.col("share")).sum() / pl.col("share").sum()
    )
    by_both = training.group_by("activity", "k").agg(both=mean)
    by_last = training.group_by("activity").agg(last=mean)
    overall = float(training.select(mean).item() or 0.0)
    found = (
        points.select("case_id", "activity", "k")
        .join(by_both, on=["activity", "k"], how="left", maintain_order="left")
        .join(by_last, on="activity", how="left", maintain_order="left")
        .select(pl.coalesce("both", "last", pl.lit(overall)))
    )
    return found.to_series().to_numpy().astype(np.float64)


def _overall(chosen: Sequence[Target], pooled: dict[str, list[Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    kinds = {t.kind for t in chosen}
    if "remaining-time" in kinds:
        errors = np.array(pooled.get("errors", []))
        found["remaining_scored"] = len(errors)
        found["mae_seconds"] = _mean(errors)
        found["median_ae_seconds"] = float(np.median(errors)) if len(errors) else None
        found["baseline_mae_seconds"] = _mean(np.array(pooled.get("baseline_errors", [])))
        found["interval_coverage"] = _mean(np.array(pooled.get("inside", [])))
        if "working" in pooled:
            found["mae_business_seconds"] = _mean(pooled["working"])
            found["baseline_mae_business_seconds"] = _mean(pooled["baseline_working"])
    if "next-activity" in kinds:
        found["next_scored"] = len(pooled.get("next_right", []))
        found["next_activity_accuracy"] = _mean(pooled.get("next_right", []))
        found["baseline_next_activity_accuracy"] = _mean(pooled.get("next_baseline_right", []))
    if "outcome" in kinds:
        if "chances" in pooled:
            positives = np.array(pooled["positives"], dtype=bool)
            found["outcome_scored"] = len(positives)
            found["outcome_auc"] = _auc(np.array(pooled["chances"]), positives)
            found["outcome_brier"] = _mean(pooled["brier"])
            found["baseline_outcome_brier"] = _mean(pooled["baseline_brier"])
        else:
            found["outcome_scored"] = len(pooled.get("outcome_right", []))
            found["outcome_accuracy"] = _mean(pooled.get("outcome_right", []))
            found["baseline_outcome_accuracy"] = _mean(pooled.get("outcome_baseline_right", []))
    return found


def _mean(values: Any) -> float | None:
    array = np.asarray(values, dtype=np.float64)
    return float(array.mean()) if array.size else None


def _auc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """The area under the ROC curve (Mann-Whitney, ties counted half); None without both
    classes."""
    from scipy.stats import rankdata

    ones, zeros = int(positive.sum()), int((~positive).sum())
    if not ones or not zeros:
        return None
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - ones * (ones + 1) / 2) / (ones * zeros))
