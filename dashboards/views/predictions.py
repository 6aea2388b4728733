"""Predictions: every open case's remaining time, next activity and outcome at a chosen
moment, as known then; and the backtest that scores them against what happened later."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime

import streamlit as st

from dashboards import charts, predicting, state
from dashboards.layout import filtered_note, require_log, table, time_range, title, views
from dashboards.markdown import escape
from workbench import projections
from workbench.application import Cut, Workbench
from workbench.durations import human_duration

summary = require_log()
title("Predictions", summary)
filtered_note()
low, high = time_range(summary)
knowledge = state.knowledge(summary.log)
EVERY = {"week": "1w", "month": "1mo", "quarter": "1q"}


def outcome_target(key: str) -> str:
    """The outcome asked about: the end activity, or one the user names."""
    wanted = st.text_input(
        "Outcome",
        key=key,
        placeholder="the end activity; or the chance of activity:A, attribute:K=V, slow:30d",
        help="Empty: the activity each case ends with. activity:Reject, the chance that a case"
        " has a Reject; attribute:K=V, that an event sets K to V; slow:30d, that the case takes"
        " longer than 30 days.",
    ).strip()
    return f"outcome:{wanted}" if wanted else "outcome"


def show_open() -> None:
    """The open cases at a moment, as known then, each with its predictions."""
    st.caption(
        "Every case open at the moment, with its remaining time (the median, and the 10th to"
        " 90th percentile), its likeliest next activity and its outcome, from models trained"
        " only on the cases complete by then, as the store knew them then: what was recorded"
        " later cannot change them. A case idle longer than 99 % of the gaps between two"
        " events has ended."
    )
    left, right = st.columns(2)
    step = max((high - low) / 200, (high - low) / 10_000)
    # At first, when the latest case started: a case is open then, in a log imported whole.
    latest = state.cached(projections.cases, summary.log)["start"].max()
    start = latest.replace(tzinfo=None) if isinstance(latest, datetime) else high
    moment = left.slider(
        "Moment (UTC)", min_value=low, max_value=high, value=min(max(start, low), high),
        step=step, format="YYYY-MM-DD HH:mm", key="predict-moment",
    )  # fmt: skip
    with right:
        label = st.select_slider("As known at", list(knowledge), key="predict-known")
    outcome = outcome_target("predict-outcome")
    if not predicting.toggle("predict-open"):  # training takes seconds: when asked
        st.info(
            "Turn on Predict the open cases: the models train on the cases complete by the"
            " moment, which takes seconds (a minute on millions of events); then every moment"
            " and outcome you choose is predicted as you choose it."
        )
        return
    at, cut = moment.replace(tzinfo=UTC), Cut(known_at=knowledge[label])
    targets = ("remaining-time", "next-activity", outcome)
    ahead = predicting.open_cases(summary.log, cut, at, targets)
    if ahead is None:
        return
    made = state.ask(Workbench.predict, summary.log, cut, target="remaining-time", at=at)
    columns = st.columns(3)
    columns[0].metric("Open cases", f"{ahead.height:,}")
    columns[1].metric("Trained on (complete cases)", f"{made.trained_on:,}")
    median = ahead["remaining_seconds"].median()
    shown_median = "n/a" if median is None else human_duration(float(median))  # type: ignore[arg-type]
    columns[2].metric("Median remaining", shown_median)
    ends = ", ".join(made.completed_by) or "none (cases end when idle)"
    st.caption(f"A case is complete after: {escape(ends)}.")
    command = _command("predict", knowledge[label], targets, "--at", at.isoformat())
    if ahead.height:
        ordered = ahead.sort("remaining_seconds", "case_id", descending=[True, False])
        table(
            charts.predicted(state.local(ordered)),
            what="open cases (longest remaining first)",
            export=command,
        )
    st.caption("The same from the command line:")
    st.code(command, language="bash", wrap_lines=True)


def show_backtest() -> None:
    """Predictions walked forward through the log, scored against what happened."""
    st.caption(
        "At each cut the models learn from what was known then and predict the cases open"
        " then; those predictions are scored against what happened later, beside two"
        " baselines: the mean remaining time of training cases with the same last activity"
        " and prefix length, and the majority class. Nothing recorded after a cut is used at it."
    )
    left, right = st.columns(2)
    every = left.selectbox("A cut every", list(EVERY), index=1, key="backtest-every")
    with right:
        label = st.select_slider("As known at", list(knowledge), key="backtest-known")
    outcome = outcome_target("backtest-outcome")
    targets = ("remaining-time", "next-activity", outcome)
    asked = (summary.log, every, label, outcome)
    if st.button("Run the backtest", icon=":material/play_arrow:"):
        st.session_state["backtest"] = asked
    if st.session_state.get("backtest") != asked:
        st.info("A backtest trains models at every cut: on a large log it takes a minute or more.")
        return
    calendar = state.calendar_name()
    found = state.ask(
        Workbench.backtest_predictions, summary.log, Cut(known_at=knowledge[label]),
        every=EVERY[every], targets=targets, calendar=calendar,
    )  # fmt: skip
    overall, cuts = found.overall, found.cuts
    columns = st.columns(4)
    mae, base = overall.get("mae_seconds"), overall.get("baseline_mae_seconds")
    columns[0].metric(
        "Remaining time: MAE",
        "n/a" if mae is None else human_duration(mae),
        None if mae is None or not base else f"{mae / base - 1:+.0%} against the baseline",
        delta_color="inverse",
    )
    coverage = overall.get("interval_coverage")
    columns[1].metric("10-90 % interval holds", "n/a" if coverage is None else f"{coverage:.0%}")
    right_next = overall.get("next_activity_accuracy")
    columns[2].metric(
        "Next activity right",
        "n/a" if right_next is None else f"{right_next:.0%}",
        _against(right_next, overall.get("baseline_next_activity_accuracy")),
    )
    if "outcome_auc" in overall:
        auc = overall["outcome_auc"]
        columns[3].metric("Outcome: AUC", "n/a" if auc is None else f"{auc:.2f}")
    else:
        right_end = overall.get("outcome_accuracy")
        columns[3].metric(
            "End activity right",
            "n/a" if right_end is None else f"{right_end:.0%}",
            _against(right_end, overall.get("baseline_outcome_accuracy")),
        )
    working = overall.get("mae_business_seconds")
    if calendar and working is not None:
        words = state.workbench().calendar_words(summary.log, calendar)
        base = overall.get("baseline_mae_business_seconds")
        st.caption(
            f"In the working time of the {escape(words)}, between the predicted end and the"
            f" actual one: MAE {human_duration(working)}, baseline"
            f" {'n/a' if base is None else human_duration(base)}."
        )
    st.caption(
        f"{cuts.height:,} cut(s); {overall.get('remaining_scored', 0):,} open case(s) scored"
        " for remaining time over all of them."
    )
    left, right = st.columns(2)
    left.plotly_chart(charts.backtest_errors(cuts))
    right.plotly_chart(charts.backtest_coverage(cuts))
    left, right = st.columns(2)
    left.plotly_chart(
        charts.backtest_accuracy(cuts, "next_activity", "Next activity: accuracy per cut")
    )
    if "outcome_auc" in cuts.columns:
        right.plotly_chart(charts.backtest_outcome(cuts, outcome.removeprefix("outcome:")))
    else:
        right.plotly_chart(
            charts.backtest_accuracy(cuts, "outcome", "End activity: accuracy per cut")
        )
    command = _command(
        "predict backtest", knowledge[label], targets,
        "--every", every, "--calendar", calendar or "elapsed",
    )  # fmt: skip
    table(charts.readable(cuts.rename(_SECONDS, strict=False)), what="cuts")
    st.caption("The same from the command line:")
    st.code(command, language="bash", wrap_lines=True)


_SECONDS = {
    "mae_seconds": "MAE_s",
    "baseline_mae_seconds": "baseline MAE_s",
    "mae_business_seconds": "MAE, working time_s",
    "baseline_mae_business_seconds": "baseline MAE, working time_s",
}


def _command(verb: str, known_at: int | None, targets: tuple[str, ...], *options: str) -> str:
    """The command that gives what the page shows, for the log, the cut and the targets."""
    words = [*options, *(["--known-at", str(known_at)] if known_at is not None else [])]
    words += [part for target in targets for part in ("--target", target)]
    return f"workbench {verb} {shlex.join([summary.log, *words])} --json"


def _against(value: float | None, baseline: float | None) -> str | None:
    if value is None or baseline is None:
        return None
    return f"{(value - baseline) * 100:+.0f} points against the majority class"


views({"Open cases": show_open, "Backtest": show_backtest})
