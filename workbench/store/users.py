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


@dataclass(frozen=True)
class Grant:
    """A user (by name) or a group (``@name``) may see a log, with at most ``role``."""

    log: str
    principal: str
    role: str
    granted_at: datetime


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

    def grant(self, log: str, principal: str, role: str) -> None:
        """Let a user or @group see a log, with at most ``role`` on it."""
        self.recorder.save_grant(log, principal, role, now_micros())

    def revoke(self, log: str | None = None, principal: str | None = None) -> int:
        """Take back grants: on a log, to a principal, or both; how many went."""
        if log is None and principal is None:
            raise ValueError("revoke names a log, a principal or both")
        return self.recorder.remove_grant(log, principal)

    def grants(self) -> list[Grant]:
        """Every grant, by log and principal."""
        return [
            Grant(log, principal, role, from_micros(at))
            for log, principal, role, at in self.recorder.grants()
        ]

    def key(self, name: str) -> bytes:
        """The store's secret key of this name (32 random bytes, made on first use and kept
        in the store: never printed, never exported)."""
        import secrets

        return bytes.fromhex(self.recorder.store_key(name, secrets.token_hex(32), now_micros()))

    def set_groups(self, name: str, groups: list[str]) -> None:
        """A user's groups (names without @), replacing those they had."""
        self.recorder.set_groups(name, sorted(set(groups)))

    def groups(self) -> dict[str, list[str]]:
        """Each user's groups."""
        found: dict[str, list[str]] = {}
        for name, group in self.recorder.groups():
            found.setdefault(name, []).append(group)
        return found
