"""CLI for the rank job: ``searchlab rank train|eval|predict|compare`` (thin; logic in searchlab.rank)."""

from __future__ import annotations

from pathlib import Path

import typer

from searchlab._io import check_output_files, check_writable_folder
from searchlab.cli._common import console, err_console, print_json
from searchlab.errors import InputError

app = typer.Typer(
    name="rank",
    help="Learning to rank on LETOR/svmlight feature files (ListNet, ListMLE, LambdaMART...).",
    no_args_is_help=True,
    rich_markup_mode=None,
)

DATA_HELP = "svmlight/LETOR file (label [qid:Q] id:value ... [# doc id])."
GROUPS_HELP = "LightGBM-style .query file (one list length per line) for data without qid:."


def _say(text: str) -> None:
    """One plain line on stdout (no wrapping, no rich markup: paths may contain brackets)."""
    console.print(text, soft_wrap=True, markup=False, highlight=False)


def _read(path: Path, groups: Path | None, n_features: int | None = None):
    from searchlab.rank.data import read_ranking_file

    return read_ranking_file(path, groups, n_features=n_features)


def _refuse_overwriting_inputs(out: Path | None, option: str, *inputs: Path | None) -> None:
    if out is None:
        return
    for path in inputs:
        if path is not None and path.exists() and out.resolve() == path.resolve():
            raise InputError(
                f"{option} {out} is also an input file; writing it would destroy the input",
                hint=f"give {option} a new file name",
            )


def _hidden(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise InputError(
            f"--hidden {text!r} is not a comma-separated list of sizes", hint="e.g. --hidden 64,32"
        ) from None
    if any(size < 1 for size in sizes):
        raise InputError("--hidden sizes must be positive", hint="e.g. --hidden 64,32")
    return sizes


def _check_out_dir(out: Path, option: str = "--out") -> None:
    """A model folder we may write: new, empty, or an earlier model (overwritten)."""
    if out.exists() and not out.is_dir():
        raise InputError(f"{option} {out} is a file", hint="give a folder for the model")
    if out.is_dir() and any(out.iterdir()) and not (out / "ranker.json").is_file():
        raise InputError(
            f"{option} {out} is a non-empty folder that holds no model",
            hint="choose a new or empty folder (an existing model folder is overwritten)",
        )
    check_writable_folder(out)


@app.command("train")
def train(
    data: Path = typer.Option(..., "--data", help=DATA_HELP),
    groups: Path | None = typer.Option(None, "--groups", help=GROUPS_HELP),
    valid: Path | None = typer.Option(
        None,
        "--valid",
        help="Validation file for early stopping (default: hold out training queries).",
    ),
    valid_groups: Path | None = typer.Option(None, "--valid-groups", help="Groups of --valid."),
    model: str = typer.Option(
        "listnet",
        "--model",
        help="listnet, listnet_kl, listmle, lambdaloss, approxndcg, mse or lambdamart.",
    ),
    out: Path = typer.Option(..., "--out", help="Model folder to write."),
    epochs: int = typer.Option(100, "--epochs", help="Maximum epochs (neural models)."),
    seed: int = typer.Option(0, "--seed", help="Seed for initialisation, batching, splits."),
    hidden: str = typer.Option("64", "--hidden", help="Hidden layer sizes, e.g. 128,64."),
    dropout: float = typer.Option(0.1, "--dropout"),
    weight_decay: float = typer.Option(1e-4, "--weight-decay"),
    learning_rate: float = typer.Option(1e-3, "--lr", help="Learning rate (neural models)."),
    batch_queries: int = typer.Option(16, "--batch-queries", help="Queries per step."),
    norm: str = typer.Option("none", "--norm", help="none, batch or layer."),
    optimizer: str = typer.Option("adam", "--optimizer", help="adam or sgd (momentum 0.9)."),
    patience: int = typer.Option(
        15, "--patience", help="Early-stopping patience in epochs on valid NDCG@10; 0: off."
    ),
    valid_fraction: float = typer.Option(
        0.2, "--valid-fraction", help="Training queries held out when --valid is not given."
    ),
    max_list_len: int | None = typer.Option(
        None, "--max-list-len", help="Randomly truncate longer training lists to this length."
    ),
    refit: bool = typer.Option(
        False, "--refit", help="After early stopping on held-out queries, retrain on all of them."
    ),
    no_relevant: str = typer.Option(
        "skip", "--no-relevant", help="Training lists with no relevant document: skip or keep."
    ),
    temperature: float = typer.Option(0.1, "--temperature", help="ApproxNDCG temperature."),
    threads: int = typer.Option(1, "--threads", help="CPU threads for training and scoring."),
    checkpoint_dir: Path | None = typer.Option(
        None, "--checkpoint-dir", help="Save the best model so far here after every improvement."
    ),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    num_trees: int = typer.Option(100, "--num-trees", help="LambdaMART trees."),
    num_leaves: int = typer.Option(31, "--num-leaves", help="LambdaMART leaves per tree."),
    tree_lr: float = typer.Option(0.1, "--tree-lr", help="LambdaMART learning rate."),
    as_json: bool = typer.Option(False, "--json", help="Print the training summary as JSON."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Train a ranker and save it to --out."""
    from searchlab.rank.train import TrainConfig, train_ranker

    if valid_groups is not None and valid is None:
        raise InputError("--valid-groups needs --valid", hint="give the validation data file")
    if patience < 0:
        raise InputError(f"--patience must be >= 0, got {patience}", hint="0 turns it off")
    defaults = TrainConfig()
    only_for_trees = {
        "--num-trees": num_trees != defaults.num_trees,
        "--num-leaves": num_leaves != defaults.num_leaves,
        "--tree-lr": tree_lr != defaults.tree_learning_rate,
    }
    only_for_neural = {
        "--epochs": epochs != defaults.epochs,
        "--lr": learning_rate != defaults.learning_rate,
        "--hidden": _hidden(hidden) != defaults.hidden,
    }
    misplaced = only_for_neural if model == "lambdamart" else only_for_trees
    for flag, given in misplaced.items():
        if given:
            raise InputError(
                f"{flag} does not apply to --model {model}",
                hint="--num-trees, --num-leaves and --tree-lr set LambdaMART; "
                "--epochs, --lr and --hidden set the neural models",
            )
    config = TrainConfig(
        loss=model,
        epochs=epochs,
        seed=seed,
        hidden=_hidden(hidden),
        dropout=dropout,
        weight_decay=weight_decay,
        learning_rate=learning_rate,
        batch_queries=batch_queries,
        norm=norm,
        optimizer=optimizer,
        early_stopping_patience=patience or None,
        valid_fraction=valid_fraction,
        max_list_len=max_list_len,
        refit=refit,
        no_relevant=no_relevant,
        approx_temperature=temperature,
        threads=threads,
        device=device,
        num_trees=num_trees,
        num_leaves=num_leaves,
        tree_learning_rate=tree_lr,
    )
    config.validate()
    _check_out_dir(out)
    if checkpoint_dir is not None:
        _check_out_dir(checkpoint_dir, "--checkpoint-dir")
    train_data = _read(data, groups)
    valid_data = None if valid is None else _read(valid, valid_groups, train_data.n_features)
    progress_fn, bar = None, None
    if not quiet and not as_json:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            console=err_console,
            transient=True,
        )
        total = num_trees if model == "lambdamart" else epochs
        task = bar.add_task(f"train {model}", total=total, status="")

        def progress_fn(epoch, n_epochs, loss, valid_ndcg):
            parts = []
            if loss == loss:  # not NaN
                parts.append(f"loss {loss:.4f}")
            if valid_ndcg == valid_ndcg:
                parts.append(f"valid ndcg@10 {valid_ndcg:.4f}")
            bar.update(task, completed=epoch, status="  ".join(parts))

        bar.start()
    try:
        ranker = train_ranker(
            train_data,
            config,
            valid=valid_data,
            progress=progress_fn,
            checkpoint_dir=checkpoint_dir,
        )
    finally:
        if bar is not None:
            bar.stop()
    ranker.save(out)
    m = ranker.metrics
    summary = {
        "model": model,
        "out": str(out),
        "train_rows": train_data.n_rows,
        "train_queries_total": train_data.n_queries,
        "features": train_data.n_features,
        "seed": seed,
        "metrics": {k: v for k, v in m.items() if k != "history"},
    }
    if as_json:
        print_json(summary)
        return
    _say(
        f"trained {model} on {train_data.n_queries} queries / {train_data.n_rows} rows "
        f"({train_data.n_features} features), seed {seed}, in {m['train_seconds']:.1f} s"
    )
    if "best_epoch" in m:
        best = m.get("best_valid_ndcg@10")
        valid_text = (
            "" if best is None else f"; best valid NDCG@10 {best:.4f} ({m['valid_source']})"
        )
        _say(f"epochs run {m['epochs_run']}, kept epoch {m['best_epoch']}{valid_text}")
        if m.get("refit_on_all_queries"):
            _say(f"then retrained on all {m['train_queries']} queries for {m['best_epoch']} epochs")
    else:
        _say(f"trees {m['trees']}")
    _say(f"saved to {out}")


@app.command("eval")
def evaluate(
    model: Path = typer.Option(..., "--model", help="Model folder from `rank train`."),
    data: Path = typer.Option(..., "--data", help=DATA_HELP),
    groups: Path | None = typer.Option(None, "--groups", help=GROUPS_HELP),
    per_query: Path | None = typer.Option(
        None, "--per-query", help="Write per-query metrics here (a run for `rank compare`)."
    ),
    no_relevant: str = typer.Option(
        "one",
        "--no-relevant",
        help="NDCG/MAP/MRR of a query with no relevant doc: one, zero, skip.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as one JSON object."),
) -> None:
    """Evaluate a model: NDCG@1/3/5/10, MAP, MRR, P@10, ERR."""
    from searchlab.rank.compare import write_run
    from searchlab.rank.metrics import NO_RELEVANT_CONVENTIONS, evaluate_rankings
    from searchlab.rank.train import load_ranker

    if no_relevant not in NO_RELEVANT_CONVENTIONS:
        raise InputError(f"--no-relevant must be one of {', '.join(NO_RELEVANT_CONVENTIONS)}")
    check_output_files(per_query)
    _refuse_overwriting_inputs(per_query, "--per-query", data, groups)
    ranker = load_ranker(model)
    dataset = _read(data, groups, ranker.n_features)
    ev = evaluate_rankings(dataset, ranker.score(dataset), no_relevant=no_relevant)
    if per_query is not None:
        write_run(per_query, ev, model=model, data=data)
    if as_json:
        print_json(
            {
                **ev.mean,
                "queries": ev.n_queries,
                "queries_without_relevant": ev.n_no_relevant,
                "no_relevant": no_relevant,
                "model": str(model),
                "model_kind": ranker.config.loss,
                "data": str(data),
            }
        )
        return
    _say(
        f"{ranker.config.loss} on {data} ({ev.n_queries} queries, "
        f"{ev.n_no_relevant} without a relevant document → {no_relevant})"
    )
    for name, value in ev.mean.items():
        _say(f"  {name:<8} {value:.4f}")
    if per_query is not None:
        _say(f"per-query metrics written to {per_query}")


@app.command("predict")
def predict(
    model: Path = typer.Option(..., "--model", help="Model folder from `rank train`."),
    data: Path = typer.Option(..., "--data", help=DATA_HELP),
    groups: Path | None = typer.Option(None, "--groups", help=GROUPS_HELP),
    out: Path = typer.Option(..., "--out", help="Scores file: one line per input row."),
    with_rank: bool = typer.Option(
        False, "--rank", help="Add a tab and the row's rank within its query (1 = top)."
    ),
) -> None:
    """Write one score per input row, in input order."""
    import numpy as np

    from searchlab._io import atomic_output
    from searchlab.rank.data import read_ranking_file
    from searchlab.rank.train import load_ranker

    check_output_files(out)
    _refuse_overwriting_inputs(out, "--out", data, groups)
    ranker = load_ranker(model)
    # scores need no grouping; ranks do (--groups or qid:)
    dataset = read_ranking_file(
        data, groups, n_features=ranker.n_features, ungrouped_ok=not with_rank
    )
    scores = ranker.score(dataset)
    ranks = None
    if with_rank:
        ranks = np.empty(len(scores), dtype=np.int64)
        offsets = dataset.query_offsets
        for q in range(dataset.n_queries):
            lo, hi = offsets[q], offsets[q + 1]
            order = np.argsort(-scores[lo:hi], kind="stable")
            ranks[lo + order] = np.arange(1, hi - lo + 1)
    with atomic_output(out) as handle:
        for i, score in enumerate(scores):
            line = f"{score:.9g}" if ranks is None else f"{score:.9g}\t{ranks[i]}"
            handle.write(line + "\n")
    _say(f"wrote {len(scores)} scores to {out}")


@app.command("compare")
def compare(
    run_a: Path = typer.Argument(..., help="Per-query run of model A (eval --per-query)."),
    run_b: Path = typer.Argument(..., help="Per-query run of model B."),
    metric: str = typer.Option("ndcg@10", "--metric"),
    alternative: str = typer.Option(
        "two-sided", "--alternative", help="two-sided, larger, smaller."
    ),
    resamples: int | None = typer.Option(
        None, "--resamples", help="Monte Carlo sign vectors (default: exact when few queries)."
    ),
    seed: int = typer.Option(0, "--seed"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Is A better than B? Mean per-query difference with a paired sign-flip test."""
    from searchlab.rank.compare import compare_runs, read_run

    res = compare_runs(
        read_run(run_a),
        read_run(run_b),
        metric=metric,
        alternative=alternative,
        resamples=resamples,
        seed=seed,
    )
    if as_json:
        print_json({"run_a": str(run_a), "run_b": str(run_b), **res.to_dict()})
        return
    _say(f"{metric} over {res.n_queries} queries ({res.n_excluded} excluded as undefined)")
    _say(f"  A {run_a}: {res.mean_a:.4f}")
    _say(f"  B {run_b}: {res.mean_b:.4f}")
    _say(
        f"  A - B = {res.mean_difference:+.4f}  (A better on {res.wins}, worse on {res.losses}, "
        f"tied on {res.ties})"
    )
    mc = "" if res.method.startswith("exact") else f", ±{res.standard_error:.4f} MC error"
    _say(
        f"  p = {res.pvalue:.4g} ({res.alternative}, {res.method}, {res.resamples} sign vectors, "
        f"seed {res.seed}{mc})"
    )


def register(root: typer.Typer) -> None:
    """Add this job's commands to the root app."""
    root.add_typer(app, name="rank")
