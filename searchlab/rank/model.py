"""The neural scorer: feature standardisation plus an MLP with a linear output.

The scaler is fitted on training rows only and saved inside the model, so scoring applies
exactly the training transform. The MLP scores documents independently (one score per row); the
listwise part lives entirely in the loss.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "elu": nn.ELU}
NORMS = ("none", "batch", "layer")


@dataclasses.dataclass(frozen=True)
class FeatureScaler:
    """Standard scaler: (x - mean) / scale, with scale 1 for constant features."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, features: np.ndarray, *, standardize: bool = True) -> FeatureScaler:
        d = features.shape[1]
        if not standardize:
            return cls(np.zeros(d, dtype=np.float32), np.ones(d, dtype=np.float32))
        mean = features.mean(axis=0, dtype=np.float64)
        std = features.std(axis=0, dtype=np.float64)
        std[std < 1e-12] = 1.0
        return cls(mean.astype(np.float32), std.astype(np.float32))

    def transform(self, features: np.ndarray) -> np.ndarray:
        return ((features - self.mean) / self.scale).astype(np.float32, copy=False)

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, obj: dict) -> FeatureScaler:
        return cls(np.asarray(obj["mean"], np.float32), np.asarray(obj["scale"], np.float32))


class MLPScorer(nn.Module):
    """Linear → [norm] → activation → [dropout], repeated; then a linear output to one score."""

    def __init__(
        self,
        n_features: int,
        hidden: tuple[int, ...] = (128, 64),
        *,
        activation: str = "relu",
        dropout: float = 0.0,
        norm: str = "none",
        input_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        if input_dropout > 0:
            layers.append(nn.Dropout(input_dropout))
        width = n_features
        for size in hidden:
            layers.append(nn.Linear(width, size))
            if norm == "batch":
                layers.append(nn.BatchNorm1d(size))
            elif norm == "layer":
                layers.append(nn.LayerNorm(size))
            layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(n, d) features → (n,) scores."""
        return self.net(features).squeeze(-1)
