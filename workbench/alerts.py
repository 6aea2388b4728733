"""Alert rules: named conditions over the state of a log, checked on every catch-up, with a
backtest that replays history using only what was known at each moment.

A rule is one of:

- ``waiting``: open cases whose last activity is ``activity`` and that have waited there
  longer than ``longer_than`` exceed ``more_than`` (for example: cases waiting at "Approve
  Order" longer than 2 days exceed 20);
- ``open``: open cases exceed ``more_than``;
- ``throughput``: the median throughput time of the cases completed in the last ``period``
  (``1d``, ``1w``, ``1mo``) is above ``median_above``;
- ``violates``: a case violates a Declare rule (fired at the event that makes it certain);
- ``breach``: open cases that have not yet taken ``deadline`` and are predicted to take
  longer, with a chance above ``probability``, exceed ``more_than`` (`workbench.predictions`,
  the models retrained on what was known once every ``retrain``).

A case is complete when its last event is one of ``completed_by``, or, when the rule names
none, one of the activities that usually end the log's cases.

Each is evaluated on the log's state at its latest event (`workbench.timetravel`). A check
records a firing when the condition holds and did not at the previous check, with the
position that triggered it. A backtest evaluates the rule at every step of the log's
history on the events known by then: an event counts from the moment it was recorded, or,
for a log recorded in bulk long after it happened, from the moment the log's frontier had
reached it when its import came (`workbench.restatements`: the time plus its lateness).
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, astuple, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal

import polars as pl

from workbench import timetravel
from workbench.durations import human_duration
from workbench.events import WorkbenchError
from workbench.rules import Rule as DeclareRule
from workbench.rules import written
from workbench.rulestates import Follower, Violation
from workbench.store import EventStore
from workbench.store.rules import Firing, StoredRule

if TYPE_CHECKING:
    from workbench.calendars import Hours
    from workbench.predictions import Predictor, Target

Kind = Literal["waiting", "open", "throughput", "violates", "breach"]
KINDS: tuple[Kind, ...] = ("waiting", "open", "throughput", "violates", "breach")


class RuleError(WorkbenchError):
    """A rule that cannot be kept or evaluated as given."""


@dataclass(frozen=True)
class Rule:
    """A named condition over a log's state (see the module)."""

    name: str
    log: str
    kind: Kind
    activity: str | None = None
    longer_than_s: float = 0.0
    more_than: float = 0.0
    period: str = "1w"
    median_above_s: float = 0.0
    # The activities that complete a case (none: those that usually end the log's cases).
    completed_by: tuple[str, ...] = ()
    # The durations are this calendar's working time (None: elapsed time).
    calendar: str | None = None
    # The Declare rule a case must not violate, as written: ``response(A, B)``.
    violates: str | None = None
    # A ``breach``: the deadline a case's duration must not pass, the chance above which
    # one predicted to counts, and how often the models are trained again.
    deadline_s: float = 0.0
    probability: float = 0.0
    retrain_s: float = 7 * 86_400.0

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise RuleError("a rule needs a name")
        if self.kind not in KINDS:
            raise RuleError(f"unknown rule kind {self.kind!r}; choose {', '.join(KINDS)}")
        if self.kind == "waiting" and not self.activity:
            raise RuleError("a waiting rule needs the activity cases wait at")
        if self.kind == "throughput" and self.period not in ("1d", "1w", "1mo"):
            raise RuleError(f"period {self.period!r}: choose 1d, 1w or 1mo")
        if self.kind == "violates":
            self.declare()  # refused here, by name, when it cannot be read
        if self.kind == "breach":
            if self.deadline_s <= 0:
                raise RuleError("a breach rule needs a deadline (say 30d)")
            if not 0 <= self.probability < 1:
                raise RuleError(f"probability {self.probability:g}: give one from 0 to below 1")
            if self.retrain_s <= 0:
                raise RuleError("a breach rule's models must be retrained after a positive time")

    def declare(self) -> DeclareRule:
        """The Declare rule of a ``violates`` rule."""
        if not self.violates:
            raise RuleError("a violates rule needs the Declare rule, say response(A, B)")
        return written(self.violates, f"rule {self.name}:")

    def target(self) -> Target:
        """What a ``breach`` rule predicts: the chance that a case takes longer than its
        deadline (``outcome:slow:...``)."""
        from workbench.causes import Outcome
        from workbench.predictions import Target

        text = f"slow:{self.deadline_s:.6f}".rstrip("0").rstrip(".") + "s"
        return Target("outcome", f"outcome:{text}", Outcome.parse(text))

    def describe(self) -> str:
        """The rule in words."""
        if self.kind == "violates":
            return f"a case violates {self.declare()}"
        if self.kind == "breach":
            return (
                f"open cases predicted to take longer than {human_duration(self.deadline_s)}"
                f" (chance above {self.probability:.0%}) exceed {self.more_than:g}"
            )
        working = "" if self.calendar is None else f" of working time ({self.calendar})"
        if self.kind == "waiting":
            return (
                f"open cases waiting at {self.activity} longer than"
                f" {human_duration(self.longer_than_s)}{working} exceed {self.more_than:g}"
            )
        if self.kind == "open":
            return f"open cases exceed {self.more_than:g}"
        span = {"1d": "daily", "1w": "weekly", "1mo": "monthly"}[self.period]
        return f"{span} median throughput time above {human_duration(self.median_above_s)}{working}"

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if k not in ("name", "log")})

    @classmethod
    def from_json(cls, name: str, log: str, text: str) -> Rule:
        fields = json.loads(text)
        fields["completed_by"] = tuple(fields.get("completed_by", ()))
        return cls(name=name, log=log, **fields)


def value(
    rule: Rule,
    events: pl.LazyFrame,
    at: datetime,
    *,
    completed: list[str] | None = None,
    calendar: Hours | None = None,
) -> float | None:
    """What the rule measures on the events (as known) at the moment ``at``. A case is
    complete when it ended with one of ``completed`` (by default the activities that end
    the events' cases, `timetravel.completing_activities`). Idle and throughput times are
    the ``calendar``'s working time when there is one (the rule's, as its caller read it)."""
    happened = events.filter(pl.col("timestamp") <= at)
    if rule.completed_by:
        completed = list(rule.completed_by)
    state = timetravel.state_at(happened, at, completed=completed).collect()
    if calendar is not None:
        state = timetravel.in_working_time(state, at, calendar)
    if rule.kind in ("waiting", "open"):
        open_cases = state.filter(pl.col("status") == "open")
        if rule.kind == "waiting":
            open_cases = open_cases.filter(
                (pl.col("last_activity").cast(pl.String) == rule.activity)
                & (pl.col("idle") > timedelta(seconds=rule.longer_than_s))
            )
        return float(open_cases.height)
    span = {"1d": timedelta(days=1), "1w": timedelta(weeks=1), "1mo": timedelta(days=30)}
    done = state.filter(
        (pl.col("status") == "completed") & (pl.col("last_timestamp") > at - span[rule.period])
    )
    if done.is_empty():
        return None
    median = done["elapsed"].median()
    return None if median is None else median.total_seconds()  # type: ignore[union-attr]


def holds(rule: Rule, measured: float | None) -> bool:
    """Whether the condition holds for this measurement."""
    if measured is None:
        return False
    if rule.kind == "throughput":
        return measured > rule.median_above_s
    return measured > rule.more_than


def breaching(
    rule: Rule, events: pl.DataFrame, at: datetime, predictor: Predictor | None = None
) -> tuple[list[str] | None, Predictor | None]:
    """A ``breach`` rule at ``at``, on ``events`` knowable then: the open cases that have
    not yet taken the deadline and are predicted to, with a chance above the rule's (None:
    too few cases had completed to train a model on), and the models that said so. Those
    of ``predictor`` are asked if trained no longer than the rule's ``retrain`` before
    ``at``; else models are trained at ``at``, on what was known then."""
    from workbench.predictions import PredictionError, fit

    since = None if predictor is None else at - predictor.trained_at
    if since is None or since < timedelta(0) or since >= timedelta(seconds=rule.retrain_s):
        try:
            predictor = fit(events, at, rule.target(), completed_by=rule.completed_by or None)
        except PredictionError:
            return None, None
        asked = predictor.then  # trained just now: what it said then
    else:
        assert predictor is not None
        asked = predictor.predict(events, at)
    assert asked is not None
    table = asked.table
    found = table.filter(
        (pl.col("risk") > rule.probability) & (pl.col("elapsed_seconds") <= rule.deadline_s)
    )
    return sorted(found["case_id"].to_list()), predictor


def message(rule: Rule, measured: float | None) -> str:
    """A firing's text."""
    if rule.kind == "throughput":
        return f"{rule.describe()}: {human_duration(measured)}"
    return f"{rule.describe()}: {measured or 0:g}"


class Alerts:
    """The alert rules of a store and their firings."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        # Per ``violates`` rule: what it was built for (its definition and log) and the
        # states of the log's cases, kept between checks so that a check reads only the
        # events appended since the last one.
        self._followers: dict[str, tuple[tuple[str, str], Follower]] = {}
        # Per ``breach`` rule: what it was built for, and the models last trained.
        self._predictors: dict[str, tuple[tuple[str, str], Predictor]] = {}
        self._checking = threading.Lock()  # one check at a time advances the states

    def add(self, rule: Rule) -> None:
        """Keep a rule (replacing one of the same name), if its log exists."""
        if not self.store.has_log(rule.log):
            raise RuleError(f"no log {rule.log!r} to watch")
        self.store.rules.save(rule.name, rule.log, rule.to_json())

    def remove(self, name: str) -> bool:
        """Forget a rule (its firings stay); False when there was none of that name."""
        return self.store.rules.remove(name)

    def rules(self, log: str | None = None) -> list[Rule]:
        """The rules, by name (of one log, if given)."""
        return [
            Rule.from_json(kept.name, kept.log, kept.definition)
            for kept in self.store.rules.all()
            if log is None or kept.log == log
        ]

    def check(self, log: str | None = None) -> list[Firing]:
        """Evaluate every rule (of one log) on its log as it stands, if the log moved since
        the last check; record a firing where a condition now holds that did not. Returns
        the firings recorded."""
        with self._checking:
            return self._check(log)

    def _check(self, log: str | None) -> list[Firing]:
        fired = []
        for kept in self.store.rules.all():
            watched = kept.log
            if (log is not None and watched != log) or not self.store.has_log(watched):
                continue
            position = self.store.head(watched)
            if kept.checked == position:
                continue
            rule = Rule.from_json(kept.name, watched, kept.definition)
            if rule.kind == "violates":
                fired.extend(self._follow(kept, rule, position))
                continue
            latest = self.store.summary(watched).last_timestamp
            if latest is None:
                continue
            if rule.kind == "breach":
                measured, text = self._predicted(kept, rule)
            else:
                events = self.store.scan(watched)
                hours = _calendar(self.store, rule, None, events)
                if rule.calendar is not None and hours is None:
                    continue  # its calendar is gone: no measure, and no false alarm
                measured = value(rule, events, latest, calendar=hours)
                text = message(rule, measured)
            now_holds = holds(rule, measured)
            if now_holds and not kept.holding:
                firing = Firing(
                    rule=kept.name,
                    log=watched,
                    position=position,
                    moment=latest,
                    recorded_at=datetime.now(UTC),
                    value=measured,
                    message=text,
                )
                self.store.rules.fire(firing)
                fired.append(firing)
            self.store.rules.checked(kept.name, position, holding=now_holds)
        return fired

    def _predicted(self, kept: StoredRule, rule: Rule) -> tuple[float | None, str]:
        """A ``breach`` rule on its log as it stands, at its latest event (as
        `Workbench.predict` at that moment): how many cases, and the firing's text. The
        models are kept between checks and trained again once they are older than the
        rule's ``retrain``."""
        from workbench.restatements import knowable

        events = knowable(self.store, kept.log).collect()
        latest = events["timestamp"].max()
        assert isinstance(latest, datetime)
        built_for = (kept.definition, self.store.identity(kept.log))
        held = self._predictors.get(kept.name)
        found, predictor = breaching(
            rule,
            events.filter(pl.col("known") <= latest),
            latest,
            held[1] if held is not None and held[0] == built_for else None,
        )
        if predictor is not None:
            self._predictors[kept.name] = (built_for, predictor)
        if found is None:
            return None, f"{rule.describe()}: too few cases had completed to predict"
        shown = ", ".join(found[:3]) + (", ..." if len(found) > 3 else "")
        return float(len(found)), f"{message(rule, len(found))} ({shown})"

    def follower(self, name: str) -> Follower | None:
        """The states of the cases of a ``violates`` rule as of its last check by this
        object (None: it has not checked it)."""
        held = self._followers.get(name)
        return None if held is None else held[1]

    def _follow(self, kept: StoredRule, rule: Rule, head: int) -> list[Firing]:
        """Advance a ``violates`` rule's cases to the head and record a firing at each
        position where a violation became certain."""
        log, declared = kept.log, rule.declare()
        built_for = (kept.definition, self.store.identity(log))
        held = self._followers.get(kept.name)
        if held is None or held[0] != built_for or held[1].position > head:
            events = self.store.scan(log, known_at=head)
            completed = list(rule.completed_by) or timetravel.completing_activities(events)
            held = (built_for, Follower([declared], completed=completed,
                                        reread=lambda cases: self._reread(log, cases)))  # fmt: skip
            self._followers[kept.name] = held
        follower = held[1]
        checked = kept.checked or 0
        if follower.position < checked:  # checked elsewhere since: fired there already
            follower.advance(self._between(log, follower.position, checked))
        found = follower.advance(self._between(log, max(follower.position, checked), head))
        violating = follower.violating(0)
        fired = []
        if kept.checked is None:  # the first check: what is there already, at the head
            if violating:
                latest = self.store.summary(log).last_timestamp
                assert latest is not None
                shown = ", ".join(violating[:3]) + (", ..." if len(violating) > 3 else "")
                fired.append(self._firing(kept, head, latest, len(violating),
                                          f"{len(violating):,} case(s) violate"
                                          f" {declared} ({shown})"))  # fmt: skip
        else:
            by_position: dict[int, list[Violation]] = {}
            for found_one in found:
                by_position.setdefault(found_one.position, []).append(found_one)
            for position, here in by_position.items():
                cases = ", ".join(v.case_id for v in here)
                ended = " when it ended" if all(v.at_end for v in here) else ""
                text = f"case {cases} violates {declared}{ended}"
                moment = here[0].timestamp
                assert isinstance(moment, datetime)
                fired.append(self._firing(kept, position, moment, len(violating), text))
        for firing in fired:
            self.store.rules.fire(firing)
        self.store.rules.checked(kept.name, head, holding=bool(violating))
        return fired

    def _firing(
        self, kept: StoredRule, position: int, moment: datetime, value: float, text: str
    ) -> Firing:
        return Firing(kept.name, kept.log, position, moment, datetime.now(UTC), value, text)

    def _between(self, log: str, first: int, last: int) -> pl.DataFrame:
        """The events of a log (or view) appended after position ``first`` up to ``last``."""
        # "After a moment no event has, or after the position": after the position alone.
        after = (datetime.max.replace(tzinfo=UTC), first)
        return self.store.scan(log, known_at=last, after=after).select(_TRACE).collect()

    def _reread(self, log: str, cases: list[str]) -> pl.DataFrame:
        return self.store.scan(log, case_id=cases).select(_TRACE).collect()

    def firings(self, log: str | None = None) -> pl.DataFrame:
        """Every firing recorded, in position order."""
        frame = pl.DataFrame(
            [astuple(firing) for firing in self.store.rules.firings()],
            schema={
                "rule": pl.String,
                "log": pl.String,
                "position": pl.Int64,
                "moment": pl.Datetime("us", "UTC"),
                "recorded_at": pl.Datetime("us", "UTC"),
                "value": pl.Float64,
                "message": pl.String,
            },
            orient="row",
        )
        return frame if log is None else frame.filter(pl.col("log") == log)


#: What following a case's rules reads of its events.
_TRACE: Final = ("case_id", "activity", "timestamp", "position")

#: The columns of a backtest.
_SERIES: Final = pl.Schema(
    [
        ("moment", pl.Datetime("us", "UTC")),
        ("events_known", pl.Int64()),
        ("value", pl.Float64()),
        ("holds", pl.Boolean()),
        ("fires", pl.Boolean()),
    ]
)


def backtest(store: EventStore, rule: Rule, *, step: timedelta = timedelta(days=1)) -> pl.DataFrame:
    """The rule evaluated at every ``step`` of the log's history on what was known then:
    ``moment``, ``events_known``, ``value``, ``holds`` and ``fires`` (it holds, and did not
    at the step before)."""
    from workbench.restatements import knowable

    if step <= timedelta(0):
        raise RuleError("the backtest's step must be positive")
    events = knowable(store, rule.log).collect()
    if events.is_empty():
        raise RuleError(f"{rule.log}: no events to backtest on")
    # Which activities end a case is the log's rule (or the rule's own), learned from all of
    # it: what was not known yet at a moment leaves cases open, not complete.
    ending = list(rule.completed_by) or timetravel.completing_activities(events.lazy())
    first, last = events["timestamp"].min(), events["timestamp"].max()
    assert isinstance(first, datetime)
    assert isinstance(last, datetime)
    if (last - first) / step > 5_000:
        raise RuleError(
            f"a step of {human_duration(step.total_seconds())} makes more than 5,000 moments;"
            " give a longer one"
        )
    if rule.kind == "violates":
        return _backtest_violations(rule, events, ending, first, last, step)
    rows = []
    before = False
    predictor: Predictor | None = None
    flagged: list[list[str]] = []  # a breach rule's cases at each moment
    moment = first + step
    while moment <= last + step:
        known = events.filter(pl.col("known") <= moment).drop("known")
        if rule.kind == "breach":  # models trained on what was known then, as the check does
            found, predictor = (
                breaching(rule, known, moment, predictor) if known.height else (None, None)
            )
            measured = None if found is None else float(len(found))
            flagged.append(found or [])
        else:
            # The calendar as known then, or, for a history older than the calendar, as now.
            hours = _calendar(store, rule, moment, known.lazy()) or _calendar(
                store, rule, None, known.lazy()
            )
            measured = (
                value(rule, known.lazy(), moment, completed=ending, calendar=hours)
                if known.height
                else None
            )
        now = holds(rule, measured)
        rows.append((moment, known.height, measured, now, now and not before))
        before = now
        moment += step
    series = pl.DataFrame(rows, schema=_SERIES, orient="row")
    if rule.kind == "breach":
        return series.with_columns(cases=pl.Series(flagged, dtype=pl.List(pl.String)))
    return series


def breach_scores(store: EventStore, rule: Rule, series: pl.DataFrame) -> dict[str, Any]:
    """How right a ``breach`` rule's backtest (``series``, with its ``cases``) was, as the
    log is known now. A case breached when it went on past its deadline: an event after
    it, or still open (not ended by one of the rule's or the log's end activities) when the
    deadline passed. It is decided when it breached, ended, or its deadline has passed; a
    case neither is left out. Of the decided cases the rule named at any moment
    (``flagged``), how many breached (``flagged_breached``, ``precision``); of those that
    breached (``breached``), how many it named before their deadline (``recall``); the
    precision to beat is the share of decided cases (``decided``) that breached
    (``base_rate``)."""
    from workbench.restatements import knowable

    events = knowable(store, rule.log)
    ending = list(rule.completed_by) or timetravel.completing_activities(events)
    deadline = timedelta(seconds=rule.deadline_s)
    now = pl.col("end").max()
    cases = (
        events.sort("timestamp", "position")
        .group_by(pl.col("case_id").cast(pl.String))
        .agg(
            start=pl.col("timestamp").min(),
            end=pl.col("timestamp").max(),
            ended=pl.col("activity").cast(pl.String).last().is_in(ending),
        )
        .with_columns(passed=now - pl.col("start") > deadline)
        .with_columns(
            breached=(pl.col("end") - pl.col("start") > deadline)
            | (~pl.col("ended") & pl.col("passed"))
        )
        .filter(pl.col("breached") | pl.col("ended") | pl.col("passed"))
        .collect()
    )
    late = set(cases.filter("breached")["case_id"])
    named = set(series["cases"].explode().drop_nulls().to_list()) & set(cases["case_id"])
    right = len(named & late)
    return {
        "decided": cases.height,
        "base_rate": len(late) / cases.height if cases.height else None,
        "flagged": len(named),
        "flagged_breached": right,
        "precision": right / len(named) if named else None,
        "breached": len(late),
        "recall": right / len(late) if late else None,
    }


def _backtest_violations(
    rule: Rule,
    events: pl.DataFrame,
    ending: list[str],
    first: datetime,
    last: datetime,
    step: timedelta,
) -> pl.DataFrame:
    """`backtest` of a ``violates`` rule: the cases' states advanced, step by step, by the
    events that became known in the step; ``value`` is the cases whose violation was
    certain then, and the rule ``fires`` at a step where one became certain."""
    events = events.select(*_TRACE, "known").sort("known", "position")
    knowns = events["known"]
    known = 0  # the events known by the moment: a prefix of them, in the order known

    def reread(cases: list[str]) -> pl.DataFrame:
        return events.head(known).filter(pl.col("case_id").cast(pl.String).is_in(cases))

    follower = Follower([rule.declare()], completed=ending, reread=reread)
    rows: list[tuple[datetime, int, float, bool, bool]] = []
    moment = first + step
    while moment <= last + step:
        before, known = known, int(knowns.search_sorted(moment, side="right"))
        fresh = follower.advance(events.slice(before, known - before).drop("known"))
        violating = len(follower.violating(0))
        rows.append((moment, known, float(violating), violating > 0, bool(fresh)))
        moment += step
    return pl.DataFrame(
        rows,
        schema=_SERIES,
        orient="row",
    )


def _calendar(
    store: EventStore, rule: Rule, known_at: datetime | None, events: pl.LazyFrame
) -> Hours | None:
    """The rule's calendar as the store knew it at ``known_at`` (None: now), if it did; for
    `ASSIGNED`, the log's calendars by attribute value over its ``events``."""
    from workbench.calendars import assigned, known
    from workbench.store import LogName
    from workbench.store.calendars import ASSIGNED

    if rule.calendar is None:
        return None
    if rule.calendar == ASSIGNED:
        log = LogName.parse(rule.log).log
        return assigned(store.calendars, log, lambda columns: events.select(columns), known_at)
    return known(store.calendars, rule.calendar, known_at)
