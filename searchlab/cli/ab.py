"""CLI for the ab job: ``searchlab ab test`` and ``searchlab ab power`` (thin; logic in
searchlab.ab)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from searchlab._io import check_output_files
from searchlab.cli._common import console, print_json, print_warning
from searchlab.errors import InputError

app = typer.Typer(
    name="ab",
    help="Exact, fast significance for A/B experiments (permutation tests, power planning).",
    no_args_is_help=True,
    rich_markup_mode=None,
)

COUNTS_METRIC_NAME = "conversion"
ALTERNATIVE_HELP = "larger (variant above control), smaller, or two-sided."


@app.command("test")
def test(
    control: str | None = typer.Option(
        None,
        "--control",
        help="CONVERTED/USERS (e.g. 26000/1000000), or a group label with --data.",
    ),
    variant: str | None = typer.Option(
        None, "--variant", help="CONVERTED/USERS, or a group label with --data/--histogram."
    ),
    events: Path | None = typer.Option(
        None, "--events", help="Event log of searchlab serve (SQLite); with --experiment."
    ),
    experiment: str | None = typer.Option(
        None, "--experiment", help="Experiment id in --events; its arms are the groups."
    ),
    data: Path | None = typer.Option(
        None, "--data", help="User-level table (CSV or Parquet), one row per user."
    ),
    histogram: Path | None = typer.Option(
        None,
        "--histogram",
        help="Per-group histogram table (CSV or Parquet): group,value,count[,metric].",
    ),
    group_col: str | None = typer.Option(
        None, "--group-col", help="Column naming each row's group (histogram default: group)."
    ),
    metric: list[str] | None = typer.Option(
        None, "--metric", help="Metric column to test; repeat for several."
    ),
    metric_type: str = typer.Option(
        "auto", "--metric-type", help="auto, binary (0/1, true/false) or continuous."
    ),
    name: str = typer.Option(COUNTS_METRIC_NAME, "--name", help="Metric name for counts input."),
    alternative: str = typer.Option("two-sided", "--alternative", help=ALTERNATIVE_HELP),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance threshold, fixed in advance."),
    resamples: int | None = typer.Option(
        None,
        "--resamples",
        help="Monte Carlo shuffles (binary: adds a Monte Carlo p-value; continuous: default 10000).",
    ),
    bootstrap_resamples: int = typer.Option(
        2000, "--bootstrap-resamples", help="Bootstrap resamples for continuous metrics' CI."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of every random draw."),
    planned_share: float = typer.Option(
        0.5, "--planned-variant-share", help="Planned share of users in the variant (SRM check)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object with every number."),
    plot: Path | None = typer.Option(None, "--plot", help="Write the null distribution(s) (PNG)."),
    report: Path | None = typer.Option(
        None, "--report", help="Write one self-contained HTML page."
    ),
) -> None:
    """Is the difference between variant and control special, or what shuffling produces?"""
    from searchlab.ab import analyze, plot_analysis, write_html_report
    from searchlab.ab.inputs import parse_counts
    from searchlab.ab.tables import (
        MetricSamples,
        check_metric_type,
        read_table,
        samples_from_histogram,
        samples_from_table,
    )

    check_output_files(plot, report)
    if plot is not None and report is not None and plot.resolve() == report.resolve():
        raise InputError("--plot and --report name the same file", hint="give two file names")
    check_metric_type(metric_type)
    metrics = list(metric or [])
    if data is not None and histogram is not None:
        raise InputError("give --data or --histogram, not both", hint="one input per run")
    if (data is not None or histogram is not None) and name != COUNTS_METRIC_NAME:
        raise InputError(
            "--name names the metric of counts input",
            hint="with --data or --histogram the metric is named by --metric",
        )
    if events is not None or experiment is not None:
        from searchlab.serve.analysis import experiment_samples

        if events is None or experiment is None or data is not None or histogram is not None:
            raise InputError(
                "--events and --experiment go together, without --data or --histogram",
                hint="e.g. --events events.db --experiment listnet-vs-bm25 --metric converted",
            )
        found = experiment_samples(events, experiment, metrics, metric_type=metric_type)
        samples, planned_share = found.samples, found.planned_variant_share
        control, variant = f"control ({found.control_ranker})", f"variant ({found.variant_ranker})"
    elif control is None or variant is None:
        raise InputError(
            f"missing option '--{'control' if control is None else 'variant'}'",
            hint="give --control and --variant, or --events DB --experiment ID; "
            "see 'searchlab ab test --help'",
        )
    elif data is not None:
        if group_col is None:
            raise InputError("--data needs --group-col", hint="name the column holding the group")
        if not metrics:
            raise InputError("--data needs --metric", hint="name at least one metric column")
        samples = samples_from_table(
            read_table(data),
            group_col=group_col,
            control=control,
            variant=variant,
            metrics=metrics,
            metric_type=metric_type,
            source=str(data),
        )
    elif histogram is not None:
        samples = samples_from_histogram(
            read_table(histogram),
            group_col=group_col or "group",
            control=control,
            variant=variant,
            metrics=metrics,
            metric_type=metric_type,
            source=str(histogram),
        )
    else:
        if metrics or group_col:
            raise InputError(
                "--metric and --group-col need --data or --histogram",
                hint="or give counts: --control 26000/1000000 --variant 26400/1000000",
            )
        if metric_type == "continuous":
            raise InputError(
                "counts describe a binary metric, not a continuous one",
                hint="drop --metric-type, or give per-user values with --data",
            )
        samples = [
            MetricSamples(
                name,
                "binary",
                parse_counts(control, what="--control"),
                parse_counts(variant, what="--variant"),
            )
        ]
    labels = {"control_label": "control", "variant_label": "variant"}
    if data is not None or histogram is not None:
        labels = {"control_label": control, "variant_label": variant}
    analysis = analyze(
        samples,
        alternative=alternative,
        alpha=alpha,
        resamples=resamples,
        bootstrap_resamples=bootstrap_resamples,
        seed=seed,
        planned_variant_share=planned_share,
        **labels,
    )
    if plot is not None:
        plot_analysis(analysis, plot)
    if report is not None:
        write_html_report(analysis, report, title=f"A/B test: {variant} vs {control}")
    if as_json:
        print_json(analysis.to_dict())
        return
    for metric_name, check in analysis.srm_checks():
        if check.mismatch:
            print_warning(
                check.message if metric_name is None else f"{metric_name}: {check.message}"
            )
    _print_analysis(analysis)
    for path, what in ((plot, "plot"), (report, "report")):
        if path is not None:
            console.print(f"wrote {what}: {path}")


@app.command("power")
def power(
    baseline: float = typer.Option(
        ..., "--baseline", help="Control conversion rate (e.g. 0.026), or mean with --std."
    ),
    mde: float | None = typer.Option(
        None, "--mde", help="Minimum detectable effect (absolute; relative with --relative)."
    ),
    relative: bool = typer.Option(False, "--relative", help="Read --mde as a share of baseline."),
    users: int | None = typer.Option(
        None, "--users", help="Users per group: solve for the minimum detectable effect instead."
    ),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance threshold."),
    power_: float = typer.Option(0.8, "--power", help="Chance to detect the effect if real."),
    alternative: str = typer.Option("two-sided", "--alternative", help=ALTERNATIVE_HELP),
    std: float | None = typer.Option(
        None, "--std", help="Per-user standard deviation: plan a continuous metric instead."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Users per group needed to detect an effect, or the effect a given size can detect."""
    from rich.table import Table

    from searchlab.ab import power_plan

    plan = power_plan(
        baseline=baseline,
        mde=mde,
        relative=relative,
        users_per_group=users,
        alpha=alpha,
        power=power_,
        alternative=alternative,
        std=std,
    )
    if as_json:
        print_json(plan)
        return
    table = Table(title="experiment plan", show_header=False, title_justify="left")
    binary = plan.metric == "binary"
    table.add_row("baseline", f"{100 * plan.baseline:.4g}%" if binary else f"{plan.baseline:.4g}")
    mde_text = f"{100 * plan.mde:.4g} points" if binary else f"{plan.mde:.4g}"
    if plan.relative_mde is not None:
        mde_text += f" ({100 * plan.relative_mde:+.3g}% relative)"
    table.add_row("minimum detectable effect", mde_text)
    table.add_row("users per group", f"{plan.users_per_group:,}")
    table.add_row("users in total", f"{plan.total_users:,}")
    table.add_row("alpha / power", f"{plan.alpha:g} / {plan.power:g} ({plan.alternative})")
    table.add_row("method", plan.method)
    console.print(table)


def _print_srm(label: str, check: Any) -> None:
    from rich.markup import escape

    style = "bold red" if check.mismatch else "dim"
    console.print(f"[{style}]{escape(label)}: {escape(check.message)}[/]")


def _print_analysis(analysis: Any) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    per_metric = analysis.srm_checks()[0][0] is not None
    if not per_metric:
        _print_srm("sample ratio check", analysis.srm)
    for m in analysis.metrics:
        if per_metric:
            _print_srm(f"sample ratio check ({m.name})", m.srm)
        binary = m.type == "binary"
        groups = Table(title=f"{m.name} ({m.type})", title_justify="left", box=box.SIMPLE_HEAD)
        groups.add_column("group")
        groups.add_column("users", justify="right")
        groups.add_column("rate" if binary else "mean", justify="right")
        groups.add_column("converted" if binary else "total", justify="right")
        for g in (m.control, m.variant):
            groups.add_row(
                g.label,
                f"{g.users:,}",
                f"{100 * g.mean:.3f}%" if binary else f"{g.mean:.4g}",
                f"{g.total:,.0f}" if binary else f"{g.total:,.2f}",
            )
        diff = f"{100 * m.difference:+.4f} points" if binary else f"{m.difference:+.4g}"
        rel = "" if m.relative_difference is None else f" ({100 * m.relative_difference:+.2f}%)"
        groups.add_row("difference", "", diff + rel, "")
        console.print(groups)
        seed = next((t.seed for t in m.tests if t.seed is not None), None)
        alternative = m.tests[0].alternative
        title = f"tests ({alternative}" + ("" if seed is None else f"; seed {seed}")
        tests = Table(title=title + ")", title_justify="left", box=box.SIMPLE_HEAD)
        with_mc = any(t.standard_error for t in m.tests)
        with_r = any(t.resamples for t in m.tests)
        unit = 100.0 if binary else 1.0  # binary intervals in percentage points
        sided = "" if alternative == "two-sided" else " one-sided"
        interval = f"{100 * (1 - m.alpha):g}%{sided} interval" + (" (points)" if binary else "")
        tests.add_column("test", no_wrap=True)
        for column, shown in (("p-value", True), ("MC s.e.", with_mc), (interval, True)):
            if shown:
                tests.add_column(column, justify="right", no_wrap=True)
        if with_r:
            tests.add_column("R", justify="right", no_wrap=True)
        for t in m.tests:
            cells = [t.method, "—" if t.pvalue is None else f"{t.pvalue:.4g}"]
            if with_mc:
                cells.append(f"{t.standard_error:.2g}" if t.standard_error else "")
            cells.append("—" if t.interval is None else t.interval.text(unit))
            if with_r:
                cells.append(f"{t.resamples:,}" if t.resamples else "")
            tests.add_row(*cells)
        console.print(tests)
        color = {True: "green", False: "yellow", None: "magenta"}[m.significant]
        label = "verdict:" if m.significant is not None else "no verdict yet:"
        console.print(f"[{color}]{label}[/] {escape(m.verdict)}\n", highlight=False)


def register(root: typer.Typer) -> None:
    """Add this job's commands to the root app."""
    root.add_typer(app, name="ab")
