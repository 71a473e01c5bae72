"""Interleaving analysis: per-query credit → per-user preference → exact sign test.

**Input**: a per-query table, one row per search that showed an interleaved list (a pandas,
polars or pyarrow table, or a CSV/Parquet path). Columns:

- ``user_id`` (required): who searched; any integer or text id.
- ``credit``: the query's outcome, a number in [-1, 1]; > 0 the variant's team won, < 0 the
  control's, 0 a tie. Team-draft gives -1/0/+1; marginalised probabilistic interleaving gives
  the expected outcome, a fraction. **Or**, instead of ``credit``:
  ``variant_clicks`` and ``control_clicks`` (whole numbers): credit = sign(variant - control).
- ``topic`` (optional): the collection query or query text, for a per-topic breakdown.
- ``method`` (optional): the interleaving method, reported (one method per table).

``searchlab.loop.interleave_sim`` writes such tables (its docstring lists every column).

**Statistics**: a user's preference is the sum of their queries' credits (with -1/0/+1 credit:
wins - losses). Users with preference > 0 prefer the variant, < 0 the control, = 0 are tied.
Over the W + L non-tied users, the exact two-sided sign test is the binomial test of W against
Binomial(W + L, 1/2) (``scipy.stats.binomtest``, which also gives the Clopper–Pearson interval
of the preference share W/(W + L)). Beside it: a seeded percentile bootstrap interval of the
share over users (resampling N users with replacement only changes how many fall in each of
the three classes, so each resample is one multinomial draw of (W, L, T), exact and O(1)); the
per-query counts (variant wins, control wins, ties among all searches, which are not
independent: the test is over users); and optionally (``sequential=True``) the anytime-valid
confidence sequence of the share from :mod:`searchlab.ab.sequential`, over non-tied users.

The result's ``to_dict()`` has the shape of ``searchlab ab test --json``: ``metrics[]`` with
``tests[].method/pvalue``, ``decisive_method``, ``significant`` and a ``verdict``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from searchlab._json import to_jsonable
from searchlab.ab.continuous import _SCIPY_ALTERNATIVE
from searchlab.ab.inputs import check_alpha, check_alternative, check_resamples, check_seed
from searchlab.ab.results import ConfidenceInterval, TestResult
from searchlab.ab.sequential import (
    CS_METHOD,
    DEFAULT_TUNING_SIZE,
    confidence_sequence,
    method_note,
)
from searchlab.errors import InputError

USER_COL, CREDIT_COL, TOPIC_COL, METHOD_COL = "user_id", "credit", "topic", "method"
CLICK_COLS = ("variant_clicks", "control_clicks")
SIGN_TEST = "sign-test"
DEFAULT_BOOTSTRAP_RESAMPLES = 2_000


@dataclass(frozen=True)
class PreferenceSide:
    """How many users preferred one side (or tied), and how many queries it won (or tied)."""

    label: str
    users: int
    queries: int


@dataclass(frozen=True)
class TopicResult:
    topic: str
    queries: int
    variant_wins: int
    control_wins: int
    ties: int


@dataclass(frozen=True)
class InterleavingMetric:
    name: str
    type: str  # "interleaving"
    control: PreferenceSide
    variant: PreferenceSide
    ties: PreferenceSide
    users: int
    queries: int
    preference_share: float | None  # W / (W + L): share of non-tied users preferring variant
    difference: float | None  # preference_share - 1/2
    tests: tuple[TestResult, ...]
    decisive_method: str
    alpha: float
    significant: bool
    verdict: str

    def test(self, method: str) -> TestResult:
        for result in self.tests:
            if result.method == method:
                return result
        raise InputError(
            f"no {method!r} test in this analysis",
            hint="its tests: " + ", ".join(t.method for t in self.tests),
        )

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)


@dataclass(frozen=True)
class InterleavingAnalysis:
    metrics: tuple[InterleavingMetric, ...]
    method: str | None  # the interleaving method named in the table, if any
    credit_source: str  # "credit" or "clicks"
    per_topic: tuple[TopicResult, ...]

    @property
    def preference(self) -> InterleavingMetric:
        return self.metrics[0]

    def to_dict(self) -> dict[str, Any]:
        m = self.preference
        return {
            "experiment_type": "interleave",
            "method": self.method,
            "credit_source": self.credit_source,
            "metrics": [m.to_dict() for m in self.metrics],
            "per_query": {
                "queries": m.queries,
                "variant_wins": m.variant.queries,
                "control_wins": m.control.queries,
                "ties": m.ties.queries,
                "variant_share": _share(m.variant.queries, m.control.queries),
            },
            "per_topic": to_jsonable(self.per_topic),
        }


def interleaving_test(
    data: Any,
    *,
    alternative: str = "two-sided",
    alpha: float = 0.05,
    bootstrap_resamples: int = DEFAULT_BOOTSTRAP_RESAMPLES,
    seed: int = 0,
    sequential: bool = False,
    tuning_size: float = DEFAULT_TUNING_SIZE,
) -> InterleavingAnalysis:
    """Analyse an interleaving experiment from its per-query table (see the module docstring)."""
    check_alternative(alternative)
    check_alpha(alpha)
    check_seed(seed)
    check_resamples(bootstrap_resamples, what="bootstrap resamples", example=2_000)
    frame, source = _frame(data)
    credit, credit_source = query_credit(frame, source)
    preference = user_preferences(frame, credit, source)
    wins, losses = int((preference > 0).sum()), int((preference < 0).sum())
    ties = int(preference.size) - wins - losses
    q_wins, q_losses = int((credit > 0).sum()), int((credit < 0).sum())
    q_ties = int(credit.size) - q_wins - q_losses

    share = _share(wins, losses)
    pvalue, exact_ci = sign_test(wins, losses, alternative=alternative, alpha=alpha)
    tests = [
        TestResult(
            method=SIGN_TEST,
            alternative=alternative,
            pvalue=pvalue,
            estimate=share,
            statistic=share,
            interval=_interval(exact_ci[0], exact_ci[1], alpha, alternative),
            note="exact binomial test of users preferring the variant among non-tied users "
            "(null share 1/2); CI: Clopper-Pearson for the preference share",
        ),
        _bootstrap(wins, losses, ties, alternative, alpha, bootstrap_resamples, seed),
    ]
    if sequential:
        tests.append(_sequence(wins, losses, alternative, alpha, tuning_size))
    significant = pvalue < alpha
    metric = InterleavingMetric(
        name="preference",
        type="interleaving",
        control=PreferenceSide("control", losses, q_losses),
        variant=PreferenceSide("variant", wins, q_wins),
        ties=PreferenceSide("tie", ties, q_ties),
        users=int(preference.size),
        queries=int(credit.size),
        preference_share=share,
        difference=None if share is None else share - 0.5,
        tests=tuple(tests),
        decisive_method=SIGN_TEST,
        alpha=alpha,
        significant=bool(significant),
        verdict=_verdict(wins, losses, ties, pvalue, alternative, alpha),
    )
    return InterleavingAnalysis(
        metrics=(metric,),
        method=_method(frame, source),
        credit_source=credit_source,
        per_topic=_per_topic(frame, credit),
    )


def query_credit(frame: Any, source: str = "table") -> tuple[np.ndarray, str]:
    """(credit per row, "credit" | "clicks"), checked: from ``credit`` or the click columns."""
    has_credit = CREDIT_COL in frame.columns or all(c in frame.columns for c in CLICK_COLS)
    if not has_credit:
        shape = "an 'arm' column" if "arm" in frame.columns else "no interleaving credit"
        raise InputError(
            f"{source} is not an interleaving table ({shape}: neither {CREDIT_COL!r} nor "
            f"{CLICK_COLS[0]!r} and {CLICK_COLS[1]!r}); an A/B table with one row per user is "
            "analysed by `searchlab ab test --data FILE --group-col COL --control LABEL`",
            hint="columns present: " + ", ".join(map(str, list(frame.columns)[:15])),
        )
    if USER_COL not in frame.columns:
        raise InputError(
            f"{source} has no {USER_COL!r} column",
            hint="an interleaving table has one row per query: user_id, credit (or "
            "variant_clicks and control_clicks)",
        )
    if len(frame) == 0:
        raise InputError(f"{source} has no rows", hint="no verdict for an empty experiment")
    if CREDIT_COL in frame.columns:
        credit = _numbers(frame[CREDIT_COL], CREDIT_COL, source)
        if np.any(np.abs(credit) > 1.0):
            raise InputError(
                f"column {CREDIT_COL!r} of {source} holds {credit[np.abs(credit) > 1][0]:g}",
                hint="credit lies in [-1, 1]: > 0 variant won the query, < 0 control, 0 tie",
            )
        return credit, "credit"
    variant, control = (_numbers(frame[c], c, source) for c in CLICK_COLS)
    for name, clicks in zip(CLICK_COLS, (variant, control), strict=True):
        if np.any(clicks < 0) or np.any(clicks != np.floor(clicks)):
            raise InputError(
                f"column {name!r} of {source} must hold whole numbers >= 0",
                hint="clicks on each team's results in that query",
            )
    return np.sign(variant - control), "clicks"


def user_preferences(frame: Any, credit: np.ndarray, source: str = "table") -> np.ndarray:
    """Each user's preference (sum of their queries' credit), in order of first appearance."""
    users = frame[USER_COL]
    if users.isna().any():
        raise InputError(f"column {USER_COL!r} of {source} has missing ids", hint="fill them")
    codes, _ = _factorize(users)
    return np.bincount(codes, weights=credit)


def sign_test(
    wins: int, losses: int, *, alternative: str = "two-sided", alpha: float = 0.05
) -> tuple[float, tuple[float | None, float | None]]:
    """(p-value, Clopper–Pearson interval of the share) of the exact sign test: ``wins`` users
    prefer the variant, ``losses`` the control (ties left out). No decided user: p = 1."""
    from scipy.stats import binomtest

    if wins + losses == 0:
        return 1.0, (None, None)
    result = binomtest(wins, wins + losses, 0.5, alternative=_SCIPY_ALTERNATIVE[alternative])
    interval = result.proportion_ci(confidence_level=1.0 - alpha, method="exact")
    return float(result.pvalue), (float(interval.low), float(interval.high))


def _frame(data: Any) -> tuple[Any, str]:
    import pandas as pd

    if isinstance(data, str | Path):
        from searchlab.ab.tables import read_table

        return read_table(data), str(data)
    if isinstance(data, pd.DataFrame):
        return data, "table"
    if hasattr(data, "to_pandas"):  # polars, pyarrow
        return data.to_pandas(), "table"
    raise InputError(
        f"expected a table or a CSV/Parquet path, got {type(data).__name__}",
        hint="pass a pandas DataFrame or the path of the per-query table",
    )


def _numbers(column: Any, name: str, source: str) -> np.ndarray:
    import pandas as pd

    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        raise InputError(
            f"column {name!r} of {source} holds {column[bad].iloc[0]!r} (row "
            f"{int(np.argmax(bad)) + 1}), not a number",
            hint="drop or fix the row",
        )
    return values


def _factorize(column: Any) -> tuple[np.ndarray, Any]:
    import pandas as pd

    codes, uniques = pd.factorize(column, sort=False)
    return codes, uniques


def _method(frame: Any, source: str) -> str | None:
    if METHOD_COL not in frame.columns:
        return None
    methods = sorted(map(str, frame[METHOD_COL].dropna().unique()))
    if len(methods) > 1:
        raise InputError(
            f"{source} mixes interleaving methods ({', '.join(methods)})",
            hint="analyse one experiment (one method) at a time",
        )
    return methods[0] if methods else None


def _per_topic(frame: Any, credit: np.ndarray) -> tuple[TopicResult, ...]:
    if TOPIC_COL not in frame.columns:
        return ()
    codes, topics = _factorize(frame[TOPIC_COL].astype(str))
    size = len(topics)
    counts = [
        np.bincount(codes, weights=mask, minlength=size).astype(np.int64)
        for mask in (credit > 0, credit < 0, credit == 0)
    ]
    out = [
        TopicResult(str(t), int(w + lo + ti), int(w), int(lo), int(ti))
        for t, w, lo, ti in zip(topics, *counts, strict=True)
    ]
    return tuple(
        sorted(out, key=lambda r: (0, int(r.topic)) if r.topic.isdigit() else (1, r.topic))
    )


def _share(wins: int, losses: int) -> float | None:
    return wins / (wins + losses) if wins + losses else None


def _bootstrap(
    wins: int, losses: int, ties: int, alternative: str, alpha: float, resamples: int, seed: int
) -> TestResult:
    users = wins + losses + ties
    draws = np.random.default_rng(seed).multinomial(
        users, np.array([wins, losses, ties], dtype=np.float64) / users, size=resamples
    )
    decided = draws[:, 0] + draws[:, 1]
    shares = draws[decided > 0, 0] / decided[decided > 0]
    low = high = None
    if shares.size:
        if alternative == "two-sided":
            low, high = np.quantile(shares, [alpha / 2, 1 - alpha / 2])
        elif alternative == "larger":
            low, high = np.quantile(shares, alpha), 1.0
        else:
            low, high = 0.0, np.quantile(shares, 1 - alpha)
        low, high = float(low), float(high)
    return TestResult(
        method="bootstrap",
        alternative=alternative,
        pvalue=None,
        estimate=_share(wins, losses),
        statistic=_share(wins, losses),
        resamples=resamples,
        seed=seed,
        interval=_interval(low, high, alpha, alternative),
        note="percentile interval of the preference share over users resampled with "
        "replacement (one multinomial draw of the win/loss/tie counts per resample)",
    )


def _interval(
    low: float | None, high: float | None, alpha: float, alternative: str
) -> ConfidenceInterval | None:
    """The share's interval at level 1 - alpha (a one-sided one ends at the share's bound 0 or 1)."""
    if low is None or high is None:
        return None
    return ConfidenceInterval(float(low), float(high), 1.0 - alpha, alternative)


def share_sequence(
    wins: Any,
    decided: Any,
    *,
    alpha: float = 0.05,
    tuning_size: float = DEFAULT_TUNING_SIZE,
    alternative: str = "two-sided",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(low, high, always-valid p) of the preference share against 1/2, elementwise over
    counts of variant-preferring and decided (non-tied) users; fewer than two decided users
    give no interval (NaN) and p = 1."""
    wins = np.asarray(wins, dtype=np.float64)
    decided = np.asarray(decided, dtype=np.float64)
    enough = decided >= 2
    n = np.where(enough, decided, 2.0)
    share = np.where(enough, wins / n, 0.5)
    variance = share * (1.0 - share) * n / (n - 1.0)
    low, high, p = confidence_sequence(
        share, variance, n, null=0.5, alpha=alpha, tuning_size=tuning_size, alternative=alternative
    )
    low, high = np.clip(low, 0.0, 1.0), np.clip(high, 0.0, 1.0)  # a share lies in [0, 1]
    return np.where(enough, low, np.nan), np.where(enough, high, np.nan), np.where(enough, p, 1.0)


def _sequence(
    wins: int, losses: int, alternative: str, alpha: float, tuning_size: float
) -> TestResult:
    low, high, p = (
        float(x)
        for x in share_sequence(
            wins, wins + losses, alpha=alpha, tuning_size=tuning_size, alternative=alternative
        )
    )
    enough = wins + losses >= 2
    return TestResult(
        method=CS_METHOD,
        alternative=alternative,
        pvalue=p,
        estimate=wins / (wins + losses) if enough else None,
        statistic=wins / (wins + losses) if enough else None,
        interval=_interval(low, high, alpha, alternative) if enough else None,
        note=method_note(tuning_size).replace("excludes 0", "excludes 1/2")
        + "; over non-tied users, for the preference share",
    )


def _verdict(
    wins: int, losses: int, ties: int, pvalue: float, alternative: str, alpha: float
) -> str:
    users = wins + losses + ties
    if wins + losses == 0:
        return (
            f"None of the {users:,} users preferred either ranker (every user tied), so there "
            "is no evidence either way; not significant."
        )
    share = wins / (wins + losses)
    direction = {
        "two-sided": "a split at least this lopsided either way",
        "larger": "at least this many users preferring the variant",
        "smaller": "at least this few users preferring the variant",
    }[alternative]
    head = (
        f"Of {users:,} users, {wins:,} clicked more on the variant's results and {losses:,} on "
        f"the control's ({ties:,} tied): the variant's preference share is {100 * share:.2f}%. "
        f"If neither ranker were preferred, {direction} would happen with probability "
        f"{pvalue:.4g} (exact sign test)."
    )
    if pvalue < alpha:
        winner = "variant" if share > 0.5 else "control"
        return head + f" That is below alpha = {alpha:g}: users prefer the {winner}."
    return head + f" That is not below alpha = {alpha:g}: no significant preference."
