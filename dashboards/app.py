"""The Workbench app: the `st.navigation` entry point, the log picker and the global filters."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run dashboards/app.py` puts dashboards/ first on the path; the packages sit above.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboards import sidebar

st.set_page_config(page_title="Workbench", page_icon="🧭", layout="wide")
pages = {
    "Data": [
        st.Page("pages/logs.py", title="Event logs", icon="🗂️", default=True),
        st.Page("pages/upload.py", title="Upload", icon="⬆️"),
    ],
    "Explore": [
        st.Page("pages/overview.py", title="Overview", icon="📊"),
        st.Page("pages/process_map.py", title="Process map", icon="🗺️"),
        st.Page("pages/variants.py", title="Variants", icon="🔀"),
        st.Page("pages/cases.py", title="Cases", icon="📁"),
        st.Page("pages/performance.py", title="Performance", icon="⏱️"),
    ],
    "Time": [
        st.Page("pages/time_travel.py", title="Time travel", icon="🕰️"),
        st.Page("pages/projections.py", title="Projections", icon="🧮"),
    ],
}
page = st.navigation(pages)
sidebar.render()
page.run()
