"""Alert rules as the store keeps them: each rule's definition and the last check of it, and
the firings recorded. What a rule means is `workbench.alerts`; this is only where it lives.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass
from datetime import datetime

from workbench.store.frames import from_micros, to_micros
from workbench.store.recorder import RuleRecorder, now_micros


@dataclass(frozen=True)
class StoredRule:
    """A rule's stored definition (JSON), with the position it was last checked at (None:
    never) and whether its condition held then."""

    name: str
    log: str
    definition: str
    checked: int | None
    holding: bool


@dataclass(frozen=True)
class Firing:
    """A rule's condition started to hold: at the log's ``position``, whose latest event is
    at ``moment``; recorded at ``recorded_at``."""

    rule: str
    log: str
    position: int
    moment: datetime
    recorded_at: datetime
    value: float | None
    message: str


class Rules:
    """The alert rules of a store and their firings."""

    def __init__(self, recorder: RuleRecorder) -> None:
        self.recorder = recorder

    def save(self, name: str, log: str, definition: str) -> None:
        """Keep a rule's definition, replacing one of the same name."""
        self.recorder.save_rule(name, log, definition, now_micros())

    def remove(self, name: str) -> bool:
        """Forget a rule (its firings stay); False when there was none of that name."""
        return self.recorder.remove_rule(name)

    def all(self) -> list[StoredRule]:
        """Every rule, by name."""
        return [StoredRule(*row) for row in self.recorder.rules()]

    def checked(self, name: str, position: int, *, holding: bool) -> None:
        """Record that a rule was checked at ``position``, and whether it held."""
        self.recorder.check_rule(name, position, holding)

    def fire(self, firing: Firing) -> None:
        """Record a firing."""
        row = astuple(firing)
        self.recorder.add_firing(
            (*row[:3], to_micros(firing.moment), to_micros(firing.recorded_at), *row[5:])
        )

    def firings(self) -> list[Firing]:
        """Every firing, in position order."""
        return [
            Firing(rule, log, position, from_micros(moment), from_micros(recorded), value, text)
            for rule, log, position, moment, recorded, value, text in self.recorder.firings()
        ]
