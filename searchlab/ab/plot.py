"""Draw a metric's permutation null: the difference in means under shuffling, the observed
difference as a vertical line, and the "at least as extreme" tail shaded (matplotlib, Agg)."""

from __future__ import annotations

import io
import os
from typing import Any

import numpy as np

from searchlab.ab.inputs import Counts
from searchlab.ab.results import ABAnalysis, MetricAnalysis, NullDistribution
from searchlab.ab.verdict import share as share_text

_BODY = "#9bb4d0"
_TAIL = "#d1495b"


def plot_null_distribution(
    result: MetricAnalysis | NullDistribution,
    path: str | os.PathLike[str] | None = None,
    *,
    title: str | None = None,
) -> bytes:
    """PNG bytes of one metric's null distribution; also written atomically to ``path``."""
    return _render([result], path, [title])


def plot_analysis(analysis: ABAnalysis, path: str | os.PathLike[str] | None = None) -> bytes:
    """One panel per metric of an analysis, stacked, as PNG bytes (written to ``path``)."""
    return _render(list(analysis.metrics), path, [None] * len(analysis.metrics))


def _render(results: list[Any], path: Any, titles: list[str | None]) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 4.0 * len(results)), dpi=110)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(results), 1, squeeze=False)[:, 0]
    for ax, result, title in zip(axes, results, titles, strict=True):
        null = result.null if isinstance(result, MetricAnalysis) else result
        if title is None and isinstance(result, MetricAnalysis):
            title = (
                f"{result.name}: difference ({result.variant.label} − {result.control.label}) "
                "in shuffled worlds"
            )
        _draw_panel(ax, null, title or "null distribution of the difference")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    png = buffer.getvalue()
    if path is not None:
        from searchlab._io import atomic_write_bytes

        atomic_write_bytes(path, png)
    return png


def _draw_panel(ax: Any, null: NullDistribution, title: str) -> None:
    share = _draw_exact(ax, null) if null.kind == "exact" else _draw_sampled(ax, null)
    ax.axvline(null.observed, color="black", linewidth=1.6, label=f"observed {null.observed:+.4g}")
    if null.alternative == "two-sided" and null.observed != 0:
        ax.axvline(-null.observed, color="black", linewidth=1.0, linestyle="--")
    ax.set_xlabel("difference, variant − control")
    ax.set_ylabel("share of shuffled worlds" if null.kind == "exact" else "shuffled worlds")
    ax.set_title(title, fontsize=10)
    ax.plot(
        [],
        [],
        color=_TAIL,
        linewidth=6,
        label=f"at least as extreme: {share_text(share)}".removesuffix(" of"),
    )
    # Below the axes: inside, it can hide the observed line wherever that falls.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=3, fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)


def _draw_exact(ax: Any, null: NullDistribution) -> float:
    """Bars of the hypergeometric null over the variant's possible converter counts."""
    from scipy.stats import hypergeom

    from searchlab.ab.binary import binary_region

    n_c, n_v = null.control_users, null.variant_users
    population, converters = n_c + n_v, null.pooled_total
    dist = hypergeom(population, converters, n_v)
    low_x = max(0, n_v - (population - converters))
    high_x = min(converters, n_v)
    mean, sd = dist.mean(), dist.std()
    observed_x = null.observed_count
    mirror_x = round(2 * mean - observed_x)
    lo = int(max(low_x, min(mean - 5 * sd, observed_x - 2, mirror_x - 2)))
    hi = int(min(high_x, max(mean + 5 * sd, observed_x + 2, mirror_x + 2)))
    x = np.arange(lo, hi + 1)
    pmf = dist.pmf(x)
    diff = (x * population - converters * n_v) / (n_c * n_v)
    region = binary_region(Counts(converters - observed_x, n_c), Counts(observed_x, n_v),
                           null.alternative)  # fmt: skip
    extreme = region.mask(x)
    if x.size <= 80:
        width = (diff[1] - diff[0]) * 0.9 if x.size > 1 else 1e-3
        ax.bar(diff[~extreme], pmf[~extreme], width=width, color=_BODY, label="shuffled worlds")
        ax.bar(diff[extreme], pmf[extreme], width=width, color=_TAIL)
    else:  # dense support: filled steps (bars this thin alias into stripes)
        body = np.where(extreme, 0.0, pmf)
        ax.fill_between(diff, body, step="mid", color=_BODY, linewidth=0, label="shuffled worlds")
        ax.fill_between(diff, np.where(extreme, pmf, 0.0), step="mid", color=_TAIL, linewidth=0)
    all_x = np.arange(low_x, high_x + 1)
    return float(dist.pmf(all_x[region.mask(all_x)]).sum())


def _draw_sampled(ax: Any, null: NullDistribution) -> float:
    """A histogram of the sampled differences, tail draws stacked in the tail colour."""
    draws = np.asarray(null.draws, dtype=np.float64)
    if null.draws_extreme is not None:
        extreme = np.asarray(null.draws_extreme, dtype=bool)
    else:
        extreme = np.zeros(draws.shape, dtype=bool)
        if null.tail_high is not None:
            extreme |= draws >= null.tail_high
        if null.tail_low is not None:
            extreme |= draws <= null.tail_low
    span = [draws.min(), draws.max(), null.observed]
    if null.alternative == "two-sided":
        span.append(-null.observed)
    lo, hi = min(span), max(span)
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    bins = np.linspace(lo, hi, 81)
    ax.hist(
        [draws[~extreme], draws[extreme]],
        bins=bins,
        stacked=True,
        color=[_BODY, _TAIL],
        label=[f"{draws.size:,} shuffled worlds", "_nolegend_"],
    )
    return float(extreme.mean()) if draws.size else 0.0
