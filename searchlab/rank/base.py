"""The types every ranker shares: ``TrainConfig``, ``TrainedRanker`` and the validation split.

Both trainers build on this module — ``train`` (the neural listwise loop) and ``lambdamart``
(LightGBM) — so neither imports the other's types, and ``tune`` selects among configurations of
either. ``holdout_split`` is the one seeded split of training queries that every model
early-stops on, so a neural model and LambdaMART with the same seed and ``valid_fraction`` watch
exactly the same validation queries.
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from searchlab._io import atomic_write_bytes, atomic_write_json
from searchlab.errors import InputError
from searchlab.rank.data import RankingData

NEURAL_LOSSES = ("listnet", "listnet_kl", "listmle", "lambdaloss", "approxndcg", "mse")
ALL_MODELS = (*NEURAL_LOSSES, "lambdamart")
FORMAT = "searchlab-ranker"
RETRAIN_HINT = "give a folder written by `searchlab rank train`, or retrain the model"
ProgressFn = Callable[[int, int, float, float], None]


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (saved with the model)."""

    loss: str = "listnet"
    epochs: int = 100
    seed: int = 0
    hidden: tuple[int, ...] = (64,)
    activation: str = "relu"
    dropout: float = 0.1
    input_dropout: float = 0.0
    norm: str = "none"  # none | batch | layer
    optimizer: str = "adam"  # adam | sgd (momentum 0.9)
    learning_rate: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 1e-4
    batch_queries: int = 16
    max_list_len: int | None = None  # random truncation of longer training lists
    standardize: bool = True
    no_relevant: str = "skip"  # training lists with no relevant doc: skip | keep
    # epochs (neural) or boosting rounds (LambdaMART) without a valid NDCG@10 gain; None: off
    early_stopping_patience: int | None = 15
    valid_fraction: float = 0.2  # held-out training queries when no valid set is given
    approx_temperature: float = 0.1  # approxndcg: sigmoid temperature of the smooth ranks
    lambdaloss_mu: float = 10.0  # lambdaloss: weight of the NDCG-Loss2 term
    lambdaloss_k: int | None = None  # lambdaloss: only pairs inside the top k
    # after early stopping on held-out queries, retrain on all of them for the best epoch count
    # (neural) or tree count (LambdaMART)
    refit: bool = False
    # torch CPU threads while training and scoring (None: torch's default). One by default: these
    # small MLPs are bound by per-operation overhead, and on a busy 2-core machine OpenMP
    # threads made training up to 20x slower (measured: 0.4 s vs 10 s for the same 10 epochs).
    threads: int | None = 1
    device: str = "auto"  # auto | cpu | cuda
    # LambdaMART (LightGBM) settings, used when loss == "lambdamart"
    num_trees: int = 100  # the most trees; fewer when early stopping ends training sooner
    num_leaves: int = 31
    tree_learning_rate: float = 0.1
    min_data_in_leaf: int = 20

    def validate(self) -> None:
        """Refuse a bad setting: its name and value, and an example of a good one."""
        seed_ok = isinstance(self.seed, int | np.integer) and not isinstance(self.seed, bool)
        seed_ok = seed_ok and self.seed >= 0
        checks = (
            (self.loss in ALL_MODELS, f"unknown model/loss {self.loss!r}",
             "use one of " + ", ".join(ALL_MODELS)),
            (seed_ok, f"seed must be a non-negative integer, got {self.seed!r}", "e.g. seed 0"),
            (self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}", "e.g. 100 epochs"),
            (all(size >= 1 for size in self.hidden),
             f"hidden layer sizes must be positive, got {tuple(self.hidden)}", "e.g. (64, 32)"),
            (_positive(self.learning_rate), f"learning rate must be > 0, got {self.learning_rate}",
             "e.g. 0.001"),
            (_positive(self.tree_learning_rate),
             f"LambdaMART learning rate must be > 0, got {self.tree_learning_rate}", "e.g. 0.1"),
            (self.weight_decay == 0 or _positive(self.weight_decay),
             f"weight decay must be >= 0, got {self.weight_decay}", "e.g. 0.0001"),
            (0 <= self.momentum < 1, f"momentum must be in [0, 1), got {self.momentum}", "e.g. 0.9"),
            (self.early_stopping_patience is None or self.early_stopping_patience >= 1,
             f"early-stopping patience must be >= 1 epoch, got {self.early_stopping_patience}",
             "e.g. 15, or None (--patience 0) to turn early stopping off"),
            (self.num_trees >= 1, f"LambdaMART needs at least 1 tree, got {self.num_trees}",
             "e.g. 100"),
            (self.num_leaves >= 2, f"LambdaMART needs at least 2 leaves, got {self.num_leaves}",
             "e.g. 31"),
            (self.min_data_in_leaf >= 1, f"min_data_in_leaf must be >= 1, got "
             f"{self.min_data_in_leaf}", "e.g. 20"),
            (self.lambdaloss_mu == 0 or _positive(self.lambdaloss_mu),
             f"lambdaloss_mu must be >= 0, got {self.lambdaloss_mu}", "e.g. 10"),
            (self.lambdaloss_k is None or self.lambdaloss_k >= 1,
             f"lambdaloss_k must be >= 1, got {self.lambdaloss_k}", "e.g. 10, or None: all pairs"),
            (self.batch_queries >= 1, f"batch_queries must be >= 1, got {self.batch_queries}",
             "e.g. 16"),
            (0 <= self.dropout < 1 and 0 <= self.input_dropout < 1,
             f"dropout must be in [0, 1), got {self.dropout} (input {self.input_dropout})",
             "e.g. 0.1"),
            (self.norm in ("none", "batch", "layer"), f"unknown norm {self.norm!r}",
             "use none, batch or layer"),
            (self.optimizer in ("adam", "sgd"), f"unknown optimizer {self.optimizer!r}",
             "use adam or sgd"),
            (self.activation in ("relu", "gelu", "tanh", "elu"),
             f"unknown activation {self.activation!r}", "use relu, gelu, tanh or elu"),
            (self.no_relevant in ("skip", "keep"),
             f"unknown no-relevant convention {self.no_relevant!r}", "use skip or keep"),
            (0 <= self.valid_fraction < 1,
             f"valid fraction must be in [0, 1), got {self.valid_fraction}", "e.g. 0.2"),
            (self.device in ("auto", "cpu", "cuda"), f"unknown device {self.device!r}",
             "use auto, cpu or cuda"),
            (_positive(self.approx_temperature),
             f"ApproxNDCG temperature must be > 0, got {self.approx_temperature}", "e.g. 0.1"),
            (self.threads is None or self.threads >= 1, f"threads must be >= 1, got {self.threads}",
             "e.g. 1"),
            (self.max_list_len is None or self.max_list_len >= 2,
             f"max_list_len must be >= 2, got {self.max_list_len}", "e.g. 100, or None: no cut"),
        )  # fmt: skip
        for ok, problem, fix in checks:
            if not ok:
                raise InputError(problem, hint=fix)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(
        cls, obj: dict[str, Any], *, strict: bool = False, source: str = "config"
    ) -> TrainConfig:
        """Build from a dict (``to_dict``'s output, or a JSON file's object).

        Loading a saved model ignores fields it does not know (a newer version's). With
        ``strict`` (a user's config file), an unknown field or a value of the wrong type is an
        ``InputError`` naming the field; ``source`` names the file in that message.
        """
        if not isinstance(obj, dict):
            raise InputError(
                f"{source} must be a JSON object of training settings, got {type(obj).__name__}",
                hint="write it with `searchlab rank tune --out FILE`",
            )
        hints = typing.get_type_hints(cls)
        unknown = sorted(set(obj) - set(hints))
        if strict and unknown:
            raise InputError(
                f"{source} has unknown field {unknown[0]!r}",
                hint="known fields: " + ", ".join(hints),
            )
        values = {k: v for k, v in obj.items() if k in hints}
        if strict:
            for name, value in values.items():
                if not _matches(value, hints[name]):
                    raise InputError(
                        f"{source}: field {name!r} must be {_type_name(hints[name])}, "
                        f"got {value!r}",
                        hint=f"the default is {getattr(cls(), name)!r}",
                    )
        if isinstance(values.get("hidden"), list | tuple):
            values["hidden"] = tuple(values["hidden"])
        return cls(**values)


def _matches(value: Any, hint: Any) -> bool:
    """Whether a JSON value fits a TrainConfig annotation (int, float, str, bool, tuple, None)."""
    if hint is type(None):
        return value is None
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in args)
    if typing.get_origin(hint) is tuple:
        return isinstance(value, list | tuple) and all(_matches(v, args[0]) for v in value)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, hint)


def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(arg) for arg in typing.get_args(hint))
    if typing.get_origin(hint) is tuple:
        return "a list of integers"
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    return names.get(hint, "null")


def _positive(value: float) -> bool:
    """A finite number above zero (NaN is not)."""
    return 0 < value < math.inf


class TrainedRanker:
    """A trained model: ``score(features)`` gives one score per row, in input order."""

    kind = "base"

    def __init__(self, config: TrainConfig, n_features: int, metrics: dict[str, Any]) -> None:
        self.config = config
        self.n_features = n_features
        self.metrics = metrics

    def score(self, features: np.ndarray | RankingData) -> np.ndarray:
        raise NotImplementedError

    def _features(self, features: np.ndarray | RankingData) -> np.ndarray:
        if isinstance(features, RankingData):
            features = features.with_n_features(self.n_features).features
        x = np.asarray(features, dtype=np.float32)
        if x.ndim != 2:
            raise InputError(f"features must be 2-D (rows, features), got shape {x.shape}")
        if x.shape[1] != self.n_features:
            raise InputError(
                f"features have {x.shape[1]} columns but the model was trained on "
                f"{self.n_features}",
                hint="pass RankingData (padded automatically) or the same feature layout",
            )
        return x

    def _payload(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        raise NotImplementedError

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the model folder: each file atomically, ``ranker.json`` last."""
        out = Path(directory)
        if out.exists() and not out.is_dir():
            raise InputError(f"{out} exists and is not a folder", hint="choose a new --out path")
        meta, blobs = self._payload()
        for name, blob in blobs.items():
            atomic_write_bytes(out / name, blob)
        atomic_write_json(
            out / "ranker.json",
            {
                "format": FORMAT,
                "version": 1,
                "kind": self.kind,
                "config": self.config.to_dict(),
                "n_features": self.n_features,
                "metrics": self.metrics,
                **meta,
            },
        )
        return out


def holdout_split(
    data: RankingData, fraction: float, seed: int
) -> tuple[RankingData, RankingData | None]:
    """(train, valid): a seeded ``fraction`` of the queries held out (None when too few)."""
    n_valid = round(data.n_queries * fraction)
    if fraction <= 0 or n_valid < 1 or data.n_queries - n_valid < 1:
        return data, None
    order = np.random.default_rng(seed).permutation(data.n_queries)
    return data.subset_queries(np.sort(order[n_valid:])), data.subset_queries(
        np.sort(order[:n_valid])
    )
