"""The sharded crawl from the command line: SIGINT, then --resume without --shards (the
manifest decides), report and --json over the sharded folder, text import of it, and every
bad input as one line with exit code 2 and nothing written."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from searchlab.cli import run
from searchlab.crawl.sharding import MANIFEST, crawl_warc_files

from .conftest import interrupted_cli_crawl, page_body, read_warc_responses

N, HOSTS = 3000, 30
QUIET = ["--backoff", "0.01", "--no-progress", "--user-agent", "searchlab-tests/1 (ci@example.org)"]
FAST = ["--resolve", "*:127.0.0.1", "--rate", "0", "--per-host", "4", "--concurrency", "32",
        "--timeout", "0.5", "--seed", "3", *QUIET]  # fmt: skip


def write_source(path: Path, port: int) -> Path:
    path.write_text("".join(f"http://h{i % HOSTS}.test:{port}/wiki/P{i}\n" for i in range(N)))
    return path


def test_sigint_then_resume_report_json_and_text_import(make_server, tmp_path, capsys):
    server = make_server(fault_share=0.1, seed=2, timeout_sleep=1.0, latency=0.004)
    source = write_source(tmp_path / "urls.txt", server.port)
    out = tmp_path / "out"
    first = interrupted_cli_crawl(
        [str(source), "--out", str(out), "--shards", "2", "--json", *FAST], server, N // 3
    )
    assert first["shards"] == 2 and 0 < first["done"] < N

    code = run(["crawl", str(source), "--out", str(out), "--resume", "--json", *FAST])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    resumed = json.loads(captured.out)
    assert resumed["shards"] == 2 and resumed["stopped"] is None and resumed["pending"] == 0
    assert resumed["already_done"] == first["done"] and resumed["done"] == N - first["done"]
    found = read_warc_responses(crawl_warc_files(out))
    assert Counter(("/" + u.split("/", 3)[3], b) for u, b, *_ in found) == Counter(
        (f"/wiki/P{i}", page_body(f"/wiki/P{i}")) for i in range(N)
    )

    assert run(["crawl", "report", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["shard_count"] == 2 and report["total"] == N and report["done"] == N
    assert report["runs"] == 2 and report["interrupted_runs"] == 1
    assert sum(s["done"] for s in report["shards"]) == N
    assert all(name.startswith("shard-") for name, _ in report["warc_files"])
    assert run(["crawl", "report", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"URLs {N}: done {N}" in text and "shards: 2" in text and "shard-1: URLs" in text

    # object storage through fsspec, as docs/crawl-at-scale.md shows it (memory:// here)
    import fsspec

    fs, base = fsspec.core.url_to_fs("memory://crawl-copy")
    files = crawl_warc_files(out)
    for path in files:
        fs.put_file(str(path), f"{base}/{path.relative_to(out).as_posix()}")
    assert sorted(fs.find(base)) == sorted(f"{base}/{p.relative_to(out).as_posix()}" for p in files)
    assert fs.cat_file(f"{base}/{files[0].relative_to(out).as_posix()}") == files[0].read_bytes()

    corpus = tmp_path / "corpus"
    assert run(["text", "import", "--format", "warc", "--warc", str(out), "--out", str(corpus),
                "--json"]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)["documents"] == N


def test_bad_sharding_input_is_one_line_exit_2_and_writes_nothing(make_server, tmp_path, capsys):
    server = make_server(fault_share=0.0)
    source = tmp_path / "urls.txt"
    source.write_text("".join(f"http://h{i}.test:{server.port}/wiki/P{i}\n" for i in range(20)))

    def refused(*args: str) -> str:
        code = run(["crawl", str(source), *args, *FAST])
        err = capsys.readouterr().err.strip()
        assert code == 2 and err.startswith("error:") and "\n" not in err, (code, err)
        return err

    fresh = tmp_path / "never"
    assert "--shards must be at least 1" in refused("--out", str(fresh), "--shards", "0")
    for address in ("ray://127.0.0.1:1", "127.0.0.1:1"):
        assert "cannot reach the Ray cluster" in refused("--out", str(fresh), "--ray", address)
    assert "is not local, auto" in refused("--out", str(fresh), "--ray", "nowhere")
    assert not fresh.exists()
    code = run(["crawl", "-", "--out", str(fresh), "--shards", "2", *FAST])
    assert code == 2 and "standard input" in capsys.readouterr().err and not fresh.exists()

    sharded = tmp_path / "sharded"
    assert run(["crawl", str(source), "--out", str(sharded), "--shards", "2", *FAST]) == 0
    capsys.readouterr()
    manifest = (sharded / MANIFEST).read_text()
    err = refused("--out", str(sharded), "--shards", "3", "--resume")
    assert "resharding an existing crawl is refused" in err and "start fresh" in err
    assert "already holds a crawl sharded 2 ways" in refused("--out", str(sharded), "--shards", "2")
    assert (sharded / MANIFEST).read_text() == manifest and not (sharded / "shard-2").exists()

    plain = tmp_path / "plain"
    assert run(["crawl", str(source), "--out", str(plain), *FAST]) == 0
    capsys.readouterr()
    err = refused("--out", str(plain), "--shards", "2", "--resume")
    assert "holds an unsharded crawl" in err and not (plain / MANIFEST).exists()
