"""The app served by `workbench serve` for tests: a free port, a wait until it answers."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_healthy(port: int, server: subprocess.Popen[bytes]) -> None:
    """Wait until the server on ``port`` says it is healthy (at most a minute)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, "the server exited"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health") as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("the server did not become healthy within 60 s")


@contextmanager
def served(
    db: Path, *options: str, errors: bool = False
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """`workbench --db DB serve` with ``options`` on a free port, once healthy: the port
    and the process, stopped at the end. With ``errors``, its standard error is piped (for
    a short run: a full pipe would stop the server)."""
    port = free_port()
    workbench = [sys.executable, "-m", "workbench", "--db", str(db)]
    process = subprocess.Popen(
        [*workbench, "serve", "--port", str(port), *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE if errors else subprocess.DEVNULL,
    )
    try:
        wait_healthy(port, process)
        yield port, process
    finally:
        process.terminate()
        if process.returncode is None:
            process.communicate(timeout=30)
