"""CLI for the crawl job: ``searchlab crawl SOURCE --out DIR ...`` and ``searchlab crawl report DIR``.

``crawl`` is a group whose default command is ``fetch``: anything after ``crawl`` that is not
a sub-command name (``report``, ``fetch``) is handed to ``fetch``, so both shapes work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from searchlab import __version__
from searchlab.cli._common import console, err_console, print_json, print_warning

# The help lives here, not in searchlab.crawl.config, so that every command's start-up does not
# import the crawl package (its config module pulls in the state and sharding modules).
USER_AGENT_HELP = (
    "User-Agent naming you and a contact, e.g. 'mybot/1.0 (+https://example.org/bot; "
    f"you@example.org) searchlab/{__version__}' [default: 'searchlab/{__version__} "
    "aiohttp/VERSION', no contact]"
)

SHOWN_BAD_LINES = 10


class _DefaultToFetch(TyperGroup):
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["fetch", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_DefaultToFetch,
    help=(
        "Fetch pages politely into WARC files: `searchlab crawl SOURCE --out DIR` "
        "(SOURCE: a URL list, a title dump with --url-template, or '-'), "
        "or `searchlab crawl report DIR`."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command("fetch")
def fetch_command(
    source: str = typer.Argument(..., help="File of URLs (one a line), a title dump, or '-'."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for WARC files and the state file."),
    url_template: str | None = typer.Option(
        None, help="Treat SOURCE as a title dump; e.g. 'https://en.wikipedia.org/wiki/{title}'."
    ),
    namespace: int = typer.Option(0, help="Title dumps: keep this namespace (-1: all)."),
    limit: int | None = typer.Option(None, help="Stop after this many URLs."),
    concurrency: int = typer.Option(64, help="Requests in flight at once, all hosts together."),
    per_host: int | None = typer.Option(
        None, help="Requests in flight per host [default: 2 remote, unlimited on loopback]."
    ),
    rate: float | None = typer.Option(
        None, help="Requests per second per host [default: 2 remote, unlimited on loopback]."
    ),
    max_retries: int = typer.Option(3, help="Retries for timeouts, resets, 429 and 5xx."),
    timeout: float = typer.Option(30.0, help="Seconds per attempt (waiting for a slot excluded)."),
    max_body: int = typer.Option(10 * 1024 * 1024, help="Largest body accepted, in bytes."),
    user_agent: str | None = typer.Option(None, help=USER_AGENT_HELP),
    ignore_robots: bool = typer.Option(False, help="Do not fetch or obey robots.txt."),
    resume: bool = typer.Option(False, help="Continue the crawl in --out; skip what is done."),
    retry_failed: bool = typer.Option(False, help="With --resume: fetch failed URLs again."),
    fail_fast: bool = typer.Option(False, help="Stop at the first permanent failure (exit 1)."),
    warc_size: int = typer.Option(1024**3, help="Start a new WARC file past this many bytes."),
    backoff: float = typer.Option(0.5, help="Backoff base in seconds (full jitter, capped)."),
    seed: int | None = typer.Option(None, help="Seed for the backoff jitter."),
    follow_redirects: bool = typer.Option(
        True, help="Follow redirects (each hop archived); --no-follow-redirects keeps the 3xx."
    ),
    max_redirects: int = typer.Option(10, help="Longest redirect chain followed."),
    follow: str | None = typer.Option(
        None, help="Follow links: same-host, same-domain, or a regular expression on the URL."
    ),
    max_depth: int | None = typer.Option(
        None, help="With --follow: links from SOURCE URLs at most."
    ),
    max_pages: int | None = typer.Option(
        None, help="Admit at most this many URLs in all (SOURCE URLs count)."
    ),
    sitemaps: bool = typer.Option(
        False, help="Also crawl the sitemaps named in robots.txt (indexes and gzip included)."
    ),
    header: list[str] = typer.Option(
        [], "--header", help="Extra request header NAME:VALUE (repeatable)."
    ),
    proxy_env: bool = typer.Option(
        True, help="Use HTTP_PROXY/HTTPS_PROXY/NO_PROXY from the environment."
    ),
    cookies: bool = typer.Option(False, help="Keep cookies, per host (off by default)."),
    resolve: list[str] = typer.Option(
        [], "--resolve", help="HOST:ADDRESS, skip DNS for HOST ('*' for every host; repeatable)."
    ),
    robots_ttl: float = typer.Option(86400.0, help="Seconds a robots.txt stays fresh."),
    cdx: bool = typer.Option(False, help="Write a CDXJ index (index.cdxj) for replay (pywb)."),
    shards: int | None = typer.Option(
        None,
        help="Partition hosts into N shards by a stable hash of the host name, each its own "
        "engine in DIR/shard-K (local processes, or Ray actors with --ray); --resume takes the "
        "count from DIR's manifest. --concurrency and --max-pages are per shard.",
    ),
    ray: str | None = typer.Option(
        None,
        help="Run the shards on Ray: local (start Ray here), auto (join the running cluster), "
        "ray://HOST:PORT or HOST:PORT. DIR must be a path every node can reach. Needs "
        "searchlab[cluster]; without --shards, one shard per CPU of the cluster.",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
    progress: bool = typer.Option(True, help="Show a progress bar on stderr."),
) -> None:
    """Fetch every URL of SOURCE into WARC files in --out (the default command)."""
    from searchlab.crawl import CrawlConfig, crawl
    from searchlab.crawl.config import parse_header, parse_resolve
    from searchlab.errors import CrawlAborted

    config = CrawlConfig(
        source=source,
        out_dir=out,
        url_template=url_template,
        namespace=None if namespace < 0 else namespace,
        limit=limit,
        concurrency=concurrency,
        per_host=per_host,
        rate=rate,
        max_retries=max_retries,
        timeout=timeout,
        max_body_bytes=max_body,
        user_agent=user_agent,
        respect_robots=not ignore_robots,
        resume=resume,
        retry_failed=retry_failed,
        fail_fast=fail_fast,
        warc_max_bytes=warc_size,
        backoff_base=backoff,
        seed=seed,
        follow_redirects=follow_redirects,
        max_redirects=max_redirects,
        follow=follow,
        max_depth=max_depth,
        max_pages=max_pages,
        sitemaps=sitemaps,
        headers=tuple(parse_header(h) for h in header),
        proxy_env=proxy_env,
        cookies=cookies,
        resolve=tuple(parse_resolve(r) for r in resolve),
        robots_ttl=robots_ttl,
        cdx=cdx,
        shards=shards,
        ray=ray,
    )
    bar = _ProgressBar(limit) if progress and err_console.is_terminal and not json_out else None
    try:
        summary = crawl(config, progress=bar.update if bar else None)
    finally:
        if bar is not None:
            bar.close()
    shown_source = "<stdin>" if source == "-" else source
    for line, reason in summary.malformed_examples[:SHOWN_BAD_LINES]:
        print_warning(f"{shown_source}:{line}: skipped: {reason}")
    if summary.malformed > SHOWN_BAD_LINES:
        print_warning(f"... {summary.malformed - SHOWN_BAD_LINES} more malformed lines skipped")
    if json_out:
        print_json(summary)
    else:
        _print_summary(summary)
        if user_agent is None:
            print_warning(
                "no --user-agent given: real sites ask crawlers for a contact in it, e.g. "
                "--user-agent 'mybot/1.0 (+https://example.org/bot; you@example.org)'"
            )
    if summary.stopped and summary.stopped.startswith("fail-fast"):
        raise CrawlAborted(summary.stopped, hint="fix the cause, then rerun with --resume")
    if summary.stopped:
        err_console.print(
            f"stopped: {summary.stopped}; rerun with --resume to finish", soft_wrap=True
        )
        raise typer.Exit(130)


@app.command("report")
def report_command(
    out_dir: Path = typer.Argument(..., help="The --out folder of a crawl."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as one JSON object."),
) -> None:
    """Summarise a crawl's state file (works while it runs or after it stopped)."""
    from searchlab.crawl import read_report

    report = read_report(out_dir)
    if json_out:
        print_json(report)
        return
    _say(f"crawl in {report.out_dir}  (source {report.source})")
    _say(
        f"  URLs {report.total}: done {report.done}, failed {report.failed}, "
        f"skipped {report.skipped}, pending {report.pending}; "
        f"malformed source lines {report.input_errors}"
    )
    _say(
        f"  deferred {report.deferred} (unreachable hosts {report.unreachable_host_count}), "
        f"discovered {report.discovered}, redirected {report.redirected}"
    )
    _say("  by HTTP status: " + _pairs(report.by_status.items()))
    _say("  attempts: " + _pairs(report.attempts_histogram.items()))
    for host, problem in report.unreachable_hosts[:5]:
        _say(f"  unreachable: {host}: {problem}")
    for error, count in report.top_errors[:5]:
        _say(f"  {count:>7}  {error}")
    total_bytes = sum(size for _, size in report.warc_files)
    _say(
        f"  WARC files: {len(report.warc_files)} ({total_bytes / 1e6:.1f} MB); "
        f"runs: {report.runs} ({report.interrupted_runs} stopped early)"
    )
    if report.shards:
        _say(f"  shards: {report.shard_count}, {report.moved} redirects continued on another shard")
    for shard in report.shards:
        _say(
            f"    {Path(shard.out_dir).name}: URLs {shard.total}, done {shard.done}, "
            f"failed {shard.failed}, pending {shard.pending}, WARC files {len(shard.warc_files)}"
        )


def _say(text: str) -> None:
    console.print(text, soft_wrap=True)


def _pairs(items: Any) -> str:
    return ", ".join(f"{k}: {v}" for k, v in items) or "-"


def _print_summary(summary: Any) -> None:
    _say(
        f"done {summary.done}, failed {summary.failed}, skipped {summary.skipped} "
        f"(malformed {summary.malformed}, robots {summary.disallowed}, "
        f"duplicates {summary.duplicates}, not HTML {summary.not_html}), "
        f"deferred {summary.deferred}, already done {summary.already_done}, "
        f"previously failed {summary.previously_failed}, pending {summary.pending}"
    )
    if summary.discovered or summary.redirected or summary.over_limit:
        _say(
            f"discovered {summary.discovered} new URLs, {summary.redirected} pages reached "
            f"through redirects, {summary.over_limit} URLs over --max-pages"
        )
    for host, problem in summary.unreachable_hosts[:5]:
        _say(f"unreachable: {host}: {problem} (--resume tries again)")
    if summary.refetched_after_repair:
        _say(f"repaired: {summary.refetched_after_repair} URLs lost from a WARC file refetched")
    _say(
        f"{summary.pages_per_second:.0f} pages/s over {summary.elapsed_seconds:.1f} s, "
        f"{summary.bytes_received / 1e6:.1f} MB, {summary.retries} retries"
    )
    _say("by HTTP status: " + _pairs(summary.by_status.items()))
    for error, count in summary.top_errors[:5]:
        _say(f"  {count:>7}  {error}")
    _say(f"WARC: {len(summary.warc_files)} file(s); state: {summary.state_file}")
    if summary.shards > 1 or summary.per_shard:
        backend = summary.settings.get("backend", "process")
        _say(
            f"shards: {summary.shards} ({backend}), start-up {summary.startup_seconds:.1f} s, "
            f"{summary.restarts} restarts; {summary.handed_off} URLs handed to the shard owning "
            f"their host, {summary.moved} redirects continued there"
        )
        for shard in summary.per_shard:
            _say(
                f"  shard {shard.index}: done {shard.done}, failed {shard.failed}, "
                f"{shard.pages_per_second:.0f} pages/s, peak {shard.peak_mb:.0f} MB, "
                f"{shard.cpu_seconds:.1f} CPU s, WARC {shard.warc_bytes / 1e6:.1f} MB, "
                f"restarts {shard.restarts}"
            )
    if summary.cdx_index:
        _say(f"CDXJ index: {summary.cdx_index}")


class _ProgressBar:
    """A rich progress bar on stderr fed by the crawl's progress snapshots."""

    def __init__(self, total: int | None) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("crawl"),
            BarColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        )
        self.task = self.progress.add_task("crawl", total=total, stats="")
        self.progress.start()

    def update(self, snap: Any) -> None:
        stats = (
            f"{snap.pages_per_second:,.0f} pages/s  done {snap.done:,}  failed {snap.failed:,}  "
            f"retrying {snap.retrying:,}  {snap.bytes_received / 1e6:,.1f} MB"
        )
        self.progress.update(
            self.task, completed=snap.done + snap.failed + snap.skipped, stats=stats
        )

    def close(self) -> None:
        self.progress.stop()


def register(root: typer.Typer) -> None:
    """Add this job's commands to the root app."""
    root.add_typer(app, name="crawl")
