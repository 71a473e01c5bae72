"""Simulated users: stable assignment, reproducibility, agreement with the click model's
closed form, unbiasedness under the null, and "a better ranker converts more"."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from searchlab.ab import binary_test
from searchlab.cli import run
from searchlab.errors import InputError
from searchlab.loop._bundled import bundled_cranfield
from searchlab.loop.click_model import ClickModel, grade_matrix, query_conversion_probability
from searchlab.loop.rankers import ideal_rankings
from searchlab.loop.simulate import (
    ExperimentDesign,
    assign_variant,
    search_outcomes,
    simulate_experiment,
    write_user_table,
)
from searchlab.rank.metrics import ndcg_at_k
from searchlab.text.corpus import save_corpus
from searchlab.text.model import Corpus


@pytest.fixture(scope="module")
def cranfield():
    return bundled_cranfield()


@pytest.fixture(scope="module")
def ideal(cranfield):
    return ideal_rankings(cranfield.judgments)


def demoted(cranfield, ideal, filler: int):
    """The ideal ranking with ``filler`` unjudged documents put on top: a worse ranker."""
    all_docs = [d.doc_id for d in cranfield.documents]
    out = {}
    for qid, ranking in ideal.items():
        judged = cranfield.judgments[qid]
        unjudged = [d for d in all_docs if d not in judged][:filler]
        out[qid] = unjudged + ranking
    return out


def mean_ndcg10(rankings, judgments) -> float:
    values = []
    for qid, ranking in rankings.items():
        # Score = reversed position, so the ranking order is the score order; the judged
        # documents missing from the list are appended with lower scores (they count in IDCG).
        rest = [d for d in judgments[qid] if d not in ranking]
        docs = list(ranking) + rest
        labels = np.array([judgments[qid].get(d, 0) for d in docs], dtype=float)
        scores = -np.arange(len(docs), dtype=float)
        values.append(ndcg_at_k(labels, scores, 10)[0])
    return float(np.mean(values))


def test_assignment_is_stable_and_follows_the_split():
    ids = np.arange(1, 200_001)
    arms = assign_variant(ids, "exp-1", 0.3)
    assert np.array_equal(arms[:1000], assign_variant(ids[:1000], "exp-1", 0.3))
    share = arms.mean()
    assert abs(share - 0.3) < 4 * math.sqrt(0.3 * 0.7 / ids.size)
    other = assign_variant(ids, "exp-2", 0.3)
    agree = (arms == other).mean()  # independent salts: 0.3^2 + 0.7^2 = 0.58
    assert abs(agree - 0.58) < 0.01


def test_same_seed_same_users_other_seed_other_behaviour(cranfield, ideal):
    bad = demoted(cranfield, ideal, 5)
    design = ExperimentDesign(users=5000, seed=7)
    a = simulate_experiment(bad, ideal, cranfield.judgments, design)
    b = simulate_experiment(bad, ideal, cranfield.judgments, design)
    pd.testing.assert_frame_equal(a.table, b.table)
    c = simulate_experiment(bad, ideal, cranfield.judgments, ExperimentDesign(users=5000, seed=8))
    assert np.array_equal(a.table["arm"], c.table["arm"])  # the hash decides the arm, not the seed
    assert not np.array_equal(a.table["clicks"], c.table["clicks"])


def test_simulated_rates_match_the_click_model_closed_form(cranfield, ideal):
    bad = demoted(cranfield, ideal, 3)
    sim = simulate_experiment(
        bad, ideal, cranfield.judgments, ExperimentDesign(users=200_000, seed=1)
    )
    assert len(sim.table) == 200_000
    for arm in (sim.control, sim.variant):
        se = math.sqrt(
            arm.expected_conversion_rate * (1 - arm.expected_conversion_rate) / arm.users
        )
        assert abs(arm.conversion_rate - arm.expected_conversion_rate) < 4 * se
    # Clicks: a search on query q expects Σ_r θ_r α(g_r) clicks, with variance at most that
    # mean (independent Bernoullis); the query itself is drawn uniformly, adding its variance.
    model = sim.model
    for arm, ranking in (("control", bad), ("variant", ideal)):
        grades = grade_matrix(ranking, cranfield.judgments, sim.query_ids, model)
        per_query = (model.examination() * model.attractiveness()[grades]).sum(axis=1)
        rows = sim.table[sim.table["arm"] == arm]
        searches = rows["queries"].sum()
        spread = math.sqrt(searches * (per_query.mean() + per_query.var()))
        assert abs(rows["clicks"].sum() - searches * per_query.mean()) < 4 * spread
    assert sim.table["queries"].min() >= 1
    assert abs(sim.table["queries"].mean() - 2.0) < 0.02  # 1 + Poisson(1)


def test_query_probability_follows_grade_and_position():
    model = ClickModel()
    grades = np.array([[4, 0, 0], [0, 4, 0], [3, 0, 0], [-1, -1, -1]], dtype=np.int8)
    p = query_conversion_probability(np.pad(grades, ((0, 0), (0, 7)), constant_values=-1), model)
    assert p[0] > p[1] and p[0] > p[2] and p[3] == 0.0
    # rank 1: grade 4 (examined always, clicked 0.9, converts 0.5); ranks 2, 3: grade 0
    # (examined 1/2 and 1/3, clicked 0.05, converts 0.01).
    expected = 1 - (1 - 0.90 * 0.50) * (1 - 0.05 * 0.01 / 2) * (1 - 0.05 * 0.01 / 3)
    assert p[0] == pytest.approx(expected, rel=1e-12)


def test_click_model_rejects_bad_parameters():
    with pytest.raises(InputError, match="conversion_by_grade needs 5"):
        ClickModel(conversion_by_grade=(0.1, 0.2))
    with pytest.raises(InputError, match="attractiveness"):
        ClickModel(attractiveness_floor=0.5, attractiveness_ceiling=0.2)
    with pytest.raises(InputError, match="between 0 and 1"):
        ExperimentDesign(variant_share=1.0)
    with pytest.raises(InputError, match="twice"):
        grade_matrix({"1": ["a", "a"]}, {}, ["1"], ClickModel())
    with pytest.raises(InputError, match="share no query"):
        simulate_experiment({"1": ["a"]}, {"2": ["a"]}, {})


def test_same_ranker_in_both_arms_gives_uniform_pvalues(cranfield, ideal):
    """Under the null the exact permutation p-values are uniform and the false-positive rate at
    alpha 0.05 lies in its 99.9% binomial interval."""
    rankings = demoted(cranfield, ideal, 1)
    runs = 300
    pvalues = []
    for seed in range(runs):
        design = ExperimentDesign(users=6000, seed=seed, salt=f"null-{seed}")
        sim = simulate_experiment(rankings, rankings, cranfield.judgments, design)
        converted = sim.table["converted"].to_numpy()
        in_variant = (sim.table["arm"] == "variant").to_numpy()
        result = binary_test(converted[~in_variant], converted[in_variant])
        pvalues.append(result.test("exact-permutation").pvalue)
    pvalues = np.array(pvalues)
    assert stats.kstest(pvalues, "uniform").pvalue > 0.001
    false_positives = int((pvalues < 0.05).sum())
    low, high = stats.binom.ppf([0.0005, 0.9995], runs, 0.05)
    assert low <= false_positives <= high


def test_a_better_ranker_converts_more(cranfield, ideal):
    worse = demoted(cranfield, ideal, 4)
    gap = mean_ndcg10(ideal, cranfield.judgments) - mean_ndcg10(worse, cranfield.judgments)
    assert gap > 0.2  # the known margin: four unjudged documents pushed on top
    sim = simulate_experiment(
        worse, ideal, cranfield.judgments, ExperimentDesign(users=20_000, seed=3)
    )
    assert sim.expected_difference > 0
    converted = sim.table["converted"].to_numpy()
    in_variant = (sim.table["arm"] == "variant").to_numpy()
    result = binary_test(converted[~in_variant], converted[in_variant], alternative="larger")
    assert result.difference > 0 and result.test("exact-permutation").pvalue < 1e-6


def test_user_table_round_trips_and_bad_suffix_writes_nothing(cranfield, ideal, tmp_path):
    sim = simulate_experiment(ideal, ideal, cranfield.judgments, ExperimentDesign(users=1000))
    for name in ("users.parquet", "users.csv"):
        path = write_user_table(sim.table, tmp_path / name)
        back = pd.read_parquet(path) if name.endswith("parquet") else pd.read_csv(path)
        assert list(back.columns) == [
            "user_id",
            "arm",
            "queries",
            "clicks",
            "conversions",
            "converted",
        ]
        assert back["converted"].sum() == sim.control.converted_users + sim.variant.converted_users
    with pytest.raises(InputError, match=r"\.parquet or \.csv"):
        write_user_table(sim.table, tmp_path / "users.xlsx")
    assert not (tmp_path / "users.xlsx").exists()


def test_simulate_cli_writes_a_table_for_searchlab_ab(cranfield, ideal, tmp_path, capsys):
    import json

    corpus_dir = save_corpus(cranfield, tmp_path / "corpus")
    worse = tmp_path / "worse.json"
    worse.write_text(json.dumps(demoted(cranfield, ideal, 2)))
    out = tmp_path / "users.csv"
    argv = ["simulate", "--corpus", str(corpus_dir), "--control", str(worse), "--variant", "ideal"]
    assert run([*argv, "--users", "4000", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    table = pd.read_csv(out)
    assert len(table) == 4000
    assert summary["variant"]["converted_users"] == int(
        table.loc[table.arm == "variant", "converted"].sum()
    )
    assert run([*argv, "--users", "10", "--out", str(tmp_path / "u.txt")]) == 2
    assert run([*argv, "--users", "1", "--out", str(tmp_path / "u.csv")]) == 2
    assert "at least 2 users" in capsys.readouterr().err
    assert not (tmp_path / "u.csv").exists()


def test_simulate_interleave_cli_writes_the_table_ab_interleave_reads(
    cranfield, ideal, tmp_path, capsys
):
    import json

    corpus_dir = save_corpus(cranfield, tmp_path / "corpus")
    worse = tmp_path / "worse.json"
    worse.write_text(json.dumps(demoted(cranfield, ideal, 2)))
    out = tmp_path / "searches.parquet"
    argv = ["simulate", "--corpus", str(corpus_dir), "--control", str(worse), "--variant", "ideal"]
    assert run([*argv, "--interleave", "--users", "3000", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    table = pd.read_parquet(out)
    assert table.user_id.nunique() == 3000 and len(table) == summary["queries"]
    assert (table.credit > 0).sum() == summary["variant_wins"] > summary["control_wins"]
    assert run(["ab", "interleave", "--data", str(out), "--json"]) == 0
    analysis = json.loads(capsys.readouterr().out)
    assert analysis["metrics"][0]["significant"] is True  # the ideal ranking is preferred


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--control", "listnet", "--variant", "magic"], "unknown ranker 'magic'"),
        (["--variant", "{tmp}/missing.json"], "missing.json does not exist"),
        (["--users", "0"], "at least 2 users"),
        (["--users", "-3"], "at least 2 users"),
        (["--seed", "-1"], "seed must be a non-negative"),
        (["--out", "{tmp}/file/users.csv"], "it is a file, not a folder"),
        (["--out", "{tmp}/users.txt"], ".parquet or .csv"),
        (["--corpus", "{tmp}/unjudged"], "has no judgments"),
        (["--conversion", "0.1,0.2"], "go up to grade 4"),
        (["--conversion", "0.1,x"], "not a comma-separated list of numbers"),
        (["--method", "probabilistic"], "--method applies to --interleave"),
        (["--interleave", "--variant-share", "0.3"], "describe A/B arms"),
        (["--interleave", "--method", "coin"], "coin"),
    ],
)
def test_simulate_cli_refuses_bad_input_before_any_work(
    cranfield, tmp_path, refused, monkeypatch, args, fragment
):
    def no_evaluation(*args, **kwargs):
        raise AssertionError("bad input must be refused before the cross-validated evaluation")

    monkeypatch.setattr("searchlab.loop.rankers.evaluate_text_ranking", no_evaluation)
    (tmp_path / "file").write_text("x")
    save_corpus(Corpus(cranfield.documents[:2]), tmp_path / "unjudged")
    corpus_dir = save_corpus(cranfield, tmp_path / "corpus")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    argv = ["simulate", "--corpus", str(corpus_dir), "--control", "ideal", "--variant", "ideal"]
    argv += ["--users", "100", "--out", str(tmp_path / "users.csv")]
    refused(argv + [a.format(tmp=tmp_path) for a in args], fragment)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_sessions_are_the_offline_draws_grouped_by_user(monkeypatch):
    """The live driver's sessions hold exactly the searches and uniforms of the offline chunks,
    also when a user's searches straddle two chunks."""
    import searchlab.loop.simulate as simulate

    monkeypatch.setattr(simulate, "_CHUNK_IMPRESSIONS", 7)
    design = ExperimentDesign(users=300, seed=5, extra_queries_mean=2.0)
    chunks = list(simulate.UserBehaviour(design, 40, 10).chunks())
    assert len(chunks) > 40
    topics = np.concatenate([c.topic for c in chunks])
    uniforms = np.concatenate([c.uniforms for c in chunks])
    behaviour = simulate.UserBehaviour(design, 40, 10)
    start = 0
    sessions = list(behaviour.sessions())
    assert [s.index for s in sessions] == list(range(300))
    for session in sessions:
        n = behaviour.searches_per_user[session.index]
        assert session.user_id == session.index + 1 and len(session.topics) == n
        assert np.array_equal(session.topics, topics[start : start + n])
        assert np.array_equal(session.uniforms, uniforms[start : start + n])
        start += n
    assert start == topics.size
    with pytest.raises(RuntimeError, match="drawn once"):
        next(behaviour.chunks())


def test_search_outcomes_follow_the_thresholds():
    u = np.array([[0.05, 0.5, 0.9]], dtype=np.float32)
    clicked, converting = search_outcomes(
        u, np.array([[0.1, 0.6, 0.5]], np.float32), np.array([[0.01, 0.55, 0.2]], np.float32)
    )
    assert clicked.tolist() == [[True, True, False]]
    assert converting.tolist() == [[False, True, False]]
