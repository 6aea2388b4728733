"""Workbench: an event-sourced analytics and process-mining workbench."""

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
from workbench.store import EventStore, ImportResult, JobProgress, LogSummary, Objects

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
    "JobProgress",
    "LogSummary",
    "Objects",
    "UnknownLog",
    "WorkbenchError",
    "WrongExpectedRevision",
]
