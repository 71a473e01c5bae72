"""The same generated SQL on Spark (`--engine spark`): a local[2] session started and stopped
by a fixture, bound to the loopback address."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from searchlab.ab import analyze
from searchlab.ab.engines import Source, SparkEngine, local_spark
from searchlab.ab.warehouse import (
    Design,
    load_experiment,
    parse_metric,
    parse_ratio,
    with_covariates,
)
from searchlab.cli import run


@pytest.fixture(scope="module")
def spark():
    session = local_spark("local[2]", app="searchlab-tests")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def events(tmp_path_factory):
    rng = np.random.default_rng(11)
    n = 4000
    users = rng.integers(0, 900, n)
    arm = np.array(["control", "b", "c"])[users % 3]
    stray = (users % 97 == 5) & (rng.random(n) < 0.5)
    arm = np.where(stray, "b", arm)
    frame = pd.DataFrame(
        {"user": users, "arm": arm, "t": rng.permutation(n),
         "converted": (rng.random(n) < 0.06).astype(int),
         "spend": np.round(rng.gamma(1, 9, n), 2) * (rng.random(n) < 0.2),
         "clicks": rng.poisson(1, n), "searches": rng.poisson(2, n) + 1,
         "pre": (users % 11).astype(float)}
    )  # fmt: skip
    path = tmp_path_factory.mktemp("spark") / "events.parquet"
    frame.to_parquet(path)
    return path


SPECS = with_covariates(
    [parse_metric("converted"), parse_metric("spend"), parse_ratio("ctr=clicks/searches")],
    ["spend=pre"],
)


@pytest.mark.parametrize("policy", ["exclude", "first", "keep"])
def test_spark_and_duckdb_return_the_same_samples(spark, events, policy):
    design = Design("arm", "control", user_col="user", multiple_exposures=policy, time_col="t")
    source = Source(paths=(str(events),))
    with SparkEngine(spark) as engine:
        engine.register(source)
        on_spark = load_experiment(source, design, SPECS, engine=engine)
    on_duckdb = load_experiment(source, design, SPECS, engine="duckdb")
    assert on_spark.exposure == on_duckdb.exposure
    assert on_spark.exposure.users_in_several_arms > 0
    options = {"resamples": 500, "bootstrap_resamples": 100, "seed": 1}
    assert (
        analyze(on_spark.samples, **options).to_dict()
        == analyze(on_duckdb.samples, **options).to_dict()
    )
    assert spark.catalog.listTables() == []  # the engine dropped its views


def test_cli_engine_spark(spark, events, capsys):
    argv = ["ab", "test", "--data", str(events), "--group-col", "arm", "--control", "control",
            "--user-col", "user", "--metric", "converted", "--ratio", "ctr=clicks/searches",
            "--resamples", "500", "--json"]  # fmt: skip
    assert run([*argv, "--engine", "spark"]) == 0
    on_spark = json.loads(capsys.readouterr().out)
    assert run(argv) == 0
    assert on_spark == json.loads(capsys.readouterr().out)
    assert not spark.sparkContext._jsc.sc().isStopped()  # the CLI left the caller's session up
    sql = ["--sql", "SELECT * FROM data WHERE arm <> 'c'"]
    assert run([*argv, "--engine", "spark", *sql]) == 0
    assert len(json.loads(capsys.readouterr().out)["metrics"]) == 2
    assert run([*argv, "--engine", "spark", "--sql", "SELECT nope FROM data"]) == 2
    err = capsys.readouterr().err
    assert "the --sql query failed in Spark" in err and len(err.strip().splitlines()) == 1
