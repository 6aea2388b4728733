"""The Workbench app: the `st.navigation` entry point that lists the pages."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run dashboards/app.py` puts dashboards/ first on the path; the packages sit above.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

st.set_page_config(page_title="Workbench", layout="wide")
pages = [st.Page("pages/logs.py", title="Event logs", default=True)]
st.navigation(pages).run()
