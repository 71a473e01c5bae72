"""Online experiments on Cranfield: how many users interleaving needs against an A/B test, and
the price of looking early (``make bench``; ``--quick`` for a smoke run).

Rankers: BM25 (control) and BM25 + ListNet (variant), the held-out rankings of the text
pipeline (5-fold cross-validation over queries, seed 0, as ``searchlab demo``; ``--quick`` uses
the demo's quick training settings). Users and clicks: ``searchlab simulate``'s click model and
users at their defaults (1 + Poisson(1) queries each, top 10 shown).

Designs, each from SIMS seeded simulated experiments (200; ``--quick`` 40):
- A/B on conversion: ``searchlab.loop.simulate`` (50/50 split by the assignment hash, a new
  salt per experiment); fixed-horizon test: the exact permutation test of ``searchlab.ab``.
- Team-draft interleaving: ``searchlab.loop.interleave_sim`` (every user sees both rankers);
  fixed-horizon test: the exact sign test over users of ``searchlab.ab.interleave``.
- Looking early: the confidence sequence of ``searchlab.ab.sequential`` (N* = 5,000) looked at
  every 500 users (A/B) or every 50 users (interleaving); an experiment counts as significant
  by N users if any look up to N was.

Power curve: every experiment runs to N_max users; its first N users (user ids 1..N) are an
experiment of N users with the same law, tested at each N of a geometric grid; power(N) is the
share of experiments significant at alpha = 0.05 (two-sided). Users for 80% power: where the
curve crosses 0.8, interpolated linearly in (sqrt N, probit power) between the two grid points
around the crossing (under the normal approximation probit(power) is linear in sqrt N); the
range applies the same interpolation to the 95% Clopper-Pearson bounds of each grid point.

Also, as evidence for the sequential test: A/A experiments (BM25 against itself) looked at
every 500 users up to 50,000, for the confidence sequence against the fixed-horizon test.

Run: .venv/bin/python benchmarks/bench_online.py [--quick]. Writes benchmarks/results/
online.md and online.json (``--quick``: online.quick.md/.json); exits 1 when it cannot run.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from searchlab._io import atomic_write_json, atomic_write_text  # noqa: E402
from searchlab.errors import SearchlabError  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
ALPHA, TARGET = 0.05, 0.8
SEED = 0
GRID_POINTS = 28
# The A/B grid starts at N_max/20 (about a fifth of the users for 80% power): below ~5,000 users
# the exact test sums hypergeometric terms in rational arithmetic, which costs seconds per run.
AB_GRID_SPAN, IL_GRID_SPAN = 20.0, 80.0
AB_LOOK_EVERY, IL_LOOK_EVERY = 500, 50
AA_HORIZON = 50_000


def text_rankings(quick: bool):
    """Held-out BM25 and ListNet rankings of bundled Cranfield, as ``searchlab demo`` makes them."""
    from searchlab.loop._bundled import bundled_cranfield
    from searchlab.loop.demo import QUICK_LISTNET_EPOCHS, QUICK_WORD2VEC_EPOCHS
    from searchlab.text.embeddings import Word2VecConfig
    from searchlab.text.features import FeatureConfig
    from searchlab.text.pipeline import evaluate_text_ranking
    from searchlab.text.rerank import default_train_config

    corpus = bundled_cranfield()
    word2vec = Word2VecConfig(seed=SEED, **({"epochs": QUICK_WORD2VEC_EPOCHS} if quick else {}))
    train = default_train_config(SEED, **({"epochs": QUICK_LISTNET_EPOCHS} if quick else {}))
    evaluation = evaluate_text_ranking(
        corpus,
        folds=5,
        seed=SEED,
        feature_config=FeatureConfig(word2vec=word2vec),
        train_config=train,
    )
    return corpus, evaluation


def geometric_grid(top: int, span: float) -> np.ndarray:
    """GRID_POINTS sizes from top/span to top, evenly spaced in log."""
    grid = np.unique(np.geomspace(max(top / span, 20), top, GRID_POINTS).round().astype(np.int64))
    return grid[grid >= 20]


def users_at_power(grid: np.ndarray, power: np.ndarray, runs: int) -> float | None:
    """Users where the power curve first reaches TARGET, interpolated in (sqrt N, probit)."""
    from scipy.stats import norm

    above = np.flatnonzero(power >= TARGET)
    if above.size == 0:
        return None
    i = int(above[0])
    if i == 0:
        return float(grid[0])  # already there at the smallest size tried
    clip = 0.5 / runs
    z = norm.ppf(np.clip(power[[i - 1, i]], clip, 1 - clip))
    x = np.sqrt(grid[[i - 1, i]].astype(float))
    if z[1] == z[0]:
        return float(grid[i])
    at = x[0] + (norm.ppf(TARGET) - z[0]) * (x[1] - x[0]) / (z[1] - z[0])
    return float(min(max(at, x[0]), x[1]) ** 2)


def power_summary(grid: np.ndarray, significant: np.ndarray) -> dict:
    """Power per grid point with Clopper-Pearson bounds, and the users for 80% power."""
    from scipy.stats import binomtest

    runs = significant.shape[0]
    hits = significant.sum(axis=0)
    power = hits / runs
    low, high = np.empty(grid.size), np.empty(grid.size)
    for j, k in enumerate(hits):
        ci = binomtest(int(k), runs).proportion_ci(0.95, method="exact")
        low[j], high[j] = ci.low, ci.high
    return {
        "grid": grid.tolist(),
        "power": power.tolist(),
        "power_low": low.tolist(),
        "power_high": high.tolist(),
        "users_80": users_at_power(grid, power, runs),
        "users_80_range": [users_at_power(grid, high, runs), users_at_power(grid, low, runs)],
        "runs": runs,
    }


def significance(grid: np.ndarray, looks: np.ndarray, sims: int, experiment):
    """(grid, fixed, sequential): per experiment (rows) and grid size (columns), whether the
    fixed-horizon test at that size, and the sequence at any look up to it, were significant.
    ``experiment(s)`` returns the fixed p-values at the grid and the sequence's at the looks."""
    fixed = np.zeros((sims, grid.size), dtype=bool)
    sequential = np.zeros((sims, grid.size), dtype=bool)
    last_look = np.searchsorted(looks, grid, side="right") - 1
    for s in range(sims):
        p_fixed, p_looks = experiment(s)
        fixed[s] = p_fixed < ALPHA
        p_looks = np.minimum.accumulate(p_looks)  # significant at any look so far
        sequential[s] = np.where(last_look >= 0, p_looks[np.maximum(last_look, 0)] < ALPHA, False)
    return grid, fixed, sequential


def ab_experiments(control, variant, judgments, top: int, sims: int, *, salt: str):
    """A/B on conversion: the exact permutation test at each grid size, and the confidence
    sequence every AB_LOOK_EVERY users."""
    from searchlab.ab.binary import exact_permutation_pvalue
    from searchlab.ab.inputs import Counts
    from searchlab.ab.sequential import binary_arm_moments, difference_cs
    from searchlab.loop.simulate import ExperimentDesign, simulate_experiment

    grid = geometric_grid(top, AB_GRID_SPAN)
    looks = np.arange(AB_LOOK_EVERY, top + 1, AB_LOOK_EVERY)

    def experiment(s: int):
        design = ExperimentDesign(users=top, salt=f"{salt}-{s}", seed=SEED + s)
        table = simulate_experiment(control, variant, judgments, design).table
        in_variant = (table["arm"] == "variant").to_numpy()
        converted = table["converted"].to_numpy().astype(np.int64)
        n_v, c_v = np.cumsum(in_variant), np.cumsum(converted * in_variant)
        c_all = np.cumsum(converted)
        p_fixed = np.array(
            [
                exact_permutation_pvalue(
                    Counts(int(c_all[n - 1] - c_v[n - 1]), int(n - n_v[n - 1])),
                    Counts(int(c_v[n - 1]), int(n_v[n - 1])),
                    "two-sided",
                )
                for n in grid
            ]
        )
        nv, cv = n_v[looks - 1], c_v[looks - 1]
        mean_c, var_c = binary_arm_moments(c_all[looks - 1] - cv, looks - nv)
        mean_v, var_v = binary_arm_moments(cv, nv)
        p_looks = difference_cs(looks - nv, mean_c, var_c, nv, mean_v, var_v, alpha=ALPHA)[3]
        return p_fixed, p_looks

    return significance(grid, looks, sims, experiment)


def il_experiments(plan, top: int, sims: int, *, salt: str):
    """Team-draft interleaving: the exact sign test at each grid size, and the confidence
    sequence of the preference share every IL_LOOK_EVERY users."""
    from searchlab.ab.interleave import query_credit, share_sequence, sign_test, user_preferences
    from searchlab.loop.interleave_sim import InterleaveDesign, simulate_interleaving

    grid = geometric_grid(top, IL_GRID_SPAN)
    looks = np.arange(IL_LOOK_EVERY, top + 1, IL_LOOK_EVERY)

    def experiment(s: int):
        design = InterleaveDesign(users=top, salt=f"{salt}-{s}", seed=SEED + s)
        table = simulate_interleaving(plan, design, details=False).table
        preference = user_preferences(table, query_credit(table)[0])  # users 1..top, in order
        wins, losses = np.cumsum(preference > 0), np.cumsum(preference < 0)
        p_fixed = np.array([sign_test(int(wins[n - 1]), int(losses[n - 1]))[0] for n in grid])
        decided = (wins + losses)[looks - 1]
        return p_fixed, share_sequence(wins[looks - 1], decided, alpha=ALPHA)[2]

    return significance(grid, looks, sims, experiment)


def aa_rates(control, judgments, sims: int) -> dict:
    """A/A (BM25 vs BM25) looked at every 500 users up to 50,000: false-positive rates."""
    from scipy.stats import binomtest

    from searchlab.ab.binary import exact_permutation_pvalue
    from searchlab.ab.inputs import Counts
    from searchlab.ab.sequential import (
        binary_arm_moments,
        difference_cs,
        difference_variance,
        fixed_horizon_pvalue,
        running,
    )
    from searchlab.loop.simulate import ExperimentDesign, simulate_experiment

    looks = np.arange(AB_LOOK_EVERY, AA_HORIZON + 1, AB_LOOK_EVERY)
    counts = {"sequential": 0, "fixed_peeking": 0, "fixed_once": 0}
    for s in range(sims):
        design = ExperimentDesign(users=AA_HORIZON, salt=f"bench-online-aa-{s}", seed=10_000 + s)
        table = simulate_experiment(control, control, judgments, design).table
        in_variant = (table["arm"] == "variant").to_numpy()
        converted = table["converted"].to_numpy().astype(np.int64)
        nv, cv = np.cumsum(in_variant)[looks - 1], np.cumsum(converted * in_variant)[looks - 1]
        nc, cc = looks - nv, np.cumsum(converted)[looks - 1] - cv
        mean_c, var_c = binary_arm_moments(cc, nc)
        mean_v, var_v = binary_arm_moments(cv, nv)
        estimate, low, high, p = difference_cs(nc, mean_c, var_c, nv, mean_v, var_v, alpha=ALPHA)
        counts["sequential"] += bool(running(low, high, p)[2][-1] < ALPHA)
        n, variance = difference_variance(nc, var_c, nv, var_v)
        counts["fixed_peeking"] += bool((fixed_horizon_pvalue(estimate, variance, n) < ALPHA).any())
        final = Counts(int(cc[-1]), int(nc[-1])), Counts(int(cv[-1]), int(nv[-1]))
        counts["fixed_once"] += exact_permutation_pvalue(*final, "two-sided") < ALPHA
    out = {"runs": sims, "looks": int(looks.size), "horizon": AA_HORIZON}
    for name, k in counts.items():
        ci = binomtest(k, sims).proportion_ci(0.95, method="exact")
        out[name] = {"rejections": k, "rate": k / sims, "low": ci.low, "high": ci.high}
    return out


def interleaving_guess(plan) -> int:
    """A starting size for the interleaving grid from the exact per-query win/loss rates."""
    from scipy.stats import norm

    win, loss = plan.expected_variant_win, plan.expected_control_win
    share = win / (win + loss)
    decided = 1 - (1 - win - loss) ** 2  # about two queries per user
    z = norm.ppf(1 - ALPHA / 2) + norm.ppf(TARGET)
    return math.ceil((z / (2 * abs(share - 0.5))) ** 2 / decided)


def run_design(
    name: str, experiments, top: int, sims: int, tries: int = 3
) -> tuple[dict, dict, int]:
    """Fixed and sequential power summaries, moving N_max until the grid brackets 80% power."""
    for _ in range(tries):
        grid, fixed, sequential = experiments(top, sims)
        results = power_summary(grid, fixed), power_summary(grid, sequential)
        found = [r["users_80"] for r in results]
        if all(u is not None and grid[0] < u < grid[-1] for u in found):
            return (*results, top)
        too_small = any(u is None or u >= grid[-1] for u in found)
        top = top * 2 if too_small else top // 2
        print(f"  {name}: the grid does not bracket 80% power; trying up to {top:,} users")
    raise SearchlabError(f"{name}: no grid bracketed 80% power after {tries} tries")


def fmt_users(x: float | None) -> str:
    return "—" if x is None else f"{x:,.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 experiments per design")
    parser.add_argument("--sims", type=int, default=None, help="experiments per design")
    args = parser.parse_args()
    quick = args.quick or os.environ.get("BENCH_QUICK") == "1"
    sims = args.sims or (40 if quick else 200)
    started = time.perf_counter()
    from searchlab.ab import power_plan
    from searchlab.loop.interleave_sim import interleave_plan
    from searchlab.loop.simulate import ExperimentDesign, simulate_experiment

    print("text pipeline: held-out BM25 and ListNet rankings of Cranfield", flush=True)
    corpus, evaluation = text_rankings(quick)
    bm25, listnet = evaluation.rankings["bm25"], evaluation.rankings["listnet"]
    judgments = corpus.judgments
    pipeline_seconds = time.perf_counter() - started
    # exact expectations under the click model: the A/B plan and the interleaving start size
    probe = simulate_experiment(bm25, listnet, judgments, ExperimentDesign(users=2))
    baseline, gap = probe.control.expected_conversion_rate, probe.expected_difference
    planned = power_plan(baseline=baseline, mde=gap, alpha=ALPHA, power=TARGET)
    plan = interleave_plan(bm25, listnet, judgments)
    ab_top = int(4 * 2 * planned.users_per_group)
    il_top = int(5 * interleaving_guess(plan))

    timings = {"pipeline": pipeline_seconds}
    t0 = time.perf_counter()
    print(f"A/B: {sims} experiments of up to {ab_top:,} users", flush=True)
    ab_fixed, ab_seq, ab_top = run_design(
        "A/B",
        lambda top, n: ab_experiments(bm25, listnet, judgments, top, n, salt="bench-online-ab"),
        ab_top,
        sims,
    )
    timings["ab"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    print(f"interleaving: {sims} experiments of up to {il_top:,} users", flush=True)
    il_fixed, il_seq, il_top = run_design(
        "interleaving",
        lambda top, n: il_experiments(plan, top, n, salt="bench-online-il"),
        il_top,
        sims,
    )
    timings["interleaving"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    print(f"A/A: {sims} experiments looked at every {AB_LOOK_EVERY} users", flush=True)
    aa = aa_rates(bm25, judgments, sims)
    timings["aa"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - started

    headline = ab_fixed["users_80"] / il_fixed["users_80"]
    (ab_low, ab_high), (il_low, il_high) = ab_fixed["users_80_range"], il_fixed["users_80_range"]
    headline_range = [ab_low / il_high, ab_high / il_low]
    ab_price = ab_seq["users_80"] / ab_fixed["users_80"]
    il_price = il_seq["users_80"] / il_fixed["users_80"]
    result = {
        "quick": quick,
        "sims": sims,
        "alpha": ALPHA,
        "target_power": TARGET,
        "ndcg@10": {k: evaluation.metrics[k]["ndcg@10"] for k in ("bm25", "listnet")},
        "click_model_expectations": {
            "bm25_conversion": baseline,
            "listnet_minus_bm25_conversion": gap,
            "interleaving_variant_win": plan.expected_variant_win,
            "interleaving_control_win": plan.expected_control_win,
        },
        "planning_formula_ab_users": 2 * planned.users_per_group,
        "planning_formula_method": planned.method,
        "ab": {
            "max_users": ab_top,
            "fixed": ab_fixed,
            "sequential": ab_seq,
            "look_every": AB_LOOK_EVERY,
        },
        "interleaving": {
            "max_users": il_top,
            "fixed": il_fixed,
            "sequential": il_seq,
            "look_every": IL_LOOK_EVERY,
        },
        "headline_ratio": headline,
        "headline_ratio_range": headline_range,
        "target_met": headline >= 10,
        "price_of_looking_early": {"ab": ab_price, "interleaving": il_price},
        "aa": aa,
        "seconds": timings,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
    }
    suffix = ".quick" if quick else ""
    atomic_write_json(RESULTS / f"online{suffix}.json", result)
    atomic_write_text(RESULTS / f"online{suffix}.md", report(result))
    print(report(result))
    return 0


def report(r: dict) -> str:
    ab, il = r["ab"], r["interleaving"]

    def row(design: str, test: str, s: dict) -> str:
        lo, hi = s["users_80_range"]
        return (
            f"| {design} | {test} | {fmt_users(s['users_80'])} | {fmt_users(lo)}–{fmt_users(hi)} |"
        )

    aa = r["aa"]
    e = r["click_model_expectations"]
    lines = [
        "# Online experiments: team-draft interleaving vs A/B on Cranfield",
        "",
        f"BM25 (control, NDCG@10 {r['ndcg@10']['bm25']:.4f}) against BM25 + ListNet (variant, "
        f"{r['ndcg@10']['listnet']:.4f}), held-out rankings of the text pipeline"
        f"{' (quick training settings)' if r['quick'] else ''}; users and clicks from the click "
        f"model of `searchlab simulate` (defaults). Under the model, conversion is "
        f"{100 * e['bm25_conversion']:.2f}% for BM25 and {100 * e['listnet_minus_bm25_conversion']:+.2f} "
        f"points for ListNet; an interleaved query is won by ListNet with probability "
        f"{e['interleaving_variant_win']:.4f} and by BM25 with {e['interleaving_control_win']:.4f} (exact).",
        "",
        f"**Headline: team-draft interleaving needs {r['headline_ratio']:.1f}x fewer users than an "
        f"A/B test on conversion for 80% power** (range {r['headline_ratio_range'][0]:.1f}–"
        f"{r['headline_ratio_range'][1]:.1f}x from the curves' bounds; fixed-horizon tests, alpha "
        f"{r['alpha']:g} two-sided). Target >= 10x: {'met' if r['target_met'] else 'NOT met'} "
        "(published comparisons report 10–100x, mostly against click metrics).",
        "",
        f"Users (in total) for {100 * r['target_power']:.0f}% power, each curve from {r['sims']} seeded "
        "simulated experiments:",
        "",
        "| design | test | users for 80% power | range (95% bounds of the curve) |",
        "|---|---|---|---|",
        row("A/B on conversion", "exact permutation test, one look", ab["fixed"]),
        row(
            "A/B on conversion",
            f"confidence sequence, looked at every {ab['look_every']} users",
            ab["sequential"],
        ),
        row("team-draft interleaving", "exact sign test over users, one look", il["fixed"]),
        row(
            "team-draft interleaving",
            f"confidence sequence, looked at every {il['look_every']} users",
            il["sequential"],
        ),
        "",
        f"The price of looking early (users for 80% power, confidence sequence / fixed horizon): "
        f"A/B {r['price_of_looking_early']['ab']:.2f}x, interleaving "
        f"{r['price_of_looking_early']['interleaving']:.2f}x. The sequence may be looked at any "
        "time and stopped at the first significant look; the fixed-horizon test is valid only at "
        "its planned size.",
        "",
        f"Check of the simulation against the planning formula: `searchlab ab power` "
        f"({r['planning_formula_method']}) asks for {r['planning_formula_ab_users']:,} A/B users "
        f"in total for the exact conversion gap; the simulated curve gives {fmt_users(ab['fixed']['users_80'])}.",
        "",
        f"A/A (BM25 against itself), {aa['runs']} experiments, {aa['looks']} looks (every "
        f"{AB_LOOK_EVERY} users up to {aa['horizon']:,}), share significant at alpha {r['alpha']:g}:",
        "",
        "| test | false-positive rate | 95% interval |",
        "|---|---|---|",
    ]
    for key, label in (
        ("sequential", "confidence sequence, every look"),
        ("fixed_once", "exact permutation test, once at 50,000 users"),
        ("fixed_peeking", "fixed-horizon z-test, every look (peeking)"),
    ):
        a = aa[key]
        lines.append(
            f"| {label} | {100 * a['rate']:.1f}% | {100 * a['low']:.1f}–{100 * a['high']:.1f}% |"
        )
    lines += ["", "Power curves (users: power):", ""]
    for name, design in (("A/B", ab), ("interleaving", il)):
        for kind in ("fixed", "sequential"):
            s = design[kind]
            points = ", ".join(
                f"{n:,}: {p:.2f}"
                for n, p in zip(s["grid"], s["power"], strict=True)
                if 0.05 < p < 0.99
            )
            lines.append(f"- {name}, {kind}: {points}")
    t = r["seconds"]
    lines += [
        "",
        "Method: every experiment runs to its largest size; its first N users are an experiment "
        "of N users, tested at each N of a geometric grid; the users for 80% power are "
        "interpolated linearly in (sqrt N, probit power) between the grid points around 0.8, and "
        "the range applies the same to the curve's 95% Clopper-Pearson bounds.",
        "",
        f"Command: `.venv/bin/python benchmarks/bench_online.py{' --quick' if r['quick'] else ''}`; "
        f"{t['total']:.0f} s on {r['machine']} (text pipeline {t['pipeline']:.0f} s, A/B {t['ab']:.0f} s, "
        f"interleaving {t['interleaving']:.0f} s, A/A {t['aa']:.0f} s).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SearchlabError as exc:
        print(f"bench_online: {exc}", file=sys.stderr)
        sys.exit(1)
