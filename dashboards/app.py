"""The Workbench app: the `st.navigation` entry point, the log picker and the global filters."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run dashboards/app.py` puts dashboards/ first on the path; the packages sit above.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from dashboards import login, navigation
from dashboards.markdown import escape
from workbench.events import WorkbenchError

st.set_page_config(page_title="Workbench", page_icon=":material/explore:", layout="wide")
login.gate()  # with `serve --auth password`: the login page, and nothing else, until then
with st.sidebar:
    login.logout_button()
# The sidebar draws the page links (`dashboards.sidebar`), each carrying the current query.
page = st.navigation(navigation.pages(login.role()), position="hidden")
try:
    page.run()
except WorkbenchError as error:  # bad input or an unknown name: the message says which
    st.error(escape(error))
except Exception as error:  # anything else is a message on the page, never a traceback
    st.error(f"This page could not be computed ({type(error).__name__}: {escape(error)}).")
