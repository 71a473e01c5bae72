"""The demo report: ``summary.json`` (every number) and ``index.html`` rendered from it.

The page is rendered from the JSON text that was written, read back, so the two cannot
disagree. Each number on the page is a ``<span class="num" data-key="a/b/c"
data-value="...">`` pointing at its place in ``summary.json`` (tests walk them). The page is
self-contained (CSS inline, the null-distribution plot embedded as a data URI and also kept
beside it as a PNG) and has no scripts.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from searchlab._io import atomic_write_json, atomic_write_text

PLOT_FILE = "null-distribution.png"
OFFLINE_METRICS = (("ndcg@10", "NDCG@10"), ("map", "MAP"), ("p@10", "P@10"))
# The fields of summary.json that measure time instead of results. Everything else is a
# function of the seed (on one machine: same seed, same summary), and the reproducibility
# test compares it field by field between runs. A pattern names a field by its path; "*"
# stands for any one key or list index, and a pattern naming an object covers all of it.
TIMING_FIELDS = (
    "created_utc",  # when the report was written
    "total_seconds",  # the demo's wall time
    "stages/*/seconds",  # each stage's wall time
    "stages/*/detail",  # each stage's one-line summary as printed; the crawl's holds pages/s
    "crawl/pages_per_second",
    "offline/timings",  # seconds per step of the offline evaluation
    "live/ab/seconds",  # the live runs' wall time and throughput
    "live/ab/searches_per_second",
    "live/interleave/seconds",
    "live/interleave/searches_per_second",
)


def lookup(summary: dict[str, Any], key: str) -> Any:
    value: Any = summary
    for part in key.split("/"):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def _is_timing(path: tuple[str, ...]) -> bool:
    for pattern in TIMING_FIELDS:
        parts = pattern.split("/")
        if len(parts) <= len(path) and all(
            want in ("*", got) for want, got in zip(parts, path, strict=False)
        ):
            return True
    return False


def summary_differences(first: Any, second: Any, path: tuple[str, ...] = ()) -> list[str]:
    """Paths (``a/b/0/c``) whose values differ between two summaries, ``TIMING_FIELDS`` aside.

    Values are compared exactly (floats bit for bit); a key present in one summary only, or
    lists of different lengths, count as differences.
    """
    if _is_timing(path):
        return []
    where = "/".join(path)
    if isinstance(first, dict) and isinstance(second, dict):
        out = ["/".join((*path, str(key))) for key in first.keys() ^ second.keys()]
        for key in first.keys() & second.keys():
            out += summary_differences(first[key], second[key], (*path, str(key)))
        return sorted(out)
    if isinstance(first, list) and isinstance(second, list):
        if len(first) != len(second):
            return [where or "(whole)"]
        return [
            d
            for i, (a, b) in enumerate(zip(first, second, strict=True))
            for d in summary_differences(a, b, (*path, str(i)))
        ]
    return [] if first == second and type(first) is type(second) else [where or "(whole)"]


def format_value(value: Any, kind: str) -> str:
    if value is None:
        return "n/a"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "pct":
        return f"{100 * value:.2f}%"
    if kind == "pp":  # a difference of rates, in percentage points
        return f"{100 * value:+.2f} pp"
    if kind == "rel":
        return f"{100 * value:+.1f}%"
    if kind == "p" and value == 0:
        return "< 1e-300"  # below the smallest double the tail functions return
    if kind == "p":
        return f"{value:.2e}" if value < 1e-4 else f"{value:.4f}"
    if kind == "level":
        return f"{100 * value:g}%"
    if kind == "g":
        return f"{value:g}"
    if kind == "s":
        return f"{value:.1f} s"
    if kind == "signed":
        return f"{value:+.4f}"
    return f"{value:.4f}"


class _Page:
    def __init__(self, summary: dict[str, Any]) -> None:
        self.summary = summary

    def num(self, key: str, kind: str = "f4") -> str:
        value = lookup(self.summary, key)
        raw = "null" if value is None else json.dumps(value)
        return (
            f'<span class="num" data-key="{html.escape(key)}" data-kind="{kind}" '
            f'data-value="{html.escape(raw)}">{html.escape(format_value(value, kind))}</span>'
        )


def _p_equals(p: float) -> str:
    shown = format_value(p, "p")
    return f"p {shown}" if shown.startswith("<") else f"p = {shown}"


def _share_of_worlds(p: float) -> str:
    """A p-value as a share of shuffled worlds a reader can picture."""
    if p == 0:
        return "a vanishing share (below 1 in 10^300)"
    if p < 1e-4:
        one_in = 1 / p
        digits = max(0, len(str(int(one_in))) - 2)
        return f"about 1 in {round(one_in, -digits):,.0f}"
    return f"{100 * p:.2f}%"


def conclusions(summary: dict[str, Any]) -> list[str]:
    """The plain-words findings, from the numbers alone (stored in summary.json too)."""
    off, ab, power = summary["offline"], summary["ab"], summary["power"]
    bm25, listnet = off["metrics"]["bm25"]["ndcg@10"], off["metrics"]["listnet"]["ndcg@10"]
    gap = listnet - bm25
    alpha = ab["alpha"]
    lines = []
    offline_sig = off["pvalue"] < alpha
    lines.append(
        f"Offline, the ListNet reranker {'beats' if gap > 0 else 'does not beat'} BM25: "
        f"NDCG@10 {listnet:.4f} vs {bm25:.4f} ({gap:+.4f}) over {off['queries']} held-out queries; "
        f"the paired permutation test across queries gives {_p_equals(off['pvalue'])}, "
        + (f"below α = {alpha}." if offline_sig else f"not below α = {alpha}: it could be chance.")
    )
    srm = ab["srm"]
    lines.append(
        f"The split is healthy: {ab['control']['users']:,} control and {ab['variant']['users']:,} "
        f"variant users (sample-ratio check {_p_equals(srm['pvalue'])})."
        if not srm["mismatch"]
        else f"Warning: sample ratio mismatch ({_p_equals(srm['pvalue'])}); the "
        "assignment is suspect and no A/B verdict should be trusted."
    )
    diff, p = ab["difference"], ab["pvalues"]["exact-permutation"]
    share = _share_of_worlds(p)
    lines.append(
        f"Online, users shown the reranker converted at {100 * ab['variant']['rate']:.2f}% against "
        f"{100 * ab['control']['rate']:.2f}% for BM25 ({100 * diff:+.2f} percentage points, "
        f"{100 * ab['relative_difference']:+.1f}%). A difference at least this large appears in "
        f"{share} of the worlds where the arm labels are shuffled (exact permutation "
        f"{_p_equals(p)}), so it is "
        + (
            f"significant at α = {alpha}: the reranker is better for these users."
            if ab["significant"] and diff > 0
            else f"significant at α = {alpha}, and the reranker is worse."
            if ab["significant"]
            else f"not significant at α = {alpha}: this experiment cannot tell the rankers apart."
        )
    )
    need, implied = power["needed_users_per_group"], power["implied_difference"]
    target = f"{100 * power['target_power']:.0f}%"
    if need is None:
        lines.append(
            f"Power check: under the click model the offline rankings imply a conversion "
            f"difference of {100 * implied:+.2f} pp, no improvement to detect; with "
            f"{power['users_per_group']:,} users per arm the experiment would detect a gain of "
            f"{100 * power['mde_at_users']:.2f} pp with {target} power."
        )
    elif power["adequate"]:
        lines.append(
            f"Power check: the offline gap implies a conversion difference of "
            f"{100 * implied:+.2f} pp under the click model; detecting it with {target} power "
            f"needs {need:,} users per arm, and the experiment had "
            f"{power['users_per_group']:,}, so it was adequately powered."
        )
    else:
        lines.append(
            f"Power check: the experiment is underpowered. The offline gap implies a conversion "
            f"difference of {100 * implied:+.2f} pp under the click model; detecting it with "
            f"{target} power needs {need:,} users per arm, but the experiment had only "
            f"{power['users_per_group']:,} (rerun with --users {2 * need} for a 50/50 split)."
            + (
                f" Read its significant result with care: an underpowered test that reaches "
                f"significance tends to overstate the effect (observed {100 * diff:+.2f} pp, "
                f"implied {100 * implied:+.2f} pp)."
                if ab["significant"]
                else ""
            )
        )
    live = summary.get("live")
    if live:
        lines.append(live_conclusion(live))
    return lines


def _needed(stop: dict[str, Any]) -> str:
    if stop["users_needed"] is not None:
        return f"{stop['users_needed']:,} users"
    return f"more than the {stop['users_run']:,} users run"


def live_conclusion(live: dict[str, Any]) -> str:
    """The live stage in one sentence: users each test needed, and their ratio."""
    ab, il = live["ab"]["stopping"], live["interleave"]["stopping"]
    head = (
        f"Live over HTTP ({live['topics']} topics no served model trained on), the A/B test on "
        f"conversion needed {_needed(ab)} to reach significance and team-draft interleaving "
        f"{_needed(il)}"
    )
    if live["ratio"] is not None:
        bound = "at least " if live["ratio_is_lower_bound"] else ""
        return head + f": interleaving needed {bound}{live['ratio']:.1f}× fewer users."
    if il["users_needed"] is None and ab["users_needed"] is None:
        return head + (
            ": neither reached significance, so this run gives no ratio (the served pair is "
            "close on these topics; run more users)."
        )
    return head + "; interleaving did not reach significance, so there is no ratio to show."


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
main{max-width:980px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:1.7em;margin:.2em 0}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #d8dce3;padding-bottom:4px}
.sub{color:#5a6272;margin:0 0 1em}
.card{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:14px 18px;margin:12px 0}
.verdict li{margin:.45em 0;line-height:1.45}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border-bottom:1px solid #e4e7ec;padding:6px 10px;text-align:right}
th:first-child,td:first-child{text-align:left}#stages td:nth-child(2),#stages th:nth-child(2){text-align:left}th{background:#eef1f5;font-weight:600}
.num{font-variant-numeric:tabular-nums}
img{max-width:100%;height:auto;display:block;margin:8px auto}
code{background:#eef1f5;padding:1px 4px;border-radius:4px}
.good{color:#17733a;font-weight:600}.bad{color:#a3261b;font-weight:600}
"""


def _offline_table(page: _Page) -> str:
    rows = []
    for key, label in OFFLINE_METRICS:
        rows.append(
            f"<tr><td>{label}</td><td>{page.num(f'offline/metrics/bm25/{key}')}</td>"
            f"<td>{page.num(f'offline/metrics/listnet/{key}')}</td>"
            f"<td>{page.num(f'offline/differences/{key}', 'signed')}</td>"
            f"<td>{page.num(f'offline/pvalues/{key}', 'p')}</td></tr>"
        )
    return (
        '<table id="offline"><tr><th>Metric (held-out queries)</th><th>BM25</th>'
        "<th>BM25 + ListNet</th><th>Difference</th><th>p-value</th></tr>"
        + "".join(rows)
        + "</table>"
        f"<p>{page.num('offline/queries', 'int')} queries, {page.num('offline/folds', 'int')}-fold "
        "cross-validation over queries (each query ranked by a model that never trained on it); "
        f"paired permutation test across queries on NDCG@10: p = {page.num('offline/pvalue', 'p')} "
        f"({html.escape(page.summary['offline']['test_method'])}).</p>"
        + _feature_groups(page.summary["offline"])
    )


def _feature_groups(offline: dict[str, Any]) -> str:
    """Which feature groups each fold's reranker used, and how they were chosen."""
    folds = "; ".join(
        f"fold {i}: {html.escape('+'.join(groups))}"
        for i, groups in enumerate(offline.get("feature_groups", []), start=1)
    )
    how = html.escape(str(offline.get("settings", {}).get("feature_groups", "")))
    return f'<p id="feature-groups">Reranker feature groups ({how}): {folds}.</p>' if folds else ""


def _ab_table(page: _Page) -> str:
    rows = []
    for arm, label in (("control", "Control: BM25"), ("variant", "Variant: BM25 + ListNet")):
        rows.append(
            f"<tr><td>{label}</td><td>{page.num(f'ab/{arm}/users', 'int')}</td>"
            f"<td>{page.num(f'ab/{arm}/conversions', 'int')}</td>"
            f"<td>{page.num(f'ab/{arm}/rate', 'pct')}</td>"
            f"<td>{page.num(f'simulation/{arm}/expected_conversion_rate', 'pct')}</td></tr>"
        )
    ab = page.summary["ab"]
    tests = "".join(
        f"<tr><td>{html.escape(name)} p-value ({html.escape(ab['alternative'])})</td>"
        f"<td>{page.num(f'ab/pvalues/{name}', 'p')}</td></tr>"
        for name in ab["pvalues"]
    )
    return (
        '<table id="ab"><tr><th>Arm</th><th>Users</th><th>Converted users</th>'
        "<th>Conversion rate</th><th>Expected under the click model</th></tr>"
        + "".join(rows)
        + "</table>"
        + '<table id="ab-tests" style="margin-top:10px"><tr><th>Statistic</th><th>Value</th></tr>'
        f"<tr><td>Difference (variant − control)</td><td>{page.num('ab/difference', 'pp')}</td></tr>"
        f"<tr><td>Relative lift</td><td>{page.num('ab/relative_difference', 'rel')}</td></tr>"
        f"<tr><td>{page.num('ab/ci/level', 'level')} confidence interval "
        f"({html.escape(ab['ci']['method'])})</td><td>{page.num('ab/ci/low', 'pp')} to "
        f"{page.num('ab/ci/high', 'pp')}</td></tr>"
        + tests
        + f"<tr><td>Sample ratio check p-value (planned split "
        f"{page.num('ab/srm/planned_variant_share', 'level')} variant)</td>"
        f"<td>{page.num('ab/srm/pvalue', 'p')}</td></tr></table>"
    )


def _live_section(page: _Page) -> str:
    live = page.summary.get("live")
    if not live:
        return ""
    rows = []
    for key, label in (("ab", "A/B, conversion"), ("interleave", "Interleaving (team-draft)")):
        for stop_key in ("stopping", "stopping_always_valid"):
            stop = live[key].get(stop_key)
            if stop is None:
                continue
            base = f"live/{key}/{stop_key}"
            needed = (
                page.num(f"{base}/users_needed", "int")
                if stop["users_needed"] is not None
                else f"not reached (&gt; {page.num(f'{base}/users_run', 'int')})"
            )
            p_key = "pvalue_at_stop" if stop["users_needed"] is not None else "final_pvalue"
            rows.append(
                f"<tr><td>{label}</td><td>{html.escape(stop['test'])}</td>"
                f"<td>{page.num(f'live/{key}/users', 'int')}</td>"
                f"<td>{page.num(f'{base}/step', 'int')}</td>"
                f"<td>{page.num(f'{base}/level', 'g')}</td><td>{needed}</td>"
                f"<td>{page.num(f'{base}/{p_key}', 'p')}</td></tr>"
            )
    arms = live["ab"]["arms"]
    ab_rates = ", ".join(
        f"{name} ({html.escape(arms[name]['ranker'])}) "
        f"{page.num(f'live/ab/arms/{name}/conversion_rate', 'pct')} of "
        f"{page.num(f'live/ab/arms/{name}/users', 'int')} users (click model's exact rate "
        f"{page.num(f'live/ab/arms/{name}/expected_conversion_rate', 'pct')})"
        for name in ("control", "variant")
    )
    il = "live/interleave/summary"
    ratio = (
        f"<p>Ratio of users needed (A/B ÷ interleaving, sign test): "
        f"{page.num('live/ratio', 'g')}{' (a lower bound)' if live['ratio_is_lower_bound'] else ''}"
        ".</p>"
        if live["ratio"] is not None
        else "<p>No ratio: interleaving did not reach significance within its users.</p>"
    )
    return (
        "<h2>Live: the same ranker pair served over HTTP, A/B vs interleaving</h2>"
        f"<p>The crawled corpus served by <code>searchlab serve</code> (BM25 and a ListNet "
        f"model trained on every judged query but every {page.num('live/held_out_every', 'int')}th; "
        f"the {page.num('live/topics', 'int')} left out are the users' topics). Simulated users "
        f"(the click model's) searched it over HTTP, {page.num('live/concurrency', 'int')} at "
        f"once, first in an A/B experiment — {ab_rates} — then in a team-draft interleaving "
        f"experiment: {page.num(f'{il}/users_preferring_variant', 'int')} users clicked more on "
        f"ListNet's results, {page.num(f'{il}/users_preferring_control', 'int')} more on BM25's "
        f"(queries won {page.num(f'{il}/variant_wins', 'int')} to "
        f"{page.num(f'{il}/control_wins', 'int')}, {page.num(f'{il}/ties', 'int')} ties), read "
        "back from the event log by <code>searchlab ab interleave --events</code>'s query.</p>"
        '<table id="live"><tr><th>Experiment</th><th>Test</th><th>Users run</th>'
        "<th>Look every</th><th>Level per look</th><th>Users to significance</th>"
        "<th>p (at the stop, else last look)</th></tr>"
        + "".join(rows)
        + "</table>"
        + ratio
        + f'<p id="stopping-rule">Stopping rule: {html.escape(live["stopping_rule"])}</p>'
    )


def _stages_table(page: _Page) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(stage['label'])}</td><td>{html.escape(stage['detail'])}</td>"
        f"<td>{page.num(f'stages/{i}/seconds', 's')}</td></tr>"
        for i, stage in enumerate(page.summary["stages"])
    )
    return (
        '<table id="stages"><tr><th>Stage</th><th>What happened</th><th>Time</th></tr>'
        + rows
        + f"<tr><th>Total</th><th></th><th>{page.num('total_seconds', 's')}</th></tr></table>"
    )


def render_html(summary: dict[str, Any], plot_png: bytes | None) -> str:
    page = _Page(summary)
    settings = summary["settings"]
    model = summary["simulation"]["model"]
    plot = (
        f'<img id="null-plot" alt="Null distribution of the conversion difference under '
        f'shuffling, with the observed difference" src="data:image/png;base64,'
        f'{base64.b64encode(plot_png).decode()}">'
        if plot_png
        else "<p>(no plot)</p>"
    )
    verdict = "".join(f"<li>{html.escape(line)}</li>" for line in summary["conclusions"])
    conv = ", ".join(f"{c:g}" for c in model["conversion_by_grade"])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>searchlab demo report</title><link rel="icon" href="data:,"><style>{_CSS}</style></head>
<body><main>
<h1>Is the learned ranker better for our users?</h1>
<p class="sub">searchlab {html.escape(summary["searchlab_version"])} · Cranfield 1400 crawled from a
local site · seed {page.num("settings/seed", "int")} · {page.num("settings/users", "int")} simulated
users{" · quick run" if settings["quick"] else ""} · {html.escape(summary["created_utc"])}</p>
<div class="card verdict"><h2 style="margin-top:0;border:0">Conclusions</h2><ul>{verdict}</ul></div>
<h2>Offline evaluation: BM25 vs BM25 + ListNet rerank</h2>{_offline_table(page)}
<h2>A/B test: conversion of simulated users</h2>{_ab_table(page)}
<div class="card">{plot}<p>The null distribution of the difference in conversion rates when the
arm labels are shuffled (exact, hypergeometric), with the observed difference marked.</p></div>
<h2>Power check</h2>
<p>Under the click model the two rankings imply conversion rates of
{page.num("simulation/control/expected_conversion_rate", "pct")} and
{page.num("simulation/variant/expected_conversion_rate", "pct")}, a difference of
{page.num("power/implied_difference", "pp")}. At α = {page.num("power/alpha", "g")} and
{page.num("power/target_power", "level")} power that needs
{page.num("power/needed_users_per_group", "int")} users per arm; the experiment had
{page.num("power/users_per_group", "int")} (smallest arm), for which the minimum detectable
difference is {page.num("power/mde_at_users", "pp")}.</p>
{_live_section(page)}
<h2>How the users were simulated</h2>
<p>Each user is assigned by a stable hash of their id and the experiment salt, issues 1 +
Poisson({page.num("simulation/design/extra_queries_mean", "g")}) queries drawn from the
{page.num("simulation/queries", "int")} held-out queries, and sees the top
{page.num("simulation/model/depth", "int")} of their arm's ranking. Position-based click model:
rank r is examined with probability r<sup>−{page.num("simulation/model/examination_decay", "g")}</sup>;
an examined result of grade g is clicked with probability from
{page.num("simulation/model/attractiveness_floor", "g")} (g = 0) to
{page.num("simulation/model/attractiveness_ceiling", "g")} (g = {page.num("simulation/model/max_grade", "int")}),
following 2<sup>g</sup> − 1; a click on grade g converts with probability ({conv}).</p>
<h2>Pipeline</h2>{_stages_table(page)}
<p>Each stage is a command you can run on your own data: <code>searchlab site serve</code>,
<code>searchlab crawl</code>, <code>searchlab text import --format warc</code>,
<code>searchlab text eval</code>, <code>searchlab simulate</code>, <code>searchlab ab test --data</code>,
<code>searchlab serve</code>, <code>searchlab simulate --live</code>, <code>searchlab ab interleave --events</code>.
Every number on this page is in <code>summary.json</code> beside it.</p>
</main></body></html>
"""


def write_report(out_dir: str | Path, summary: dict[str, Any], plot_png: Path | None) -> Path:
    """Write summary.json, then index.html rendered from the JSON as written; returns the page."""
    out = Path(out_dir)
    summary_path = atomic_write_json(out / "summary.json", summary)
    written = json.loads(summary_path.read_text(encoding="utf-8"))
    png = plot_png.read_bytes() if plot_png is not None else None
    return atomic_write_text(out / "index.html", render_html(written, png))


def report_numbers(page_html: str) -> Sequence[tuple[str, str, str, str]]:
    """(key, kind, raw JSON value, shown text) of every number span on a rendered page."""
    import re

    pattern = re.compile(
        r'<span class="num" data-key="([^"]*)" data-kind="([^"]*)" data-value="([^"]*)">([^<]*)</span>'
    )
    return [
        (html.unescape(k), kind, html.unescape(v), html.unescape(t))
        for k, kind, v, t in pattern.findall(page_html)
    ]
