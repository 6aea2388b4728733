"""`workbench serve`: where it listens, and what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.serving import served
from workbench.cli import app


def _listening(port: int) -> set[str]:
    """The local addresses a socket listens on at ``port`` (Linux's /proc/net/tcp)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, _remote, state = line.split()[1:4]
            address, hex_port = local.split(":")
            if int(hex_port, 16) == port and state == "0A":  # LISTEN
                found.add(address)
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's /proc/net/tcp")
def test_serve_listens_on_this_machine_only_by_default(demo_db) -> None:
    with served(demo_db) as (port, _process):
        assert _listening(port) == {"0100007F"}  # 127.0.0.1, and nothing else


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "wb.example.org"])
def test_another_address_without_authentication_is_refused(tmp_path, host) -> None:
    result = CliRunner().invoke(app, ["--db", str(tmp_path / "s.db"), "serve", "--host", host])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert host in lines[0]
    assert "--no-auth" in lines[0]
    assert not (tmp_path / "s.db").exists()  # refused before anything was opened


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's /proc/net/tcp")
def test_no_auth_listens_everywhere_and_warns_on_every_start(demo_db) -> None:
    for _start in range(2):
        with served(demo_db, "--host", "0.0.0.0", "--no-auth", errors=True) as (port, process):
            assert _listening(port) == {"00000000"}
            process.terminate()
            _out, errors = process.communicate(timeout=30)
            first = errors.decode().strip().splitlines()[0]
            assert first.startswith("warning: serving on 0.0.0.0")
            assert "without authentication" in first


def test_password_auth_needs_a_user_first(tmp_path) -> None:
    db = str(tmp_path / "s.db")
    result = CliRunner().invoke(
        app, ["--db", db, "serve", "--host", "0.0.0.0", "--auth", "password"]
    )
    assert result.exit_code == 2
    assert "workbench users add" in result.output
    result = CliRunner().invoke(app, ["--db", db, "serve", "--auth", "ldap"])
    assert result.exit_code == 2
    assert "--auth 'ldap'" in result.output


def test_the_server_imports_what_pages_need_before_it_listens() -> None:
    """`serve` starts Streamlit through `dashboards.launch`, which hands Streamlit's own
    command line its arguments once the application, the store and the sidebar are
    imported: the first page a user opens does not wait for them."""
    import subprocess
    import sys

    probe = (
        "import sys; from streamlit.web import cli;"
        " cli.main = lambda prog_name: print(prog_name, 'dashboards.state' in sys.modules,"
        " 'workbench.application' in sys.modules, sys.argv[1:]);"
        " import dashboards.launch; assert 'dashboards.state' not in sys.modules;"
        " dashboards.launch.main()"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe, "run", "app.py", "--server.port", "8599"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert shown == "streamlit True True ['run', 'app.py', '--server.port', '8599']"
