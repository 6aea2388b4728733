"""Shared state of the app: the open store. The only module that uses Streamlit's caches."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from workbench.store import EventStore


def db_path() -> Path:
    """The store the app serves: WORKBENCH_DB, else ./workbench.db."""
    return Path(os.environ.get("WORKBENCH_DB", "workbench.db")).resolve()


@st.cache_resource
def _open(path: str) -> EventStore:
    return EventStore(path)


def store() -> EventStore:
    """The store, opened once per server process."""
    return _open(str(db_path()))
