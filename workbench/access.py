"""Who may use a shared workbench: users with a role and a password, checked here.

A password is kept only as its Argon2id hash (argon2-cffi: memory-hard, salted, its
parameters in the hash, so a stronger setting later rehashes at the next login). Logins
and failed logins go to the store's audit trail, and so do the changes to users: who
added, changed or removed whom. After three failed logins of a name within a quarter of an
hour, each further attempt waits before it is checked, twice as long each time, up to half
a minute: guessing is slowed whoever asks, and a right password after the wait still
works.

The roles, from least to most: a ``viewer`` reads; an ``analyst`` also imports, adds
alert rules, saved queries and projections; an ``admin`` also drops logs and manages users.
"""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

from workbench.events import WorkbenchError
from workbench.store import EventStore
from workbench.store.users import StoredUser

if TYPE_CHECKING:
    from argon2 import PasswordHasher

ROLES: Final = ("viewer", "analyst", "admin")
MIN_PASSWORD: Final = 8
FREE_FAILURES: Final = 3  # failed logins of a name before attempts wait
FAILURE_WINDOW: Final = timedelta(minutes=15)
MAX_DELAY: Final = 30.0  # seconds
# The password "hash" of a user who logs in through OpenID Connect: no password matches it.
EXTERNAL: Final = "!openid-connect"


class AccessError(WorkbenchError):
    """A user or password that cannot be taken (the message says why, never the
    password)."""


class Denied(AccessError):
    """The acting user's role does not allow what was asked."""


def local_actor() -> str:
    """Who a command typed on this machine acts as, in the audit trail: its user."""
    import getpass
    import os

    try:
        return f"{getpass.getuser()} (shell)"
    except (KeyError, OSError):
        return f"uid {os.getuid()} (shell)"


def require(user: User | None, role: str, doing: str) -> None:
    """Refuse (`Denied`) what ``user``'s role does not allow: ``doing`` needs ``role``. No
    user (a workbench without logins, or a command typed on its machine): allowed."""
    if user is not None and not user.may(role):
        raise Denied(f"{user.name} is {_a(user.role)}: {doing} needs the {role} role")


def _a(role: str) -> str:
    return f"an {role}" if role[0] in "aeiou" else f"a {role}"


@dataclass(frozen=True)
class User:
    """Someone who may use the workbench, with a role."""

    name: str
    role: str
    created_at: datetime
    changed_at: datetime

    def may(self, role: str) -> bool:
        """Whether the user's role is ``role`` or above it."""
        return ROLES.index(self.role) >= ROLES.index(role)


class Access:
    """The users of a store: adding, changing and removing them, and logging in."""

    def __init__(
        self,
        store: EventStore,
        *,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        acting: User | None = None,
    ) -> None:
        self.store = store
        self.sleep = sleep
        self.now = now
        self.acting = acting  # who manages users through this (None: the machine's user)

    # ------------------------------------------------------------------ users

    def users(self) -> list[User]:
        """Every user, by name."""
        return [
            User(kept.name, kept.role, kept.created_at, kept.changed_at)
            for kept in self.store.users.all()
        ]

    def user(self, name: str) -> User | None:
        """The user of that name, if there is one."""
        kept = self.store.users.get(name)
        return None if kept is None else User(name, kept.role, kept.created_at, kept.changed_at)

    def add_external(self, name: str, role: str, *, actor: str) -> User:
        """A user who logs in through the organisation's OpenID Connect provider (`serve
        --auth oidc`), named by the e-mail it vouches for: no password here, so the login
        form never lets them in."""
        require(self.acting, "admin", "adding a user")
        _check_name(name)
        _check_role(role)
        if self.store.users.get(name) is not None:
            raise AccessError(f"a user {name!r} exists")
        self.store.users.save(name, role, EXTERNAL)
        self.store.users.record(actor, "user-add", name, f"role {role}, OpenID Connect")
        found = self.user(name)
        assert found is not None
        return found

    def external_login(self, email: str | None, groups: list[str] | None) -> User | None:
        """The user an OpenID Connect login maps to: the user named by the e-mail the
        provider vouched for (None: no such user; recorded as a failed login). The
        provider's ``groups`` claim, when it sends one, becomes the user's groups, so that
        grants to @groups follow the organisation's directory."""
        name = (email or "").strip()
        found = self.user(name) if name else None
        if found is None:
            self.store.users.record(name or "(no e-mail)", "login-failed", "", "OpenID Connect")
            return None
        if groups is not None:
            wanted = sorted({group.removeprefix("@") for group in groups if group})
            if self.store.users.groups().get(name, []) != wanted:
                self.store.users.set_groups(name, wanted)
        self.store.users.record(name, "login", "", "OpenID Connect")
        return found

    def add(self, name: str, role: str, password: str, *, actor: str) -> User:
        """A new user; refused when the name is taken, the role unknown or the password
        too short."""
        require(self.acting, "admin", "adding a user")
        _check_name(name)
        _check_role(role)
        if self.store.users.get(name) is not None:
            raise AccessError(
                f"a user {name!r} exists: `workbench users passwd {name}` changes the password"
            )
        self.store.users.save(name, role, self._hash(password))
        self.store.users.record(actor, "user-add", name, f"role {role}")
        found = self.user(name)
        assert found is not None
        return found

    def passwd(self, name: str, password: str, *, actor: str) -> None:
        """A user's new password."""
        if self.acting is None or self.acting.name != name:
            require(self.acting, "admin", "changing another user's password")
        kept = self._existing(name)
        self.store.users.save(name, kept.role, self._hash(password))
        self.store.users.record(actor, "user-passwd", name)

    def set_role(self, name: str, role: str, *, actor: str) -> None:
        """A user's new role."""
        require(self.acting, "admin", "changing a user's role")
        _check_role(role)
        kept = self._existing(name)
        self.store.users.save(name, role, kept.password)
        self.store.users.record(actor, "user-role", name, f"role {role}")

    def remove(self, name: str, *, actor: str) -> None:
        """Forget a user (the audit trail keeps what they did)."""
        require(self.acting, "admin", "removing a user")
        self._existing(name)
        self.store.users.remove(name)
        self.store.users.set_groups(name, [])
        self.store.users.revoke(principal=name)
        self.store.users.record(actor, "user-remove", name)

    def set_groups(self, name: str, groups: list[str], *, actor: str) -> None:
        """A user's groups (with or without a leading @), replacing those they had."""
        require(self.acting, "admin", "changing a user's groups")
        self._existing(name)
        names = [group.removeprefix("@") for group in groups]
        for group in names:
            _check_name(group)
        self.store.users.set_groups(name, names)
        self.store.users.record(actor, "user-groups", name, " ".join(f"@{g}" for g in names))

    # ------------------------------------------------------------------ logs

    def grant(self, log: str, principal: str, role: str = "admin", *, actor: str) -> None:
        """Restrict a log to the users and @groups granted it (this one among them), each
        with at most ``role`` on it (their own role if lower). Admins see every log."""
        require(self.acting, "admin", "granting a log")
        _check_role(role)
        if not self.store.has_log(log):
            raise AccessError(f"no log named {log!r} in the store (see `workbench logs`)")
        if not principal.startswith("@"):
            self._existing(principal)
        else:
            _check_name(principal[1:])
        self.store.users.grant(log, principal, role)
        self.store.users.record(actor, "grant", log, f"{principal} {role}")

    def revoke(self, log: str, principal: str, *, actor: str) -> None:
        """Take back a grant (a log without grants is open to every user again)."""
        require(self.acting, "admin", "revoking a grant")
        if not self.store.users.revoke(log, principal):
            raise AccessError(f"{principal} has no grant on {log!r} (see `workbench grants`)")
        self.store.users.record(actor, "revoke", log, principal)

    def role_on(self, user: User | None, log: str) -> str | None:
        """The role ``user`` has on a log: theirs, lowered to the highest grant they have on
        a restricted log; None when the log is restricted and they have no grant. No user
        (a command typed on the store's machine) and admins: every log, as admin or as
        themselves."""
        return self.roles_on(user, [log])[log]

    def roles_on(self, user: User | None, logs: Iterable[str]) -> dict[str, str | None]:
        """`role_on` of each log, from one read of the grants and groups."""
        names = list(logs)
        if user is None:
            return dict.fromkeys(names, "admin")
        grants = self.store.users.grants()
        if not grants or user.role == "admin":
            return dict.fromkeys(names, user.role)
        groups = self.store.users.groups().get(user.name, [])
        mine = {user.name, *(f"@{group}" for group in groups)}
        found: dict[str, str | None] = {}
        for log in names:
            base = log.split("/", 1)[0]  # a view LOG/TYPE is its log's
            granted = [grant for grant in grants if grant.log == base]
            roles = [grant.role for grant in granted if grant.principal in mine]
            if not granted:
                found[log] = user.role
            elif not roles:
                found[log] = None
            else:
                found[log] = min(max(roles, key=ROLES.index), user.role, key=ROLES.index)
        return found

    # ------------------------------------------------------------------ logging in

    def delay(self, name: str) -> float:
        """Seconds an attempt to log in as ``name`` waits before it is checked: none until
        `FREE_FAILURES` failed logins within `FAILURE_WINDOW` (since the last login), then
        one, two, four ... up to `MAX_DELAY`."""
        since = self.now() - FAILURE_WINDOW
        trail = self.store.users.audit(actor=name, since=since)
        failures = 0
        for entry in trail:
            if entry.action == "login":
                failures = 0
            elif entry.action == "login-failed":
                failures += 1
        if failures < FREE_FAILURES:
            return 0.0
        return float(min(2.0 ** (failures - FREE_FAILURES), MAX_DELAY))

    def login(self, name: str, password: str) -> User | None:
        """The user, if the password is theirs (else None, the same for an unknown name
        as for a wrong password). Recorded in the audit trail either way, after the wait
        that earlier failures impose (`delay`)."""
        from argon2.exceptions import InvalidHashError, VerificationError

        wait = self.delay(name)
        if wait:
            self.sleep(wait)
        kept = self.store.users.get(name)
        stored = kept.password if kept is not None else self._unknown
        try:
            self._hasher.verify(stored, password)
            matched = kept is not None
        except (VerificationError, InvalidHashError):
            matched = False
        if not matched or kept is None:
            self.store.users.record(name, "login-failed")
            return None
        if self._hasher.check_needs_rehash(kept.password):
            self.store.users.save(name, kept.role, self._hash(password))
        self.store.users.record(name, "login")
        return self.user(name)

    def logout(self, name: str) -> None:
        """Record that a user's session ended (by logging out or timing out)."""
        self.store.users.record(name, "logout")

    # ------------------------------------------------------------------ inside

    @functools.cached_property
    def _hasher(self) -> PasswordHasher:
        """Argon2id, made when a password is hashed or checked (a role check needs none)."""
        from argon2 import PasswordHasher

        return PasswordHasher()

    def _hash(self, password: str) -> str:
        if len(password) < MIN_PASSWORD:
            raise AccessError(f"a password needs at least {MIN_PASSWORD} characters")
        return self._hasher.hash(password)

    @functools.cached_property
    def _unknown(self) -> str:
        """The hash of a random password, checked for unknown names so that they take as
        long as known ones."""
        return self._hasher.hash(secrets.token_hex(16))

    def _existing(self, name: str) -> StoredUser:
        kept = self.store.users.get(name)
        if kept is None:
            raise AccessError(f"no user {name!r} (see `workbench users list`)")
        return kept


def _check_name(name: str) -> None:
    if not name or len(name) > 64 or name != name.strip() or not name.isprintable():
        raise AccessError(
            f"{name!r} cannot be a user's name: 1 to 64 printable characters, without"
            " spaces at either end"
        )
    if name.startswith("@"):
        raise AccessError(f"{name!r} cannot be a user's name: @ starts a group's name")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AccessError(f"no role {role!r}: choose one of {', '.join(ROLES)}")
