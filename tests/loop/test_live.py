"""Simulated users over HTTP against a live service: the same users and click model as the
offline simulation (which, fed the served rankings, reproduces the live table exactly), live
conversion rates that agree with the model's exact rates, the shared assignment, and a log
that holds every user and every acknowledged event."""

from __future__ import annotations

import json
import socket
import sqlite3

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from searchlab.cli import run
from searchlab.errors import InputError
from searchlab.loop.live import LiveDesign, held_out_topics, simulate_live
from searchlab.loop.simulate import ExperimentDesign, assign_variant, simulate_experiment
from searchlab.serve.service import ServeConfig, ServiceThread

USERS = 1_500


@pytest.fixture(scope="module")
def live_run(search_setup, tmp_path_factory):
    events = tmp_path_factory.mktemp("live") / "events.db"
    config = ServeConfig(
        index=search_setup.index_dir,
        rankers=search_setup.rankers,
        experiments=search_setup.experiments,
        events=events,
        port=0,
    )
    with ServiceThread(config) as service:
        result = simulate_live(
            LiveDesign(url=service.url, users=USERS, concurrency=8, seed=3), search_setup.corpus
        )
    return result, events


def test_topics_are_the_queries_the_served_model_never_trained_on(live_run, search_setup):
    result, _ = live_run
    assert list(result.topics) == search_setup.held_out
    assert result.experiment == "listnet-vs-bm25" and result.salt == "2026-11"


def test_live_conversion_rates_agree_with_the_click_models_exact_rates(live_run):
    result, _ = live_run
    for arm in result.arms.values():
        assert arm.expected_conversion_rate is not None  # every topic was served in each arm
        low, high = proportion_confint(arm.converted_users, arm.users, alpha=0.01, method="wilson")
        assert low <= arm.expected_conversion_rate <= high, arm
        assert arm.interval[0] <= arm.conversion_rate <= arm.interval[1]


def test_the_assignment_is_the_offline_simulations(live_run):
    result, _ = live_run
    assert result.assignment_mismatches == 0 and result.outside_users == 0
    offline = assign_variant(np.arange(1, USERS + 1), result.salt, result.variant_share)
    assert np.array_equal(result.table["arm"].astype(str).to_numpy() == "variant", offline)


def test_the_offline_simulation_fed_the_served_rankings_reproduces_every_user(
    live_run, search_setup
):
    result, _ = live_run
    rankings = {
        arm: {t: list(result.served[arm].get(t, ())) for t in result.topics}
        for arm in ("control", "variant")
    }
    offline = simulate_experiment(
        rankings["control"],
        rankings["variant"],
        search_setup.corpus.judgments,
        ExperimentDesign(users=USERS, seed=3, salt=result.salt, variant_share=result.variant_share),
        result.model,
        query_ids=result.topics,
    )
    live = result.table.assign(arm=result.table["arm"].astype(str))
    pd.testing.assert_frame_equal(live, offline.table.assign(arm=offline.table["arm"].astype(str)))


def test_the_log_holds_every_user_and_every_acknowledged_event(live_run):
    result, events = live_run
    conn = sqlite3.connect(events)
    users = conn.execute("SELECT count(DISTINCT user_id) FROM queries").fetchone()[0]
    searches = conn.execute("SELECT count(*) FROM queries").fetchone()[0]
    stored = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    exposed = dict(conn.execute("SELECT arm, count(*) FROM exposures GROUP BY arm").fetchall())
    per_action = dict(
        conn.execute("SELECT action_name, count(*) FROM events GROUP BY 1").fetchall()
    )
    conn.close()
    assert users == USERS == result.users
    assert searches == result.searches
    assert stored == result.events_accepted == result.events_sent
    assert per_action["click"] == sum(a.clicks for a in result.arms.values())
    assert per_action["conversion"] == sum(a.conversions for a in result.arms.values())
    for name, arm in result.arms.items():
        assert exposed[name] == arm.users == arm.logged_users


def test_ab_test_reads_the_live_experiment_from_the_log(live_run, capsys):
    result, events = live_run
    argv = ["ab", "test", "--events", str(events), "--experiment", result.experiment]
    assert run([*argv, "--metric", "converted", "--metric", "searches", "--json"]) == 0
    analysis = json.loads(capsys.readouterr().out)
    converted = analysis["metrics"][0]
    for name, arm in result.arms.items():
        assert converted[name]["users"] == arm.users
        assert converted[name]["total"] == arm.converted_users
    assert analysis["metrics"][1]["control"]["total"] == result.arms["control"].searches


def test_simulate_live_cli_and_its_refusals(search_setup, tmp_path, capsys):
    config = ServeConfig(
        index=search_setup.index_dir,
        rankers=search_setup.rankers,
        experiments=search_setup.experiments,
        events=tmp_path / "events.db",
        port=0,
    )
    corpus = str(search_setup.corpus_dir)
    with ServiceThread(config) as service:
        argv = ["simulate", "--live", service.url, "--corpus", corpus, "--users", "60"]
        out = tmp_path / "users.csv"
        assert run([*argv, "--concurrency", "4", "--seed", "1", "--out", str(out), "--json"]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["users"] == 60 and summary["events_accepted"] == summary["events_sent"]
        assert len(pd.read_csv(out)) == 60
        assert run([*argv, "--control", "bm25"]) == 2
        assert "do not apply with --live" in capsys.readouterr().err
        assert run([*argv, "--experiment", "other"]) == 2
        assert "runs no experiment 'other'" in capsys.readouterr().err
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert run(["simulate", "--live", f"http://127.0.0.1:{port}", "--corpus", corpus]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot talk to the service" in err[0]
    assert run(["simulate", "--live", "ftp://x", "--corpus", corpus]) == 2
    assert "is not an http(s) URL" in capsys.readouterr().err


def test_no_topic_is_left_when_the_model_trained_on_every_judged_query(search_setup):
    every = [
        {"name": "listnet", "trained_queries": [q.query_id for q in search_setup.corpus.queries]}
    ]
    with pytest.raises(InputError, match="--exclude-queries"):
        held_out_topics(search_setup.corpus, every)
