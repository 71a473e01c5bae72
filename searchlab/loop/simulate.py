"""Simulated users in an A/B experiment between two rankings, under a documented click model.

Assignment: a user's arm is a stable hash of their id and the experiment's salt, as real
experimentation systems do it, so a user keeps their arm whatever the number of users or the
behaviour seed: ``u = splitmix64(user_id XOR salt64) / 2**64`` (salt64 = the first 8 bytes of
BLAKE2b(salt)), variant when ``u < variant_share``. Hand-written because numpy has no vectorised
stable hash and hashing 200,000 ids one by one with hashlib is needlessly slow.

Behaviour: each user issues ``1 + Poisson(extra_queries_mean)`` queries, each drawn uniformly
(with replacement) from the experiment's held-out queries, sees the top 10 of their arm's
ranking, and clicks and converts by :class:`~searchlab.loop.click_model.ClickModel`. All draws
are vectorised with numpy (one generator seeded by ``seed``) and processed in chunks, so
memory stays bounded and 200,000 users take well under a second.

Activity (``activity_spread`` > 0): each user gets a persistent activity level a, log-normal
with mean 1 and log-standard-deviation ``activity_spread``, and issues ``1 + Poisson(λ·a)``
queries, in the experiment and in a pre-period of the same length before it (column
``pre_queries``, drawn from a generator of its own so the other columns keep their seeds'
meaning); the pre-period column is the covariate for CUPED (``searchlab ab test --covariate
pre_queries``). With the default 0 every user is alike and no column is added.

The result is a user-level table (user_id, arm, queries, clicks, conversions, converted) ready
for ``searchlab ab test --data FILE --group-col arm --control control --variant variant
--metric converted``, plus the exact expected conversion rate of each arm under the model
(``1 - m·exp(-λ(1 - m))`` with m the mean per-query non-conversion probability and λ the
extra-query mean; the probability generating function of 1 + Poisson(λ)).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from searchlab.errors import InputError
from searchlab.loop.click_model import (
    ClickModel,
    Judgments,
    Rankings,
    grade_matrix,
    query_conversion_probability,
)

ARMS = ("control", "variant")
_CHUNK_IMPRESSIONS = 1 << 20


@dataclass(frozen=True)
class ExperimentDesign:
    users: int = 200_000
    variant_share: float = 0.5
    salt: str = "searchlab-demo"
    extra_queries_mean: float = 1.0
    seed: int = 0
    activity_spread: float = 0.0  # log-sd of each user's persistent activity level (0: alike)

    def __post_init__(self) -> None:
        from searchlab.ab.inputs import check_seed

        check_seed(self.seed)
        if self.users < 2:
            raise InputError(f"need at least 2 users, got {self.users}", hint="e.g. --users 200000")
        if not 0 < self.variant_share < 1:
            raise InputError(
                f"variant share must lie strictly between 0 and 1, got {self.variant_share}",
                hint="e.g. 0.5 for a 50/50 split",
            )
        if not (self.extra_queries_mean >= 0 and math.isfinite(self.extra_queries_mean)):
            raise InputError("extra_queries_mean must be a finite number >= 0", hint="e.g. 1.0")
        if not (self.activity_spread >= 0 and math.isfinite(self.activity_spread)):
            raise InputError("activity_spread must be a finite number >= 0", hint="e.g. 1.0")


@dataclass(frozen=True)
class ArmSummary:
    users: int
    queries: int
    clicks: int
    converted_users: int
    conversion_rate: float
    expected_conversion_rate: float  # exact, under the click model and this arm's ranking


@dataclass(frozen=True)
class Simulation:
    design: ExperimentDesign
    model: ClickModel
    query_ids: tuple[str, ...]
    control: ArmSummary
    variant: ArmSummary
    table: Any = field(repr=False, compare=False)  # pandas.DataFrame, one row per user

    @property
    def expected_difference(self) -> float:
        return self.variant.expected_conversion_rate - self.control.expected_conversion_rate

    def summary(self) -> dict[str, Any]:
        """Everything but the table, as plain values (for JSON)."""
        return {
            "design": self.design,
            "model": self.model,
            "queries": len(self.query_ids),
            "control": self.control,
            "variant": self.variant,
            "expected_difference": self.expected_difference,
        }


def _splitmix64(x: np.ndarray) -> np.ndarray:
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def assign_variant(user_ids: np.ndarray, salt: str, variant_share: float) -> np.ndarray:
    """Boolean per user: True for the variant arm. Stable: depends only on (id, salt, share)."""
    salt64 = np.uint64(
        int.from_bytes(hashlib.blake2b(salt.encode(), digest_size=8).digest(), "little")
    )
    hashed = _splitmix64(np.asarray(user_ids, dtype=np.uint64) ^ salt64)
    uniform = (hashed >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return uniform < variant_share


def experiment_queries(
    control: Rankings, variant: Rankings, query_ids: Sequence[str] | None
) -> tuple[str, ...]:
    if query_ids is None:
        chosen = sorted(set(control) & set(variant), key=_natural_key)
    else:
        chosen = list(dict.fromkeys(str(q) for q in query_ids))
        missing = [q for q in chosen if q not in control or q not in variant]
        if missing:
            raise InputError(
                f"query {missing[0]} has no ranking in one of the arms ({len(missing)} such queries)",
                hint="rank every experiment query with both rankers",
            )
    if not chosen:
        raise InputError(
            "the two rankers share no query", hint="give both arms rankings of the same queries"
        )
    return tuple(chosen)


def _natural_key(qid: str) -> tuple[int, int | str]:
    return (0, int(qid)) if qid.isdigit() else (1, qid)


def simulate_experiment(
    control: Rankings,
    variant: Rankings,
    judgments: Judgments,
    design: ExperimentDesign | None = None,
    model: ClickModel | None = None,
    *,
    query_ids: Sequence[str] | None = None,
) -> Simulation:
    """Simulate ``design.users`` users; control sees ``control``'s rankings, variant ``variant``'s."""
    import pandas as pd

    design = design or ExperimentDesign()
    model = model or ClickModel()
    qids = experiment_queries(control, variant, query_ids)
    grades = np.stack([grade_matrix(r, judgments, qids, model) for r in (control, variant)])
    rng = np.random.default_rng(design.seed)

    user_ids = np.arange(1, design.users + 1, dtype=np.int64)
    in_variant = assign_variant(user_ids, design.salt, design.variant_share)
    activity = _activity(design)
    if activity is None:
        queries_per_user = 1 + rng.poisson(design.extra_queries_mean, design.users)
    else:
        queries_per_user = 1 + rng.poisson(design.extra_queries_mean * activity[0])
    owner = np.repeat(np.arange(design.users), queries_per_user)
    # Per (arm, query, rank): P(click) and P(click and convert). One uniform per slot decides
    # both (convert iff u < P(click)·c(g), click iff u < P(click)), which has the model's joint law.
    p_click = model.examination() * model.attractiveness()[grades]
    p_convert = (p_click * model.conversion()[grades]).astype(np.float32)
    p_click = p_click.astype(np.float32)

    clicks = np.zeros(design.users, dtype=np.int64)
    conversions = np.zeros(design.users, dtype=np.int64)
    for start in range(0, owner.size, _CHUNK_IMPRESSIONS):
        who = owner[start : start + _CHUNK_IMPRESSIONS]
        arm = in_variant[who].astype(np.intp)
        query = rng.integers(0, len(qids), who.size)
        u = rng.random((who.size, model.depth), dtype=np.float32)
        clicked = (u < p_click[arm, query]).sum(axis=1)
        # A query converts at most once: the user found what they needed and stops.
        converted = (u < p_convert[arm, query]).any(axis=1)
        clicks += np.bincount(who, weights=clicked, minlength=design.users).astype(np.int64)
        conversions += np.bincount(who, weights=converted, minlength=design.users).astype(np.int64)

    table = pd.DataFrame(
        {
            "user_id": user_ids,
            "arm": pd.Categorical.from_codes(in_variant.astype(np.int8), categories=list(ARMS)),
            "queries": queries_per_user.astype(np.int64),
            "clicks": clicks,
            "conversions": conversions,
            "converted": (conversions > 0).astype(np.int8),
        }
    )
    if activity is not None:
        table["pre_queries"] = activity[1]
    arms = []
    for arm_index in (0, 1):
        mask = in_variant == bool(arm_index)
        users = int(mask.sum())
        converted_users = int((conversions[mask] > 0).sum())
        no_conversion = 1.0 - query_conversion_probability(grades[arm_index], model)
        m = float(no_conversion.mean())
        expected = 1.0 - m * _mean_exp(-design.extra_queries_mean * (1.0 - m), design)
        arms.append(
            ArmSummary(
                users=users,
                queries=int(queries_per_user[mask].sum()),
                clicks=int(clicks[mask].sum()),
                converted_users=converted_users,
                conversion_rate=converted_users / users if users else float("nan"),
                expected_conversion_rate=expected,
            )
        )
    return Simulation(design, model, qids, arms[0], arms[1], table)


def _activity(design: ExperimentDesign) -> tuple[np.ndarray, np.ndarray] | None:
    """(activity level per user, pre-period queries per user), or None when all are alike."""
    if design.activity_spread == 0:
        return None
    side = np.random.default_rng([design.seed, 1])  # a stream of its own
    s = design.activity_spread
    level = side.lognormal(-s * s / 2, s, design.users)  # mean 1
    pre = 1 + side.poisson(design.extra_queries_mean * level)
    return level, pre.astype(np.int64)


def _mean_exp(c: float, design: ExperimentDesign) -> float:
    """E[exp(c·a)] over the activity level a (Gauss-Hermite for the log-normal; a = 1 when
    all users are alike): the extra-query term of the expected conversion rate."""
    s = design.activity_spread
    if s == 0:
        return math.exp(c)
    nodes, weights = np.polynomial.hermite.hermgauss(80)
    level = np.exp(-s * s / 2 + s * math.sqrt(2) * nodes)
    return float(weights @ np.exp(c * level) / math.sqrt(math.pi))


def write_user_table(table: Any, path: str | Path) -> Path:
    """Write the user table atomically as Parquet (``.parquet``) or CSV (``.csv``)."""
    from searchlab._io import atomic_output

    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise InputError(
            f"cannot tell the format of {target} from its extension",
            hint="end the file name with .parquet or .csv",
        )
    with atomic_output(target, "wb") as handle:
        if suffix == ".parquet":
            table.to_parquet(handle, index=False)
        else:
            handle.write(table.to_csv(index=False).encode())
    return target
