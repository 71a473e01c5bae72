"""CLI for the live service: ``searchlab index build|info``, ``searchlab serve`` and
``searchlab events export`` (thin; logic in searchlab.text.index and searchlab.serve)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from searchlab.cli._common import err_console, print_json

index_app = typer.Typer(
    name="index",
    help="Build and inspect the persisted search index that searchlab serve loads.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


events_app = typer.Typer(
    name="events",
    help="The event log of searchlab serve: export it for DuckDB or Spark.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _progress(message: str) -> None:
    err_console.print(f"[dim]{escape(message)}[/]", markup=True)


@index_app.command("build")
def index_build(
    corpus_dir: Path = typer.Argument(..., help="Corpus folder (from searchlab text import)."),
    out: Path = typer.Option(..., "--out", help="Index folder to write."),
    seed: int = typer.Option(0, "--seed", help="Seed of the word embeddings."),
    as_json: bool = typer.Option(False, "--json", help="Print the manifest as one JSON object."),
) -> None:
    """Index a corpus: BM25 (bm25s format), tokenizer, word embeddings, per-document features
    and a document store, in one folder."""
    from searchlab.ab.inputs import check_seed
    from searchlab.text.corpus import load_corpus
    from searchlab.text.index import build_index, check_index_output

    check_seed(seed)
    check_index_output(out)
    corpus = load_corpus(corpus_dir)
    info = build_index(corpus, out, seed=seed, progress=_progress)
    if as_json:
        print_json(info)
        return
    typer.echo(
        f"wrote {out}: {info.documents:,} documents, {info.terms:,} terms, "
        f"{info.embedding_dim}-dim word vectors (seed {info.seed}), built in "
        f"{info.build_seconds:.1f} s; serve it with: searchlab serve --index {out}"
    )


@index_app.command("info")
def index_info(
    index_dir: Path = typer.Argument(..., help="Index folder (searchlab index build)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Load an index and say what it holds and how long loading took."""
    import time

    from searchlab.text.index import load_index

    started = time.perf_counter()
    index = load_index(index_dir)
    seconds = time.perf_counter() - started
    info = index.info
    index.close()
    if as_json:
        print_json({**info.__dict__, "load_seconds": seconds})
        return
    typer.echo(
        f"{index_dir}: {info.documents:,} documents, {info.terms:,} terms, "
        f"{info.embedding_dim}-dim word vectors (seed {info.seed}), built {info.built_utc}; "
        f"loaded in {seconds:.2f} s"
    )


def serve(
    index_dir: Path = typer.Option(..., "--index", help="Index folder (searchlab index build)."),
    ranker: list[str] = typer.Option(
        ["bm25"],
        "--ranker",
        help="bm25 or NAME=MODEL_DIR (searchlab text train --index); repeat. The first serves "
        "users outside every experiment.",
    ),
    experiment: Path | None = typer.Option(
        None, "--experiment", help="Experiments file (TOML; see docs/readme-serve.md)."
    ),
    events: Path = typer.Option(
        Path("events.db"), "--events", help="Event log (SQLite, created when missing)."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback)."),
    port: int = typer.Option(8080, "--port", help="TCP port; 0 picks a free one."),
    queue_size: int = typer.Option(
        10_000, "--queue-size", help="Event queue bound; beyond it requests get 503."
    ),
    result_cache: int = typer.Option(
        0, "--result-cache", help="Keep the last N rankings (ranker, query, k) for reuse; 0: off."
    ),
) -> None:
    """Serve search with A/B and interleaving experiments and a durable event log until SIGTERM
    or Ctrl-C."""
    from searchlab.serve.service import ServeConfig, run_service

    config = ServeConfig(
        index=index_dir,
        rankers=tuple(ranker),
        experiments=experiment,
        events=events,
        host=host,
        port=port,
        queue_size=queue_size,
        result_cache=result_cache,
    )

    def ready(url: str) -> None:
        print(f"listening on {url}", flush=True)

    summary = run_service(config, ready)
    print(
        f"stopped after {summary.seconds:.1f} s: {summary.searches:,} searches and "
        f"{summary.events:,} events written to {events} ({summary.commits:,} commits, "
        f"{summary.refused_busy:,} requests refused while the queue was full)",
        flush=True,
    )


@events_app.command("export")
def events_export(
    events: Path = typer.Option(..., "--events", help="Event log of searchlab serve (SQLite)."),
    out: Path = typer.Option(..., "--out", help="Folder to write the Parquet dataset into."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
) -> None:
    """Write the log's searches, events and exposures as Parquet partitioned by day."""
    from searchlab.serve.export import export_events

    summary = export_events(events, out)
    if as_json:
        print_json(summary)
        return
    counts = ", ".join(f"{n:,} {table}" for table, n in summary.rows.items())
    days = f"{summary.days[0]} to {summary.days[-1]}" if summary.days else "no day"
    typer.echo(f"wrote {out}: {counts}; {len(summary.days)} day(s), {days}")


def register(root: typer.Typer) -> None:
    """Add this job's commands to the root app."""
    root.add_typer(index_app, name="index")
    root.command("serve")(serve)
    root.add_typer(events_app, name="events")
