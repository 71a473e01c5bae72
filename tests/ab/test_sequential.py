"""Anytime-valid inference: the confidence sequence's formulas, its false-positive rate when an
A/A experiment is looked at every 500 users up to 50,000 (against the fixed-horizon test looked
at the same way), and the sequential sample-ratio check."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from searchlab._json import dumps
from searchlab.ab.inputs import Counts, Histogram
from searchlab.ab.sequential import (
    CS_METHOD,
    DEFAULT_TUNING_SIZE,
    binary_arm_moments,
    confidence_sequence,
    difference_cs,
    difference_variance,
    fixed_horizon_pvalue,
    mixture_rho,
    running,
    sequential_path,
    sequential_srm,
    sequential_test,
    srm_pvalues,
)
from searchlab.errors import InputError

ALPHA = 0.05
LOOK_EVERY, HORIZON = 500, 50_000
LOOKS = HORIZON // LOOK_EVERY


def bounds(rejections: int, runs: int) -> tuple[float, float]:
    """99% Clopper-Pearson interval of a rejection rate: the test cannot pass by luck."""
    ci = stats.binomtest(rejections, runs).proportion_ci(confidence_level=0.99, method="exact")
    return ci.low, ci.high


def halfwidth(rho: float, n: float, alpha: float = ALPHA) -> float:
    """The two-sided boundary of Waudby-Smith et al. (eq. 9), unit variance."""
    return math.sqrt(
        2 * (n * rho**2 + 1) / (n * n * rho**2) * math.log(math.sqrt(n * rho**2 + 1) / alpha)
    )


def test_rho_makes_the_sequence_tightest_at_the_tuning_size():
    rho = mixture_rho(ALPHA, 5_000)
    grid = np.linspace(0.2 * rho, 5 * rho, 4001)
    best = min(halfwidth(r, 5_000) for r in grid)
    assert halfwidth(rho, 5_000) <= best * 1.001
    assert halfwidth(rho, 5_000) < halfwidth(rho * 3, 5_000)  # tuned elsewhere: wider here
    assert rho == pytest.approx(
        math.sqrt((-2 * math.log(0.05) + math.log(1 - 2 * math.log(0.05))) / 5_000)
    )


def test_interval_matches_the_published_boundary():
    low, high, _ = confidence_sequence(0.3, 4.0, 10_000, alpha=ALPHA)
    h = 2.0 * halfwidth(mixture_rho(ALPHA), 10_000)
    assert (float(low), float(high)) == pytest.approx((0.3 - h, 0.3 + h))
    # wider than the fixed-horizon interval at every n, and shrinking like sqrt(log n / n)
    for n in (100, 5_000, 1_000_000):
        assert halfwidth(mixture_rho(ALPHA), n) > stats.norm.ppf(0.975) / math.sqrt(n)


@pytest.mark.parametrize("alternative", ["two-sided", "larger", "smaller"])
def test_pvalue_below_alpha_exactly_when_the_sequence_excludes_the_null(alternative):
    rng = np.random.default_rng(1)
    est = rng.normal(0, 0.05, 2000)
    var = rng.uniform(0.1, 2.0, 2000)
    n = rng.integers(50, 100_000, 2000)
    low, high, p = confidence_sequence(est, var, n, alpha=ALPHA, alternative=alternative)
    excludes = (low > 0) | (high < 0)
    assert np.array_equal(p < ALPHA, excludes)
    assert 0.05 < excludes.mean() < 0.95  # both cases occur


def test_one_sided_pvalue_is_the_inverted_boundary():
    """The closed form equals the smallest alpha whose one-sided bound excludes 0 (found by
    bisection, as GrowthBook does), with rho fixed from the design alpha."""
    est, var, n = 0.02, 0.25, 20_000
    rho = mixture_rho(ALPHA, alternative="larger")
    p = float(confidence_sequence(est, var, n, alpha=ALPHA, alternative="larger")[2])

    def lower(a: float) -> float:
        h = math.sqrt(
            var
            * 2
            * (n * rho**2 + 1)
            / (n * rho) ** 2
            * math.log(1 + math.sqrt(n * rho**2 + 1) / (2 * a))
        )
        return est - h

    lo, hi = 1e-12, 0.5
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if lower(mid) > 0 else (mid, hi)
    assert p == pytest.approx(hi, rel=1e-6)


def test_zero_variance_and_bad_settings():
    low, high, p = confidence_sequence([0.0, 0.1], [0.0, 0.0], [10, 10])
    # no variation yet: no evidence, whatever the estimate
    assert (
        p.tolist() == [1.0, 1.0] and low.tolist() == [-np.inf] * 2 and high.tolist() == [np.inf] * 2
    )
    with pytest.raises(InputError, match="N\\*"):
        mixture_rho(0.05, 0)
    with pytest.raises(InputError, match=r"alpha < 0\.5"):
        mixture_rho(0.6, alternative="larger")
    with pytest.raises(InputError, match="at least one unit"):
        confidence_sequence(0.0, 1.0, 0)


def simulate_binary_aa(runs: int, rate: float, seed: int):
    """Cumulative arm counts of A/A experiments at each look: per block of 500 users, the
    variant's size is Binomial(500, 1/2) and each arm's converters Binomial(size, rate) — the
    exact law of 500 more users."""
    rng = np.random.default_rng(seed)
    n_v = rng.binomial(LOOK_EVERY, 0.5, (runs, LOOKS))
    n_c = LOOK_EVERY - n_v
    c_v, c_c = rng.binomial(n_v, rate), rng.binomial(n_c, rate)
    return (np.cumsum(a, axis=1) for a in (n_c, c_c, n_v, c_v))


def test_binary_aa_looked_at_every_500_users_keeps_alpha():
    runs = 2_000
    n_c, c_c, n_v, c_v = simulate_binary_aa(runs, 0.05, seed=7)
    mean_c, var_c = binary_arm_moments(c_c, n_c)
    mean_v, var_v = binary_arm_moments(c_v, n_v)
    estimate, _, _, p = difference_cs(n_c, mean_c, var_c, n_v, mean_v, var_v, alpha=ALPHA)
    sequential = int((running(p, p, p)[2][:, -1] < ALPHA).sum())
    n, variance = difference_variance(n_c, var_c, n_v, var_v)
    peeking = int((fixed_horizon_pvalue(estimate, variance, n) < ALPHA).any(axis=1).sum())
    assert bounds(sequential, runs)[1] <= ALPHA, sequential
    assert bounds(peeking, runs)[0] >= 3 * ALPHA, peeking  # peeking: far above alpha


def looked_variance(values: np.ndarray, arm: np.ndarray, looks: np.ndarray) -> np.ndarray:
    """n (s_c²/n_c + s_v²/n_v) at each look, from running sums."""
    out = 0.0
    for mask in (~arm, arm):
        n = np.cumsum(mask)[looks - 1]
        total = np.cumsum(np.where(mask, values, 0.0))[looks - 1]
        squares = np.cumsum(np.where(mask, values**2, 0.0))[looks - 1]
        out = out + (squares - total**2 / n) / (n - 1) / n
    return looks * out


def test_continuous_aa_per_user_keeps_alpha():
    """Skewed spend (90% zeros, lognormal otherwise), drawn user by user, through the public
    path function."""
    runs, rng = 400, np.random.default_rng(11)
    sequential = peeking = 0
    for _ in range(runs):
        spend = np.where(rng.random(HORIZON) < 0.1, rng.lognormal(3.0, 1.0, HORIZON), 0.0)
        arm = rng.random(HORIZON) < 0.5
        path = sequential_path(spend, arm, look_every=LOOK_EVERY, metric_type="continuous")
        assert path.users.size == LOOKS
        sequential += bool(path.pvalue[-1] < ALPHA)
        variance = looked_variance(spend, arm, path.users)
        peeking += bool((fixed_horizon_pvalue(path.estimate, variance, path.users) < ALPHA).any())
    assert bounds(sequential, runs)[1] <= ALPHA, sequential
    assert bounds(peeking, runs)[0] >= 2 * ALPHA, peeking


def test_a_real_effect_is_found():
    rng = np.random.default_rng(5)
    arm = rng.random(HORIZON) < 0.5
    converted = rng.random(HORIZON) < np.where(arm, 0.12, 0.10)
    path = sequential_path(converted, arm, look_every=LOOK_EVERY)
    assert path.pvalue[-1] < 1e-6 and path.ci_low[-1] > 0
    # the sequence only narrows, the p-value only falls
    assert np.all(np.diff(path.ci_low) >= 0) and np.all(np.diff(path.ci_high) <= 0)
    assert np.all(np.diff(path.pvalue) <= 0)
    final = sequential_test(converted[~arm], converted[arm]).metrics[0]
    assert final.difference == pytest.approx(path.estimate[-1])
    assert final.significant


def test_result_has_the_shape_of_ab_test_json():
    result = sequential_test(Counts(500, 5_000), Counts(600, 5_000), name="converted")
    data = json.loads(dumps(result.to_dict()))
    metric = data["metrics"][0]
    assert metric["name"] == "converted" and metric["type"] == "binary"
    assert metric["tests"][0]["method"] == CS_METHOD and 0 <= metric["tests"][0]["pvalue"] <= 1
    assert f"N* = {DEFAULT_TUNING_SIZE:,}" in metric["tests"][0]["note"]
    assert isinstance(metric["significant"], bool) and metric["decisive_method"] == CS_METHOD
    assert data["srm"]["method"] == "dirichlet-multinomial"
    # counts and per-user values agree
    values = sequential_test(
        np.r_[np.ones(500), np.zeros(4_500)], np.r_[np.ones(600), np.zeros(4_400)]
    )
    assert values.metrics[0].tests[0].pvalue == pytest.approx(result.metrics[0].tests[0].pvalue)
    continuous = sequential_test(np.arange(10.0), np.arange(10.0) + 0.5)
    assert continuous.metrics[0].type == "continuous"
    # histograms give the same answers as the per-user values they summarise
    spend_c, spend_v = (
        np.array([0.0] * 50 + [5.0] * 30 + [20.0] * 3),
        np.array([0.0] * 40 + [5.0] * 45),
    )
    as_hist = [Histogram(*np.unique(x, return_counts=True)) for x in (spend_c, spend_v)]
    assert sequential_test(*as_hist).to_dict() == sequential_test(spend_c, spend_v).to_dict()
    binary_hist = Histogram(np.array([0.0, 1.0]), np.array([4_500, 500]))
    assert sequential_test(binary_hist, Counts(600, 5_000)).to_dict() == result.to_dict() | {
        "metrics": [dict(result.to_dict()["metrics"][0], name="metric")]
    }
    with pytest.raises(InputError, match="at least two"):
        sequential_test([1.0], [2.0, 3.0])
    with pytest.raises(InputError, match="binary"):
        sequential_test("5/10", "6/10", metric_type="continuous")


def test_srm_aa_keeps_alpha_and_detects_a_broken_split():
    runs = 2_000
    rng = np.random.default_rng(3)
    variant = np.cumsum(rng.binomial(LOOK_EVERY, 0.5, (runs, LOOKS)), axis=1)
    counts = np.stack([np.arange(1, LOOKS + 1) * LOOK_EVERY - variant, variant], axis=-1)
    _, p = srm_pvalues(counts, [0.5, 0.5])
    assert bounds(int((p[:, -1] < ALPHA).sum()), runs)[1] <= ALPHA
    chi2 = stats.chisquare(counts, axis=-1).pvalue  # fixed-horizon check, looked at each time
    assert bounds(int((chi2 < ALPHA).any(axis=1).sum()), runs)[0] >= 3 * ALPHA
    # a 48.5/51.5 split is caught within 50,000 users nearly always
    broken = np.cumsum(rng.binomial(LOOK_EVERY, 0.515, (200, LOOKS)), axis=1)
    counts = np.stack([np.arange(1, LOOKS + 1) * LOOK_EVERY - broken, broken], axis=-1)
    _, p = srm_pvalues(counts, [0.5, 0.5])
    assert (p[:, -1] < ALPHA).mean() > 0.9


def test_sequential_srm_check():
    healthy = sequential_srm([25_100, 24_900])
    assert not healthy.mismatch and "fit the planned 50/50" in healthy.message
    broken = sequential_srm([26_000, 24_000])
    assert broken.mismatch and broken.message.startswith("SAMPLE RATIO MISMATCH")
    per_look = sequential_srm([[400, 600], [5_000, 5_200], [10_000, 10_100]])
    assert per_look.looks == 3 and per_look.counts == (10_000, 10_100)
    # the running minimum remembers the lopsided first look
    assert per_look.pvalue <= sequential_srm([400, 600]).pvalue
    three = sequential_srm([100, 210, 95], [0.25, 0.5, 0.25])
    assert len(three.observed_shares) == 3
    for bad, match in (
        ([5], "at least two arms"),
        ([-1, 3], "non-negative"),
        ([[5, 5], [4, 6]], "cumulative"),
        ([0, 0], "no users"),
    ):
        with pytest.raises(InputError, match=match):
            sequential_srm(bad)
    with pytest.raises(InputError, match="sum"):
        sequential_srm([5, 5], [0.3, 0.3])


def test_no_variation_yet_is_no_evidence():
    # two users per arm, all 0 against all 1: the sample variance is 0, and an asymptotic
    # sequence would shrink to a point and call the difference certain
    from searchlab.ab.interleave import share_sequence
    from searchlab.ab.sequential import sequential_test

    result = sequential_test((0, 2), (2, 2))
    test = result.metrics[0].tests[0]
    assert test.pvalue == 1.0 and result.metrics[0].significant is False
    assert test.interval.low == -np.inf and test.interval.high == np.inf
    low, high, p = share_sequence(2, 2)
    assert p == 1.0 and (low, high) == (0.0, 1.0)
    # as soon as the data vary, the sequence is informative again
    varied = sequential_test((200, 2000), (400, 2000)).metrics[0].tests[0]
    assert varied.pvalue < 1e-6 and np.isfinite(varied.interval.low)
