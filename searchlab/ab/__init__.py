"""searchlab.ab: exact and fast significance tests for A/B experiments.

Importing this package loads only numpy; scipy, statsmodels, numba and matplotlib load when a
function needs them.
"""

from __future__ import annotations

from searchlab.ab.paired import PairedPermutationResult, paired_permutation_test

__all__ = ["PairedPermutationResult", "paired_permutation_test"]
