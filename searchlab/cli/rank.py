"""CLI for the rank job: ``searchlab rank tune|train|eval|predict|compare`` (thin; logic in searchlab.rank)."""

from __future__ import annotations

from pathlib import Path

import typer

from searchlab._io import check_output_files, check_writable_folder
from searchlab.cli._common import console, err_console, print_json
from searchlab.errors import InputError
from searchlab.rank.metrics import DEFAULT_MAX_GRADE

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


def _progress_bar(description: str, total: int | None):
    """A transient progress bar on stderr: (bar, task id); the caller starts and stops it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        console=err_console,
        transient=True,
    )
    return bar, bar.add_task(description, total=total, status="")


def _refuse_other_family(model: str, changed: dict[str, bool]) -> None:
    """Tree options with a neural --model, or neural options with LambdaMART, are mistakes."""
    wrong = (
        ("--epochs", "--lr", "--hidden")
        if model == "lambdamart"
        else ("--num-trees", "--num-leaves", "--tree-lr")
    )
    for flag in wrong:
        if changed[flag]:
            raise InputError(
                f"{flag} does not apply to --model {model}",
                hint="--num-trees, --num-leaves and --tree-lr set LambdaMART; "
                "--epochs, --lr and --hidden set the neural models",
            )


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
    seed: int | None = typer.Option(
        None, "--seed", help="Seed for initialisation, batching, splits (default 0, or --config's)."
    ),
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
    config_file: Path | None = typer.Option(
        None,
        "--config",
        help="Settings from `rank tune --out FILE` (or a JSON object of training settings); "
        "replaces the model options.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the training summary as JSON."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Train a ranker and save it to --out."""
    import dataclasses

    from searchlab.rank.train import TrainConfig, train_ranker
    from searchlab.rank.tune import read_config

    if valid_groups is not None and valid is None:
        raise InputError("--valid-groups needs --valid", hint="give the validation data file")
    if patience < 0:
        raise InputError(f"--patience must be >= 0, got {patience}", hint="0 turns it off")
    defaults = TrainConfig()
    model_options = {
        "--model": model != defaults.loss,
        "--epochs": epochs != defaults.epochs,
        "--hidden": _hidden(hidden) != defaults.hidden,
        "--dropout": dropout != defaults.dropout,
        "--weight-decay": weight_decay != defaults.weight_decay,
        "--lr": learning_rate != defaults.learning_rate,
        "--batch-queries": batch_queries != defaults.batch_queries,
        "--norm": norm != defaults.norm,
        "--optimizer": optimizer != defaults.optimizer,
        "--patience": (patience or None) != defaults.early_stopping_patience,
        "--valid-fraction": valid_fraction != defaults.valid_fraction,
        "--max-list-len": max_list_len != defaults.max_list_len,
        "--refit": refit != defaults.refit,
        "--no-relevant": no_relevant != defaults.no_relevant,
        "--temperature": temperature != defaults.approx_temperature,
        "--num-trees": num_trees != defaults.num_trees,
        "--num-leaves": num_leaves != defaults.num_leaves,
        "--tree-lr": tree_lr != defaults.tree_learning_rate,
    }
    if config_file is not None:
        given = [flag for flag, changed in model_options.items() if changed]
        if given:
            raise InputError(
                f"{given[0]} cannot be combined with --config (the file holds every model setting)",
                hint="edit the config file, or drop --config",
            )
        _refuse_overwriting_inputs(out, "--out", config_file)
        config = read_config(config_file)
        config = dataclasses.replace(
            config,
            seed=config.seed if seed is None else seed,
            threads=threads,
            device=device,
        )
    else:
        _refuse_other_family(model, model_options)
        config = TrainConfig(
            loss=model,
            epochs=epochs,
            seed=0 if seed is None else seed,
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
    model = config.loss
    config.validate()
    _check_out_dir(out)
    if checkpoint_dir is not None:
        _check_out_dir(checkpoint_dir, "--checkpoint-dir")
    train_data = _read(data, groups)
    valid_data = None if valid is None else _read(valid, valid_groups, train_data.n_features)
    progress_fn, bar = None, None
    if not quiet and not as_json:
        total = config.num_trees if model == "lambdamart" else config.epochs
        bar, task = _progress_bar(f"train {model}", total)

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
        "seed": config.seed,
        "config": config.to_dict(),
        "config_file": None if config_file is None else str(config_file),
        "metrics": {k: v for k, v in m.items() if k != "history"},
    }
    if as_json:
        print_json(summary)
        return
    _say(
        f"trained {model} on {train_data.n_queries} queries / {train_data.n_rows} rows "
        f"({train_data.n_features} features), seed {config.seed}, in {m['train_seconds']:.1f} s"
    )
    if config_file is not None:
        _say(f"settings from {config_file}: {_settings_text(config)}")
    best = m.get("best_valid_ndcg@10")
    valid_text = "" if best is None else f"; best valid NDCG@10 {best:.4f} ({m['valid_source']})"
    if model == "lambdamart":
        ran, kept, unit = m["trees_trained"], m["best_iteration"], "trees"
        _say(f"trees trained {ran}, kept {kept}{valid_text}")
    else:
        ran, kept, unit = m["epochs_run"], m["best_epoch"], "epochs"
        _say(f"epochs run {ran}, kept epoch {kept}{valid_text}")
    if m.get("refit_on_all_queries"):
        _say(f"then retrained on all {train_data.n_queries} queries for {kept} {unit}")
    _say(f"saved to {out}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _settings_text(config) -> str:
    """The settings that differ from TrainConfig's defaults, as name=value pairs."""
    from searchlab.rank.base import TrainConfig

    defaults = TrainConfig().to_dict()
    changed = {k: v for k, v in config.to_dict().items() if v != defaults[k] or k == "loss"}
    return ", ".join(f"{k}={v}" for k, v in changed.items())


@app.command("tune")
def tune_command(
    data: Path = typer.Option(..., "--data", help="Training queries (svmlight/LETOR file)."),
    groups: Path | None = typer.Option(None, "--groups", help=GROUPS_HELP),
    cv: int = typer.Option(5, "--cv", help="Folds of cross-validation over the training queries."),
    seed: int = typer.Option(0, "--seed", help="Seed of the folds, splits and every model."),
    grid: str = typer.Option(
        "default", "--grid", help="default (22 candidates) or small (one per model)."
    ),
    losses: str | None = typer.Option(
        None, "--losses", help="Only these models, e.g. listnet,lambdamart (default: all)."
    ),
    metric: str = typer.Option("ndcg@10", "--metric", help="What CV maximises."),
    out: Path | None = typer.Option(
        None, "--out", help="Write the result JSON here (for `rank train --config`)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Choose the model, its settings and its length by K-fold CV on training queries only."""
    from searchlab._io import atomic_write_json
    from searchlab.rank.tune import check_tune_settings, tune

    check_output_files(out)
    _refuse_overwriting_inputs(out, "--out", data, groups)
    wanted = None
    if losses is not None:
        wanted = tuple(part.strip() for part in losses.split(",") if part.strip())
        if not wanted:
            raise InputError("--losses is empty", hint="e.g. --losses listnet,lambdamart")
    if cv < 2:  # before reading the data
        raise InputError(f"--cv must be at least 2 folds, got {cv}", hint="e.g. --cv 5")
    train_data = _read(data, groups)
    check_tune_settings(train_data, folds=cv, grid=grid, losses=wanted, metric=metric, seed=seed)
    bar, progress_fn = None, None
    if not quiet and not as_json:
        bar, task = _progress_bar("tune", None)

        def progress_fn(done: int, total: int, status: str) -> None:
            bar.update(task, completed=done, total=total, status=status)

        bar.start()
    try:
        result = tune(
            train_data,
            folds=cv,
            seed=seed,
            grid=grid,
            losses=wanted,
            metric=metric,
            progress=progress_fn,
        )
    finally:
        if bar is not None:
            bar.stop()
    record = {**result.to_dict(), "data": str(data)}
    if out is not None:
        atomic_write_json(out, record)
    if as_json:
        print_json(record)
        return
    _say(
        f"{cv}-fold CV over {result.n_queries} training queries of {data} "
        f"({_count(len(result.candidates), 'candidate')}, grid {result.grid}, seed {seed}, "
        f"{result.seconds:.0f} s); {metric} of each query by the fold model that never saw it"
    )
    width = max(len(c.name) for c in result.candidates)
    for c in result.candidates:
        unit = "trees" if c.config.loss == "lambdamart" else "epochs"
        mark = "  <- chosen" if c.name == result.name else ""
        lengths = ",".join(str(n) for n in c.fold_lengths)
        _say(
            f"  {c.name:<{width}}  {c.cv_score:.4f} ± {c.cv_std:.4f}  "
            f"{unit} {c.length} (folds {lengths}){mark}"
        )
    _say(f"chosen: {result.name}, CV {metric} {result.cv_score:.4f} ± {result.cv_std:.4f}")
    _say(f"  {_settings_text(result.config)}")
    if out is not None:
        _say(
            f"wrote {out}; train on all training queries with: searchlab rank train --config {out}"
        )


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
        help="Every metric of a query with no relevant doc: one, zero, skip.",
    ),
    ties: str = typer.Option(
        "id",
        "--ties",
        help="Tied scores: id (trec_eval: doc id descending; file position without ids), "
        "average (exact mean over tied orders) or input (file order, as LightGBM).",
    ),
    max_grade: float = typer.Option(
        DEFAULT_MAX_GRADE, "--max-grade", help="The data set's top grade, for ERR (Yahoo/MSLR: 4)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as one JSON object."),
) -> None:
    """Evaluate a model: NDCG@1/3/5/10, MAP, MRR, P@10, ERR."""
    from searchlab.rank.compare import write_run
    from searchlab.rank.metrics import NO_RELEVANT_CONVENTIONS, TIE_CONVENTIONS, evaluate_rankings
    from searchlab.rank.train import load_ranker

    if no_relevant not in NO_RELEVANT_CONVENTIONS:
        raise InputError(f"--no-relevant must be one of {', '.join(NO_RELEVANT_CONVENTIONS)}")
    if ties not in TIE_CONVENTIONS:
        raise InputError(f"--ties must be one of {', '.join(TIE_CONVENTIONS)}, got {ties!r}")
    if not 0 < max_grade < float("inf"):
        raise InputError(f"--max-grade must be a positive number, got {max_grade}", hint="e.g. 4")
    check_output_files(per_query)
    _refuse_overwriting_inputs(per_query, "--per-query", data, groups)
    ranker = load_ranker(model)
    dataset = _read(data, groups, ranker.n_features)
    ev = evaluate_rankings(
        dataset, ranker.score(dataset), no_relevant=no_relevant, ties=ties, max_grade=max_grade
    )
    if per_query is not None:
        write_run(per_query, ev, model=model, data=data)
    if as_json:
        print_json(
            {
                **ev.mean,
                "queries": ev.n_queries,
                "queries_without_relevant": ev.n_no_relevant,
                "no_relevant": no_relevant,
                "ties": ties,
                "queries_with_tied_scores": ev.n_tied_queries,
                "max_grade": max_grade,
                "model": str(model),
                "model_kind": ranker.config.loss,
                "data": str(data),
            }
        )
        return
    _say(
        f"{ranker.config.loss} on {data} ({ev.n_queries} queries, "
        f"{ev.n_no_relevant} without a relevant document → {no_relevant}; "
        f"{ev.n_tied_queries} with tied scores → ties {ties}; ERR top grade {max_grade:g})"
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
