"""The experiments file: every key checked, disjoint slices of one layer, traffic, and the
assignment rule shared with the offline simulation."""

from __future__ import annotations

import numpy as np
import pytest

from searchlab.errors import InputError
from searchlab.loop.simulate import assign_variant
from searchlab.serve.assignment import hash_unit
from searchlab.serve.experiments import Assignment, load_experiments, parse_experiments

RANKERS = ["bm25", "listnet", "lambdamart"]


def experiment(**changes):
    base = {"id": "e1", "type": "ab", "salt": "s1", "control": "bm25", "variant": "listnet"}
    return {**base, **changes}


def test_interleaving_experiments_take_every_user_in_their_traffic_share():
    plan = parse_experiments(
        {
            "experiment": [
                experiment(type="interleave", traffic=0.4, slice=[0.0, 0.5]),
                experiment(
                    id="e2",
                    salt="s2",
                    type="interleave",
                    method="probabilistic",
                    tau=2.0,
                    slice=[0.5, 1.0],
                ),
            ]
        },
        RANKERS,
    )
    assert plan.experiments[0].method == "team-draft" and plan.experiments[0].tau is None
    assert plan.experiments[1].definition()["tau"] == 2.0
    ids = [str(u) for u in range(1, 4_001)]
    which, arms = plan.assign_many(ids)
    assert set(arms[which >= 0].tolist()) == {2}  # INTERLEAVED_ARM
    for user, w in zip(ids, which, strict=True):
        got = plan.assign(user)
        if w < 0:
            assert got == Assignment(None, None, "bm25")
        else:
            assert got == Assignment(plan.experiments[w].id, "interleaved", "bm25+listnet")
    first = which == 0
    # all of the second half's users, 40% of the first half's
    assert abs(first.sum() / 2_000 - 0.4) < 0.05 and abs((which == 1).sum() / 2_000 - 1) < 0.05


def test_one_experiment_over_the_whole_layer_assigns_as_the_offline_simulation():
    plan = parse_experiments({"experiment": [experiment(variant_share=0.3)]}, RANKERS)
    ids = np.arange(1, 20_001)
    which, arms = plan.assign_many(list(ids))
    assert (which == 0).all()
    assert np.array_equal(arms == 1, assign_variant(ids, "s1", 0.3))
    for user in ("1", "17", "alice"):
        got = plan.assign(user)
        expected = "variant" if assign_variant([user], "s1", 0.3)[0] else "control"
        assert (got.experiment, got.arm) == ("e1", expected)
        assert got.ranker == ("listnet" if expected == "variant" else "bm25")


def test_experiments_share_a_layer_on_disjoint_slices_with_their_own_traffic():
    data = {
        "layer": "ranking-2026",
        "experiment": [
            experiment(id="a", salt="sa", slice=[0.0, 0.25]),
            experiment(id="b", salt="sb", variant="lambdamart", slice=[0.25, 0.75], traffic=0.4),
        ],
    }
    plan = parse_experiments(data, RANKERS)
    ids = [str(i) for i in range(40_000)]
    which, arms = plan.assign_many(ids)
    position = hash_unit(ids, "ranking-2026")
    assert np.array_equal(which == 0, position < 0.25)  # a: its slice, all its traffic
    in_b = (position >= 0.25) & (position < 0.75)
    assert (which[~in_b & (position >= 0.25)] == -1).all()  # the free slice: no experiment
    assert abs((which[in_b] == 1).mean() - 0.4) < 0.015  # b: 40% of its slice
    assert abs((arms[which == 1] == 1).mean() - 0.5) < 0.02
    for user in ids[:300]:  # the scalar path agrees with the vectorised one
        i = int(user)
        got = plan.assign(user)
        if which[i] < 0:
            assert (got.experiment, got.arm, got.ranker) == (None, None, "bm25")
        else:
            assert got.experiment == ("a", "b")[which[i]]
            assert got.arm == ("control", "variant")[arms[i]]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"experiment": [experiment(colour="red")]}, "unknown key 'colour'"),
        ({"experiment": [{"id": "x", "type": "ab"}]}, "missing key 'salt'"),
        ({"experiment": [experiment(type="balanced")]}, "type 'balanced' is not supported"),
        (
            {"experiment": [experiment(type="interleave", variant_share=0.5)]},
            "variant_share does not apply",
        ),
        ({"experiment": [experiment(method="team-draft")]}, "method does not apply"),
        (
            {"experiment": [experiment(type="interleave", tau=2.0)]},
            "tau applies to method = 'probabilistic' only",
        ),
        ({"experiment": [experiment(variant="magic")]}, "variant 'magic' is not a --ranker"),
        ({"experiment": [experiment(variant="bm25")]}, "control and variant are the same"),
        ({"experiment": [experiment(variant_share=1.0)]}, "strictly between 0 and 1"),
        ({"experiment": [experiment(traffic=0)]}, "traffic must lie in (0, 1]"),
        ({"experiment": [experiment(traffic="all")]}, "traffic must be a number"),
        ({"experiment": [experiment(slice=[0.5, 0.2])]}, "slice must be [start, end]"),
        ({"experiment": [experiment(id="a b")]}, "ids use letters"),
        ({"experiment": [experiment(salt="")]}, "salt must not be empty"),
        ({"experiment": [experiment(), experiment(salt="s2")]}, "share the id 'e1'"),
        ({"experiment": [experiment(), experiment(id="e2")]}, "share the salt 's1'"),
        (
            {
                "experiment": [
                    experiment(slice=[0.0, 0.6]),
                    experiment(id="e2", salt="s2", slice=[0.5, 1.0]),
                ]
            },
            "overlap on the layer",
        ),
        ({"experiments": []}, "unknown top-level key 'experiments'"),
        ({"layer": 3}, "layer must be a non-empty string"),
    ],
)
def test_bad_experiment_files_are_refused_naming_the_key(data, fragment):
    with pytest.raises(InputError) as caught:
        parse_experiments(data, RANKERS, source="x.toml")
    assert fragment in str(caught.value) and "x.toml" in str(caught.value)


def test_files_are_read_as_toml(tmp_path):
    path = tmp_path / "experiments.toml"
    path.write_text(
        '[[experiment]]\nid = "e"\ntype = "ab"\nsalt = "s"\ncontrol = "bm25"\nvariant = "listnet"\n'
    )
    plan = load_experiments(path, RANKERS)
    assert plan.experiments[0].definition()["slice"] == [0.0, 1.0]
    path.write_text("[[experiment]\n")
    with pytest.raises(InputError, match="not valid TOML"):
        load_experiments(path, RANKERS)
    with pytest.raises(InputError, match="does not exist"):
        load_experiments(tmp_path / "none.toml", RANKERS)
