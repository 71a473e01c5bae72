"""A person in headless Chromium: types a query (with markup in it), opens a result and presses
"Found what I needed"; the search, click and conversion are in the log with the right query
id, arm and position, nothing runs from the query, and the console stays clean."""

from __future__ import annotations

import sqlite3
import time

QUERY = "<script>alert(1)</script> heat transfer in hypersonic flow"


def _events(path, bounded=200):
    """The log's events, once the beacons have landed (bounded wait)."""
    for _ in range(bounded):
        conn = sqlite3.connect(path)
        rows = conn.execute(
            "SELECT action_name, query_id, position, object_id, arm, user_id FROM events "
            "ORDER BY event_id"
        ).fetchall()
        conn.close()
        if any(r[0] == "click" for r in rows) and any(r[0] == "conversion" for r in rows):
            return rows
        time.sleep(0.05)
    raise AssertionError(f"the click and conversion never reached the log: {rows}")


def test_search_click_and_conversion_from_a_browser(service, artifacts_dir, chromium_page):
    page = chromium_page.page
    page.goto(service.url + "/", wait_until="load")
    page.fill("input[name=q]", QUERY)
    page.press("input[name=q]", "Enter")
    page.wait_for_selector("a.result")
    assert page.input_value("input[name=q]") == QUERY
    assert QUERY in page.inner_text("p.meta")  # shown as text, not run
    results = page.locator("a.result")
    assert results.count() == 10
    first = results.nth(0)
    query_id = first.get_attribute("data-query-id")
    doc_id = first.get_attribute("data-doc-id")
    page.screenshot(path=str(artifacts_dir / "serve-search.png"), full_page=True)
    first.click()
    page.wait_for_url("**/doc/**")
    page.click("#convert")
    page.wait_for_function(
        "document.getElementById('convert-status').textContent.startsWith('Thanks')"
    )
    page.screenshot(path=str(artifacts_dir / "serve-document.png"), full_page=True)
    user = next(c["value"] for c in page.context.cookies() if c["name"] == "searchlab_user")
    problems, failed = chromium_page.problems, chromium_page.failed
    assert not problems, problems
    # The click's beacon leaves as the page navigates away, and Chromium reports it to the
    # page as aborted while its network process still delivers it (the log below shows it
    # arrived); every other request must have succeeded.
    beacons = [f for f in failed if f[:2] == ("POST", service.url + "/api/events")]
    assert len(beacons) <= 1 and all(f[2] == "net::ERR_ABORTED" for f in beacons), failed
    assert len(failed) == len(beacons), failed
    events = _events(service.config.events)
    conn = sqlite3.connect(service.config.events)
    search = conn.execute(
        "SELECT user_id, arm, user_query, query_response_hit_ids FROM queries WHERE query_id = ?",
        (query_id,),
    ).fetchone()
    conn.close()
    assert search[0] == user and search[2] == QUERY
    arm = search[1]
    impressions = [e for e in events if e[0] == "impression"]
    assert [e[2] for e in impressions] == list(range(1, 11))
    assert ("click", query_id, 1, doc_id, arm, user) in events
    assert ("conversion", query_id, 1, doc_id, arm, user) in events
