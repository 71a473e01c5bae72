"""searchlab.ab: exact and fast significance tests for A/B experiments.

Importing this package loads nothing: each name below is imported from its module on first
use (PEP 562), so ``searchlab ab test --control 3/6 --variant 4/6`` loads only what that path
needs (numpy and a few of our modules). scipy, statsmodels, numba, DuckDB and matplotlib load
when a function needs them (numba kernels compile once and are cached on disk).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ABAnalysis": "searchlab.ab.results",
    "ConfidenceInterval": "searchlab.ab.results",
    "Correction": "searchlab.ab.results",
    "Counts": "searchlab.ab.inputs",
    "CovariateAdjustment": "searchlab.ab.results",
    "Design": "searchlab.ab.warehouse",
    "Experiment": "searchlab.ab.warehouse",
    "Exposure": "searchlab.ab.results",
    "GroupSummary": "searchlab.ab.results",
    "Histogram": "searchlab.ab.inputs",
    "InterleavingAnalysis": "searchlab.ab.interleave",
    "Joint": "searchlab.ab.inputs",
    "MetricAnalysis": "searchlab.ab.results",
    "MetricSamples": "searchlab.ab.tables",
    "MetricSpec": "searchlab.ab.warehouse",
    "NullDistribution": "searchlab.ab.results",
    "PairedPermutationResult": "searchlab.ab.results",
    "PowerPlan": "searchlab.ab.power",
    "SRMCheck": "searchlab.ab.results",
    "SequentialAnalysis": "searchlab.ab.sequential",
    "Source": "searchlab.ab.engines",
    "TestResult": "searchlab.ab.results",
    "ab_test": "searchlab.ab.analysis",
    "analysis_fragment": "searchlab.ab.report",
    "analyze": "searchlab.ab.analysis",
    "binary_test": "searchlab.ab.binary",
    "continuous_test": "searchlab.ab.continuous",
    "exact_permutation_pvalue": "searchlab.ab.binary",
    "interleaving_test": "searchlab.ab.interleave",
    "load_experiment": "searchlab.ab.warehouse",
    "metric_fragment": "searchlab.ab.report",
    "paired_permutation_test": "searchlab.ab.paired",
    "parse_counts": "searchlab.ab.inputs",
    "parse_metric": "searchlab.ab.warehouse",
    "parse_ratio": "searchlab.ab.warehouse",
    "permutation_pvalue": "searchlab.ab.continuous",
    "plot_analysis": "searchlab.ab.plot",
    "plot_null_distribution": "searchlab.ab.plot",
    "png_data_uri": "searchlab.ab.report",
    "power_plan": "searchlab.ab.power",
    "read_table": "searchlab.ab.tables",
    "render_html_page": "searchlab.ab.report",
    "samples_from_histogram": "searchlab.ab.tables",
    "samples_from_table": "searchlab.ab.tables",
    "sequential_analyze": "searchlab.ab.sequential",
    "sequential_path": "searchlab.ab.sequential",
    "sequential_srm": "searchlab.ab.sequential",
    "sequential_test": "searchlab.ab.sequential",
    "srm_check": "searchlab.ab.srm",
    "write_html_report": "searchlab.ab.report",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'searchlab.ab' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
