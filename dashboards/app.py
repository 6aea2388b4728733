"""The Workbench app: the `st.navigation` entry point, the log picker and the global filters."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run dashboards/app.py` puts dashboards/ first on the path; the packages sit above.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from workbench.events import WorkbenchError

st.set_page_config(page_title="Workbench", page_icon=":material/explore:", layout="wide")
pages = {
    "Data": [
        st.Page("pages/logs.py", title="Event logs", icon=":material/folder_open:", default=True),
        st.Page("pages/upload.py", title="Upload", icon=":material/upload:"),
    ],
    "Explore": [
        st.Page("pages/overview.py", title="Overview", icon=":material/monitoring:"),
        st.Page("pages/process_map.py", title="Process map", icon=":material/account_tree:"),
        st.Page("pages/variants.py", title="Variants", icon=":material/alt_route:"),
        st.Page("pages/cases.py", title="Cases", icon=":material/description:"),
        st.Page("pages/performance.py", title="Performance", icon=":material/timer:"),
        st.Page("pages/mining.py", title="Discovery and conformance", icon=":material/schema:"),
    ],
    "Time": [
        st.Page("pages/time_travel.py", title="Time travel", icon=":material/history:"),
        st.Page("pages/projections.py", title="Projections", icon=":material/table_view:"),
    ],
}
page = st.navigation(pages)  # each page draws the sidebar (`dashboards.sidebar`) first
try:
    page.run()
except WorkbenchError as error:  # bad input or an unknown name: the message says which
    st.error(str(error))
except Exception as error:  # anything else is a message on the page, never a traceback
    st.error(f"This page could not be computed ({type(error).__name__}: {error}).")
