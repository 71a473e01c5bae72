"""Simulated users over HTTP in an interleaving experiment: the click model's users click on
the merged list; what they saw and did is what the log's per-query table holds; the run is the
same at any concurrency (query ids from the seed key the coins)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from searchlab.ab.interleave import interleaving_test
from searchlab.cli import run
from searchlab.loop.click_model import grade_matrix
from searchlab.loop.live import LiveDesign, simulate_live
from searchlab.loop.simulate import (
    ExperimentDesign,
    UserBehaviour,
    search_outcomes,
    slot_thresholds,
)
from searchlab.serve.analysis import interleave_frame
from searchlab.serve.service import ServeConfig, ServiceThread

USERS = 240
TOML = (
    '[[experiment]]\nid = "tdi"\ntype = "interleave"\nsalt = "live-tdi"\n'
    'control = "bm25"\nvariant = "listnet"\n'
)


def _live(search_setup, folder, concurrency, users=USERS, toml=TOML):
    folder.mkdir(exist_ok=True)
    (folder / "experiments.toml").write_text(toml)
    config = ServeConfig(
        index=search_setup.index_dir,
        rankers=search_setup.rankers,
        experiments=folder / "experiments.toml",
        events=folder / "events.db",
        port=0,
    )
    with ServiceThread(config) as service:
        result = simulate_live(
            LiveDesign(url=service.url, users=users, concurrency=concurrency, seed=5),
            search_setup.corpus,
        )
    return result, folder / "events.db"


@pytest.fixture(scope="module")
def live_interleaving(search_setup, tmp_path_factory):
    return _live(search_setup, tmp_path_factory.mktemp("live-tdi") / "a", concurrency=8)


def test_the_logs_per_query_table_is_what_the_users_saw_and_did(live_interleaving):
    result, events = live_interleaving
    assert result.type == "interleave" and result.assignment_mismatches == 0
    summary = result.interleaving
    assert summary.users == USERS == summary.logged_users and result.outside_users == 0
    frame = interleave_frame(events, "tdi")
    assert len(frame) == len(result.table) == result.searches == summary.searches
    logged = frame.sort_values("query_id").reset_index(drop=True)
    mine = result.table.sort_values("query_id").reset_index(drop=True)
    shared = [c for c in mine.columns if c != "topic"]
    pd.testing.assert_frame_equal(logged[shared], mine[shared])
    assert summary.variant_clicks + summary.control_clicks == summary.clicks
    assert result.events_accepted == result.events_sent
    analysis = interleaving_test(frame).preference
    assert analysis.variant.users == summary.users_preferring_variant
    assert analysis.control.users == summary.users_preferring_control


def test_users_click_by_the_click_model_on_the_merged_list(live_interleaving, search_setup):
    """The offline simulation's draws (UserBehaviour) decide every click on the shown list."""
    result, _ = live_interleaving
    behaviour = UserBehaviour(
        ExperimentDesign(users=USERS, seed=5, salt=result.salt), len(result.topics), 10
    )
    rows = iter(result.table.itertuples())
    for user in behaviour.sessions():
        for topic_index, uniforms in zip(user.topics, user.uniforms, strict=True):
            row = next(rows)
            assert row.user_id == str(user.user_id)
            assert row.topic == result.topics[topic_index]
            grades = grade_matrix(
                {row.topic: tuple(row.doc_ids)},
                search_setup.corpus.judgments,
                [row.topic],
                result.model,
            )
            clicked, _ = search_outcomes(uniforms[None, :], *slot_thresholds(grades, result.model))
            assert row.clicked_positions == (np.flatnonzero(clicked[0]) + 1).tolist()


def test_the_run_does_not_depend_on_concurrency(live_interleaving, search_setup, tmp_path):
    first, _ = live_interleaving
    again, _ = _live(search_setup, tmp_path / "b", concurrency=3)
    pd.testing.assert_frame_equal(first.table, again.table)
    assert first.interleaving == again.interleaving


def test_simulate_live_cli_on_an_interleaving_experiment(search_setup, tmp_path, capsys):
    toml = TOML.replace('salt = "live-tdi"', 'method = "probabilistic"\nsalt = "live-pi"')
    (tmp_path / "experiments.toml").write_text(toml)
    config = ServeConfig(
        index=search_setup.index_dir,
        rankers=search_setup.rankers,
        experiments=tmp_path / "experiments.toml",
        events=tmp_path / "events.db",
        port=0,
    )
    corpus = str(search_setup.corpus_dir)
    with ServiceThread(config) as service:
        argv = ["simulate", "--live", service.url, "--corpus", corpus, "--users", "40"]
        out = tmp_path / "queries.parquet"
        assert run([*argv, "--concurrency", "4", "--out", str(out), "--json"]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["type"] == "interleave"
        assert summary["interleaving"]["method"] == "probabilistic"
        assert summary["interleaving"]["users"] == 40
        assert len(pd.read_parquet(out)) == summary["searches"]
        # the same seed again: its query ids are in the log already
        assert run([*argv, "--concurrency", "4"]) == 2
        assert "already in the event log" in capsys.readouterr().err
        assert run([*argv, "--seed", "1"]) == 0
        assert "interleaving (probabilistic)" in capsys.readouterr().out
    assert run(["ab", "interleave", "--events", str(config.events), "--experiment", "tdi"]) == 0
    assert "(probabilistic)" in capsys.readouterr().out
