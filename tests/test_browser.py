"""The running server, opened in a real browser (headless Chromium)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
DOCS = Path(__file__).resolve().parent.parent / "docs"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_healthy(port: int, server: subprocess.Popen[bytes]) -> None:
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


@pytest.mark.browser
@pytest.mark.slow
def test_every_page_opens_without_an_exception(tmp_path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    db = tmp_path / "browser.db"
    workbench = [sys.executable, "-m", "workbench", "--db", str(db)]
    subprocess.run([*workbench, "demo"], check=True, capture_output=True)
    port = _free_port()
    server = subprocess.Popen(
        [*workbench, "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_healthy(port, server)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM),
                args=[
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
            )
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(f"http://127.0.0.1:{port}/")
            page.locator("[data-testid='stDataFrame']").wait_for(timeout=60_000)
            page.wait_for_timeout(1_000)  # let the grid paint before the screenshot
            assert page.locator("[data-testid='stException']").count() == 0
            shot = tmp_path / "logs-page.png"
            page.screenshot(path=str(shot))
            if os.environ.get("WORKBENCH_UPDATE_SCREENSHOTS"):
                DOCS.mkdir(exist_ok=True)
                page.screenshot(path=str(DOCS / "logs-page.png"))
            browser.close()
        assert shot.stat().st_size > 10_000
    finally:
        server.terminate()
        server.wait(timeout=30)
