"""Interleaving analysis from a per-query table: credit → per-user preference → exact sign
test, bootstrap interval, confidence sequence, per-query and per-topic counts; bad tables."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from searchlab._json import dumps
from searchlab.ab.interleave import interleaving_test, query_credit
from searchlab.errors import InputError


def table() -> pd.DataFrame:
    # users 1-3 prefer the variant, 4 the control, 5 is tied (one win, one loss), 6 no clicks
    rows = [
        (1, "q1", 1),
        (1, "q2", 1),
        (2, "q1", 1),
        (3, "q3", 1),
        (3, "q2", 0),
        (4, "q1", -1),
        (5, "q2", 1),
        (5, "q3", -1),
        (6, "q1", 0),
    ]
    return pd.DataFrame(rows, columns=["user_id", "topic", "credit"])


def test_counts_pvalue_and_per_topic_by_hand():
    result = interleaving_test(table())
    m = result.preference
    assert (m.variant.users, m.control.users, m.ties.users, m.users) == (3, 1, 2, 6)
    assert (m.variant.queries, m.control.queries, m.ties.queries, m.queries) == (5, 2, 2, 9)
    assert m.preference_share == 0.75 and m.difference == 0.25
    sign = m.test("sign-test")
    assert sign.pvalue == pytest.approx(stats.binomtest(3, 4).pvalue) == 0.625
    assert not m.significant and "not below alpha" in m.verdict
    topics = {
        t.topic: (t.queries, t.variant_wins, t.control_wins, t.ties) for t in result.per_topic
    }
    assert topics == {"q1": (4, 2, 1, 1), "q2": (3, 2, 0, 1), "q3": (2, 1, 1, 0)}


def test_click_columns_give_the_same_credit():
    credit = table()["credit"]
    clicks = (
        table()
        .drop(columns="credit")
        .assign(
            variant_clicks=np.where(credit > 0, 2, 0), control_clicks=np.where(credit < 0, 1, 0)
        )
    )
    by_clicks = interleaving_test(clicks)
    assert by_clicks.credit_source == "clicks"
    assert by_clicks.to_dict()["metrics"] == interleaving_test(table()).to_dict()["metrics"]


def test_fractional_credit_sums_per_user():
    frame = pd.DataFrame({"user_id": [1, 1, 2, 2], "credit": [0.8, -0.3, -0.2, 0.1]})
    m = interleaving_test(frame).preference
    assert (m.variant.users, m.control.users, m.ties.users) == (1, 1, 0)


def test_json_has_the_shape_of_ab_test():
    data = json.loads(dumps(interleaving_test(table(), sequential=True).to_dict()))
    assert data["experiment_type"] == "interleave"
    metric = data["metrics"][0]
    assert [t["method"] for t in metric["tests"]] == ["sign-test", "bootstrap", "asymptotic-cs"]
    assert all("pvalue" in t for t in metric["tests"]) and metric["tests"][1]["pvalue"] is None
    assert isinstance(metric["significant"], bool) and metric["decisive_method"] == "sign-test"
    assert data["per_query"] == {
        "queries": 9,
        "variant_wins": 5,
        "control_wins": 2,
        "ties": 2,
        "variant_share": 5 / 7,
    }
    assert len(data["per_topic"]) == 3


def test_a_clear_preference_is_significant_everywhere():
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(2_000), 2)
    credit = rng.choice([-1, 0, 1], size=users.size, p=[0.2, 0.45, 0.35])
    result = interleaving_test(pd.DataFrame({"user_id": users, "credit": credit}), sequential=True)
    m = result.preference
    assert m.significant and "users prefer the variant" in m.verdict
    for test in m.tests:
        assert test.ci_low > 0.5  # every interval of the share excludes no preference
    assert m.test("asymptotic-cs").pvalue < 0.05
    # the bootstrap interval is close to the exact Clopper-Pearson one here
    boot, exact = m.test("bootstrap"), m.test("sign-test")
    assert boot.ci_low == pytest.approx(exact.ci_low, abs=0.01)
    assert boot.ci_high == pytest.approx(exact.ci_high, abs=0.01)
    one_sided = interleaving_test(
        pd.DataFrame({"user_id": users, "credit": credit}), alternative="larger"
    )
    assert one_sided.preference.test("sign-test").pvalue < m.test("sign-test").pvalue


def test_bootstrap_is_seeded():
    first = interleaving_test(table(), seed=3).preference.test("bootstrap")
    assert interleaving_test(table(), seed=3).preference.test("bootstrap") == first
    assert interleaving_test(table(), seed=4).preference.test("bootstrap") != first


def test_sign_test_pvalues_are_uniform_under_symmetric_credit():
    """Calibration of the test itself: symmetric per-query credit, 300 seeded experiments."""
    rng = np.random.default_rng(42)
    pvalues = []
    for _ in range(300):
        users = rng.integers(0, 800, 2_000)
        credit = rng.choice([-1, 0, 1], size=users.size, p=[0.3, 0.4, 0.3])
        frame = pd.DataFrame({"user_id": users, "credit": credit})
        pvalues.append(interleaving_test(frame, bootstrap_resamples=1).preference.tests[0].pvalue)
    assert stats.kstest(pvalues, "uniform").pvalue > 0.01


def test_all_tied_means_no_evidence():
    frame = pd.DataFrame({"user_id": [1, 2, 2], "credit": [0, 1, -1]})
    m = interleaving_test(frame, sequential=True).preference
    assert m.preference_share is None and m.test("sign-test").pvalue == 1.0
    assert not m.significant and "every user tied" in m.verdict


def test_reads_parquet_csv_and_polars(tmp_path):
    import polars as pl

    frame = table().assign(method="team-draft")
    frame.to_parquet(tmp_path / "q.parquet")
    frame.to_csv(tmp_path / "q.csv", index=False)
    expected = interleaving_test(frame).to_dict()
    assert expected["method"] == "team-draft"
    assert interleaving_test(tmp_path / "q.parquet").to_dict() == expected
    assert interleaving_test(str(tmp_path / "q.csv")).to_dict() == expected
    assert interleaving_test(pl.from_pandas(frame)).to_dict() == expected


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (
            pd.DataFrame({"user_id": [1], "arm": ["control"], "converted": [1]}),
            r"an 'arm' column.*`searchlab ab test --data FILE",
        ),
        (pd.DataFrame({"credit": [1]}), "no 'user_id' column"),
        (pd.DataFrame({"user_id": [1], "clicks": [3]}), "neither 'credit' nor 'variant_clicks'"),
        (pd.DataFrame({"user_id": [1], "credit": [2.0]}), r"credit lies in \[-1, 1\]"),
        (pd.DataFrame({"user_id": [1], "credit": [np.nan]}), "not a number"),
        (pd.DataFrame({"user_id": [1], "credit": ["won"]}), "not a number"),
        (pd.DataFrame({"user_id": [1], "variant_clicks": [-1], "control_clicks": [0]}), "whole"),
        (pd.DataFrame({"user_id": [], "credit": []}), "no rows"),
        (pd.DataFrame({"user_id": [None, 1], "credit": [1, 0]}), "missing ids"),
        (
            pd.DataFrame(
                {"user_id": [1, 2], "credit": [1, 0], "method": ["team-draft", "probabilistic"]}
            ),
            "mixes interleaving methods",
        ),
    ],
)
def test_bad_tables_are_refused(frame, match):
    with pytest.raises(InputError, match=match):
        interleaving_test(frame)


def test_bad_inputs_are_refused(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        interleaving_test(tmp_path / "missing.parquet")
    with pytest.raises(InputError, match="expected a table"):
        interleaving_test([1, 2, 3])
    with pytest.raises(InputError, match="alternative"):
        interleaving_test(table(), alternative="bigger")
    with pytest.raises(InputError, match="bootstrap resamples"):
        interleaving_test(table(), bootstrap_resamples=0)
    assert query_credit(table())[1] == "credit"


def test_ab_imports_neither_torch_nor_serve_nor_loop():
    import subprocess
    import sys

    code = (
        "import sys, searchlab.ab.interleave, searchlab.ab.sequential, searchlab.ab; "
        "bad = [m for m in ('torch', 'searchlab.serve', 'searchlab.loop') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_share_sequence_is_vectorised_and_matches_the_analysis():
    from searchlab.ab.interleave import share_sequence

    low, high, p = share_sequence([0, 700, 500], [1, 1_000, 1_000])
    assert np.isnan(low[0]) and p[0] == 1.0
    assert p[1] < 0.05 < p[2] and low[1] > 0.5 > low[2]
    users = np.arange(1_000)
    frame = pd.DataFrame({"user_id": users, "credit": np.where(users < 700, 1, -1)})
    test = interleaving_test(frame, sequential=True).preference.test("asymptotic-cs")
    assert (test.ci_low, test.ci_high, test.pvalue) == pytest.approx((low[1], high[1], p[1]))
