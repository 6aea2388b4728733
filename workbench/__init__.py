"""Workbench: an event-sourced analytics and process-mining workbench.

The names below are loaded on first use, so that a command that does not read events
(``workbench --help``) starts without loading Polars and Arrow."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.events import (
        ANY,
        NO_STREAM,
        STREAM_EXISTS,
        AppendResult,
        DuplicateEvents,
        Event,
        InvalidEvents,
        UnknownLog,
        WorkbenchError,
        WrongExpectedRevision,
    )
    from workbench.store import EventStore, ImportResult, Job, JobProgress, LogSummary, Objects

__all__ = [
    "ANY",
    "NO_STREAM",
    "STREAM_EXISTS",
    "AppendResult",
    "DuplicateEvents",
    "Event",
    "EventStore",
    "ImportResult",
    "InvalidEvents",
    "Job",
    "JobProgress",
    "LogSummary",
    "Objects",
    "UnknownLog",
    "WorkbenchError",
    "WrongExpectedRevision",
]
_OF_STORE = frozenset({"EventStore", "ImportResult", "Job", "JobProgress", "LogSummary", "Objects"})


def __getattr__(name: str) -> Any:
    """A public name, loaded on first use (PEP 562)."""
    if name in _OF_STORE:
        from workbench import store

        return getattr(store, name)
    if name in __all__:
        from workbench import events

        return getattr(events, name)
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
