"""The service over HTTP: searches logged with the list shown, events acknowledged only once
committed, exposures once, live counts, health, 503 when the queue is full, drain on stop."""

from __future__ import annotations

import json
import threading
import time

import httpx

from searchlab.serve.experiments import load_experiments
from searchlab.serve.service import ServiceThread

QUERY = "heat transfer in hypersonic flow"


def test_search_answers_the_documented_shape_and_logs_the_list_shown(
    service, client, search_setup, db_rows
):
    answer = client.get("/api/search", params={"q": QUERY, "user": "u1", "k": 5})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith(
        "application/json"
    )
    body = answer.json()
    assert set(body) == {"query_id", "user", "experiment", "arm", "ranker", "results"}
    plan = load_experiments(search_setup.experiments, ["bm25", "listnet"])
    expected = plan.assign("u1")
    assert (body["experiment"], body["arm"], body["ranker"]) == (
        expected.experiment,
        expected.arm,
        expected.ranker,
    )
    results = body["results"]
    assert [r["position"] for r in results] == [1, 2, 3, 4, 5]
    assert all(set(r) == {"doc_id", "title", "snippet", "url", "position"} for r in results)
    again = client.get("/api/search", params={"q": "boundary layer", "user": "u1"}).json()
    assert len(again["results"]) == 10 and again["query_id"] != body["query_id"]
    assert client.get("/api/search", params={"q": "zeppelin", "user": "u2"}).json()["results"] == []
    service.stop()
    stored = db_rows(
        service.config.events,
        "SELECT query_id, user_id, experiment_id, arm, ranker, k, query_response_hit_ids "
        "FROM queries WHERE user_id = 'u1' ORDER BY ts_ms, rowid",
    )
    assert [r[0] for r in stored] == [body["query_id"], again["query_id"]]
    assert stored[0][1:6] == ("u1", body["experiment"], body["arm"], body["ranker"], 5)
    assert json.loads(stored[0][6]) == [r["doc_id"] for r in results]
    exposures = db_rows(
        service.config.events, "SELECT user_id, arm, query_id FROM exposures ORDER BY user_id"
    )
    # one exposure per user, at their first search in the experiment
    assert exposures == [
        ("u1", body["arm"], body["query_id"]),
        ("u2", plan.assign("u2").arm, exposures[1][2]),
    ]


def test_events_are_acknowledged_after_their_commit_with_ubi_fields(service, client, db_rows):
    search = client.get("/api/search", params={"q": QUERY, "user": "u7"}).json()
    qid, docs = search["query_id"], [r["doc_id"] for r in search["results"]]

    def event(action, position=None, doc=None, **extra):
        attributes = {}
        if doc is not None:
            attributes["object"] = {"object_id": doc, "object_id_field": "doc_id"}
        if position is not None:
            attributes["position"] = {"ordinal": position}
        return {"action_name": action, "query_id": qid, "event_attributes": attributes, **extra}

    batch = [
        event("impression", 1, docs[0], timestamp="2026-11-30T12:00:00Z"),
        event("click", 2, docs[1], user_id="u7", client_id="browser-1", session_id="s-9"),
        {  # the object alone: the position comes from the list shown
            "action_name": "conversion",
            "query_id": qid,
            "event_attributes": {
                "object": {"object_id": docs[1]},
                "position": {"xy": {"x": 4, "y": 5}},
            },
        },
        {"action_name": "add_to_cart", "query_id": qid, "message": "custom UBI action"},
    ]
    answer = client.post("/api/events", json=batch)
    assert answer.status_code == 200 and answer.json() == {"accepted": 4}
    # acknowledged = committed: another connection sees the rows while the service runs
    stored = db_rows(
        service.config.events,
        "SELECT action_name, position, object_id, user_id, client_id, session_id, "
        "experiment_id, arm, timestamp FROM events ORDER BY event_id",
    )
    assert [s[:3] for s in stored] == [
        ("impression", 1, docs[0]),
        ("click", 2, docs[1]),
        ("conversion", 2, docs[1]),
        ("add_to_cart", None, None),
    ]
    assert stored[1][3:6] == ("u7", "browser-1", "s-9")
    assert {s[6:8] for s in stored} == {(search["experiment"], search["arm"])}
    assert stored[0][8] == "2026-11-30T12:00:00.000Z"
    single = client.post("/api/events", json=event("click", 3, docs[2]))
    assert single.json() == {"accepted": 1}


def test_experiments_endpoint_counts_users_searches_and_events(client, search_setup):
    for user in ("a", "b", "c", "a"):
        search = client.get("/api/search", params={"q": QUERY, "user": user}).json()
    client.post(
        "/api/events",
        json={
            "action_name": "click",
            "query_id": search["query_id"],
            "event_attributes": {"position": {"ordinal": 1}},
        },
    )
    body = client.get("/api/experiments").json()
    assert body["default_ranker"] == "bm25"
    assert [r["name"] for r in body["rankers"]] == ["bm25", "listnet"]
    listnet = body["rankers"][1]
    assert listnet["excluded_queries"] == search_setup.held_out
    (experiment,) = body["experiments"]
    assert experiment["id"] == "listnet-vs-bm25" and experiment["salt"] == "2026-11"
    live = experiment["live"]
    assert sum(arm["users"] for arm in live.values()) == 3
    assert sum(arm["searches"] for arm in live.values()) == 4
    assert live[search["arm"]]["events"] == {"click": 1}
    assert body["totals"] == {"searches": 4, "events": 1}
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"


def test_a_full_queue_answers_503_with_retry_after_then_catches_up(
    serve_config, prepared_service, db_rows
):
    service = prepared_service(queue_size=1)
    with (
        ServiceThread(serve_config, service=service) as running,
        httpx.Client(base_url=running.url, timeout=30) as http,
    ):
        release = threading.Event()
        blocker = service.log._executor.submit(release.wait)  # the writer's thread is busy
        statuses = []
        for i in range(4):
            answer = http.get("/api/search", params={"q": QUERY, "user": f"busy-{i}"})
            statuses.append(answer.status_code)
            if answer.status_code == 503:
                assert answer.headers["Retry-After"] == "1"
                assert "queue is full" in answer.json()["error"]["message"]
        release.set()
        blocker.result(timeout=30)
        assert statuses[:2] == [200, 200] and statuses[2:] == [503, 503]
        for _ in range(500):  # the writer catches up (bounded wait)
            if http.get("/healthz").json()["queued"] == 0:
                break
            time.sleep(0.01)
        after = http.get("/api/search", params={"q": QUERY, "user": "later"})
        assert after.status_code == 200
    stored = {r[0] for r in db_rows(serve_config.events, "SELECT user_id FROM queries")}
    assert stored == {"busy-0", "busy-1", "later"}  # every answered search, and only those
    assert running.summary.refused_busy == 2


def test_stopping_drains_requests_in_flight_and_flushes_the_log(serve_config, db_rows):
    acknowledged = []
    with (
        ServiceThread(serve_config) as running,
        httpx.Client(base_url=running.url, timeout=30) as http,
    ):
        for i in range(30):
            qid = http.get("/api/search", params={"q": QUERY, "user": f"d{i}"}).json()["query_id"]
            event = {"action_name": "click", "query_id": qid, "message": f"m{i}"}
            event["event_attributes"] = {"position": {"ordinal": 1}}
            if http.post("/api/events", json=event).json() == {"accepted": 1}:
                acknowledged.append(f"m{i}")
    summary = running.summary
    assert summary.searches == 30 and summary.events == 30
    stored = [r[0] for r in db_rows(serve_config.events, "SELECT message FROM events")]
    assert sorted(stored) == sorted(acknowledged) and len(acknowledged) == 30
