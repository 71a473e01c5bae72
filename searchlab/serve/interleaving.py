"""Interleaved comparison of two rankers: team-draft and probabilistic interleaving, and credit.

An interleaving experiment shows every user one list merged from the control's and the
variant's rankings; each result remembers the team (ranker) that contributed it, and clicks on
a team's results are evidence for that ranker.

**Team-draft interleaving** (TDI; Radlinski, Kurup & Joachims, CIKM 2008): rounds in which the
two teams each pick their highest-ranked document not yet shown; a fair coin decides which team
picks first in a round (the team with fewer picks always picks next, so team sizes never differ
by more than one). As in the paper's algorithm the list stops at ``depth`` or when either
ranking has no new document left.

**Probabilistic interleaving** (PI; Hofmann, Whiteson & de Rijke, CIKM 2011), the second
method: each ranking becomes a softmax over its documents, ``P(d) ∝ rank(d) ** -tau`` (tau 3 by
default); each position flips a fair coin for a team and draws a document from that team's
softmax over the documents not yet shown. Every team assignment stays possible for every list,
so the credit can be *marginalised*: given the list shown, the posterior that the variant
contributed position i is ``q_i = p_V(d_i) / (p_V(d_i) + p_C(d_i))`` (each ``p`` the softmax
probability of ``d_i`` among the documents left at step i; the steps' factors are independent,
so the posterior factorises), and a query's credit is the expected outcome ``P(D > 0) - P(D <
0)`` over those independent assignments, D = variant minus control clicks. Marginalising lowers
the variance; with two identical rankers every ``q_i`` is 1/2 and the credit is exactly 0.

**Credit per query** (``team`` rule): +1 when the variant's team got more clicks (variant win),
-1 when the control's did, 0 for a tie (including no click). **Fairness**: when both rankings
hold at least ``depth`` documents (the pipeline's rankings hold 100), both methods give each
team every position with probability exactly 1/2 (TDI: each round's two positions go one to
each team, in coin order; PI: one fair coin per position), so with clicks that depend on
position alone neither team gains credit; tests check it exactly by enumerating the coins.
Shorter rankings can run out mid-list; the list then stops (TDI as published; PI likewise),
and the last, incomplete round can favour one team; two identical rankings stay exactly fair.

**Randomness from the log**: all coins and uniforms come from the SplitMix64 stream of (query
id, experiment salt) in :mod:`searchlab.serve.assignment`, so a logged list is rebuilt from the
query id, the salt and the two rankings (:func:`rebuild_from_log`). TDI's k-th coin is bit
``k mod 64`` of word ``k // 64`` (a coin of 1 lets the variant pick first); PI's position i uses
word ``2i`` for the team (variant when its uniform is below 1/2) and word ``2i + 1`` for the
document (inverse CDF of the team's softmax in rank order).

Written by hand: no maintained Python library implements interleaving (Solr's Learning-to-Rank
module has TDI in Java, with unseeded coins and no statistics).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from searchlab.errors import DataFormatError, InputError
from searchlab.serve.assignment import stream_words, to_unit

CONTROL, VARIANT, EMPTY = 0, 1, -1
TEAM_LETTERS = "CV"  # team string: one letter per position, C = control, V = variant
METHODS = ("team-draft", "probabilistic")
CREDIT_RULES = ("team", "marginalized")
DEFAULT_DEPTH = 10
DEFAULT_TAU = 3.0
MAX_DEPTH = 1_000


@dataclass(frozen=True)
class Interleaving:
    """One interleaved list: documents in display order, each with the team that placed it."""

    method: str
    query_id: Any
    salt: str
    doc_ids: tuple[str, ...]
    teams: tuple[int, ...]  # CONTROL (0) or VARIANT (1) per position
    posterior: tuple[float, ...] | None = None  # PI: P(variant placed position i | this list)

    @property
    def team_string(self) -> str:
        """``"CVVC..."``: the team of each position, position 1 first."""
        return "".join(TEAM_LETTERS[t] for t in self.teams)

    @property
    def default_credit_rule(self) -> str:
        return "marginalized" if self.method == "probabilistic" else "team"

    def credit(self, clicked_positions: Iterable[int], rule: str | None = None) -> float:
        """This query's credit (> 0 variant, < 0 control, 0 tie) for clicks at 1-based
        positions."""
        clicked = np.zeros((1, max(len(self.teams), 1)), dtype=bool)
        for position in clicked_positions:
            if not 1 <= int(position) <= len(self.teams):
                raise InputError(
                    f"click at position {position}, but the list has {len(self.teams)} results",
                    hint="positions are 1-based and within the list shown",
                )
            clicked[0, int(position) - 1] = True
        rule = rule or self.default_credit_rule
        check_credit_rule(rule, self.method)
        if rule == "team":
            return float(team_credit(np.array([self.teams or (EMPTY,)]), clicked)[0])
        return float(marginalized_credit(np.array([self.posterior or (0.5,)]), clicked)[0])


def check_method(method: str) -> None:
    if method not in METHODS:
        raise InputError(
            f"unknown interleaving method {method!r}", hint="use one of: " + ", ".join(METHODS)
        )


def check_credit_rule(rule: str, method: str) -> None:
    if rule not in CREDIT_RULES:
        raise InputError(
            f"unknown credit rule {rule!r}", hint="use one of: " + ", ".join(CREDIT_RULES)
        )
    if rule == "marginalized" and method != "probabilistic":
        raise InputError(
            "marginalized credit needs probabilistic interleaving",
            hint="use the team rule with team-draft interleaving",
        )


def check_depth(depth: int) -> None:
    if isinstance(depth, bool) or not isinstance(depth, int | np.integer):
        raise InputError(f"depth must be a whole number, got {depth!r}", hint="e.g. 10")
    if not 1 <= depth <= MAX_DEPTH:
        raise InputError(f"depth must be from 1 to {MAX_DEPTH:,}, got {depth}", hint="e.g. 10")


def check_tau(tau: float) -> None:
    if not (isinstance(tau, int | float) and 0 < tau < 100):
        raise InputError(f"tau must be a positive number, got {tau!r}", hint="e.g. 3.0")


def _ranking(docs: Sequence[Any], what: str) -> list[str]:
    out = [str(d) for d in docs]
    if len(set(out)) != len(out):
        raise InputError(
            f"the {what} ranking lists a document twice",
            hint="each ranking must hold distinct document ids",
        )
    return out


# ---------------------------------------------------------------------------- team-draft


def team_draft_coins(depth: int) -> int:
    """How many coins team-draft can use for a list of ``depth`` (one per round)."""
    return (depth + 1) // 2


def team_draft_from_coins(
    control: Sequence[str], variant: Sequence[str], coin: Callable[[int], int], depth: int
) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """TDI with the k-th coin flip given by ``coin(k)`` (1: the variant picks first)."""
    placed: set[str] = set()
    docs: list[str] = []
    teams: list[int] = []
    ic = iv = picks_c = picks_v = flips = 0
    while len(docs) < depth:
        while ic < len(control) and control[ic] in placed:
            ic += 1
        while iv < len(variant) and variant[iv] in placed:
            iv += 1
        if ic == len(control) or iv == len(variant):
            break  # a ranking has no new document left (the original algorithm's stop)
        if picks_c == picks_v:
            variant_picks = bool(coin(flips))
            flips += 1
        else:
            variant_picks = picks_v < picks_c
        if variant_picks:
            doc, team = variant[iv], VARIANT
            picks_v += 1
        else:
            doc, team = control[ic], CONTROL
            picks_c += 1
        placed.add(doc)
        docs.append(doc)
        teams.append(team)
    return tuple(docs), tuple(teams)


def team_draft(
    control: Sequence[Any],
    variant: Sequence[Any],
    *,
    query_id: Any,
    salt: str,
    depth: int = DEFAULT_DEPTH,
) -> Interleaving:
    """Team-draft interleaving of two rankings for one query, with coins from (query id, salt)."""
    check_depth(depth)
    c, v = _ranking(control, "control"), _ranking(variant, "variant")
    words = stream_words([query_id], salt, (team_draft_coins(depth) + 63) // 64)[0]

    def coin(k: int) -> int:
        return int((int(words[k // 64]) >> (k % 64)) & 1)

    docs, teams = team_draft_from_coins(c, v, coin, depth)
    return Interleaving("team-draft", query_id, salt, docs, teams)


def team_draft_patterns(query_ids: Any, salt: str, depth: int) -> np.ndarray:
    """Each query's coin pattern: the low ``team_draft_coins(depth)`` bits of its first word
    (vectorised; :func:`team_draft_from_coins` with ``coin(k) = pattern >> k & 1`` then gives
    the same list as :func:`team_draft`). Needs depth <= 128 (64 coins)."""
    coins = team_draft_coins(depth)
    if coins > 64:
        raise InputError(f"depth {depth} needs more than 64 coins", hint="use depth <= 128")
    words = stream_words(query_ids, salt, 1)[:, 0]
    mask = np.uint64((1 << coins) - 1) if coins < 64 else np.uint64(2**64 - 1)
    return (words & mask).astype(np.uint64)


# ------------------------------------------------------------------------- probabilistic


def probabilistic(
    control: Sequence[Any],
    variant: Sequence[Any],
    *,
    query_id: Any,
    salt: str,
    depth: int = DEFAULT_DEPTH,
    tau: float = DEFAULT_TAU,
) -> Interleaving:
    """Probabilistic interleaving of two rankings for one query, uniforms from (query id, salt)."""
    check_depth(depth)
    check_tau(tau)
    lists = (_ranking(control, "control"), _ranking(variant, "variant"))
    weights = [np.arange(1, len(r) + 1, dtype=np.float64) ** -float(tau) for r in lists]
    left = [np.ones(len(r), dtype=bool) for r in lists]
    where = [{d: i for i, d in enumerate(r)} for r in lists]
    uniforms = to_unit(stream_words([query_id], salt, 2 * depth)[0])
    docs: list[str] = []
    teams: list[int] = []
    posterior: list[float] = []
    for position in range(depth):
        if not (left[CONTROL].any() and left[VARIANT].any()):
            break  # as TDI: stop when either ranking is used up (keeps position fairness)
        team = VARIANT if uniforms[2 * position] < 0.5 else CONTROL
        live = np.where(left[team], weights[team], 0.0)
        cumulative = np.cumsum(live)
        pick = int(
            np.searchsorted(cumulative, uniforms[2 * position + 1] * cumulative[-1], "right")
        )
        pick = min(pick, len(cumulative) - 1)
        while not left[team][pick]:  # guard against rounding at a zero-weight slot
            pick -= 1
        doc = lists[team][pick]
        # P(this document | each team), among the documents left before this step
        chance = []
        for t in (CONTROL, VARIANT):
            i = where[t].get(doc)
            total = float(weights[t][left[t]].sum())
            chance.append(weights[t][i] / total if i is not None and left[t][i] else 0.0)
        posterior.append(float(chance[VARIANT] / (chance[CONTROL] + chance[VARIANT])))
        for t in (CONTROL, VARIANT):
            i = where[t].get(doc)
            if i is not None:
                left[t][i] = False
        docs.append(doc)
        teams.append(team)
    return Interleaving(
        "probabilistic", query_id, salt, tuple(docs), tuple(teams), tuple(posterior)
    )


def interleave(
    control: Sequence[Any],
    variant: Sequence[Any],
    *,
    query_id: Any,
    salt: str,
    method: str = "team-draft",
    depth: int = DEFAULT_DEPTH,
    tau: float = DEFAULT_TAU,
) -> Interleaving:
    """The interleaved list of ``method`` for one query."""
    check_method(method)
    if method == "team-draft":
        return team_draft(control, variant, query_id=query_id, salt=salt, depth=depth)
    return probabilistic(control, variant, query_id=query_id, salt=salt, depth=depth, tau=tau)


def rebuild_from_log(
    record: Mapping[str, Any], control: Sequence[Any], variant: Sequence[Any]
) -> Interleaving:
    """Rebuild the list a log record says was shown, from the two rankers' rankings.

    ``record`` holds ``query_id``, ``salt`` and ``method`` (and ``depth``, ``tau`` when not the
    defaults). When it also holds what was shown (``doc_ids`` and/or ``teams``, the team string
    or codes), the rebuilt list must match it: a mismatch means the rankings or the log changed,
    and is refused naming the first differing position.
    """
    for key in ("query_id", "salt", "method"):
        if key not in record:
            raise DataFormatError(f"the log record has no {key!r}", hint="log it with the list")
    depth = record.get("depth", DEFAULT_DEPTH)
    tau = record.get("tau", DEFAULT_TAU)
    rebuilt = interleave(
        control,
        variant,
        query_id=record["query_id"],
        salt=str(record["salt"]),
        method=str(record["method"]),
        depth=int(depth) if depth is not None else DEFAULT_DEPTH,
        tau=float(tau) if tau is not None else DEFAULT_TAU,
    )
    shown: list[tuple[str, Sequence[Any], Sequence[Any]]] = []
    if record.get("doc_ids") is not None:
        shown.append(("document", [str(d) for d in record["doc_ids"]], rebuilt.doc_ids))
    if record.get("teams") is not None:
        teams = record["teams"]
        logged = list(teams) if isinstance(teams, str) else [TEAM_LETTERS[int(t)] for t in teams]
        shown.append(("team", logged, list(rebuilt.team_string)))
    for what, logged, again in shown:
        if list(logged) != list(again):
            position = next(
                (i for i, (a, b) in enumerate(zip(logged, again, strict=False)) if a != b),
                min(len(logged), len(again)),
            )
            raise DataFormatError(
                f"query {record['query_id']}: the logged {what} at position {position + 1} "
                "differs from the rebuilt list",
                hint="rebuild with the same rankings, salt, method and depth as the live run",
            )
    return rebuilt


# ---------------------------------------------------------------------------------- credit


def team_credit(teams: np.ndarray, clicked: np.ndarray) -> np.ndarray:
    """int8 per list: sign(variant-team clicks - control-team clicks). ``teams`` (lists, depth)
    holds CONTROL/VARIANT (EMPTY past a list's end), ``clicked`` booleans of the same shape."""
    teams = np.asarray(teams)
    clicked = np.asarray(clicked, dtype=bool)
    variant = (clicked & (teams == VARIANT)).sum(axis=1)
    control = (clicked & (teams == CONTROL)).sum(axis=1)
    return np.sign(variant - control).astype(np.int8)


def marginalized_credit(posterior: np.ndarray, clicked: np.ndarray) -> np.ndarray:
    """float per list: P(D > 0) - P(D < 0), D = Σ over clicked positions of ±1, +1 with the
    posterior probability that the variant placed that position (independent positions)."""
    q = np.nan_to_num(np.asarray(posterior, dtype=np.float64), nan=0.5)
    clicked = np.asarray(clicked, dtype=bool)
    dist = signed_sum_distribution(np.where(clicked, q, 0.0), np.where(clicked, 1.0 - q, 0.0))
    return _win_minus_loss(dist)


def outcome_probabilities(teams: np.ndarray, p_click: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact (P(variant win), P(control win)) per list under the team rule, when each position
    is clicked independently with probability ``p_click`` (lists, depth)."""
    teams = np.asarray(teams)
    p = np.asarray(p_click, dtype=np.float64)
    dist = signed_sum_distribution(
        np.where(teams == VARIANT, p, 0.0), np.where(teams == CONTROL, p, 0.0)
    )
    depth = (dist.shape[1] - 1) // 2
    return dist[:, depth + 1 :].sum(axis=1), dist[:, :depth].sum(axis=1)


def signed_sum_distribution(p_plus: np.ndarray, p_minus: np.ndarray) -> np.ndarray:
    """(lists, 2·depth + 1): the law of Σ_i X_i, X_i = +1 w.p. p_plus, -1 w.p. p_minus, else 0,
    independent; column ``depth + s`` holds P(sum = s)."""
    p_plus = np.atleast_2d(np.asarray(p_plus, dtype=np.float64))
    p_minus = np.atleast_2d(np.asarray(p_minus, dtype=np.float64))
    lists, depth = p_plus.shape
    dist = np.zeros((lists, 2 * depth + 1))
    dist[:, depth] = 1.0
    for i in range(depth):
        up, down = p_plus[:, i : i + 1], p_minus[:, i : i + 1]
        new = dist * (1.0 - up - down)
        new[:, 1:] += dist[:, :-1] * up
        new[:, :-1] += dist[:, 1:] * down
        dist = new
    return dist


def _win_minus_loss(dist: np.ndarray) -> np.ndarray:
    depth = (dist.shape[1] - 1) // 2
    return dist[:, depth + 1 :].sum(axis=1) - dist[:, :depth].sum(axis=1)
