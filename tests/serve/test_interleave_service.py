"""Interleaving experiments in the live service: merged lists with teams in the log, every
logged list rebuilt from the log, the per-query table read back in SQL, and the refusals."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
import pytest

from searchlab.ab.interleave import interleaving_test
from searchlab.cli import run
from searchlab.errors import InputError
from searchlab.serve.analysis import INTERLEAVE_COLUMNS, interleave_frame
from searchlab.serve.interleaving import (
    TEAM_LETTERS,
    marginalized_credit,
    rebuild_from_log,
)
from searchlab.serve.service import ServeConfig, ServiceThread

TDI = (
    '[[experiment]]\nid = "tdi"\ntype = "interleave"\nsalt = "tdi-salt"\n'
    'control = "bm25"\nvariant = "listnet"\nslice = [0.0, 0.5]\n'
    '[[experiment]]\nid = "pi"\ntype = "interleave"\nmethod = "probabilistic"\ntau = 2.5\n'
    'salt = "pi-salt"\ncontrol = "bm25"\nvariant = "listnet"\nslice = [0.5, 1.0]\n'
)
USERS = 24


@pytest.fixture(scope="module")
def interleaved_log(search_setup, tmp_path_factory):
    """A service with a team-draft and a probabilistic experiment (half the layer each);
    USERS users search three topics each and click by a fixed rule; returns what the clients
    saw and sent, the log and the service's rankers (to rebuild lists)."""
    from searchlab.serve.service import SearchService

    root = tmp_path_factory.mktemp("interleave")
    experiments = root / "experiments.toml"
    experiments.write_text(TDI)
    config = ServeConfig(
        index=search_setup.index_dir,
        rankers=search_setup.rankers,
        experiments=experiments,
        events=root / "events.db",
        port=0,
    )
    service = SearchService.load(config)
    topics = [q for q in search_setup.corpus.judged_queries()][:6]
    seen = []
    with (
        ServiceThread(config, service=service) as running,
        httpx.Client(base_url=running.url, timeout=30) as http,
    ):
        for u in range(1, USERS + 1):
            for j in range(3):
                query = topics[(u + j) % len(topics)]
                params = {"q": query.text, "user": str(u), "k": 10}
                if j == 2:
                    params["query_id"] = f"client.u{u}.{j}"  # the client's own id (UBI style)
                body = http.get("/api/search", params=params).json()
                clicks = [p for p in (1, 2, 4) if (u * 7 + j * 3 + p) % 3 == 0]
                events = [
                    {
                        "action_name": "click",
                        "query_id": body["query_id"],
                        "event_attributes": {"position": {"ordinal": p}},
                    }
                    for p in clicks
                ]
                if clicks and u % 4 == 0:
                    events.append({**events[0], "action_name": "conversion"})
                if events:
                    assert http.post("/api/events", json=events).status_code == 200
                seen.append((body, clicks))
    yield seen, config.events, service
    service.close()


def test_every_user_sees_a_merged_list_whose_results_name_their_team(interleaved_log):
    seen, _, _ = interleaved_log
    for body, _ in seen:
        assert body["experiment"] in ("tdi", "pi") and body["arm"] == "interleaved"
        assert body["ranker"] == "bm25+listnet"
        teams = [r["team"] for r in body["results"]]
        assert len(teams) == 10 and set(teams) <= {"control", "variant"}
        if body["experiment"] == "tdi":  # team-draft: the teams' sizes differ by at most one
            assert abs(teams.count("control") - teams.count("variant")) <= 1
    assert {b["experiment"] for b, _ in seen} == {"tdi", "pi"}
    assert any(b["query_id"].startswith("client.") for b, _ in seen)


def test_every_logged_list_is_rebuilt_from_the_log(interleaved_log):
    """Rerank each logged query with both rankers; the hash of (query id, salt) then gives
    the same documents and teams, position by position (rebuild_from_log refuses otherwise)."""
    seen, events, service = interleaved_log
    conn = sqlite3.connect(events)
    rows = conn.execute(
        "SELECT q.query_id, q.user_query, q.k, q.query_response_hit_ids, q.teams, q.posterior, "
        "x.definition FROM queries q JOIN experiments x USING (experiment_id)"
    ).fetchall()
    conn.close()
    assert len(rows) == len(seen) == 3 * USERS
    index = service.index
    for query_id, text, k, hits, teams, posterior, definition in rows:
        definition = json.loads(definition)
        query = index.analyse(text)
        rankings = [
            [index.document(i).doc_id for i in service.rankers[name].rank(query, k)[0].tolist()]
            for name in (definition["control"], definition["variant"])
        ]
        record = {
            "query_id": query_id,
            "salt": definition["salt"],
            "method": definition["method"],
            "depth": k,
            "tau": definition["tau"],
            "doc_ids": json.loads(hits),
            "teams": teams,
        }
        rebuilt = rebuild_from_log(record, *rankings)
        assert rebuilt.team_string == teams and list(rebuilt.doc_ids) == json.loads(hits)
        if definition["method"] == "probabilistic":
            assert json.loads(posterior) == pytest.approx(list(rebuilt.posterior), abs=1e-15)
        else:
            assert posterior is None
        # a changed log is caught: swap the first two teams
        flipped = {**record, "teams": teams[1] + teams[0] + teams[2:]}
        if teams[0] != teams[1]:
            with pytest.raises(InputError, match="differs from the rebuilt list"):
                rebuild_from_log(flipped, *rankings)


def test_events_record_the_team_of_the_result_they_name(interleaved_log):
    _, events, _ = interleaved_log
    conn = sqlite3.connect(events)
    rows = conn.execute(
        "SELECT e.position, e.team, q.teams FROM events e JOIN queries q USING (query_id)"
    ).fetchall()
    conn.close()
    assert rows
    for position, team, teams in rows:
        assert team == {"C": "control", "V": "variant"}[teams[position - 1]]


def test_the_per_query_table_from_the_log_is_what_the_clients_saw(interleaved_log):
    seen, events, _ = interleaved_log
    for experiment, method in (("tdi", "team-draft"), ("pi", "probabilistic")):
        frame = interleave_frame(events, experiment)
        expected_columns = [c for c in INTERLEAVE_COLUMNS if c != "tau" or method != "team-draft"]
        assert list(frame.columns) == expected_columns
        mine = {b["query_id"]: (b, c) for b, c in seen if b["experiment"] == experiment}
        assert sorted(frame["query_id"]) == sorted(mine)
        for row in frame.itertuples():
            body, clicks = mine[row.query_id]
            teams = "".join(TEAM_LETTERS[r["team"] == "variant"] for r in body["results"])
            variant = sum(teams[p - 1] == "V" for p in clicks)
            control = len(clicks) - variant
            assert row.user_id == body["user"] and row.method == method
            assert row.teams == teams and row.doc_ids == [r["doc_id"] for r in body["results"]]
            assert row.clicked_positions == clicks and row.depth == 10
            assert (row.variant_clicks, row.control_clicks) == (variant, control)
            assert row.converted == int(bool(clicks) and int(body["user"]) % 4 == 0)
            if method == "team-draft":
                assert row.credit == np.sign(variant - control)
        assert frame["salt"].eq({"tdi": "tdi-salt", "pi": "pi-salt"}[experiment]).all()
    pi = interleave_frame(events, "pi")
    assert pi["tau"].eq(2.5).all()
    # probabilistic: the marginalised credit of the logged posterior and clicks
    conn = sqlite3.connect(events)
    posterior = dict(
        conn.execute("SELECT query_id, posterior FROM queries WHERE teams IS NOT NULL")
    )
    conn.close()
    for row in pi.itertuples():
        q = np.array([json.loads(posterior[row.query_id])])
        hit = np.zeros_like(q, dtype=bool)
        hit[0, np.array(row.clicked_positions, dtype=int) - 1] = True
        assert row.credit == pytest.approx(marginalized_credit(q, hit)[0])
    analysis = interleaving_test(interleave_frame(events, "tdi"))
    m = analysis.preference
    assert m.users == len({b["user"] for b, _ in seen if b["experiment"] == "tdi"})
    assert analysis.method == "team-draft"


def test_ab_interleave_events_cli(interleaved_log, capsys):
    _, events, _ = interleaved_log
    argv = ["ab", "interleave", "--events", str(events), "--experiment", "tdi"]
    assert run([*argv, "--json", "--sequential"]) == 0
    result = json.loads(capsys.readouterr().out)
    frame = interleave_frame(events, "tdi")
    expected = interleaving_test(frame, sequential=True).to_dict()
    assert result["metrics"][0]["tests"][0]["method"] == "sign-test"
    assert (
        result["metrics"][0]["tests"][0]["pvalue"] == expected["metrics"][0]["tests"][0]["pvalue"]
    )
    assert result["per_query"]["queries"] == len(frame)
    assert [t["method"] for t in result["metrics"][0]["tests"]][-1] == "asymptotic-cs"
    assert run(argv) == 0
    assert "interleaving (team-draft)" in capsys.readouterr().out


def test_bad_input_one_line_exit_2(interleaved_log, search_setup, tmp_path, refused):
    _, events, _ = interleaved_log
    refused(
        ["ab", "test", "--events", str(events), "--experiment", "tdi"],
        "is an interleaving experiment",
    )
    refused(
        ["ab", "interleave", "--events", str(events), "--experiment", "nope"],
        "experiments in it: pi, tdi",
    )
    refused(["ab", "interleave", "--events", str(events)], "--events DB with --experiment")
    ab_log = tmp_path / "ab.db"
    ab_events(search_setup, ab_log)
    refused(
        ["ab", "interleave", "--events", str(ab_log), "--experiment", "listnet-vs-bm25"],
        "is an A/B experiment",
    )
    serve = ["serve", "--index", str(search_setup.index_dir), "--events", str(tmp_path / "x.db")]
    toml = tmp_path / "e.toml"
    toml.write_text(TDI)
    refused([*serve, "--ranker", "bm25", "--experiment", str(toml)], "only one --ranker (bm25)")
    toml.write_text(TDI.replace('variant = "listnet"', 'variant = "bm25"'))
    refused(
        [*serve, *_rankers(search_setup), "--experiment", str(toml)],
        "control and variant are the same ranker (bm25)",
    )
    toml.write_text(TDI.replace('salt = "tdi-salt"', 'salt = "tdi-salt"\nvariant_share = 0.5'))
    refused(
        [*serve, *_rankers(search_setup), "--experiment", str(toml)],
        "variant_share does not apply",
    )
    toml.write_text(TDI.replace('method = "probabilistic"', 'method = "balanced"'))
    refused([*serve, *_rankers(search_setup), "--experiment", str(toml)], "method 'balanced'")
    assert not (tmp_path / "x.db").exists()


def _rankers(search_setup):
    return [a for r in search_setup.rankers for a in ("--ranker", r)]


def ab_events(search_setup, path):
    """A log with one A/B search in it."""
    config = ServeConfig(
        index=search_setup.index_dir,
        rankers=search_setup.rankers,
        experiments=search_setup.experiments,
        events=path,
        port=0,
    )
    with ServiceThread(config) as running:
        httpx.get(running.url + "/api/search", params={"q": "wing", "user": "1"}, timeout=30)


def test_client_query_ids_are_unique_and_checked(serve_config, tmp_path):
    with (
        ServiceThread(replace(serve_config, events=tmp_path / "q.db")) as running,
        httpx.Client(base_url=running.url, timeout=30) as http,
    ):
        ok = http.get("/api/search", params={"q": "wing", "user": "1", "query_id": "a.1"})
        assert ok.status_code == 200 and ok.json()["query_id"] == "a.1"
        again = http.get("/api/search", params={"q": "flow", "user": "2", "query_id": "a.1"})
        assert again.status_code == 409
        assert "already in the event log" in again.json()["error"]["message"]
        bad = http.get("/api/search", params={"q": "wing", "user": "1", "query_id": "a b"})
        assert bad.status_code == 400 and "query_id" in bad.json()["error"]["message"]
    conn = sqlite3.connect(tmp_path / "q.db")
    assert conn.execute("SELECT count(*), max(user_id) FROM queries").fetchone() == (1, "1")
    conn.close()
    # after a restart the id is still taken (looked up in the log)
    with ServiceThread(replace(serve_config, events=tmp_path / "q.db")) as running:
        again = httpx.get(
            running.url + "/api/search",
            params={"q": "flow", "user": "3", "query_id": "a.1"},
            timeout=30,
        )
        assert again.status_code == 409


def test_the_result_cache_answers_as_the_rankers_and_ranks_each_query_once(prepared_service):
    plain, cached = prepared_service(), prepared_service(result_cache=100)
    calls = []
    ranker = cached.rankers["listnet"]
    original = ranker.rank

    def counting(query, k):
        calls.append(k)
        return original(query, k)

    ranker.rank = counting
    try:
        for k in (10, 10, 3, 10):
            for name in ("bm25", "listnet"):
                assert cached.ranking(name, "heat transfer", k) == plain.ranking(
                    name, "heat transfer", k
                )
        assert calls == [10, 3]  # a repeated (ranker, text, k) is not ranked again
    finally:
        plain.close()
        cached.close()
    with pytest.raises(InputError, match="result cache size"):
        ServeConfig(index=Path("."), result_cache=-1)
