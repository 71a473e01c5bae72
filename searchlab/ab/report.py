"""Render an A/B analysis as HTML: a fragment other pages can embed, or one self-contained
page (inline CSS, plots as base64 PNG data URIs, no external requests).

Plain f-strings with ``html.escape`` rather than a template engine: one small page does not
justify a Jinja2 dependency, and every inserted value is escaped here."""

from __future__ import annotations

import base64
import html
import os

from searchlab.ab.results import ABAnalysis, MetricAnalysis, SRMCheck, TestResult

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:960px;margin:2em auto;
padding:0 1em;color:#1d2733;line-height:1.45}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #d8dee6}
table.ab{border-collapse:collapse;margin:.6em 0;font-size:.92em}
table.ab th,table.ab td{padding:.25em .7em;border-bottom:1px solid #e6eaef;text-align:right}
table.ab th:first-child,table.ab td:first-child{text-align:left}
.verdict{padding:.6em .9em;border-left:4px solid #9bb4d0;background:#f4f7fa}
.verdict.sig{border-color:#2a9d8f}.verdict.undecided{border-color:#c77dff}.srm-bad{color:#b00020;font-weight:600}
img.null{max-width:100%;height:auto}.note{color:#5b6775;font-size:.85em}
"""


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _num(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}g}"


def _pvalue(test: TestResult) -> str:
    if test.pvalue is None:
        return "—"
    text = f"{test.pvalue:.4g}"
    if test.standard_error:
        text += f" ± {test.standard_error:.2g}"
    return text


def _interval(test: TestResult, unit: float, suffix: str) -> str:
    interval = test.interval
    if interval is None:
        return "—"
    sided = "" if interval.alternative == "two-sided" else " one-sided"
    return f"{interval.text(unit)}{suffix} ({100 * interval.level:g}%{sided})"


def _srm_html(check: SRMCheck, label: str = "Sample ratio check") -> str:
    style = "srm-bad" if check.mismatch else "note"
    return f'<p class="{style}">{html.escape(label)}: {html.escape(check.message)}.</p>'


def metric_fragment(
    metric: MetricAnalysis, *, plot: bool = True, heading: str = "h2", srm: bool = False
) -> str:
    """One metric: (with ``srm``, its sample-ratio check,) group table, tests table, verdict,
    and (optionally) the null plot."""
    esc = html.escape
    is_binary = metric.type == "binary"
    rows = []
    for group in (metric.control, metric.variant):
        mean = f"{100 * group.mean:.3f}%" if is_binary else f"{group.mean:.4g}"
        total = f"{group.total:,.0f} converted" if is_binary else f"{group.total:,.2f} total"
        if group.denominator_total is not None:
            total += f" / {group.denominator_total:,.2f}"
        rows.append(
            f"<tr><td>{esc(group.label)}</td><td>{group.users:,}</td><td>{mean}</td>"
            f"<td>{total}</td></tr>"
        )
    rel = "—" if metric.relative_difference is None else f"{100 * metric.relative_difference:+.2f}%"
    if metric.relative_interval is not None:
        rel += f" ({esc(metric.relative_interval.text(100))}%, delta method)"
    extra = ""
    if metric.adjustment is not None:
        a = metric.adjustment
        extra += (
            f"<p>CUPED on <b>{esc(a.covariate)}</b>: correlation {a.correlation:+.3f}, θ = "
            f"{a.theta:.4g}; unadjusted difference {a.unadjusted_difference:+.4g}; "
            f"{esc(a.variance_change())}.</p>"
        )
    if metric.adjusted_pvalue is not None and metric.decisive.pvalue != metric.adjusted_pvalue:
        extra += (
            f"<p>Corrected p-value (multiple testing): <b>{metric.adjusted_pvalue:.4g}</b>.</p>"
        )
    diff = f"{100 * metric.difference:+.4f} points" if is_binary else f"{metric.difference:+.4g}"
    unit, suffix = (100.0, " points") if is_binary else (1.0, "")
    tests = "".join(
        f"<tr><td>{esc(t.method)}</td><td>{esc(t.alternative)}</td><td>{_pvalue(t)}</td>"
        f"<td>{_num(t.statistic)}</td><td>{_interval(t, unit, suffix)}</td>"
        f"<td>{'' if t.resamples is None else f'{t.resamples:,}'}</td></tr>"
        for t in metric.tests
    )
    notes = "".join(
        f"<li><b>{esc(t.method)}</b>: {esc(t.note)}</li>" for t in metric.tests if t.note
    )
    image = ""
    if plot:
        from searchlab.ab.plot import plot_null_distribution

        uri = png_data_uri(plot_null_distribution(metric))
        image = (
            f'<p><img class="null" src="{uri}" alt="null distribution of the difference in '
            f'{esc(metric.name)} with the observed value marked"></p>'
        )
    seed = next((t.seed for t in metric.tests if t.seed is not None), None)
    seed_note = "" if seed is None else f" Random draws used seed {seed}."
    verdict_class = {True: "verdict sig", False: "verdict", None: "verdict undecided"}
    return (
        f"<{heading}>{esc(metric.name)} ({esc(metric.definition or metric.type)}): "
        f"{esc(metric.variant.label)} vs {esc(metric.control.label)}</{heading}>"
        f"{_srm_html(metric.srm) if srm else ''}"
        '<table class="ab"><tr><th>group</th><th>users</th>'
        f"<th>{'rate' if is_binary else 'mean'}</th><th>total</th></tr>{''.join(rows)}</table>"
        f"<p>Difference (variant − control): <b>{diff}</b>; relative: <b>{rel}</b>.</p>{extra}"
        '<table class="ab"><tr><th>method</th><th>alternative</th><th>p-value</th>'
        f"<th>statistic</th><th>interval for the difference</th><th>resamples</th></tr>{tests}"
        "</table>"
        f'<p class="{verdict_class[metric.significant]}">{esc(metric.verdict)}</p>'
        f"{image}"
        f'<ul class="note">{notes}</ul><p class="note">Alpha {metric.alpha:g} was fixed before '
        f"looking at the data.{seed_note}</p>"
    )


def analysis_fragment(analysis: ABAnalysis, *, plot: bool = True, heading: str = "h2") -> str:
    """The sample-ratio check (one per metric when their group sizes differ), then every
    metric: embeddable in a larger page."""
    per_metric = analysis.srm_checks()[0][0] is not None
    head = "" if per_metric else _srm_html(analysis.srm)
    return head + "".join(
        metric_fragment(m, plot=plot, heading=heading, srm=per_metric) for m in analysis.metrics
    )


EXPLANATION = (
    "<p>How to read this: the users were split at random between control and variant. If the "
    "change did nothing, the group labels are arbitrary, and reshuffling users between the groups "
    "(keeping the group sizes) produces differences by chance alone. The p-value is the share "
    "of those shuffled worlds whose difference is at least as extreme as the one observed; "
    "ties count. For a conversion metric that share is computed exactly (the hypergeometric "
    "distribution); for spend-like metrics it is estimated from random shuffles, with its "
    "standard error. A p-value below the threshold alpha, fixed in advance, means chance alone "
    "rarely produces such a difference.</p>"
)


def render_html_page(analysis: ABAnalysis, *, title: str = "A/B test report") -> str:
    esc = html.escape
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{esc(title)}</h1>{EXPLANATION}{analysis_fragment(analysis)}</body></html>\n"
    )


def write_html_report(
    analysis: ABAnalysis, path: str | os.PathLike[str], *, title: str = "A/B test report"
) -> None:
    """Write the self-contained page atomically."""
    from searchlab._io import atomic_write_text

    atomic_write_text(path, render_html_page(analysis, title=title))
