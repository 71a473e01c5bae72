"""Loss values and gradients against hand computation; padding must change nothing."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from searchlab.rank.losses import (
    LOSSES,
    approxndcg_loss,
    lambdaloss,
    listmle_loss,
    listnet_kl_loss,
    listnet_loss,
)

# The three-document example: scores and grades, one query.
SCORES = [1.624, -0.612, -0.528]
GRADES = [3.0, 1.0, 0.0]


def _softmax(values) -> np.ndarray:
    e = np.exp(np.asarray(values, dtype=np.float64))
    return e / e.sum()


def _one(scores=SCORES, grades=GRADES, pad: int = 0, pad_score: float = 0.0):
    s = torch.tensor([[*scores, *([pad_score] * pad)]], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([[*grades, *([-1.0] * pad)]], dtype=torch.float64)
    m = torch.tensor([[True] * len(scores) + [False] * pad])
    return s, y, m


def test_listnet_value_and_gradient_by_hand():
    s, y, m = _one()
    loss = listnet_loss(s, y, m)
    # target = softmax(3, 1, 0) = (0.84379, 0.11420, 0.04201)
    # model  = softmax(1.624, -0.612, -0.528) = (0.81757, 0.08739, 0.09504)
    # cross-entropy = -sum target * log model = 0.547165
    target, model = _softmax(GRADES), _softmax(SCORES)
    assert loss.item() == pytest.approx(-(target * np.log(model)).sum(), abs=1e-12)
    assert loss.item() == pytest.approx(0.547165, abs=1e-6)  # the hand computation above
    loss.sum().backward()
    # d CE / d s = model - target = (-0.026225, -0.026809, 0.053034)
    np.testing.assert_allclose(s.grad.numpy()[0], model - target, atol=1e-12)


def test_listnet_kl_differs_by_target_entropy_and_has_same_gradient():
    s1, y, m = _one()
    s2, _, _ = _one()
    ce = listnet_loss(s1, y, m)
    kl = listnet_kl_loss(s2, y, m)
    target = _softmax(GRADES)
    assert kl.item() == pytest.approx((target * np.log(target / _softmax(SCORES))).sum(), abs=1e-12)
    entropy = -(target * np.log(target)).sum()
    assert ce.item() - kl.item() == pytest.approx(entropy, abs=1e-10)
    ce.sum().backward()
    kl.sum().backward()
    np.testing.assert_allclose(s1.grad.numpy(), s2.grad.numpy(), atol=1e-12)


def test_listmle_value_and_gradient_by_hand():
    s, y, m = _one()
    loss = listmle_loss(s, y, m, generator=torch.Generator().manual_seed(0))
    # order by grade is (0, 1, 2): [LSE(s0,s1,s2) - s0] + [LSE(s1,s2) - s1] + 0
    e = np.exp(SCORES)
    expected = math.log(e.sum()) - SCORES[0] + math.log(e[1:].sum()) - SCORES[1]
    assert loss.item() == pytest.approx(expected, abs=1e-10)
    loss.sum().backward()
    p_all = e / e.sum()
    p_tail = e[1:] / e[1:].sum()
    grad = np.array([p_all[0] - 1, p_all[1] + p_tail[0] - 1, p_all[2] + p_tail[1] + 1 - 1])
    np.testing.assert_allclose(s.grad.numpy()[0], grad, atol=1e-10)


def _lambdaloss_reference(scores, grades, sigma=1.0, mu=10.0):
    """NDCG-Loss2++ written from the paper with plain loops."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    s = [scores[i] for i in order]
    y = [grades[i] for i in order]
    ideal = sorted(grades, reverse=True)
    max_dcg = sum((2**g - 1) / math.log2(r + 2) for r, g in enumerate(ideal))
    gain = [(2**g - 1) / max_dcg for g in y]
    disc = lambda r: 1 / math.log2(1 + r)  # noqa: E731  rank r is 1-based
    total = 0.0
    for i in range(len(s)):
        for j in range(len(s)):
            if y[i] <= y[j]:
                continue
            d = abs(i - j)
            rho = abs(disc(d) - disc(d + 1))
            lam = abs(disc(i + 1) - disc(j + 1))
            w = (mu * rho + lam) * abs(gain[i] - gain[j])
            p = 1 / (1 + math.exp(-sigma * (s[i] - s[j])))
            total -= w * math.log2(p)
    return total


def test_lambdaloss_matches_loop_reference():
    s, y, m = _one()
    assert lambdaloss(s, y, m).item() == pytest.approx(
        _lambdaloss_reference(SCORES, GRADES), rel=1e-10
    )
    rng = np.random.default_rng(3)
    scores = rng.normal(size=7).tolist()
    grades = rng.integers(0, 5, size=7).astype(float).tolist()
    s, y, m = _one(scores, grades)
    assert lambdaloss(s, y, m).item() == pytest.approx(
        _lambdaloss_reference(scores, grades), rel=1e-10
    )


def test_approxndcg_matches_loop_reference():
    s, y, m = _one()
    t = 0.1
    ranks = [
        1 + sum(1 / (1 + math.exp(-(SCORES[j] - SCORES[i]) / t)) for j in range(3) if j != i)
        for i in range(3)
    ]
    dcg = sum((2 ** GRADES[i] - 1) / math.log2(1 + ranks[i]) for i in range(3))
    ideal = 7 / 1 + 1 / math.log2(3)
    assert approxndcg_loss(s, y, m, temperature=t).item() == pytest.approx(-dcg / ideal, rel=1e-10)


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("pad_score", [0.0, 1e6, -1e6])
def test_padding_changes_neither_loss_nor_gradient(name, pad_score):
    kwargs = {"generator": torch.Generator().manual_seed(5)} if name == "listmle" else {}
    s0, y0, m0 = _one()
    base = LOSSES[name](s0, y0, m0, **kwargs)
    base.sum().backward()
    kwargs = {"generator": torch.Generator().manual_seed(5)} if name == "listmle" else {}
    s1, y1, m1 = _one(pad=4, pad_score=pad_score)
    padded = LOSSES[name](s1, y1, m1, **kwargs)
    padded.sum().backward()
    assert padded.item() == pytest.approx(base.item(), abs=1e-10)
    np.testing.assert_allclose(s1.grad.numpy()[0, :3], s0.grad.numpy()[0], atol=1e-10)
    assert np.all(s1.grad.numpy()[0, 3:] == 0.0)
    assert np.all(np.isfinite(s1.grad.numpy()))


def test_batched_lists_of_different_length_equal_separate_lists():
    rng = np.random.default_rng(0)
    lists = [(rng.normal(size=n), rng.integers(0, 5, size=n).astype(float)) for n in (3, 9, 5)]
    width = 9
    s = torch.zeros((3, width), dtype=torch.float64)
    y = torch.full((3, width), -1.0, dtype=torch.float64)
    m = torch.zeros((3, width), dtype=torch.bool)
    for i, (sc, gr) in enumerate(lists):
        s[i, : len(sc)] = torch.tensor(sc)
        y[i, : len(sc)] = torch.tensor(gr)
        m[i, : len(sc)] = True
    for name in ("listnet", "lambdaloss", "approxndcg", "mse"):
        batched = LOSSES[name](s, y, m)
        for i, (sc, gr) in enumerate(lists):
            single = LOSSES[name](
                torch.tensor(sc[None]),
                torch.tensor(gr[None]),
                torch.ones((1, len(sc)), dtype=torch.bool),
            )
            assert batched[i].item() == pytest.approx(single.item(), abs=1e-10), name


def test_listmle_ties_are_broken_by_the_generator():
    s = torch.tensor([[0.3, 0.1, -0.2, 0.5]], dtype=torch.float64)
    y = torch.tensor([[1.0, 1.0, 1.0, 0.0]], dtype=torch.float64)
    m = torch.ones((1, 4), dtype=torch.bool)
    a = listmle_loss(s, y, m, generator=torch.Generator().manual_seed(1))
    b = listmle_loss(s, y, m, generator=torch.Generator().manual_seed(1))
    assert a.item() == b.item()
    seen = {
        round(listmle_loss(s, y, m, generator=torch.Generator().manual_seed(k)).item(), 9)
        for k in range(20)
    }
    assert len(seen) > 1  # different tie orders give different likelihoods
