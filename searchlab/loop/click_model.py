"""A position-based click model whose attractiveness comes from graded judgments.

A user who issues a query sees the top ``depth`` (10) results of their arm's ranking. The
position-based model (PBM; Craswell et al. 2008, Chuklin et al. 2015) says the result at
rank r (1-based) is examined with probability ``θ_r = r ** -examination_decay`` and, if
examined, clicked with probability ``α(g)`` set by its relevance grade g (unjudged = 0)::

    α(g) = attractiveness_floor + (attractiveness_ceiling - attractiveness_floor)
           * (2**g - 1) / (2**max_grade - 1)

the gain curve of NDCG/ERR, so a click model and the offline metric agree on what "better"
means. Each click converts (the user found what they needed) with probability
``conversion_by_grade[g]``. Examinations, clicks and conversions are independent given the
ranking. Defaults (Cranfield grades 0..4):

    examination_decay 1.0 (θ = 1, 1/2, 1/3, ...), attractiveness 0.05 (grade 0) .. 0.90 (grade 4),
    conversion_by_grade (0.01, 0.05, 0.15, 0.30, 0.50)

Because everything is independent, the probability that a query converts at least once has a
closed form, ``1 - Π_r (1 - θ_r α(g_r) c(g_r))``, which :func:`query_conversion_probability`
computes; the simulation draws from the same model, and tests check the two agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from searchlab.errors import InputError

Rankings = Mapping[str, Sequence[str]]
Judgments = Mapping[str, Mapping[str, int]]
NO_RESULT = -1  # grade code for an empty slot (ranking shorter than depth)


@dataclass(frozen=True)
class ClickModel:
    depth: int = 10
    examination_decay: float = 1.0
    max_grade: int = 4
    attractiveness_floor: float = 0.05
    attractiveness_ceiling: float = 0.90
    conversion_by_grade: tuple[float, ...] = (0.01, 0.05, 0.15, 0.30, 0.50)

    def __post_init__(self) -> None:
        if self.depth < 1:
            raise InputError(f"depth must be at least 1, got {self.depth}", hint="use 10")
        if self.examination_decay < 0:
            raise InputError("examination_decay must be >= 0", hint="use 1.0")
        if self.max_grade < 1:
            raise InputError("max_grade must be at least 1", hint="use the highest judged grade")
        if not 0 <= self.attractiveness_floor <= self.attractiveness_ceiling <= 1:
            raise InputError(
                "need 0 <= attractiveness_floor <= attractiveness_ceiling <= 1",
                hint="e.g. 0.05 and 0.9",
            )
        if len(self.conversion_by_grade) != self.max_grade + 1:
            raise InputError(
                f"conversion_by_grade needs {self.max_grade + 1} values (grades 0..{self.max_grade}),"
                f" got {len(self.conversion_by_grade)}",
                hint="give one conversion probability per grade",
            )
        if not all(0 <= c <= 1 for c in self.conversion_by_grade):
            raise InputError("conversion probabilities must lie in [0, 1]", hint="check them")

    def examination(self) -> np.ndarray:
        """θ_r for ranks 1..depth."""
        return np.arange(1, self.depth + 1, dtype=np.float64) ** -self.examination_decay

    def attractiveness(self) -> np.ndarray:
        """α(g) for g = 0..max_grade, then 0.0 for an empty slot (index -1)."""
        g = np.arange(self.max_grade + 1, dtype=np.float64)
        span = self.attractiveness_ceiling - self.attractiveness_floor
        alpha = self.attractiveness_floor + span * (2**g - 1) / (2**self.max_grade - 1)
        return np.append(alpha, 0.0)

    def conversion(self) -> np.ndarray:
        """c(g) for g = 0..max_grade, then 0.0 for an empty slot (index -1)."""
        return np.append(np.asarray(self.conversion_by_grade, dtype=np.float64), 0.0)


def check_grades(judgments: Judgments, model: ClickModel) -> None:
    """Refuse judgments graded above the model's ``max_grade`` (they would be clipped)."""
    top = max((g for docs in judgments.values() for g in docs.values()), default=0)
    if top > model.max_grade:
        raise InputError(
            f"the judgments go up to grade {top}, but the click model has conversion "
            f"probabilities for grades 0..{model.max_grade} only",
            hint=f"give {top + 1} comma-separated values to --conversion",
        )


def grade_matrix(
    rankings: Rankings, judgments: Judgments, query_ids: Sequence[str], model: ClickModel
) -> np.ndarray:
    """int8 (queries, depth): the grade shown at each rank, NO_RESULT where the list ends.

    Grades above ``model.max_grade`` are clipped to it; negative grades count as 0.
    """
    grades = np.full((len(query_ids), model.depth), NO_RESULT, dtype=np.int8)
    for row, qid in enumerate(query_ids):
        judged = judgments.get(qid, {})
        top = list(rankings[qid])[: model.depth]
        if len(set(top)) != len(top):
            raise InputError(
                f"the ranking of query {qid} lists a document twice",
                hint="each ranking must hold distinct document ids",
            )
        for rank, doc in enumerate(top):
            grades[row, rank] = min(max(int(judged.get(doc, 0)), 0), model.max_grade)
    return grades


def query_conversion_probability(grades: np.ndarray, model: ClickModel) -> np.ndarray:
    """P(at least one conversion) per query row of a grade matrix (exact, no sampling)."""
    per_slot = model.examination()[None, :] * model.attractiveness()[grades]
    per_slot *= model.conversion()[grades]
    return 1.0 - np.prod(1.0 - per_slot, axis=1)


def slot_probabilities(grades: np.ndarray, model: ClickModel) -> tuple[np.ndarray, np.ndarray]:
    """(P(click), P(click and convert)) at each slot of a grade array whose last axis is rank."""
    p_click = model.examination() * model.attractiveness()[grades]
    return p_click, p_click * model.conversion()[grades]
