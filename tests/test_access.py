"""Users, passwords and the audit trail (`workbench.access`, `workbench users`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbench import EventStore
from workbench.access import MAX_DELAY, Access, AccessError
from workbench.cli import app

SECRET = "correct horse battery"


def _run(db: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--db", str(db), *args], input=stdin)
    return result.exit_code, result.output


def test_users_are_added_listed_changed_and_removed_from_the_cli(tmp_path) -> None:
    db = tmp_path / "s.db"
    assert _run(db, "users", "add", "ana", "--role", "analyst", stdin=SECRET + "\n")[0] == 0
    assert _run(db, "users", "add", "bo", stdin="another secret\n")[0] == 0
    code, output = _run(db, "users", "list", "--json")
    assert code == 0
    assert [(row["name"], row["role"]) for row in json.loads(output)] == [
        ("ana", "analyst"),
        ("bo", "viewer"),
    ]
    assert _run(db, "users", "role", "bo", "admin")[0] == 0
    assert _run(db, "users", "passwd", "ana", stdin="a new secret\n")[0] == 0
    assert _run(db, "users", "remove", "bo")[0] == 0
    code, output = _run(db, "users", "--json")
    assert [row["name"] for row in json.loads(output)] == ["ana"]
    with EventStore(db) as store:
        access = Access(store)
        assert access.login("ana", SECRET) is None
        user = access.login("ana", "a new secret")
        assert user is not None
        assert user.role == "analyst"
    code, output = _run(db, "audit", "--json")
    trail = [
        (row["actor"].endswith("(shell)"), row["action"], row["target"])
        for row in json.loads(output)
    ]
    assert trail == [
        (True, "user-add", "ana"),
        (True, "user-add", "bo"),
        (True, "user-role", "bo"),
        (True, "user-passwd", "ana"),
        (True, "user-remove", "bo"),
        (False, "login-failed", ""),
        (False, "login", ""),
    ]


@pytest.mark.parametrize(
    ("args", "stdin", "words"),
    [
        (("users", "add", "ana", "--role", "boss"), SECRET, "no role 'boss'"),
        (("users", "add", "ana"), "short\n", "at least 8 characters"),
        (("users", "add", "@team"), SECRET, "@ starts a group"),
        (("users", "add", " ana"), SECRET, "cannot be a user's name"),
        (("users", "passwd", "nobody"), SECRET, "no user 'nobody'"),
        (("users", "remove", "nobody"), None, "no user 'nobody'"),
    ],
)
def test_bad_users_and_passwords_are_one_line(tmp_path, args, stdin, words) -> None:
    code, output = _run(tmp_path / "s.db", *args, stdin=stdin)
    assert code == 2
    assert len(output.strip().splitlines()) == 1, output
    assert words in output


def test_a_taken_name_is_refused(tmp_path) -> None:
    db = tmp_path / "s.db"
    _run(db, "users", "add", "ana", stdin=SECRET + "\n")
    code, output = _run(db, "users", "add", "ana", stdin="other secret\n")
    assert code == 2
    assert "users passwd ana" in output


def test_passwords_are_never_kept_or_shown_in_clear(tmp_path) -> None:
    db = tmp_path / "s.db"
    outputs = [
        _run(db, "users", "add", "ana", "--role", "admin", stdin=SECRET + "\n")[1],
        _run(db, "users", "passwd", "ana", stdin="second secret pass\n")[1],
        _run(db, "users", "add", "ana", stdin="third secret pass\n")[1],  # refused
    ]
    with EventStore(db) as store:
        Access(store).login("ana", "wrong password guess")
        outputs += [_run(db, "audit")[1], _run(db, "users", "list", "--json")[1]]
        stored = store.users.get("ana")
        assert stored is not None
        assert stored.password.startswith("$argon2id$")
    files = b"".join(path.read_bytes() for path in tmp_path.iterdir() if path.is_file())
    for secret in (SECRET, "second secret pass", "third secret pass", "wrong password guess"):
        assert secret.encode() not in files
        assert all(secret not in output for output in outputs)


def test_failed_logins_slow_the_next_attempts(any_store) -> None:
    waits: list[float] = []
    access = Access(any_store, sleep=waits.append)
    access.add("ana", "viewer", SECRET, actor="test")
    for _attempt in range(10):
        assert access.login("ana", "not the password") is None
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]  # from the fourth attempt on
    assert access.delay("ana") == MAX_DELAY
    assert access.delay("bo") == 0  # another name is not slowed
    user = access.login("ana", SECRET)  # waits, then the right password still works
    assert user is not None
    assert waits[-1] == MAX_DELAY
    assert access.delay("ana") == 0  # a login starts the count again
    for _attempt in range(4):
        access.login("nobody", "guess guess")  # unknown names are counted and slowed too
    assert access.delay("nobody") == 2.0


def test_the_store_keeps_users_on_every_backend(any_store) -> None:
    access = Access(any_store)
    access.add("ana", "admin", SECRET, actor="test")
    access.set_role("ana", "viewer", actor="test")
    [user] = access.users()
    assert (user.name, user.role) == ("ana", "viewer")
    assert user.may("viewer")
    assert not user.may("analyst")
    with pytest.raises(AccessError, match="exists"):
        access.add("ana", "admin", SECRET, actor="test")
    access.remove("ana", actor="test")
    assert access.users() == []
    assert [entry.action for entry in any_store.users.audit(actor="test")] == [
        "user-add",
        "user-role",
        "user-remove",
    ]
