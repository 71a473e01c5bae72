"""The live dashboard of ``searchlab serve``: ``GET /dashboard`` (a page) and ``GET
/api/dashboard`` (the same numbers as JSON).

For every experiment the service runs, as the event log stands now:

- **users per arm** and the **sample-ratio check**: Lindon & Malek's anytime-valid
  Dirichlet–multinomial test (:func:`searchlab.ab.sequential.sequential_srm`) over the
  cumulative arm sizes at every look, so watching it continuously stays valid;
- **each metric per arm** (``converted``, ``clicks``, ``searches``; the built-ins of
  :mod:`searchlab.serve.analysis`): both arms' means, the difference with its confidence
  sequence and always-valid p-value, and the Holm-adjusted p-value over the metrics, exactly
  what ``searchlab ab test --events LOG --experiment ID --sequential`` prints
  (:func:`searchlab.ab.sequential.sequential_analyze`: the asymptotic confidence sequence of
  Waudby-Smith et al. on the normal mixture of Howard et al., tuned at N* = 5,000 users);
- **a plot over time**: the estimate and its confidence sequence at up to ``looks`` (default
  50) cumulative looks, evenly spaced in event time from the first exposure to the latest
  activity. Look *j* holds the users exposed by its time and only their activity up to it
  (:func:`searchlab.serve.analysis.experiment_series`). The sequence is
  intersected and the p-value's minimum kept over the looks, which stays valid because the
  sequence holds at every time at once.

An **interleaving experiment** (``type = "interleave"``) gets, from
:func:`searchlab.serve.analysis.interleave_frame` and
:func:`searchlab.ab.interleave.interleaving_test`: users preferring each ranker (more clicks on
its team's results) or tied, searches won, the exact sign test, the bootstrap interval and the
confidence sequence of the preference share, and that sequence over cumulative looks (a look
holds the searches made by its time, each with its clicks). No sample-ratio check applies:
every user sees both rankers.

The page is rendered here, on the server (tables and inline SVG plots; no network assets), and
its script (:data:`SCRIPT`, ``/static/dashboard.js``) polls ``/api/dashboard`` every
:data:`REFRESH_SECONDS` seconds and swaps in a freshly rendered page when the data's
``version`` changed. The service computes a dashboard in its thread pool, never on the event
loop, through read-only connections to the WAL log, and keeps it for :data:`CACHE_SECONDS`, so
any number of open pages costs one computation per interval (:class:`LiveDashboard`).

Written by hand: the SVG plots are a few lines of geometry, which keeps the page free of
plotting libraries and of any asset from elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from html import escape
from typing import Any

import numpy as np

from searchlab._json import to_jsonable
from searchlab.ab.interleave import (
    SIGN_TEST,
    InterleavingAnalysis,
    interleaving_test,
    query_credit,
    share_sequence,
    user_preferences,
)
from searchlab.ab.sequential import (
    CS_METHOD,
    DEFAULT_TUNING_SIZE,
    SequentialAnalysis,
    SequentialSRMCheck,
    method_note,
    running,
    sequential_analyze,
    sequential_srm,
)
from searchlab.errors import InputError, RequestError
from searchlab.serve.analysis import (
    ARMS,
    experiment_series,
    experiment_span,
    interleave_frame,
    log_changes,
    search_times,
)

DASHBOARD_METRICS = ("converted", "clicks", "searches")
MAX_LOOKS = 50
LOOKS_LIMIT = 200
REFRESH_SECONDS = 5
CACHE_SECONDS = 2.0
PAGE_WAIT_SECONDS = 3.0  # longer, and /dashboard answers a page that fills in by itself
ALPHA = 0.05
_PARAMS = {"experiment", "looks"}
# the values a difference can take: of two rates; of a share and 1/2 (the preference path)
DIFFERENCE_RANGE = {"binary": (-1.0, 1.0), "share": (-0.5, 0.5)}


@dataclass(frozen=True)
class MetricPath:
    """One metric's estimate (variant - control) and confidence sequence at each look."""

    name: str
    type: str
    ts_ms: tuple[int, ...]  # event time of each look
    users: tuple[int, ...]  # users exposed by then, both arms
    estimate: tuple[float, ...]
    ci_low: tuple[float, ...]  # running intersection over the looks
    ci_high: tuple[float, ...]
    pvalue: tuple[float, ...]  # running minimum


@dataclass(frozen=True)
class ExperimentPanel:
    """One experiment's part of the dashboard; ``status`` says why parts are missing."""

    experiment: str
    type: str
    control_ranker: str
    variant_ranker: str
    planned_variant_share: float | None  # None for interleaving
    users: dict[str, int]  # A/B: per arm; interleaving: users preferring each side, or tied
    first_ms: int | None
    last_ms: int | None
    srm: SequentialSRMCheck | None  # None for interleaving: every user sees both rankers
    analysis: SequentialAnalysis | InterleavingAnalysis | None
    paths: tuple[MetricPath, ...]
    status: str

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: to_jsonable(getattr(self, f.name)) for f in fields(self)}
        if self.analysis is not None:
            out["analysis"] = self.analysis.to_dict()
            out["analysis"].pop("per_topic", None)  # a row per query text, on every refresh
        return out


@dataclass(frozen=True)
class Dashboard:
    generated_ms: int
    method: str
    method_note: str
    alpha: float
    tuning_size: float
    looks: int
    panels: tuple[ExperimentPanel, ...]
    version: str  # changes when any number on the page changes

    def to_dict(self) -> dict[str, Any]:
        out = to_jsonable(self)
        out["panels"] = [p.to_dict() for p in self.panels]
        out["refresh_seconds"] = REFRESH_SECONDS
        return out


# ----------------------------------------------------------------------------- the numbers


def look_times(first_ms: int, last_ms: int, looks: int = MAX_LOOKS) -> list[int]:
    """At most ``looks`` event times: every Δ ms after ``first_ms`` and once at ``last_ms``,
    with Δ the smallest power of two that fits. The grid is stable while an experiment runs
    (Δ doubles keeping every other look), so past looks can be kept (:class:`LookCache`)."""
    span, step = last_ms - first_ms, 1
    while step < span and span // step > looks - 1:
        step *= 2
    grid = [first_ms + step * k for k in range(1, span // step + 1)]
    return grid if grid and grid[-1] == last_ms else [*grid, last_ms]


@dataclass(frozen=True)
class Look:
    """The experiment as the log stood at one event time."""

    ts_ms: int
    users: dict[str, int]
    analysis: SequentialAnalysis | None  # None while an arm has fewer than two users
    note: str = ""  # why there is no analysis


class LookCache:
    """Looks already computed, kept while the log gains nothing at or before their time:
    :func:`searchlab.serve.analysis.log_changes` gives the earliest time among the rows
    added since the last refresh, and every look from then on is dropped (a late event with
    an old timestamp included). A build holds ``lock`` from its refresh to its last look, so
    every look it stores saw at least the rows up to its mark."""

    def __init__(self) -> None:
        self._looks: dict[tuple[str, int], Look] = {}
        self._mark = (0, 0)
        self.lock = threading.Lock()

    def refresh(self, events: Any) -> None:
        self._mark, earliest = log_changes(events, self._mark)
        if earliest is not None:
            self._looks = {k: v for k, v in self._looks.items() if k[1] < earliest}

    def get(self, experiment: str, ts_ms: int) -> Look | None:
        return self._looks.get((experiment, ts_ms))

    def put(self, experiment: str, look: Look) -> None:
        self._looks[(experiment, look.ts_ms)] = look

    def __len__(self) -> int:
        return len(self._looks)


def compute_looks(
    events: Any, experiment: str, times: Sequence[int], options: Mapping[str, Any]
) -> list[Look]:
    """Looks at ``times``: the dashboard's metrics as the log stood at each, analysed (read
    in one pass: :func:`searchlab.serve.analysis.experiment_series`)."""
    series = experiment_series(events, experiment, list(DASHBOARD_METRICS), until=times)
    looks = []
    for ts_ms, samples in zip(times, series, strict=True):
        try:
            looks.append(Look(ts_ms, samples.users, sequential_analyze(samples.samples, **options)))
        except InputError as exc:
            looks.append(Look(ts_ms, samples.users, None, exc.message))
    return looks


def _identity(definition: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "experiment": definition["id"],
        "type": definition["type"],
        "control_ranker": definition["control"],
        "variant_ranker": definition["variant"],
    }


def experiment_panel(
    events: Any,
    definition: Mapping[str, Any],
    *,
    looks: int = MAX_LOOKS,
    alpha: float = ALPHA,
    tuning_size: float = DEFAULT_TUNING_SIZE,
    cache: LookCache | None = None,
) -> ExperimentPanel:
    """The panel of one A/B experiment (``definition``: its entry in the experiments file);
    looks found in ``cache`` are not computed again."""
    experiment = definition["id"]
    share = float(definition["variant_share"])
    base = _identity(definition) | {"planned_variant_share": share}
    empty = {"users": dict.fromkeys(ARMS, 0), "srm": None, "analysis": None, "paths": ()}
    options = {"alpha": alpha, "tuning_size": tuning_size, "planned_variant_share": share}
    try:
        span = experiment_span(events, experiment)
        if span is None:
            return ExperimentPanel(
                **base, **empty, first_ms=None, last_ms=None, status="no users yet: waiting"
            )
        times = look_times(*span, looks)
        kept = {t: cache.get(experiment, t) for t in times} if cache is not None else {}
        missing = [t for t in times if kept.get(t) is None]
        for look in compute_looks(events, experiment, missing, options) if missing else ():
            kept[look.ts_ms] = look
            if cache is not None:
                cache.put(experiment, look)
        series = [kept[t] for t in times]
    except InputError as exc:  # the log cannot answer (e.g. not a searchlab log): say why
        return ExperimentPanel(**base, **empty, first_ms=None, last_ms=None, status=exc.message)
    now = series[-1]  # the last look holds every user and all activity so far
    srm = sequential_srm([[s.users[arm] for arm in ARMS] for s in series], (1.0 - share, share))
    found = {**base, "users": now.users, "first_ms": span[0], "last_ms": span[1], "srm": srm}
    if now.analysis is None:
        return ExperimentPanel(
            **found, analysis=None, paths=(), status=f"not enough data yet: {now.note}"
        )
    return ExperimentPanel(**found, analysis=now.analysis, paths=_paths(series), status="ok")


def interleave_panel(
    events: Any,
    definition: Mapping[str, Any],
    *,
    looks: int = MAX_LOOKS,
    alpha: float = ALPHA,
    tuning_size: float = DEFAULT_TUNING_SIZE,
) -> ExperimentPanel:
    """The panel of one interleaving experiment: users preferring each ranker, the exact sign
    test (:func:`searchlab.ab.interleave.interleaving_test` on
    :func:`searchlab.serve.analysis.interleave_frame`, with the preference share's confidence
    sequence), and that sequence over cumulative looks. A look holds the searches made by its
    time, each with its clicks; one read of the log serves every look."""
    base = _identity(definition) | {"planned_variant_share": None, "srm": None}
    none = {"users": {"variant": 0, "control": 0, "tie": 0}, "analysis": None, "paths": ()}
    try:
        frame = interleave_frame(events, definition["id"])
        when = search_times(events, definition["id"])  # read after the frame: holds its searches
    except InputError as exc:
        return ExperimentPanel(**base, **none, first_ms=None, last_ms=None, status=exc.message)
    if frame.empty:
        return ExperimentPanel(
            **base, **none, first_ms=None, last_ms=None, status="no users yet: waiting"
        )
    result = interleaving_test(frame, alpha=alpha, sequential=True, tuning_size=tuning_size)
    m = result.preference
    ts = frame["query_id"].map(when).to_numpy(dtype=np.int64)
    credit, _ = query_credit(frame)
    series = []  # (time, users so far, users preferring the variant, decided users)
    users_only = frame[["user_id"]]  # all user_preferences reads: no copies of the lists
    for t in look_times(int(ts.min()), int(ts.max()), looks):
        seen = ts <= t
        preference = user_preferences(users_only[seen], credit[seen])
        wins, losses = int((preference > 0).sum()), int((preference < 0).sum())
        series.append((t, preference.size, wins, wins + losses))
    times, users, wins, decided = (np.asarray(c) for c in zip(*series, strict=True))
    keep = decided >= 2
    low, high, p = share_sequence(wins, decided, alpha=alpha, tuning_size=tuning_size)
    low, high, p = running(low[keep] - 0.5, high[keep] - 0.5, p[keep], axis=0)
    path = MetricPath(
        name="preference",
        type="share",
        ts_ms=tuple(times[keep].tolist()),
        users=tuple(users[keep].tolist()),
        estimate=tuple((wins[keep] / decided[keep] - 0.5).tolist()),
        ci_low=tuple(low.tolist()),
        ci_high=tuple(high.tolist()),
        pvalue=tuple(p.tolist()),
    )
    return ExperimentPanel(
        **base,
        users={"variant": m.variant.users, "control": m.control.users, "tie": m.ties.users},
        first_ms=int(ts.min()),
        last_ms=int(ts.max()),
        analysis=result,
        paths=(path,) if keep.any() else (),
        status="ok",
    )


def _paths(series: list[Look]) -> tuple[MetricPath, ...]:
    """Each metric's sequence over the looks where both arms have two users."""
    kept = [look for look in series if look.analysis is not None]
    table = np.asarray(  # looks × metrics × (estimate, low, high, p)
        [
            [(m.difference, *_bounds(m), m.tests[0].pvalue) for m in look.analysis.metrics]
            for look in kept
        ],
        dtype=np.float64,
    )
    # looks with no variation yet have the unbounded sequence (searchlab.ab.sequential), so
    # they leave the running intersection as it was
    low, high, p = running(*table[:, :, 1:].transpose(2, 0, 1), axis=0)
    return tuple(
        MetricPath(
            name=metric.name,
            type=metric.type,
            ts_ms=tuple(look.ts_ms for look in kept),
            users=tuple(sum(look.users.values()) for look in kept),
            estimate=tuple(table[:, i, 0].tolist()),
            ci_low=tuple(low[:, i].tolist()),
            ci_high=tuple(high[:, i].tolist()),
            pvalue=tuple(p[:, i].tolist()),
        )
        for i, metric in enumerate(kept[-1].analysis.metrics)
    )


def _bounds(metric: Any) -> tuple[float, float]:
    interval = metric.tests[0].interval
    return interval.low, interval.high


def build_dashboard(
    events: Any,
    definitions: Sequence[Mapping[str, Any]],
    *,
    looks: int = MAX_LOOKS,
    alpha: float = ALPHA,
    tuning_size: float = DEFAULT_TUNING_SIZE,
    cache: LookCache | None = None,
) -> Dashboard:
    """Every experiment's panel, as the log stands now (blocking: run it off the event loop);
    with a ``cache``, only the looks the log's new rows could change are computed."""
    with cache.lock if cache is not None else contextlib.nullcontext():
        if cache is not None:
            cache.refresh(events)
        panels = tuple(
            interleave_panel(events, d, looks=looks, alpha=alpha, tuning_size=tuning_size)
            if d["type"] == "interleave"
            else experiment_panel(
                events, d, looks=looks, alpha=alpha, tuning_size=tuning_size, cache=cache
            )
            for d in definitions
        )
    digest = hashlib.sha256(
        json.dumps([p.to_dict() for p in panels], sort_keys=True).encode()
    ).hexdigest()[:16]
    return Dashboard(
        generated_ms=time.time_ns() // 1_000_000,
        method=CS_METHOD,
        method_note=method_note(tuning_size),
        alpha=alpha,
        tuning_size=float(tuning_size),
        looks=looks,
        panels=panels,
        version=digest,
    )


def dashboard_options(
    params: Any, definitions: Sequence[Mapping[str, Any]]
) -> tuple[tuple[Mapping[str, Any], ...], int]:
    """The experiments and look count a request asks for (``experiment=ID``, ``looks=N``;
    both optional), or a RequestError naming the problem."""
    unknown = sorted(set(params) - _PARAMS)
    if unknown:
        raise RequestError(
            f"unknown parameter {unknown[0]!r}", hint="parameters: experiment, looks"
        )
    for key in _PARAMS:
        if len(params.getall(key, [])) > 1:
            raise RequestError(f"{key} is given more than once", hint=f"pass {key} once")
    chosen = tuple(definitions)
    wanted = params.get("experiment")
    if wanted is not None:
        chosen = tuple(d for d in definitions if d["id"] == wanted)
        if not chosen:
            running_ids = ", ".join(d["id"] for d in definitions) or "none"
            raise RequestError(
                f"no running experiment {wanted[:100]!r}",
                status=404,
                hint=f"running experiments: {running_ids}",
            )
    raw = params.get("looks")
    looks = MAX_LOOKS
    if raw is not None:
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw[:4]) <= LOOKS_LIMIT):
            raise RequestError(
                f"looks must be a whole number from 1 to {LOOKS_LIMIT}, got {raw[:20]!r}",
                hint=f"e.g. looks={MAX_LOOKS}",
            )
        looks = int(raw)
    return chosen, looks


class LiveDashboard:
    """Computes dashboards in the default executor and keeps each for ``ttl`` seconds; callers
    asking while one is being computed wait for that one (one computation at a time per
    request shape)."""

    def __init__(self, events: Any, ttl: float = CACHE_SECONDS) -> None:
        self.events = events
        self.ttl = ttl
        self._entries: dict[tuple, tuple[list[float], asyncio.Future]] = {}
        self.looks = LookCache()

    async def get(
        self, definitions: Sequence[Mapping[str, Any]], looks: int, wait: float | None = None
    ) -> Dashboard | None:
        """The dashboard, or None when ``wait`` seconds pass first (it keeps computing)."""
        key = (tuple(d["id"] for d in definitions), looks)
        now = time.monotonic()
        for k, (finished, future) in list(self._entries.items()):
            if future.done() and now - finished[0] > self.ttl:
                del self._entries[k]
        if key not in self._entries:
            future = asyncio.get_running_loop().run_in_executor(
                None,
                lambda: build_dashboard(self.events, definitions, looks=looks, cache=self.looks),
            )
            finished = [math.inf]  # kept for ttl seconds from when it is done
            future.add_done_callback(lambda _: finished.__setitem__(0, time.monotonic()))
            self._entries[key] = (finished, future)
        try:
            return await asyncio.wait_for(asyncio.shield(self._entries[key][1]), wait)
        except TimeoutError:
            return None


# ----------------------------------------------------------------------------- the page

STYLE = """\
body { font: 15px/1.45 system-ui, sans-serif; margin: 1.5rem auto; max-width: 64rem;
       padding: 0 1rem; color: #1d2330; }
h1 { font-size: 1.4rem; margin-bottom: .2rem; }
h2 { font-size: 1.15rem; margin: 2rem 0 .3rem; border-top: 1px solid #d5d9e2; padding-top: 1rem; }
p.meta, p.status { color: #5d6577; font-size: .85rem; margin: .2rem 0; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .9rem; }
th, td { padding: .25rem .7rem; text-align: right; border-bottom: 1px solid #e3e6ec; }
th:first-child, td:first-child { text-align: left; }
th { background: #f3f5f9; font-weight: 600; }
.ok { color: #1d7a3a; font-weight: 600; }
.alarm { color: #b3261e; font-weight: 700; }
.wait { color: #7a5a00; }
.plots { display: flex; flex-wrap: wrap; gap: .8rem; }
figure { margin: 0; width: 320px; }
figcaption { font-size: .85rem; color: #454d5e; }
"""

SCRIPT = """\
(function () {
  "use strict";
  var status = document.getElementById("refresh-status");
  function show(text) { if (status) { status.textContent = text; } }
  function swap(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("panels");
    var old = document.getElementById("panels");
    if (fresh && old) { old.replaceWith(fresh); }
  }
  var every = 5000;
  function poll() {
    fetch("/api/dashboard" + window.location.search, { cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) {
        var panels = document.getElementById("panels");
        if (panels && panels.dataset.version !== data.version) {
          return fetch(window.location.href, { cache: "no-store" })
            .then(function (r) { return r.text(); }).then(swap);
        }
      })
      .then(function () { show("updated " + new Date().toLocaleTimeString()); })
      .catch(function () { show("refresh failed; retrying"); })
      .then(function () { window.setTimeout(poll, every); });  // one request at a time
  }
  document.addEventListener("DOMContentLoaded", function () {
    every = Number(document.body.dataset.refresh || "5") * 1000;
    window.setTimeout(poll, every);
  });
})();
"""


def render_page(dashboard: Dashboard | None) -> str:
    """The dashboard as one HTML page (its script and style come from this service); None:
    the first computation is still running, and the page fills in by itself when it ends."""
    if dashboard is None:
        note, alpha, version = method_note(DEFAULT_TUNING_SIZE), ALPHA, ""
        stamp = "computing now (the first view of a large log takes a while)"
        panels = '<p class="status wait">Computing the dashboard; this page fills in by itself.</p>'
    else:
        note, alpha, version = dashboard.method_note, dashboard.alpha, dashboard.version
        when = time.gmtime(dashboard.generated_ms / 1000)
        stamp = "computed " + time.strftime("%Y-%m-%d %H:%M:%S UTC", when)
        panels = "".join(_panel_html(p, dashboard) for p in dashboard.panels) or (
            '<p class="status">This service runs no experiments.</p>'
        )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Experiments - searchlab</title>"
        '<link rel="stylesheet" href="/static/dashboard.css">'
        '<script src="/static/dashboard.js" defer></script></head>'
        f'<body data-refresh="{REFRESH_SECONDS}"><h1>Live experiments</h1>'
        f'<p class="meta">Method: {escape(note)}. Sample ratio: Lindon &amp; '
        "Malek's anytime-valid Dirichlet-multinomial test over every look. Alpha = "
        f"{alpha:g}; p-values are corrected over the metrics by Holm's method. The "
        "tables show the latest look (as <code>searchlab ab test --events LOG --sequential"
        "</code> prints it); the plots intersect the sequence over the looks, which stays "
        "valid.</p>"
        f'<p class="meta" id="refresh-status" role="status">{stamp}; '
        f"refreshes every {REFRESH_SECONDS} s</p>"
        f'<main id="panels" data-version="{escape(version)}">{panels}</main>'
        "</body></html>"
    )


def _panel_html(panel: ExperimentPanel, dashboard: Dashboard) -> str:
    parts = [
        f"<section><h2>{escape(panel.experiment)} <small>({escape(panel.type)}: "
        f"{escape(panel.control_ranker)} vs {escape(panel.variant_ranker)})</small></h2>"
    ]
    if panel.first_ms is not None:
        parts.append(
            f'<p class="meta">{_clock(panel.first_ms)} to {_clock(panel.last_ms)} '
            f"UTC (event time), {_duration(panel.last_ms - panel.first_ms)}</p>"
        )
    if panel.type == "interleave":
        parts.append(_preference_tables(panel))
    else:
        parts.append(_arms_table(panel))
    if panel.analysis is None:
        parts.append(f'<p class="status wait">{escape(panel.status)}</p></section>')
        return "".join(parts)
    if panel.type == "interleave":
        parts.append(_interleave_tests(panel.analysis))
    else:
        parts.append(_metrics_table(panel.analysis))
    plots = "".join(_figure(path, dashboard.alpha, panel.first_ms) for path in panel.paths)
    parts.append(f'<div class="plots">{plots}</div></section>')
    return "".join(parts)


def _arms_table(panel: ExperimentPanel) -> str:
    """Users per arm against the planned split, and the sample-ratio check."""
    planned = {"control": 1.0 - panel.planned_variant_share, "variant": panel.planned_variant_share}
    rankers = {"control": panel.control_ranker, "variant": panel.variant_ranker}
    total = sum(panel.users.values())
    rows = "".join(
        f"<tr><td>{arm}</td><td>{escape(rankers[arm])}</td><td>{panel.users[arm]:,}</td>"
        f"<td>{_share(panel.users[arm], total)}</td><td>{100 * planned[arm]:g}%</td></tr>"
        for arm in ARMS
    )
    out = (
        "<table><tr><th>arm</th><th>ranker</th><th>users</th><th>share</th><th>planned</th>"
        f"</tr>{rows}<tr><th>all</th><th></th><th>{total:,}</th><th></th><th></th></tr></table>"
    )
    if panel.srm is not None:
        css = "alarm" if panel.srm.mismatch else "ok"
        out += (
            f'<p class="srm"><span class="{css}">'
            f"{'Sample ratio mismatch' if panel.srm.mismatch else 'Sample ratio OK'}</span>: "
            f"{escape(panel.srm.message)} ({panel.srm.looks} looks)</p>"
        )
    return out


def _preference_tables(panel: ExperimentPanel) -> str:
    """Users preferring each ranker (more clicks on its team's results), and tied."""
    analysis = panel.analysis
    queries = {}
    if analysis is not None:
        m = analysis.preference
        queries = {
            "variant": m.variant.queries,
            "control": m.control.queries,
            "tie": m.ties.queries,
        }
    rankers = {"variant": panel.variant_ranker, "control": panel.control_ranker, "tie": ""}
    total = sum(panel.users.values())
    rows = "".join(
        f"<tr><td>{side}</td><td>{escape(rankers[side])}</td><td>{panel.users[side]:,}</td>"
        f"<td>{_share(panel.users[side], total)}</td><td>{queries.get(side, 0):,}</td></tr>"
        for side in ("variant", "control", "tie")
    )
    method = f" ({escape(analysis.method)})" if analysis is not None and analysis.method else ""
    return (
        "<table><tr><th>users preferring</th><th>ranker</th><th>users</th><th>share</th>"
        f"<th>queries won</th></tr>{rows}<tr><th>all</th><th></th><th>{total:,}</th><th></th>"
        f"<th>{sum(queries.values()):,}</th></tr></table>"
        f'<p class="srm">Interleaving{method}: every user sees one list merged from both '
        "rankers, so there are no arms to compare sizes of; each search credits the team whose "
        "results got more clicks.</p>"
    )


def _interleave_tests(analysis: InterleavingAnalysis) -> str:
    """The sign test, the bootstrap and the confidence sequence of the preference share."""
    m = analysis.preference
    rows = []
    for test in m.tests:
        interval = test.interval
        shown = "–" if interval is None else _interval(interval.low, interval.high, 100, (0, 1))
        label = {SIGN_TEST: "exact sign test", CS_METHOD: "confidence sequence (always valid)"}
        rows.append(
            f"<tr><td>{escape(label.get(test.method, test.method))}</td>"
            f"<td>{_num(test.estimate, 100)}%</td><td>{shown}</td>"
            f"<td>{'–' if test.pvalue is None else f'{test.pvalue:.3g}'}</td></tr>"
        )
    css = "ok" if m.significant else "wait"
    return (
        "<table><tr><th>test of the variant's preference share (null 50%)</th><th>share</th>"
        f"<th>interval</th><th>p</th></tr>{''.join(rows)}</table>"
        f'<p class="verdict"><span class="{css}">{"significant" if m.significant else "not yet"}'
        f"</span>: {escape(m.verdict)}</p>"
    )


def _metrics_table(analysis: SequentialAnalysis) -> str:
    rows = []
    for m in analysis.metrics:
        scale, unit = _scale(m.type)
        percent = "%" if m.type == "binary" else ""
        test = m.tests[0]
        low, high = test.interval.low, test.interval.high
        if m.significant:
            verdict = f'<span class="ok">{"variant" if m.difference > 0 else "control"} wins</span>'
        else:
            verdict = '<span class="wait">not yet</span>'
        rows.append(
            f"<tr><td>{escape(m.name)}</td><td>{_num(m.control.mean, scale)}{percent}</td>"
            f"<td>{_num(m.variant.mean, scale)}{percent}</td>"
            f"<td>{_num(m.difference, scale, signed=True)}{unit}</td>"
            f"<td>{_interval(low, high, scale, DIFFERENCE_RANGE.get(m.type), signed=True)}</td>"
            f"<td>{test.pvalue:.3g}</td><td>{m.adjusted_pvalue:.3g}</td><td>{verdict}</td></tr>"
        )
    return (
        "<table><tr><th>metric (per user)</th><th>control</th><th>variant</th>"
        "<th>difference</th><th>confidence sequence</th><th>always-valid p</th>"
        f"<th>Holm p</th><th>verdict</th></tr>{''.join(rows)}</table>"
    )


def _interval(
    low: float, high: float, scale: float, limits: tuple[float, float] | None, signed=False
) -> str:
    """An interval as text, within the values its quantity can take (the true value lies
    there, so cutting the sequence to it keeps it valid). Unbounded on both sides (no variation
    in the data yet, see searchlab.ab.sequential.confidence_sequence) says so."""
    if not (np.isfinite(low) or np.isfinite(high)):
        return "no variation yet"
    if limits is not None:
        low, high = max(low, limits[0]), min(high, limits[1])
    unit = "%" if scale == 100.0 and not signed else ""
    return f"[{_num(low, scale, signed)}{unit}, {_num(high, scale, signed)}{unit}]"


def _scale(kind: str) -> tuple[float, str]:
    """Binary metrics and shares are shown in percent (differences in points)."""
    return (100.0, " pp") if kind in ("binary", "share") else (1.0, "")


def _num(x: float, scale: float = 1.0, signed: bool = False) -> str:
    if x is None or not math.isfinite(x):
        return "–"
    return f"{scale * x:+.3g}" if signed else f"{scale * x:.3g}"


def _share(part: int, total: int) -> str:
    return f"{100 * part / total:.2f}%" if total else "–"


def _clock(ms: int | None) -> str:
    return "–" if ms is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000))


def _duration(ms: int) -> str:
    seconds = ms / 1000
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


# ----------------------------------------------------------------------------- the plots

WIDTH, HEIGHT = 320, 190
LEFT, RIGHT, TOP, BOTTOM = 52, 10, 10, 34


def _figure(path: MetricPath, alpha: float, start_ms: int | None) -> str:
    _, unit = _scale(path.type)
    what = (
        "share of decided users preferring the variant - 50"
        if path.type == "share"
        else ("variant - control")
    )
    return (
        f"<figure>{path_svg(path, start_ms)}<figcaption><strong>{escape(path.name)}</strong>: "
        f"{what}{unit} and its {100 * (1 - alpha):g}% confidence sequence, "
        f"{len(path.ts_ms)} looks</figcaption></figure>"
    )


def path_svg(path: MetricPath, start_ms: int | None = None) -> str:
    """The estimate (line) and its confidence sequence (band) against event time since
    ``start_ms`` (default: the first look), with the zero line; the y range follows the
    later looks, earlier wider bands are clipped."""
    scale, _ = _scale(path.type)
    t = np.asarray(path.ts_ms, dtype=np.float64)
    lowest, highest = DIFFERENCE_RANGE.get(path.type, (-np.inf, np.inf))
    est = np.asarray(path.estimate, dtype=np.float64) * scale
    low = np.clip(np.asarray(path.ci_low, dtype=np.float64), lowest, highest) * scale
    high = np.clip(np.asarray(path.ci_high, dtype=np.float64), lowest, highest) * scale
    later = np.asarray(path.users) >= 0.2 * path.users[-1]
    span = np.concatenate([low[later], high[later], est, [0.0]])
    span = span[np.isfinite(span)]
    y0, y1 = float(span.min()), float(span.max())
    if y1 - y0 < 1e-12:
        y0, y1 = y0 - 1.0, y1 + 1.0
    pad = 0.08 * (y1 - y0)
    y0, y1 = y0 - pad, y1 + pad
    t0, t1 = float(t[0] if start_ms is None else start_ms), float(t[-1])
    if t1 <= t0:
        t0, t1 = t0 - 1.0, t1 + 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(v: float) -> float:
        return LEFT + plot_w * (v - t0) / (t1 - t0)

    def y(v: float) -> float:
        v = min(max(v, y0), y1) if math.isfinite(v) else (y1 if v > 0 else y0)
        return TOP + plot_h * (1.0 - (v - y0) / (y1 - y0))

    upper = [f"{x(a):.1f},{y(b):.1f}" for a, b in zip(t, high, strict=True)]
    lower = [f"{x(a):.1f},{y(b):.1f}" for a, b in zip(t[::-1], low[::-1], strict=True)]
    line = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in zip(t, est, strict=True))
    ticks = "".join(
        f'<line x1="{LEFT - 4}" x2="{LEFT}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#555"/>'
        f'<text x="{LEFT - 6}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="10">'
        f"{v:.4g}</text>"
        for v in nice_ticks(y0, y1)
    )
    elapsed = _duration(int(t1 - t0))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(path.name)} over time">'
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fafbfd" '
        'stroke="#c9ced8"/>'
        f'<polygon points="{" ".join(upper + lower)}" fill="#2d5bd1" fill-opacity="0.18"/>'
        f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(0.0):.1f}" y2="{y(0.0):.1f}" '
        'stroke="#777" stroke-dasharray="4 3"/>'
        f'<polyline points="{line}" fill="none" stroke="#1a44b8" stroke-width="1.8"/>'
        f"{ticks}"
        f'<text x="{LEFT}" y="{HEIGHT - 18}" font-size="10">0</text>'
        f'<text x="{LEFT + plot_w}" y="{HEIGHT - 18}" font-size="10" text-anchor="end">'
        f"{elapsed}</text>"
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 4}" font-size="10" '
        f'text-anchor="middle">event time ({path.users[-1]:,} users)</text></svg>'
    )


def nice_ticks(low: float, high: float, most: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) inside [low, high]."""
    raw = (high - low) / most
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    start = math.ceil(low / step) * step
    return [round(start + i * step, 12) for i in range(most + 1) if start + i * step <= high]
