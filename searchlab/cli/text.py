"""CLI for the text job: ``searchlab text import|eval|train|neighbours`` and the top-level
``searchlab search`` (thin; logic in searchlab.text, searching in searchlab.text.index)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from searchlab._io import check_output_files
from searchlab.cli._common import err_console, print_json
from searchlab.errors import InputError

app = typer.Typer(
    name="text",
    help="Text corpora, word embeddings, BM25 and a ListNet reranker (Cranfield and crawls).",
    no_args_is_help=True,
    rich_markup_mode=None,
)

FORMATS = ("smart", "jsonl", "warc")
GROUPS_HELP = (
    "Reranker feature groups: all (the default, fixed beforehand), select (chosen on "
    "training queries only, by inner CV; slower), or a comma list of lexical, feedback, "
    "semantic, vectors (bm25 is always used)."
)


def _format_p(p: float) -> str:
    return f"{p:.4f}" if p >= 1e-3 else f"{p:.1e}"


def _progress(message: str) -> None:
    err_console.print(f"[dim]{escape(message)}[/]", markup=True)


@app.command("import")
def import_(
    out: Path = typer.Option(..., "--out", help="Corpus folder to write."),
    fmt: str = typer.Option("smart", "--format", help="smart (.I/.T/.W records), jsonl or warc."),
    docs: Path | None = typer.Option(
        None, "--docs", help="Documents file (smart or jsonl; .gz ok)."
    ),
    queries: Path | None = typer.Option(None, "--queries", help="Queries file (smart or jsonl)."),
    qrels: Path | None = typer.Option(
        None, "--qrels", help="Judgments: 'query doc grade' or TREC 'query iter doc grade' lines."
    ),
    grades: str | None = typer.Option(
        None,
        "--grades",
        help="cranfield (gain = 5 - code, drop -1; default for smart) or asis (default for jsonl).",
    ),
    numbering: str | None = typer.Option(
        None,
        "--numbering",
        help="Qrels query column: position (n-th query of the file; default for smart) or id.",
    ),
    warc: list[Path] | None = typer.Option(
        None, "--warc", help="WARC file or folder (repeat for several); for --format warc."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the counts as one JSON object."),
) -> None:
    """Read documents (and queries and judgments) and write a corpus folder."""
    from searchlab.text.corpus import (
        check_corpus_output,
        import_jsonl,
        import_smart,
        import_warc,
        save_corpus,
    )

    if fmt not in FORMATS:
        raise InputError(f"unknown --format {fmt!r}", hint="use smart, jsonl or warc")
    check_corpus_output(out)
    if fmt == "warc":
        if not warc:
            raise InputError(
                "--format warc needs --warc FILE_OR_DIR", hint="pass the crawl's WARCs"
            )
        if docs or queries or qrels:
            raise InputError(
                "--docs/--queries/--qrels do not apply to --format warc", hint="drop them"
            )
        corpus = import_warc(warc)
    else:
        if docs is None:
            raise InputError(f"--format {fmt} needs --docs FILE", hint="name the documents file")
        importer = import_smart if fmt == "smart" else import_jsonl
        defaults = ("cranfield", "position") if fmt == "smart" else ("asis", "id")
        corpus = importer(
            docs, queries, qrels, grades=grades or defaults[0], numbering=numbering or defaults[1]
        )
    save_corpus(corpus, out)
    summary = {
        "out": str(out),
        "documents": len(corpus.documents),
        "queries": len(corpus.queries),
        "judged_queries": len(corpus.judged_queries()),
        "judgments": corpus.judgment_count,
    }
    if as_json:
        print_json(summary)
        return
    typer.echo(
        f"wrote {out}: {summary['documents']} documents, {summary['queries']} queries "
        f"({summary['judged_queries']} judged), {summary['judgments']} judgments"
    )


@app.command("eval")
def eval_(
    corpus_dir: Path = typer.Argument(..., help="Corpus folder (from searchlab text import)."),
    folds: int = typer.Option(5, "--folds", help="Cross-validation folds over queries."),
    seed: int = typer.Option(0, "--seed", help="Seed of folds, embeddings and training."),
    epochs: int = typer.Option(100, "--epochs", help="ListNet training epochs per fold."),
    k1: float = typer.Option(1.5, "--k1", help="BM25 k1."),
    b: float = typer.Option(0.75, "--b", help="BM25 b."),
    feature_groups: str = typer.Option("all", "--feature-groups", help=GROUPS_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object with every number."),
) -> None:
    """BM25 vs BM25 + ListNet rerank, cross-validated over queries, with a permutation test."""
    from searchlab.text.corpus import load_corpus
    from searchlab.text.embeddings import Word2VecConfig
    from searchlab.text.features import FeatureConfig, parse_feature_groups
    from searchlab.text.pipeline import REPORTED_METRICS, evaluate_text_ranking
    from searchlab.text.training import default_train_config

    if epochs < 1:
        raise InputError(f"--epochs must be at least 1, got {epochs}", hint="use e.g. 100")
    groups = parse_feature_groups(feature_groups)
    corpus = load_corpus(corpus_dir)
    features = FeatureConfig(k1=k1, b=b, word2vec=Word2VecConfig(seed=seed))
    ev = evaluate_text_ranking(
        corpus,
        folds=folds,
        seed=seed,
        progress=_progress,
        feature_config=features,
        train_config=default_train_config(seed, epochs),
        feature_groups=groups,
    )
    if as_json:
        print_json(
            {
                "bm25": {**ev.metrics["bm25"], "pvalue": ev.pvalue},
                "listnet": {**ev.metrics["listnet"], "pvalue": ev.pvalue},
                "pvalue": ev.pvalue,
                "pvalues": ev.pvalues,
                "mean_difference": ev.mean_difference,
                "test": ev.test_method,
                "folds": ev.folds,
                "seed": ev.seed,
                "queries": ev.n_queries,
                "documents": ev.n_documents,
                "per_fold": ev.per_fold,
                "timings": ev.timings,
                "settings": ev.settings,
                "per_query": ev.per_query,
            }
        )
        return
    typer.echo(
        f"{ev.n_queries} judged queries, {ev.n_documents} documents, {ev.folds}-fold CV over "
        f"queries, seed {ev.seed}"
    )
    typer.echo(f"{'':10}" + "".join(f"{m:>10}" for m in REPORTED_METRICS))
    for name in ("bm25", "listnet"):
        typer.echo(
            f"{name:10}" + "".join(f"{ev.metrics[name][m]:>10.4f}" for m in REPORTED_METRICS)
        )
    typer.echo(
        f"{'diff':10}" + "".join(f"{ev.mean_difference[m]:>+10.4f}" for m in REPORTED_METRICS)
    )
    typer.echo(
        f"{'p-value':10}" + "".join(f"{_format_p(ev.pvalues[m]):>10}" for m in REPORTED_METRICS)
    )
    typer.echo(f"(paired permutation test across queries, {ev.test_method}, two-sided)")
    for fold in ev.per_fold:
        typer.echo(
            f"fold {fold['fold']}: {fold['queries']} queries  NDCG@10 bm25 "
            f"{fold['bm25']['ndcg@10']:.4f}  listnet {fold['listnet']['ndcg@10']:.4f}  "
            f"features {'+'.join(fold['feature_groups'])}"
        )
    typer.echo(f"feature groups: {ev.settings['feature_groups']}")
    t = ev.timings
    choosing = f"choosing groups {t['select_total']:.1f} s, " if groups is None else ""
    typer.echo(
        f"time: index+embeddings {t['index_and_embeddings']:.1f} s, features {t['features']:.1f} s, "
        f"{choosing}training {t['train_total']:.1f} s, total {t['total']:.1f} s"
    )


@app.command("train")
def train(
    corpus_dir: Path = typer.Argument(..., help="Corpus folder (from searchlab text import)."),
    out: Path | None = typer.Option(
        None, "--out", help="Model folder to write (default: CORPUS_DIR/model)."
    ),
    exclude_queries: Path | None = typer.Option(
        None,
        "--exclude-queries",
        help="File of query ids (one per line) to leave out of training, for a fair live test.",
    ),
    index_dir: Path | None = typer.Option(
        None,
        "--index",
        help="Index to train with (searchlab index build); default: CORPUS_DIR/index, built "
        "when missing.",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of embeddings and training."),
    epochs: int = typer.Option(100, "--epochs", help="ListNet training epochs."),
    feature_groups: str = typer.Option("all", "--feature-groups", help=GROUPS_HELP),
) -> None:
    """Train the reranker on the judged queries (all but --exclude-queries); searchlab search
    and searchlab serve load it."""
    from searchlab._io import check_output_folder
    from searchlab.text.corpus import load_corpus
    from searchlab.text.features import parse_feature_groups
    from searchlab.text.index import corpus_index, load_index
    from searchlab.text.rerank import (
        MODEL_DIR,
        check_query_ids,
        documents_fingerprint,
        read_query_ids,
        train_text_reranker,
    )
    from searchlab.text.training import default_train_config

    if epochs < 1:
        raise InputError(f"--epochs must be at least 1, got {epochs}", hint="use e.g. 100")
    groups = parse_feature_groups(feature_groups)
    target = out if out is not None else Path(corpus_dir) / MODEL_DIR
    check_output_folder(
        target, ours=lambda p: (p / "text-model.json").is_file(), what="text reranker"
    )
    excluded = read_query_ids(exclude_queries) if exclude_queries is not None else []
    corpus = load_corpus(corpus_dir)
    check_query_ids(corpus, excluded)
    if index_dir is not None:
        index = load_index(index_dir)
        if index.info.documents_fingerprint != documents_fingerprint(corpus.documents):
            raise InputError(
                f"the index {index_dir} holds other documents than {corpus_dir}",
                hint="build the index from this corpus: searchlab index build CORPUS_DIR",
            )
    else:
        index = corpus_index(corpus_dir, corpus, seed=seed, progress=_progress)
    reranker = train_text_reranker(
        corpus,
        train_config=default_train_config(seed, epochs),
        feature_groups=groups,
        seed=seed,
        index=index.text,
        progress=_progress,
        exclude_queries=excluded,
    )
    reranker.save(target)
    metrics = reranker.ranker.metrics
    chosen = "+".join(reranker.groups)
    if reranker.selection is not None:
        chosen += (
            f" (chosen by inner {reranker.selection.inner_folds}-fold CV, "
            f"NDCG@10 {reranker.selection.score:.4f})"
        )
    left_out = f", {len(reranker.excluded_queries)} left out" if excluded else ""
    typer.echo(
        f"saved {target}: ListNet on {metrics.get('train_queries')} queries{left_out}, "
        f"{metrics.get('train_seconds', 0):.1f} s, {reranker.index.embeddings.vectors.shape[0]} "
        f"word vectors; features {chosen}"
    )


@app.command("neighbours")
def neighbours(
    word: str = typer.Argument(..., help="A word (tokenized like the corpus, e.g. stemmed)."),
    corpus_dir: Path = typer.Option(..., "--corpus", help="Corpus folder."),
    k: int = typer.Option(10, "-k", "--k", help="How many neighbours."),
    plot: Path | None = typer.Option(
        None, "--plot", help="Draw the word and its neighbours (PNG)."
    ),
    also: list[str] | None = typer.Option(None, "--also", help="More words to draw (repeatable)."),
    seed: int = typer.Option(0, "--seed", help="Seed when the model must be trained first."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Nearest words by cosine similarity of the corpus's word embeddings."""
    from searchlab.text.corpus import load_corpus
    from searchlab.text.plot import plot_words
    from searchlab.text.rerank import corpus_embeddings
    from searchlab.text.tokenize import Tokenizer

    if k < 1:
        raise InputError(f"-k must be at least 1, got {k}", hint="use e.g. -k 10")
    if plot is not None and not str(plot).lower().endswith(".png"):
        raise InputError(f"plot path {plot} must end in .png", hint="e.g. --plot neighbours.png")
    check_output_files(plot)
    # every corpus model tokenizes with the default settings: check the word before training
    if len(Tokenizer().tokenize(word)) != 1:
        raise InputError(
            f"{word!r} is not one content word (stopwords and punctuation are dropped)",
            hint="give a single word",
        )
    corpus = load_corpus(corpus_dir)
    tokenizer, embeddings = corpus_embeddings(corpus_dir, corpus, seed=seed, progress=_progress)
    tokens = tokenizer.tokenize(word)
    near = embeddings.neighbours(tokens[0], k)
    if plot is not None:
        extra = [t for w in (also or []) for t in tokenizer.tokenize(w)]
        plot_words(
            embeddings,
            [tokens[0], *(w for w, _ in near), *extra],
            plot,
            highlight=tokens[0],
            title=f"'{tokens[0]}' and its {len(near)} nearest words (PCA of word2vec)",
        )
    if as_json:
        print_json({"word": tokens[0], "neighbours": [{"word": w, "cosine": s} for w, s in near]})
        return
    typer.echo(f"nearest to '{tokens[0]}':")
    for w, s in near:
        typer.echo(f"  {s:6.3f}  {w}")
    if plot is not None:
        typer.echo(f"wrote {plot}")


def search(
    query: str = typer.Argument(..., help="The query text."),
    index_dir: Path | None = typer.Option(
        None, "--index", help="Index folder (searchlab index build)."
    ),
    corpus_dir: Path | None = typer.Option(
        None, "--corpus", help="Corpus folder: its index is built once into CORPUS_DIR/index."
    ),
    ranker: str = typer.Option(
        "bm25",
        "--ranker",
        help="bm25, listnet (with --corpus: CORPUS_DIR/model) or NAME=MODEL_DIR.",
    ),
    k: int = typer.Option(10, "-k", "--k", help="How many results."),
    seed: int = typer.Option(0, "--seed", help="Seed when the index or model is built first."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Search an index (or a corpus folder's cached index) and print the ranked titles."""
    from searchlab.text.index import (
        RerankerRanker,
        corpus_index,
        load_index,
        open_ranker,
        parse_ranker_spec,
    )
    from searchlab.text.index import (
        search as search_index,
    )
    from searchlab.text.tokenize import Tokenizer

    if (index_dir is None) == (corpus_dir is None):
        raise InputError("give --index or --corpus (one of them)", hint="e.g. --index INDEX_DIR")
    if ranker not in ("bm25", "listnet") and "=" not in ranker:
        raise InputError(f"unknown --ranker {ranker!r}", hint="use bm25, listnet or NAME=MODEL_DIR")
    if ranker == "listnet" and index_dir is not None:
        raise InputError(
            "with --index, name the model: --ranker listnet=MODEL_DIR",
            hint="train one with: searchlab text train CORPUS_DIR --index INDEX_DIR --out MODEL_DIR",
        )
    parse_ranker_spec(ranker if ranker != "listnet" else "listnet=model")
    if k < 1:
        raise InputError(f"-k must be at least 1, got {k}", hint="use e.g. -k 10")
    if not Tokenizer().tokenize(query):  # every index tokenizes with the default settings
        raise InputError(
            f"the query {query!r} has no searchable words (only stopwords or punctuation)",
            hint="use content words",
        )
    if index_dir is not None:
        index = load_index(index_dir)
        chosen = open_ranker(ranker, index)
    else:
        from searchlab.text.corpus import load_corpus
        from searchlab.text.rerank import MODEL_DIR, corpus_reranker

        corpus = load_corpus(corpus_dir)
        index = corpus_index(corpus_dir, corpus, seed=seed, progress=_progress)
        if ranker == "listnet":
            model = corpus_reranker(
                corpus_dir, corpus, seed=seed, progress=_progress, index=index.text
            )
            chosen = RerankerRanker(index, model, "listnet", str(Path(corpus_dir) / MODEL_DIR))
        else:
            chosen = open_ranker(ranker, index)
    hits = search_index(index, chosen, query, k)
    if as_json:
        print_json({"query": query, "ranker": chosen.name, "hits": hits})
        return
    for hit in hits:
        typer.echo(f"{hit.rank:3}. {hit.score:8.3f}  [{hit.doc_id}] {hit.title or '(untitled)'}")


def register(root: typer.Typer) -> None:
    """Add this job's commands to the root app."""
    root.add_typer(app, name="text")
    root.command("search")(search)
