"""Listwise ranking losses on padded batches: one loss value per query.

Every loss takes ``scores`` (B, L), ``labels`` (B, L) with -1 at padding and ``mask`` (B, L)
True on real documents, and returns a (B,) tensor. Padded positions are set to -inf (or
excluded) inside the loss so they carry exactly zero gradient; a padded batch gives the same
losses and gradients as the unpadded lists (tested).

Written here rather than taken from allRank: allRank pins old PyTorch and its losses assume its
own padding; these are short, and tested against hand-computed values.

- ``listnet``: Cao et al. 2007, top-one probabilities; cross-entropy between
  softmax(labels) and softmax(scores).
- ``listnet_kl``: the same as a KL divergence; differs by the target's entropy, a constant, so
  the gradients are identical (tested).
- ``listmle``: Xia et al. 2008, negative log-likelihood of a label-sorted permutation (ties
  broken at random with the given generator).
- ``lambdaloss``: Wang et al. 2018, LambdaLoss with the NDCG-Loss2++ weighting (the
  NDCG-aware loss); optional truncation at ``k``.
- ``approxndcg``: Qin et al. 2010, minus a smooth NDCG with sigmoid-approximated ranks.
- ``mse``: pointwise regression on the label, a sanity baseline.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

NEG_INF = float("-inf")


def listnet_loss(scores: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    target = torch.softmax(labels.masked_fill(~mask, NEG_INF), dim=-1)
    log_probs = torch.log_softmax(scores.masked_fill(~mask, NEG_INF), dim=-1)
    return -(target * log_probs.masked_fill(~mask, 0.0)).sum(dim=-1)


def listnet_kl_loss(scores: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    target = torch.softmax(labels.masked_fill(~mask, NEG_INF), dim=-1)
    log_probs = torch.log_softmax(scores.masked_fill(~mask, NEG_INF), dim=-1)
    entropy_term = torch.special.xlogy(target, target)
    return (entropy_term - target * log_probs.masked_fill(~mask, 0.0)).sum(dim=-1)


def _label_sorted_order(
    labels: torch.Tensor, mask: torch.Tensor, generator: torch.Generator | None
) -> torch.Tensor:
    """Indices sorting each list by label, descending, ties in random order, padding last."""
    shuffle = torch.argsort(
        torch.rand(labels.shape, generator=generator, device="cpu").to(labels.device), dim=-1
    )
    keyed = torch.gather(labels.masked_fill(~mask, NEG_INF), 1, shuffle)
    order = torch.argsort(keyed, dim=-1, descending=True, stable=True)
    return torch.gather(shuffle, 1, order)


def listmle_loss(
    scores: torch.Tensor,
    labels: torch.Tensor,
    mask: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    order = _label_sorted_order(labels, mask, generator)
    s = torch.gather(scores, 1, order)
    m = torch.gather(mask, 1, order)
    top = s.masked_fill(~m, NEG_INF).max(dim=-1, keepdim=True).values.detach()
    shifted = s - top
    exp = torch.exp(shifted.masked_fill(~m, NEG_INF))
    # log of sum_{j >= i} exp(s_j): the Plackett–Luce normaliser at each position
    tail = torch.flip(torch.cumsum(torch.flip(exp, [1]), dim=1), [1])
    per_position = torch.log(tail.clamp_min(1e-30)) - shifted
    return per_position.masked_fill(~m, 0.0).sum(dim=-1)


def _gains_discounts(
    labels: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gains = torch.where(mask, torch.pow(2.0, labels) - 1.0, torch.zeros_like(labels))
    width = labels.shape[1]
    discounts = torch.log2(torch.arange(width, device=labels.device, dtype=labels.dtype) + 2.0)
    ideal = torch.sort(gains, dim=-1, descending=True).values
    max_dcg = (ideal / discounts).sum(dim=-1)
    return gains, discounts, max_dcg


def lambdaloss(
    scores: torch.Tensor,
    labels: torch.Tensor,
    mask: torch.Tensor,
    *,
    sigma: float = 1.0,
    mu: float = 10.0,
    k: int | None = None,
) -> torch.Tensor:
    """LambdaLoss, NDCG-Loss2++ (Wang et al., CIKM 2018, eq. 13 with mu weighting)."""
    width = scores.shape[1]
    masked_scores = scores.masked_fill(~mask, NEG_INF)
    order = torch.argsort(masked_scores.detach(), dim=-1, descending=True, stable=True)
    s = torch.gather(scores, 1, order)
    m = torch.gather(mask, 1, order)
    y = torch.gather(labels, 1, order)
    gains, discounts, max_dcg = _gains_discounts(y, m)
    g = gains / max_dcg.clamp_min(1e-10)[:, None]
    pos = torch.arange(1, width + 1, device=scores.device)
    inv_d = 1.0 / discounts  # 1 / log2(1 + rank)
    # NDCG-Loss2 weight: |1/D(|i-j|) - 1/D(|i-j|+1)|, with D(r) = log2(1 + r)
    delta = torch.abs(pos[:, None] - pos[None, :])
    delta = delta.clamp(1, width - 1) if width > 1 else delta
    rho = torch.abs(inv_d[delta - 1] - inv_d[delta])
    rho.fill_diagonal_(0.0)
    # LambdaRank weight: |1/D(i) - 1/D(j)|
    lambda_w = torch.abs(inv_d[:, None] - inv_d[None, :])
    gain_gap = torch.abs(g[:, :, None] - g[:, None, :])
    weights = (mu * rho[None] + lambda_w[None]) * gain_gap
    pairs = m[:, :, None] & m[:, None, :] & (y[:, :, None] > y[:, None, :])
    if k is not None:
        top = pos <= k
        pairs = pairs & (top[:, None] & top[None, :])[None]
    diff = (s[:, :, None] - s[:, None, :]).masked_fill(~pairs, 0.0)
    log_p = torch.nn.functional.logsigmoid(sigma * diff) / math.log(2.0)
    return -(weights.detach() * log_p).masked_fill(~pairs, 0.0).sum(dim=(1, 2))


def approxndcg_loss(
    scores: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor, *, temperature: float = 0.1
) -> torch.Tensor:
    """Minus ApproxNDCG: rank_i ≈ 1 + sum_j sigmoid((s_j - s_i) / T) over real documents."""
    gains, _, max_dcg = _gains_discounts(labels, mask)
    diff = (scores[:, None, :] - scores[:, :, None]) / temperature
    pair = mask[:, :, None] & mask[:, None, :]
    pair = pair & ~torch.eye(scores.shape[1], dtype=torch.bool, device=scores.device)[None]
    approx_rank = 1.0 + torch.sigmoid(diff).masked_fill(~pair, 0.0).sum(dim=-1)
    dcg = (gains / torch.log2(1.0 + approx_rank)).masked_fill(~mask, 0.0).sum(dim=-1)
    return -dcg / max_dcg.clamp_min(1e-10)


def mse_loss(scores: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    sq = ((scores - labels) ** 2).masked_fill(~mask, 0.0)
    return sq.sum(dim=-1) / mask.sum(dim=-1).clamp_min(1)


LOSSES: dict[str, Callable[..., torch.Tensor]] = {
    "listnet": listnet_loss,
    "listnet_kl": listnet_kl_loss,
    "listmle": listmle_loss,
    "lambdaloss": lambdaloss,
    "approxndcg": approxndcg_loss,
    "mse": mse_loss,
}
