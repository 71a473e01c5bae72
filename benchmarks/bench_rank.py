"""Benchmark of the rank job on the Yahoo! LTR sample (run by ``make bench``).

1. Quality, every choice made on the training queries only, by the code that ships:
   ``searchlab.rank.tune.tune`` (behind ``searchlab rank tune``) cross-validates the documented
   grid on ``rank.train`` (5 folds, seed 0: 4 listwise losses x 2 widths x 2 dropouts, and
   LambdaMART x 3 leaf counts x 2 learning rates; epochs and trees by early stopping inside each
   fold). The final models are the CV-best LambdaMART (the fairest peer, first), the CV-best
   neural model, the CV-best setting of each other loss (for reference) and LambdaMART at
   LightGBM's default settings (100 trees, no early stopping; labelled so). Each is trained on
   all training queries with its chosen configuration (fixed epochs/trees, as
   ``searchlab rank train --config`` does) for seeds 0-4, and each trained model scores
   ``rank.test`` once: mean and sd over the seeds. The CV scores that made the choice are in
   the table beside the test scores.
2. Training throughput (training queries per second, per epoch) of our ListNet against a plain
   reference loop (the simplest correct PyTorch ListNet, one query at a time) and allRank's
   ListNet (its data loader, model, loss and training step), same data, model size, batch size
   and epochs, one CPU thread each.
3. Reading: our reader's fast and line-checking paths on the sample and on a generated
   MSLR-shaped file (136 dense features), rows per second and memory per million rows.

Prints the report on stdout (exactly the markdown it writes to benchmarks/results/yahoo.md;
progress goes to stderr) and writes yahoo.json beside it. ``--quick`` is a reduced check (the
``small`` grid, 3 folds, seeds 0-1, 5 throughput epochs, a smaller reading file) that writes
nothing unless ``--out DIR`` is given. Exit 2 when the data is missing; exit 1 when allRank, a
named peer, cannot be run in a full run. No GPU is used (none is lent to this job).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
import types
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from searchlab._io import atomic_write_json, atomic_write_text  # noqa: E402
from searchlab.ab import paired_permutation_test  # noqa: E402
from searchlab.rank.base import NEURAL_LOSSES, TrainConfig  # noqa: E402
from searchlab.rank.data import RankingData, read_ranking_file, write_ranking_file  # noqa: E402
from searchlab.rank.metrics import evaluate_rankings  # noqa: E402
from searchlab.rank.train import train_ranker  # noqa: E402
from searchlab.rank.tune import TuneResult, tune  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "yahoo-ltr-sample"
RESULTS = ROOT / "benchmarks" / "results"
THREADS = 1  # every trainer gets one thread: the machine is shared, and it is the same for all
ALLRANK_VERSION = "1.4.3"
ALLRANK_DIR = Path(
    os.environ.get(
        "ALLRANK_DIR", Path.home() / ".cache" / "searchlab" / f"allrank-{ALLRANK_VERSION}"
    )
)
METRICS = ("ndcg@1", "ndcg@3", "ndcg@5", "ndcg@10", "map")
LOSS_NAMES = {
    "listnet": "ListNet",
    "listmle": "ListMLE",
    "lambdaloss": "LambdaLoss (NDCG-Loss2++)",
    "approxndcg": "ApproxNDCG",
    "lambdamart": "LambdaMART",
}
DEFAULT_LAMBDAMART = "LambdaMART, LightGBM default settings (not tuned)"


@dataclasses.dataclass(frozen=True)
class Settings:
    grid: str
    folds: int
    seeds: tuple[int, ...]
    throughput_epochs: int
    repeats: int
    reading_rows: int


FULL = Settings("default", 5, (0, 1, 2, 3, 4), 30, 3, 20_000)
QUICK = Settings("small", 3, (0, 1), 5, 1, 4_000)


def say(text: str) -> None:
    """Progress on stderr; stdout carries only the report."""
    print(text, file=sys.stderr, flush=True)


def load_yahoo() -> tuple[RankingData, RankingData]:
    train = read_ranking_file(DATA / "rank.train", DATA / "rank.train.query")
    test = read_ranking_file(
        DATA / "rank.test", DATA / "rank.test.query", n_features=train.n_features
    )
    return train, test


# ----------------------------------------------------------------------------- quality


def select(train: RankingData, settings: Settings) -> TuneResult:
    """CV on the training queries: the only place anything is chosen."""
    last = [""]

    def progress(done: int, total: int, status: str) -> None:
        name = status.split(",")[0]
        if name != last[0] and status != "done":
            last[0] = name
            say(f"  [{done}/{total}] {name}")

    result = tune(train, folds=settings.folds, seed=0, grid=settings.grid, progress=progress)
    for c in result.candidates:
        say(f"  CV {c.cv_score:.4f} ± {c.cv_std:.4f}  {c.name} (length {c.length})")
    return result


def final_models(result: TuneResult) -> dict[str, dict]:
    """The models that face the test set, fairest peer first; each with how it was chosen."""
    trees = result.best("lambdamart")
    neural = result.best(NEURAL_LOSSES)
    rows = {
        f"LambdaMART: {_short(trees)}": {"candidate": trees, "how": "CV-tuned (best LambdaMART)"},
        f"{LOSS_NAMES[neural.config.loss]}: {_short(neural)}": {
            "candidate": neural,
            "how": "CV-tuned (best neural model: selected)",
        },
    }
    for loss in dict.fromkeys(c.config.loss for c in result.candidates):
        if loss == "lambdamart" or loss == neural.config.loss:
            continue
        best = result.best(loss)
        rows[f"{LOSS_NAMES[loss]}: {_short(best)}"] = {
            "candidate": best,
            "how": "CV-best of its loss (not selected)",
        }
    default = TrainConfig(loss="lambdamart", early_stopping_patience=None)
    rows[DEFAULT_LAMBDAMART] = {"config": default, "how": "defaults: 100 trees, 31 leaves, "
                                "lr 0.1, no early stopping"}  # fmt: skip
    return rows


def _short(candidate) -> str:
    unit = "trees" if candidate.config.loss == "lambdamart" else "epochs"
    settings = candidate.name.split(" ", 1)[1].replace(" ", ", ")
    return f"{settings}, {candidate.length} {unit}"


def quality(train: RankingData, test: RankingData, result: TuneResult, seeds) -> dict:
    rows = {}
    for name, row in final_models(result).items():
        candidate = row.get("candidate")
        base = candidate.config if candidate is not None else row["config"]
        per_seed, per_query = [], []
        for seed in seeds:
            config = dataclasses.replace(base, seed=seed, threads=THREADS)
            started = time.perf_counter()
            ranker = train_ranker(train, config)
            seconds = time.perf_counter() - started
            ev = evaluate_rankings(test, ranker.score(test))  # the one look at the test set
            per_query.append(ev.per_query["ndcg@10"])
            per_seed.append(
                {
                    **{m: ev.mean[m] for m in METRICS},
                    "seconds": seconds,
                    "tied_queries": ev.n_tied_queries,
                }
            )
        values = {k: np.array([r[k] for r in per_seed], dtype=float) for k in (*METRICS, "seconds")}
        rows[name] = {
            "how": row["how"],
            "cv_score": None if candidate is None else candidate.cv_score,
            "cv_std": None if candidate is None else candidate.cv_std,
            "length": base.num_trees if base.loss == "lambdamart" else base.epochs,
            "unit": "trees" if base.loss == "lambdamart" else "epochs",
            "config": base.to_dict(),
            "mean": {k: float(v.mean()) for k, v in values.items()},
            "std": {k: float(v.std(ddof=1)) for k, v in values.items()},
            "per_seed": per_seed,
            "per_query_ndcg@10": np.mean(per_query, axis=0).tolist(),
        }
        m, sd = rows[name]["mean"], rows[name]["std"]
        say(f"  test NDCG@10 {m['ndcg@10']:.4f} ± {sd['ndcg@10']:.4f}  {name}")
    return rows


def verdict(rows: dict) -> dict:
    names = list(rows)
    trees, neural = rows[names[0]], rows[names[1]]
    a = np.asarray(neural["per_query_ndcg@10"])
    b = np.asarray(trees["per_query_ndcg@10"])
    test = paired_permutation_test(a, b, seed=0)
    return {
        "neural": names[1],
        "lambdamart": names[0],
        "cv_neural": neural["cv_score"],
        "cv_lambdamart": trees["cv_score"],
        "test_neural": neural["mean"]["ndcg@10"],
        "test_lambdamart": trees["mean"]["ndcg@10"],
        "test_difference": neural["mean"]["ndcg@10"] - trees["mean"]["ndcg@10"],
        "test_ratio": neural["mean"]["ndcg@10"] / trees["mean"]["ndcg@10"],
        "pvalue": float(test.pvalue),
        "method": test.method,
        "n_queries": len(a),
    }


# ----------------------------------------------------------------------------- throughput


def _reference_listnet(
    train: RankingData, epochs: int, hidden: int, batch: int, seed: int
) -> float:
    """The simplest correct ListNet: per-query forward, softmax CE, step every ``batch`` queries."""
    torch.manual_seed(seed)
    x = torch.from_numpy(
        (train.features - train.features.mean(0)) / np.maximum(train.features.std(0), 1e-12)
    ).float()
    y = torch.from_numpy(train.labels)
    model = torch.nn.Sequential(
        torch.nn.Linear(train.n_features, hidden),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.1),
        torch.nn.Linear(hidden, 1),
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    offsets = train.query_offsets.tolist()
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    for _ in range(epochs):
        order = rng.permutation(train.n_queries)
        for start in range(0, len(order), batch):
            opt.zero_grad()
            losses = []
            for q in order[start : start + batch]:
                lo, hi = offsets[q], offsets[q + 1]
                scores = model(x[lo:hi]).squeeze(-1)
                target = torch.softmax(y[lo:hi], dim=0)
                losses.append(-(target * torch.log_softmax(scores, dim=0)).sum())
            torch.stack(losses).mean().backward()
            opt.step()
    seconds = time.perf_counter() - started
    mean, std = train.features.mean(0), np.maximum(train.features.std(0), 1e-12)
    model.eval()

    def score(features: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy((features - mean) / std).float()).squeeze(-1).numpy()

    return seconds, score


def _ensure_allrank() -> tuple[bool, str]:
    """allRank 1.4.3 pins torch<=1.8, so it is installed --no-deps into a private folder."""
    if not (ALLRANK_DIR / "allrank").is_dir():
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(ALLRANK_DIR),
            f"allrank=={ALLRANK_VERSION}",
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            return False, "pip install allrank --no-deps failed: " + done.stderr.strip()[-300:]

    # allRank imports torchvision (only transforms.Compose), tensorboardX, gcsfs, flatten_dict
    # and pkg_resources at module level; none is used on the training path, and torchvision
    # would need a torch other than 2.13. Minimal stand-ins let the real training code import.
    class Compose:
        def __init__(self, fns):
            self.fns = fns

        def __call__(self, value):
            for fn in self.fns:
                value = fn(value)
            return value

    def stand_in(name: str, **attrs) -> types.ModuleType:
        module = types.ModuleType(name)
        module.__dict__.update(attrs)
        sys.modules.setdefault(name, module)
        return module

    for name in ("torchvision", "tensorboardX", "gcsfs", "flatten_dict", "pkg_resources"):
        try:
            __import__(name)
        except ImportError:
            stand_in(
                name,
                SummaryWriter=object,
                flatten=dict,
                Requirement=object,
                resource_filename=lambda *a: "",
            )
    if "torchvision.transforms" not in sys.modules:
        sys.modules["torchvision"].transforms = stand_in("torchvision.transforms", Compose=Compose)
    sys.path.insert(0, str(ALLRANK_DIR))
    try:
        import allrank.training.train_utils  # noqa: F401
    except Exception as exc:  # report any import failure as the reason
        return False, f"allRank does not import: {type(exc).__name__}: {exc}"
    return (
        True,
        "allRank 1.4.3 --no-deps; stand-ins for torchvision.transforms.Compose, tensorboardX",
    )


def _allrank_listnet(train: RankingData, epochs: int, hidden: int, batch: int, seed: int):
    from allrank.data.dataset_loading import LibSVMDataset, fix_length_to_longest_slate
    from allrank.models.losses import listNet
    from allrank.models.model import make_model
    from allrank.training.train_utils import loss_batch
    from torch.utils.data import DataLoader

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.svm"
        write_ranking_file(path, train)  # allRank needs qid: columns
        dataset = LibSVMDataset.from_svm_file(str(path))
    dataset.transform = fix_length_to_longest_slate(dataset)
    torch.manual_seed(seed)
    loader = DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=0)
    model = make_model(
        fc_model={"sizes": [hidden], "input_norm": False, "activation": "ReLU", "dropout": 0.1},
        transformer=None,
        post_model={"output_activation": None, "d_output": 1},
        n_features=train.n_features,
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    started = time.perf_counter()
    for _ in range(epochs):
        model.train()
        for xb, yb, indices in loader:
            loss_batch(model, listNet, xb, yb, indices, None, opt)
    seconds = time.perf_counter() - started
    return seconds, model, dataset


def throughput(
    train: RankingData, test: RankingData, allrank: tuple[bool, str], epochs: int, repeats: int
) -> dict:
    hidden, batch = 64, 16
    torch.set_num_threads(THREADS)
    out: dict = {
        "epochs": epochs,
        "hidden": hidden,
        "batch_queries": batch,
        "threads": THREADS,
        "queries": train.n_queries,
        "repeats": repeats,
    }
    ours = TrainConfig(
        loss="listnet",
        epochs=epochs,
        hidden=(hidden,),
        batch_queries=batch,
        dropout=0.1,
        early_stopping_patience=None,
        no_relevant="keep",
        threads=THREADS,
        seed=0,
    )
    train_ranker(train, TrainConfig.from_dict({**ours.to_dict(), "epochs": 1}))  # warm-up
    seconds = float("inf")
    for _ in range(repeats):  # best of repeats: the machine is shared, the minimum is the signal
        started = time.perf_counter()
        ranker = train_ranker(train, ours)
        seconds = min(seconds, time.perf_counter() - started)
    ndcg = evaluate_rankings(test, ranker.score(test)).mean["ndcg@10"]
    out["searchlab"] = {
        "seconds": seconds,
        "qps": train.n_queries * epochs / seconds,
        "test_ndcg@10": ndcg,
    }
    seconds = float("inf")
    for _ in range(repeats):
        took, score = _reference_listnet(train, epochs, hidden, batch, 0)
        seconds = min(seconds, took)
    out["reference_loop"] = {
        "seconds": seconds,
        "qps": train.n_queries * epochs / seconds,
        "test_ndcg@10": evaluate_rankings(test, score(test.features)).mean["ndcg@10"],
    }
    ok, why = allrank
    out["allrank_note"] = why
    if ok:
        try:
            seconds = float("inf")
            for _ in range(repeats):
                took, _, dataset = _allrank_listnet(train, epochs, hidden, batch, 0)
                seconds = min(seconds, took)
            out["allrank"] = {"seconds": seconds, "qps": len(dataset) * epochs / seconds}
        except Exception as exc:
            out["allrank_note"] = f"allRank failed at training: {type(exc).__name__}: {exc}"
    for name in ("searchlab", "reference_loop", "allrank"):
        if name in out:
            say(
                f"  {name:<15} {out[name]['qps']:8.0f} queries/s  ({out[name]['seconds']:.2f} s "
                f"for {epochs} epochs)"
            )
    return out


# ----------------------------------------------------------------------------- reading


def reading(tmp: Path, n: int) -> dict:
    out = {}
    import sklearn.datasets  # noqa: F401  (import time is not reading time)

    rng = np.random.default_rng(0)
    d = 136
    lengths = rng.integers(20, 200, size=n // 20)
    lengths = lengths[np.cumsum(lengths) <= n]
    qids = np.repeat(np.arange(len(lengths)), lengths)
    feats = rng.random((len(qids), d)).astype(np.float32).round(4) + 0.0001
    data = RankingData.from_arrays(feats, rng.integers(0, 5, len(qids)), qids)
    path = tmp / "mslr_like.svm"
    write_ranking_file(path, data)
    for label, file, groups in (
        ("yahoo rank.train (3,005 rows, sparse)", DATA / "rank.train", DATA / "rank.train.query"),
        (f"MSLR-shaped ({data.n_rows:,} rows x 136 dense)", path, None),
    ):
        row = {}
        for fast in (True, False):
            started = time.perf_counter()
            got = read_ranking_file(file, groups, fast=fast)
            seconds = time.perf_counter() - started
            row["fast" if fast else "line-checking"] = {
                "seconds": seconds,
                "rows_per_s": got.n_rows / seconds,
            }
        # numpy and scipy report their buffers to tracemalloc; 2 MB chunks make this small
        # file stream the way a multi-gigabyte one does with the default 64 MB chunks
        tracemalloc.start()
        read_ranking_file(file, groups, fast=True, chunk_bytes=1 << 21)
        row["fast"]["peak_mb_per_million_rows"] = tracemalloc.get_traced_memory()[1] / got.n_rows
        tracemalloc.stop()
        row["bytes_per_row"] = got.features.nbytes / got.n_rows + 16
        row["mb_per_million_rows"] = row["bytes_per_row"]  # bytes/row == MB per million rows
        out[label] = row
        say(
            f"  {label:<40} fast {row['fast']['rows_per_s']:9.0f} rows/s, line-checking "
            f"{row['line-checking']['rows_per_s']:9.0f} rows/s, "
            f"{row['mb_per_million_rows']:.0f} MB per million rows"
        )
    return out


# ----------------------------------------------------------------------------- report


def _pm(mean: float, sd: float) -> str:
    return f"{mean:.4f} ± {sd:.4f}"


def markdown(result: dict) -> str:
    q, tuned, s = result["quality"], result["tune"], result["settings"]
    seeds = ", ".join(map(str, s["seeds"]))
    chosen = tuned["name"]
    lines = [
        "# Rank benchmark: Yahoo! LTR sample",
        "",
        f"Command: `{result['command']}` — {result['date']}, {result['machine']}, "
        f"{THREADS} torch thread per trainer; no GPU lent to this job. Total "
        f"{result['wall_s']:.0f} s, peak RSS {result['peak_rss_mb']:.0f} MB.",
        "",
        f"Train `rank.train` ({result['train_queries']} queries, {result['train_rows']:,} rows), "
        f"test `rank.test` ({result['test_queries']} queries, {result['test_rows']:,} rows).",
        "",
        f"**Selection, on the training queries only:** `searchlab rank tune --data rank.train "
        f"--groups rank.train.query --cv {s['folds']} --grid {s['grid']} --seed 0` "
        f"(searchlab/rank/tune.py): {s['folds']}-fold CV over the {tuned['n_queries']} training "
        f"queries, {len(tuned['candidates'])} candidates, epochs or trees chosen by early "
        "stopping on a held-out 20% of each fold's training queries; the CV score is the "
        "NDCG@10 of every training query from the fold model that never saw it (± sd over "
        f"folds). Overall CV choice: **{chosen}**, CV NDCG@10 "
        f"{_pm(tuned['cv_score'], tuned['cv_std'])}.",
        "",
        "**Test, scored once per final model:** each final model is trained on all training "
        "queries with its chosen configuration (fixed epochs/trees, no early stopping: "
        f"`searchlab rank train --config`) for seeds {seeds}; mean ± sd over those seeds. "
        "Ties in scores break by document id as in trec_eval (this sample has no ids: by file "
        "position); queries without a relevant document score 1. With "
        f"{result['test_queries']} test queries, differences under about 0.01 are noise.",
        "",
        "| model | how it was chosen | CV NDCG@10 (selection) | test NDCG@1 | NDCG@3 | NDCG@5 "
        "| NDCG@10 | MAP | epochs/trees | train s/model |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in q.items():
        m, sd = row["mean"], row["std"]
        cells = [_pm(m[k], sd[k]) for k in METRICS]
        cv = "—" if row["cv_score"] is None else _pm(row["cv_score"], row["cv_std"])
        lines.append(
            f"| {name} | {row['how']} | {cv} | {' | '.join(cells)} | "
            f"{row['length']} {row['unit']} | {m['seconds']:.1f} |"
        )
    v = result["verdict"]
    ties = [
        f"{n} ({r['per_seed'][0]['tied_queries']})"
        for n, r in q.items()
        if r["per_seed"][0]["tied_queries"]
    ]
    lines += [
        "",
        f"CV-tuned neural vs CV-tuned LambdaMART: CV NDCG@10 {v['cv_neural']:.4f} vs "
        f"{v['cv_lambdamart']:.4f}; test NDCG@10 {v['test_neural']:.4f} vs "
        f"{v['test_lambdamart']:.4f}, difference {v['test_difference']:+.4f} (ratio "
        f"{v['test_ratio']:.3f}), paired sign-flip p = {v['pvalue']:.3g} over "
        f"{v['n_queries']} test queries ({v['method']}, per-query NDCG@10 averaged over seeds).",
        "",
        "LightGBM's LambdaMART uses no randomness at these settings, so its seeds agree (sd 0)."
        + (
            f" Test queries with tied scores (seed {s['seeds'][0]}): " + ", ".join(ties) + "."
            if ties
            else ""
        ),
        "",
        f"## Every candidate ({s['folds']}-fold CV on the training queries: the selection)",
        "",
        "| candidate | CV NDCG@10 | sd over folds | epochs/trees kept per fold | final length |",
        "|---|---|---|---|---|",
    ]
    for c in tuned["candidates"]:
        mark = " (chosen)" if c["name"] == chosen else ""
        lengths = ", ".join(str(n) for n in c["fold_lengths"])
        lines.append(
            f"| {c['name']}{mark} | {c['cv_score']:.4f} | {c['cv_std']:.4f} | {lengths} | "
            f"{c['length']} |"
        )
    t = result["throughput"]
    lines += [
        "",
        "## Training throughput (ListNet, same data, 64 hidden units, 16 queries/step)",
        "",
        "| trainer | queries/s per epoch | seconds | ratio (ours / it) |",
        "|---|---|---|---|",
    ]
    for name in ("searchlab", "reference_loop", "allrank"):
        if name in t:
            ratio = t["searchlab"]["qps"] / t[name]["qps"]
            lines.append(
                f"| {name} | {t[name]['qps']:.0f} | {t[name]['seconds']:.2f} | {ratio:.2f} |"
            )
    lines += [
        "",
        f"{t['epochs']} epochs each (best of {t['repeats']} runs), no early stopping, Adam lr "
        f"1e-3, dropout 0.1. Test NDCG@10 after them: searchlab "
        f"{t['searchlab']['test_ndcg@10']:.4f}, reference loop "
        f"{t['reference_loop']['test_ndcg@10']:.4f} (one seed). allRank: {t['allrank_note']}.",
        "",
        "## Reading",
        "",
        "| file | fast rows/s | line-checking rows/s | MB per million rows held | peak MB per "
        "million rows while reading (fast path, 2 MB chunks) |",
        "|---|---|---|---|---|",
    ]
    for label, row in result["reading"].items():
        lines.append(
            f"| {label} | {row['fast']['rows_per_s']:.0f} | "
            f"{row['line-checking']['rows_per_s']:.0f} | {row['mb_per_million_rows']:.0f} | "
            f"{row['fast']['peak_mb_per_million_rows']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced check; writes nothing")
    parser.add_argument("--out", type=Path, help="results folder (full run: benchmarks/results)")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    out = args.out if args.out is not None else (None if args.quick else RESULTS)
    if not DATA.is_dir():
        print(f"error: {DATA} not found — put ../shared/data beside the checkout", file=sys.stderr)
        return 2
    started = time.perf_counter()
    allrank = _ensure_allrank()
    if not allrank[0] and not args.quick:
        print(f"error: allRank, a named peer, cannot run: {allrank[1]}", file=sys.stderr)
        return 1
    train, test = load_yahoo()
    say(f"selection: {settings.folds}-fold CV on {train.n_queries} training queries, "
        f"grid {settings.grid}")  # fmt: skip
    tuned = select(train, settings)
    say(f"final models, seeds {settings.seeds}, each scoring rank.test once:")
    q = quality(train, test, tuned, settings.seeds)
    say("training throughput:")
    t = throughput(train, test, allrank, settings.throughput_epochs, settings.repeats)
    say("reading:")
    with tempfile.TemporaryDirectory() as tmp:
        r = reading(Path(tmp), settings.reading_rows)
    command = "benchmarks/bench_rank.py" + (" --quick" if args.quick else "")
    result = {
        "command": f".venv/bin/python {command}" + ("" if args.quick else "  (make bench)"),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}, "
        f"torch {torch.__version__}",
        "settings": dataclasses.asdict(settings),
        "train_queries": train.n_queries,
        "train_rows": train.n_rows,
        "test_queries": test.n_queries,
        "test_rows": test.n_rows,
        "tune": tuned.to_dict(),
        "quality": q,
        "verdict": verdict(q),
        "throughput": t,
        "reading": r,
        "wall_s": time.perf_counter() - started,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    report = markdown(result)
    if out is not None:
        atomic_write_json(out / "yahoo.json", result)
        atomic_write_text(out / "yahoo.md", report)
        say(f"wrote {out / 'yahoo.md'} and yahoo.json")
    sys.stdout.write(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
