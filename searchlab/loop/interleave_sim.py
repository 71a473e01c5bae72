"""Simulated users in an interleaving experiment between two rankings, under the click model.

The users are those of :mod:`searchlab.loop.simulate` (its :class:`UserBehaviour`, the one
generator of simulated users): ``1 + Poisson(extra_queries_mean)`` queries each, drawn
uniformly (with replacement) from the experiment's queries, and one uniform per shown slot. Every search
shows one list interleaved from both rankings (:mod:`searchlab.serve.interleaving`; its coins
come from the search's ``query_id`` and the salt, as in the live service), and the user clicks
and converts by :class:`~searchlab.loop.click_model.ClickModel`, decided by the same
:func:`~searchlab.loop.simulate.search_outcomes` as an A/B simulation. Team-draft lists are built once per (topic, coin pattern) that occurs
and reused, so the simulation is vectorised; probabilistic interleaving draws a list per search
(pure Python, slower).

**The per-query table** (one row per search; :func:`write_query_table` writes it as Parquet or
CSV; ``searchlab.ab.interleave.interleaving_test`` reads it):

=================== ========= ===============================================================
column              type      meaning
=================== ========= ===============================================================
user_id             int64     the user (1..users)
query_id            int64     this search's id (1..searches, unique); keys the coin flips
topic               string    the collection's query that was searched
method              category  ``team-draft`` or ``probabilistic``
salt                category  the experiment salt (with query_id: rebuilds the list)
depth               int16     the list length asked for (the click model's depth)
tau                 float64   probabilistic only: the softmax exponent
variant_clicks      int16     clicks on results the variant's team placed
control_clicks      int16     clicks on results the control's team placed
credit              float64   > 0 variant won, < 0 control won, 0 tie: team rule -1/0/+1
                              (team-draft), marginalised expected outcome (probabilistic)
converted           int8      1 if a click in this search converted
teams               string    one letter per position, ``C`` control, ``V`` variant (d)
doc_ids             list      the documents shown, position 1 first (d)
clicked_positions   list      1-based positions clicked (d)
=================== ========= ===============================================================

(d): only with ``details=True``, the default (the benchmark leaves them out for speed).

A list can be shorter than ``depth`` when a ranking runs out of new documents (both methods
stop then, as the original algorithms do). For team-draft the exact expected win and loss
probabilities of a query under the click model are computed as well, by enumerating every coin
pattern (see :func:`searchlab.serve.interleaving.outcome_probabilities`); tests check the
simulation agrees.
"""

from __future__ import annotations

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
    slot_probabilities,
)
from searchlab.loop.simulate import (
    ExperimentDesign,
    UserBehaviour,
    experiment_queries,
    search_outcomes,
    write_user_table,
)
from searchlab.serve.interleaving import (
    CONTROL,
    DEFAULT_TAU,
    EMPTY,
    METHODS,
    TEAM_LETTERS,
    VARIANT,
    check_method,
    check_tau,
    marginalized_credit,
    outcome_probabilities,
    probabilistic,
    team_credit,
    team_draft_coins,
    team_draft_from_coins,
    team_draft_patterns,
)

MAX_TEAM_DRAFT_DEPTH = 16  # the plan holds 2**(depth/2) team-draft lists per topic


@dataclass(frozen=True)
class InterleaveDesign:
    """Who searches: as :class:`~searchlab.loop.simulate.ExperimentDesign`, without arms."""

    users: int = 20_000
    salt: str = "searchlab-interleave"
    extra_queries_mean: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        ExperimentDesign(  # the same checks as an A/B simulation's
            users=self.users,
            salt=self.salt,
            extra_queries_mean=self.extra_queries_mean,
            seed=self.seed,
        )


@dataclass(frozen=True)
class InterleavePlan:
    """What a ranker pair shows, prepared once and reused by every simulation of it.

    Team-draft: every list of every topic, one per coin pattern (``lists[t·2**coins +
    pattern]``), with click probabilities and the exact expected outcome. Probabilistic: the
    rankings; lists are drawn per search."""

    method: str
    tau: float
    model: ClickModel
    topics: tuple[str, ...]
    control: Rankings = field(repr=False)
    variant: Rankings = field(repr=False)
    judgments: Judgments = field(repr=False)
    doc_ids: list[tuple[str, ...]] = field(repr=False)
    teams: np.ndarray = field(repr=False)  # (lists, depth) int8, EMPTY past a list's end
    p_click: np.ndarray = field(repr=False)  # (lists, depth) float32
    p_convert: np.ndarray = field(repr=False)
    expected_variant_win: float | None  # exact P(variant wins a query), team-draft
    expected_control_win: float | None


@dataclass(frozen=True)
class InterleaveSummary:
    users: int
    queries: int
    clicks: int
    variant_wins: int  # queries
    control_wins: int
    ties: int
    expected_variant_win: float | None  # exact P(variant wins a query), team-draft only
    expected_control_win: float | None


@dataclass(frozen=True)
class InterleaveSimulation:
    design: InterleaveDesign
    method: str
    model: ClickModel
    query_ids: tuple[str, ...]  # the topics users drew from
    summary: InterleaveSummary
    table: Any = field(repr=False, compare=False)  # pandas.DataFrame, one row per search

    def to_dict(self) -> dict[str, Any]:
        """Everything but the table, as plain values (for JSON)."""
        return {
            "design": self.design,
            "method": self.method,
            "model": self.model,
            "topics": len(self.query_ids),
            "summary": self.summary,
        }


def interleave_plan(
    control: Rankings,
    variant: Rankings,
    judgments: Judgments,
    model: ClickModel | None = None,
    *,
    method: str = "team-draft",
    tau: float = DEFAULT_TAU,
    query_ids: Sequence[str] | None = None,
) -> InterleavePlan:
    """Prepare a ranker pair for :func:`simulate_interleaving`."""
    check_method(method)
    check_tau(tau)
    model = model or ClickModel()
    topics = experiment_queries(control, variant, query_ids)
    docs: list[tuple[str, ...]] = []
    teams: list[tuple[int, ...]] = []
    topic_of: list[int] = []
    expected: tuple[float | None, float | None] = (None, None)
    if method == "team-draft":
        if model.depth > MAX_TEAM_DRAFT_DEPTH:
            raise InputError(
                f"team-draft simulation supports lists of up to {MAX_TEAM_DRAFT_DEPTH} results, "
                f"the click model shows {model.depth}",
                hint=f"use a click-model depth <= {MAX_TEAM_DRAFT_DEPTH}",
            )
        patterns = 1 << team_draft_coins(model.depth)
        for t, topic in enumerate(topics):
            c, v = [str(d) for d in control[topic]], [str(d) for d in variant[topic]]
            for p in range(patterns):
                shown, team = team_draft_from_coins(c, v, lambda k, p=p: (p >> k) & 1, model.depth)
                docs.append(shown)
                teams.append(team)
                topic_of.append(t)
    p_click, p_convert = _slot_probabilities(docs, topic_of, topics, judgments, model)
    team_array = _pad(teams, model.depth, EMPTY, np.int8)
    if method == "team-draft":
        win, loss = outcome_probabilities(team_array, p_click)
        expected = (float(win.mean()), float(loss.mean()))  # topics and patterns equally likely
    return InterleavePlan(
        method,
        float(tau),
        model,
        topics,
        control,
        variant,
        judgments,
        docs,
        team_array,
        p_click.astype(np.float32),
        p_convert.astype(np.float32),
        *expected,
    )


def simulate_interleaving(
    plan: InterleavePlan, design: InterleaveDesign | None = None, *, details: bool = True
) -> InterleaveSimulation:
    """Simulate ``design.users`` users of an interleaving experiment prepared in ``plan``."""
    import pandas as pd

    design = design or InterleaveDesign()
    model, topics = plan.model, plan.topics
    # the users of every simulation (searchlab.loop.simulate.UserBehaviour): searches per
    # user, then per chunk the topics and the uniforms that decide each shown slot
    behaviour = UserBehaviour(
        ExperimentDesign(
            users=design.users,
            salt=design.salt,
            extra_queries_mean=design.extra_queries_mean,
            seed=design.seed,
        ),
        len(topics),
        model.depth,
    )
    drawn = list(behaviour.chunks())
    owner = np.concatenate([c.user for c in drawn])
    topic = np.concatenate([c.topic for c in drawn])
    uniforms = np.concatenate([c.uniforms for c in drawn])
    searches = owner.size
    search_ids = np.arange(1, searches + 1, dtype=np.int64)
    if plan.method == "team-draft":
        patterns = team_draft_patterns(search_ids, design.salt, model.depth)
        shown = topic * (1 << team_draft_coins(model.depth)) + patterns.astype(np.int64)
        doc_ids, team_rows, p_click, p_convert = (
            plan.doc_ids,
            plan.teams,
            plan.p_click,
            plan.p_convert,
        )
        posterior = None
    else:
        made = [
            probabilistic(
                plan.control[topics[t]],
                plan.variant[topics[t]],
                query_id=int(q),
                salt=design.salt,
                depth=model.depth,
                tau=plan.tau,
            )
            for t, q in zip(topic, search_ids, strict=True)
        ]
        doc_ids = [m.doc_ids for m in made]
        team_rows = _pad([m.teams for m in made], model.depth, EMPTY, np.int8)
        posterior = _pad([m.posterior or () for m in made], model.depth, 0.5, np.float64)
        p_click, p_convert = (
            p.astype(np.float32)
            for p in _slot_probabilities(doc_ids, topic, topics, plan.judgments, model)
        )
        shown = np.arange(searches)
    clicked, converting = search_outcomes(uniforms, p_click[shown], p_convert[shown])
    converted = converting.any(axis=1)
    teams = team_rows[shown]
    if posterior is not None:
        credit = marginalized_credit(posterior, clicked)
    else:
        credit = team_credit(teams, clicked).astype(np.float64)
    columns: dict[str, Any] = {
        "user_id": (owner + 1).astype(np.int64),
        "query_id": search_ids,
        "topic": pd.Categorical.from_codes(topic, categories=list(topics)),
        "method": pd.Categorical.from_codes(
            np.full(searches, METHODS.index(plan.method)), categories=list(METHODS)
        ),
        "salt": pd.Categorical.from_codes(np.zeros(searches, dtype=np.int8), [design.salt]),
        "depth": np.full(searches, model.depth, dtype=np.int16),
    }
    if plan.method == "probabilistic":
        columns["tau"] = np.full(searches, plan.tau)
    columns["variant_clicks"] = (clicked & (teams == VARIANT)).sum(axis=1).astype(np.int16)
    columns["control_clicks"] = (clicked & (teams == CONTROL)).sum(axis=1).astype(np.int16)
    columns["credit"] = credit
    columns["converted"] = converted.astype(np.int8)
    if details:
        letters = ["".join(TEAM_LETTERS[t] for t in row if t != EMPTY) for row in team_rows]
        columns["teams"] = [letters[r] for r in shown]
        columns["doc_ids"] = [list(doc_ids[r]) for r in shown]
        columns["clicked_positions"] = [
            (np.flatnonzero(row) + 1).astype(np.int16).tolist() for row in clicked
        ]
    summary = InterleaveSummary(
        users=design.users,
        queries=searches,
        clicks=int(clicked.sum()),
        variant_wins=int((credit > 0).sum()),
        control_wins=int((credit < 0).sum()),
        ties=int((credit == 0).sum()),
        expected_variant_win=plan.expected_variant_win,
        expected_control_win=plan.expected_control_win,
    )
    return InterleaveSimulation(design, plan.method, model, topics, summary, pd.DataFrame(columns))


def _slot_probabilities(
    doc_ids: Sequence[tuple[str, ...]],
    topic_of: Sequence[int],
    topics: tuple[str, ...],
    judgments: Judgments,
    model: ClickModel,
) -> tuple[np.ndarray, np.ndarray]:
    """The click model's slot probabilities of many lists (each judged by its topic)."""
    keys = [str(i) for i in range(len(doc_ids))]
    grades = grade_matrix(
        dict(zip(keys, doc_ids, strict=True)),
        {k: judgments.get(topics[int(t)], {}) for k, t in zip(keys, topic_of, strict=True)},
        keys,
        model,
    )
    return slot_probabilities(grades, model)


def _pad(rows: Sequence[tuple[Any, ...]], depth: int, fill: Any, dtype: Any) -> np.ndarray:
    out = np.full((len(rows), depth), fill, dtype=dtype)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def write_query_table(table: Any, path: str | Path) -> Path:
    """Write the per-query table atomically as Parquet (``.parquet``) or CSV (``.csv``; list
    columns become JSON-like text there)."""
    return write_user_table(table, path)
