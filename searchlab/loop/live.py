"""Simulated users over HTTP: the offline simulation's users, searching a live service.

``searchlab simulate --live URL --corpus CORPUS_DIR --users N --concurrency C --seed S``
drives ``searchlab serve``. The users are :class:`~searchlab.loop.simulate.UserBehaviour`'s,
the very draws of the offline simulation (ids ``1..N``, searches per user, the topic of each
search and the uniforms that decide its clicks), and their clicks and conversions are decided
by the same :func:`~searchlab.loop.simulate.search_outcomes` under the same
:class:`~searchlab.loop.click_model.ClickModel`. Only the ranking differs in where it comes
from: the service ranks the topic's text for the user, in whatever arm its assignment puts
them, and the user reacts to the list it returns. So, fed the rankings the service served,
the offline simulation reproduces the live per-user table exactly (a test checks it).

Each search is ``GET /api/search?q=TOPIC TEXT&user=ID&k=DEPTH`` followed by one ``POST
/api/events`` with the search's UBI events: an ``impression`` per result shown, a ``click``
per clicked position and a ``conversion`` at the first converting one. A user's searches run
one after another; ``concurrency`` users run at once. A 503 (the service's queue is full) is
retried after its ``Retry-After`` (at most ``max_retries`` times); any other error stops the
run with the service's message.

Topics are the corpus's judged queries that no ranker of the experiment trained on (the
service lists each reranker's training queries in ``/api/experiments``), so the live test is
on queries the served model never saw. The exact expected conversion rate of each arm is
computed from the rankings the service actually served (``simulate.expected_conversion_rate``).

**Interleaving experiments** (``type = "interleave"``): the same users, draws and click model;
each search shows the merged list, and the user clicks on it as on any list (the click model
sees positions and grades, not teams). Every search sends its own query id,
``{prefix}u{user}.{n}`` (default prefix ``{experiment}.s{seed}.``), so the coin flips, which
the service keys by (query id, salt), are the same in every run with the seed: the run is
reproducible whatever the concurrency (a second run against the same log needs another seed
or a fresh log: the service refuses a query id twice). The run's ``table`` is then one row per
search, the client's view of :func:`searchlab.serve.analysis.interleave_frame`'s columns
(``user_id``, ``query_id``, ``topic`` the collection query, ``teams``, ``doc_ids``,
``clicked_positions``, ``variant_clicks``, ``control_clicks``, ``converted``; and ``credit``
by the team rule for team-draft; probabilistic interleaving's marginalised credit needs the
posterior the log holds). Results are gathered per user and assembled in user order, so no
number depends on the order in which concurrent requests were answered.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from searchlab.ab.sequential import DEFAULT_TUNING_SIZE
from searchlab.errors import InputError
from searchlab.loop.click_model import ClickModel, check_grades, grade_matrix
from searchlab.loop.simulate import (
    ExperimentDesign,
    UserBehaviour,
    UserSession,
    expected_conversion_rate,
    search_outcomes,
    slot_thresholds,
)
from searchlab.serve.experiments import ARM_NAMES, INTERLEAVED, parse_experiments
from searchlab.text.model import Corpus

ARMS = ("control", "variant")
_TEAM = {"control": "C", "variant": "V"}


@dataclass(frozen=True)
class LiveDesign:
    url: str
    users: int = 2_000
    concurrency: int = 16
    seed: int = 0
    extra_queries_mean: float = 1.0
    activity_spread: float = 0.0  # UserBehaviour's per-user activity levels (0: none)
    experiment: str | None = None  # None: the service's only experiment
    max_retries: int = 200
    timeout: float = 60.0
    query_prefix: str | None = None  # send query ids "{prefix}u{user}.{n}" (interleaving:
    # default "{experiment}.s{seed}."); None for A/B: the service makes them

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InputError(
                f"--live {self.url!r} is not an http(s) URL", hint="e.g. http://127.0.0.1:8080"
            )
        if not 1 <= self.concurrency <= 1024:
            raise InputError(
                f"concurrency must be from 1 to 1024, got {self.concurrency}", hint="e.g. 16"
            )
        ExperimentDesign(
            users=self.users,
            seed=self.seed,
            extra_queries_mean=self.extra_queries_mean,
            activity_spread=self.activity_spread,
        )


@dataclass(frozen=True)
class LiveArm:
    ranker: str
    users: int
    searches: int
    clicks: int
    conversions: int
    converted_users: int
    conversion_rate: float
    interval: tuple[float, float]  # 95% Wilson interval of the conversion rate
    expected_conversion_rate: float | None  # exact, from the rankings served; None if some
    # topic was never served in this arm
    logged_users: int  # users the service's log holds in this arm after the run


@dataclass(frozen=True)
class LiveInterleaving:
    """An interleaving experiment's run, by the team rule (clicks on each team's results)."""

    method: str
    users: int  # users inside the experiment
    searches: int
    clicks: int
    conversions: int
    variant_clicks: int
    control_clicks: int
    variant_wins: int  # searches with more clicks on the variant's team
    control_wins: int
    ties: int
    users_preferring_variant: int  # sum of the user's team-rule credits > 0
    users_preferring_control: int
    logged_users: int


@dataclass(frozen=True)
class LiveRun:
    url: str
    experiment: str
    salt: str
    variant_share: float
    design: LiveDesign
    model: ClickModel
    topics: tuple[str, ...]
    arms: dict[str, LiveArm]
    users: int
    outside_users: int  # users outside the experiment (traffic < 1 or another slice)
    searches: int
    events_sent: int
    events_accepted: int
    retries: int  # requests answered 503 and sent again
    assignment_mismatches: int  # users whose arm differs from the shared assignment function
    seconds: float
    table: Any = field(repr=False, compare=False)  # pandas: per user (A/B), per search
    served: dict[str, dict[str, tuple[str, ...]]] = field(repr=False, compare=False)
    type: str = "ab"
    interleaving: LiveInterleaving | None = None

    @property
    def searches_per_second(self) -> float:
        return self.searches / self.seconds if self.seconds > 0 else float("nan")

    def summary(self) -> dict[str, Any]:
        """Everything but the table and the rankings, as plain values (for JSON)."""
        return {
            "url": self.url,
            "experiment": self.experiment,
            "type": self.type,
            "salt": self.salt,
            "variant_share": self.variant_share,
            "design": self.design,
            "model": self.model,
            "topics": len(self.topics),
            "arms": self.arms,
            "interleaving": self.interleaving,
            "users": self.users,
            "outside_users": self.outside_users,
            "searches": self.searches,
            "events_sent": self.events_sent,
            "events_accepted": self.events_accepted,
            "retries": self.retries,
            "assignment_mismatches": self.assignment_mismatches,
            "seconds": self.seconds,
            "searches_per_second": self.searches_per_second,
        }


class _Client:
    """JSON over aiohttp with 503 retries; any other failure is one InputError."""

    def __init__(self, session: Any, base: str, max_retries: int) -> None:
        self.session, self.base, self.max_retries = session, base.rstrip("/"), max_retries
        self.retries = 0

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        import aiohttp

        for attempt in range(self.max_retries + 1):
            try:
                async with self.session.request(method, self.base + path, **kwargs) as response:
                    if response.status == 503 and attempt < self.max_retries:
                        self.retries += 1
                        wait = float(response.headers.get("Retry-After", "1") or 1)
                        await asyncio.sleep(min(wait, 0.02 * (attempt + 1)))
                        continue
                    body = await response.json(content_type=None)
                    if response.status >= 400:
                        error = body.get("error", {}) if isinstance(body, dict) else {}
                        raise InputError(
                            f"the service answered {method} {path.split('?')[0]} with "
                            f"{response.status}: {error.get('message', body)}",
                            hint=error.get("hint") or "check the service's log",
                        )
                    return body
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                raise InputError(
                    f"cannot talk to the service at {self.base}: {type(exc).__name__}: {exc}",
                    hint="start it with searchlab serve, and pass the URL it printed",
                ) from None
        raise InputError(
            f"the service stayed busy (503) for {self.max_retries} retries",
            hint="lower --concurrency",
        )


def held_out_topics(corpus: Corpus, rankers: Sequence[dict[str, Any]]) -> tuple[str, ...]:
    """Judged queries none of ``rankers`` trained on (rerankers list theirs)."""
    trained: set[str] = set()
    for ranker in rankers:
        trained |= set(ranker.get("trained_queries", []))
    topics = tuple(q.query_id for q in corpus.judged_queries() if q.query_id not in trained)
    if not topics:
        raise InputError(
            "every judged query of the corpus trained a served ranker, so none is left for a "
            "fair live test",
            hint="train the model with: searchlab text train CORPUS_DIR --exclude-queries FILE",
        )
    return topics


def simulate_live(design: LiveDesign, corpus: Corpus, model: ClickModel | None = None) -> LiveRun:
    """Run the live simulation (its own event loop) and return what happened."""
    return asyncio.run(run_live(design, corpus, model))


async def run_live(design: LiveDesign, corpus: Corpus, model: ClickModel | None = None) -> LiveRun:
    import aiohttp
    import pandas as pd

    model = model or ClickModel()
    if not corpus.judgments:
        raise InputError("the corpus has no judgments", hint="import it with --qrels")
    check_grades(corpus.judgments, model)
    started = time.perf_counter()
    timeout = aiohttp.ClientTimeout(total=design.timeout)
    connector = aiohttp.TCPConnector(limit=design.concurrency)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        client = _Client(session, design.url, design.max_retries)
        setup = await client.call("GET", "/api/experiments")
        experiment = _choose_experiment(setup, design.experiment)
        rankers = [
            r
            for r in setup["rankers"]
            if r["name"] in (experiment["control"], experiment["variant"])
        ]
        topics = held_out_topics(corpus, rankers)
        texts = {q.query_id: q.text for q in corpus.queries}
        behaviour = UserBehaviour(
            ExperimentDesign(
                users=design.users,
                seed=design.seed,
                salt=experiment["salt"],
                variant_share=experiment["variant_share"],
                extra_queries_mean=design.extra_queries_mean,
                activity_spread=design.activity_spread,
            ),
            len(topics),
            model.depth,
        )
        interleaved = experiment.get("type") == "interleave"
        prefix = design.query_prefix
        if prefix is None and interleaved:
            prefix = f"{experiment['id']}.s{design.seed}."
        state = _State(design.users, model, corpus.judgments, topics, prefix)
        queue: asyncio.Queue = asyncio.Queue(design.concurrency * 2)

        async def produce() -> None:
            for user in behaviour.sessions():
                await queue.put(user)
            for _ in range(design.concurrency):
                await queue.put(None)

        async def work() -> None:
            while (user := await queue.get()) is not None:
                await _run_user(client, user, topics, texts, state, model.depth)

        producer = asyncio.create_task(produce())
        workers = [asyncio.create_task(work()) for _ in range(design.concurrency)]
        try:
            await asyncio.gather(producer, *workers)
        except BaseException:
            for task in (producer, *workers):
                task.cancel()
            raise
        seconds = time.perf_counter() - started
        after = await client.call("GET", "/api/experiments")
    logged = next(e for e in after["experiments"] if e["id"] == experiment["id"]).get("live", {})
    plan = parse_experiments(
        {"layer": setup["layer"], "experiment": [_table(e) for e in setup["experiments"]]},
        [r["name"] for r in setup["rankers"]],
    )
    which, codes = plan.assign_many(list(behaviour.user_ids))
    expected_arm = np.array(
        [
            ARM_NAMES[int(c)] if w >= 0 and plan.experiments[w].id == experiment["id"] else ""
            for w, c in zip(which, codes, strict=True)
        ],
        dtype=object,
    )
    mismatches = int((expected_arm != state.arm).sum())
    common = {
        "url": design.url,
        "experiment": experiment["id"],
        "salt": experiment["salt"],
        "variant_share": float(experiment["variant_share"]),
        "design": design,
        "model": model,
        "topics": topics,
        "users": design.users,
        "outside_users": int((state.arm == "").sum()),
        "searches": int(state.searches.sum()),
        "events_sent": state.events_sent,
        "events_accepted": state.events_accepted,
        "retries": client.retries,
        "assignment_mismatches": mismatches,
        "seconds": seconds,
        "served": state.served,
    }
    if interleaved:
        table, summary = _interleaving(state, experiment, logged)
        return LiveRun(arms={}, table=table, type="interleave", interleaving=summary, **common)
    table = pd.DataFrame(
        {
            "user_id": behaviour.user_ids,
            "arm": pd.Categorical(
                np.where(state.arm == "", "outside", state.arm),
                categories=[*ARMS, "outside"],
            ),
            "queries": state.searches,
            "clicks": state.clicks,
            "conversions": state.conversions,
            "converted": (state.conversions > 0).astype(np.int8),
        }
    )
    arms = {}
    for arm in ARMS:
        mask = state.arm == arm
        users = int(mask.sum())
        converted = int((state.conversions[mask] > 0).sum())
        served = state.served[arm]
        expected = None
        if users and len(served) == len(topics):
            grades = grade_matrix(served, corpus.judgments, topics, model)
            expected = expected_conversion_rate(grades, model, design.extra_queries_mean)
        arms[arm] = LiveArm(
            ranker=experiment[arm],
            users=users,
            searches=int(state.searches[mask].sum()),
            clicks=int(state.clicks[mask].sum()),
            conversions=int(state.conversions[mask].sum()),
            converted_users=converted,
            conversion_rate=converted / users if users else float("nan"),
            interval=_wilson(converted, users),
            expected_conversion_rate=expected,
            logged_users=int(logged.get(arm, {}).get("users", 0)),
        )
    return LiveRun(arms=arms, table=table, **common)


def _interleaving(
    state: _State, experiment: dict[str, Any], logged: dict[str, Any]
) -> tuple[Any, LiveInterleaving]:
    """The per-search table, in user order, and its team-rule summary."""
    import pandas as pd

    rows = [row for user_rows in state.queries for row in user_rows]
    columns = (
        "user_id",
        "query_id",
        "topic",
        "teams",
        "doc_ids",
        "clicked_positions",
        "variant_clicks",
        "control_clicks",
        "converted",
    )
    table = pd.DataFrame(rows, columns=list(columns))
    for name in ("user_id", "query_id", "topic", "teams"):
        table[name] = table[name].astype(str)
    for name in ("variant_clicks", "control_clicks"):
        table[name] = table[name].astype(np.int16)
    table["converted"] = table["converted"].astype(np.int8)
    method = experiment.get("method") or "team-draft"
    team_credit = np.sign(table["variant_clicks"].to_numpy() - table["control_clicks"].to_numpy())
    if method == "team-draft":
        table.insert(8, "credit", team_credit.astype(np.float64))
    per_user = pd.Series(team_credit).groupby(table["user_id"].to_numpy(), sort=True).sum()
    inside = state.arm == INTERLEAVED
    return table, LiveInterleaving(
        method=method,
        users=int(inside.sum()),
        searches=len(table),
        clicks=int(state.clicks[inside].sum()),
        conversions=int(state.conversions[inside].sum()),
        variant_clicks=int(table["variant_clicks"].sum()),
        control_clicks=int(table["control_clicks"].sum()),
        variant_wins=int((team_credit > 0).sum()),
        control_wins=int((team_credit < 0).sum()),
        ties=int((team_credit == 0).sum()),
        users_preferring_variant=int((per_user > 0).sum()),
        users_preferring_control=int((per_user < 0).sum()),
        logged_users=int(logged.get(INTERLEAVED, {}).get("users", 0)),
    )


class _State:
    """What the users did, per user (index = user id - 1), and the lists served per arm."""

    def __init__(
        self,
        users: int,
        model: ClickModel,
        judgments: Any,
        topics: Sequence[str],
        query_prefix: str | None = None,
    ):
        self.model, self.judgments, self.topics = model, judgments, topics
        self.query_prefix = query_prefix
        # interleaving: each user's searches (the per-search table's rows), in order
        self.queries: list[list[tuple]] = [[] for _ in range(users)]
        self.arm = np.full(users, "", dtype=object)
        self.searches = np.zeros(users, dtype=np.int64)
        self.clicks = np.zeros(users, dtype=np.int64)
        self.conversions = np.zeros(users, dtype=np.int64)
        self.served: dict[str, dict[str, tuple[str, ...]]] = {
            "control": {},
            "variant": {},
            INTERLEAVED: {},
            "": {},
        }
        self.events_sent = self.events_accepted = 0


async def _run_user(
    client: _Client,
    user: UserSession,
    topics: Sequence[str],
    texts: dict[str, str],
    state: _State,
    depth: int,
) -> None:
    from urllib.parse import urlencode

    for n, (topic_index, uniforms) in enumerate(
        zip(user.topics.tolist(), user.uniforms, strict=True), start=1
    ):
        topic = topics[topic_index]
        params = {"q": texts[topic], "user": str(user.user_id), "k": depth}
        if state.query_prefix is not None:
            params["query_id"] = f"{state.query_prefix}u{user.user_id}.{n}"
        query = urlencode(params)
        response = await client.call("GET", f"/api/search?{query}")
        arm = response["arm"] or ""
        if state.arm[user.index] not in ("", arm):
            raise InputError(
                f"the service moved user {user.user_id} from {state.arm[user.index]} to {arm}",
                hint="an assignment must not change within an experiment",
            )
        state.arm[user.index] = arm
        shown = tuple(r["doc_id"] for r in response["results"])
        if arm != INTERLEAVED:  # an interleaved list varies with the query id's coins
            state.served[arm].setdefault(topic, shown)
        grades = grade_matrix({topic: shown}, state.judgments, [topic], state.model)
        p_click, p_convert = slot_thresholds(grades, state.model)
        clicked, converting = search_outcomes(uniforms[None, :], p_click, p_convert)
        events = [
            _event("impression", response["query_id"], doc, p) for p, doc in enumerate(shown, 1)
        ]
        clicked_at = np.flatnonzero(clicked[0]) + 1
        events += [_event("click", response["query_id"], shown[p - 1], int(p)) for p in clicked_at]
        if converting[0].any():
            p = int(np.argmax(converting[0])) + 1
            events.append(_event("conversion", response["query_id"], shown[p - 1], p))
        if arm == INTERLEAVED:
            teams = "".join(_TEAM[r["team"]] for r in response["results"])
            variant = sum(teams[p - 1] == "V" for p in clicked_at)
            state.queries[user.index].append(
                (
                    str(user.user_id),
                    response["query_id"],
                    topic,
                    teams,
                    list(shown),
                    [int(p) for p in clicked_at],
                    variant,
                    len(clicked_at) - variant,
                    int(converting[0].any()),
                )
            )
        state.searches[user.index] += 1
        state.clicks[user.index] += len(clicked_at)
        state.conversions[user.index] += bool(converting[0].any())
        if events:
            state.events_sent += len(events)
            answer = await client.call("POST", "/api/events", json=events)
            state.events_accepted += int(answer["accepted"])


def _event(action: str, query_id: str, doc_id: str, position: int) -> dict[str, Any]:
    return {
        "action_name": action,
        "query_id": query_id,
        "application": "searchlab-simulate",
        "event_attributes": {
            "object": {"object_id": doc_id, "object_id_field": "doc_id"},
            "position": {"ordinal": position},
        },
    }


def _choose_experiment(setup: dict[str, Any], wanted: str | None) -> dict[str, Any]:
    experiments = setup.get("experiments", [])
    if wanted is not None:
        found = next((e for e in experiments if e["id"] == wanted), None)
        if found is None:
            raise InputError(
                f"the service runs no experiment {wanted!r}",
                hint="it runs: " + (", ".join(e["id"] for e in experiments) or "none"),
            )
        return found
    if len(experiments) != 1:
        raise InputError(
            f"the service runs {len(experiments)} experiments",
            hint="name one with --experiment ID"
            if experiments
            else "start it with --experiment EXPERIMENTS.toml",
        )
    return experiments[0]


def _table(definition: dict[str, Any]) -> dict[str, Any]:
    """An experiment as the service describes it, back in the file's keys."""
    keys = ["id", "type", "salt", "control", "variant", "traffic", "slice"]
    keys += ["method", "tau"] if definition.get("type") == "interleave" else ["variant_share"]
    table = {k: definition[k] for k in keys if definition.get(k) is not None}
    return table | {"description": definition.get("description", "")}


def _wilson(successes: int, n: int) -> tuple[float, float]:
    if n == 0:
        return (float("nan"), float("nan"))
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(successes, n, alpha=0.05, method="wilson")
    return (float(low), float(high))


# ------------------------------------------------------------------ users to significance

STOPPING_RULE = (
    "Users are counted in id order (the order the simulation lets them arrive), and each test "
    "is looked at {looks} times, after every 1/{looks} of the users run (the table's step); the "
    "experiment stops at the first look at which its test rejects at alpha = {alpha:g}. A/B: "
    "the always-valid p-value of the conversion difference (asymptotic confidence sequence, "
    "N* = {tuning:,}), valid however often it is looked at. Interleaving: the exact two-sided "
    "sign test over the users with a preference, at alpha/{looks} at every look (Bonferroni "
    "over the planned looks, so the chance of any false stop is at most alpha); the "
    "interleaving preference share's always-valid p-value (the A/B's rule) is shown too. A "
    "test that never rejects needed more users than were run: its count is a lower bound."
)


@dataclass(frozen=True)
class StoppingPoint:
    """When a test looked at after every ``step`` users first rejected."""

    test: str
    looks: int
    step: int
    level: float  # the level each look is tested at
    users_needed: int | None  # None: not significant at any look up to the users run
    users_run: int
    pvalue_at_stop: float | None
    final_pvalue: float  # at the last look

    @property
    def bound(self) -> int:
        """Users needed, or (never significant) the users run: a lower bound."""
        return self.users_needed if self.users_needed is not None else self.users_run


def look_points(users: int, looks: int) -> np.ndarray:
    """User counts at the looks: every ``ceil(users / looks)`` users, the last at ``users``."""
    step = -(-users // looks)
    return np.minimum(np.arange(1, looks + 1) * step, users)


def _stop(test: str, points: np.ndarray, pvalues: np.ndarray, level: float) -> StoppingPoint:
    hit = np.flatnonzero(pvalues < level)
    first = int(hit[0]) if hit.size else None
    return StoppingPoint(
        test=test,
        looks=int(points.size),
        step=int(points[0]),
        level=float(level),
        users_needed=None if first is None else int(points[first]),
        users_run=int(points[-1]),
        pvalue_at_stop=None if first is None else float(pvalues[first]),
        final_pvalue=float(pvalues[-1]),
    )


def ab_stopping(
    arms: Sequence[str],
    converted: Sequence[int],
    *,
    looks: int,
    alpha: float = 0.05,
    tuning_size: float = DEFAULT_TUNING_SIZE,
) -> StoppingPoint:
    """The A/B rule on users in arrival order (``arms`` "control"/"variant", ``converted``
    0/1): the always-valid p of the conversion difference, running minimum, below alpha."""
    from searchlab.ab.sequential import binary_arm_moments, difference_cs

    arm = np.asarray(arms, dtype=object)
    conv = np.asarray(converted, dtype=np.float64)
    points = look_points(arm.size, looks)
    sums = {}
    for name in ARMS:
        inside = arm == name
        sums[name] = (np.cumsum(inside)[points - 1], np.cumsum(conv * inside)[points - 1])
    (n_c, x_c), (n_v, x_v) = sums["control"], sums["variant"]
    enough = (n_c >= 2) & (n_v >= 2)
    safe_c, safe_v = np.maximum(n_c, 2), np.maximum(n_v, 2)
    mean_c, var_c = binary_arm_moments(x_c, safe_c)
    mean_v, var_v = binary_arm_moments(x_v, safe_v)
    _, _, _, p = difference_cs(
        safe_c, mean_c, var_c, safe_v, mean_v, var_v, alpha=alpha, tuning_size=tuning_size
    )
    p = np.minimum.accumulate(np.where(enough, p, 1.0))
    return _stop("always-valid (asymptotic-cs)", points, p, alpha)


def interleaving_stopping(
    preference: Sequence[float],
    *,
    looks: int,
    alpha: float = 0.05,
    tuning_size: float = DEFAULT_TUNING_SIZE,
) -> tuple[StoppingPoint, StoppingPoint]:
    """The interleaving rules on users in arrival order (each user's preference, > 0 the
    variant): (exact sign test at alpha/looks per look, always-valid share p below alpha)."""
    from searchlab.ab.interleave import share_sequence, sign_test

    pref = np.asarray(preference, dtype=np.float64)
    points = look_points(pref.size, looks)
    wins = np.cumsum(pref > 0)[points - 1]
    losses = np.cumsum(pref < 0)[points - 1]
    sign = np.array([sign_test(int(w), int(lo))[0] for w, lo in zip(wins, losses, strict=True)])
    _, _, cs = share_sequence(wins, wins + losses, alpha=alpha, tuning_size=tuning_size)
    return (
        _stop("sign test (Bonferroni over looks)", points, sign, alpha / points.size),
        _stop("always-valid (asymptotic-cs)", points, np.minimum.accumulate(cs), alpha),
    )


def user_preferences_in_order(frame: Any) -> np.ndarray:
    """Each user's preference (sum of credit) from a per-query table, users in id order
    (numeric ids numerically)."""
    sums = frame.groupby("user_id", sort=False)["credit"].sum()
    ids = sums.index.astype(str)
    numeric = ids.str.fullmatch(r"\d+").all()
    order = np.argsort(ids.astype(np.int64) if numeric else ids, kind="stable")
    return sums.to_numpy()[order]
