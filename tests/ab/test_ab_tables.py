from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from searchlab.ab import analyze, read_table, samples_from_histogram, samples_from_table
from searchlab.cli import run

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ARMS = {"control": "No E-Mail", "variant": "Womens E-Mail"}


def _documented_sql() -> str:
    text = (PROJECT_ROOT / "docs" / "readme-ab.md").read_text()
    return re.search(r"```sql\n(.*?)```", text, re.S).group(1)


def test_documented_duckdb_histogram_query_gives_the_same_analysis(hillstrom, tmp_path):
    import duckdb

    users = hillstrom.assign(user_id=np.arange(len(hillstrom)))
    assignments = users[["user_id", "segment"]].rename(columns={"segment": "arm"})
    buyers = users[users.spend > 0]
    purchases = pd.DataFrame({"user_id": buyers.user_id, "amount": buyers.spend})
    con = duckdb.connect()
    con.register("assignments", assignments)
    con.register("purchases", purchases)
    target = tmp_path / "histogram.csv"
    con.execute(_documented_sql().replace("'histogram.csv'", f"'{target}'"))

    hist = samples_from_histogram(read_table(target), group_col="group", metrics=[], **ARMS)
    by_name = {s.name: s for s in hist}
    assert by_name["converted"].type == "binary" and by_name["spend"].type == "continuous"
    user_level = samples_from_table(
        users.assign(converted=(users.spend > 0).astype(int)),
        group_col="segment",
        metrics=["converted", "spend"],
        **ARMS,
    )
    options = {"resamples": 3000, "bootstrap_resamples": 200, "seed": 2}
    from_hist = analyze([by_name["converted"], by_name["spend"]], **options)
    from_users = analyze(user_level, **options)
    for a, b in zip(from_hist.metrics, from_users.metrics, strict=True):
        assert a.tests == b.tests
        assert a.difference == pytest.approx(b.difference, rel=1e-12)


def test_histogram_cli(capsys, hillstrom, tmp_path):
    rows = (
        hillstrom.groupby(["segment", "spend"]).size().reset_index(name="count")
        .rename(columns={"segment": "group", "spend": "value"})
    )  # fmt: skip
    path = tmp_path / "spend.csv"
    rows.to_csv(path, index=False)
    argv = ["ab", "test", "--histogram", str(path), "--control", ARMS["control"],
            "--variant", ARMS["variant"], "--metric", "spend", "--json", "--resamples", "1000"]  # fmt: skip
    assert run(argv) == 0
    out = capsys.readouterr().out
    assert '"continuous"' in out and '"monte-carlo-permutation"' in out


def test_auto_types_on_hillstrom(hillstrom):
    samples = samples_from_table(
        hillstrom, group_col="segment", metrics=["visit", "conversion", "spend", "history"], **ARMS
    )
    assert [s.type for s in samples] == ["binary", "binary", "continuous", "continuous"]
    assert samples[0].control.users == 149  # counts of the control arm (binary)
    assert samples[2].control.users == 149 and samples[2].control.values.size < 149  # histogram


def test_polars_frame(hillstrom):
    import polars

    frame = polars.from_pandas(hillstrom[["segment", "conversion", "spend"]])
    samples = samples_from_table(
        frame, group_col="segment", metrics=["conversion", "spend"], **ARMS
    )
    assert [s.type for s in samples] == ["binary", "continuous"]
    assert samples[1].variant.users == 155
