"""Malformed requests get a 4xx JSON error, never a 500 or a traceback (a table of known cases
and a seeded batch of random ones); text from queries and documents is escaped in HTML."""

from __future__ import annotations

import json
import random
from urllib.parse import quote

import pytest

from searchlab.serve.pages import document_page, search_page
from searchlab.serve.service import ServeConfig
from searchlab.text.model import Document

QUERY = "heat transfer in hypersonic flow"


@pytest.fixture
def query_id(client):
    return client.get("/api/search", params={"q": QUERY, "user": "u1"}).json()["query_id"]


def _click(query_id, **changes):
    event = {
        "action_name": "click",
        "query_id": query_id,
        "event_attributes": {"object": {"object_id": "x"}, "position": {"ordinal": 1}},
    }
    event.update(changes)
    return event


CASES = [
    # (method, path, params or body, status, message fragment)
    ("GET", "/api/search", {"user": "u"}, 400, "q is required"),
    ("GET", "/api/search", {"q": "  ", "user": "u"}, 400, "q is required"),
    ("GET", "/api/search", {"q": "wing"}, 400, "user is required"),
    ("GET", "/api/search", {"q": "x" * 1001, "user": "u"}, 400, "at most 1,000"),
    ("GET", "/api/search", {"q": "wing", "user": "u" * 101}, 400, "user must be"),
    ("GET", "/api/search", {"q": "wing", "user": "a\x01b"}, 400, "user must be"),
    ("GET", "/api/search", {"q": "wing", "user": "u", "k": "0"}, 400, "k must be"),
    ("GET", "/api/search", {"q": "wing", "user": "u", "k": "101"}, 400, "k must be"),
    ("GET", "/api/search", {"q": "wing", "user": "u", "k": "ten"}, 400, "k must be"),
    ("GET", "/api/search", {"q": "wing", "user": "u", "k": "-1"}, 400, "k must be"),
    ("GET", "/api/search", {"q": "wing", "user": "u", "k": "1e2"}, 400, "k must be"),
    ("GET", "/api/search", {"q": "wing", "user": "u", "debug": "1"}, 400, "unknown parameter"),
    ("GET", "/api/search", [("q", "a"), ("q", "b"), ("user", "u")], 400, "given 2 times"),
    ("POST", "/api/events", b"{not json", 400, "not valid JSON"),
    ("POST", "/api/events", b"", 400, "not valid JSON"),
    ("POST", "/api/events", b"\xff\xfe", 400, "not UTF-8"),
    ("POST", "/api/events", b'{"action_name": NaN}', 400, "NaN is not JSON"),
    ("POST", "/api/events", b"[" * 5000 + b"]" * 5000, 400, "not usable JSON"),
    ("POST", "/api/events", b"[]", 400, "no event"),
    ("POST", "/api/events", b"42", 400, "an event is a JSON object"),
    ("POST", "/api/events", {"query_id": "x"}, 400, "action_name is required"),
    ("POST", "/api/events", {"action_name": "click"}, 400, "query_id is required"),
    ("POST", "/api/events", "UNKNOWN_FIELD", 400, "unknown field 'colour'"),
    ("POST", "/api/events", "UNKNOWN_QUERY", 422, "unknown query_id"),
    ("POST", "/api/events", "OTHER_USER", 422, "searched by another user"),
    ("POST", "/api/events", "FAR_POSITION", 422, "position 50, but the search showed 10"),
    ("POST", "/api/events", "WRONG_OBJECT", 422, "is not at position 1"),
    ("POST", "/api/events", "NO_POSITION", 400, "position: required by UBI"),
    ("POST", "/api/events", "BAD_ORDINAL", 400, "ordinal: must be an integer"),
    ("POST", "/api/events", "BAD_TIME", 400, "not an ISO 8601"),
    ("POST", "/api/events", "LONG_ACTION", 400, "action_name: must be text of 1 to 100"),
    ("POST", "/api/events", "CLICK_WITHOUT_RESULT", 422, "names the result"),
    ("POST", "/api/events", "ONE_BAD_IN_LIST", 422, "events[1]: unknown query_id"),
    ("POST", "/api/events", b"x" * (1 << 20 + 1), 413, "larger than 1,048,576 bytes"),
    ("POST", "/api/events", "FORM", 415, "is not JSON"),
    ("GET", "/api/events", None, 405, "Method Not Allowed"),
    ("POST", "/api/search", None, 405, "Method Not Allowed"),
    ("GET", "/api/nothing", None, 404, "Not Found"),
    ("GET", "/doc/no-such-document", None, 404, "no document"),
]


def _body(kind, query_id, docs):
    good = _click(
        query_id, event_attributes={"object": {"object_id": docs[0]}, "position": {"ordinal": 1}}
    )
    return {
        "UNKNOWN_FIELD": {**good, "colour": "red"},
        "UNKNOWN_QUERY": _click("no-such-query"),
        "OTHER_USER": {**good, "user_id": "someone-else"},
        "FAR_POSITION": {**good, "event_attributes": {"position": {"ordinal": 50}}},
        "WRONG_OBJECT": {
            **good,
            "event_attributes": {"object": {"object_id": docs[1]}, "position": {"ordinal": 1}},
        },
        "NO_POSITION": {**good, "event_attributes": {"object": {"object_id": docs[0]}}},
        "BAD_ORDINAL": {**good, "event_attributes": {"position": {"ordinal": "first"}}},
        "BAD_TIME": {**good, "timestamp": "yesterday"},
        "LONG_ACTION": {**good, "action_name": "c" * 101},
        "CLICK_WITHOUT_RESULT": {"action_name": "click", "query_id": query_id},
        "ONE_BAD_IN_LIST": [good, _click("no-such-query")],
    }[kind]


@pytest.mark.parametrize(("method", "path", "payload", "status", "fragment"), CASES)
def test_malformed_requests_get_a_4xx_json_error(
    client, service, db_rows, method, path, payload, status, fragment
):
    search = client.get("/api/search", params={"q": QUERY, "user": "u1"}).json()
    docs = [r["doc_id"] for r in search["results"]]
    kwargs = {}
    if isinstance(payload, dict | list) and method == "GET":
        kwargs["params"] = payload
    elif payload == "FORM":
        kwargs["data"] = {"action_name": "click"}
    elif isinstance(payload, str):
        kwargs["json"] = _body(payload, search["query_id"], docs)
    elif isinstance(payload, bytes):
        kwargs["content"] = payload
        kwargs["headers"] = {"Content-Type": "application/json"}
    elif isinstance(payload, dict):
        kwargs["json"] = payload
    answer = client.request(method, path, **kwargs)
    assert answer.status_code == status, answer.text
    if path.startswith("/doc/"):
        assert answer.headers["content-type"].startswith("text/html")
        assert fragment in answer.text
    else:
        error = answer.json()["error"]
        assert error["status"] == status and fragment in error["message"], error
    assert "Traceback" not in answer.text
    assert db_rows(service.config.events, "SELECT count(*) FROM events") == [(0,)]  # none stored


def test_a_seeded_batch_of_random_requests_never_gets_a_5xx(client, query_id):
    """Random paths, parameters and bodies (bytes, broken and odd JSON) from a fixed seed."""
    rng = random.Random(20261130)
    alphabet = "abc<>\"'&%;/\\\x00\x7f é漢🙂{}[]:,0123456789-+.eE nulltruefalse"

    def text(n):
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(n)))

    def value(depth=0):
        kind = rng.randrange(9 if depth < 4 else 6)
        return [
            lambda: None,
            lambda: rng.random() < 0.5,
            lambda: rng.randrange(-(2**70), 2**70),
            lambda: rng.uniform(-1e308, 1e308),
            lambda: text(40),
            lambda: query_id,
            lambda: [value(depth + 1) for _ in range(rng.randrange(4))],
            lambda: {text(12): value(depth + 1) for _ in range(rng.randrange(4))},
            lambda: {
                "action_name": value(depth + 1),
                "query_id": rng.choice([query_id, text(8)]),
                "event_attributes": value(depth + 1),
                rng.choice(["timestamp", "user_id", "position", "message"]): value(depth + 1),
            },
        ][kind]()

    statuses = []
    for _ in range(300):
        choice = rng.randrange(4)
        if choice == 0:
            params = [
                (rng.choice(["q", "user", "k", text(5)]), text(30)) for _ in range(rng.randrange(5))
            ]
            answer = client.get("/api/search", params=params)
        elif choice == 1:
            body = bytes(rng.randrange(256) for _ in range(rng.randrange(200)))
            answer = client.post("/api/events", content=body)
        elif choice == 2:
            answer = client.post(
                "/api/events",
                content=json.dumps(value(), ensure_ascii=rng.random() < 0.5).encode(),
                headers={"Content-Type": rng.choice(["application/json", "text/plain"])},
            )
        else:
            path = rng.choice(["api/", "doc/", "static/", ""]) + quote(text(20), safe="/%:")
            answer = client.get("/" + path)
        statuses.append(answer.status_code)
        assert answer.status_code < 500, (answer.status_code, answer.text[:300])
        assert "Traceback" not in answer.text
        if answer.status_code >= 400 and answer.headers.get("content-type", "").startswith(
            "application/json"
        ):
            assert answer.json()["error"]["message"]
    assert sum(s >= 400 for s in statuses) > 150  # the batch really was mostly malformed


def test_markup_in_a_query_is_inert_on_the_search_page(client):
    page = client.get("/", params={"q": "<script>alert(1)</script> boundary layer"})
    assert page.status_code == 200
    html = page.text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; boundary layer" in html
    assert page.headers["Content-Security-Policy"].startswith(
        "default-src 'none'; script-src 'self'"
    )
    assert html.count("<script") == 1  # only the page's own script, from /static
    assert "searchlab_user=" in page.headers["set-cookie"]


def test_markup_in_documents_is_escaped():
    doc = Document(
        "d<1>",
        'Wings <img src=x onerror="alert(1)">',
        "Text with </p><script>alert(2)</script> & more",
        "javascript:alert(3)",
    )
    html = document_page(doc, 'q"id', 2)
    assert "<img" not in html and "<script>alert" not in html and "javascript:" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert "&lt;/p&gt;&lt;script&gt;alert(2)&lt;/script&gt; &amp; more" in html
    assert 'data-query-id="q&quot;id"' in html

    class Response:
        query_id = "q1"
        results = (
            type(
                "R",
                (),
                {"doc_id": doc.doc_id, "title": doc.title, "snippet": doc.text, "position": 1},
            )(),
        )

    results = search_page("<b>x</b>", Response())
    assert "<b>x</b>" not in results and "<img" not in results and "<script>alert" not in results
    assert "/doc/d%3C1%3E?query_id=q1&amp;position=1" in results


def test_the_service_binds_loopback_by_default(service):
    assert ServeConfig(index=service.config.index).host == "127.0.0.1"
    assert service.url.startswith("http://127.0.0.1:")
