"""Working calendars as the store keeps them: recorded facts, each change a new row, so that
a calendar reads as it was known at any moment. What a calendar means is
`workbench.calendars`; this is only where it lives."""

from __future__ import annotations

import json
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


#: The calendar name that asks for a log's calendars by attribute value
#: (`workbench.calendars.Assigned`): what a log with such calendars has its durations in
#: unless another is asked for.
ASSIGNED = "assigned"

#: Rows of the calendars table that record a log's default calendar, not a calendar: their
#: name is this prefix (a control character no calendar name has) and the log's name.
_ASSIGNED = "\x1flog\x1f"
#: Rows that record a calendar for one value of an attribute of a log: this prefix and the
#: JSON of ``[log, attribute, value]``.
_BY_VALUE = "\x1fvalue\x1f"


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
            if name.startswith("\x1f"):  # an assignment, not a calendar
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

    def version(self) -> tuple[int, tuple[str, str, int, bool] | None]:
        """What changes whenever any calendar or assignment does: how many rows were
        recorded, and the last."""
        rows = self.recorder.calendar_rows()
        return len(rows), rows[-1] if rows else None

    def assign_values(
        self, log: str, attribute: str, values: list[str], calendar: str | None
    ) -> None:
        """Record ``calendar`` for these values of a log's attribute from now on (None: the
        log's default again)."""
        at = now_micros()
        for value in values:
            name = _BY_VALUE + json.dumps([log, attribute, value], ensure_ascii=False)
            self.recorder.record_calendar(name, calendar or "{}", at, calendar is None)

    def by_value(self, known_at: datetime | None = None) -> dict[str, dict[str, dict[str, str]]]:
        """Each log's calendars by attribute value as known at ``known_at`` (None: now): by
        log, by attribute, by value, the calendar's name."""
        cut = None if known_at is None else to_micros(known_at)
        found: dict[str, dict[str, dict[str, str]]] = {}
        for name, calendar, at, removed in self.recorder.calendar_rows():
            if cut is not None and at > cut:
                break
            if not name.startswith(_BY_VALUE):
                continue
            log, attribute, value = json.loads(name.removeprefix(_BY_VALUE))
            values = found.setdefault(log, {}).setdefault(attribute, {})
            if removed:
                values.pop(value, None)
            else:
                values[value] = calendar
        return {
            log: {key: values for key, values in keys.items() if values}
            for log, keys in found.items()
            if any(keys.values())
        }
