"""NDCG and friends against hand values, scikit-learn and LightGBM's own evaluation."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from searchlab.errors import InputError
from searchlab.rank.data import RankingData, read_ranking_file, write_ranking_file
from searchlab.rank.metrics import evaluate_rankings, ndcg_at_k

from .helpers import yahoo


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


def test_ties_break_by_doc_id_descending_like_trec_eval():
    # trec_eval sorts ties by strcmp(docno2, docno1): "d2" > "d10" > "d1" (byte order)
    data = RankingData.from_arrays(np.zeros((3, 1)), [2, 1, 0], [5, 5, 5], ["d1", "d10", "d2"])
    ev = evaluate_rankings(data, np.zeros(3), metrics=("mrr", "p@1", "ndcg@1"))
    assert ev.mean == {"mrr": 0.5, "p@1": 0.0, "ndcg@1": 0.0}  # ranked d2 (0), d10 (1), d1 (2)
    assert ev.ties == "id" and ev.n_tied_queries == 1
    # without doc ids the position in the file is the id, compared as a number: last row first
    assert ndcg_at_k([2, 0], [1.0, 1.0], 1)[0] == 0.0
    assert ndcg_at_k([0, 2], [1.0, 1.0], 1)[0] == 1.0
    # file order (LightGBM's stable sort) only when asked for
    assert ndcg_at_k([2, 0], [1.0, 1.0], 1, ties="input")[0] == 1.0
    # scores still decide first
    assert ndcg_at_k([2, 0], [1.0, 0.5], 1)[0] == 1.0


def test_constant_scorer_on_a_label_sorted_file_does_not_score_perfectly(tmp_path):
    """A file sorted best-first must not hand a constant scorer NDCG 1.0 through its order."""
    data = yahoo("train")
    order = np.concatenate(
        [
            lo + np.argsort(-data.labels[lo:hi], kind="stable")
            for lo, hi in zip(data.query_offsets[:-1], data.query_offsets[1:], strict=True)
        ]
    )
    path = tmp_path / "sorted.svm"
    write_ranking_file(path, RankingData.from_arrays(
        data.features[order], data.labels[order], data.query_ids[order]
    ))  # fmt: skip
    best_first = read_ranking_file(path)
    constant = np.zeros(best_first.n_rows)
    leak = evaluate_rankings(best_first, constant, ties="input").mean["ndcg@10"]
    default = evaluate_rankings(best_first, constant).mean["ndcg@10"]
    average = evaluate_rankings(best_first, constant, ties="average")
    assert leak == pytest.approx(1.0)  # file order: the leak the default avoids
    assert default < 0.7  # trec_eval's order ranks these rows worst-first
    assert default < average.mean["ndcg@10"] < 0.95
    # the tie average does not depend on the file order: shuffle every query's rows
    rng = np.random.default_rng(0)
    shuffled = best_first.subset_queries(range(best_first.n_queries))
    rows = np.concatenate(
        [
            lo + rng.permutation(hi - lo)
            for lo, hi in zip(shuffled.query_offsets[:-1], shuffled.query_offsets[1:], strict=True)
        ]
    )
    again = RankingData.from_arrays(
        shuffled.features[rows], shuffled.labels[rows], shuffled.query_ids[rows]
    )
    other = evaluate_rankings(again, constant, ties="average")
    for name, value in average.mean.items():
        assert other.mean[name] == pytest.approx(value, abs=1e-12)


def _all_orders_mean(labels, scores, metrics, **kwargs):
    """Brute force: every order of the documents that the scores allow, each scored alone."""
    n = len(labels)
    totals, count = dict.fromkeys(metrics, 0.0), 0
    for perm in itertools.permutations(range(n)):
        if np.any(np.diff(scores[list(perm)]) > 0):
            continue  # not a ranking by these scores
        data = RankingData.from_arrays(np.zeros((n, 1)), labels[list(perm)], np.zeros(n))
        ev = evaluate_rankings(data, -np.arange(n, dtype=float), metrics=metrics, **kwargs)
        for name in metrics:
            totals[name] += ev.mean[name]
        count += 1
    return {name: total / count for name, total in totals.items()}


@pytest.mark.parametrize("seed", range(6))
def test_tie_average_is_the_exact_mean_over_tied_orders(seed):
    rng = np.random.default_rng(seed)
    metrics = ("ndcg@3", "ndcg@10", "map", "map@3", "mrr", "mrr@2", "p@3", "err", "err@3")
    for _ in range(8):
        n = int(rng.integers(2, 7))
        labels = rng.integers(0, 5, n).astype(float)
        scores = rng.integers(0, 3, n).astype(float)  # many ties
        data = RankingData.from_arrays(np.zeros((n, 1)), labels, np.zeros(n))
        got = evaluate_rankings(data, scores, metrics=metrics, ties="average").mean
        want = _all_orders_mean(labels, scores, metrics)
        for name in metrics:
            assert got[name] == pytest.approx(want[name], abs=1e-12), name


def test_without_ties_every_tie_convention_agrees():
    data, scores = _random_data(6)
    by = {ties: evaluate_rankings(data, scores, ties=ties) for ties in ("id", "average", "input")}
    assert by["id"].n_tied_queries == 0
    for name, value in by["id"].mean.items():
        assert by["average"].mean[name] == pytest.approx(value, abs=1e-12)
        assert by["input"].mean[name] == value


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


@pytest.mark.parametrize("metric", ["ndcg@10", "map", "mrr", "p@10", "err", "err@3", "p@1"])
def test_every_metric_follows_the_no_relevant_convention(metric):
    data, scores = _random_data(2)  # queries 0 and 1 have no relevant document
    for convention, want in (("one", 1.0), ("zero", 0.0)):
        ev = evaluate_rankings(data, scores, metrics=(metric,), no_relevant=convention)
        assert list(ev.per_query[metric][:2]) == [want, want]
    skip = evaluate_rankings(data, scores, metrics=(metric,), no_relevant="skip")
    assert np.isnan(skip.per_query[metric][:2]).all()
    assert not np.isnan(skip.per_query[metric][2:]).any()
    assert skip.mean[metric] == pytest.approx(skip.per_query[metric][2:].mean())


def test_err_top_grade_belongs_to_the_data_set_not_the_slice():
    data, scores = _random_data(7, with_empty=False)
    low = [
        q
        for q in range(data.n_queries)
        if data.labels[data.query_offsets[q] : data.query_offsets[q + 1]].max() <= 2
    ]
    assert low, "the random data needs a query whose top label is at most 2"
    whole = evaluate_rankings(data, scores, metrics=("err",))
    sub = data.subset_queries(low)
    rows = np.concatenate(
        [np.arange(data.query_offsets[q], data.query_offsets[q + 1]) for q in low]
    )
    alone = evaluate_rankings(sub, scores[rows], metrics=("err",))
    # the same query scores the same ERR in any slice: the top grade (4) is the data set's
    np.testing.assert_allclose(alone.per_query["err"], whole.per_query["err"][low], rtol=1e-12)
    assert alone.max_grade == whole.max_grade == 4.0
    explicit = evaluate_rankings(sub, scores[rows], metrics=("err",), max_grade=4)
    assert explicit.mean == alone.mean
    with pytest.raises(InputError, match="above ERR's top grade 3"):
        evaluate_rankings(data, scores, metrics=("err",), max_grade=3)
    # other metrics never look at it
    evaluate_rankings(data, scores, metrics=("ndcg@10",), max_grade=3)


def test_mrr_at_k_cuts_the_list():
    data = RankingData.from_arrays(np.zeros((3, 1)), [0, 0, 1], [1, 1, 1])
    ev = evaluate_rankings(data, np.array([3.0, 2.0, 1.0]), metrics=("mrr", "mrr@2", "mrr@3"))
    assert ev.mean == {"mrr": pytest.approx(1 / 3), "mrr@2": 0.0, "mrr@3": pytest.approx(1 / 3)}


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
    ev = evaluate_rankings(data, preds, ties="input")  # LightGBM's conventions
    for k in (1, 3, 5, 10):
        assert ev.mean[f"ndcg@{k}"] == pytest.approx(values[f"ndcg@{k}"], abs=1e-9)


def test_map_matches_lightgbm():
    data, _ = _random_data(4, with_empty=False)
    values, preds = _lightgbm_eval(data, "map", [1000])
    ev = evaluate_rankings(data, preds, metrics=("map",), ties="input")  # stable, as LightGBM
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
    with pytest.raises(InputError, match="ties must be one of"):
        evaluate_rankings(data, scores, ties="random")
