"""``searchlab demo --quick`` end to end: the report's numbers are the stages' numbers."""

from __future__ import annotations

import copy
import html
import json
from types import SimpleNamespace

import pandas as pd
import pytest

from searchlab.ab import ab_test, power_plan
from searchlab.cli import run
from searchlab.errors import InputError
from searchlab.loop._bundled import bundled_cranfield
from searchlab.loop.analysis import power_check
from searchlab.loop.demo import DEFAULT_USERS
from searchlab.loop.report import conclusions, format_value, lookup, report_numbers

STAGE_FILES = ("crawl", "corpus", "offline", "simulation", "ab", "power", "live")


@pytest.fixture(scope="module")
def outputs(quick_demo):
    summary = json.loads((quick_demo / "summary.json").read_text())
    page = (quick_demo / "index.html").read_text()
    stages = {n: json.loads((quick_demo / "stages" / f"{n}.json").read_text()) for n in STAGE_FILES}
    return summary, page, stages


def test_every_number_on_the_page_is_the_summarys(outputs):
    summary, page, _ = outputs
    numbers = report_numbers(page)
    keys = {key for key, *_ in numbers}
    for needed in (
        "offline/metrics/bm25/ndcg@10",
        "offline/metrics/listnet/map",
        "offline/pvalue",
        "ab/control/rate",
        "ab/variant/conversions",
        "ab/pvalues/exact-permutation",
        "ab/pvalues/score",
        "ab/ci/low",
        "ab/srm/pvalue",
        "power/needed_users_per_group",
    ):
        assert needed in keys
    for key, kind, raw, shown in numbers:
        assert json.loads(raw) == lookup(summary, key), key
        assert shown == format_value(lookup(summary, key), kind), key
    for line in summary["conclusions"]:
        assert html.escape(line) in page
    assert summary["conclusions"] == conclusions(summary)


def test_summary_holds_what_the_stages_wrote(outputs, quick_demo):
    summary, _, stages = outputs
    for name in ("offline", "ab", "power", "corpus", "live"):
        assert summary[name] == stages[name], name
    assert summary["simulation"] == stages["simulation"]
    assert summary["crawl"] == stages["crawl"]
    assert [s["name"] for s in summary["stages"]] == [
        "site",
        "crawl",
        "import",
        "offline",
        "simulate",
        "ab",
        "live",
    ]
    assert (quick_demo / "null-distribution.png").stat().st_size > 1000


def test_the_crawl_recovers_the_whole_collection(outputs):
    summary, _, stages = outputs
    reference = bundled_cranfield()
    assert stages["crawl"]["done"] == 1400 and stages["crawl"]["failed"] == 0
    assert stages["corpus"]["documents"] == len(reference.documents)
    assert stages["corpus"]["judgments"] == reference.judgment_count
    assert summary["offline"]["queries"] == len(reference.queries)


def test_ab_numbers_recomputed_from_the_user_table(outputs, quick_demo):
    summary, _, _ = outputs
    users = pd.read_parquet(quick_demo / "users.parquet")
    assert len(users) == summary["settings"]["users"]
    arms = {
        arm: users[users["arm"] == arm]["converted"].to_numpy() for arm in ("control", "variant")
    }
    for arm, values in arms.items():
        assert summary["ab"][arm]["users"] == len(values)
        assert summary["ab"][arm]["conversions"] == int(values.sum())
    again = ab_test(arms["control"], arms["variant"], name="converted", metric_type="binary")
    metric = again.metric("converted")
    assert summary["ab"]["pvalues"]["exact-permutation"] == metric.test("exact-permutation").pvalue
    assert summary["ab"]["difference"] == metric.difference


def test_power_check_matches_the_power_calculator(outputs):
    summary, _, _ = outputs
    power = summary["power"]
    sim = summary["simulation"]
    assert power["implied_difference"] == pytest.approx(
        sim["variant"]["expected_conversion_rate"] - sim["control"]["expected_conversion_rate"]
    )
    if power["implied_difference"] > 0:
        plan = power_plan(baseline=power["baseline"], mde=power["implied_difference"])
        assert power["needed_users_per_group"] == plan.users_per_group
        assert power["adequate"] == (plan.users_per_group <= power["users_per_group"])
    text = " ".join(summary["conclusions"])
    assert ("adequately powered" in text) == power["adequate"]
    if not power["adequate"] and power["needed_users_per_group"] is not None:
        assert "underpowered" in text and f"{power['needed_users_per_group']:,}" in text


def test_power_check_at_the_default_users_detects_the_gap_or_says_how_many_are_needed(outputs):
    """At 200,000 users the A/B detects the gap the offline rankings imply, or the report says
    plainly that it is underpowered and how many users it would need."""
    summary, _, _ = outputs
    sim = summary["simulation"]
    simulation = SimpleNamespace(
        control=SimpleNamespace(
            expected_conversion_rate=sim["control"]["expected_conversion_rate"]
        ),
        expected_difference=sim["expected_difference"],
    )
    power = power_check(
        simulation, users_per_group=DEFAULT_USERS // 2, alpha=0.05, target_power=0.8
    )
    at_default = copy.deepcopy(summary)
    at_default["power"] = power
    line = conclusions(at_default)[3]  # the power check (the live stage follows)
    if power["adequate"]:
        assert power["mde_at_users"] <= power["implied_difference"]
        assert "adequately powered" in line
    elif power["needed_users_per_group"] is not None:
        assert power["needed_users_per_group"] > DEFAULT_USERS // 2
        assert (
            "underpowered" in line and f"{power['needed_users_per_group']:,} users per arm" in line
        )
    else:
        assert "no improvement to detect" in line


def test_underpowered_report_says_how_many_users_are_needed(outputs):
    summary, _, _ = outputs
    small = copy.deepcopy(summary)
    small["power"].update(users_per_group=500, needed_users_per_group=123_456, adequate=False)
    small["power"]["implied_difference"] = 0.004
    line = conclusions(small)[3]
    assert "underpowered" in line and "123,456 users per arm" in line and "--users 246912" in line


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--users", "1"], "at least 2 users"),
        (["--users", "-5"], "at least 2 users"),
        (["--seed", "-1"], "seed must be a non-negative"),
        (["--folds", "1"], "at least 2 folds"),
        (["--live-users", "5"], "0 (no live stage) or at least 100"),
        (["--out", "{tmp}/occupied"], "already holds files that are not a searchlab demo"),
        (["--out", "{tmp}/file"], "exists and is not a folder"),
        (["--out", "{tmp}/file/report"], "it is a file, not a folder"),
    ],
)
def test_demo_refuses_bad_input_and_writes_nothing(tmp_path, refused, args, fragment):
    (tmp_path / "occupied" / "work").mkdir(parents=True)
    (tmp_path / "file").write_text("x")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    argv = ["demo", "--quick", "--out", str(tmp_path / "report")]
    refused(argv + [a.format(tmp=tmp_path) for a in args], fragment)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_a_failing_demo_leaves_the_previous_report_and_no_partial_folder(
    quick_demo, tmp_path, monkeypatch, capsys
):
    import shutil

    out = tmp_path / "report"
    shutil.copytree(quick_demo, out)
    before = (out / "summary.json").read_bytes()

    def broken(*args, **kwargs):
        raise InputError("simulated failure after the crawl", hint="none")

    monkeypatch.setattr("searchlab.loop.demo._import_stage", broken)
    assert run(["demo", "--quick", "--out", str(out)]) == 2  # the stages so far were shown
    assert "simulated failure" in capsys.readouterr().err
    assert (out / "summary.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_the_report_names_each_folds_feature_groups_and_how_they_were_fixed(outputs):
    summary, page, stages = outputs
    groups = summary["offline"]["feature_groups"]
    assert len(groups) == summary["offline"]["folds"] == 5
    assert all(g == ["bm25", "lexical", "feedback", "semantic", "vectors"] for g in groups)
    how = summary["offline"]["settings"]["feature_groups"]
    assert how.startswith("fixed beforehand, not chosen from the data")
    assert html.escape(how) in page
    shown = page[page.index('<p id="feature-groups">') :].split("</p>")[0]
    for i, g in enumerate(groups, start=1):
        assert f"fold {i}: {'+'.join(g)}" in shown
    assert stages["offline"]["feature_groups"] == groups


def test_the_live_stage_is_read_back_from_its_event_log(outputs, quick_demo):
    """The live numbers are the log's: users per arm, the interleaving table, and the
    stopping points recomputed from it by the stated rule."""
    import sqlite3

    import numpy as np

    from searchlab.ab.interleave import sign_test
    from searchlab.loop.live import interleaving_stopping, user_preferences_in_order
    from searchlab.serve.analysis import interleave_frame

    summary, page, _ = outputs
    live = summary["live"]
    log = quick_demo / "work" / "live-events.db"
    conn = sqlite3.connect(log)
    exposed = dict(
        conn.execute(
            "SELECT arm, count(*) FROM exposures WHERE experiment_id = 'live-ab' GROUP BY arm"
        ).fetchall()
    )
    conn.close()
    for arm in ("control", "variant"):
        assert exposed[arm] == live["ab"]["arms"][arm]["users"]
    assert live["ab"]["assignment_mismatches"] == live["interleave"]["assignment_mismatches"] == 0
    frame = interleave_frame(log, "live-interleave")
    assert len(frame) == live["interleave"]["searches"]
    preference = user_preferences_in_order(frame)
    assert preference.size == live["interleave"]["users"]
    sign, always = interleaving_stopping(preference, looks=live["looks"], alpha=0.05)
    assert live["interleave"]["stopping"] == {**sign.__dict__}
    assert live["interleave"]["stopping_always_valid"] == {**always.__dict__}
    wins, losses = int((preference > 0).sum()), int((preference < 0).sum())
    assert sign.final_pvalue == sign_test(wins, losses)[0]
    assert wins == live["interleave"]["summary"]["users_preferring_variant"]
    assert np.isclose(sign.level, 0.05 / live["looks"])
    assert "Stopping rule:" in page and summary["conclusions"][-1].startswith("Live over HTTP")
