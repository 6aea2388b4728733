"""The app in a real browser (headless Chromium) on a log of 100,000 generated events:
the first load of the root, and a click on each page of the sidebar until the page has
settled (Streamlit has finished running it, the browser has painted, and what is drawn
after that is drawn: no long task and no request for a quarter second), on the first
visit of each page and on a second round. Prints each click, then p50 and p95.

    python benchmarks/browser.py [--events 100000]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import OUT
from dashboards import navigation
from sample_data.generator import write

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
GOALS = {"click p95": 1.0, "first load": 2.0}
HEADINGS = {"Upload": "Upload an event log"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def healthy(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the server exited")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health") as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not become healthy within 60 s")


QUIET = 0.25  # seconds without a long task or a request after which a page has settled
#: Notes when the main thread was last busy: the end of the last long task (work of 50 ms
#: or more at a stretch, such as a chart library starting or drawing).
BUSY = """
window.__busyUntil = 0;
new PerformanceObserver(list => {
  for (const task of list.getEntries())
    window.__busyUntil = Math.max(window.__busyUntil, task.startTime + task.duration);
}).observe({type: "longtask", buffered: true});
"""


class Network:
    """The page's requests in flight, and when the last one ended (`time.perf_counter`)."""

    def __init__(self, page: object) -> None:
        self.flying: set[object] = set()
        self.ended = 0.0
        page.on("request", self.lift)  # type: ignore[attr-defined]
        page.on("requestfinished", self.land)  # type: ignore[attr-defined]
        page.on("requestfailed", self.land)  # type: ignore[attr-defined]

    def lift(self, request: object) -> None:
        self.flying.add(request)

    def land(self, request: object) -> None:
        self.flying.discard(request)
        self.ended = time.perf_counter()


def settled(page: object, network: Network, since: float) -> float:
    """Seconds from ``since`` (`time.perf_counter`) until the page settled: Streamlit has
    finished running it, the browser has painted twice, and for `QUIET` seconds the main
    thread has had no long task and no request has been in flight (a chart library's
    script loads, then starts and draws, after Streamlit is done); the end of the last of
    those, when that is later. What is drawn late counts for the page that shows it."""
    page.wait_for_function(  # type: ignore[attr-defined]
        "document.querySelector('[data-testid=\"stApp\"]')"
        "?.getAttribute('data-test-script-state') === 'notRunning'"
        " && !document.querySelector('[data-testid=\"stStatusWidget\"]')",
        timeout=120_000,
    )
    page.evaluate(  # type: ignore[attr-defined]
        "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
    )
    last = time.perf_counter()
    while True:
        asked = time.perf_counter()
        now, busy = page.evaluate("[performance.now(), window.__busyUntil]")  # type: ignore[attr-defined]
        answered = time.perf_counter()
        # A slow answer: the page was busy until it answered (a long task is reported
        # only once it has ended).
        busy_until = answered if answered - asked > 0.05 else answered - (now - busy) / 1000
        last = max(last, busy_until, network.ended)
        if not network.flying and answered - last >= QUIET:
            return last - since
        time.sleep(0.05)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    options = parser.parse_args()
    if not CHROMIUM.exists():
        raise SystemExit("needs Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    from ingest.jobs import ingest
    from workbench import EventStore
    from workbench.readmodel import ReadModel

    OUT.mkdir(exist_ok=True)
    source = OUT / f"orders-{options.events}.csv"
    if not source.exists():
        write(source, events=options.events, seed=1)
    db = OUT / f"browser-{options.events}.db"
    with EventStore(db) as store:
        if not store.has_log("orders"):
            ingest(store, source, log="orders")
        ReadModel(store).refresh("orders")
        events = next(one for one in store.logs() if one.log == "orders").events
    port = free_port()
    tool = str(Path(sys.executable).with_name("workbench"))
    server = subprocess.Popen(
        [tool, "--db", str(db), "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        healthy(port, server)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.add_init_script(BUSY)
            network = Network(page)
            started = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}/?log=orders")
            page.get_by_role("heading", name="Event logs").first.wait_for(timeout=120_000)
            first_load = settled(page, network, started)
            print(f"\nthe app in headless Chromium, {events:,} generated events")
            verdict = "met" if first_load <= GOALS["first load"] else "NOT met"
            print(f"  first load of the root      {first_load:6.2f} s   goal <= 2.0 s: {verdict}")
            sidebar = page.locator("[data-testid='stSidebar']")
            rounds: list[list[float]] = []
            for round_ in ("first visit", "second visit"):
                clicks = []
                print(f"  {round_}:")
                for entries in navigation.SECTIONS.values():
                    for entry in entries:
                        heading = HEADINGS.get(entry.title, entry.title)
                        link = sidebar.get_by_role("link", name=entry.title, exact=True)
                        started = time.perf_counter()
                        link.click()
                        page.get_by_role("heading", name=heading).first.wait_for(timeout=120_000)
                        seconds = settled(page, network, started)
                        clicks.append(seconds)
                        print(f"    {entry.title:<28} {seconds:6.2f} s")
                rounds.append(clicks)
            browser.close()
        for name, clicks in zip(("first visits", "second visits"), rounds, strict=True):
            p50, p95 = statistics.median(clicks), percentile(clicks, 0.95)
            verdict = "met" if p95 <= GOALS["click p95"] else "NOT met"
            print(
                f"  click to settled, {name:<14} p50 {p50:5.2f} s  p95 {p95:5.2f} s"
                f"   goal p95 <= 1.0 s: {verdict}"
            )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
