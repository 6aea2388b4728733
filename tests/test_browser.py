"""The running server, opened in a real browser (headless Chromium)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dashboards import navigation
from tests.conftest import real_log
from tests.serving import served
from workbench import EventStore

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

CHROMIUM = Path("/usr/bin/chromium")
DOCS = Path(__file__).resolve().parent.parent / "docs"
README = (DOCS.parent / "README.md").read_text()  # the screenshots it shows are kept in docs/


# URL path, the page's heading, and the screenshot's name.
PAGES = [
    ("", "Event logs", "logs-page"),
    ("upload", "Upload an event log", "upload-page"),
    ("overview", "Overview", "overview-page"),
    ("process_map", "Process map", "process-map-page"),
    ("variants", "Variants", "variants-page"),
    ("cases", "Cases", "cases-page"),
    ("performance", "Performance", "performance-page"),
    ("compare", "Compare", "compare-page"),
    ("objects", "Object-centric", "objects-page"),
    ("time_travel", "Time travel", "time-travel-page"),
    ("projections", "Projections", "projections-page"),
    ("query", "Query", "query-page"),
    ("mining", "Discovery and conformance", "mining-page"),
]


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on the demo log, served on a free port: its address."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    db = tmp_path_factory.mktemp("browser") / "browser.db"
    subprocess.run(
        [sys.executable, "-m", "workbench", "--db", str(db), "demo"],
        check=True,
        capture_output=True,
    )
    with served(db) as (port, _process):
        yield f"http://127.0.0.1:{port}"


def _settled(page: Page) -> None:
    """Wait until Streamlit has finished running the page."""
    page.wait_for_function(
        "!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=90_000
    )


def _open(page: Page, link: Locator, heading: str) -> None:
    """Follow a link to a page and wait for its heading. A click that lands while
    Streamlit is still running the page before can be lost: it is made again."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(3):
        link.click()
        try:
            page.get_by_role("heading", name=heading).first.wait_for(timeout=30_000)
            return
        except PlaywrightTimeout:
            if attempt == 2:
                raise


@pytest.mark.browser
@pytest.mark.slow
def test_every_page_opens_without_an_exception(server, tmp_path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        # A shared link opened first on a fresh server gets the app's own navigation.
        page.goto(f"{server}/variants?log=order-to-cash")
        page.get_by_role("heading", name="Variants").first.wait_for(timeout=90_000)
        sidebar = page.locator("[data-testid='stSidebar']")
        sidebar.get_by_text("Discovery and conformance").wait_for(timeout=30_000)
        for path, title, shot in PAGES:
            page.goto(f"{server}/{path}")
            page.get_by_role("heading", name=title).first.wait_for(timeout=90_000)
            _settled(page)
            if path == "mining":  # the background job runs and reports on the page
                page.get_by_role("button", name="Run").click()
                page.get_by_text("Fitness").first.wait_for(timeout=120_000)
            if path == "time_travel":  # the animation plays in its frame
                page.get_by_role("tab", name="Watch the process move").click()
                _settled(page)
                page.get_by_role("button", name="Animate").click()
                player = page.frame_locator("iframe").first
                player.locator("#wb-map svg").wait_for(timeout=120_000)
                player.locator("#wb-clock").wait_for(timeout=30_000)
            page.wait_for_timeout(1_500)  # let charts and graphs paint
            assert page.locator("[data-testid='stException']").count() == 0, path
            image = tmp_path / f"{shot}.png"
            page.screenshot(path=str(image), full_page=True)
            assert image.stat().st_size > 10_000
            if os.environ.get("WORKBENCH_UPDATE_SCREENSHOTS") and f"docs/{shot}.png" in README:
                DOCS.mkdir(exist_ok=True)
                page.screenshot(path=str(DOCS / f"{shot}.png"))
        browser.close()


@pytest.mark.browser
@pytest.mark.slow
def test_a_sidebar_filter_survives_clicking_through_the_sidebar_11(server) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{server}/overview?log=order-to-cash")
        page.get_by_role("heading", name="Overview").first.wait_for(timeout=90_000)
        _settled(page)
        sidebar = page.locator("[data-testid='stSidebar']")
        sidebar.get_by_text("Filter the log").click()
        page.wait_for_timeout(1_000)  # the expander opens; its widgets move until it has
        chooser = sidebar.locator("[data-testid='stMultiSelect']").filter(
            has_text="Cases that contain"
        )
        chooser.click()
        page.keyboard.type("Request Approval")
        page.get_by_role("option", name="Request Approval").first.click()
        page.keyboard.press("Escape")
        # Leave the chooser first: it shrinks when it loses focus, and the button moves up.
        sidebar.get_by_text("Time range (UTC days)").click()
        page.wait_for_timeout(500)
        sidebar.locator("button", has_text="Apply").click()
        # Streamlit puts the query in the address without loading a page.
        page.wait_for_function("location.search.includes('activity=')", timeout=60_000)
        _settled(page)
        headings = {"Upload": "Upload an event log"}
        for entries in navigation.SECTIONS.values():
            for entry in entries:
                title = headings.get(entry.title, entry.title)
                link = sidebar.get_by_role("link", name=entry.title, exact=True)
                # A link carries the query of the run that drew it: Apply sets the filter
                # and runs the page again, and on a loaded machine the links of the run
                # before can show for a moment.
                for _ in range(300):
                    if "activity=" in (link.get_attribute("href") or ""):
                        break
                    page.wait_for_timeout(200)
                _open(page, link, title)
                _settled(page)
                assert "activity=Request" in page.url, (title, page.url)
                assert page.locator("[data-testid='stException']").count() == 0, title
                # Pages of the whole store, and of objects (not of filtered cases).
                unfiltered = ("Event logs", "Upload an event log", "Projections", "Object-centric")
                if title not in unfiltered:
                    page.get_by_text("Filtered: cases with Request Approval").first.wait_for(
                        timeout=30_000
                    )
        browser.close()


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The app with `--auth password`, a viewer (vera) and an analyst (anton): its address
    and its store."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    db = tmp_path_factory.mktemp("guarded") / "guarded.db"
    workbench = [sys.executable, "-m", "workbench", "--db", str(db)]
    subprocess.run([*workbench, "demo"], check=True, capture_output=True)
    for name, role in (("vera", "viewer"), ("anton", "analyst")):
        subprocess.run(
            [*workbench, "users", "add", name, "--role", role],
            input=f"{name}-password\n".encode(),
            check=True,
            capture_output=True,
        )
    with served(db, "--auth", "password") as (port, _process):
        yield f"http://127.0.0.1:{port}", db


def _log_in(page: Page, name: str, password: str) -> None:
    page.get_by_role("textbox", name="User name").fill(name)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Log in").click()


@pytest.mark.browser
@pytest.mark.slow
def test_with_auth_only_the_login_page_shows_until_a_user_logs_in(guarded) -> None:
    from playwright.sync_api import sync_playwright

    address, db = guarded

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for path in ("", "/overview?log=order-to-cash", "/upload"):
            page.goto(f"{address}{path}")
            page.get_by_role("button", name="Log in").wait_for(timeout=90_000)
            _settled(page)
            assert page.get_by_text("order-to-cash").count() == 0, path
            assert page.locator("[data-testid='stSidebar'] a").count() == 0, path
        _log_in(page, "vera", "not her password")
        page.get_by_text("do not match").wait_for(timeout=30_000)
        _log_in(page, "vera", "vera-password")
        page.get_by_role("heading", name="Event logs").first.wait_for(timeout=90_000)
        _settled(page)
        sidebar = page.locator("[data-testid='stSidebar']")
        sidebar.get_by_text("Logged in as").wait_for(timeout=30_000)
        assert "log=order-to-cash" in page.url  # the viewer sees the log, chosen for them
        assert sidebar.get_by_role("link", name="Upload", exact=True).count() == 0
        assert sidebar.get_by_role("link", name="Overview", exact=True).count() == 1
        page.goto(f"{address}/upload")  # a viewer's session reaches no upload by its address
        page.get_by_text("Page not found").first.wait_for(timeout=60_000)
        _settled(page)
        assert page.get_by_text("Upload an event log").count() == 0
        sidebar.get_by_text("Logged in as").wait_for(timeout=30_000)  # the reload kept it
        page.keyboard.press("Escape")
        page.wait_for_timeout(500)
        sidebar.get_by_role("button", name="Log out").click()
        page.get_by_text("You are logged out").wait_for(timeout=30_000)
        page.goto(f"{address}/overview?log=order-to-cash")
        page.get_by_role("button", name="Log in").wait_for(timeout=90_000)
        _log_in(page, "anton", "anton-password")
        page.get_by_text("Logged in as").wait_for(timeout=90_000)
        _settled(page)
        page.goto(f"{address}/upload")
        page.get_by_role("heading", name="Upload an event log").first.wait_for(timeout=90_000)
        _settled(page)
        page.locator("input[type=file]").set_input_files(str(real_log("running-example.csv")))
        page.get_by_role("button", name="Import").wait_for(timeout=90_000)
        _settled(page)
        page.get_by_role("button", name="Import").click()
        page.get_by_text("events added").first.wait_for(timeout=90_000)
        browser.close()
    with EventStore(db) as store:  # the analyst's import, with its actor
        jobs = [job for job in store.ledger.jobs() if job.source.endswith("running-example.csv")]
        assert [job.actor for job in jobs] == ["anton"]
