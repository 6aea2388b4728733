"""The login page of `workbench serve --auth password`, before anything else.

The server says it wants logins through the environment it starts the app with
(``WORKBENCH_AUTH=password``, ``WORKBENCH_SESSION_MINUTES``). A login gives the browser a
session cookie (a random token, ``SameSite=Strict``, known to this server process only), so
that reloading a page or opening a link keeps the user logged in. A session that has been
idle longer than the timeout ends; logging out ends it at once. Both are in the store's
audit trail, as are logins and failed logins (`workbench.access`). Each page asks the store
for the user's role again: a role changed or a user removed takes effect at once.
"""

from __future__ import annotations

import os
import secrets
import time

import streamlit as st

from dashboards import state
from workbench.access import Access, User

_USER = state.USER_KEY
_TOKEN = "login-token"
_NOTICE = "login-notice"
_COOKIE = "workbench_session"


def required() -> bool:
    """Whether the server asks for a login (with a password, or through OpenID Connect)."""
    return os.environ.get("WORKBENCH_AUTH") in ("password", "oidc")


def _oidc() -> bool:
    return os.environ.get("WORKBENCH_AUTH") == "oidc"


def _timeout() -> float:
    given = os.environ.get("WORKBENCH_SESSION_MINUTES", "")
    return (float(given) if given.replace(".", "", 1).isdigit() else 30.0) * 60


def user() -> User | None:
    """Who is logged in (None: nobody, or the server asks for no login)."""
    found = st.session_state.get(_USER)
    return found if isinstance(found, User) else None


def role() -> str | None:
    """The role of who is logged in (None without logins: every page)."""
    found = user()
    return None if found is None else found.role


@st.cache_resource
def _sessions() -> dict[str, list[object]]:
    """The sessions this server process gave out: token -> [user name, last seen]."""
    return {}


def gate() -> None:
    """Without a login that the server asks for, show only the login form and stop the
    page; with one, note the activity (and end a session idle too long)."""
    if not required():
        return
    if _oidc():
        _through_provider()
        return
    now = time.monotonic()
    token = st.session_state.get(_TOKEN) or st.context.cookies.get(_COOKIE)
    kept = _sessions().get(token) if isinstance(token, str) else None
    if kept is not None:
        name, seen = str(kept[0]), float(kept[1])  # type: ignore[arg-type]
        current = Access(state.store()).user(name)  # its role as the store has it now
        if current is None:
            _end(str(token), name, "Your account was removed.")
        elif now - seen > _timeout():
            _end(str(token), name, "Your session timed out: log in again.")
        else:
            kept[1] = now
            st.session_state[_USER] = current
            st.session_state[_TOKEN] = token
            return
    st.session_state.pop(_USER, None)
    if not _form():
        st.stop()


def _through_provider() -> None:
    """`serve --auth oidc`: Streamlit's own login (`st.login`) with the provider of the
    secrets file; the e-mail it vouches for names the user (`Access.external_login`)."""
    provider = os.environ.get("WORKBENCH_OIDC_PROVIDER") or None
    if not st.user.get("is_logged_in", False):
        st.session_state.pop(_USER, None)
        with st.columns([1, 2, 1])[1]:
            st.title("Workbench")
            st.button(
                "Log in", type="primary", on_click=st.login, args=(provider,) if provider else ()
            )
        st.stop()
    if user() is None:  # a new session of a login the browser holds: map it once
        email = st.user.get("email")
        claimed = st.user.get("groups")
        groups = [str(group) for group in claimed] if isinstance(claimed, list) else None
        found = Access(state.store()).external_login(str(email) if email else None, groups)
        if found is None:
            st.error(
                f"{email or 'This account'} is not a user of this workbench: an admin adds it"
                f" with `workbench users add {email or 'EMAIL'} --role viewer --oidc`."
            )
            st.button("Log out", on_click=st.logout)
            st.stop()
        st.session_state[_USER] = found
    else:  # its role as the store has it now
        found = Access(state.store()).user(user().name)  # type: ignore[union-attr]
        if found is None:
            st.error("Your account was removed.")
            st.button("Log out", on_click=st.logout)
            st.stop()
        st.session_state[_USER] = found


def logout_button() -> None:
    """In the sidebar: who is logged in, and a button that logs out."""
    current = user()
    if current is None:
        return
    if _oidc():
        st.caption(f"Logged in as **{current.name}** ({current.role})")
        if st.button("Log out", icon=":material/logout:"):
            Access(state.store()).logout(current.name)
            st.session_state.pop(_USER, None)
            st.logout()
        return
    token = st.session_state.get(_TOKEN)
    if not isinstance(token, str):
        return
    st.caption(f"Logged in as **{current.name}** ({current.role})")
    if st.button("Log out", icon=":material/logout:"):
        _end(token, current.name, "You are logged out.")
        st.rerun()


def _end(token: str, name: str, notice: str) -> None:
    _sessions().pop(token, None)
    Access(state.store()).logout(name)
    for key in (_USER, _TOKEN):
        st.session_state.pop(key, None)
    st.session_state[_NOTICE] = notice


def _form() -> bool:
    """The login form; True once the user logged in (the page goes on below it)."""
    place = st.empty()
    with place.container(), st.columns([1, 2, 1])[1]:
        st.title("Workbench")
        notice = st.session_state.pop(_NOTICE, None)
        if notice:
            st.info(notice)
        with st.form("login"):
            name = st.text_input("User name", autocomplete="username")
            password = st.text_input("Password", type="password", autocomplete="current-password")
            submitted = st.form_submit_button("Log in", type="primary")
        if not submitted:
            return False
        found = Access(state.store()).login(name.strip(), password)
        if found is None:
            st.error("That user name and password do not match.")
            return False
    place.empty()
    token = secrets.token_urlsafe(32)
    _sessions()[token] = [found.name, time.monotonic()]
    st.session_state[_USER] = found
    st.session_state[_TOKEN] = token
    # The browser keeps the token for reloads and links (not past the browser's session).
    st.html(
        f"<script>document.cookie = '{_COOKIE}={token}; path=/; SameSite=Strict';</script>",
        unsafe_allow_javascript=True,
    )
    return True
