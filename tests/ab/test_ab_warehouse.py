"""Tables through the generated SQL (DuckDB): the same analysis as in-memory data, users not
rows, several arms, Parquet folders and globs, --sql, and every bad input of issue 13."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from searchlab.ab import MetricSamples, analyze
from searchlab.ab.engines import Source
from searchlab.ab.warehouse import Design, load_experiment, parse_metric, parse_ratio
from searchlab.cli import run


def _users(n=3000, seed=0):
    """One row per user: three arms, a binary, a zero-inflated cents, a ratio, a covariate."""
    rng = np.random.default_rng(seed)
    arm = rng.choice(["control", "b", "c"], n)
    pre = np.round(rng.gamma(2, 20, n), 2)
    buys = rng.random(n) < 0.1 + 0.02 * (arm == "c")
    spend = np.where(buys, np.round(pre * 0.3 + rng.gamma(2, 5, n), 2), 0.0)
    searches = rng.poisson(3, n) + 1
    clicks = rng.binomial(searches, 0.3 + 0.03 * (arm == "b"))
    return pd.DataFrame(
        {"user_id": np.arange(n), "arm": arm, "bought": buys.astype(int), "spend": spend,
         "pre": pre, "clicks": clicks, "searches": searches}
    )  # fmt: skip


ARMS = ("control", "b", "c")
OPTIONS = {"resamples": 2000, "bootstrap_resamples": 200, "seed": 3}


def _in_memory(frame):
    """The same metrics built by hand from numpy arrays (no SQL anywhere)."""
    part = {label: frame[frame.arm == label] for label in ARMS}
    return [
        MetricSamples("bought", "binary", arms=[(a, part[a].bought.to_numpy()) for a in ARMS]),
        MetricSamples("spend", "continuous", arms=[(a, part[a].spend.to_numpy()) for a in ARMS]),
        MetricSamples(
            "ctr", "ratio", definition="clicks/searches",
            arms=[(a, (part[a].clicks.to_numpy(), part[a].searches.to_numpy())) for a in ARMS],
        ),
        MetricSamples(
            "spend_adj", "continuous", covariate="pre",
            arms=[(a, (part[a].spend.to_numpy(), part[a].pre.to_numpy())) for a in ARMS],
        ),
    ]  # fmt: skip


def test_sql_path_and_in_memory_path_give_identical_results(tmp_path):
    frame = _users()
    path = tmp_path / "users.parquet"
    frame.assign(spend_adj=frame.spend).to_parquet(path)
    specs = [parse_metric("bought"), parse_metric("spend"), parse_ratio("ctr=clicks/searches"),
             parse_metric("spend_adj")]  # fmt: skip
    specs[3] = type(specs[3])(**{**specs[3].__dict__, "covariate": "pre"})
    experiment = load_experiment(Source(paths=(str(path),)), Design("arm", "control"), specs)
    assert experiment.labels == ARMS
    from_sql = analyze(experiment.samples, **OPTIONS).to_dict()
    from_memory = analyze(_in_memory(frame), **OPTIONS).to_dict()
    assert from_sql == from_memory
    assert [m["type"] for m in from_sql["metrics"]][::2] == ["binary", "continuous", "ratio",
                                                             "continuous"]  # fmt: skip


def _events(seed=1):
    """An event log: users with several rows, a few seen in both arms."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, 400, 3000)
    arm = np.where(users % 2 == 0, "a", "b")
    stray = (users % 50 == 7) & (rng.random(users.size) < 0.5)  # 8 users see the other arm
    arm = np.where(stray, np.where(arm == "a", "b", "a"), arm)
    return pd.DataFrame(
        {"user": users, "arm": arm, "t": rng.permutation(users.size),
         "converted": (rng.random(users.size) < 0.05).astype(int),
         "spend": np.round(rng.random(users.size) * 10, 2) * (rng.random(users.size) < 0.3)}
    )  # fmt: skip


@pytest.mark.parametrize("policy", ["exclude", "first", "keep"])
def test_users_not_rows(policy):
    events = _events()
    design = Design("arm", "a", user_col="user", multiple_exposures=policy, time_col="t")
    specs = [parse_metric("converted"), parse_metric("spend"), parse_metric("spend:mean")]
    specs[2] = type(specs[2])(**{**specs[2].__dict__, "name": "mean_spend"})
    experiment = load_experiment(Source(frame=events), design, specs)
    arms_seen = events.groupby("user").arm.nunique()
    several = set(arms_seen.index[arms_seen > 1])
    assert experiment.exposure.users == events.user.nunique()
    assert experiment.exposure.users_in_several_arms == len(several) > 0
    assert experiment.exposure.rows == len(events)
    if policy == "keep":
        units = events.groupby(["user", "arm"])
    else:
        kept = events if policy == "first" else events[~events.user.isin(several)]
        first_arm = kept.sort_values("t").groupby("user").arm.first()
        units = kept.assign(arm=kept.user.map(first_arm)).groupby(["user", "arm"])
    per_user = units.agg(converted=("converted", "max"), spend=("spend", "sum"),
                         mean_spend=("spend", "mean")).reset_index()  # fmt: skip
    converted, spend, mean_spend = experiment.samples
    assert converted.type == "binary" and spend.type == "continuous"
    for label, counts in converted.arms:
        mine = per_user[per_user.arm == label]
        assert (counts.converted, counts.users) == (int(mine.converted.sum()), len(mine))
    for label, hist in spend.arms:
        expected = per_user.spend[per_user.arm == label].round(2)
        values, counts = np.unique(expected, return_counts=True)
        assert np.array_equal(hist.values, values) and np.array_equal(hist.counts, counts)
    for label, hist in mean_spend.arms:
        expected = np.sort(per_user.mean_spend[per_user.arm == label].to_numpy())
        assert np.allclose(np.repeat(hist.values, hist.counts), expected, rtol=1e-12)
    assert experiment.exposure.analysed_units == len(per_user)


def test_per_user_sums_are_rounded_back_to_the_columns_decimals():
    events = pd.DataFrame({"user": [1, 1, 1, 2, 3, 4], "arm": ["a", "a", "a", "a", "b", "b"],
                           "spend": [0.1, 0.2, 0.0, 0.3, 0.3, 0.0]})  # fmt: skip
    (spend,) = load_experiment(
        Source(frame=events), Design("arm", "a", user_col="user"), [parse_metric("spend")]
    ).samples
    assert list(spend.arms[0][1].values) == [0.3] and list(spend.arms[0][1].counts) == [2]


def test_folders_globs_and_sql(tmp_path, capsys):
    frame = _users(1200)
    folder = tmp_path / "events"
    folder.mkdir()
    for i in range(3):
        frame.iloc[i * 400 : (i + 1) * 400].to_parquet(folder / f"part-{i}.parquet")
    runs = {
        "folder": ["--data", str(folder)],
        "glob": ["--data", str(folder / "part-*.parquet")],
        "sql": ["--data", str(folder), "--sql", "SELECT * FROM data WHERE arm <> 'c'"],
        "sql-alone": ["--sql", f"SELECT * FROM read_parquet('{folder}/*.parquet') WHERE arm <> 'c'"],
    }  # fmt: skip
    out = {}
    for key, source in runs.items():
        argv = ["ab", "test", *source, "--group-col", "arm", "--control", "control",
                "--metric", "bought", "--json"]  # fmt: skip
        assert run(argv) == 0, capsys.readouterr().err
        out[key] = json.loads(capsys.readouterr().out)
    assert out["folder"] == out["glob"] and out["sql"] == out["sql-alone"]
    assert len(out["folder"]["metrics"]) == 2 and len(out["sql"]["metrics"]) == 1
    assert out["folder"]["exposure"]["rows"] == 1200


def test_cli_exposure_block_and_warning(tmp_path, capsys):
    path = tmp_path / "events.parquet"
    _events().to_parquet(path)
    argv = ["ab", "test", "--data", str(path), "--group-col", "arm", "--control", "a",
            "--user-col", "user", "--metric", "converted", "--metric", "spend", "--json",
            "--resamples", "500", "--bootstrap-resamples", "100"]  # fmt: skip
    assert run(argv) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    exposure = out["exposure"]
    assert {"rows", "users", "users_in_several_arms", "policy"} <= set(exposure)
    assert exposure["policy"] == "exclude" and exposure["users_in_several_arms"] == 8
    assert "seen in more than one arm" in captured.err  # 8 of 400 users: 2% > 1%
    assert run([*argv[:-5], "--resamples", "500"]) == 0
    assert "seen in several arms: excluded" in " ".join(capsys.readouterr().out.split())


def test_three_arms_from_a_file_with_every_other_label_a_variant(tmp_path, capsys):
    path = tmp_path / "users.csv"
    _users(900).to_csv(path, index=False)
    argv = ["ab", "test", "--data", str(path), "--group-col", "arm", "--control", "control",
            "--metric", "bought", "--ratio", "ctr=clicks/searches", "--covariate", "pre",
            "--metric", "spend", "--resamples", "300", "--bootstrap-resamples", "50", "--json"]  # fmt: skip
    assert run(argv) == 0
    out = json.loads(capsys.readouterr().out)
    pairs = [(m["name"], m["variant"]["label"]) for m in out["metrics"]]
    assert pairs == [(n, v) for n in ("bought", "spend", "ctr") for v in ("b", "c")]
    assert out["correction"]["comparisons"] == 6 and out["srm"]["labels"] == list(ARMS)
    adjusted = [m for m in out["metrics"] if m["adjustment"]]
    assert {m["name"] for m in adjusted} == {"bought", "spend"}  # the ratio is not adjusted
    assert run([*argv[:-1], "--variant", "c"]) == 0
    assert "spend (continuous): " not in capsys.readouterr().out  # one variant: plain titles


def _bad(capsys, argv, message):
    code = run(["ab", *argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_bad_inputs_of_issue_13(tmp_path, capsys):
    events = _events()
    path = tmp_path / "events.parquet"
    events.assign(user=events.user.astype("Int64").mask(events.index == 5)).to_parquet(path)
    base = ["test", "--data", str(path), "--group-col", "arm", "--control", "a"]
    _bad(capsys, [*base, "--user-col", "user", "--metric", "converted"],
         "user column 'user' has 1 missing value(s)")  # fmt: skip
    good = tmp_path / "good.parquet"
    cov = np.where(events.user % 40 == 3, np.nan, events.user % 9)
    events.assign(pre=cov, zero=0).to_parquet(good)
    base = ["test", "--data", str(good), "--group-col", "arm", "--control", "a",
            "--user-col", "user"]  # fmt: skip
    missing = int((events.user % 40 == 3).groupby(events.user).any().sum())
    _bad(capsys, [*base, "--metric", "spend", "--covariate", "pre"],
         f"covariate 'pre' is missing for {missing} of")  # fmt: skip
    _bad(capsys, [*base, "--metric", "spend", "--covariate", "pre"], "--covariate-missing zero")
    for policy in ("zero", "drop"):
        argv = ["ab", *base, "--metric", "spend", "--covariate", "pre", "--covariate-missing",
                policy, "--resamples", "200", "--json"]  # fmt: skip
        assert run(argv) == 0
        adjustment = json.loads(capsys.readouterr().out)["metrics"][0]["adjustment"]
        assert adjustment["missing"] > 0 and adjustment["missing_policy"] == policy
    zero_b = events.assign(den=np.where(events.arm == "b", 0, 1))
    zero_b.to_parquet(tmp_path / "z.parquet")
    _bad(capsys, ["test", "--data", str(tmp_path / "z.parquet"), "--group-col", "arm",
                  "--control", "a", "--ratio", "r=converted/den"],
         "denominator is zero for every user of arm 'b'")  # fmt: skip
    _bad(capsys, [*base, "--metric", "spend", "--engine", "oracle"], "unknown engine 'oracle'")
    _bad(capsys, [*base, "--metric", "spend", "--sql", "SELECT * FROM nowhere"],
         "the --sql query failed in DuckDB: Catalog Error")  # fmt: skip
    _bad(capsys, [*base, "--metric", "spend", "--multiple-exposures", "first"], "--time-col")
    _bad(capsys, [*base, "--ratio", "ctr=clicks"], "NAME=NUMERATOR/DENOMINATOR")
    _bad(capsys, [*base, "--metric", "spend:median"], "unknown aggregation 'median'")
    _bad(capsys, [*base, "--metric", "converted:sum", "--metric-type", "binary"],
         "the sum of a binary column per user is not 0/1")  # fmt: skip


def test_interleaving_and_ab_tables_name_the_right_command(tmp_path, capsys):
    queries = tmp_path / "queries.parquet"
    pd.DataFrame({"user_id": [1, 1, 2], "credit": [1.0, -1.0, 1.0]}).to_parquet(queries)
    _bad(capsys, ["test", "--data", str(queries), "--group-col", "arm", "--control", "a",
                  "--metric", "credit"], "searchlab ab interleave --data")  # fmt: skip
    users = tmp_path / "users.parquet"
    _users(50).to_parquet(users)
    _bad(capsys, ["interleave", "--data", str(users)], "searchlab ab test --data")


def test_decimal_columns_are_summed_exactly(tmp_path):
    from decimal import Decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    events = _events()
    cents = [Decimal(f"{v:.2f}") for v in events.spend]
    table = pa.table({"user": events.user, "arm": events.arm,
                      "spend": pa.array(cents, type=pa.decimal128(12, 2))})  # fmt: skip
    pq.write_table(table, tmp_path / "d.parquet")
    design = Design("arm", "a", user_col="user")
    as_decimal = load_experiment(
        Source(paths=(str(tmp_path / "d.parquet"),)), design, [parse_metric("spend")]
    )
    as_float = load_experiment(Source(frame=events), design, [parse_metric("spend")])
    for (_, a), (_, b) in zip(as_decimal.samples[0].arms, as_float.samples[0].arms, strict=True):
        assert np.array_equal(a.values, b.values) and np.array_equal(a.counts, b.counts)
