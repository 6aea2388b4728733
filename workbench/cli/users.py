"""Users of a shared workbench: users add, list, passwd, role and remove; and audit, the
trail of who did what."""

from __future__ import annotations

import getpass
import sys
from functools import partial
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from workbench.cli.commands import app, command
from workbench.cli.options import JsonOption
from workbench.cli.output import emit_json, fail, heading, out
from workbench.cli.session import store, workbench

if TYPE_CHECKING:
    from workbench.access import Access

users_app = typer.Typer(
    no_args_is_help=False,
    invoke_without_command=True,
    epilog="Example: workbench users add ana --role analyst",
)
app.add_typer(users_app, name="users")

RoleOption = Annotated[
    str, typer.Option("--role", help="viewer (reads), analyst (also imports), or admin.")
]


def _password(name: str) -> str:
    """The password for ``name``: asked twice on a terminal, else one line of standard
    input (so that scripts can pipe it; never an argument, which other users of the machine
    can read)."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(f"password for {name}: ")
    if getpass.getpass("again: ") != first:
        fail("the two passwords differ; nothing was changed")
    return first


def _access() -> Access:
    """Users managed as the command acts (`--as`: that user's rights)."""
    from workbench.access import Access

    return Access(store(), acting=workbench().user)


def _actor() -> str:
    return workbench().actor


@users_app.callback()
def users(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the users with their roles (never their passwords); the subcommands add,
    passwd, role and remove them."""
    if ctx.invoked_subcommand is None:
        _list(as_json)


def _list(as_json: bool) -> None:
    found = _access().users()
    if as_json:
        emit_json(
            [
                {
                    "name": user.name,
                    "role": user.role,
                    "created_at": user.created_at.isoformat(),
                    "changed_at": user.changed_at.isoformat(),
                }
                for user in found
            ]
        )
        return
    table = Table("user", "role", "added", "changed")
    for user in found:
        table.add_row(
            user.name,
            user.role,
            user.created_at.isoformat(timespec="seconds"),
            user.changed_at.isoformat(timespec="seconds"),
        )
    out.print(table if found else "no users: `workbench users add NAME --role admin` adds one")


@partial(command, on=users_app, name="list")
def users_list(as_json: JsonOption = False) -> None:
    """List the users with their roles (never their passwords).

    Example: workbench users list --json
    """
    _list(as_json)


@partial(command, on=users_app, name="add")
def users_add(
    name: Annotated[str, typer.Argument(help="The user's name.")],
    role: RoleOption = "viewer",
    oidc: Annotated[
        bool,
        typer.Option(
            "--oidc",
            help="Logs in through OpenID Connect (`serve --auth oidc`): the name is the"
            " e-mail the provider vouches for; no password.",
        ),
    ] = False,
) -> None:
    """Add a user. The password is asked for twice, or read as one line of standard input;
    the store keeps only its Argon2id hash.

    Example: printf '%s\\n' "$PASSWORD" | workbench users add ana --role analyst
    """
    access = _access()
    if oidc:
        user = access.add_external(name, role, actor=_actor())
    else:
        user = access.add(name, role, _password(name), actor=_actor())
    heading(user.name, f": added as {user.role}")


@partial(command, on=users_app, name="passwd")
def users_passwd(name: Annotated[str, typer.Argument(help="The user's name.")]) -> None:
    """Change a user's password (asked for twice, or one line of standard input).

    Example: workbench users passwd ana
    """
    access = _access()
    if access.user(name) is None:  # before asking for a password that would be thrown away
        fail(f"no user {name!r} (see `workbench users list`)")
    access.passwd(name, _password(name), actor=_actor())
    heading(name, ": password changed")


@partial(command, on=users_app, name="role")
def users_role(
    name: Annotated[str, typer.Argument(help="The user's name.")],
    role: Annotated[str, typer.Argument(help="viewer, analyst or admin.")],
) -> None:
    """Change a user's role.

    Example: workbench users role ana admin
    """
    _access().set_role(name, role, actor=_actor())
    heading(name, f": now {role}")


@partial(command, on=users_app, name="remove")
def users_remove(name: Annotated[str, typer.Argument(help="The user's name.")]) -> None:
    """Remove a user (the audit trail keeps what they did).

    Example: workbench users remove ana
    """
    _access().remove(name, actor=_actor())
    heading(name, ": removed")


@command
def audit(
    actor: Annotated[str | None, typer.Option(help="Only what this user did.")] = None,
    action: Annotated[
        str | None,
        typer.Option(help="Only this action: login, login-failed, logout, user-add ..."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The audit trail: logins, failed logins, logouts and changes to users, with who and
    when, oldest first.

    Example: workbench audit --action login-failed --json
    """
    found = store().users.audit(actor=actor, action=action)
    if as_json:
        emit_json(
            [
                {
                    "at": entry.at.isoformat(),
                    "actor": entry.actor,
                    "action": entry.action,
                    "target": entry.target,
                    "detail": entry.detail,
                }
                for entry in found
            ]
        )
        return
    table = Table("at", "actor", "action", "target", "detail")
    for entry in found:
        table.add_row(
            entry.at.isoformat(timespec="seconds"),
            entry.actor,
            entry.action,
            entry.target,
            entry.detail,
        )
    out.print(table if found else "nothing in the audit trail")


@partial(command, on=users_app, name="group")
def users_group(
    name: Annotated[str, typer.Argument(help="The user's name.")],
    groups: Annotated[
        list[str] | None, typer.Argument(help="Their groups (@team or team); none: no group.")
    ] = None,
) -> None:
    """Set a user's groups (replacing those they had); a grant to @GROUP reaches its members.

    Example: workbench users group ana @finance @audit
    """
    _access().set_groups(name, list(groups or []), actor=_actor())
    heading(name, ": " + (" ".join(f"@{g.removeprefix('@')}" for g in groups or []) or "no group"))


@command
def grant(
    log: Annotated[str, typer.Argument(help="The log to restrict.")],
    to: Annotated[str, typer.Option("--to", help="A user's name, or @group.")],
    role: Annotated[
        str, typer.Option(help="The most they may do on it: viewer, analyst or admin.")
    ] = "admin",
) -> None:
    """Restrict a log to the users and @groups granted it: to everyone else (admins
    aside) it is not there, in the app, by a link, or in a command run --as them.

    Example: workbench grant payroll --to @finance --role viewer
    """
    _access().grant(log, to, role, actor=_actor())
    heading(log, f": {to} may see it (at most as {role})")


@command
def revoke(
    log: Annotated[str, typer.Argument(help="The restricted log.")],
    from_: Annotated[str, typer.Option("--from", help="A user's name, or @group.")],
) -> None:
    """Take back a grant; a log without grants is open to every user again.

    Example: workbench revoke payroll --from ana
    """
    _access().revoke(log, from_, actor=_actor())
    heading(log, f": {from_} no longer granted")


@command
def grants(as_json: JsonOption = False) -> None:
    """List the restricted logs with who may see them, and the users' groups.

    Example: workbench grants --json
    """
    workbench().authorize("admin", "listing grants")
    kept = store().users
    found = kept.grants()
    if as_json:
        emit_json(
            {
                "grants": [{"log": g.log, "to": g.principal, "role": g.role} for g in found],
                "groups": kept.groups(),
            }
        )
        return
    if not found:
        out.print("no restricted logs: every user sees every log")
        return
    table = Table("log", "to", "at most")
    for item in found:
        table.add_row(item.log, item.principal, item.role)
    out.print(table)
