"""`workbench serve-sql`: PostgreSQL's wire protocol over the query language. psycopg (libpq)
connects, runs the corpus and gets the query command's answers, in text and in binary; a
write, and everything else the query command refuses, is refused in one line with the store
untouched; passwords, users' rights, TLS, limits, timeouts and cancelling hold."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from ingest.jobs import ingest
from tests.conftest import real_log
from tests.query_corpus import CORPUS, same
from tests.test_query import REFUSED
from workbench import EventStore
from workbench.access import Access
from workbench.application import Workbench
from workbench.cli import app
from workbench.sqlserver import Endpoint, Server, start, tls_context

HEAVY = "SELECT count(*) FROM range(1000000000) a, range(1000000000) b"


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sqlserver") / "s.db"
    with EventStore(path) as store:
        ingest(store, real_log("receipt.csv"), log="receipt")
        ingest(store, real_log("running-example.csv"), log="run")
    return path


@pytest.fixture(scope="module")
def bench(db) -> Iterator[Workbench]:
    with Workbench(db) as opened:
        yield opened


def _served(endpoint: Endpoint) -> tuple[Server, threading.Thread]:
    return start(endpoint, "127.0.0.1", 0)


@pytest.fixture
def server(bench) -> Iterator[Server]:
    served, thread = _served(Endpoint(bench, log="receipt"))
    yield served
    served.shutdown()
    served.server_close()
    thread.join()


def _dsn(server: Server, **more: str) -> str:
    options = {"host": "127.0.0.1", "port": str(server.port), "dbname": "workbench",
               "user": "me", "sslmode": "disable", "connect_timeout": "10", **more}  # fmt: skip
    return " ".join(f"{key}={value}" for key, value in options.items())


def test_the_corpus_through_psycopg_equals_the_query_command(server, bench, db) -> None:
    """Every query of the corpus, by libpq in text and in binary, gives the rows the
    application gives, and the rows Polars computes from the stored events."""
    with EventStore(db) as store:
        events = store.scan("receipt").collect()
    with psycopg.connect(_dsn(server), autocommit=True) as connection:
        for sql, compute in CORPUS:
            expected = bench.query(sql, log="receipt").frame.rows()
            assert same(expected, compute(events)), sql
            text = connection.execute(sql).fetchall()
            assert same(text, expected), sql
            binary = connection.cursor(binary=True)
            try:
                found: list[tuple[object, ...]] | str = binary.execute(sql).fetchall()
            except psycopg.errors.FeatureNotSupported as refused:  # arrays, numeric
                found = str(refused)
            if isinstance(found, str):
                assert "ask for text" in found, sql
            else:
                assert same(found, expected), sql


def test_parameters_prepared_statements_and_transactions(server) -> None:
    with psycopg.connect(_dsn(server)) as connection:  # psycopg opens a transaction
        found = connection.execute(
            "SELECT count(*) FROM events WHERE activity = %s AND position <= %s",
            ("Confirmation of receipt", 4000),
        ).fetchone()
        expected = connection.execute(
            "SELECT count(*) FROM events WHERE activity = 'Confirmation of receipt'"
            " AND position <= 4000"
        ).fetchone()
        assert found == expected
        assert found is not None
        assert found[0] > 0
        for _ in range(6):  # prepared on the server from the fifth time on
            again = connection.execute(
                "SELECT count(*) FROM events WHERE position <= %s", (100,)
            ).fetchone()
            assert again == (100,)
        quoted = connection.execute("SELECT %s AS v", ("it's; DROP TABLE events",)).fetchone()
        assert quoted == ("it's; DROP TABLE events",)
        connection.commit()
        assert connection.execute("SHOW transaction_read_only").fetchone() == ("on",)
        connection.execute("SET application_name = 'report'")
        assert connection.execute("SHOW application_name").fetchone() == ("report",)
        connection.rollback()


@pytest.mark.parametrize(("sql", "words"), REFUSED[:-1])
def test_writes_and_everything_the_command_refuses_are_refused(server, db, sql, words) -> None:
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    with psycopg.connect(_dsn(server), autocommit=True) as connection:
        with pytest.raises(psycopg.Error) as refused:
            connection.execute(sql)
        message = str(refused.value).strip()
        assert len(message.splitlines()) == 1, message
        if not sql.startswith("SET "):  # a session may set some settings, not this one
            assert words in message, message
        assert connection.execute("SELECT 1").fetchone() == (1,)  # the session goes on
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_hostile_statements_are_refused_in_one_line(server, db) -> None:
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    hostile = [
        "SELECT 1; DROP TABLE events",
        "SELECT 1 /* ; */ ; DELETE FROM events",
        "SELECT 1 -- \n; INSERT INTO events VALUES (1)",
        "BEGIN READ WRITE",
        "SET default_transaction_read_only = off",
        "SET enable_external_access = true",
        "SELECT " + "(" * 400 + "1" + ")" * 400,
        "COPY events TO STDOUT",
        "CALL pragma_database_list()",
        "DECLARE c CURSOR FOR SELECT 1",
        "VACUUM",
        "CHECKPOINT",
    ]
    with psycopg.connect(_dsn(server), autocommit=True) as connection:
        for sql in hostile:
            with pytest.raises(psycopg.Error) as refused:
                connection.execute(sql)
            assert len(str(refused.value).strip().splitlines()) == 1, sql
        long = "SELECT " + " + ".join(["1"] * 500)  # long, not deep: a query like any other
        assert connection.execute(long).fetchone() == (500,)
        with pytest.raises(psycopg.Error) as refused:  # longer than the engine takes
            connection.execute("SELECT " + " + ".join(["1"] * 5000))
        assert "depth" in str(refused.value)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_the_catalog_lists_the_tables_and_their_columns(server, bench) -> None:
    with psycopg.connect(_dsn(server), autocommit=True) as connection:
        tables = connection.execute(
            "SELECT table_name FROM information_schema.tables ORDER BY 1"
        ).fetchall()
        columns = connection.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'events'"
            " ORDER BY ordinal_position"
        ).fetchall()
        with pytest.raises(psycopg.Error, match="not both"):
            connection.execute("SELECT * FROM events, information_schema.tables")
        found = connection.execute("SELECT count(*) FROM public.events").fetchone()
    assert ("events",) in tables
    assert ("cases",) in tables
    shown = bench.query("SELECT * FROM events LIMIT 0", log="receipt").frame.columns
    assert [name for (name,) in columns] == shown
    assert found == (8577,)


def test_limit_timeout_and_cancel_are_kept(bench) -> None:
    served, thread = _served(Endpoint(bench, log="receipt", limit=7, timeout=30))
    try:
        notices: list[str] = []
        with psycopg.connect(_dsn(served), autocommit=True) as connection:
            connection.add_notice_handler(lambda notice: notices.append(notice.message_primary))
            rows = connection.execute("SELECT position FROM events ORDER BY 1").fetchall()
            assert rows == [(n,) for n in range(1, 8)]
            assert notices == ["the first 7 of 8,577 rows (serve-sql --limit 7)"]
            connection.execute("SET statement_timeout = '1s'")
            started = time.monotonic()
            with pytest.raises(psycopg.errors.QueryCanceled, match="ran out of its 1 s"):
                connection.execute(HEAVY)
            assert time.monotonic() - started < 10
            connection.execute("RESET statement_timeout")
            threading.Timer(1.0, connection.cancel_safe).start()  # libpq waits, not Python
            started = time.monotonic()
            with pytest.raises(psycopg.errors.QueryCanceled, match="user request"):
                connection.execute(HEAVY)
            assert time.monotonic() - started < 10
            assert connection.execute("SELECT 2").fetchone() == (2,)
    finally:
        served.shutdown()
        served.server_close()
        thread.join()


def test_a_shared_password_by_scram(bench) -> None:
    served, thread = _served(Endpoint(bench, auth="password", password="s3cret ünï"))
    try:
        with psycopg.connect(_dsn(served, password="'s3cret ünï'")) as connection:
            assert connection.execute("SELECT count(*) FROM logs").fetchone() == (2,)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(_dsn(served, password="wrong"))
    finally:
        served.shutdown()
        served.server_close()
        thread.join()


def test_users_log_in_and_see_what_they_may(tmp_path) -> None:
    db = tmp_path / "users.db"
    with EventStore(db) as store:
        ingest(store, real_log("running-example.csv"), log="run")
        ingest(store, real_log("running-example.csv"), log="payroll")
        access = Access(store, sleep=lambda _: None)
        access.add("ana", "viewer", "correct horse", actor="test")
        access.add("boss", "admin", "battery staple", actor="test")
        access.grant("payroll", "boss", "viewer", actor="test")
    with Workbench(db) as opened:
        served, thread = _served(Endpoint(opened, auth="users"))
        try:
            with psycopg.connect(_dsn(served, user="ana", password="'correct horse'")) as c:
                assert c.execute("SELECT log FROM logs").fetchall() == [("run",)]
            with psycopg.connect(_dsn(served, user="boss", password="'battery staple'")) as c:
                assert c.execute("SELECT log FROM logs ORDER BY 1").fetchall() == [
                    ("payroll",),
                    ("run",),
                ]
            with pytest.raises(psycopg.OperationalError, match="password authentication"):
                psycopg.connect(_dsn(served, user="ana", password="wrong"))
        finally:
            served.shutdown()
            served.server_close()
            thread.join()


def test_tls_when_a_certificate_is_given(bench, tmp_path) -> None:
    certificate, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(certificate)],
        check=True, capture_output=True,
    )  # fmt: skip
    tls = tls_context(str(certificate), str(key))
    served, thread = _served(Endpoint(bench, tls=tls))
    try:
        dsn = _dsn(served, sslmode="require")
        with psycopg.connect(dsn) as connection:
            assert connection.pgconn.ssl_in_use
            assert connection.execute("SELECT count(*) FROM logs").fetchone() == (2,)
    finally:
        served.shutdown()
        served.server_close()
        thread.join()


def test_the_command_serves_until_stopped_and_refuses_an_open_address(db, tmp_path) -> None:
    refused = CliRunner().invoke(app, ["--db", str(db), "serve-sql", "--host", "0.0.0.0"])
    assert refused.exit_code == 2
    assert refused.output.count("\n") == 1
    assert "--password" in refused.output
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "workbench", "--db", str(db), "serve-sql", "--port", str(port),
         "--log", "run"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    try:
        dsn = f"host=127.0.0.1 port={port} dbname=w user=me sslmode=disable"
        for _ in range(300):
            try:
                with psycopg.connect(dsn, connect_timeout=2) as connection:
                    assert connection.execute("SELECT count(*) FROM events").fetchone() == (42,)
                break
            except psycopg.OperationalError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                time.sleep(0.1)
        else:
            pytest.fail("serve-sql did not start")
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert f"serving SQL on 127.0.0.1:{port}" in output


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_log_the_endpoint_does_not_have_is_one_line(tmp_path) -> None:
    """A log that is gone (dropped while the endpoint serves it) is the store's one line,
    not an internal error."""
    db = tmp_path / "gone.db"
    with EventStore(db) as store:
        ingest(store, real_log("running-example.csv"), log="run")
    with Workbench(db) as opened:
        served, thread = _served(Endpoint(opened, log="missing"))
        try:
            with psycopg.connect(_dsn(served), autocommit=True) as connection:
                with pytest.raises(psycopg.Error) as refused:
                    connection.execute("SELECT count(*) FROM events")
                assert "missing" in str(refused.value)
                assert "internal error" not in str(refused.value)
                assert connection.execute("SELECT 1").fetchone() == (1,)
        finally:
            served.shutdown()
            served.server_close()
            thread.join()
