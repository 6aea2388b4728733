"""Discovery and conformance: a model of the filtered log (or an uploaded one) and how the
log fits it, computed as a background job with progress."""

from __future__ import annotations

import hashlib
import sys
import tempfile
import threading
from pathlib import Path

import polars as pl
import streamlit as st

from dashboards import charts, state
from dashboards.layout import drawing, filtered_note, require_log, title
from dashboards.markdown import escape
from workbench import bounded, mining, models
from workbench.filters import Cases, Filters

summary = require_log()
# A worker with pm4py imported waits for the job, so that Run does not wait for one to
# start; and this process imports pm4py meanwhile, which it needs to read the model back.
bounded.prepare()
if "pm4py" not in sys.modules:
    threading.Thread(target=models.pm4py, name="import pm4py", daemon=True).start()
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
