"""Upload: import a file as an ingest job, with a preview and the column mapping to adjust."""

from __future__ import annotations

import hashlib
import re
import tempfile
from pathlib import Path

import streamlit as st

from dashboards import sidebar, state
from dashboards.markdown import escape
from ingest.errors import IngestError, MappingNeeded
from ingest.formats import FORMATS
from ingest.jobs import log_name
from ingest.mapping import ColumnMapping
from ingest.options import ParseOptions
from ingest.preview import MAPPABLE, TEXT, ZONED, columns, preview
from workbench.events import WorkbenchError

LIMIT_MB = int(st.get_option("server.maxUploadSize"))
ENCODINGS = ["utf-8", "latin-1", "cp1252", "utf-16"]
ROLES = {
    "case_id": "Case id",
    "activity": "Activity",
    "timestamp": "Timestamp",
    "start_timestamp": "Start time",
    "resource": "Resource",
}
RESULT = "upload-result"
UPLOADS = Path(tempfile.gettempdir()) / "workbench-uploads"


def _without_folder(text: str) -> str:
    """Text naming an uploaded file by its own name, not by where the server keeps it."""
    return re.sub(re.escape(str(UPLOADS)) + r"/[0-9a-f]+/", "", text)


sidebar.render()
st.title("Upload an event log")
st.caption(
    f"Formats: {', '.join(FORMATS.values())}; gzipped files too. Files up to {LIMIT_MB:,} MB"
    " (the server's maxUploadSize); larger files import with `workbench ingest FILE`."
)

done = st.session_state.pop(RESULT, None)
if done is not None:  # the import of the previous run, shown once the sidebar knows the log
    summary, rejects = done
    if summary.status == "unchanged":
        st.info(
            f"{escape(summary.log)}: this file was imported before (job {summary.job_id});"
            " nothing added."
        )
    else:
        clean = summary.status == "completed" and not summary.rejected and not summary.links_refused
        links = f", {summary.links_refused:,} link(s) refused" if summary.links_refused else ""
        resumed = (
            f" Resumed an earlier import after its first {summary.resumed_after:,} rows."
            if summary.resumed_after
            else ""
        )
        (st.success if clean else st.warning)(
            f"{escape(summary.log)}: {summary.events_added:,} events added,"
            f" {summary.duplicates:,} duplicates skipped, {summary.rejected:,} row(s) refused"
            f"{links} ({summary.status}, {summary.seconds:.1f} s).{resumed}"
        )
        if summary.message:
            st.caption(escape(_without_folder(summary.message)))
    if rejects is not None and rejects.height:
        st.markdown("**Refused rows**, with the reason:")
        st.dataframe(rejects, hide_index=True)
    st.page_link(
        "views/overview.py",
        label=f"Explore {escape(summary.log)}",
        icon=":material/monitoring:",
        query_params={state.LOG_KEY: summary.log},
    )

uploaded = st.file_uploader("Event log file", key="upload")
if uploaded is None:
    st.stop()

# Keep the upload on disk under its own name: importers read files, and the job records it.
folder = UPLOADS / hashlib.sha256(uploaded.getvalue()).hexdigest()[:16]
folder.mkdir(parents=True, exist_ok=True)
path = folder / Path(uploaded.name).name
if not path.exists():
    path.write_bytes(uploaded.getvalue())


def shown(error: BaseException) -> str:
    """An import error as the page says it: the file by the name it was uploaded under, and
    what to do here rather than which command-line flag to give."""
    if isinstance(error, MappingNeeded):
        roles = ", ".join(ROLES.get(role, role).lower() for role in error.missing)
        text = f"{path.name}: choose the column that holds the {roles} below"
        if "timestamp" in error.missing:
            text += ", or tick 'The file has no times'"
        return escape(text + ".")
    text = _without_folder(str(error))
    for flag, place in (
        ("--encoding", "the encoding below"),
        ("--no-times", "'The file has no times' below"),
        ("--activity", "the activity column below"),
        ("--timezone", "the time zone below"),
    ):
        text = text.replace(f"with {flag}", f"with {place}").replace(flag, place)
    return escape(text)


try:
    kind, _ = columns(path)
except (IngestError, WorkbenchError) as error:  # not a file any importer reads
    st.error(shown(error))
    st.stop()
st.markdown(f"Detected format: **{escape(FORMATS.get(kind, kind))}**")

settings = st.columns(4)
zone = (
    settings[0].selectbox("Time zone of times without an offset", state.TIME_ZONES)
    if kind in ZONED
    else "UTC"
)
encoding = settings[1].selectbox("Encoding", ENCODINGS) if kind in TEXT else "utf-8"
dayfirst = settings[2].toggle("Day first (01/02/2024 is 1 February)") if kind in TEXT else False
untimed = settings[3].toggle("The file has no times") if kind in MAPPABLE else False
options = ParseOptions(timezone=zone, dayfirst=dayfirst, encoding=encoding, timed=not untimed)
key = f"mapping-{path}"
chosen: ColumnMapping = st.session_state.get(key, ColumnMapping())
try:
    look, problem = preview(path, mapping=chosen, options=options), None
except (IngestError, WorkbenchError) as error:
    look, problem = None, error
    if kind not in MAPPABLE:  # nothing the user could choose would help
        st.error(shown(error))
        st.stop()

if kind in MAPPABLE:
    try:
        _, names = columns(path, encoding=encoding)
    except (IngestError, WorkbenchError) as error:
        st.error(shown(error))
        st.stop()
    st.markdown("**Columns**: change any role the detection got wrong.")
    roles = [role for role in ROLES if not (untimed and role in ("timestamp", "start_timestamp"))]
    picks = st.columns(len(roles))
    mapping: dict[str, str | None] = {}
    for place, role in zip(picks, roles, strict=True):
        detected = getattr(look.mapping if look else chosen, role)
        if role in ("resource", "start_timestamp"):  # optional: "(none)" is a choice
            choices: list[str | None] = [None, *names]
            index: int | None = choices.index(detected) if detected in choices else 0
        else:  # required: a column, or nothing chosen yet
            choices = list(names)
            index = choices.index(detected) if detected in choices else None
        mapping[role] = place.selectbox(
            ROLES[role],
            choices,
            index=index,
            format_func=lambda column: "(none)" if column is None else str(column),
            placeholder="choose a column",
            key=f"{path}-{role}",
        )
    wanted = ColumnMapping(**mapping)
    if wanted != chosen:
        st.session_state[key] = wanted
        st.rerun()
if look is None:
    st.error(shown(problem) if problem is not None else "Nothing to preview.")
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
        imported = state.workbench().import_file(
            path,
            log=name,
            mapping=st.session_state.get(key),
            options=options,
            progress=progress,
        )
    except (IngestError, WorkbenchError) as error:
        bar.empty()
        st.error(shown(error))
        st.stop()
    summary = imported.summary
    state.clear()
    rejects = state.store().ledger.rejects(summary.log) if summary.rejected else None
    if rejects is not None:
        rejects = rejects.filter(rejects["job_id"] == summary.job_id)
    st.session_state[RESULT] = (summary, rejects)
    st.query_params[state.LOG_KEY] = summary.log
    st.rerun()  # the sidebar and every page now see the new log
