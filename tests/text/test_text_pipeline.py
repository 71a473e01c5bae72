"""Cross-validated BM25 vs ListNet on Cranfield with a reduced (fast) configuration."""

from __future__ import annotations

import numpy as np
import pytest

import searchlab.rank.train as rank_train
from searchlab.errors import InputError
from searchlab.text.corpus import Corpus, import_smart
from searchlab.text.embeddings import Word2VecConfig
from searchlab.text.features import FeatureConfig
from searchlab.text.pipeline import _fold_assignment, evaluate_text_ranking
from searchlab.text.rerank import default_train_config

FAST = FeatureConfig(word2vec=Word2VecConfig(dim=8, epochs=1, negative=2))


@pytest.fixture(scope="module")
def cranfield(shared_data) -> Corpus:
    folder = shared_data / "cranfield"
    return import_smart(folder / "cran.all.1400", folder / "cran.qry", folder / "cranqrel")


def test_folds_partition_the_queries_and_depend_on_the_seed():
    folds = _fold_assignment(225, 5, seed=3)
    assert sorted(np.bincount(folds).tolist()) == [45] * 5
    assert np.array_equal(folds, _fold_assignment(225, 5, seed=3))
    assert not np.array_equal(folds, _fold_assignment(225, 5, seed=4))


def test_cranfield_cross_validation_never_scores_a_training_query(cranfield, monkeypatch):
    trained_on: list[set[str]] = []
    real_train = rank_train.train_ranker

    def recording_train(data, config=None, **kwargs):
        trained_on.append(set(data.query_keys.tolist()))
        return real_train(data, config, **kwargs)

    monkeypatch.setattr(rank_train, "train_ranker", recording_train)
    ev = evaluate_text_ranking(
        cranfield,
        folds=5,
        seed=0,
        feature_config=FAST,
        train_config=default_train_config(0, epochs=2),
    )
    query_ids = [q.query_id for q in cranfield.judged_queries()]
    folds = _fold_assignment(len(query_ids), 5, seed=0)
    assert len(trained_on) == 5
    for f, train_set in enumerate(trained_on):
        held_out = {q for q, fo in zip(query_ids, folds, strict=True) if fo == f}
        assert len(held_out) == 45
        assert train_set == set(query_ids) - held_out

    # BM25 (bm25s lucene, k1 1.5, b 0.75, stemmed, stopwords removed, title + text) on all
    # 225 queries with gains 5 - code: the stemmed reference point of the issue (~0.361)
    assert ev.metrics["bm25"]["ndcg@10"] == pytest.approx(0.3627, abs=5e-4)
    assert ev.metrics["bm25"]["map"] == pytest.approx(0.3101, abs=5e-4)
    assert ev.metrics["bm25"]["p@10"] == pytest.approx(0.2356, abs=5e-4)
    assert set(ev.metrics["listnet"]) == {"ndcg@10", "map", "p@10"}
    assert 0 < ev.pvalue <= 1 and ev.pvalues["ndcg@10"] == ev.pvalue
    assert [f["queries"] for f in ev.per_fold] == [45] * 5
    assert np.mean([f["bm25"]["ndcg@10"] for f in ev.per_fold]) == pytest.approx(
        ev.metrics["bm25"]["ndcg@10"]
    )
    for ranker in ("bm25", "listnet"):
        assert set(ev.rankings[ranker]) == set(query_ids)
        assert all(len(r) == 100 for r in ev.rankings[ranker].values())
        assert set(ev.per_query[ranker]["ndcg@10"]) == set(query_ids)
    # the reranker reorders BM25's top 100 candidates, nothing else
    for qid in query_ids:
        assert sorted(ev.rankings["listnet"][qid]) == sorted(ev.rankings["bm25"][qid])
    assert ev.timings["total"] > 0


def test_too_few_judged_queries_for_the_folds(cranfield):
    small = Corpus(
        cranfield.documents,
        cranfield.queries[:3],
        {q.query_id: cranfield.judgments[q.query_id] for q in cranfield.queries[:3]},
    )
    with pytest.raises(InputError, match="cannot fill 5 folds"):
        evaluate_text_ranking(small, folds=5)
    with pytest.raises(InputError, match="at least 2 folds"):
        evaluate_text_ranking(small, folds=1)
