"""searchlab.serve: the live service and the online half of an experiment.

Modules, bottom up:

- ``assignment``: the stable SplitMix64 hash, assignment with traffic allocation (shared with
  the offline simulation) and the uniforms interleaving draws;
- ``interleaving``: team-draft and probabilistic interleaving with per-query credit;
- ``experiments``: the experiments file (TOML), layers and slices, who sees which ranker;
- ``events``: UBI 1.3 events as clients send them, checked;
- ``store``: the event log (SQLite WAL, versioned schema, one group-committing writer);
- ``analysis``: an experiment of the log as per-arm samples for ``searchlab.ab.analyze``;
- ``export``: the log as day-partitioned Parquet;
- ``pages``, ``app``, ``service``: the search pages, the aiohttp app and the running service
  (``searchlab serve``).

Importing this package loads only numpy; the service's modules load aiohttp, the text index
and (for learned rankers) PyTorch when imported.
"""

from __future__ import annotations

from searchlab.serve.assignment import (
    assign_arms,
    assign_variant,
    hash_unit,
    key64,
    salt64,
    stream_words,
    unit_of,
)
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
    "assign_arms",
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
    "unit_of",
]
