"""NDCG and friends against hand values, scikit-learn and LightGBM's own evaluation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from searchlab.errors import InputError
from searchlab.rank.data import RankingData
from searchlab.rank.metrics import evaluate_rankings, ndcg_at_k


def _random_data(seed: int, n_queries: int = 30, with_empty: bool = True):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, 25, size=n_queries)
    qids = np.repeat(np.arange(n_queries), lengths)
    labels = rng.integers(0, 5, size=len(qids)).astype(np.float32)
    if with_empty:
        labels[qids == 0] = 0  # a query with no relevant document
        labels[qids == 1] = 0
    feats = rng.normal(size=(len(qids), 6)).astype(np.float32)
    data = RankingData.from_arrays(feats, labels, qids)
    scores = rng.normal(size=len(qids))
    return data, scores


def test_ndcg_three_documents_by_hand():
    scores = [1.624, -0.612, -0.528]
    grades = [3, 1, 0]
    # ranking by score: grades (3, 0, 1); DCG = 7/1 + 0/log2(3) + 1/log2(4)
    dcg = 7.0 + 0.0 + 1.0 / 2.0
    ideal = 7.0 + 1.0 / math.log2(3)
    assert ndcg_at_k(grades, scores, 10)[0] == pytest.approx(dcg / ideal, abs=1e-12)
    assert ndcg_at_k(grades, scores, 1)[0] == pytest.approx(1.0)
    assert ndcg_at_k(grades, scores, 2)[0] == pytest.approx(7.0 / ideal)


def test_ties_keep_input_order():
    # equal scores: the first row ranks first (stable), so order is as given
    assert ndcg_at_k([0, 2], [1.0, 1.0], 1)[0] == 0.0
    assert ndcg_at_k([2, 0], [1.0, 1.0], 1)[0] == 1.0


@pytest.mark.parametrize("k", [1, 3, 5, 10, 20])
def test_ndcg_matches_sklearn_with_exponential_gain(k):
    from sklearn.metrics import ndcg_score

    data, scores = _random_data(1, with_empty=False)
    ours = ndcg_at_k(data.labels, scores, k, query_offsets=data.query_offsets)
    for q in range(data.n_queries):
        lo, hi = data.query_offsets[q], data.query_offsets[q + 1]
        gains = 2.0 ** data.labels[lo:hi] - 1.0  # sklearn's gain is the label itself
        expected = ndcg_score([gains], [scores[lo:hi]], k=k)
        assert ours[q] == pytest.approx(expected, abs=1e-12)


def test_no_relevant_conventions():
    data, scores = _random_data(2)
    one = evaluate_rankings(data, scores, no_relevant="one")
    zero = evaluate_rankings(data, scores, no_relevant="zero")
    skip = evaluate_rankings(data, scores, no_relevant="skip")
    assert one.n_no_relevant == 2
    assert one.per_query["ndcg@10"][0] == 1.0 and zero.per_query["ndcg@10"][0] == 0.0
    assert np.isnan(skip.per_query["ndcg@10"][0])
    rest = one.per_query["ndcg@10"][2:]
    assert skip.mean["ndcg@10"] == pytest.approx(rest.mean())
    assert one.mean["ndcg@10"] == pytest.approx((rest.sum() + 2) / data.n_queries)
    with pytest.raises(InputError):
        evaluate_rankings(data, scores, no_relevant="maybe")


def _lightgbm_eval(data, metric, eval_at):
    """Train a tiny LightGBM ranker; return its own metric values and its predictions."""
    import lightgbm as lgb

    group = np.diff(data.query_offsets)
    train = lgb.Dataset(data.features, label=data.labels, group=group)
    recorded: dict = {}
    booster = lgb.train(
        {
            "objective": "lambdarank",
            "metric": metric,
            "eval_at": eval_at,
            "verbosity": -1,
            "num_threads": 1,
            "min_data_in_leaf": 5,
        },
        train,
        num_boost_round=3,
        valid_sets=[lgb.Dataset(data.features, label=data.labels, group=group, reference=train)],
        callbacks=[lgb.record_evaluation(recorded)],
    )
    values = {name: history[-1] for name, history in recorded["valid_0"].items()}
    return values, booster.predict(data.features)


def test_ndcg_matches_lightgbm_including_queries_without_relevant_documents():
    data, _ = _random_data(3)
    values, preds = _lightgbm_eval(data, "ndcg", [1, 3, 5, 10])
    ev = evaluate_rankings(data, preds)  # default convention: LightGBM's
    for k in (1, 3, 5, 10):
        assert ev.mean[f"ndcg@{k}"] == pytest.approx(values[f"ndcg@{k}"], abs=1e-9)


def test_map_matches_lightgbm():
    data, _ = _random_data(4, with_empty=False)
    values, preds = _lightgbm_eval(data, "map", [1000])
    ev = evaluate_rankings(data, preds, metrics=("map",))
    assert ev.mean["map"] == pytest.approx(values["map@1000"], abs=1e-9)


def test_mrr_precision_and_err_by_hand():
    data = RankingData.from_arrays(np.zeros((4, 1)), [0, 2, 0, 1], [7, 7, 7, 7])
    scores = np.array([4.0, 3.0, 2.0, 1.0])  # ranking order = input order
    ev = evaluate_rankings(data, scores, metrics=("mrr", "p@2", "map", "err"), max_grade=2)
    assert ev.mean["mrr"] == pytest.approx(0.5)
    assert ev.mean["p@2"] == pytest.approx(0.5)
    assert ev.mean["map"] == pytest.approx((1 / 2 + 2 / 4) / 2)
    r2, r1 = 3 / 4, 1 / 4  # (2^g - 1) / 2^max_grade
    assert ev.mean["err"] == pytest.approx(r2 / 2 + (1 - r2) * r1 / 4)
    assert list(ev.query_ids) == [7]


def test_bad_inputs_raise_input_errors():
    data, scores = _random_data(5)
    with pytest.raises(InputError, match="scores for"):
        evaluate_rankings(data, scores[:-1])
    with pytest.raises(InputError, match="NaN"):
        evaluate_rankings(data, np.full_like(scores, np.nan))
    with pytest.raises(InputError, match="unknown metric"):
        evaluate_rankings(data, scores, metrics=("auc",))
