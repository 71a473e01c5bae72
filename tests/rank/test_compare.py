"""Run files and their paired comparison (the test itself lives in searchlab.ab)."""

from __future__ import annotations

import numpy as np
import pytest

from searchlab.ab import paired_permutation_test
from searchlab.errors import InputError
from searchlab.rank.compare import compare_runs, read_run, write_run
from searchlab.rank.data import RankingData
from searchlab.rank.metrics import evaluate_rankings


def _run(tmp_path, name, scores, qids=None):
    rng = np.random.default_rng(0)
    qids = np.repeat(np.arange(12), 5) if qids is None else qids
    data = RankingData.from_arrays(rng.normal(size=(60, 2)), rng.integers(0, 3, 60), qids)
    write_run(tmp_path / name, evaluate_rankings(data, scores))
    return read_run(tmp_path / name)


def test_compare_aligns_queries_and_uses_the_paired_test(tmp_path):
    rng = np.random.default_rng(1)
    a = _run(tmp_path, "a.json", rng.normal(size=60))
    b = _run(tmp_path, "b.json", rng.normal(size=60))
    res = compare_runs(a, b)
    expected = paired_permutation_test(a.metrics["ndcg@10"], b.metrics["ndcg@10"])
    assert res.method == "exact-sign-flip"  # 12 queries: exact
    assert res.pvalue == pytest.approx(expected.pvalue)
    assert res.mean_difference == pytest.approx(expected.mean_difference)
    assert res.wins + res.losses + res.ties == 12
    # the same run with its queries listed in another order compares identically
    order = np.arange(12)[::-1]
    shuffled = type(b)(
        tuple(b.query_ids[i] for i in order), {k: v[order] for k, v in b.metrics.items()}
    )
    assert compare_runs(a, shuffled).pvalue == pytest.approx(res.pvalue)


def test_compare_refuses_different_queries_and_unknown_metric(tmp_path):
    a = _run(tmp_path, "a.json", np.arange(60.0))
    b = _run(tmp_path, "b.json", np.arange(60.0), qids=np.repeat(np.arange(100, 112), 5))
    with pytest.raises(InputError, match="different queries"):
        compare_runs(a, b)
    with pytest.raises(InputError, match="no metric"):
        compare_runs(a, a, metric="ndcg@7")


def test_run_comparison_is_a_paired_permutation_result(tmp_path):
    from searchlab.ab import PairedPermutationResult

    rng = np.random.default_rng(3)
    a = _run(tmp_path, "a.json", rng.normal(size=60))
    b = _run(tmp_path, "b.json", rng.normal(size=60))
    res = compare_runs(a, b, alternative="larger")
    assert isinstance(res, PairedPermutationResult)
    assert res.estimate == res.mean_difference and res.n == res.n_queries == 12
    assert res.interval.alternative == "larger" and res.interval.high == np.inf
    out = res.to_dict()
    assert out["mean_difference"] == pytest.approx(res.mean_a - res.mean_b)
    assert out["interval"]["high"] is None and out["metric"] == "ndcg@10"
