"""CLI for the ab job: ``searchlab ab test``, ``searchlab ab interleave``, ``searchlab ab power``.

Thin: parsing, printing, exit codes; the statistics live in ``searchlab.ab``. ``ab test`` is
three steps with one seam each:

1. input → samples: ``_samples_from_counts``, ``_samples_from_histogram`` and
   ``_samples_from_tables`` turn what was given into ``Inputs`` (a list of
   ``searchlab.ab.MetricSamples``, how rows became users, a title); another input (such as the
   live service's event store) adds one function that returns ``Inputs``;
2. analysis: ``searchlab.ab.analyze`` or, with ``--sequential``, ``sequential_analyze``;
3. printing: ``_print_analysis`` (or ``--json``, ``--plot``, ``--report``).

Nothing heavy is imported at module level: counts input (``--control 3/6 --variant 4/6``)
loads numpy and our own code, no scipy, statsmodels, pandas, numba or DuckDB.
"""

from __future__ import annotations

from dataclasses import dataclass
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
EXPOSURE_WARNING_SHARE = 0.01  # GrowthBook's threshold for users in several arms


@dataclass(frozen=True)
class Inputs:
    """What step 1 hands to step 2."""

    samples: list[Any]  # searchlab.ab.MetricSamples, control first in every one
    exposure: Any = None  # searchlab.ab.results.Exposure, for table inputs
    title: str = "A/B test"
    labels: tuple[str, ...] = ("control", "variant")
    planned_variant_share: float | None = None  # what the source itself planned (event log)


@app.command("test")
def test(
    control: str | None = typer.Option(
        None,
        "--control",
        help="CONVERTED/USERS (e.g. 26000/1000000), or the control's label with --data/--sql.",
    ),
    variant: list[str] | None = typer.Option(
        None,
        "--variant",
        help="CONVERTED/USERS or a label; repeat for several variants (with --data: default "
        "every other label).",
    ),
    events: Path | None = typer.Option(
        None, "--events", help="Event log of searchlab serve (SQLite); with --experiment."
    ),
    experiment: str | None = typer.Option(
        None, "--experiment", help="Experiment id in --events; its arms are the groups."
    ),
    data: list[str] | None = typer.Option(
        None,
        "--data",
        help="CSV or Parquet: files, folders or globs (repeatable); with --user-col a row is an "
        "event, else a user.",
    ),
    sql: str | None = typer.Option(
        None, "--sql", help="A SELECT run by the engine; the --data files are the table 'data'."
    ),
    engine: str = typer.Option("duckdb", "--engine", help="duckdb (embedded) or spark."),
    memory_limit: str | None = typer.Option(
        None, "--memory-limit", help="DuckDB's memory limit, e.g. 500MB (it spills beyond)."
    ),
    histogram: Path | None = typer.Option(
        None,
        "--histogram",
        help="Per-group histogram table (CSV or Parquet): group,value,count[,metric].",
    ),
    group_col: str | None = typer.Option(
        None, "--group-col", help="Column naming each row's arm (histogram default: group)."
    ),
    user_col: str | None = typer.Option(
        None, "--user-col", help="Column of user ids: aggregate rows to one per user."
    ),
    multiple_exposures: str = typer.Option(
        "exclude",
        "--multiple-exposures",
        help="Users seen in several arms: exclude, first (arm of their first row, needs "
        "--time-col) or keep (a unit per user and arm).",
    ),
    time_col: str | None = typer.Option(
        None, "--time-col", help="Column ordering a user's rows (for --multiple-exposures first)."
    ),
    metric: list[str] | None = typer.Option(
        None,
        "--metric",
        help="Metric column, COL or COL:RULE (rule per user: any, sum, mean, max, min; "
        "default any for 0/1 columns, sum otherwise); repeat for several.",
    ),
    ratio: list[str] | None = typer.Option(
        None, "--ratio", help="Ratio metric NAME=NUMERATOR/DENOMINATOR (e.g. ctr=clicks/searches)."
    ),
    covariate: list[str] | None = typer.Option(
        None,
        "--covariate",
        help="CUPED: a pre-experiment column COL (every metric) or METRIC=COL[:RULE].",
    ),
    covariate_missing: str | None = typer.Option(
        None,
        "--covariate-missing",
        help="Users without the covariate: zero or drop (default: refuse and count them).",
    ),
    metric_type: str = typer.Option(
        "auto", "--metric-type", help="auto, binary (0/1, true/false) or continuous."
    ),
    name: str = typer.Option(COUNTS_METRIC_NAME, "--name", help="Metric name for counts input."),
    alternative: str = typer.Option("two-sided", "--alternative", help=ALTERNATIVE_HELP),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance threshold, fixed in advance."),
    correction: str = typer.Option(
        "holm",
        "--correction",
        help="Multiple testing over variants x metrics: holm, bonferroni or none.",
    ),
    resamples: int | None = typer.Option(
        None,
        "--resamples",
        help="Monte Carlo shuffles (binary: adds a Monte Carlo p-value; others: default 10000).",
    ),
    bootstrap_resamples: int = typer.Option(
        2000,
        "--bootstrap-resamples",
        help="Bootstrap resamples for continuous metrics' CI (0: no bootstrap interval).",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of every random draw."),
    planned_share: float | None = typer.Option(
        None,
        "--planned-variant-share",
        help="Two arms: planned share of users in the variant (SRM check; default 0.5).",
    ),
    planned_split: str | None = typer.Option(
        None, "--planned-split", help="Planned weights per arm, control first (e.g. 50,25,25)."
    ),
    sequential: bool = typer.Option(
        False,
        "--sequential",
        help="Anytime-valid confidence sequences and p-values (valid at every look).",
    ),
    tuning_size: float = typer.Option(
        5000, "--tuning-size", help="--sequential: users N* where the sequence is tightest."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object with every number."),
    plot: Path | None = typer.Option(None, "--plot", help="Write the null distribution(s) (PNG)."),
    report: Path | None = typer.Option(
        None, "--report", help="Write one self-contained HTML page."
    ),
) -> None:
    """Is the difference between variant and control special, or what shuffling produces?"""
    from searchlab.ab.analysis import check_correction
    from searchlab.ab.tables import check_metric_type

    check_output_files(plot, report)
    if plot is not None and report is not None and plot.resolve() == report.resolve():
        raise InputError("--plot and --report name the same file", hint="give two file names")
    if sequential and (plot is not None or report is not None):
        raise InputError(
            "--plot and --report show permutation nulls, which --sequential does not compute",
            hint="drop --plot/--report, or --sequential",
        )
    check_metric_type(metric_type)
    check_correction(correction)
    split = _planned_split(planned_split)
    variants = list(variant or [])
    tables = bool(data) or sql is not None
    if tables and histogram is not None:
        raise InputError("give --data/--sql or --histogram, not both", hint="one input per run")
    if (tables or histogram is not None) and name != COUNTS_METRIC_NAME:
        raise InputError(
            "--name names the metric of counts input",
            hint="with --data or --histogram the metric is named by --metric",
        )
    table_only = {
        "--user-col": user_col, "--ratio": ratio, "--covariate": covariate,
        "--time-col": time_col, "--covariate-missing": covariate_missing,
        "--memory-limit": memory_limit,
    }  # fmt: skip
    if events is not None or experiment is not None:
        if events is None or experiment is None or tables or histogram is not None:
            raise InputError(
                "--events and --experiment go together, without --data, --sql or --histogram",
                hint="e.g. --events events.db --experiment listnet-vs-bm25 --metric converted",
            )
        if control is not None or variants:
            raise InputError(
                "--control/--variant are not needed with --events: the experiment names its arms",
                hint="drop --control and --variant",
            )
        table_only["--group-col"] = group_col
    elif control is None:
        raise InputError(
            "missing option '--control'",
            hint="give --control and --variant, or --events DB --experiment ID; "
            "see 'searchlab ab test --help'",
        )
    if not tables:
        given = [flag for flag, value in table_only.items() if value]
        if engine != "duckdb":
            given.append("--engine")
        if given:
            raise InputError(
                f"{given[0]} works on tables: give --data or --sql",
                hint="e.g. --data events.parquet --group-col arm --user-col user_id",
            )

    # 1. input -> samples
    if events is not None:
        inputs = _samples_from_events(events, experiment, metric or [], metric_type=metric_type)
    elif tables:
        inputs = _samples_from_tables(
            data=data or [], sql=sql, engine=engine, memory_limit=memory_limit,
            group_col=group_col, control=control, variants=variants, user_col=user_col,
            multiple_exposures=multiple_exposures, time_col=time_col, metrics=metric or [],
            ratios=ratio or [], covariates=covariate or [],
            covariate_missing=covariate_missing or "error", metric_type=metric_type,
        )  # fmt: skip
    elif histogram is not None:
        inputs = _samples_from_histogram(
            histogram, group_col=group_col, control=control, variants=variants,
            metrics=metric or [], metric_type=metric_type,
        )  # fmt: skip
    else:
        if metric or group_col:
            raise InputError(
                "--metric and --group-col need --data, --sql or --histogram",
                hint="or give counts: --control 26000/1000000 --variant 26400/1000000",
            )
        inputs = _samples_from_counts(control, variants, name=name, metric_type=metric_type)

    # 2. analysis
    options = {
        "alternative": alternative, "alpha": alpha,
        "planned_variant_share": (
            planned_share if planned_share is not None else inputs.planned_variant_share
        ),
        "planned_split": split, "correction": correction, "exposure": inputs.exposure,
        "control_label": inputs.labels[0],
        "variant_label": inputs.labels[1] if events is not None else "variant",
    }  # fmt: skip
    if sequential:
        from searchlab.ab.sequential import sequential_analyze

        analysis = sequential_analyze(inputs.samples, tuning_size=tuning_size, **options)
    else:
        from searchlab.ab.analysis import analyze

        analysis = analyze(
            inputs.samples,
            resamples=resamples,
            bootstrap_resamples=bootstrap_resamples,
            seed=seed,
            **options,
        )

    # 3. printing
    if plot is not None:
        from searchlab.ab.plot import plot_analysis

        plot_analysis(analysis, plot)
    if report is not None:
        from searchlab.ab.report import write_html_report

        write_html_report(analysis, report, title=inputs.title)
    _warn_exposure(analysis)
    if as_json:
        print_json(analysis.to_dict())
        return
    checks = [(None, analysis.srm)] if sequential else analysis.srm_checks()
    for metric_name, check in checks:
        if check.mismatch:
            print_warning(
                check.message if metric_name is None else f"{metric_name}: {check.message}"
            )
    _print_analysis(analysis, sequential=sequential)
    for path, what in ((plot, "plot"), (report, "report")):
        if path is not None:
            console.print(f"wrote {what}: {path}")


def _planned_split(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(part) for part in text.split(",")]
    except ValueError as exc:
        raise InputError(
            f"--planned-split {text!r} is not a list of numbers", hint="e.g. 50,25,25"
        ) from exc


# ------------------------------------------------------------------- 1. input -> samples


def _samples_from_counts(
    control: str, variants: list[str], *, name: str, metric_type: str
) -> Inputs:
    from searchlab.ab.inputs import parse_counts
    from searchlab.ab.tables import MetricSamples

    if not variants:
        raise InputError(
            "Missing option '--variant': give the variant's counts, e.g. --variant 26400/1000000",
            hint="see 'searchlab ab test --help'",
        )
    if metric_type == "continuous":
        raise InputError(
            "counts describe a binary metric, not a continuous one",
            hint="drop --metric-type, or give per-user values with --data",
        )
    labels = ["control"] + (
        ["variant"] if len(variants) == 1 else [f"variant {i}" for i in range(1, len(variants) + 1)]
    )
    counts = [parse_counts(control, what="--control")] + [
        parse_counts(v, what="--variant" if len(variants) == 1 else f"--variant {v}")
        for v in variants
    ]
    sample = MetricSamples(name, "binary", arms=list(zip(labels, counts, strict=True)))
    title = f"A/B test: {' / '.join(variants)} vs {control}"
    return Inputs([sample], None, title, tuple(labels))


def _samples_from_events(
    events: Path, experiment: str, metrics: list[str], *, metric_type: str
) -> Inputs:
    """The live service's event log: the experiment's users, their arm and their activity."""
    from searchlab.serve.analysis import experiment_samples

    found = experiment_samples(events, experiment, metrics, metric_type=metric_type)
    labels = (f"control ({found.control_ranker})", f"variant ({found.variant_ranker})")
    title = f"A/B test {experiment}: {found.variant_ranker} vs {found.control_ranker}"
    return Inputs(found.samples, None, title, labels, found.planned_variant_share)


def _samples_from_histogram(
    path: Path,
    *,
    group_col: str | None,
    control: str,
    variants: list[str],
    metrics: list[str],
    metric_type: str,
) -> Inputs:
    from searchlab.ab.tables import read_table, samples_from_histogram

    if len(variants) != 1:
        raise InputError(
            "--histogram compares one variant with the control",
            hint="give exactly one --variant LABEL",
        )
    samples = samples_from_histogram(
        read_table(path),
        group_col=group_col or "group",
        control=control,
        variant=variants[0],
        metrics=metrics,
        metric_type=metric_type,
        source=str(path),
    )
    labels = (control, variants[0])
    return Inputs(samples, None, f"A/B test: {variants[0]} vs {control}", labels)


def _samples_from_tables(
    *,
    data: list[str],
    sql: str | None,
    engine: str,
    memory_limit: str | None,
    group_col: str | None,
    control: str,
    variants: list[str],
    user_col: str | None,
    multiple_exposures: str,
    time_col: str | None,
    metrics: list[str],
    ratios: list[str],
    covariates: list[str],
    covariate_missing: str,
    metric_type: str,
) -> Inputs:
    from searchlab.ab.engines import Source, check_engine
    from searchlab.ab.warehouse import (
        Design,
        load_experiment,
        parse_metric,
        parse_ratio,
        with_covariates,
    )

    check_engine(engine)
    specs = [parse_metric(m, metric_type) for m in metrics] + [parse_ratio(r) for r in ratios]
    if group_col is None:
        raise InputError("--data needs --group-col", hint="name the column holding the arm")
    if not specs:
        raise InputError("--data needs --metric or --ratio", hint="name at least one metric")
    design = Design(
        group_col=group_col,
        control=control,
        variants=tuple(variants) or None,
        user_col=user_col,
        multiple_exposures=multiple_exposures,
        time_col=time_col,
        covariate_missing=covariate_missing,
    )
    experiment = load_experiment(
        Source(paths=tuple(data), sql=sql),
        design,
        with_covariates(specs, covariates),
        engine=engine,
        memory_limit=memory_limit,
    )
    shown = " / ".join(experiment.labels[1:])
    title = f"A/B test: {shown} vs {experiment.labels[0]}"
    return Inputs(experiment.samples, experiment.exposure, title, experiment.labels)


# ------------------------------------------------------------------------------ 3. printing


def _warn_exposure(analysis: Any) -> None:
    exposure = getattr(analysis, "exposure", None)
    share = None if exposure is None else exposure.share_in_several_arms
    if share is not None and share > EXPOSURE_WARNING_SHARE:
        print_warning(
            f"{exposure.users_in_several_arms:,} users ({100 * share:.2f}%, above "
            f"{100 * EXPOSURE_WARNING_SHARE:g}%) were seen in more than one arm; policy "
            f"{exposure.policy!r}: check the assignment and the logging"
        )


def _print_srm(label: str, check: Any) -> None:
    from rich.markup import escape

    style = "bold red" if check.mismatch else "dim"
    console.print(f"[{style}]{escape(label)}: {escape(check.message)}[/]")


def _exposure_line(exposure: Any) -> str:
    if exposure.user_col is None:
        return f"{exposure.rows:,} rows, one user each (no --user-col)"
    several = exposure.users_in_several_arms
    done = {"exclude": "excluded", "first": "kept in their first arm", "keep": "kept in every arm"}
    return (
        f"{exposure.rows:,} rows -> {exposure.users:,} users ({exposure.user_col}); "
        f"{several:,} ({100 * exposure.share_in_several_arms:.2f}%) seen in several arms: "
        f"{done[exposure.policy]} (--multiple-exposures {exposure.policy}); "
        f"{exposure.analysed_units:,} units analysed"
    )


def _print_analysis(analysis: Any, *, sequential: bool = False) -> None:
    from rich.markup import escape

    if getattr(analysis, "exposure", None) is not None:
        console.print(f"[dim]exposure: {escape(_exposure_line(analysis.exposure))}[/]")
    per_metric = False if sequential else analysis.srm_checks()[0][0] is not None
    if not per_metric:
        _print_srm("sample ratio check", analysis.srm)
    correction = analysis.correction
    if correction is not None and correction.comparisons > 1:
        console.print(
            f"[dim]multiple testing: {escape(correction.text())}; verdicts use the corrected "
            "p-values[/]"
        )
    several = len({m.variant.label for m in analysis.metrics}) > 1
    shown = set()
    for m in analysis.metrics:
        if per_metric and m.name not in shown:
            _print_srm(f"sample ratio check ({m.name})", m.srm)
            shown.add(m.name)
        _print_metric(m, several=several, correction=correction)


def _percent(share: float) -> str:
    """A share as a percentage, small ones with two significant digits (0.048%)."""
    return f"{100 * share:.1f}%" if abs(share) >= 0.01 else f"{100 * share:.2g}%"


def _print_metric(m: Any, *, several: bool, correction: Any) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    binary = m.type == "binary"
    ratio = m.type == "ratio"
    title = f"{m.name} ({m.type}"
    if getattr(m, "definition", None):
        title += f": {m.definition}"
    title += ")" + (f": {m.variant.label} vs {m.control.label}" if several else "")
    groups = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    groups.add_column("group")
    groups.add_column("users", justify="right")
    groups.add_column("rate" if binary else "ratio" if ratio else "mean", justify="right")
    groups.add_column("converted" if binary else "numerator" if ratio else "total", justify="right")
    if ratio:
        groups.add_column("denominator", justify="right")
    for g in (m.control, m.variant):
        row = [
            g.label,
            f"{g.users:,}",
            f"{100 * g.mean:.3f}%" if binary else f"{g.mean:.4g}",
            f"{g.total:,.0f}" if binary else f"{g.total:,.2f}",
        ]
        if ratio:
            row.append(f"{g.denominator_total:,.2f}")
        groups.add_row(*row)
    unit = 100.0 if binary else 1.0  # binary intervals in percentage points
    diff = f"{100 * m.difference:+.4f} points" if binary else f"{m.difference:+.4g}"
    if getattr(m, "adjustment", None) is not None:
        diff += " (adjusted)"
    rel = "" if m.relative_difference is None else f" ({100 * m.relative_difference:+.2f}%)"
    groups.add_row("difference", "", diff + rel, "", *([""] if ratio else []))
    console.print(groups)
    interval = getattr(m, "relative_interval", None)
    if interval is not None:
        sided = "" if interval.alternative == "two-sided" else " one-sided"
        console.print(
            f"  relative lift {100 * m.relative_difference:+.2f}%: {100 * interval.level:g}%"
            f"{sided} interval {interval.text(100)}% (delta method)\n",
            highlight=False,
        )
    adjustment = getattr(m, "adjustment", None)
    if adjustment is not None:
        a = adjustment
        scale = 100.0 if binary else 1.0
        missing = f"; {a.missing:,} users without it ({a.missing_policy})" if a.missing else ""
        console.print(
            f"  CUPED on {escape(a.covariate)}: correlation {a.correlation:+.3f}, θ = "
            f"{a.theta:.4g}; unadjusted {scale * a.unadjusted_difference:+.4g} ± "
            f"{scale * a.unadjusted_standard_error:.3g}, adjusted {scale * m.difference:+.4g} ± "
            f"{scale * a.standard_error:.3g} (s.e.); variance {_percent(a.variance_reduction)} "
            f"lower: the same power with {_percent(a.users_saved_share)} fewer users "
            f"({a.users_saved_share * (m.control.users + m.variant.users):,.0f} of "
            f"{m.control.users + m.variant.users:,}){escape(missing)}\n",
            highlight=False,
        )
    seed = next((t.seed for t in m.tests if t.seed is not None), None)
    alternative = m.tests[0].alternative
    head = f"tests ({alternative}" + ("" if seed is None else f"; seed {seed}")
    tests = Table(title=head + ")", title_justify="left", box=box.SIMPLE_HEAD)
    with_mc = any(t.standard_error for t in m.tests)
    with_r = any(t.resamples for t in m.tests)
    sided = "" if alternative == "two-sided" else " one-sided"
    interval_title = f"{100 * (1 - m.alpha):g}%{sided} interval" + (" (points)" if binary else "")
    tests.add_column("test", no_wrap=True)
    for column, wanted in (("p-value", True), ("MC s.e.", with_mc), (interval_title, True)):
        if wanted:
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
    for t in m.tests:
        if t.method == "asymptotic-cs":  # state the sequential method, as the library does
            console.print(f"  [dim]{escape(t.method)}: {escape(t.note)}[/]", highlight=False)
    if correction is not None and correction.comparisons > 1 and correction.method != "none":
        console.print(
            f"  corrected p ({escape(correction.text())}): {m.adjusted_pvalue:.4g}",
            highlight=False,
        )
    color = {True: "green", False: "yellow", None: "magenta"}[m.significant]
    label = "verdict:" if m.significant is not None else "no verdict yet:"
    console.print(f"[{color}]{label}[/] {escape(m.verdict)}\n", highlight=False)


# ------------------------------------------------------------------------------ interleave


@app.command("interleave")
def interleave(
    data: Path | None = typer.Option(
        None, "--data", help="Per-query interleaving table (CSV or Parquet): user_id, credit..."
    ),
    events: Path | None = typer.Option(
        None, "--events", help="Event log of searchlab serve (SQLite); with --experiment."
    ),
    experiment: str | None = typer.Option(
        None, "--experiment", help="Interleaving experiment id in --events."
    ),
    alternative: str = typer.Option("two-sided", "--alternative", help=ALTERNATIVE_HELP),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance threshold, fixed in advance."),
    bootstrap_resamples: int = typer.Option(
        2000, "--bootstrap-resamples", help="Bootstrap resamples of the preference share."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
    sequential: bool = typer.Option(
        False, "--sequential", help="Add the anytime-valid confidence sequence of the share."
    ),
    tuning_size: float = typer.Option(
        5000, "--tuning-size", help="--sequential: users N* where the sequence is tightest."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object with every number."),
) -> None:
    """Which ranker do users prefer? Exact sign test over users of an interleaving experiment
    (a per-query table, or an experiment of searchlab serve's event log)."""
    from searchlab.ab.interleave import interleaving_test

    if (data is None) == (events is None) or (events is None) != (experiment is None):
        raise InputError(
            "give --data TABLE, or --events DB with --experiment ID",
            hint="e.g. --data queries.parquet, or --events events.db --experiment tdi-1",
        )
    if events is not None:
        from searchlab.serve.analysis import interleave_frame

        data = interleave_frame(events, experiment)
        if data.empty:
            raise InputError(
                f"experiment {experiment!r} has no searches in {events} yet",
                hint="analyse it once users have searched",
            )
    analysis = interleaving_test(
        data,
        alternative=alternative,
        alpha=alpha,
        bootstrap_resamples=bootstrap_resamples,
        seed=seed,
        sequential=sequential,
        tuning_size=tuning_size,
    )
    if as_json:
        print_json(analysis.to_dict())
        return
    _print_interleaving(analysis)


def _print_interleaving(analysis: Any) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    m = analysis.preference
    method = f" ({analysis.method})" if analysis.method else ""
    table = Table(title=f"interleaving{method}", title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("preferred", "users", "queries won"):
        table.add_column(column, justify="left" if column == "preferred" else "right")
    for side in (m.variant, m.control, m.ties):
        table.add_row(side.label, f"{side.users:,}", f"{side.queries:,}")
    table.add_row("all", f"{m.users:,}", f"{m.queries:,}")
    console.print(table)
    share = "—" if m.preference_share is None else f"{100 * m.preference_share:.2f}%"
    console.print(
        f"variant preference share (non-tied users): {share}; credit from the "
        f"{analysis.credit_source} column{'s' if analysis.credit_source == 'clicks' else ''}"
    )
    alternative = m.tests[0].alternative
    tests = Table(title=f"tests ({alternative})", title_justify="left", box=box.SIMPLE_HEAD)
    sided = "" if alternative == "two-sided" else " one-sided"
    for column in ("test", "p-value", f"{100 * (1 - m.alpha):g}%{sided} interval (share)"):
        tests.add_column(column, justify="left" if column == "test" else "right", no_wrap=True)
    for t in m.tests:
        interval = t.interval
        tests.add_row(
            t.method,
            "—" if t.pvalue is None else f"{t.pvalue:.4g}",
            "—" if interval is None else f"[{interval.low:.4g}, {interval.high:.4g}]",
        )
    console.print(tests)
    for t in m.tests:
        if t.method == "asymptotic-cs":
            console.print(f"[dim]{escape(t.method)}: {escape(t.note)}[/]")
            state = "significant" if t.pvalue < m.alpha else "not significant yet"
            console.print(
                f"always-valid: p = {t.pvalue:.4g}, {state} at alpha = {m.alpha:g} (valid "
                "however often the experiment is looked at; the verdict below is the "
                "fixed-horizon sign test)",
                highlight=False,
            )
    color = "green" if m.significant else "yellow"
    console.print(f"[{color}]verdict:[/] {escape(m.verdict)}\n", highlight=False)


# ------------------------------------------------------------------------------------ power


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


def register(root: typer.Typer) -> None:
    """Add this job's commands to the root app."""
    root.add_typer(app, name="ab")
