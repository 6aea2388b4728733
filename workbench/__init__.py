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
