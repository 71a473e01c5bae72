"""CLI for the loop job: ``searchlab site serve``, ``searchlab simulate``, ``searchlab demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from searchlab.cli._common import console, print_json

site_app = typer.Typer(
    help="Serve a corpus as a local website (pages plus a Wikimedia-style title dump).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@site_app.callback()
def _site() -> None:
    """Serve a corpus as a local website (pages plus a Wikimedia-style title dump)."""


@site_app.command("serve")
def site_serve(
    collection: Path = typer.Option(
        None,
        "--collection",
        help="Corpus folder (searchlab text import); default: bundled Cranfield.",
    ),
    port: int = typer.Option(8000, "--port", help="TCP port; 0 picks a free one."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
) -> None:
    """Serve /wiki/{Title} pages and /dumps/all-titles.gz until Ctrl-C."""
    import asyncio

    from searchlab.errors import InputError
    from searchlab.loop.site import LocalSite, load_site

    if not 0 <= port <= 65535:
        raise InputError(f"port {port} is out of range", hint="use 0..65535")
    site = load_site(collection)

    async def serve() -> None:
        async with LocalSite(site, host=host, port=port) as local:
            console.print(
                f"serving {len(site):,} pages at {local.base_url}/wiki/{{Title}}; title dump at "
                f"{local.base_url}/dumps/all-titles.gz (Ctrl-C stops)"
            )
            await asyncio.Event().wait()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        console.print("stopped")


def _conversion_values(text: str) -> tuple[float, ...]:
    from searchlab.errors import InputError

    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError as exc:
        raise InputError(
            f"--conversion {text!r} is not a comma-separated list of numbers",
            hint="e.g. --conversion 0.01,0.05,0.15,0.3,0.5",
        ) from exc


def simulate(
    corpus_dir: Path = typer.Option(
        ..., "--corpus", help="Corpus folder with queries and judgments."
    ),
    control: str | None = typer.Option(
        None, "--control", help="bm25 (default), listnet, ideal or rankings.json"
    ),
    variant: str | None = typer.Option(
        None, "--variant", help="listnet (default), bm25, ideal or rankings.json"
    ),
    users: int = typer.Option(200_000, "--users", help="Number of simulated users."),
    out: Path | None = typer.Option(
        None, "--out", help="User table to write (.parquet or .csv); optional with --live."
    ),
    live: str | None = typer.Option(
        None,
        "--live",
        help="URL of a searchlab serve: the users search it over HTTP and log their events.",
    ),
    concurrency: int = typer.Option(16, "--concurrency", help="Users at once with --live."),
    experiment: str | None = typer.Option(
        None, "--experiment", help="With --live: the service's experiment (default: its only one)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of user behaviour and of the rankers' folds."),
    salt: str = typer.Option(
        "searchlab-demo", "--salt", help="Experiment salt of the assignment hash."
    ),
    variant_share: float = typer.Option(
        0.5, "--variant-share", help="Planned share of variant users."
    ),
    extra_queries: float = typer.Option(
        1.0, "--extra-queries", help="Queries per user are 1 + Poisson(this)."
    ),
    activity_spread: float = typer.Option(
        0.0,
        "--activity-spread",
        help="Log-sd of each user's persistent activity level; > 0 also writes pre_queries "
        "(a pre-period covariate for ab test --covariate).",
    ),
    folds: int = typer.Option(5, "--folds", help="Cross-validation folds for bm25/listnet."),
    examination_decay: float = typer.Option(1.0, "--examination-decay", help="θ_r = r^-decay."),
    attractiveness_floor: float = typer.Option(0.05, "--attractiveness-floor"),
    attractiveness_ceiling: float = typer.Option(0.90, "--attractiveness-ceiling"),
    conversion: str = typer.Option(
        "0.01,0.05,0.15,0.30,0.50", "--conversion", help="Conversion probability per clicked grade."
    ),
    interleave: bool = typer.Option(
        False,
        "--interleave",
        help="An interleaving experiment instead: every search shows both rankers merged; "
        "--out gets one row per search for `searchlab ab interleave`.",
    ),
    method: str = typer.Option(
        "team-draft", "--method", help="With --interleave: team-draft or probabilistic."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Simulate an A/B experiment between two rankers (in memory, or --live against a
    searchlab serve); write a user-level table for `searchlab ab test`, or with --interleave
    a per-search table for `searchlab ab interleave`."""
    from rich.table import Table

    from searchlab._io import check_output_files
    from searchlab.errors import InputError
    from searchlab.loop.click_model import ClickModel, check_grades
    from searchlab.loop.rankers import resolve_rankings
    from searchlab.loop.simulate import ExperimentDesign, simulate_experiment, write_user_table
    from searchlab.text.corpus import load_corpus

    if out is None and live is None:
        raise InputError("--out is required", hint="e.g. --out users.parquet")
    if out is not None and out.suffix.lower() not in (".parquet", ".csv"):
        raise InputError(
            f"--out {out} must end in .parquet or .csv", hint="e.g. --out users.parquet"
        )
    check_output_files(out)
    values = _conversion_values(conversion)
    model = ClickModel(
        examination_decay=examination_decay,
        max_grade=len(values) - 1,
        attractiveness_floor=attractiveness_floor,
        attractiveness_ceiling=attractiveness_ceiling,
        conversion_by_grade=values,
    )
    if live is not None:
        if control is not None or variant is not None:
            raise InputError(
                "--control and --variant do not apply with --live",
                hint="the service's experiment names the arms' rankers",
            )
        _simulate_live(
            live,
            corpus_dir,
            users,
            concurrency,
            seed,
            extra_queries,
            experiment,
            model,
            out,
            as_json,
        )
        return
    if experiment is not None:
        raise InputError("--experiment needs --live", hint="name the service's experiment")
    if not interleave and method != "team-draft":
        raise InputError("--method applies to --interleave", hint="add --interleave")
    if interleave and (variant_share != 0.5 or activity_spread != 0.0):
        raise InputError(
            "--variant-share and --activity-spread describe A/B arms; an interleaving "
            "experiment shows every user both rankers",
            hint="drop them, or drop --interleave",
        )
    control, variant = control or "bm25", variant or "listnet"
    design = ExperimentDesign(
        users=users,
        variant_share=variant_share,
        salt=salt,
        extra_queries_mean=extra_queries,
        seed=seed,
        activity_spread=activity_spread,
    )
    corpus = load_corpus(corpus_dir)
    if not corpus.judgments:
        raise InputError(f"corpus {corpus_dir} has no judgments", hint="import it with --qrels")
    check_grades(corpus.judgments, model)
    (control_rankings, variant_rankings), _ = resolve_rankings(
        [control, variant], corpus, folds=folds, seed=seed
    )
    if interleave:
        _simulate_interleaving(
            control, variant, control_rankings, variant_rankings, corpus.judgments, model,
            users=users, salt=salt, extra_queries=extra_queries, seed=seed, method=method,
            out=out, as_json=as_json,
        )  # fmt: skip
        return
    sim = simulate_experiment(control_rankings, variant_rankings, corpus.judgments, design, model)
    write_user_table(sim.table, out)
    if as_json:
        print_json(
            {**sim.summary(), "out": str(out), "control_ranker": control, "variant_ranker": variant}
        )
        return
    table = Table(title=f"Simulated experiment: {control} (control) vs {variant} (variant)")
    for column in ("arm", "users", "queries", "clicks", "converted", "rate", "expected rate"):
        table.add_column(column, justify="left" if column == "arm" else "right")
    for name, arm in (("control", sim.control), ("variant", sim.variant)):
        table.add_row(
            name,
            f"{arm.users:,}",
            f"{arm.queries:,}",
            f"{arm.clicks:,}",
            f"{arm.converted_users:,}",
            f"{100 * arm.conversion_rate:.2f}%",
            f"{100 * arm.expected_conversion_rate:.2f}%",
        )
    console.print(table)
    console.print(
        f"wrote {out} ({users:,} users, seed {seed}); analyse it with: searchlab ab test --data "
        f"{out} --group-col arm --control control --variant variant --metric converted"
    )


def _simulate_interleaving(
    control: str,
    variant: str,
    control_rankings: Any,
    variant_rankings: Any,
    judgments: Any,
    model: Any,
    *,
    users: int,
    salt: str,
    extra_queries: float,
    seed: int,
    method: str,
    out: Path,
    as_json: bool,
) -> None:
    from searchlab.loop.interleave_sim import (
        InterleaveDesign,
        interleave_plan,
        simulate_interleaving,
        write_query_table,
    )

    design = InterleaveDesign(users=users, salt=salt, extra_queries_mean=extra_queries, seed=seed)
    plan = interleave_plan(control_rankings, variant_rankings, judgments, model, method=method)
    sim = simulate_interleaving(plan, design)
    write_query_table(sim.table, out)
    if as_json:
        print_json(
            {**sim.to_dict(), "out": str(out), "control_ranker": control, "variant_ranker": variant}
        )
        return
    s = sim.summary
    decided = s.variant_wins + s.control_wins
    console.print(
        f"Simulated {method} interleaving: {control} (control) vs {variant} (variant), "
        f"{s.users:,} users, {s.queries:,} searches, {s.clicks:,} clicks"
    )
    console.print(
        f"searches won: {variant} {s.variant_wins:,}, {control} {s.control_wins:,}, "
        f"ties {s.ties:,} ({variant}'s share of decided searches "
        f"{s.variant_wins / decided if decided else float('nan'):.4f})"
    )
    if s.expected_variant_win is not None:
        console.print(
            f"exact under the click model: P({variant} wins a search) "
            f"{s.expected_variant_win:.4f}, P({control} wins) {s.expected_control_win:.4f}"
        )
    console.print(
        f"wrote {out} (one row per search, seed {seed}); analyse it with: "
        f"searchlab ab interleave --data {out}"
    )


def _simulate_live(
    url: str,
    corpus_dir: Path,
    users: int,
    concurrency: int,
    seed: int,
    extra_queries: float,
    experiment: str | None,
    model: Any,
    out: Path | None,
    as_json: bool,
) -> None:
    from rich.table import Table

    from searchlab.loop.live import LiveDesign, simulate_live
    from searchlab.loop.simulate import write_user_table
    from searchlab.text.corpus import load_corpus

    design = LiveDesign(
        url=url,
        users=users,
        concurrency=concurrency,
        seed=seed,
        extra_queries_mean=extra_queries,
        experiment=experiment,
    )
    run = simulate_live(design, load_corpus(corpus_dir), model)
    if out is not None:
        write_user_table(run.table, out)
    if as_json:
        print_json({**run.summary(), "out": None if out is None else str(out)})
        return
    if run.interleaving is not None:
        _print_live_interleaving(run, design.concurrency, out)
        return
    table = Table(title=f"Live experiment {run.experiment} at {run.url}")
    columns = ("arm", "users", "searches", "clicks", "converted", "rate", "95% CI", "expected")
    for column in (*columns, "logged"):
        table.add_column(column, justify="left" if column == "arm" else "right")
    for name, arm in run.arms.items():
        expected = arm.expected_conversion_rate
        low, high = arm.interval
        table.add_row(
            f"{name} ({arm.ranker})",
            f"{arm.users:,}",
            f"{arm.searches:,}",
            f"{arm.clicks:,}",
            f"{arm.converted_users:,}",
            f"{100 * arm.conversion_rate:.2f}%",
            f"{100 * low:.1f}–{100 * high:.1f}%",
            "—" if expected is None else f"{100 * expected:.2f}%",
            f"{arm.logged_users:,}",
        )
    console.print(table)
    console.print(
        f"{run.users:,} users ({run.outside_users:,} outside the experiment), "
        f"{run.searches:,} searches in {run.seconds:.1f} s ({run.searches_per_second:,.0f}/s, "
        f"concurrency {design.concurrency}), {run.events_accepted:,} of {run.events_sent:,} "
        f"events acknowledged, {run.retries:,} retries after 503; topics: {len(run.topics)} "
        f"judged queries no served model trained on; assignment: "
        + (
            "the shared hash's for every user"
            if run.assignment_mismatches == 0
            else f"{run.assignment_mismatches:,} users differ from the shared hash"
        )
    )
    console.print(
        "analyse it with: searchlab ab test --events EVENTS_DB --experiment "
        f"{run.experiment} --metric converted" + ("" if out is None else f" (user table: {out})")
    )


def _print_live_interleaving(run: Any, concurrency: int, out: Path | None) -> None:
    from rich.table import Table

    il = run.interleaving
    table = Table(
        title=f"Live experiment {run.experiment} at {run.url}: interleaving ({il.method})"
    )
    for column in ("team", "clicks", "searches won", "users preferring"):
        table.add_column(column, justify="left" if column == "team" else "right")
    rows = (
        ("variant", il.variant_clicks, il.variant_wins, il.users_preferring_variant),
        ("control", il.control_clicks, il.control_wins, il.users_preferring_control),
    )
    for name, clicks, wins, users in rows:
        table.add_row(name, f"{clicks:,}", f"{wins:,}", f"{users:,}")
    tied = il.users - il.users_preferring_variant - il.users_preferring_control
    table.add_row("tie", "", f"{il.ties:,}", f"{tied:,}")
    console.print(table)
    console.print(
        f"{run.users:,} users ({run.outside_users:,} outside the experiment, "
        f"{il.logged_users:,} in the log), {run.searches:,} searches in {run.seconds:.1f} s "
        f"({run.searches_per_second:,.0f}/s, concurrency {concurrency}), "
        f"{run.events_accepted:,} of {run.events_sent:,} events acknowledged; counts by the "
        "team rule (clicks on each team's results)"
    )
    console.print(
        "analyse it with: searchlab ab interleave --events EVENTS_DB --experiment "
        f"{run.experiment}" + ("" if out is None else f" (per-search table: {out})")
    )


class _RichStages:
    """Shows each demo stage as a progress bar that turns into a line with its time."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self.tasks: dict[str, Any] = {}
        self.labels: dict[str, str] = {}

    def start(self, stage: str, label: str, total: float | None) -> None:
        self.tasks[stage] = self.progress.add_task(label, total=total)
        self.labels[stage] = label

    def update(
        self, stage: str, completed: float, total: float | None = None, note: str | None = None
    ) -> None:
        task = self.tasks[stage]
        description = self.labels[stage] + (f" [dim]({note})[/]" if note else "")
        if total is not None:
            self.progress.update(task, completed=completed, total=total, description=description)
        else:
            self.progress.update(task, completed=completed, description=description)

    def finish(self, stage: str, seconds: float, detail: str) -> None:
        self.progress.remove_task(self.tasks.pop(stage))
        label = self.labels[stage]
        if not self.progress.disable:  # --json: stdout holds the JSON object only
            self.progress.console.print(
                f"[green]✓[/] {label:<34} {seconds:5.1f} s  [dim]{detail}[/]"
            )


def demo(
    quick: bool = typer.Option(
        False, "--quick", help="A smaller run (20,000 users, fewer epochs)."
    ),
    out: Path = typer.Option(
        Path("demo-report"), "--out", help="Folder for index.html and summary.json."
    ),
    users: int = typer.Option(
        None, "--users", help="Simulated users (default 200,000; quick 20,000)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of every random step."),
    folds: int = typer.Option(5, "--folds", help="Cross-validation folds over queries."),
    live_users: int = typer.Option(
        None,
        "--live-users",
        help="Users per live experiment over HTTP (default 10,000; quick 1,000); 0: no live stage.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
) -> None:
    """Crawl Cranfield from a local site, learn to rank it, A/B test the new ranker offline, and
    serve both rankers to simulated users over HTTP in an A/B and an interleaving experiment."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    from searchlab.loop.demo import DemoConfig, check_demo_output, run_demo

    # checked before the progress display starts, so a mistake prints one line and nothing else
    config = DemoConfig(
        out_dir=out, users=users, seed=seed, quick=quick, folds=folds, live_users=live_users
    )
    check_demo_output(out)
    columns = (
        SpinnerColumn(finished_text="[green]✓[/]"),
        TextColumn("{task.description}"),
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    display = Progress(*columns, console=console, disable=as_json)
    with display:
        result = run_demo(config, _RichStages(display))
    summary = result.summary
    if as_json:
        print_json(summary)
        return
    total = sum(stage.seconds for stage in result.stages)
    console.print(f"[bold]Done in {total:.1f} s[/] (seed {seed}, {config.user_count:,} users)")
    for line in summary["conclusions"]:
        console.print(f"• {line}")
    console.print(f"[bold]Report:[/] {result.report_path.resolve()}")
    console.print(f"[bold]Numbers:[/] {result.summary_path.resolve()}")


def register(root: typer.Typer) -> None:
    """Add this job's commands to the root app."""
    root.add_typer(site_app, name="site")
    root.command("simulate")(simulate)
    root.command("demo")(demo)
