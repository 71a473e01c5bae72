"""The live dashboard: its numbers agree with ``ab test --events --sequential`` and, look by look,
with the same metrics recomputed from the raw rows in pandas; the sample-ratio check fires on a
skewed split; the service answers ``/api/dashboard`` and ``/dashboard`` (bad requests are 4xx
JSON), caches the computation, and a browser shows the page, refreshing itself, with a clean
console."""

from __future__ import annotations

import asyncio
import json
import math
import struct
import time

import numpy as np
import pandas as pd
import pytest

from searchlab.ab.sequential import difference_cs
from searchlab.cli import run
from searchlab.serve import dashboard as dash
from searchlab.serve.analysis import experiment_samples, experiment_series, experiment_span
from searchlab.serve.events import Event, utc_timestamp
from searchlab.serve.experiments import load_experiments
from searchlab.serve.store import EventBatch, EventStore, SearchRecord

START = 1_780_000_000_000
HOUR = 3_600_000
DEFINITION = {
    "id": "exp-d",
    "type": "ab",
    "salt": "s",
    "control": "bm25",
    "variant": "listnet",
    "variant_share": 0.5,
    "slice": [0.0, 1.0],
    "layer": "l",
    "traffic": 1.0,
    "description": "",
}


def write_log(
    path, definition, users, *, seed=3, variant_fraction=None, start=START, convert_from=0
):
    """``users`` users arriving over an hour, each searching 1 + Poisson(1) times a minute
    apart, clicking and converting (from the ``convert_from``-th user on) a little more often
    in the variant; returns the raw rows (user, arm, action, ts_ms)."""
    rng = np.random.default_rng(seed)
    share = definition["variant_share"] if variant_fraction is None else variant_fraction
    store = EventStore(path)
    store.register_experiments([definition], utc_timestamp(start))
    items, raw = [], []
    arrivals = np.sort(rng.integers(0, HOUR, size=users))
    for u, arrival in enumerate(arrivals):
        arm = "variant" if rng.random() < share else "control"
        lift = 0.1 if arm == "variant" else 0.0
        for s in range(1 + rng.poisson(1.0)):
            ts = int(start + arrival + 60_000 * s)
            qid = f"q{u}-{s}"
            hits = tuple(f"d{j}" for j in range(10))
            shown = (qid, utc_timestamp(ts), ts, f"u{u}", "q", definition["id"], arm)
            items.append(SearchRecord(*shown, definition[arm], 10, hits))
            raw.append((f"u{u}", arm, "search", ts))
            batch = []
            for p in range(1, 4):
                if rng.random() < (0.3 + lift) / p:
                    t = ts + 1_000 * p
                    batch.append(Event("click", qid, utc_timestamp(t), t, position=p))
                    raw.append((f"u{u}", arm, "click", t))
            if rng.random() < 0.1 + lift and u >= convert_from:
                t = ts + 20_000
                batch.append(Event("conversion", qid, utc_timestamp(t), t, position=1))
                raw.append((f"u{u}", arm, "conversion", t))
            if batch:
                items.append(EventBatch(batch, ts, 1, future=None))
    assert all(not isinstance(r, Exception) for r in store.write(items))
    store.close()
    return pd.DataFrame(raw, columns=["user", "arm", "action", "ts"])


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    path = tmp_path_factory.mktemp("dash") / "events.db"
    return path, write_log(path, DEFINITION, 600)


@pytest.fixture(scope="module")
def board(logged):
    return dash.build_dashboard(logged[0], [DEFINITION], looks=40)


def users_at(raw, t):
    """Per user as of event time t (from the raw rows, in numpy): arm, converted, clicks,
    searches; users count once their first search is at or before t."""
    codes, names = pd.factorize(raw.user)
    ts, action = raw.ts.to_numpy(), raw.action.to_numpy()
    first = np.full(names.size, np.iinfo(np.int64).max)
    np.minimum.at(first, codes[action == "search"], ts[action == "search"])
    keep = (ts <= t) & (first[codes] <= t)
    present = first <= t

    def count(name):
        return np.bincount(codes[keep & (action == name)], minlength=names.size)[present]

    arm = raw.drop_duplicates("user").set_index("user").arm.reindex(names).to_numpy()
    return pd.DataFrame(
        {
            "user": names[present],
            "arm": arm[present],
            "converted": (count("conversion") > 0).astype(int),
            "clicks": count("click"),
            "searches": count("search"),
        }
    )


def test_the_panel_is_what_ab_test_sequential_prints(logged, board, capsys):
    path, raw = logged
    (panel,) = board.panels
    assert panel.status == "ok" and panel.type == "ab"
    assert panel.users == raw.drop_duplicates("user").groupby("arm").size().to_dict()
    argv = ["ab", "test", "--events", str(path), "--experiment", "exp-d", "--sequential"]
    for metric in dash.DASHBOARD_METRICS:
        argv += ["--metric", metric]
    assert run([*argv, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    shown = panel.to_dict()["analysis"]
    assert [m["name"] for m in shown["metrics"]] == list(dash.DASHBOARD_METRICS)
    for mine, cli in zip(shown["metrics"], printed["metrics"], strict=True):
        assert mine["name"] == cli["name"]
        assert mine["difference"] == pytest.approx(cli["difference"], rel=1e-12)
        assert mine["tests"][0]["method"] == "asymptotic-cs" == cli["tests"][0]["method"]
        assert mine["tests"][0]["pvalue"] == pytest.approx(cli["tests"][0]["pvalue"], rel=1e-9)
        assert mine["tests"][0]["interval"] == pytest.approx(cli["tests"][0]["interval"])
        assert mine["adjusted_pvalue"] == pytest.approx(cli["adjusted_pvalue"], rel=1e-9)
    assert panel.srm.looks == len(dash.look_times(panel.first_ms, panel.last_ms, 40))
    assert not panel.srm.mismatch
    assert "N* = 5,000" in board.method_note
    json.dumps(board.to_dict(), allow_nan=False)  # strict JSON


def test_every_look_is_the_log_as_it_stood_then(logged, board):
    _, raw = logged
    (panel,) = board.panels
    first, last = experiment_span(logged[0], "exp-d")
    assert (panel.first_ms, panel.last_ms) == (first, last)
    times = dash.look_times(first, last, 40)
    steps = set(np.diff([first, *times[:-1]]).tolist())
    assert 20 < len(times) <= 40 and times[-1] == last and len(steps) == 1
    assert steps.pop().bit_count() == 1  # every 2^k ms: a grid that stays put as data arrives
    at = {t: users_at(raw, t) for t in times}
    for path in panel.paths:
        assert path.ts_ms == tuple(times[-len(path.ts_ms) :])  # early looks may lack users
        assert len(path.ts_ms) >= len(times) - 2
        lows, highs, ps = [], [], []
        for j, t in enumerate(path.ts_ms):
            users = at[t]
            assert path.users[j] == len(users)
            c, v = (
                users[users.arm == a][path.name].to_numpy(float) for a in ("control", "variant")
            )
            est, low, high, p = (
                float(x)
                for x in difference_cs(
                    c.size, c.mean(), c.var(ddof=1), v.size, v.mean(), v.var(ddof=1)
                )
            )
            assert path.estimate[j] == pytest.approx(est, rel=1e-9, abs=1e-12)
            lows.append(low)
            highs.append(high)
            ps.append(p)
        # the sequence is intersected and the p-value's minimum kept over the looks, where
        # looks with no variation yet (a point sequence) count as uninformative
        points = np.asarray(highs) - np.asarray(lows) <= 0
        lows = np.where(points, -np.inf, lows)
        highs = np.where(points, np.inf, highs)
        ps = np.where(points, 1.0, ps)
        assert all(lo < hi for lo, hi in zip(path.ci_low, path.ci_high, strict=True))
        assert path.ci_low == pytest.approx(np.maximum.accumulate(lows).tolist(), rel=1e-9)
        assert path.ci_high == pytest.approx(np.minimum.accumulate(highs).tolist(), rel=1e-9)
        assert path.pvalue == pytest.approx(np.minimum.accumulate(ps).tolist(), rel=1e-9)
        assert all(lo <= e <= hi for lo, e, hi in zip(lows, path.estimate, highs, strict=True))


def test_look_times_keep_their_grid_as_the_experiment_grows():
    assert dash.look_times(100, 100) == [100]
    assert dash.look_times(0, 7, looks=1) == [7]
    assert dash.look_times(0, 10, looks=50) == list(range(1, 11))
    early = dash.look_times(0, 1_000, looks=50)
    later = dash.look_times(0, 5_000, looks=50)
    assert len(early) <= 50 and len(later) <= 50
    assert set(later[:-1]) <= set(early[:-1]) | set(range(1_000, 5_001))
    assert set(later[:-1]) & set(early[:-1])  # the coarser grid keeps every other look


def test_the_look_cache_recomputes_only_what_new_rows_can_change(tmp_path, monkeypatch):
    path = tmp_path / "growing.db"
    write_log(path, DEFINITION, 300, seed=11)
    computed = []
    real = dash.compute_looks

    def counted(events, experiment, times, options):
        computed.extend(times)
        return real(events, experiment, times, options)

    monkeypatch.setattr(dash, "compute_looks", counted)
    cache = dash.LookCache()
    cold = dash.build_dashboard(path, [DEFINITION], cache=cache)
    times = dash.look_times(cold.panels[0].first_ms, cold.panels[0].last_ms)
    assert computed == times and len(cache) == len(times)
    computed.clear()
    assert dash.build_dashboard(path, [DEFINITION], cache=cache).version == cold.version
    assert computed == []  # nothing new in the log: nothing computed
    first, last = experiment_span(path, "exp-d")
    late = first + (last - first) // 2  # a click that arrives late, stamped mid-experiment
    store = EventStore(path)
    batch = EventBatch(
        [Event("click", "q0-0", utc_timestamp(late), late, position=2)], last, 1, None
    )
    assert store.write([batch]) == [1]
    store.close()
    warm = dash.build_dashboard(path, [DEFINITION], cache=cache)
    assert computed == [t for t in times if t >= late] and 0 < len(computed) < len(times)
    fresh = dash.build_dashboard(path, [DEFINITION])
    assert warm.version == fresh.version != cold.version  # the same numbers as from scratch


def test_a_series_of_looks_equals_the_looks_one_by_one(tmp_path):
    """experiment_series materializes the activity once; each look must still equal the
    look computed on its own (the plain query over the whole log)."""
    path = tmp_path / "series.db"
    write_log(path, DEFINITION, 300, seed=5)
    first, last = experiment_span(path, "exp-d")
    times = [first - 1, first, (first + last) // 2, last, None]
    metrics = ["converted", "clicks", "searches"]
    series = experiment_series(path, "exp-d", metrics, until=times)
    for until_ms, together in zip(times, series, strict=True):
        alone = experiment_samples(path, "exp-d", metrics, until_ms=until_ms)
        assert together.users == alone.users and together.sql == alone.sql
        assert [str(s) for s in together.samples] == [str(s) for s in alone.samples]


def test_looks_before_any_conversion_do_not_empty_the_sequence(tmp_path):
    """No conversion yet: every user's value is 0, the sequence a point at 0. Such looks count
    as uninformative; intersecting them in would leave an empty sequence forever."""
    write_log(tmp_path / "late.db", DEFINITION, 400, seed=2, convert_from=150)
    panel = dash.build_dashboard(tmp_path / "late.db", [DEFINITION]).panels[0]
    converted = next(p for p in panel.paths if p.name == "converted")
    assert converted.ci_low[0] == -np.inf and converted.ci_high[0] == np.inf
    assert converted.estimate[0] == 0.0 and converted.pvalue[0] == 1.0
    assert np.isfinite(converted.ci_low[-1]) and np.isfinite(converted.ci_high[-1])
    assert all(lo < hi for lo, hi in zip(converted.ci_low, converted.ci_high, strict=True))
    page = dash.render_page(dash.build_dashboard(tmp_path / "late.db", [DEFINITION]))
    assert page.count("<polygon") == 3 and "inf" not in page.lower().replace("info", "")


def test_a_time_bound_before_anyone_arrived_sees_no_one(logged):
    path, raw = logged
    first, _ = experiment_span(path, "exp-d")
    before = experiment_samples(path, "exp-d", ["clicks"], until_ms=first - 1)
    assert before.users == {"control": 0, "variant": 0}
    at_first = experiment_samples(path, "exp-d", ["searches"], until_ms=first)
    assert sum(at_first.users.values()) == len(users_at(raw, first)) >= 1


def test_a_skewed_split_is_flagged_and_the_page_says_so(tmp_path):
    path = tmp_path / "skewed.db"
    write_log(path, DEFINITION, 800, seed=5, variant_fraction=0.62)
    board = dash.build_dashboard(path, [DEFINITION], looks=20)
    (panel,) = board.panels
    assert panel.srm.mismatch and panel.srm.pvalue < 0.001
    assert panel.users["variant"] > 1.3 * panel.users["control"]
    page = dash.render_page(board)
    assert "Sample ratio mismatch" in page and "SAMPLE RATIO MISMATCH" in page


def test_an_experiment_without_enough_users_says_why(tmp_path):
    path = tmp_path / "small.db"
    store = EventStore(path)
    store.register_experiments([DEFINITION], utc_timestamp(START))
    store.close()
    waiting = dash.build_dashboard(path, [DEFINITION]).panels[0]
    assert waiting.status == "no users yet: waiting" and waiting.analysis is None
    write_log(tmp_path / "one.db", DEFINITION, 1)
    one = dash.build_dashboard(tmp_path / "one.db", [DEFINITION]).panels[0]
    assert one.status.startswith("not enough data yet") and sum(one.users.values()) == 1
    for board in (
        dash.build_dashboard(path, [DEFINITION]),
        dash.build_dashboard(tmp_path / "one.db", [DEFINITION]),
    ):
        page = dash.render_page(board)
        assert "<svg" not in page and 'class="status wait"' in page
    nothing = dash.build_dashboard(path, [])  # a service without experiments
    assert nothing.panels == () and "runs no experiments" in dash.render_page(nothing)


def test_a_log_that_cannot_answer_is_the_panels_status(tmp_path):
    (tmp_path / "x.db").write_text("hello")
    (panel,) = dash.build_dashboard(tmp_path / "x.db", [DEFINITION]).panels
    assert "not an SQLite database" in panel.status and panel.analysis is None
    assert "not an SQLite database" in dash.render_page(
        dash.build_dashboard(tmp_path / "x.db", [DEFINITION])
    )


def test_the_page_escapes_names_and_draws_one_plot_per_metric(logged):
    path, _ = logged
    odd = dict(DEFINITION, control="<b>bm25</b>")
    page = dash.render_page(dash.build_dashboard(path, [odd], looks=10))
    assert "<b>bm25</b>" not in page and "&lt;b&gt;bm25&lt;/b&gt;" in page
    assert page.count("<svg") == len(dash.DASHBOARD_METRICS)
    assert "<script>" not in page and "style=" not in page  # the CSP allows neither inline
    assert "N* = 5,000" in page


def test_intervals_are_shown_within_the_values_their_quantity_can_take():
    assert dash._interval(0.056, 1.36, 100, (0, 1)) == "[5.6%, 100%]"  # a preference share
    assert dash._interval(-1.4, 0.3, 100, (-1, 1), signed=True) == "[-100, +30]"  # points
    assert dash._interval(-3.0, 2.0, 1, None, signed=True) == "[-3, +2]"
    assert dash._interval(-math.inf, math.inf, 100, (-1, 1), signed=True) == "no variation yet"


def test_a_point_sequence_is_never_called_a_win():
    """2 users per arm, none converting in the control and all in the variant: the plug-in
    variance is 0, so the library gives the unbounded sequence and p = 1; the page says there
    is no variation yet instead of naming a winner."""
    from searchlab.ab.sequential import sequential_test

    analysis = sequential_test((0, 2), (2, 2), name="converted")
    assert not analysis.metrics[0].significant
    row = dash._metrics_table(analysis)
    assert "no variation yet" in row and "wins" not in row


def test_the_same_data_gives_the_same_version(logged, board):
    again = dash.build_dashboard(logged[0], [DEFINITION], looks=40)
    assert again.version == board.version
    assert dash.build_dashboard(logged[0], [DEFINITION], looks=20).version != board.version


def test_live_dashboard_computes_once_per_interval(logged, monkeypatch):
    calls = []
    real = dash.build_dashboard

    def counted(*args, **kwargs):
        calls.append(kwargs["looks"])
        return real(*args, **kwargs)

    monkeypatch.setattr(dash, "build_dashboard", counted)

    async def scenario():
        cached = dash.LiveDashboard(logged[0], ttl=3600)
        boards = await asyncio.gather(*(cached.get([DEFINITION], 10) for _ in range(5)))
        assert all(b is boards[0] for b in boards) and calls == [10]
        assert await cached.get([DEFINITION], 10) is boards[0] and calls == [10]
        await cached.get([DEFINITION], 12)  # another request shape is its own entry
        fresh = dash.LiveDashboard(logged[0], ttl=-1.0)
        first = await fresh.get([DEFINITION], 10)
        assert await fresh.get([DEFINITION], 10) is not first  # expired: computed again
        return calls

    assert asyncio.run(scenario()) == [10, 12, 10, 10]


def test_a_page_asked_for_during_a_long_first_computation_fills_in_by_itself(logged, monkeypatch):
    import threading

    release = threading.Event()
    real = dash.build_dashboard

    def slow(*args, **kwargs):
        assert release.wait(timeout=60), "the test never released the computation"
        return real(*args, **kwargs)

    monkeypatch.setattr(dash, "build_dashboard", slow)

    async def scenario():
        live = dash.LiveDashboard(logged[0])
        assert await live.get([DEFINITION], 10, wait=0.05) is None  # still computing
        release.set()
        board = await live.get([DEFINITION], 10)  # the same computation, finished
        assert await live.get([DEFINITION], 10, wait=0.05) is board
        return board

    board = asyncio.run(scenario())
    pending = dash.render_page(None)
    assert 'data-version=""' in pending and "fills in by itself" in pending
    assert "N* = 5,000" in pending and "/static/dashboard.js" in pending
    assert f'data-version="{board.version}"' in dash.render_page(board)


# ------------------------------------------------------------------------ in the service


@pytest.fixture
def busy_service(search_setup, serve_config):
    """The service over a log that already holds an hour of the experiment's traffic."""
    from searchlab.serve.service import ServiceThread

    plan = load_experiments(search_setup.experiments, ["bm25", "listnet"])
    definition = plan.experiments[0].definition()
    write_log(serve_config.events, definition, 400, start=time.time_ns() // 1_000_000 - HOUR)
    with ServiceThread(serve_config) as running:
        yield running


def test_api_dashboard_answers_json_and_refuses_bad_requests(busy_service):
    import httpx

    with httpx.Client(base_url=busy_service.url, timeout=60) as http:
        answer = http.get("/api/dashboard", params={"looks": 12})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        (panel,) = body["panels"]
        assert panel["experiment"] == "listnet-vs-bm25" and panel["status"] == "ok"
        assert sum(panel["users"].values()) == 400
        assert [p["name"] for p in panel["paths"]] == list(dash.DASHBOARD_METRICS)
        assert len(panel["paths"][0]["ts_ms"]) <= 12
        assert body["method"] == "asymptotic-cs" and body["refresh_seconds"] == 5
        one = http.get("/api/dashboard", params={"experiment": "listnet-vs-bm25"}).json()
        assert one["looks"] == 50 and len(one["panels"]) == 1
        page = http.get("/dashboard")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert "listnet-vs-bm25" in page.text and page.text.count("<svg") == 3
        for path in ("/static/dashboard.js", "/static/dashboard.css"):
            assert http.get(path).status_code == 200
        bad = [
            ({"look": "3"}, 400, "unknown parameter 'look'"),
            ({"looks": "0"}, 400, "looks must be a whole number"),
            ({"looks": "abc"}, 400, "looks must be a whole number"),
            ({"looks": "9" * 50}, 400, "looks must be a whole number"),
            ({"looks": "٣"}, 400, "looks must be a whole number"),
            ({"experiment": "nope"}, 404, "no running experiment 'nope'"),
            ([("looks", "3"), ("looks", "4")], 400, "looks is given more than once"),
        ]
        for params, status, fragment in bad:
            answer = http.get("/api/dashboard", params=params)
            assert answer.status_code == status, (params, answer.text)
            assert fragment in answer.json()["error"]["message"], answer.text
        assert http.post("/api/dashboard").status_code == 405
        assert http.post("/api/dashboard").json()["error"]["status"] == 405
        page = http.get("/dashboard", params={"looks": "-1"})
        assert page.status_code == 400 and "looks must be" in page.text


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_the_dashboard_in_a_browser_refreshes_itself(busy_service, chromium_page, tmp_path):
    import httpx
    from PIL import Image

    page = chromium_page.page
    shot = tmp_path / "dashboard.png"
    page.goto(busy_service.url + "/dashboard", wait_until="load")
    page.wait_for_selector("svg polyline")
    assert page.locator("figure").count() == 3
    assert "Sample ratio OK" in page.inner_text("p.srm")
    before = page.inner_text("main table")
    assert "400" in before.replace(",", "")  # users across both arms' rows
    page.screenshot(path=str(shot), full_page=True)
    # new users arrive; the page notices through /api/dashboard and redraws itself
    with httpx.Client(base_url=busy_service.url, timeout=30) as http:
        for u in range(40):
            response = http.get("/api/search", params={"q": "heat flow", "user": f"n{u}"})
            assert response.status_code == 200
    page.wait_for_function(
        "() => { const m = document.querySelector('main table');"
        " return m && m.innerText !== " + json.dumps(before) + "; }",
        timeout=30_000,
    )
    assert "updated" in page.inner_text("#refresh-status")
    assert not chromium_page.problems, chromium_page.problems
    assert not chromium_page.failed, chromium_page.failed
    width, height = png_size(shot.read_bytes())
    assert width >= 1000 and height >= 800 and shot.stat().st_size > 20_000
    with Image.open(shot) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 50  # text, tables and plots, not a blank page


def test_under_live_writes_the_cached_dashboard_equals_one_computed_from_scratch(busy_service):
    """Searches land while pages poll; once they stop, the service's dashboard (its looks kept
    across refreshes) is the one computed afresh from the log."""
    import threading

    import httpx

    url, events = busy_service.url, busy_service.config.events
    errors: list[str] = []

    def traffic(worker):
        with httpx.Client(base_url=url, timeout=60) as http:
            for u in range(15):
                answer = http.get(
                    "/api/search", params={"q": "wing flutter", "user": f"w{worker}-{u}"}
                )
                if answer.status_code != 200:
                    errors.append(answer.text)

    workers = [threading.Thread(target=traffic, args=(w,)) for w in range(4)]
    with httpx.Client(base_url=url, timeout=120) as http:
        for w in workers:
            w.start()
        polled = [http.get("/api/dashboard", params={"looks": 8}) for _ in range(6)]
        for w in workers:
            w.join()
        assert not errors and all(a.status_code == 200 for a in polled)
        definition = (
            load_experiments(busy_service.config.experiments, ["bm25", "listnet"])
            .experiments[0]
            .definition()
        )
        for _ in range(100):  # bounded: until the cached answer has seen every search
            shown = http.get("/api/dashboard", params={"looks": 8}).json()
            if sum(shown["panels"][0]["users"].values()) == 460:
                break
            time.sleep(0.1)
    fresh = dash.build_dashboard(events, [definition], looks=8)
    assert sum(fresh.panels[0].users.values()) == 460
    assert shown["version"] == fresh.version


# ------------------------------------------------------------------- interleaving experiments

MIXED = (
    '[[experiment]]\nid = "ab-half"\ntype = "ab"\nsalt = "ab-salt"\ncontrol = "bm25"\n'
    'variant = "listnet"\nslice = [0.0, 0.5]\n'
    '[[experiment]]\nid = "tdi"\ntype = "interleave"\nsalt = "tdi-salt"\ncontrol = "bm25"\n'
    'variant = "listnet"\nslice = [0.5, 1.0]\n'
)


@pytest.fixture(scope="module")
def mixed_service(search_setup, tmp_path_factory):
    """A service running an A/B and a team-draft interleaving experiment (half the layer
    each), after 80 users searched twice: in the interleaved lists a quarter click the
    control team's results in the top 3, a quarter the first result, the others the variant
    team's results in the top 3."""
    import httpx

    from searchlab.serve.service import ServeConfig, ServiceThread

    root = tmp_path_factory.mktemp("mixed")
    (root / "experiments.toml").write_text(MIXED)
    config = ServeConfig(
        index=search_setup.index_dir,
        rankers=search_setup.rankers,
        experiments=root / "experiments.toml",
        events=root / "events.db",
        port=0,
    )
    topics = [q.text for q in search_setup.corpus.judged_queries()][:5]
    with ServiceThread(config) as running, httpx.Client(base_url=running.url, timeout=30) as http:
        for u in range(80):
            for j in range(2):
                params = {"q": topics[(u + j) % len(topics)], "user": f"m{u}"}
                params["query_id"] = f"dash.m{u}.{j}"  # the coins hash it: the same lists each run
                body = http.get("/api/search", params=params).json()
                results = body["results"]
                if body["experiment"] == "tdi":
                    team = "control" if u % 4 == 0 else "variant"
                    clicks = [r["position"] for r in results[:3] if r["team"] == team]
                    clicks = [1] if u % 4 == 1 else clicks
                else:
                    clicks = [1] if u % 2 else []
                events = [
                    {
                        "action_name": "click",
                        "query_id": body["query_id"],
                        "event_attributes": {"position": {"ordinal": p}},
                    }
                    for p in clicks
                ]
                if events:
                    assert http.post("/api/events", json=events).status_code == 200
        yield running, load_experiments(config.experiments, ["bm25", "listnet"])


def test_the_interleaving_panel_is_the_sign_test_of_the_log(mixed_service):
    import httpx

    from searchlab.ab.interleave import interleaving_test
    from searchlab.serve.analysis import interleave_frame, search_times

    running, _ = mixed_service
    events = running.config.events
    with httpx.Client(base_url=running.url, timeout=60) as http:
        body = http.get("/api/dashboard").json()
        page = http.get("/dashboard").text
    ab, tdi = body["panels"]
    assert (ab["type"], tdi["type"]) == ("ab", "interleave") and tdi["srm"] is None
    frame = interleave_frame(events, "tdi")
    expected = interleaving_test(frame, sequential=True).to_dict()
    assert expected.pop("per_topic")  # left out: a row per query text on every refresh
    assert tdi["analysis"] == json.loads(json.dumps(expected))
    share = expected["metrics"][0]["preference_share"]
    assert sum(tdi["users"].values()) == frame.user_id.nunique() > 20
    assert tdi["users"]["variant"] > tdi["users"]["control"]
    (path,) = tdi["paths"]
    assert path["name"] == "preference" and path["estimate"][-1] == pytest.approx(share - 0.5)
    # each look: the searches made by then, their users' preferences, the running sequence
    when = frame.query_id.map(search_times(events, "tdi"))
    lows, highs = [], []
    for j, t in enumerate(path["ts_ms"]):
        preference = frame[when <= t].groupby("user_id").credit.sum()
        wins, losses = int((preference > 0).sum()), int((preference < 0).sum())
        assert path["users"][j] == len(preference)
        assert path["estimate"][j] == pytest.approx(wins / (wins + losses) - 0.5)
        low, high, _ = dash.share_sequence(wins, wins + losses)
        lows.append(float(low) - 0.5)
        highs.append(float(high) - 0.5)
    points = np.asarray(highs) - np.asarray(lows) <= 0  # no variation yet: uninformative
    lows, highs = np.where(points, -np.inf, lows), np.where(points, np.inf, highs)
    shown_low = [-np.inf if x is None else x for x in path["ci_low"]]  # JSON null: infinite
    shown_high = [np.inf if x is None else x for x in path["ci_high"]]
    assert shown_low == pytest.approx(np.maximum.accumulate(lows).tolist())
    assert shown_high == pytest.approx(np.minimum.accumulate(highs).tolist())
    assert np.isfinite(shown_low[-1]) and shown_low[-1] < path["estimate"][-1] < shown_high[-1]
    assert page.count("<svg") == 4 and "exact sign test" in page
    assert "no variation yet" in page  # nobody converted in the A/B half: no interval to show
    assert "every user sees one list merged from both rankers" in page


def test_an_interleaving_experiment_in_a_browser(mixed_service, chromium_page, tmp_path):
    running, _ = mixed_service
    page = chromium_page.page
    page.goto(running.url + "/dashboard", wait_until="load")
    page.wait_for_selector("svg polyline", state="attached")  # no conversions: a flat line
    assert page.locator("figure").count() == 4
    assert "exact sign test" in page.inner_text("main")
    shot = tmp_path / "dashboard-interleave.png"
    page.screenshot(path=str(shot), full_page=True)
    assert not chromium_page.problems, chromium_page.problems
    assert not chromium_page.failed, chromium_page.failed
    width, height = png_size(shot.read_bytes())
    assert width >= 1000 and height >= 1000 and shot.stat().st_size > 20_000
