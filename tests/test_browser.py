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
README = (DOCS.parent / "README.md").read_text()  # the screenshots it shows are kept in docs/


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


# URL path, the page's heading, and the screenshot's name.
PAGES = [
    ("", "Event logs", "logs-page"),
    ("upload", "Upload an event log", "upload-page"),
    ("overview", "Overview", "overview-page"),
    ("process_map", "Process map", "process-map-page"),
    ("variants", "Variants", "variants-page"),
    ("cases", "Cases", "cases-page"),
    ("performance", "Performance", "performance-page"),
    ("time_travel", "Time travel", "time-travel-page"),
    ("projections", "Projections", "projections-page"),
    ("mining", "Discovery and conformance", "mining-page"),
]


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
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            # A shared link opened first on a fresh server gets the app's own navigation.
            page.goto(f"http://127.0.0.1:{port}/variants?log=order-to-cash")
            page.get_by_role("heading", name="Variants").first.wait_for(timeout=90_000)
            sidebar = page.locator("[data-testid='stSidebarNav']")
            sidebar.get_by_text("Discovery and conformance").wait_for(timeout=30_000)
            assert sidebar.get_by_text("common").count() == 0
            for path, title, shot in PAGES:
                page.goto(f"http://127.0.0.1:{port}/{path}")
                page.get_by_role("heading", name=title).first.wait_for(timeout=90_000)
                # Let the page finish: Streamlit shows a running indicator while it computes.
                page.wait_for_function(
                    "!document.querySelector('[data-testid=\"stStatusWidget\"]')",
                    timeout=90_000,
                )
                if path == "mining":  # the background job runs and reports on the page
                    page.get_by_role("button", name="Run").click()
                    page.get_by_text("Fitness").first.wait_for(timeout=120_000)
                page.wait_for_timeout(1_500)  # let charts and graphs paint
                assert page.locator("[data-testid='stException']").count() == 0, path
                image = tmp_path / f"{shot}.png"
                page.screenshot(path=str(image), full_page=True)
                assert image.stat().st_size > 10_000
                if os.environ.get("WORKBENCH_UPDATE_SCREENSHOTS") and f"docs/{shot}.png" in README:
                    DOCS.mkdir(exist_ok=True)
                    page.screenshot(path=str(DOCS / f"{shot}.png"))
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
