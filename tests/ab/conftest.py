"""Fixtures of the ab tests: a committed slice of the Hillstrom experiment (see data/README.md),
so no test here needs ../shared."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

HILLSTROM_SAMPLE = Path(__file__).resolve().parent / "data" / "hillstrom_sample.csv"
ARMS = {"control": "No E-Mail", "variant": "Womens E-Mail"}


@pytest.fixture(scope="session")
def hillstrom_path() -> Path:
    return HILLSTROM_SAMPLE


@pytest.fixture(scope="session")
def hillstrom() -> pd.DataFrame:
    return pd.read_csv(HILLSTROM_SAMPLE)


@pytest.fixture(scope="session")
def hillstrom_spend(hillstrom):
    """Spend per user of the control (no e-mail) and variant (women's e-mail) arms."""
    control = hillstrom.spend[hillstrom.segment == ARMS["control"]].to_numpy()
    variant = hillstrom.spend[hillstrom.segment == ARMS["variant"]].to_numpy()
    return control, variant
