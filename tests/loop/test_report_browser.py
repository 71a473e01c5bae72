"""Open the demo report in headless Chromium: every image loads, no script or console errors."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def served_report(quick_demo):
    handler = functools.partial(_QuietHandler, directory=str(quick_demo))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def test_report_renders_in_chromium(served_report, quick_demo, artifacts_dir):
    # a missing browser is a failure, not a skip: `make browser` (or .ci/run) installs it
    assert CHROMIUM.exists(), "Debian's chromium is missing (/usr/bin/chromium): run make browser"
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.on(
                "console",
                lambda m: (
                    problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
                ),
            )
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
            response = page.goto(served_report, wait_until="load")
            assert response is not None and response.status == 200
            images = page.eval_on_selector_all(
                "img",
                "els => els.map(e => ({complete: e.complete, width: e.naturalWidth, id: e.id}))",
            )
            assert images, "the report has no image"
            assert all(i["complete"] and i["width"] > 0 for i in images), images
            assert "Is the learned ranker better" in page.inner_text("h1")
            assert page.locator("table#offline tr").count() == 4
            page.screenshot(path=str(artifacts_dir / "demo-report.png"), full_page=True)
            page.locator("#null-plot").screenshot(path=str(artifacts_dir / "demo-report-plot.png"))
        finally:
            browser.close()
    assert not problems, problems
    shutil.copy(quick_demo / "summary.json", artifacts_dir / "demo-report-summary.json")
