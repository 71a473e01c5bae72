"""Training rankers: the neural listwise loop, and the one API every ranker answers to.

``train_ranker(data, TrainConfig(...), valid=None, progress=None)`` returns a ``TrainedRanker``
whether the model is an MLP trained with a listwise loss or LightGBM's LambdaMART
(``loss="lambdamart"``), so the CLI, the benchmark and the text reranker treat them alike.

The hot path is vectorised: a batch of many queries becomes one (rows, mask) index matrix, the
MLP scores only the real rows in one call, and the loss runs on the padded (B, L) matrix; there
is no Python loop over queries. Early stopping watches validation NDCG@10; without ``valid``,
a seeded ``valid_fraction`` of the training queries is held out for it. Runs are deterministic
on CPU for a given seed (the global torch RNG is forked, so callers' RNG state is untouched).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import io
import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from searchlab._io import ensure_parent_writable, read_manifest
from searchlab.errors import InputError, ModelError
from searchlab.rank.base import (
    ALL_MODELS,
    FORMAT,
    NEURAL_LOSSES,
    RETRAIN_HINT,
    ProgressFn,
    TrainConfig,
    TrainedRanker,
    holdout_split,
)
from searchlab.rank.data import RankingData
from searchlab.rank.lambdamart import load_lambdamart, train_lambdamart
from searchlab.rank.metrics import ndcg_at_k

# re-exported: callers import the config and ranker types from here or from ``base``
__all__ = [
    "ALL_MODELS",
    "NEURAL_LOSSES",
    "NeuralRanker",
    "TrainConfig",
    "TrainedRanker",
    "load_ranker",
    "train_ranker",
]


class NeuralRanker(TrainedRanker):
    kind = "neural"

    def __init__(self, config, n_features, metrics, scaler, module) -> None:
        super().__init__(config, n_features, metrics)
        self.scaler = scaler
        self.module = module

    def score(self, features: np.ndarray | RankingData) -> np.ndarray:
        import torch

        x = self.scaler.transform(self._features(features))
        device = next(self.module.parameters()).device
        self.module.eval()
        out = np.empty(x.shape[0], dtype=np.float64)
        with torch.no_grad(), _torch_threads(self.config.threads):
            for start in range(0, x.shape[0], 65536):
                chunk = torch.from_numpy(np.ascontiguousarray(x[start : start + 65536]))
                out[start : start + chunk.shape[0]] = (
                    self.module(chunk.to(device)).double().cpu().numpy()
                )
        return out

    def _payload(self):
        import torch

        buffer = io.BytesIO()
        state = {k: v.detach().cpu() for k, v in self.module.state_dict().items()}
        torch.save(state, buffer)
        return {"scaler": self.scaler.to_dict()}, {"model.pt": buffer.getvalue()}


def _resolve_device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("CUDA was requested but no GPU is available", hint="use --device cpu")
    return torch.device(name)


def train_ranker(
    data: RankingData,
    config: TrainConfig | None = None,
    *,
    valid: RankingData | None = None,
    progress: ProgressFn | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
) -> TrainedRanker:
    """Train on ``data``; early-stop on ``valid`` (or held-out training queries)."""
    config = config or TrainConfig()
    config.validate()
    if data.n_queries < 1 or data.n_rows < 2:
        raise InputError(
            "training data needs at least one query with two documents",
            hint="give more rows, grouped by qid: or --groups",
        )
    starts = data.query_offsets[:-1]
    if not np.any(
        np.maximum.reduceat(data.labels, starts) > np.minimum.reduceat(data.labels, starts)
    ):
        raise InputError(
            "no training query has documents with different labels: there is no order to learn",
            hint="check the label column and the query grouping (qid: or --groups)",
        )
    if valid is not None:
        valid = valid.with_n_features(data.n_features)
    if config.loss == "lambdamart":
        return train_lambdamart(data, config, valid=valid, progress=progress)
    if checkpoint_dir is not None:
        ensure_parent_writable(Path(checkpoint_dir) / "ranker.json")
    with _torch_threads(config.threads):
        return _train_neural(data, config, valid, progress, checkpoint_dir)


@contextlib.contextmanager
def _torch_threads(threads: int | None):
    import torch

    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _train_neural(data, config, valid, progress, checkpoint_dir) -> NeuralRanker:
    import torch

    from searchlab.rank.batching import iterate_batches
    from searchlab.rank.losses import LOSSES
    from searchlab.rank.model import FeatureScaler, MLPScorer

    full_data = data
    held_out = False
    if valid is None and config.early_stopping_patience is not None:
        data, valid = holdout_split(data, config.valid_fraction, config.seed)
        held_out = valid is not None
    train_labels = data.labels
    offsets = data.query_offsets
    # which training lists the loss sees (convention for lists without a relevant document)
    group_max = np.maximum.reduceat(train_labels, offsets[:-1]) if data.n_rows else np.zeros(0)
    lengths = np.diff(offsets)
    usable = lengths >= 2
    if config.no_relevant == "skip":
        usable &= group_max > 0
    train_queries = np.flatnonzero(usable)
    if len(train_queries) == 0:
        raise InputError(
            "no training query has two documents and a relevant one"
            + (" (after holding out validation queries)" if held_out else ""),
            hint="check the labels, or keep such lists (no_relevant='keep', --no-relevant keep)",
        )
    scaler = FeatureScaler.fit(data.features, standardize=config.standardize)
    device = _resolve_device(config.device)
    started = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        module = MLPScorer(
            data.n_features,
            tuple(config.hidden),
            activation=config.activation,
            dropout=config.dropout,
            norm=config.norm,
            input_dropout=config.input_dropout,
        ).to(device)
        x_all = torch.from_numpy(scaler.transform(data.features)).to(device)
        if config.optimizer == "adam":
            opt = torch.optim.Adam(
                module.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
            )
        else:
            opt = torch.optim.SGD(
                module.parameters(),
                lr=config.learning_rate,
                momentum=config.momentum,
                weight_decay=config.weight_decay,
            )
        loss_fn = LOSSES[config.loss]
        loss_kwargs: dict[str, Any] = {}
        if config.loss == "listmle":
            loss_kwargs["generator"] = torch.Generator().manual_seed(config.seed + 1)
        elif config.loss == "approxndcg":
            loss_kwargs["temperature"] = config.approx_temperature
        elif config.loss == "lambdaloss":
            loss_kwargs.update(mu=config.lambdaloss_mu, k=config.lambdaloss_k)
        rng = np.random.default_rng(config.seed)
        valid_x = None if valid is None else scaler.transform(valid.features)
        history: list[dict[str, float]] = []
        best = (-np.inf, 0, None)  # (valid ndcg@10, epoch, state)
        stale = 0
        for epoch in range(1, config.epochs + 1):
            module.train()
            total, count = 0.0, 0
            for batch in iterate_batches(
                offsets,
                train_labels,
                train_queries,
                config.batch_queries,
                shuffle=True,
                rng=rng,
                max_list_len=config.max_list_len,
            ):
                mask = torch.from_numpy(batch.mask).to(device)
                rows = torch.from_numpy(batch.rows[batch.mask]).to(device)
                labels = torch.from_numpy(batch.labels).to(device)
                flat = module(x_all[rows])
                scores = torch.zeros(mask.shape, dtype=flat.dtype, device=device)
                scores = scores.masked_scatter(mask, flat)
                per_query = loss_fn(scores, labels, mask, **loss_kwargs)
                loss = per_query.mean()
                if not torch.isfinite(loss):
                    raise ModelError(
                        f"training diverged at epoch {epoch} (loss {loss.item()})",
                        hint="lower the learning rate or standardise the features",
                    )
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(per_query)
                count += len(per_query)
            train_loss = total / max(count, 1)
            valid_ndcg = float("nan")
            if valid is not None:
                module.eval()
                with torch.no_grad():
                    vs = module(torch.from_numpy(valid_x).to(device)).double().cpu().numpy()
                valid_ndcg = float(
                    np.mean(ndcg_at_k(valid.labels, vs, 10, query_offsets=valid.query_offsets))
                )
            history.append({"epoch": epoch, "train_loss": train_loss, "valid_ndcg@10": valid_ndcg})
            if progress is not None:
                progress(epoch, config.epochs, train_loss, valid_ndcg)
            if valid is None:
                continue
            if valid_ndcg > best[0]:
                best = (valid_ndcg, epoch, copy.deepcopy(module.state_dict()))
                stale = 0
                if checkpoint_dir is not None:
                    _checkpoint(config, data, scaler, module, history, best, checkpoint_dir)
            else:
                stale += 1
                if (
                    config.early_stopping_patience is not None
                    and stale >= config.early_stopping_patience
                ):
                    break
        if best[2] is not None:
            module.load_state_dict(best[2])
    module.eval()
    metrics = {
        "seed": config.seed,
        "epochs_run": len(history),
        "best_epoch": best[1] if best[2] is not None else len(history),
        "best_valid_ndcg@10": None if best[2] is None else best[0],
        "valid_source": "given"
        if valid is not None and not held_out
        else (f"held-out {valid.n_queries} training queries" if held_out else "none"),
        "train_queries": int(data.n_queries),
        "train_seconds": time.perf_counter() - started,
        "device": str(device),
        "history": history,
    }
    if held_out and config.refit:
        # the held-out queries chose the epoch count; now learn from all training queries
        full = dataclasses.replace(
            config, early_stopping_patience=None, epochs=metrics["best_epoch"]
        )
        refit = _train_neural(full_data, full, None, None, None)
        refit.config = config
        refit.metrics = {
            **metrics,
            "refit_on_all_queries": True,
            "train_queries": int(full_data.n_queries),
            "train_seconds": time.perf_counter() - started,
        }
        return refit
    return NeuralRanker(config, data.n_features, metrics, scaler, module)


def _checkpoint(config, data, scaler, module, history, best, directory) -> None:
    metrics = {"seed": config.seed, "best_epoch": best[1], "best_valid_ndcg@10": best[0]}
    metrics["history"] = list(history)
    NeuralRanker(config, data.n_features, metrics, scaler, module).save(directory)


def load_ranker(directory: str | os.PathLike[str]) -> TrainedRanker:
    """Load a folder written by ``TrainedRanker.save``."""
    path = Path(directory)
    meta_path = path / "ranker.json"
    meta = read_manifest(path, "ranker.json", fmt=FORMAT, what="searchlab model", hint=RETRAIN_HINT)
    try:
        config = TrainConfig.from_dict(meta["config"])
        n_features = int(meta["n_features"])
        kind = meta["kind"]
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(
            f"{meta_path} is damaged ({type(exc).__name__}: {exc})", hint=RETRAIN_HINT
        ) from None
    metrics = meta.get("metrics", {})
    try:
        if kind == "lambdamart":
            return load_lambdamart(path, config, n_features, metrics)
        if kind == NeuralRanker.kind:
            return _load_neural(path, config, n_features, metrics, meta)
    except InputError:
        raise
    except Exception as exc:  # torch, pickle and LightGBM raise their own types on bad files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise InputError(
            f"cannot load the model in {path}: {type(exc).__name__}: {first}"[:300],
            hint=RETRAIN_HINT,
        ) from None
    raise InputError(f"{meta_path} holds an unknown model kind {kind!r}", hint=RETRAIN_HINT)


def _load_neural(path: Path, config, n_features, metrics, meta) -> NeuralRanker:
    import torch

    from searchlab.rank.model import FeatureScaler, MLPScorer

    weights = path / "model.pt"
    if not weights.is_file():
        raise InputError(f"{weights} is missing", hint=RETRAIN_HINT)
    module = MLPScorer(
        n_features,
        tuple(config.hidden),
        activation=config.activation,
        dropout=config.dropout,
        norm=config.norm,
        input_dropout=config.input_dropout,
    )
    try:
        with warnings.catch_warnings():  # a damaged file warns before it fails: one line only
            warnings.simplefilter("ignore")
            state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception:  # pickle, zip and torch errors alike: the file is not our weights
        raise InputError(f"{weights} is damaged or not a model file", hint=RETRAIN_HINT) from None
    try:
        module.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError):
        raise InputError(
            f"{weights} does not match the network described in {path / 'ranker.json'}",
            hint=RETRAIN_HINT,
        ) from None
    module.eval()
    return NeuralRanker(
        config, n_features, metrics, FeatureScaler.from_dict(meta["scaler"]), module
    )
