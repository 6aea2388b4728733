"""Discovery and conformance: a model of the filtered log (or an uploaded one) and how the
log fits it, computed as a background job with progress."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import polars as pl
import streamlit as st

from dashboards import charts, state
from dashboards.causes import why
from dashboards.layout import drawing, filtered_note, require_log, title
from dashboards.markdown import escape
from workbench import bounded, mining, models, rulefiles, rules
from workbench.application import Workbench
from workbench.filters import Cases, Filters

summary = require_log()
# A worker with pm4py imported waits for the job, so that Run does not wait for one to
# start.
bounded.prepare()
title("Discovery and conformance", summary)
filtered_note()
left, middle, right = st.columns(3)
source = left.radio("Model", ["Discover from the log", "Upload a model"], horizontal=True)
uploaded = None
algorithm, noise = "inductive", 0.0
if source == "Discover from the log":
    algorithm = middle.selectbox("Algorithm", mining.ALGORITHMS)
    if algorithm == "inductive":
        noise = right.slider("Noise threshold", 0.0, 1.0, 0.2, step=0.05)
else:
    uploaded = middle.file_uploader("PNML or BPMN model", type=["pnml", "bpmn"])
method = st.radio(
    "Conformance",
    ["tokens", "alignments"],
    format_func={
        "tokens": "Token replay (fitness, precision)",
        "alignments": "Alignments (fitness, deviations)",
    }.get,
    horizontal=True,
)
budget = st.slider(
    "Time budget (s)",
    5,
    600,
    120,
    step=5,
    help="Wall-clock time for discovery and the check together: when it runs out, the job"
    " stops and shows the variants it checked, labelled as partial.",
)
model_path: Path | None = None
if uploaded is not None:
    digest = hashlib.sha256(uploaded.getvalue()).hexdigest()[:16]
    model_path = (
        Path(tempfile.gettempdir()) / "workbench-models" / digest / Path(uploaded.name).name
    )
    model_path.parent.mkdir(parents=True, exist_ok=True)
    model_path.write_bytes(uploaded.getvalue())
elif source == "Upload a model":
    st.stop()

log, filters = summary.log, state.filters()
key = "|".join(
    map(
        str,
        (
            state.db_location(),
            log,
            state.store().head(log),
            filters.to_query(),
            algorithm,
            noise,
            model_path,
            method,
            budget,
        ),
    )
)
events = state.events(log)
if st.button("Run", type="primary"):
    bench = state.workbench()
    state.start_job(
        key,
        lambda progress: bench.analyse(
            log,
            filters=filters,
            algorithm=algorithm,  # type: ignore[arg-type]
            noise=noise,
            model=model_path,
            method=method,  # type: ignore[arg-type]
            budget=budget,
            progress=progress,
        ),
    )
    # To read the model back, pm4py, imported while the job runs: here, not on a thread of
    # its own beside the script (on a clean clone such an import once found no pyparsing,
    # which was installed, and left matplotlib half-imported for the whole process).
    models.pm4py()


@st.fragment(run_every=1.0)
def outcome() -> None:
    running = state.job(key)
    if running is None:
        st.caption("Choose the settings and press Run; the job runs in the background.")
        return
    if running.running:
        st.progress(running.done, text=f"{running.stage}…")
        return
    if running.error is not None:
        st.error(running.error)
        return
    analysis: mining.Analysis = running.result
    show(analysis, running.finished - running.started)  # type: ignore[operator]


def show(analysis: mining.Analysis, seconds: float) -> None:
    result = analysis.conformance
    columns = st.columns(4)
    columns[0].metric("Fitness", "n/a" if result.fitness is None else f"{result.fitness:.3f}")
    columns[1].metric("Precision", "n/a" if result.precision is None else f"{result.precision:.3f}")
    columns[2].metric(
        "Cases that fit", "n/a" if result.fitting_cases is None else f"{result.fitting_cases:.1%}"
    )
    columns[3].metric("Variants checked", f"{result.variants_checked:,} of {result.variants:,}")
    st.caption(f"Computed in {seconds:.1f} s.")
    for note in analysis.model.notes:
        st.warning(escape(note), icon=":material/report:")
    for note in result.notes:
        # What stopped the job early is a warning (the figures are partial); which engine
        # aligned is information.
        if note.startswith("stopped at") or result.fitness is None:
            st.warning(escape(note), icon=":material/timer_off:")
        else:
            st.info(escape(note), icon=":material/info:")
    views = (
        ["petri"]
        + (["bpmn"] if analysis.model.bpmn is not None else [])
        + (["tree"] if analysis.model.tree is not None else [])
    )
    view = (
        st.segmented_control(
            "Show as",
            views,
            default="petri",
            format_func={"petri": "Petri net", "bpmn": "BPMN", "tree": "Process tree"}.get,
        )
        or "petri"
    )
    on_model = result.transitions is not None and view == "petri"
    if on_model:
        st.caption(
            "Deviations on the model: transitions darker red the more cases skipped them"
            " (moves on model); red notes list activities done where the model does not"
            " allow them (moves on log), beside the transition passed last."
        )
    elif result.method == "tokens":
        st.caption("Choose alignments to see the deviations drawn on the model.")
    # At its own size, in a frame that scrolls, so that labels stay readable however wide
    # the net; the SVG opens on its own, full screen.
    drawing(
        mining.deviations_dot(analysis.model, result)
        if on_model
        else mining.to_dot(analysis.model, view=view),  # type: ignore[arg-type]
        name=f"{summary.log.replace('/', '-')}-{view}",
    )
    folder = Path(tempfile.mkdtemp(prefix="workbench-model-"))
    downloads = st.columns(4)
    for place, suffix in zip(downloads, (".pnml", ".bpmn"), strict=False):
        if suffix == ".bpmn" and analysis.model.bpmn is None:
            continue
        target = folder / f"{summary.log.replace('/', '-')}{suffix}"
        mining.write_model(analysis.model, target)
        place.download_button(
            f"Download {suffix[1:].upper()}", target.read_bytes(), file_name=target.name
        )
    if result.deviations.height:
        st.markdown(
            "**Deviations per activity** (moves on log: done but not allowed;"
            " moves on model: skipped)"
        )
        st.dataframe(result.deviations, hide_index=True)
    unfit = result.cases.filter(~pl.col("fitting"))
    st.markdown(f"**Cases that do not fit** ({unfit.height:,})")
    if unfit.height and st.button(
        f"Show only these {unfit.height:,} cases on every page",
        icon=":material/filter_alt:",
        help="Adds a filter to the whole app (kept in the link); clear it in the sidebar.",
    ):
        chosen = Cases.of(
            unfit["case_id"].cast(pl.String).to_list(), label="cases that do not fit the model"
        )
        state.keep_cases(summary.log, chosen)
        kept = [f for f in state.filters().items if not isinstance(f, Cases)]
        state.set_filters(Filters((*kept, chosen)))
        st.rerun()
    # Each case with its variant's activities (the variant's number says nothing to a
    # reader), from the variants the check already listed.
    shown = unfit.select("case_id", "variant", "fitness")
    if result.variant_activities is not None:
        activities = result.variant_activities.select(
            pl.col("index").alias("variant"),
            pl.col("variant").list.join(" → ").alias("activities"),
        )
        shown = shown.join(activities, on="variant", how="left").drop("variant")
    shown = shown.sort("fitness").head(2_000)
    st.dataframe(shown, hide_index=True)
    if unfit.height:
        why(summary.log, "not fitting the model", key="unfit",
            having=unfit["case_id"].cast(pl.String).to_list())  # fmt: skip
    every = st.segmented_control(
        "Conformance over time", ["week", "month", "quarter"], default="month"
    )
    if every:
        periods = mining.over_time(result, events, every)
        if periods.height:
            st.plotly_chart(charts.conformance_over_time(periods, every))
    st.download_button(
        "Download per-case results (CSV)", result.cases.write_csv(), file_name="conformance.csv"
    )


outcome()


# ------------------------------------------------------------------ declarative rules

st.divider()
st.subheader("Rules")
st.caption(
    "Constraints most processes have without a model. Declare: one activity before another,"
    " after it, directly, never together... (support: cases the rule speaks of; confidence:"
    " cases that keep it). Temporal profile: the usual time from one activity to a later one"
    " (a case deviates beyond zeta standard deviations). Log skeleton: relations and counts"
    " every case keeps. The same as `workbench rules discover` and `rules check`."
)
# Checking every case costs seconds on millions of events: only when asked.
if not st.toggle("Discover and check rules", key="rules-on"):
    st.stop()
KINDS = {
    "Declare": "declare",
    "Temporal profile": "temporal-profile",
    "Log skeleton": "log-skeleton",
}
left, middle, right = st.columns(3)
origin = left.radio(
    "Rules", ["Discover from the log", "Upload rules"], horizontal=True, key="rules-origin"
)
given: rulefiles.RuleFile | None = None
if origin == "Discover from the log":
    kind = KINDS[middle.selectbox("Kind", list(KINDS), key="rules-kind")]
    if kind == "declare":
        support = right.slider("Minimum support", 0.05, 1.0, 0.9, step=0.05, key="rules-support")
        confidence = right.slider(
            "Minimum confidence", 0.05, 1.0, 0.9, step=0.05, key="rules-confidence"
        )
        found = state.ask(
            Workbench.discover_rules, log, min_support=support, min_confidence=confidence
        )
        given = rulefiles.RuleFile(kind, rules=found)
    elif kind == "temporal-profile":
        zeta = right.slider("Zeta (standard deviations)", 0.5, 10.0, 6.0, step=0.5,
                            key="rules-zeta")  # fmt: skip
        given = rulefiles.RuleFile(kind, gaps=state.ask(Workbench.temporal_profile, log), zeta=zeta)
    else:
        noise = right.slider("Noise", 0.0, 0.5, 0.0, step=0.05, key="rules-noise",
                             help="The share of cases a relation may miss.")  # fmt: skip
        skeleton = state.ask(Workbench.log_skeleton, log, noise=noise)
        given = rulefiles.RuleFile(kind, skeleton=skeleton)
else:
    sent = middle.file_uploader("Rules (JSON)", type=["json"], key="rules-file")
    if sent is not None:
        kept = Path(tempfile.mkdtemp(prefix="workbench-rules-")) / Path(sent.name).name
        kept.write_bytes(sent.getvalue())
        try:
            given = rulefiles.read(kept)
        except rules.RulesError as error:
            st.error(escape(str(error).replace(str(kept.parent) + "/", "")))
            st.stop()
if given is None:
    st.info("Upload a rules file (`workbench rules discover ... --output rules.json`).")
    st.stop()
cases_total = state.ask(Workbench.summary, log).cases
if given.kind == "declare":
    declared = state.ask(Workbench.conform_to_rules, log, tuple(given.rules))
    listed = [r.as_dict() for r in declared.rules]
    deviating = {c.case_id for c in declared.cases if c.violated}
    fitness = sum(c.fitness for c in declared.cases)
    kept_file = rulefiles.write(given.rules, log=log)
else:
    if given.kind == "temporal-profile":
        other = state.ask(Workbench.conform_to_profile, log, tuple(given.gaps), zeta=given.zeta)
        kept_file = rulefiles.write(given.gaps, log=log, zeta=given.zeta)
    else:
        assert given.skeleton is not None
        other = state.ask(Workbench.conform_to_skeleton, log, given.skeleton)
        kept_file = rulefiles.write(given.skeleton, log=log)
    listed = other.as_dict()["rules"]
    # Every case with a deviation (an activity's count too, which no pair lists).
    deviating = {case for case, found in other.deviations.items() if found}
    fitness = sum(other.fitness(case) for case in deviating) + cases_total - len(deviating)
if not listed:
    st.info("No rule reaches that support and confidence: lower them, or upload rules.")
    st.stop()
table = pl.DataFrame(
    {
        "template": [r["template"] for r in listed],
        "activities": [" → ".join(r["activities"]) for r in listed],
        "activations": [r["activations"] for r in listed],
        "fulfilments": [r["fulfilments"] for r in listed],
        "violations": [r["violations"] for r in listed],
    },
    schema={
        "template": pl.String,
        "activities": pl.String,
        "activations": pl.Int64,
        "fulfilments": pl.Int64,
        "violations": pl.Int64,
    },
)
columns = st.columns(3)
columns[0].metric("Rules", f"{len(listed):,}")
columns[1].metric(
    "Cases that keep every rule", f"{cases_total - len(deviating):,} of {cases_total:,}"
)
columns[2].metric("Mean fitness", f"{fitness / cases_total:.3f}" if cases_total else "n/a")
st.dataframe(table.sort("violations", "template", descending=[True, False]), hide_index=True)
st.download_button(
    "Download the rules (JSON)", kept_file, file_name=f"{log.replace('/', '-')}-rules.json"
)
broken = sorted((r for r in listed if r["violations"]), key=lambda r: -r["violations"])
if broken:
    chosen_rule = st.selectbox(
        "A rule's violating cases",
        broken,
        format_func=lambda r: (
            f"{r['template']}({', '.join(r['activities'])}): {r['violations']:,} cases"
        ),
        key="rules-chosen",
    )
    if chosen_rule is not None:
        violating = chosen_rule["violating_cases"]
        st.dataframe(pl.DataFrame({"case_id": violating[:2_000]}), hide_index=True)
        named = f"{chosen_rule['template']}({', '.join(chosen_rule['activities'])})"
        if given.kind == "declare":
            written = rules.Rule(chosen_rule["template"], tuple(chosen_rule["activities"]))
            why(log, f"violates:{written}", key="rule")
        else:
            why(log, f"violates {named}", key="rule", having=violating)
        if st.button(
            f"Show only these {len(violating):,} cases on every page",
            icon=":material/filter_alt:",
            key="rules-filter",
            help="Adds a filter to the whole app (kept in the link); clear it in the sidebar.",
        ):
            picked = Cases.of(violating, label=f"cases that violate {named}")
            state.keep_cases(summary.log, picked)
            others = [f for f in state.filters().items if not isinstance(f, Cases)]
            state.set_filters(Filters((*others, picked)))
            st.rerun()
