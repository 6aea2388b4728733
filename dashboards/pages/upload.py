"""Upload: import a file as an ingest job, with a preview and the column mapping to adjust."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import streamlit as st

from dashboards import sidebar, state
from ingest.jobs import ingest, log_name
from ingest.mapping import ColumnMapping, IngestError, ParseOptions
from ingest.preview import MAPPABLE, columns, preview
from workbench.events import WorkbenchError

FORMATS = (
    "CSV (also .csv.gz), XES (.xes, .xes.gz), Parquet, Arrow/Feather, JSON lines (CloudEvents"
    " or plain), OCEL 2.0 (JSON, XML, SQLite), OCEL 1.0 JSON"
)
LIMIT_MB = int(st.get_option("server.maxUploadSize"))
ZONES = [
    "UTC",
    "Europe/Amsterdam",
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Chicago",
    "Asia/Tokyo",
    "Australia/Sydney",
]

sidebar.render()
st.title("Upload an event log")
st.caption(
    f"Formats: {FORMATS}. Files up to {LIMIT_MB:,} MB (the server's maxUploadSize); larger"
    " files import with `workbench ingest FILE`."
)
uploaded = st.file_uploader("Event log file", key="upload")
if uploaded is None:
    st.stop()

# Keep the upload on disk under its own name: importers read files, and the job records it.
folder = (
    Path(tempfile.gettempdir())
    / "workbench-uploads"
    / hashlib.sha256(uploaded.getvalue()).hexdigest()[:16]
)
folder.mkdir(parents=True, exist_ok=True)
path = folder / Path(uploaded.name).name
if not path.exists():
    path.write_bytes(uploaded.getvalue())

left, right = st.columns(2)
zone = left.selectbox("Time zone of times without an offset", ZONES)
dayfirst = right.toggle("Day first (01/02/2024 is 1 February)")
options = ParseOptions(timezone=zone, dayfirst=dayfirst)
chosen = st.session_state.get(f"mapping-{path}", ColumnMapping())
try:
    kind, names = columns(path)
except (IngestError, WorkbenchError) as error:  # not a file any importer reads
    st.error(str(error))
    st.stop()
try:
    look, problem = preview(path, mapping=chosen, options=options), ""
except (IngestError, WorkbenchError) as error:
    look, problem = None, str(error)
    if kind not in MAPPABLE:  # nothing the user could choose would help
        st.error(problem)
        st.stop()

st.markdown(f"Detected format: **{kind}**")
if kind in MAPPABLE:
    st.markdown("**Columns**: change any role the detection got wrong.")
    roles = ("case_id", "activity", "timestamp", "resource")
    picks = st.columns(len(roles))
    mapping: dict[str, str | None] = {}
    for place, role in zip(picks, roles, strict=True):
        detected = getattr(look.mapping if look else chosen, role)
        choices: list[str | None] = [None, *names]
        mapping[role] = place.selectbox(
            role.replace("_", " "),
            choices,
            index=choices.index(detected) if detected in choices else 0,
            format_func=lambda c, r=role: (
                c if c is not None else "(none)" if r == "resource" else "(detect)"
            ),
            key=f"{path}-{role}",
        )
    wanted = ColumnMapping(**mapping)
    if wanted != chosen:
        st.session_state[f"mapping-{path}"] = wanted
        st.rerun()
if look is None:
    st.error(problem)
    st.stop()
st.markdown("**Preview** (the first events as they will be stored, times in UTC)")
st.dataframe(look.events, hide_index=True)
if look.rejects.height:
    st.warning(f"{look.rejects.height} of the first rows would be refused:")
    st.dataframe(look.rejects, hide_index=True)
name = st.text_input("Log name", value=log_name(path))
if st.button("Import", type="primary"):
    bar = st.progress(0.0, text="Importing...")
    lines = max(uploaded.getvalue().count(b"\n"), 1) if look.format == "csv" else None

    def progress(rows: int) -> None:
        if lines:
            bar.progress(min(rows / lines, 1.0), text=f"Importing... {rows:,} rows")
        else:
            bar.progress(0.5, text=f"Importing... {rows:,} rows")

    try:
        done = ingest(
            state.store(),
            path,
            log=name,
            mapping=st.session_state.get(f"mapping-{path}"),
            options=options,
            progress=progress,
        )
    except (IngestError, WorkbenchError) as error:
        bar.empty()
        st.error(str(error))
        st.stop()
    bar.progress(1.0, text="Done")
    state.clear()
    if done.status == "unchanged":
        st.info(f"{name}: this file was imported before (job #{done.job_id}); nothing added.")
    else:
        message = (
            f"{name}: {done.events_added:,} events added, {done.duplicates:,} duplicates"
            f" skipped, {done.rejected:,} row(s) refused ({done.status}, {done.seconds:.1f} s)."
        )
        clean = done.status == "completed" and not done.rejected
        (st.success if clean else st.warning)(message)
        if done.message:
            st.caption(done.message)
    if done.rejected:
        rejects = state.store().ledger.rejects(name)
        st.markdown("**Refused rows**, with the reason:")
        st.dataframe(rejects.filter(rejects["job_id"] == done.job_id), hide_index=True)
    st.query_params[state.LOG_KEY] = name
    st.page_link("pages/overview.py", label=f"Explore {name}", icon=":material/monitoring:")
