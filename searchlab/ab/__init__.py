"""searchlab.ab: exact and fast significance tests for A/B experiments.

Importing this package loads only numpy; scipy, statsmodels, numba and matplotlib load when a
function needs them (numba kernels compile once and are cached on disk).
"""

from __future__ import annotations

from searchlab.ab.analysis import ab_test, analyze
from searchlab.ab.binary import binary_test, exact_permutation_pvalue
from searchlab.ab.continuous import continuous_test, permutation_pvalue
from searchlab.ab.inputs import Counts, Histogram, parse_counts
from searchlab.ab.interleave import InterleavingAnalysis, interleaving_test
from searchlab.ab.paired import paired_permutation_test
from searchlab.ab.plot import plot_analysis, plot_null_distribution
from searchlab.ab.power import PowerPlan, power_plan
from searchlab.ab.report import (
    analysis_fragment,
    metric_fragment,
    png_data_uri,
    render_html_page,
    write_html_report,
)
from searchlab.ab.results import (
    ABAnalysis,
    ConfidenceInterval,
    GroupSummary,
    MetricAnalysis,
    NullDistribution,
    PairedPermutationResult,
    SRMCheck,
    TestResult,
)
from searchlab.ab.sequential import (
    SequentialAnalysis,
    sequential_analyze,
    sequential_path,
    sequential_srm,
    sequential_test,
)
from searchlab.ab.srm import srm_check
from searchlab.ab.tables import (
    MetricSamples,
    read_table,
    samples_from_histogram,
    samples_from_table,
)

__all__ = [
    "ABAnalysis",
    "ConfidenceInterval",
    "Counts",
    "GroupSummary",
    "Histogram",
    "InterleavingAnalysis",
    "MetricAnalysis",
    "MetricSamples",
    "NullDistribution",
    "PairedPermutationResult",
    "PowerPlan",
    "SRMCheck",
    "SequentialAnalysis",
    "TestResult",
    "ab_test",
    "analysis_fragment",
    "analyze",
    "binary_test",
    "continuous_test",
    "exact_permutation_pvalue",
    "interleaving_test",
    "metric_fragment",
    "paired_permutation_test",
    "parse_counts",
    "permutation_pvalue",
    "plot_analysis",
    "plot_null_distribution",
    "png_data_uri",
    "power_plan",
    "read_table",
    "render_html_page",
    "samples_from_histogram",
    "samples_from_table",
    "sequential_analyze",
    "sequential_path",
    "sequential_srm",
    "sequential_test",
    "srm_check",
    "write_html_report",
]
