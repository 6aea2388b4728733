"""Users and the audit trail as the store keeps them. What a role allows and how a password
is checked is `workbench.access`; this is only where they live."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from workbench.store.frames import from_micros, to_micros
from workbench.store.recorder import UserRecorder, now_micros


@dataclass(frozen=True)
class StoredUser:
    """A user as kept: the role, the password's hash (never the password), when made and
    last changed."""

    name: str
    role: str
    password: str
    created_at: datetime
    changed_at: datetime


@dataclass(frozen=True)
class AuditEntry:
    """``actor`` did ``action`` (on ``target``) at ``at``."""

    at: datetime
    actor: str
    action: str
    target: str
    detail: str


class Users:
    """The users of a store and its audit trail."""

    def __init__(self, recorder: UserRecorder) -> None:
        self.recorder = recorder

    def save(self, name: str, role: str, password_hash: str) -> None:
        """Keep a user, replacing one of the same name (its creation time stays)."""
        self.recorder.save_user(name, role, password_hash, now_micros())

    def remove(self, name: str) -> bool:
        """Forget a user; False when there was none of that name."""
        return self.recorder.remove_user(name)

    def all(self) -> list[StoredUser]:
        """Every user, by name."""
        return [
            StoredUser(name, role, password, from_micros(created), from_micros(changed))
            for name, role, password, created, changed in self.recorder.users()
        ]

    def get(self, name: str) -> StoredUser | None:
        """The user of that name, if there is one."""
        return next((user for user in self.all() if user.name == name), None)

    def record(self, actor: str, action: str, target: str = "", detail: str = "") -> None:
        """Add to the audit trail, at the store's now."""
        self.recorder.add_audit(now_micros(), actor, action, target, detail)

    def audit(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
    ) -> list[AuditEntry]:
        """The audit trail in time order (of one actor or action, from ``since`` on)."""
        start = None if since is None else to_micros(since)
        return [
            AuditEntry(from_micros(at), str(who), str(what), str(target), str(detail))
            for at, who, what, target, detail in self.recorder.audit(actor, action, start)
        ]
