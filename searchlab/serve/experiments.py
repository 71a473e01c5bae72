r"""The experiments file of ``searchlab serve``: which users see which ranker.

A TOML file (``--experiment EXPERIMENTS.toml``)::

    layer = "search-ranking"     # optional: salt of the layer hash (default "searchlab-layer")

    [[experiment]]
    id = "listnet-vs-bm25"       # letters, digits, . _ -; at most 100 characters; unique
    type = "ab"                  # the experiment type (see below)
    salt = "2026-11"             # the assignment hash's salt; unique per experiment
    control = "bm25"             # a --ranker name
    variant = "listnet"          # another --ranker name
    traffic = 1.0                # share of the experiment's users who enter it (0, 1]
    variant_share = 0.5          # share of those who see the variant (0, 1)
    slice = [0.0, 1.0]           # the part of the layer this experiment owns (default: all)
    description = "..."          # optional, shown by /api/experiments

    [[experiment]]
    id = "listnet-vs-bm25-tdi"
    type = "interleave"          # every user in it sees one list merged from both rankers
    method = "team-draft"        # or "probabilistic" (default "team-draft")
    tau = 3.0                    # probabilistic only: the softmax exponent (default 3)
    salt = "2026-11-tdi"         # keys the coin flips, with each search's query id
    control = "bm25"             # the control's team
    variant = "listnet"          # the variant's team
    traffic = 1.0                # share of the experiment's users who enter it (0, 1]
    slice = [0.5, 1.0]           # as above (this layer's two experiments own halves)

Every key is checked: an unknown key, a missing one, a wrong type or value is an error that
names the key and the experiment.

**Assignment** (the functions of :mod:`searchlab.serve.assignment`): each user has a position
``p`` on the layer (a uniform from the hash of the user id and the layer's salt) and a uniform
``h`` per experiment (the hash under the experiment's salt). A user is a candidate for the one
experiment whose slice ``[start, end)`` holds ``p``, and is in its variant when ``h <
variant_share·traffic``, in its control when ``variant_share <= h < variant_share + (1 -
variant_share)·traffic``, and otherwise outside it. Users outside every experiment get the
first ``--ranker``. Experiments of one layer must own disjoint slices (GrowthBook's namespaces,
Statsig's and Eppo's layers), so no user is in two of them: every experiment here chooses the
ranker, so they all live in the one layer. With one experiment owning the whole layer and
``traffic = 1``, the arms are exactly those of ``searchlab simulate`` for the same user ids
and salt.

**Types**: ``ab`` (each user sees one arm's ranker) and ``interleave``: a user in the
experiment (``h < traffic``, arm ``"interleaved"``) sees one list merged from both rankers'
top ``k`` by :func:`searchlab.serve.interleaving.interleave` (``method`` team-draft or
probabilistic), each result in the team (``control``/``variant``) that placed it. The coins
come from the shared hash of (the search's query id, the experiment's salt), so every logged
list is rebuilt from the log (:func:`searchlab.serve.interleaving.rebuild_from_log`).
``variant_share`` does not apply to an interleaving experiment, nor ``method``/``tau`` to an
A/B one (either is refused, naming the key). An experiment compares two different rankers: a
service with fewer than two ``--ranker``\ s, or an experiment whose control is its variant, is
refused.

Once an experiment has logged to an event log, its definition is fixed there: the service
refuses to start with another salt, arm, split or slice under the same id (users would change
arms mid-experiment); only ``traffic`` and ``description`` may change.
"""

from __future__ import annotations

import itertools
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from searchlab.errors import DataFormatError, InputError
from searchlab.serve.assignment import (
    CONTROL_ARM,
    OUTSIDE,
    VARIANT_ARM,
    arm_of,
    assign_arms,
    check_share,
    hash_unit,
    unit_of,
)
from searchlab.serve.interleaving import DEFAULT_TAU, METHODS

EXPERIMENT_TYPES = ("ab", "interleave")
DEFAULT_LAYER = "searchlab-layer"
INTERLEAVED_ARM = 2  # the code of every user inside an interleaving experiment
INTERLEAVED = "interleaved"
ARM_NAMES = {CONTROL_ARM: "control", VARIANT_ARM: "variant", INTERLEAVED_ARM: INTERLEAVED}
_ID = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_KEYS = {
    "id",
    "type",
    "salt",
    "control",
    "variant",
    "traffic",
    "variant_share",
    "slice",
    "description",
    "method",
    "tau",
}
_AB_ONLY = ("variant_share",)
_INTERLEAVE_ONLY = ("method", "tau")
_REQUIRED = ("id", "type", "salt", "control", "variant")
# the parts of a definition that decide who is in which arm: fixed once logged
ASSIGNMENT_KEYS = (
    "type",
    "salt",
    "control",
    "variant",
    "variant_share",
    "slice",
    "layer",
    "method",
    "tau",
)


@dataclass(frozen=True)
class Experiment:
    id: str
    type: str
    salt: str
    control: str
    variant: str
    traffic: float = 1.0
    variant_share: float = 0.5
    slice: tuple[float, float] = (0.0, 1.0)
    description: str = ""
    layer: str = DEFAULT_LAYER
    method: str | None = None  # interleave: "team-draft" or "probabilistic"
    tau: float | None = None  # interleave, probabilistic: the softmax exponent

    @property
    def interleaved(self) -> bool:
        return self.type == "interleave"

    def ranker(self, arm: str) -> str:
        """The ranker that serves ``arm`` (an interleaving experiment's ``"control+variant"``)."""
        if arm == INTERLEAVED:
            return f"{self.control}+{self.variant}"
        return self.control if arm == "control" else self.variant

    def arm_code(self, unit: float) -> int:
        """The arm of a user whose uniform under this experiment's salt is ``unit``."""
        if self.interleaved:
            return INTERLEAVED_ARM if unit < self.traffic else OUTSIDE
        return arm_of(unit, self.variant_share, self.traffic)

    def definition(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "salt": self.salt,
            "control": self.control,
            "variant": self.variant,
            "traffic": self.traffic,
            "variant_share": self.variant_share,
            "slice": list(self.slice),
            "layer": self.layer,
            "description": self.description,
        } | ({"method": self.method, "tau": self.tau} if self.interleaved else {})


@dataclass(frozen=True)
class Assignment:
    """Where one user is: an experiment and arm (both None outside every experiment) and the
    ranker that serves them."""

    experiment: str | None
    arm: str | None
    ranker: str


@dataclass(frozen=True)
class ExperimentPlan:
    """All experiments of a service, the layer they share and the default ranker."""

    default_ranker: str
    experiments: tuple[Experiment, ...] = ()
    layer: str = DEFAULT_LAYER
    source: str = ""
    _cache: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_cache", lru_cache(maxsize=65_536)(self._assign))

    def get(self, experiment_id: str) -> Experiment | None:
        return next((e for e in self.experiments if e.id == experiment_id), None)

    def assign(self, user_id: str) -> Assignment:
        """The user's experiment, arm and ranker (cached per user: a pure function of the id)."""
        return self._cache(user_id)

    def _assign(self, user_id: str) -> Assignment:
        """One user by the rule of :meth:`assign_many`, in Python scalars (tested equal)."""
        whole = len(self.experiments) == 1 and self.experiments[0].slice == (0.0, 1.0)
        position = 0.0 if whole or not self.experiments else unit_of(user_id, self.layer)
        for experiment in self.experiments:
            start, end = experiment.slice
            if start <= position < end:
                code = experiment.arm_code(unit_of(user_id, experiment.salt))
                if code != OUTSIDE:
                    name = ARM_NAMES[code]
                    return Assignment(experiment.id, name, experiment.ranker(name))
                break
        return Assignment(None, None, self.default_ranker)

    def assign_many(self, user_ids: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        """(experiment index or -1, arm code) per user, vectorised: the one rule of the module
        docstring (``assign`` calls it too)."""
        n = len(user_ids)
        which = np.full(n, -1, dtype=np.int64)
        arms = np.full(n, OUTSIDE, dtype=np.int8)
        if not self.experiments or n == 0:
            return which, arms
        whole = len(self.experiments) == 1 and self.experiments[0].slice == (0.0, 1.0)
        position = None if whole else hash_unit(user_ids, self.layer)
        for i, experiment in enumerate(self.experiments):
            start, end = experiment.slice
            members = (
                np.ones(n, dtype=bool)
                if position is None
                else (position >= start) & (position < end)
            )
            if not members.any():
                continue
            ids = (
                [user_ids[j] for j in np.flatnonzero(members)] if position is not None else user_ids
            )
            if experiment.interleaved:
                inside_share = hash_unit(ids, experiment.salt) < experiment.traffic
                arm = np.where(inside_share, INTERLEAVED_ARM, OUTSIDE).astype(np.int8)
            else:
                arm = assign_arms(
                    ids, experiment.salt, experiment.variant_share, experiment.traffic
                )
            inside = np.flatnonzero(members)[arm != OUTSIDE]
            which[inside] = i
            arms[inside] = arm[arm != OUTSIDE]
        return which, arms

    def describe(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "default_ranker": self.default_ranker,
            "source": self.source,
            "experiments": [e.definition() for e in self.experiments],
        }


def no_experiments(default_ranker: str) -> ExperimentPlan:
    return ExperimentPlan(default_ranker)


def load_experiments(path: str | Path, rankers: Sequence[str]) -> ExperimentPlan:
    """Read and check an experiments file against the service's ranker names (the first is
    the default for users outside every experiment)."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"experiments file {p} does not exist", hint="check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read experiments file {p}: {exc}", hint="check it") from None
    except tomllib.TOMLDecodeError as exc:
        raise DataFormatError(f"not valid TOML ({exc})", path=str(p), hint="fix the file") from None
    return parse_experiments(data, rankers, source=str(p))


def parse_experiments(
    data: dict[str, Any], rankers: Sequence[str], *, source: str = "experiments"
) -> ExperimentPlan:
    if not rankers:
        raise InputError("the service has no ranker", hint="pass --ranker bm25")
    unknown = sorted(set(data) - {"layer", "experiment"})
    if unknown:
        raise DataFormatError(
            f"unknown top-level key {unknown[0]!r}",
            path=source,
            hint='the file holds layer = "..." and [[experiment]] tables',
        )
    layer = data.get("layer", DEFAULT_LAYER)
    if not isinstance(layer, str) or not layer:
        raise DataFormatError("layer must be a non-empty string", path=source, hint='layer = "x"')
    tables = data.get("experiment", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise DataFormatError(
            "experiments are [[experiment]] tables", path=source, hint="see docs/readme-serve.md"
        )
    if tables and len(set(rankers)) < 2:
        raise InputError(
            f"{source}: an experiment compares two rankers, but the service has only one "
            f"--ranker ({rankers[0]})",
            hint="add the other, e.g. --ranker bm25 --ranker listnet=MODEL_DIR",
        )
    experiments = tuple(_experiment(t, i, rankers, layer, source) for i, t in enumerate(tables))
    for what in ("id", "salt"):
        values = [getattr(e, what) for e in experiments]
        repeated = next((v for v in values if values.count(v) > 1), None)
        if repeated is not None:
            raise DataFormatError(
                f"two experiments share the {what} {repeated!r}",
                path=source,
                hint=f"give each experiment its own {what}",
            )
    ordered = sorted(experiments, key=lambda e: e.slice)
    for a, b in itertools.pairwise(ordered):
        if b.slice[0] < a.slice[1]:
            raise DataFormatError(
                f"experiments {a.id!r} and {b.id!r} overlap on the layer "
                f"({list(a.slice)} and {list(b.slice)})",
                path=source,
                hint="give experiments disjoint slices, e.g. [0.0, 0.5] and [0.5, 1.0]",
            )
    return ExperimentPlan(str(rankers[0]), experiments, layer, source)


def _experiment(
    table: dict[str, Any], i: int, rankers: Sequence[str], layer: str, source: str
) -> Experiment:
    name = str(table.get("id", f"#{i + 1}"))

    def bad(message: str, hint: str) -> DataFormatError:
        return DataFormatError(f"experiment {name!r}: {message}", path=source, hint=hint)

    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise bad(f"unknown key {unknown[0]!r}", "keys: " + ", ".join(sorted(_KEYS)))
    missing = [k for k in _REQUIRED if k not in table]
    if missing:
        raise bad(f"missing key {missing[0]!r}", "every experiment needs " + ", ".join(_REQUIRED))
    for key in ("id", "type", "salt", "control", "variant", "description"):
        if key in table and not isinstance(table[key], str):
            raise bad(f"{key} must be a string", f'e.g. {key} = "..."')
    if not _ID.match(table["id"]):
        raise bad(
            "ids use letters, digits, '.', '_' and '-' (at most 100)", 'e.g. "ranker-2026-11"'
        )
    if table["type"] not in EXPERIMENT_TYPES:
        raise bad(
            f"type {table['type']!r} is not supported", "supported: " + ", ".join(EXPERIMENT_TYPES)
        )
    if not table["salt"]:
        raise bad("salt must not be empty", 'e.g. salt = "2026-11"')
    for arm in ("control", "variant"):
        if table[arm] not in rankers:
            raise bad(
                f"{arm} {table[arm]!r} is not a --ranker of the service",
                "rankers: " + ", ".join(rankers),
            )
    if table["control"] == table["variant"]:
        raise bad(
            f"control and variant are the same ranker ({table['control']})",
            "an experiment compares two different rankers: name another --ranker as variant",
        )
    interleaved = table["type"] == "interleave"
    misplaced = [k for k in (_AB_ONLY if interleaved else _INTERLEAVE_ONLY) if k in table]
    if misplaced:
        raise bad(
            f"{misplaced[0]} does not apply to a type = {table['type']!r} experiment",
            "every user of an interleaving experiment sees both rankers"
            if interleaved
            else 'method and tau belong to type = "interleave"',
        )
    method = tau = None
    if interleaved:
        method = table.get("method", "team-draft")
        if method not in METHODS:
            raise bad(f"method {method!r} is not supported", "methods: " + ", ".join(METHODS))
        if "tau" in table and method != "probabilistic":
            raise bad("tau applies to method = 'probabilistic' only", "remove tau")
        if method == "probabilistic":
            tau = table.get("tau", DEFAULT_TAU)
            if isinstance(tau, bool) or not isinstance(tau, int | float) or not 0 < tau < 100:
                raise bad("tau must be a number in (0, 100)", f"e.g. tau = {DEFAULT_TAU}")
            tau = float(tau)
    numbers = {}
    for key, default in (("traffic", 1.0), ("variant_share", 0.5)):
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad(f"{key} must be a number", f"e.g. {key} = {default}")
        numbers[key] = float(value)
    try:
        check_share(numbers["variant_share"], numbers["traffic"])
    except InputError as exc:
        raise bad(exc.message, exc.hint or "") from None
    raw_slice = table.get("slice", [0.0, 1.0])
    if (
        not isinstance(raw_slice, list)
        or len(raw_slice) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in raw_slice)
        or not 0.0 <= raw_slice[0] < raw_slice[1] <= 1.0
    ):
        raise bad("slice must be [start, end] with 0 <= start < end <= 1", "e.g. [0.0, 0.5]")
    return Experiment(
        id=table["id"],
        type=table["type"],
        salt=table["salt"],
        control=table["control"],
        variant=table["variant"],
        traffic=numbers["traffic"],
        variant_share=numbers["variant_share"],
        slice=(float(raw_slice[0]), float(raw_slice[1])),
        description=table.get("description", ""),
        layer=layer,
        method=method,
        tau=tau,
    )
