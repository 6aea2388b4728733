"""Working calendars as the store keeps them: recorded facts, each change a new row, so that
a calendar reads as it was known at any moment. What a calendar means is
`workbench.calendars`; this is only where it lives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from workbench.store.frames import from_micros, to_micros
from workbench.store.recorder import UserRecorder, now_micros


@dataclass(frozen=True)
class StoredCalendar:
    """A calendar's definition (JSON) as recorded at ``recorded_at``."""

    name: str
    definition: str
    recorded_at: datetime


#: Rows of the calendars table that record a log's default calendar, not a calendar: their
#: name is this prefix (a control character no calendar name has) and the log's name.
_ASSIGNED = "\x1flog\x1f"


class Calendars:
    """The working calendars of a store, and each log's default calendar, as known at any
    moment."""

    def __init__(self, recorder: UserRecorder) -> None:
        self.recorder = recorder

    def record(self, name: str, definition: str) -> None:
        """Record a calendar's definition from now on (replacing what it was)."""
        self.recorder.record_calendar(name, definition, now_micros(), False)

    def remove(self, name: str) -> None:
        """Record that a calendar is gone from now on (what it was stays known)."""
        self.recorder.record_calendar(name, "{}", now_micros(), True)

    def known(self, known_at: datetime | None = None) -> dict[str, StoredCalendar]:
        """Each calendar as it was known at ``known_at`` (None: now), by name."""
        cut = None if known_at is None else to_micros(known_at)
        found: dict[str, StoredCalendar] = {}
        for name, definition, at, removed in self.recorder.calendar_rows():
            if cut is not None and at > cut:
                break
            if name.startswith(_ASSIGNED):
                continue
            if removed:
                found.pop(name, None)
            else:
                found[name] = StoredCalendar(name, definition, from_micros(at))
        return dict(sorted(found.items()))

    def assign(self, log: str, calendar: str | None) -> None:
        """Record ``calendar`` as the log's default from now on (None: elapsed time)."""
        name = _ASSIGNED + log
        if calendar is None:
            self.recorder.record_calendar(name, "{}", now_micros(), True)
        else:
            self.recorder.record_calendar(name, calendar, now_micros(), False)

    def assigned(self, known_at: datetime | None = None) -> dict[str, str]:
        """Each log's default calendar as known at ``known_at`` (None: now), by log."""
        cut = None if known_at is None else to_micros(known_at)
        found: dict[str, str] = {}
        for name, calendar, at, removed in self.recorder.calendar_rows():
            if cut is not None and at > cut:
                break
            if not name.startswith(_ASSIGNED):
                continue
            log = name.removeprefix(_ASSIGNED)
            if removed:
                found.pop(log, None)
            else:
                found[log] = calendar
        return found
