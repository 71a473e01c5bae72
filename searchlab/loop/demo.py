"""``searchlab demo``: the whole loop on the bundled Cranfield collection, with stage timings.

Stages: serve Cranfield as a local site → fetch its title dump and crawl every page into WARC
→ import the pages into a corpus (document ids from the pages' meta tag) and attach the
Cranfield queries and judgments → offline evaluation of BM25 vs BM25 + ListNet (word
embeddings, 5-fold cross-validation over queries, paired permutation test) → simulate an A/B
test (control sees the BM25 rankings, variant the held-out ListNet rankings) → A/B analysis
and power check with ``searchlab.ab`` → the live stage → ``summary.json`` and ``index.html``.

**The live stage** serves the crawled corpus: it builds the search index, trains ListNet on
every judged query but every fifth (those are the live topics, never trained on; the text
job's default 100 epochs, also with ``--quick``), and runs
``searchlab serve`` in a background thread (port 0, loopback) with one event log and a
result cache (the users search 45 topics; a cached ranking is the ranker's answer). Simulated
users (:mod:`searchlab.loop.live`: the offline simulation's users and click model, over HTTP)
search it in an A/B experiment (BM25 vs ListNet, 50/50) and then in a team-draft
interleaving experiment of the same pair. The A/B is read back from its per-user table, the
interleaving from the log (``serve.analysis.interleave_frame``), and each is looked at after
every 1/``LIVE_LOOKS`` of its users to find how many users it needed to reach significance
(the rule: :data:`searchlab.loop.live.STOPPING_RULE`). The draws are per user and the query
ids come from the seed, so the numbers do not depend on the order concurrent requests were
answered.

Every stage writes its own JSON into ``DIR/stages/``; the report's numbers are copied from
those results, and the end-to-end test checks the two agree. ``--quick`` keeps all 1,400
documents and 225 queries but uses 20,000 users and the text pipeline's quick settings
(5 instead of 20 word2vec epochs, 20 instead of 100 ListNet epochs), so a test can run it.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from searchlab import __version__
from searchlab._io import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    check_output_folder,
    staged_folder,
)
from searchlab.errors import InputError

WORK_MARKER = ".searchlab-demo"
DEFAULT_USERS = 200_000
QUICK_USERS = 20_000
QUICK_WORD2VEC_EPOCHS = 5  # the text job's defaults: 20
QUICK_LISTNET_EPOCHS = 20  # the text job's defaults: 100
LIVE_USERS = {"ab": 10_000, "interleave": 10_000}  # users run per live experiment
QUICK_LIVE_USERS = {"ab": 1_000, "interleave": 1_000}
LIVE_LOOKS = 20
LIVE_HOLD_OUT = 5  # every 5th judged query is a live topic, never trained on
LIVE_CONCURRENCY = 8
LIVE_RESULT_CACHE = 1_000  # the service keeps the rankings of the 45 live topics (--result-cache)


@dataclass(frozen=True)
class DemoConfig:
    out_dir: Path = Path("demo-report")
    users: int | None = None  # None → DEFAULT_USERS (QUICK_USERS with quick)
    seed: int = 0
    quick: bool = False
    folds: int = 5
    alpha: float = 0.05
    target_power: float = 0.8
    variant_share: float = 0.5
    salt: str = "searchlab-demo"
    crawl_concurrency: int = 32
    live_users: int | None = None  # per live experiment; None → LIVE_USERS; 0 → no live stage

    def __post_init__(self) -> None:
        self.design()  # validates users, split, salt and seed
        if self.folds < 2:
            raise InputError(f"need at least 2 folds, got {self.folds}", hint="use --folds 5")
        if not 0 < self.alpha < 1 or not 0 < self.target_power < 1:
            raise InputError(
                "alpha and power must lie strictly between 0 and 1", hint="e.g. 0.05, 0.8"
            )
        if self.crawl_concurrency < 1:
            raise InputError("crawl concurrency must be at least 1", hint="e.g. 32")
        if self.live_users is not None and self.live_users != 0 and self.live_users < 100:
            raise InputError(
                f"--live-users must be 0 (no live stage) or at least 100, got {self.live_users}",
                hint="e.g. --live-users 10000",
            )

    def design(self):
        from searchlab.loop.simulate import ExperimentDesign

        return ExperimentDesign(
            users=self.user_count,
            variant_share=self.variant_share,
            salt=self.salt,
            seed=self.seed,
        )

    @property
    def user_count(self) -> int:
        if self.users is not None:
            return self.users
        return QUICK_USERS if self.quick else DEFAULT_USERS


class DemoProgress(Protocol):
    """What a display needs; the CLI implements it with rich, tests with a recorder."""

    def start(self, stage: str, label: str, total: float | None) -> None: ...
    def update(
        self, stage: str, completed: float, total: float | None = None, note: str | None = None
    ) -> None: ...
    def finish(self, stage: str, seconds: float, detail: str) -> None: ...


class _Silent:
    def start(self, stage: str, label: str, total: float | None) -> None:
        pass

    def update(
        self, stage: str, completed: float, total: float | None = None, note: str | None = None
    ) -> None:
        pass

    def finish(self, stage: str, seconds: float, detail: str) -> None:
        pass


@dataclass(frozen=True)
class StageTiming:
    name: str
    label: str
    seconds: float
    detail: str


@dataclass(frozen=True)
class DemoResult:
    out_dir: Path
    report_path: Path
    summary_path: Path
    stages: tuple[StageTiming, ...]
    summary: dict[str, Any] = field(repr=False)


STAGES = {
    "site": "Serve Cranfield as a local site",
    "crawl": "Crawl its title dump into WARC",
    "import": "Import the pages as a corpus",
    "offline": "Embeddings + ListNet, offline eval",
    "simulate": "Simulate the A/B test's users",
    "ab": "A/B analysis and power check",
    "live": "Serve it: live A/B vs interleaving",
    "report": "Write the report",
}


class _Stages:
    def __init__(self, progress: DemoProgress) -> None:
        self.progress = progress
        self.timings: list[StageTiming] = []

    def run(self, name: str, work: Callable[[Callable[..., None]], tuple[Any, str]], total=None):
        self.progress.start(name, STAGES[name], total)
        began = time.perf_counter()
        result, detail = work(
            lambda done, total=None, note=None: self.progress.update(name, done, total, note)
        )
        seconds = time.perf_counter() - began
        self.timings.append(StageTiming(name, STAGES[name], seconds, detail))
        self.progress.finish(name, seconds, detail)
        return result


def check_demo_output(out: Path) -> None:
    """Refuse --out before any work: a file, a folder holding something other than an earlier
    demo report, or an unwritable place."""
    check_output_folder(
        Path(out), ours=lambda p: (p / "work" / WORK_MARKER).is_file(), what="searchlab demo report"
    )


def run_demo(config: DemoConfig, progress: DemoProgress | None = None) -> DemoResult:
    """Run every stage; returns where the report is and how long each stage took.

    Everything is built in a hidden folder beside ``config.out_dir`` and renamed into place at
    the end, so a failed or interrupted run leaves the previous report (or nothing) behind.
    """
    out = Path(config.out_dir)
    check_demo_output(out)
    with staged_folder(out) as build:
        timings, summary = _run_stages(config, build, progress or _Silent())
    return DemoResult(
        out_dir=out,
        report_path=out / "index.html",
        summary_path=out / "summary.json",
        stages=timings,
        summary=summary,
    )


def _run_stages(
    config: DemoConfig, out: Path, progress: DemoProgress
) -> tuple[tuple[StageTiming, ...], dict[str, Any]]:
    from searchlab.loop.analysis import analyse_conversion, power_check
    from searchlab.loop.report import PLOT_FILE, conclusions, write_report

    design = config.design()
    work = out / "work"
    atomic_write_text(work / WORK_MARKER, "scratch space of searchlab demo; safe to delete\n")
    stages_dir = out / "stages"
    stages = _Stages(progress)
    started = time.perf_counter()

    from searchlab.loop._bundled import bundled_cranfield
    from searchlab.loop.site import SiteThread, build_site

    cranfield = stages.run("site", lambda _: _site_stage(bundled_cranfield, build_site))
    site, reference = cranfield
    with SiteThread(site) as served:
        crawl_summary = stages.run(
            "crawl", lambda update: _crawl_stage(served, work, config, update), total=len(site)
        )
    # the crawl's numbers, not its paths: those point into the build folder, renamed at the end
    crawl_numbers = _crawl_numbers(crawl_summary)
    atomic_write_json(stages_dir / "crawl.json", crawl_numbers)

    corpus = stages.run("import", lambda _: _import_stage(crawl_summary, reference, work))
    corpus_stats = {
        "documents": len(corpus.documents),
        "queries": len(corpus.queries),
        "judged_queries": len(corpus.judged_queries()),
        "judgments": corpus.judgment_count,
        "reference_documents": len(reference.documents),
        "reference_judgments": reference.judgment_count,
    }
    atomic_write_json(stages_dir / "corpus.json", corpus_stats)

    evaluation = stages.run(
        "offline", lambda update: _offline_stage(corpus, config, update), total=None
    )
    offline = _offline_summary(evaluation, config)
    atomic_write_json(stages_dir / "offline.json", offline)

    def simulate(_: Any) -> tuple[Any, str]:
        from searchlab.loop.simulate import simulate_experiment, write_user_table

        sim = simulate_experiment(
            evaluation.rankings["bm25"], evaluation.rankings["listnet"], corpus.judgments, design
        )
        write_user_table(sim.table, out / "users.parquet")
        return sim, (
            f"{design.users:,} users, {sim.control.queries + sim.variant.queries:,} searches"
        )

    sim = stages.run("simulate", simulate)
    simulation = {**sim.summary(), "users_file": "users.parquet"}
    atomic_write_json(stages_dir / "simulation.json", simulation)

    def analyse(_: Any) -> tuple[Any, str]:
        ab = analyse_conversion(
            sim.table,
            alpha=config.alpha,
            planned_variant_share=config.variant_share,
            plot_path=out / PLOT_FILE,
        )
        power = power_check(
            sim,
            users_per_group=min(ab["control"]["users"], ab["variant"]["users"]),
            alpha=config.alpha,
            target_power=config.target_power,
        )
        return (ab, power), f"exact permutation p = {ab['pvalues']['exact-permutation']:.3g}"

    ab, power = stages.run("ab", analyse)
    atomic_write_json(stages_dir / "ab.json", ab)
    atomic_write_json(stages_dir / "power.json", power)

    live = None
    if config.live_users != 0:
        live = stages.run(
            "live", lambda update: _live_stage(corpus, config, work, update), total=None
        )
        atomic_write_json(stages_dir / "live.json", live)

    def report(_: Any) -> tuple[Any, str]:
        summary = {
            "searchlab_version": __version__,
            "created_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "settings": {
                "seed": config.seed,
                "quick": config.quick,
                "users": design.users,
                "folds": config.folds,
                "alpha": config.alpha,
                "target_power": config.target_power,
                "variant_share": config.variant_share,
                "salt": config.salt,
            },
            "site": {"pages": len(site)},
            "crawl": crawl_numbers,
            "corpus": corpus_stats,
            "offline": offline,
            "simulation": _jsonable(simulation),
            "ab": ab,
            "power": power,
            "live": live,
            "files": {"plot": PLOT_FILE, "users": "users.parquet", "stages": "stages/"},
        }
        summary["stages"] = [
            {"name": t.name, "label": t.label, "seconds": t.seconds, "detail": t.detail}
            for t in stages.timings
        ]
        summary["total_seconds"] = time.perf_counter() - started
        summary["conclusions"] = conclusions(summary)
        write_report(out, summary, out / PLOT_FILE)
        return summary, "index.html, summary.json"

    summary = stages.run("report", report)
    return tuple(stages.timings), summary


def _jsonable(obj: Any) -> Any:
    from searchlab._json import to_jsonable

    return to_jsonable(obj)


def _site_stage(bundled_cranfield: Callable[[], Any], build_site: Callable[..., Any]):
    reference = bundled_cranfield()
    site = build_site(reference.documents)
    return (site, reference), f"{len(site):,} pages, {len(reference.queries)} queries"


def _crawl_stage(served: Any, work: Path, config: DemoConfig, update: Callable[..., None]):
    from searchlab.crawl import CrawlConfig, crawl

    dump = work / "all-titles.gz"
    with urllib.request.urlopen(served.base_url + "/dumps/all-titles.gz", timeout=30) as response:
        atomic_write_bytes(dump, response.read())
    summary = crawl(
        CrawlConfig(
            source=dump,
            out_dir=work / "crawl",
            url_template=served.url_template,
            concurrency=config.crawl_concurrency,
            handle_signals=False,
            seed=config.seed,
        ),
        progress=lambda snapshot: update(snapshot.done + snapshot.failed),
    )
    if summary.done == 0:
        raise InputError("the crawl fetched no page", hint="see DIR/work/crawl for its state")
    return summary, (
        f"{summary.done:,} pages ({summary.pages_per_second:,.0f}/s), {summary.failed} failed"
    )


def _crawl_numbers(summary: Any) -> dict[str, Any]:
    return {
        "done": summary.done,
        "failed": summary.failed,
        "skipped": summary.skipped,
        "pages_per_second": summary.pages_per_second,
        "by_status": summary.by_status,
        "warc_files": len(summary.warc_files),
    }


def _import_stage(crawl_summary: Any, reference: Any, work: Path):
    from searchlab.text.corpus import import_warc, save_corpus
    from searchlab.text.model import Corpus

    crawled = import_warc(list(crawl_summary.warc_files))
    present = {d.doc_id for d in crawled.documents}
    judgments = {
        qid: {doc: grade for doc, grade in docs.items() if doc in present}
        for qid, docs in reference.judgments.items()
    }
    corpus = Corpus(
        crawled.documents, reference.queries, judgments, source="demo:crawled-cranfield"
    )
    save_corpus(corpus, work / "corpus")
    missing = len(reference.documents) - len(present & {d.doc_id for d in reference.documents})
    return corpus, (
        f"{len(corpus.documents):,} docs{f' ({missing} missing)' if missing else ''}, "
        f"{len(corpus.queries)} queries, {corpus.judgment_count:,} judgments"
    )


def _offline_stage(corpus: Any, config: DemoConfig, update: Callable[..., None]):
    from searchlab.text.embeddings import Word2VecConfig
    from searchlab.text.features import FeatureConfig
    from searchlab.text.pipeline import evaluate_text_ranking, progress_steps
    from searchlab.text.training import default_train_config

    # quick: fewer embedding and ListNet epochs; the same documents, queries and folds.
    word2vec = Word2VecConfig(
        seed=config.seed, **({"epochs": QUICK_WORD2VEC_EPOCHS} if config.quick else {})
    )
    train = default_train_config(
        config.seed, **({"epochs": QUICK_LISTNET_EPOCHS} if config.quick else {})
    )
    steps = progress_steps(config.folds, selecting=True)
    messages: list[str] = []

    def progress(message: str) -> None:
        messages.append(message)
        update(len(messages) - 1, steps, message)

    evaluation = evaluate_text_ranking(
        corpus,
        folds=config.folds,
        seed=config.seed,
        progress=progress,
        feature_config=FeatureConfig(word2vec=word2vec),
        train_config=train,
    )
    update(steps, steps)
    bm25 = evaluation.metrics["bm25"]["ndcg@10"]
    listnet = evaluation.metrics["listnet"]["ndcg@10"]
    return evaluation, f"NDCG@10 {bm25:.4f} → {listnet:.4f}, p = {evaluation.pvalue:.3g}"


def _offline_summary(evaluation: Any, config: DemoConfig) -> dict[str, Any]:
    from searchlab.text.pipeline import RANKERS
    from searchlab.text.pipeline import REPORTED_METRICS as reported

    metrics = {name: {m: float(evaluation.metrics[name][m]) for m in reported} for name in RANKERS}
    return {
        "folds": evaluation.folds,
        "seed": evaluation.seed,
        "queries": evaluation.n_queries,
        "documents": evaluation.n_documents,
        "metrics": metrics,
        "differences": {m: metrics["listnet"][m] - metrics["bm25"][m] for m in reported},
        "pvalues": {m: float(evaluation.pvalues[m]) for m in reported},
        "pvalue": float(evaluation.pvalue),
        "test_method": f"{evaluation.test_method}, two-sided",
        "feature_groups": [fold["feature_groups"] for fold in evaluation.per_fold],
        "timings": {k: float(v) for k, v in evaluation.timings.items()},
        "settings": _jsonable(evaluation.settings),
    }


def _live_stage(corpus: Any, config: DemoConfig, work: Path, update: Callable[..., None]):
    """Serve the crawled corpus; A/B and interleaving users over HTTP; users to significance."""
    from searchlab.ab.sequential import DEFAULT_TUNING_SIZE
    from searchlab.loop.live import (
        STOPPING_RULE,
        LiveDesign,
        ab_stopping,
        interleaving_stopping,
        simulate_live,
        user_preferences_in_order,
    )
    from searchlab.serve.analysis import interleave_frame
    from searchlab.serve.service import ServeConfig, ServiceThread
    from searchlab.text.embeddings import Word2VecConfig
    from searchlab.text.features import FeatureConfig
    from searchlab.text.index import build_index, load_index
    from searchlab.text.rerank import train_text_reranker
    from searchlab.text.training import default_train_config

    quick = config.quick
    users = QUICK_LIVE_USERS if quick else LIVE_USERS
    if config.live_users is not None:
        users = dict.fromkeys(users, config.live_users)
    update(0, 4, "index")
    index_dir = work / "index"
    word2vec = Word2VecConfig(
        seed=config.seed, **({"epochs": QUICK_WORD2VEC_EPOCHS} if quick else {})
    )
    build_index(corpus, index_dir, config=FeatureConfig(word2vec=word2vec))
    held_out = [q.query_id for q in corpus.judged_queries()][::LIVE_HOLD_OUT]
    update(1, 4, "ListNet")
    loaded = load_index(index_dir)
    try:
        reranker = train_text_reranker(
            corpus,
            index=loaded.text,
            # the text job's default epochs even when quick: training on ~180 queries takes
            # seconds, and the served model is the one both live experiments compare
            train_config=default_train_config(config.seed),
            exclude_queries=held_out,
        )
    finally:
        loaded.close()
    model_dir = work / "listnet-model"
    reranker.save(model_dir)
    events = work / "live-events.db"
    experiments = {
        "ab": f'type = "ab"\nsalt = "{config.salt}-live-ab"\nvariant_share = 0.5\n',
        "interleave": f'type = "interleave"\nmethod = "team-draft"\nsalt = "{config.salt}-live-tdi"\n',
    }
    runs = {}
    for step, (kind, body) in enumerate(experiments.items(), start=2):
        update(step, 4, f"{users[kind]:,} users, {kind}")
        toml = work / f"live-{kind}.toml"
        toml.write_text(
            f'[[experiment]]\nid = "live-{kind}"\n{body}control = "bm25"\nvariant = "listnet"\n',
            encoding="utf-8",
        )
        serve_config = ServeConfig(
            index=index_dir,
            rankers=("bm25", f"listnet={model_dir}"),
            experiments=toml,
            events=events,
            port=0,
            result_cache=LIVE_RESULT_CACHE,
        )
        with ServiceThread(serve_config) as service:
            runs[kind] = simulate_live(
                LiveDesign(
                    url=service.url,
                    users=users[kind],
                    concurrency=LIVE_CONCURRENCY,
                    seed=config.seed,
                ),
                corpus,
            )
    update(4, 4)
    ab_run, il_run = runs["ab"], runs["interleave"]
    ab_table = ab_run.table.sort_values("user_id")
    ab_stop = ab_stopping(
        ab_table["arm"].astype(str).to_numpy(),
        ab_table["converted"].to_numpy(),
        looks=LIVE_LOOKS,
        alpha=config.alpha,
    )
    frame = interleave_frame(events, il_run.experiment)
    sign_stop, cs_stop = interleaving_stopping(
        user_preferences_in_order(frame), looks=LIVE_LOOKS, alpha=config.alpha
    )
    rule = STOPPING_RULE.format(looks=LIVE_LOOKS, alpha=config.alpha, tuning=DEFAULT_TUNING_SIZE)
    ratio = ab_stop.bound / sign_stop.bound if sign_stop.users_needed else None
    result = {
        "topics": len(ab_run.topics),
        "held_out_every": LIVE_HOLD_OUT,
        "concurrency": LIVE_CONCURRENCY,
        "looks": LIVE_LOOKS,
        "stopping_rule": rule,
        "ab": {
            **_live_numbers(ab_run),
            "arms": _jsonable(ab_run.arms),
            "stopping": _jsonable(ab_stop),
        },
        "interleave": {
            **_live_numbers(il_run),
            "summary": _jsonable(il_run.interleaving),
            "stopping": _jsonable(sign_stop),
            "stopping_always_valid": _jsonable(cs_stop),
        },
        "ratio": ratio,
        # A/B never significant within its users: the ratio is a lower bound
        "ratio_is_lower_bound": ab_stop.users_needed is None,
        "ratio_always_valid": (ab_stop.bound / cs_stop.bound if cs_stop.users_needed else None),
    }
    il_text = (
        f"{sign_stop.users_needed:,}" if sign_stop.users_needed else f"> {sign_stop.users_run:,}"
    )
    ab_text = f"{ab_stop.users_needed:,}" if ab_stop.users_needed else f"> {ab_stop.users_run:,}"
    return result, f"users to significance: A/B {ab_text}, interleaving {il_text}"


def _live_numbers(run: Any) -> dict[str, Any]:
    return {
        "experiment": run.experiment,
        "users": run.users,
        "searches": run.searches,
        "events": run.events_accepted,
        "assignment_mismatches": run.assignment_mismatches,
        "seconds": run.seconds,
        "searches_per_second": run.searches_per_second,
    }
