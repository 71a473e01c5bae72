"""searchlab.serve: the online half of an experiment — assignment and interleaving.

Today this holds the pure functions the live service and the offline simulator share: the
stable assignment hash (:mod:`searchlab.serve.assignment`) and team-draft / probabilistic
interleaving with per-query credit (:mod:`searchlab.serve.interleaving`). Importing it loads
only numpy; the HTTP service (issue 11) is to live in modules of its own beside them.
"""

from __future__ import annotations

from searchlab.serve.assignment import assign_variant, hash_unit, key64, salt64, stream_words
from searchlab.serve.interleaving import (
    CONTROL,
    METHODS,
    VARIANT,
    Interleaving,
    interleave,
    marginalized_credit,
    outcome_probabilities,
    probabilistic,
    rebuild_from_log,
    team_credit,
    team_draft,
)

__all__ = [
    "CONTROL",
    "METHODS",
    "VARIANT",
    "Interleaving",
    "assign_variant",
    "hash_unit",
    "interleave",
    "key64",
    "marginalized_credit",
    "outcome_probabilities",
    "probabilistic",
    "rebuild_from_log",
    "salt64",
    "stream_words",
    "team_credit",
    "team_draft",
]
