"""Open the demo report in headless Chromium: every image loads, no script or console errors."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading

import pytest


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


def test_report_renders_in_chromium(served_report, quick_demo, artifacts_dir, chromium_page):
    page = chromium_page.page
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
    problems = chromium_page.problems + [f"request failed: {f[1]}" for f in chromium_page.failed]
    assert not problems, problems
    shutil.copy(quick_demo / "summary.json", artifacts_dir / "demo-report-summary.json")
