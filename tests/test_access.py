"""Users, passwords and the audit trail (`workbench.access`, `workbench users`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import real_log
from tests.test_app import PAGES
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


def _team(db: Path) -> None:
    for name, role in (("vera", "viewer"), ("anton", "analyst"), ("ada", "admin")):
        assert _run(db, "users", "add", name, "--role", role, stdin=f"{name}-password\n")[0] == 0


def test_as_a_user_the_cli_has_the_rights_of_their_role(tmp_path) -> None:
    db = tmp_path / "s.db"
    _team(db)
    log = str(real_log("running-example.csv"))
    code, output = _run(db, "--as", "vera", "ingest", log, "--log", "run")
    assert code == 2
    assert output.strip() == "error: vera is a viewer: importing needs the analyst role"
    with EventStore(db) as store:
        assert not store.has_log("run")  # nothing was written
    assert _run(db, "--as", "anton", "ingest", log, "--log", "run")[0] == 0
    assert _run(db, "ingest", str(real_log("running-example.xes")), "--log", "other")[0] == 0
    code, output = _run(db, "jobs", "--json")
    actors = {job["log"]: job["actor"] for job in json.loads(output)}
    assert actors["run"] == "anton"  # who recorded the events, in their job
    assert actors["other"].endswith("(shell)")
    assert _run(db, "--as", "vera", "stats", "run", "--json")[0] == 0  # a viewer reads
    code, output = _run(db, "--as", "anton", "drop", "run", "--yes")
    assert code == 2
    assert "dropping a log needs the admin role" in output
    code, output = _run(db, "--as", "anton", "users", "add", "eve", stdin="eve-password\n")
    assert code == 2
    assert "adding a user needs the admin role" in output
    code, output = _run(db, "--as", "anton", "users", "passwd", "vera", stdin="new-password\n")
    assert code == 2
    assert _run(db, "--as", "anton", "users", "passwd", "anton", stdin="own-password\n")[0] == 0
    assert _run(db, "--as", "ada", "users", "role", "vera", "analyst")[0] == 0
    assert _run(db, "--as", "ada", "drop", "run", "--yes")[0] == 0
    code, output = _run(db, "--as", "nobody", "logs")
    assert code == 2
    assert "--as nobody: no such user" in output
    code, output = _run(db, "audit", "--json")
    writes = [
        (row["actor"], row["action"], row["target"])
        for row in json.loads(output)
        if row["action"] in ("import", "drop", "user-role", "user-passwd")
        and not row["actor"].endswith("(shell)")
    ]
    assert writes == [
        ("anton", "import", "run"),
        ("anton", "user-passwd", "anton"),
        ("ada", "user-role", "vera"),
        ("ada", "drop", "run"),
    ]


def test_the_application_refuses_a_viewers_import_whoever_asks(tmp_path) -> None:
    from workbench.access import Denied
    from workbench.application import Workbench

    with Workbench(tmp_path / "s.db") as bench:
        access = Access(bench.store)
        viewer = access.add("vera", "viewer", SECRET, actor="test")
        analyst = access.add("anton", "analyst", SECRET, actor="test")
        with pytest.raises(Denied, match="vera is a viewer"):
            bench.acting(viewer).import_file(real_log("running-example.csv"), log="run")
        assert bench.logs() == []
        imported = bench.acting(analyst).import_file(real_log("running-example.csv"), log="run")
        assert imported.summary.events_added > 0
        assert bench.acting(viewer).summary("run").cases > 0  # and the viewer reads it
        with pytest.raises(Denied):
            bench.acting(analyst).drop("run")
        assert bench.drop("run") > 0  # without logins: the machine's user may
        assert bench.acting(viewer).store is bench.store  # one store under every view


def _restricted(db: Path) -> None:
    """vera (viewer) and anton (analyst, @finance); a demo log and `secret`, granted to
    @finance only."""
    _team(db)
    log = str(real_log("running-example.csv"))
    assert _run(db, "ingest", log, "--log", "secret")[0] == 0
    assert _run(db, "demo")[0] == 0
    assert _run(db, "users", "group", "anton", "@finance")[0] == 0
    assert _run(db, "grant", "secret", "--to", "@finance", "--role", "viewer")[0] == 0


def test_a_restricted_log_is_not_there_for_a_user_without_a_grant(tmp_path) -> None:
    db = tmp_path / "s.db"
    _restricted(db)

    def logs(user: str) -> list[str]:
        code, output = _run(db, "--as", user, "logs", "--json")
        assert code == 0, output
        return [row["log"] for row in json.loads(output)]

    assert "secret" not in logs("vera")
    assert "secret" in logs("anton")  # by the grant to @finance
    assert "secret" in logs("ada")  # an admin sees every log
    for args in (("stats", "secret"), ("dfg", "secret"), ("state", "secret", "--at", "2030-01-01")):
        code, output = _run(db, "--as", "vera", *args)
        assert code == 2
        assert output.strip() == "error: no log named 'secret' in the store (see `workbench logs`)"
    assert _run(db, "--as", "anton", "stats", "secret")[0] == 0
    code, output = _run(
        db, "--as", "anton", "ingest", str(real_log("running-example.csv")), "--log", "secret"
    )
    assert code == 2  # an analyst, but the grant says viewer on this log
    assert "importing into 'secret' needs the analyst role" in output
    assert _run(db, "alerts", "add", "slow", "--log", "secret", "--median-above", "1s")[0] == 0
    assert _run(db, "alerts", "check")[0] == 0
    for command in (("alerts", "rules", "--json"), ("alerts", "--json"), ("jobs", "--json")):
        code, output = _run(db, "--as", "vera", *command)
        assert code == 0
        assert "secret" not in output, command  # not even the name
        assert "secret" in _run(db, "--as", "anton", *command)[1], command
    code, output = _run(db, "--as", "anton", "grant", "secret", "--to", "vera")
    assert code == 2  # granting is an admin's
    assert _run(db, "revoke", "secret", "--from", "@finance")[0] == 0
    assert "secret" in logs("vera")  # without grants, open to every user again


def test_every_verb_that_names_a_log_refuses_one_the_user_may_not_see(tmp_path) -> None:
    import inspect

    from workbench.application import Workbench, takes_log
    from workbench.events import UnknownLog

    db = tmp_path / "s.db"
    _restricted(db)
    with Workbench(db) as bench:
        vera = Access(bench.store).user("vera")
        view = bench.acting(vera)
        verbs = [
            name
            for name, verb in inspect.getmembers(Workbench, inspect.isfunction)
            if not name.startswith("_") and takes_log(verb)
        ]
        assert {"summary", "dfg", "state", "events", "drop", "diff", "restatements"} <= set(verbs)
        for name in verbs:
            verb = getattr(view, name)
            others = [
                parameter
                for parameter in list(inspect.signature(verb).parameters.values())[1:]
                if parameter.default is inspect.Parameter.empty
                and parameter.kind is not inspect.Parameter.VAR_KEYWORD
            ]
            with pytest.raises(UnknownLog):
                verb("secret", *[None] * len(others))
        with pytest.raises(UnknownLog):
            view.log("secret")
        assert not view.has_log("secret")
        assert "secret" not in [summary.log for summary in view.logs()]
        assert bench.summary("secret").cases > 0  # the machine's user sees it


@pytest.mark.parametrize("page", [p for p in PAGES if p not in ("logs", "upload")])
def test_a_link_to_a_restricted_log_shows_nothing_of_it(tmp_path, monkeypatch, page) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.test_app import APP, close_app_store

    db = tmp_path / "s.db"
    _restricted(db)
    with EventStore(db) as store:
        vera = Access(store).user("vera")
    monkeypatch.setenv("WORKBENCH_DB", str(db))
    app = AppTest.from_file(APP, default_timeout=120)
    app.session_state["login-user"] = vera  # as `dashboards.login` keeps who logged in
    app.query_params["log"] = "secret"
    app.run()
    app.switch_page(f"views/{page}.py").run()
    try:
        assert not app.exception, [e.value for e in app.exception]
        assert any("There is no log named" in e.value for e in app.main.error)
        assert not app.main.metric
        assert not app.main.dataframe
        assert "secret" not in app.sidebar.selectbox(key="log").options
        app.switch_page("views/logs.py").run()
        listed = app.main.dataframe[0].value
        assert "secret" not in listed["log"].to_list()
        assert "order-to-cash" in listed["log"].to_list()
    finally:
        close_app_store()


def test_pseudonymized_exports_hide_names_and_agree_with_each_other(tmp_path) -> None:
    import polars as pl

    db = tmp_path / "s.db"
    log = real_log("running-example.csv")
    assert _run(db, "ingest", str(log), "--log", "run")[0] == 0
    columns = "case_id,resource,Resource,event_id"
    outputs = []
    for name, extra in (("a.csv", ()), ("b.csv", ("--from", "2011-01-01"))):
        code, output = _run(
            db, "export", "run", "--format", "csv", "--output", str(tmp_path / name),
            "--pseudonymize", columns, *extra,
        )  # fmt: skip
        assert code == 0, output
        assert "warning" not in output
        outputs.append(pl.read_csv(tmp_path / name))
    whole, part = outputs
    with EventStore(db) as store:
        source = store.scan("run").collect()
    names = set(source["resource"].drop_nulls()) | set(source["case_id"])
    text = (tmp_path / "a.csv").read_text()
    assert not any(f",{value}," in text for value in names)  # no name left, in any column
    assert whole["case_id"].n_unique() == source["case_id"].n_unique()  # one per value
    assert whole["resource"].n_unique() == source["resource"].n_unique()
    # The same value, the same pseudonym, in every export of the store:
    pairs = whole.select("event_id", "resource").join(part, on="event_id", how="inner")
    assert pairs.height == part.height > 0
    assert (pairs["resource"] == pairs["resource_right"]).all()
    # Another store has another key: other pseudonyms for the same values.
    other = tmp_path / "other.db"
    _run(other, "ingest", str(log), "--log", "run")
    _run(other, "export", "run", "--format", "csv", "--output", str(tmp_path / "c.csv"),
         "--pseudonymize", "resource")  # fmt: skip
    elsewhere = pl.read_csv(tmp_path / "c.csv")
    assert not set(elsewhere["resource"]) & set(whole["resource"])
    # A column that would give the values away is named.
    code, output = _run(db, "export", "run", "--format", "csv", "--output",
                        str(tmp_path / "d.csv"), "--pseudonymize", "resource")  # fmt: skip
    assert code == 0
    assert "the column 'Resource' holds values of resource" in output
    code, output = _run(db, "export", "run", "--format", "csv", "--output",
                        str(tmp_path / "e.csv"), "--pseudonymize", "timestamp")  # fmt: skip
    assert code == 2
    assert "--pseudonymize timestamp" in output
    assert not (tmp_path / "e.csv").exists()


def test_openid_connect_logins_map_an_email_to_a_user_and_its_groups(any_store) -> None:
    access = Access(any_store)
    access.add_external("ana@example.org", "analyst", actor="test")
    assert access.login("ana@example.org", "any password at all") is None  # no password here
    user = access.external_login("ana@example.org", ["finance", "@audit"])
    assert user is not None
    assert (user.name, user.role) == ("ana@example.org", "analyst")
    assert any_store.users.groups()["ana@example.org"] == ["audit", "finance"]
    assert access.external_login("ana@example.org", None) is not None  # no claim: kept
    assert any_store.users.groups()["ana@example.org"] == ["audit", "finance"]
    assert access.external_login("eve@example.org", []) is None
    assert access.external_login(None, None) is None
    trail = [(e.actor, e.action) for e in any_store.users.audit() if e.action.startswith("login")]
    assert trail == [
        ("ana@example.org", "login-failed"),
        ("ana@example.org", "login"),
        ("ana@example.org", "login"),
        ("eve@example.org", "login-failed"),
        ("(no e-mail)", "login-failed"),
    ]


def test_serve_with_oidc_refuses_what_cannot_work(tmp_path) -> None:
    db = tmp_path / "s.db"
    _run(db, "users", "add", "ana@example.org", "--oidc")
    secrets = tmp_path / "secrets.toml"
    cases = [
        ((), "needs --secrets FILE"),
        (("--secrets", str(secrets)), "No such file"),
    ]
    for extra, words in cases:
        code, output = _run(db, "serve", "--auth", "oidc", *extra)
        assert code == 2
        assert words in output
    secrets.write_text('[auth]\nredirect_uri = "http://localhost:8501/oauth2callback"\n')
    code, output = _run(db, "serve", "--auth", "oidc", "--secrets", str(secrets))
    assert code == 2
    assert "[auth] has no cookie_secret" in output
    secrets.write_text(
        '[auth]\nredirect_uri = "http://localhost:8501/oauth2callback"\ncookie_secret = "x"\n'
    )
    code, output = _run(
        db, "serve", "--auth", "oidc", "--secrets", str(secrets), "--oidc-provider", "okta"
    )
    assert code == 2
    assert "no [auth.okta]" in output


def test_with_oidc_the_app_shows_only_the_login_button(tmp_path, monkeypatch) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.test_app import APP, close_app_store

    db = tmp_path / "s.db"
    _run(db, "demo")
    monkeypatch.setenv("WORKBENCH_DB", str(db))
    monkeypatch.setenv("WORKBENCH_AUTH", "oidc")
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    try:
        assert not app.exception, [e.value for e in app.exception]
        assert [button.label for button in app.button] == ["Log in"]
        assert not app.sidebar.selectbox
        assert not app.main.dataframe
    finally:
        close_app_store()


def test_an_idle_session_ends_and_logging_out_ends_one_at_once(tmp_path, monkeypatch) -> None:
    import time

    from streamlit.testing.v1 import AppTest

    from tests.test_app import APP, close_app_store

    db = tmp_path / "s.db"
    _run(db, "demo")
    _run(db, "users", "add", "vera", stdin="vera-password\n")
    monkeypatch.setenv("WORKBENCH_DB", str(db))
    monkeypatch.setenv("WORKBENCH_AUTH", "password")
    monkeypatch.setenv("WORKBENCH_SESSION_MINUTES", "0.02")  # 1.2 s

    def log_in(app: AppTest) -> None:
        app.text_input[0].input("vera")
        app.text_input[1].input("vera-password")
        app.button[0].click().run()
        assert any("Logged in as" in caption.value for caption in app.sidebar.caption)

    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    try:
        log_in(app)
        time.sleep(1.5)
        app.run()
        assert any("timed out" in info.value for info in app.info)
        assert [button.label for button in app.button] == ["Log in"]
        log_in(app)
        next(b for b in app.sidebar.button if b.label == "Log out").click().run()
        assert any("logged out" in info.value for info in app.info)
        assert not app.sidebar.caption
    finally:
        close_app_store()
    _code, output = _run(db, "audit", "--actor", "vera", "--json")
    assert [row["action"] for row in json.loads(output)] == ["login", "logout", "login", "logout"]


def test_rules_projections_and_snapshots_are_an_analysts_to_write(tmp_path) -> None:
    db = tmp_path / "s.db"
    _team(db)
    assert _run(db, "demo")[0] == 0
    writes = [
        ("alerts", "add", "late", "--log", "order-to-cash", "--more-than", "5"),
        ("projections", "add", "n", "SELECT count(*) AS n FROM events"),
        ("projections", "snapshot", "order-to-cash", "--count", "2"),
        ("projections", "remove", "n"),
        ("alerts", "remove", "late"),
    ]
    for args in writes:
        code, output = _run(db, "--as", "vera", *args)
        assert code == 2, (args, output)
        assert "needs the analyst role" in output
        code, output = _run(db, "--as", "anton", *args)
        assert code == 0, (args, output)
    code, output = _run(db, "audit", "--actor", "anton", "--json")
    assert [row["action"] for row in json.loads(output)] == [
        "rule-add",
        "projection-add",
        "projection-remove",
        "rule-remove",
    ]
