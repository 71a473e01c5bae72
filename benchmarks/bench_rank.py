"""Benchmark of the rank job on the Yahoo! LTR sample (run by ``make bench``).

1. Quality: NDCG@1/3/5/10, MAP of ListNet, ListMLE, LambdaLoss, ApproxNDCG (and pointwise MSE)
   against LightGBM LambdaMART, trained on rank.train, evaluated on rank.test, mean and spread
   over 5 seeds, with training time. Hyperparameters were chosen by 5-fold cross-validation on
   the training queries only (rank.test was never used to choose anything).
2. Training throughput (training queries per second, per epoch) of our ListNet against a plain
   reference loop (the simplest correct PyTorch ListNet, one query at a time) and allRank's
   ListNet (its data loader, model, loss and training step), same data, model size, batch size
   and epochs, one CPU thread each.
3. Reading: our reader's fast and line-checking paths on the sample and on a generated
   MSLR-shaped file (136 dense features), rows per second and memory per million rows.

Writes benchmarks/results/yahoo.md and yahoo.json. No GPU is used (none is lent to this job).
"""

from __future__ import annotations

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
from searchlab.rank.data import RankingData, read_ranking_file, write_ranking_file  # noqa: E402
from searchlab.rank.metrics import evaluate_rankings  # noqa: E402
from searchlab.rank.train import TrainConfig, train_ranker  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "yahoo-ltr-sample"
RESULTS = ROOT / "benchmarks" / "results"
SEEDS = (0, 1, 2, 3, 4)
REPEATS = 3  # throughput: best of 3 runs each
THREADS = 1  # every trainer gets one thread: the machine is shared, and it is the same for all
ALLRANK_VERSION = "1.4.3"
ALLRANK_DIR = Path(
    os.environ.get(
        "ALLRANK_DIR", Path.home() / ".cache" / "searchlab" / f"allrank-{ALLRANK_VERSION}"
    )
)

# Chosen by 5-fold CV on the 201 training queries (3 seeds per setting); see docs/readme-rank.md.
NEURAL = {
    "ListNet": TrainConfig(loss="listnet", epochs=300, dropout=0.3, refit=True),
    "ListMLE": TrainConfig(loss="listmle", epochs=300, refit=True),
    "LambdaLoss (NDCG-Loss2++)": TrainConfig(loss="lambdaloss", epochs=300, dropout=0.3),
    "ApproxNDCG": TrainConfig(loss="approxndcg", epochs=300, hidden=(256,), refit=True),
    "MSE (pointwise baseline)": TrainConfig(loss="mse", epochs=300),
}
TREES = {
    "LambdaMART (LightGBM defaults)": TrainConfig(loss="lambdamart"),
    "LambdaMART (300 trees, lr 0.1)": TrainConfig(loss="lambdamart", num_trees=300),
}
METRICS = ("ndcg@1", "ndcg@3", "ndcg@5", "ndcg@10", "map")


def load_yahoo() -> tuple[RankingData, RankingData]:
    train = read_ranking_file(DATA / "rank.train", DATA / "rank.train.query")
    test = read_ranking_file(
        DATA / "rank.test", DATA / "rank.test.query", n_features=train.n_features
    )
    return train, test


# ----------------------------------------------------------------------------- quality


def quality(train: RankingData, test: RankingData) -> dict:
    rows = {}
    for name, base in {**NEURAL, **TREES}.items():
        per_seed = []
        for seed in SEEDS:
            config = TrainConfig(**{**base.to_dict(), "seed": seed, "threads": THREADS})
            config = TrainConfig.from_dict(config.to_dict())
            started = time.perf_counter()
            ranker = train_ranker(train, config)
            seconds = time.perf_counter() - started
            ev = evaluate_rankings(test, ranker.score(test))
            per_seed.append(
                {
                    **{m: ev.mean[m] for m in METRICS},
                    "seconds": seconds,
                    "epochs": ranker.metrics.get("best_epoch"),
                }
            )
        values = {k: np.array([r[k] for r in per_seed], dtype=float) for k in (*METRICS, "seconds")}
        rows[name] = {
            "mean": {k: float(v.mean()) for k, v in values.items()},
            "std": {k: float(v.std(ddof=1)) for k, v in values.items()},
            "min_ndcg@10": float(values["ndcg@10"].min()),
            "max_ndcg@10": float(values["ndcg@10"].max()),
            "per_seed": per_seed,
            "config": {k: v for k, v in base.to_dict().items() if v != TrainConfig().to_dict()[k]},
        }
        m = rows[name]["mean"]
        print(
            f"  {name:<32} ndcg@10 {m['ndcg@10']:.4f} ± {rows[name]['std']['ndcg@10']:.4f}"
            f"  map {m['map']:.4f}  {m['seconds']:.1f} s/model",
            flush=True,
        )
    return rows


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


def throughput(train: RankingData, test: RankingData, epochs: int = 30) -> dict:
    hidden, batch = 64, 16
    torch.set_num_threads(THREADS)
    out: dict = {
        "epochs": epochs,
        "hidden": hidden,
        "batch_queries": batch,
        "threads": THREADS,
        "queries": train.n_queries,
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
    for _ in range(REPEATS):  # best of REPEATS: the machine is shared, the minimum is the signal
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
    for _ in range(REPEATS):
        took, score = _reference_listnet(train, epochs, hidden, batch, 0)
        seconds = min(seconds, took)
    out["reference_loop"] = {
        "seconds": seconds,
        "qps": train.n_queries * epochs / seconds,
        "test_ndcg@10": evaluate_rankings(test, score(test.features)).mean["ndcg@10"],
    }
    ok, why = _ensure_allrank()
    out["allrank_note"] = why
    if ok:
        try:
            seconds = float("inf")
            for _ in range(REPEATS):
                took, _, dataset = _allrank_listnet(train, epochs, hidden, batch, 0)
                seconds = min(seconds, took)
            out["allrank"] = {"seconds": seconds, "qps": len(dataset) * epochs / seconds}
        except Exception as exc:
            out["allrank_note"] = f"allRank failed at training: {type(exc).__name__}: {exc}"
    for name in ("searchlab", "reference_loop", "allrank"):
        if name in out:
            print(
                f"  {name:<15} {out[name]['qps']:8.0f} queries/s  ({out[name]['seconds']:.2f} s "
                f"for {epochs} epochs)",
                flush=True,
            )
    return out


# ----------------------------------------------------------------------------- reading


def reading(tmp: Path) -> dict:
    out = {}
    import sklearn.datasets  # noqa: F401  (import time is not reading time)

    rng = np.random.default_rng(0)
    n, d = 20_000, 136
    lengths = rng.integers(20, 200, size=400)
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
        print(
            f"  {label:<40} fast {row['fast']['rows_per_s']:9.0f} rows/s, line-checking "
            f"{row['line-checking']['rows_per_s']:9.0f} rows/s, "
            f"{row['mb_per_million_rows']:.0f} MB per million rows",
            flush=True,
        )
    return out


# ----------------------------------------------------------------------------- report


def markdown(result: dict) -> str:
    q = result["quality"]
    lines = [
        "# Rank benchmark: Yahoo! LTR sample",
        "",
        f"Command: `{result['command']}` — {result['date']}, {result['machine']}, "
        f"{THREADS} torch thread per trainer; no GPU lent to this job. Total {result['wall_s']:.0f} s, "
        f"peak RSS {result['peak_rss_mb']:.0f} MB.",
        "",
        "Train `rank.train` (201 queries, 3,005 rows), test `rank.test` (50 queries). Mean ± std over "
        f"seeds {', '.join(map(str, SEEDS))}. Hyperparameters chosen by 5-fold CV on training "
        "queries only. With 50 test queries, differences under about 0.01 are noise.",
        "",
        "| model | NDCG@1 | NDCG@3 | NDCG@5 | NDCG@10 | MAP | train s/model | settings |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in q.items():
        m, s = row["mean"], row["std"]
        cells = [f"{m[k]:.4f} ± {s[k]:.4f}" for k in METRICS]
        settings = ", ".join(f"{k}={v}" for k, v in row["config"].items() if k != "loss")
        settings = settings or "defaults (deterministic: seeds change nothing)"
        lines.append(f"| {name} | {' | '.join(cells)} | {m['seconds']:.1f} | {settings} |")
    v = result["verdict"]
    lines += [
        "",
        f"Best neural loss: **{v['best_neural']}** NDCG@10 {v['best_neural_ndcg@10']:.4f} vs "
        f"LambdaMART (defaults) {v['lambdamart_ndcg@10']:.4f}: difference "
        f"{v['difference']:+.4f} ({'reaches/beats' if v['difference'] >= 0 else 'falls short of'} "
        "the target).",
        "",
        "## Training throughput (ListNet, same data, 64 hidden units, 16 queries/step)",
        "",
        "| trainer | queries/s per epoch | seconds | ratio (ours / it) |",
        "|---|---|---|---|",
    ]
    t = result["throughput"]  # (throughput table)
    for name in ("searchlab", "reference_loop", "allrank"):
        if name in t:
            ratio = t["searchlab"]["qps"] / t[name]["qps"]
            lines.append(
                f"| {name} | {t[name]['qps']:.0f} | {t[name]['seconds']:.2f} | {ratio:.2f} |"
            )
    lines += [
        "",
        f"{t['epochs']} epochs each (best of {REPEATS} runs), no early stopping, Adam lr 1e-3, dropout 0.1. Test NDCG@10 "
        f"after them: searchlab {t['searchlab']['test_ndcg@10']:.4f}, reference loop "
        f"{t['reference_loop']['test_ndcg@10']:.4f} (one seed). allRank: {t['allrank_note']}.",
        "",
        "## Reading",
        "",
        "| file | fast rows/s | line-checking rows/s | MB per million rows held | peak MB per million rows while reading (fast path, 2 MB chunks) |",
        "|---|---|---|---|---|",
    ]
    for label, row in result["reading"].items():
        lines.append(
            f"| {label} | {row['fast']['rows_per_s']:.0f} | "
            f"{row['line-checking']['rows_per_s']:.0f} | {row['mb_per_million_rows']:.0f} | "
            f"{row['fast']['peak_mb_per_million_rows']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    if not DATA.is_dir():
        print(f"skip: {DATA} not found")
        return 0
    started = time.perf_counter()
    train, test = load_yahoo()
    print("quality (5 seeds each):", flush=True)
    q = quality(train, test)
    neural = {k: v for k, v in q.items() if k in NEURAL and "MSE" not in k}
    best = max(neural, key=lambda k: neural[k]["mean"]["ndcg@10"])
    lm = q["LambdaMART (LightGBM defaults)"]["mean"]["ndcg@10"]
    verdict = {
        "best_neural": best,
        "best_neural_ndcg@10": neural[best]["mean"]["ndcg@10"],
        "lambdamart_ndcg@10": lm,
        "difference": neural[best]["mean"]["ndcg@10"] - lm,
    }
    print(
        f"best neural {best}: NDCG@10 {verdict['best_neural_ndcg@10']:.4f}; "
        f"ratio to LambdaMART {verdict['best_neural_ndcg@10'] / lm:.3f} "
        f"(difference {verdict['difference']:+.4f})"
    )
    print("training throughput:", flush=True)
    t = throughput(train, test)
    for name in ("reference_loop", "allrank"):
        if name in t:
            print(f"  ratio searchlab / {name}: {t['searchlab']['qps'] / t[name]['qps']:.2f}x")
    print("reading:", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        r = reading(Path(tmp))
    result = {
        "command": "make bench  (or: .venv/bin/python benchmarks/bench_rank.py)",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}, "
        f"torch {torch.__version__}",
        "seeds": list(SEEDS),
        "quality": q,
        "verdict": verdict,
        "throughput": t,
        "reading": r,
        "wall_s": time.perf_counter() - started,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    atomic_write_json(RESULTS / "yahoo.json", result)
    atomic_write_text(RESULTS / "yahoo.md", markdown(result))
    print(
        f"wall {result['wall_s']:.0f} s, peak RSS {result['peak_rss_mb']:.0f} MB; "
        f"wrote {RESULTS / 'yahoo.md'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
