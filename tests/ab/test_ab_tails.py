"""The one "at least as extreme" convention (``_tails``), its jitted twin, and the result family."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from searchlab.ab import (
    ConfidenceInterval,
    PairedPermutationResult,
    TestResult,
    binary_test,
    continuous_test,
    paired_permutation_test,
)
from searchlab.ab._tails import INT64_MAX, INT64_MIN, ExtremeRegion, extreme_region

ALTERNATIVES = ["larger", "smaller", "two-sided"]


@settings(max_examples=200, deadline=None)
@given(
    st.integers(-50, 50),
    st.sampled_from(ALTERNATIVES),
    st.integers(1, 12),
    st.integers(-300, 300),
)
def test_region_is_the_documented_convention(observed, alternative, scale, offset):
    """K is extreme iff its effect K*scale - offset is at least as extreme as observed's."""
    region = extreme_region(observed, alternative, scale=scale, offset=offset)
    ks = np.arange(-80, 81)
    effect = Fraction(observed * scale - offset)
    expected = []
    for k in ks:
        e = Fraction(int(k) * scale - offset)
        expected.append(
            {"larger": e >= effect, "smaller": e <= effect, "two-sided": abs(e) >= abs(effect)}[
                alternative
            ]
        )
    assert region.mask(ks).tolist() == expected
    assert [region.contains(int(k)) for k in ks] == expected
    if alternative == "two-sided" and effect == 0:
        assert region.covers_all


@settings(max_examples=100, deadline=None)
@given(
    st.one_of(st.none(), st.integers(-(1 << 62), 1 << 62)),
    st.one_of(st.none(), st.integers(-(1 << 62), 1 << 62)),
)
def test_jitted_twin_agrees_with_the_numpy_mask(low, high):
    from searchlab.ab._kernels import in_region

    region = ExtremeRegion(low, high)
    rng = np.random.default_rng(abs(hash((low, high))) % (1 << 32))
    ks = np.concatenate(
        [
            rng.integers(-(1 << 62), 1 << 62, 50),
            [k + d for k in (low, high) if k is not None for d in (-1, 0, 1)],
            [-(1 << 62), 1 << 62, 0],
        ]
    ).astype(np.int64)
    bounds = region.kernel_bounds()
    twin = [bool(in_region(np.int64(k), *bounds)) for k in ks]
    assert twin == region.mask(ks).tolist()


def test_absent_sides_are_bounds_no_statistic_reaches():
    assert ExtremeRegion(None, 5).kernel_bounds() == (INT64_MIN, 5)
    assert ExtremeRegion(-5, None).kernel_bounds() == (-5, INT64_MAX)
    huge = ExtremeRegion(-(1 << 70), 1 << 70)  # Python-int bounds beyond int64 are clipped
    assert huge.kernel_bounds() == (INT64_MIN, INT64_MAX)
    assert not huge.mask(np.array([-(1 << 62), 0, 1 << 62])).any()


def test_binary_continuous_and_paired_agree_on_the_same_question():
    """One 0/1 experiment asked three ways gives one answer: the exact binary test, the
    continuous engine on the same users, and (for paired ±1 data) the sign-flip test."""
    control, variant = [0] * 7 + [1] * 3, [0] * 4 + [1] * 6
    for alternative in ALTERNATIVES:
        exact = binary_test(control, variant, alternative=alternative)
        cont = continuous_test(
            np.array(control, float), np.array(variant, float), alternative=alternative,
            resamples=200_000, bootstrap_resamples=50, seed=1,
        )  # fmt: skip
        p_exact = exact.test("exact-permutation").pvalue
        perm = cont.test("monte-carlo-permutation")
        assert abs(perm.pvalue - p_exact) <= 4 * perm.standard_error
    d = np.array([1, 1, 1, -1, 1, 1, 0, 1], dtype=float)
    for alternative in ALTERNATIVES:
        res = paired_permutation_test(d, np.zeros_like(d), alternative=alternative)
        sums = np.array([np.dot(s, d) for s in np.ndindex(*(2,) * d.size)]) * 2 - d.sum()
        # sums of kept parts, mapped to signed sums: every sign vector once
        region = {"larger": sums >= d.sum(), "smaller": sums <= d.sum(),
                  "two-sided": np.abs(sums) >= abs(d.sum())}[alternative]  # fmt: skip
        assert res.pvalue == region.mean()


# --- the result family ----------------------------------------------------------------------


def test_every_result_is_a_test_result_with_an_interval_that_follows_the_alternative():
    rng = np.random.default_rng(2)
    a, b = rng.random(30), rng.random(30) - 0.1
    for alternative in ALTERNATIVES:
        paired = paired_permutation_test(a, b, alternative=alternative, confidence_level=0.9)
        assert isinstance(paired, PairedPermutationResult) and isinstance(paired, TestResult)
        assert paired.estimate == paired.mean_difference == pytest.approx(np.mean(a - b))
        expected = stats.ttest_1samp(
            a - b,
            0.0,
            alternative={"larger": "greater", "smaller": "less"}.get(alternative, "two-sided"),
        ).confidence_interval(0.9)
        ci = paired.confidence_interval()
        assert (ci.low, ci.high) == pytest.approx((expected.low, expected.high))
        assert ci.alternative == alternative and ci.level == 0.9
        out = paired.to_dict()
        assert out["mean_difference"] == out["estimate"]
        assert out["interval"]["alternative"] == alternative
        if alternative == "larger":
            assert out["interval"]["high"] is None and ci.high == math.inf
        json.dumps(out, allow_nan=False)

        binary = binary_test("30/100", "42/100", alternative=alternative)
        for test in binary.tests:
            assert isinstance(test, TestResult)
            assert test.estimate == pytest.approx(0.12)
            assert isinstance(test.interval, ConfidenceInterval)
            assert test.interval.alternative == alternative


def test_a_test_without_an_interval_says_so():
    from searchlab.errors import InputError

    perm = continuous_test([0.0, 1.0, 2.0], [1.0, 2.0, 3.0], resamples=100).test(
        "monte-carlo-permutation"
    )
    assert perm.interval is None and perm.ci_low is None
    with pytest.raises(InputError, match="no confidence interval"):
        perm.confidence_interval()
