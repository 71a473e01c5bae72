"""Fixtures shared by every test, and the rule that a skipped test is a failing test.

A skip hides a missing dependency or data set behind a green run, so every skip (``pytest.skip``,
``importorskip``, a ``skipif`` marker) is reported as a failure naming its reason. Expected
failures (``xfail``) are unaffected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"a skipped test is a failing test in searchlab: {reason}"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the checkout (present in CI); tests that need it skip otherwise."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside this checkout")
    return SHARED_DATA


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class BrowserPage:
    """A headless Chromium page and what went wrong on it: console errors, page errors and
    dialogs in ``problems``; failed requests as (method, url, failure) in ``failed``."""

    page: Any
    problems: list[str] = field(default_factory=list)
    failed: list[tuple] = field(default_factory=list)


@pytest.fixture
def chromium_page():
    """Debian's Chromium through Playwright, closed after the test. A missing browser is a
    failure, not a skip: ``make browser`` (or .ci/run) installs it."""
    assert CHROMIUM.exists(), "Debian's chromium is missing (/usr/bin/chromium): run make browser"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            seen = BrowserPage(page)
            page.on(
                "console",
                lambda m: (
                    seen.problems.append(f"console {m.type}: {m.text}")
                    if m.type == "error"
                    else None
                ),
            )
            page.on("pageerror", lambda e: seen.problems.append(f"page error: {e}"))
            page.on("dialog", lambda d: seen.problems.append(f"a dialog opened: {d.message}"))
            page.on("requestfailed", lambda r: seen.failed.append((r.method, r.url, r.failure)))
            yield seen
        finally:
            browser.close()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Folder for files a test keeps for people to look at (screenshots, reports)."""
    path = PROJECT_ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def search_setup(tmp_path_factory):
    """A small searchable world for the live service's tests (serve and loop), built once:
    Cranfield's first 300 documents with the 114 queries judged on them, its index (word2vec
    trained briefly), a ListNet reranker trained on two thirds of the judged queries (every
    third is left out, for fair live tests) and an A/B experiments file."""
    from types import SimpleNamespace

    from searchlab.data import bundled_path
    from searchlab.text.corpus import import_smart, save_corpus
    from searchlab.text.embeddings import Word2VecConfig
    from searchlab.text.features import FeatureConfig
    from searchlab.text.index import build_index, load_index
    from searchlab.text.model import Corpus
    from searchlab.text.rerank import train_text_reranker
    from searchlab.text.training import default_train_config

    folder = bundled_path("cranfield")
    full = import_smart(folder / "cran.all.1400.gz", folder / "cran.qry.gz", folder / "cranqrel.gz")
    docs = full.documents[:300]
    kept = {d.doc_id for d in docs}
    judgments = {q: {d: g for d, g in j.items() if d in kept} for q, j in full.judgments.items()}
    judgments = {q: j for q, j in judgments.items() if j}
    corpus = Corpus(docs, tuple(q for q in full.queries if q.query_id in judgments), judgments)
    root = tmp_path_factory.mktemp("search-setup")
    corpus_dir = save_corpus(corpus, root / "corpus")
    index_dir = root / "index"
    build_index(corpus, index_dir, config=FeatureConfig(word2vec=Word2VecConfig(seed=0, epochs=3)))
    held_out = [q.query_id for q in corpus.judged_queries()][::3]
    model_dir = root / "model"
    train_text_reranker(
        corpus,
        index=load_index(index_dir).text,
        train_config=default_train_config(0, epochs=20),
        exclude_queries=held_out,
    ).save(model_dir)
    experiments = root / "experiments.toml"
    experiments.write_text(
        '[[experiment]]\nid = "listnet-vs-bm25"\ntype = "ab"\nsalt = "2026-11"\n'
        'control = "bm25"\nvariant = "listnet"\ntraffic = 1.0\nvariant_share = 0.5\n'
    )
    return SimpleNamespace(
        corpus=corpus,
        corpus_dir=corpus_dir,
        index_dir=index_dir,
        model_dir=model_dir,
        held_out=held_out,
        experiments=experiments,
        rankers=("bm25", f"listnet={model_dir}"),
    )


@pytest.fixture
def refused(capsys):
    """``refused(argv, fragment)``: the CLI exits 2 with one error line naming ``fragment``,
    prints nothing on stdout and no traceback."""

    from searchlab.cli import run

    def check(argv: list[str], fragment: str) -> None:
        assert run(argv) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and "Traceback" not in captured.err
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and fragment in lines[0], captured.err

    return check
