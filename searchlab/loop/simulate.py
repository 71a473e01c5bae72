"""Simulated users in an A/B experiment between two rankings, under a documented click model.

Assignment: a user's arm is a stable hash of their id and the experiment's salt, as real
experimentation systems do it, so a user keeps their arm whatever the number of users or the
behaviour seed: :func:`searchlab.serve.assignment.assign_variant`, the one function the live
service (``searchlab serve``) assigns its users with too.

Behaviour: :class:`UserBehaviour` is the one generator of simulated users, shared by this
offline simulation and the live one over HTTP (:mod:`searchlab.loop.live`). Each user issues
``1 + Poisson(extra_queries_mean)`` queries, each drawn uniformly (with replacement) from the
experiment's held-out queries, sees the top 10 of their arm's ranking, and clicks and converts
by :class:`~searchlab.loop.click_model.ClickModel`: one uniform per shown slot decides both
(:func:`search_outcomes`: click iff ``u < P(click)``, click-and-convert iff ``u < P(click)·c(g)``,
which has the model's joint law). All draws are vectorised with numpy (one generator seeded by
``seed``) and made in chunks, so memory stays bounded and 200,000 users take well under a
second; the live driver draws the very same numbers and only replaces the in-memory ranking
lookup by a search over HTTP.

Activity (``activity_spread`` > 0): each user gets a persistent activity level a, log-normal
with mean 1 and log-standard-deviation ``activity_spread``, and issues ``1 + Poisson(λ·a)``
queries, in the experiment and in a pre-period of the same length before it (column
``pre_queries``, drawn from a generator of its own so the other columns keep their seeds'
meaning); the pre-period column is the covariate for CUPED (``searchlab ab test --covariate
pre_queries``). With the default 0 every user is alike and no column is added.

The result is a user-level table (user_id, arm, queries, clicks, conversions, converted) ready
for ``searchlab ab test --data FILE --group-col arm --control control --variant variant
--metric converted``, plus the exact expected conversion rate of each arm under the model
(:func:`expected_conversion_rate`: ``1 - m·exp(-λ(1 - m))`` with m the mean per-query
non-conversion probability and λ the extra-query mean; the probability generating function of
1 + Poisson(λ)).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
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
    slot_probabilities,
)
from searchlab.serve.assignment import assign_variant, check_share

__all__ = [
    "ARMS",
    "ArmSummary",
    "ExperimentDesign",
    "SearchChunk",
    "Simulation",
    "UserBehaviour",
    "UserSession",
    "assign_variant",
    "expected_conversion_rate",
    "experiment_queries",
    "search_outcomes",
    "simulate_experiment",
    "slot_thresholds",
    "write_user_table",
]

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
        check_share(self.variant_share)
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


@dataclass(frozen=True)
class SearchChunk:
    """Consecutive simulated searches: who searched (users in id order), which topic, and the
    uniforms that decide each shown slot."""

    user: np.ndarray  # int64 (searches,): 0-based index into UserBehaviour.user_ids
    topic: np.ndarray  # int64 (searches,): index into the experiment's topics
    uniforms: np.ndarray  # float32 (searches, depth)


@dataclass(frozen=True)
class UserSession:
    """One user's searches, in order (the live driver runs them one after another)."""

    index: int  # 0-based position among the design's users
    user_id: int
    topics: np.ndarray  # int64 (searches,)
    uniforms: np.ndarray  # float32 (searches, depth)


class UserBehaviour:
    """The simulated users of a design: ids ``1..users``, how many searches each makes, and,
    chunk by chunk, what each search looks for and the uniforms its clicks are decided by.

    Draw order (one numpy generator seeded by ``design.seed``): the searches per user first,
    then per chunk of at most 2**20 searches the topics, then the uniforms. The draws are
    made once: :meth:`chunks` (or :meth:`sessions`, built on it) can be iterated once.
    """

    def __init__(self, design: ExperimentDesign, topics: int, depth: int) -> None:
        if topics < 1 or depth < 1:
            raise InputError("need at least one topic and one shown slot", hint="check the inputs")
        self.design, self.topics, self.depth = design, topics, depth
        self._rng = np.random.default_rng(design.seed)
        self.user_ids = np.arange(1, design.users + 1, dtype=np.int64)
        # Activity levels and the pre-period come from a stream of their own (see _activity).
        self.activity, self.pre_queries = _activity(design)
        mean = design.extra_queries_mean
        if self.activity is None:
            self.searches_per_user = 1 + self._rng.poisson(mean, design.users)
        else:
            self.searches_per_user = 1 + self._rng.poisson(mean * self.activity)
        self._drawn = False

    def chunks(self) -> Iterator[SearchChunk]:
        if self._drawn:
            raise RuntimeError("a UserBehaviour's searches are drawn once; make a new one")
        self._drawn = True
        owner = np.repeat(np.arange(self.design.users), self.searches_per_user)
        for start in range(0, owner.size, _CHUNK_IMPRESSIONS):
            who = owner[start : start + _CHUNK_IMPRESSIONS]
            topic = self._rng.integers(0, self.topics, who.size)
            uniforms = self._rng.random((who.size, self.depth), dtype=np.float32)
            yield SearchChunk(who, topic, uniforms)

    def sessions(self) -> Iterator[UserSession]:
        """The same draws grouped by user, users in id order."""
        pending: list[SearchChunk] = []
        for chunk in self.chunks():
            cuts = np.flatnonzero(np.diff(chunk.user)) + 1
            starts = np.concatenate([[0], cuts])
            ends = np.concatenate([cuts, [chunk.user.size]])
            for a, b in zip(starts, ends, strict=True):
                part = SearchChunk(chunk.user[a:b], chunk.topic[a:b], chunk.uniforms[a:b])
                if pending and pending[0].user[0] != part.user[0]:
                    yield self._session(pending)
                    pending = []
                pending.append(part)
                if b < chunk.user.size:  # a later run starts in this chunk: this user is done
                    yield self._session(pending)
                    pending = []
        if pending:
            yield self._session(pending)

    def _session(self, parts: list[SearchChunk]) -> UserSession:
        index = int(parts[0].user[0])
        return UserSession(
            index,
            int(self.user_ids[index]),
            np.concatenate([p.topic for p in parts]),
            np.concatenate([p.uniforms for p in parts]),
        )


def slot_thresholds(grades: np.ndarray, model: ClickModel) -> tuple[np.ndarray, np.ndarray]:
    """float32 (P(click), P(click and convert)) per shown slot of a grade array (rank last)."""
    p_click, p_convert = slot_probabilities(grades, model)
    return p_click.astype(np.float32), p_convert.astype(np.float32)


def search_outcomes(
    uniforms: np.ndarray, p_click: np.ndarray, p_convert: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(clicked, converting) booleans per slot: ``u < P(click)`` and ``u < P(click)·c(g)``.

    A search converts at most once (the user found what they needed): at its first
    converting slot. Offline and live simulation both decide every click here.
    """
    return uniforms < p_click, uniforms < p_convert


def expected_conversion_rate(
    grades: np.ndarray, model: ClickModel, extra_queries_mean: float, activity_spread: float = 0.0
) -> float:
    """P(a user converts at least once) when each of ``1 + Poisson(λ·a)`` searches draws a row of
    ``grades`` (topics x rank) uniformly: ``1 - m·E[exp(-λ·a·(1 - m))]``, m the mean
    non-conversion, a the user's activity level (1 when all users are alike)."""
    no_conversion = 1.0 - query_conversion_probability(grades, model)
    m = float(no_conversion.mean())
    return 1.0 - m * _mean_exp(-extra_queries_mean * (1.0 - m), activity_spread)


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
    behaviour = UserBehaviour(design, len(qids), model.depth)
    user_ids = behaviour.user_ids
    queries_per_user = behaviour.searches_per_user
    in_variant = assign_variant(user_ids, design.salt, design.variant_share)
    # Per (arm, query, rank): P(click) and P(click and convert), decided by search_outcomes.
    p_click, p_convert = slot_thresholds(grades, model)

    clicks = np.zeros(design.users, dtype=np.int64)
    conversions = np.zeros(design.users, dtype=np.int64)
    for chunk in behaviour.chunks():
        who = chunk.user
        arm = in_variant[who].astype(np.intp)
        clicked, converting = search_outcomes(
            chunk.uniforms, p_click[arm, chunk.topic], p_convert[arm, chunk.topic]
        )
        clicks += np.bincount(who, weights=clicked.sum(axis=1), minlength=design.users).astype(
            np.int64
        )
        conversions += np.bincount(
            who, weights=converting.any(axis=1), minlength=design.users
        ).astype(np.int64)

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
    if behaviour.pre_queries is not None:
        table["pre_queries"] = behaviour.pre_queries
    arms = []
    for arm_index in (0, 1):
        mask = in_variant == bool(arm_index)
        users = int(mask.sum())
        converted_users = int((conversions[mask] > 0).sum())
        arms.append(
            ArmSummary(
                users=users,
                queries=int(queries_per_user[mask].sum()),
                clicks=int(clicks[mask].sum()),
                converted_users=converted_users,
                conversion_rate=converted_users / users if users else float("nan"),
                expected_conversion_rate=expected_conversion_rate(
                    grades[arm_index], model, design.extra_queries_mean, design.activity_spread
                ),
            )
        )
    return Simulation(design, model, qids, arms[0], arms[1], table)


def _activity(design: ExperimentDesign) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(activity level per user, pre-period queries per user), or (None, None) when all are
    alike."""
    if design.activity_spread == 0:
        return None, None
    side = np.random.default_rng([design.seed, 1])  # a stream of its own
    s = design.activity_spread
    level = side.lognormal(-s * s / 2, s, design.users)  # mean 1
    pre = 1 + side.poisson(design.extra_queries_mean * level)
    return level, pre.astype(np.int64)


def _mean_exp(c: float, s: float) -> float:
    """E[exp(c·a)] over the activity level a (Gauss-Hermite for the log-normal; a = 1 when
    all users are alike, s = 0): the extra-query term of the expected conversion rate."""
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
