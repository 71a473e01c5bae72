"""The CLI in-process: both command shapes, --json, report, and every bad-input path."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

from searchlab.cli import run

DATA = Path(__file__).parent / "data"
QUIET = ["--backoff", "0.01", "--no-progress", "--user-agent", "searchlab-tests/1 (ci@example.org)"]


def test_title_dump_crawl_then_report(make_server, tmp_path, capsys):
    server = make_server(fault_share=0.0)
    out = tmp_path / "out"
    template = f"{server.base}/wiki/{{title}}"
    code = run(
        ["crawl", str(DATA / "all-titles-sample.gz"), "--out", str(out),
         "--url-template", template, "--json", *QUIET]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)
    assert summary["done"] == 16 and summary["failed"] == 0 and summary["skipped"] == 0
    assert summary["by_status"] == {"200": 16} and summary["pages_per_second"] > 0
    # the server saw exactly the paths a browser would request
    assert {"/wiki/C%2B%2B", "/wiki/100%25_Pure", "/wiki/AC/DC", "/wiki/%C3%9Cber",
            "/wiki/What_Is_Love%3F", "/wiki/C%23_(programming_language)", "/wiki/!!!"} <= set(
        server.by_path
    )  # fmt: skip
    assert server.user_agents - {""} == {"searchlab-tests/1 (ci@example.org)"}

    assert run(["crawl", "report", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["done"] == 16 and report["pending"] == 0
    assert report["url_template"] == template
    assert run(["crawl", "report", str(out)]) == 0
    assert "done 16" in capsys.readouterr().out


def test_explicit_fetch_and_human_summary_and_stdin(make_server, tmp_path, capsys, monkeypatch):
    server = make_server(fault_share=0.0)
    urls = "".join(f"{server.base}/wiki/P{i}\n" for i in range(5)) + "garbage line\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(urls.encode())))
    assert run(["crawl", "-", "--out", str(tmp_path / "a"), *QUIET]) == 0
    captured = capsys.readouterr()
    assert "done 5, failed 0, skipped 1 (malformed 1" in captured.out
    assert "<stdin>:6: skipped: URL contains whitespace" in captured.err

    source = tmp_path / "urls.txt"
    source.write_text(urls)
    assert run(["crawl", "fetch", str(source), "--out", str(tmp_path / "b"), *QUIET]) == 0
    assert "done 5" in capsys.readouterr().out


def test_malformed_lines_are_named_by_line_number(make_server, tmp_path, capsys):
    server = make_server(fault_share=0.0)
    dump = tmp_path / "titles.tsv"
    dump.write_text("page_namespace\tpage_title\n0\tGood\nbroken\n0\tFine\nx\ty\n")
    code = run(
        ["crawl", str(dump), "--out", str(tmp_path / "o"), "--json", *QUIET,
         "--url-template", f"{server.base}/wiki/{{title}}"]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0
    summary = json.loads(captured.out)
    assert summary["done"] == 2 and summary["malformed"] == 2 and summary["skipped"] == 2
    assert f"{dump}:3: skipped" in captured.err and f"{dump}:5: skipped" in captured.err


def one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    return lines[0]


def test_bad_inputs_exit_2_with_one_line_and_write_nothing(make_server, tmp_path, capsys):
    server = make_server(fault_share=0.0)
    out = tmp_path / "never"
    assert run(["crawl", str(tmp_path / "missing.txt"), "--out", str(out), *QUIET]) == 2
    assert "does not exist" in one_line_error(capsys)
    assert not out.exists()  # nothing written for a bad source

    source = tmp_path / "urls.txt"
    source.write_text(f"{server.base}/wiki/a\n")
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert run(["crawl", str(source), "--out", str(blocker / "sub"), *QUIET]) == 2
    assert "cannot write" in one_line_error(capsys)
    assert run(["crawl", str(source), "--out", str(blocker), *QUIET]) == 2
    assert "is a file" in one_line_error(capsys)

    assert (
        run(["crawl", str(source), "--out", str(out), "--url-template", "http://x/", *QUIET]) == 2
    )
    assert "{title}" in one_line_error(capsys)
    assert run(["crawl", str(source), "--out", str(out), "--concurrency", "0", *QUIET]) == 2
    assert "--concurrency" in one_line_error(capsys)
    assert not out.exists()

    done = tmp_path / "done"
    assert run(["crawl", str(source), "--out", str(done), *QUIET]) == 0
    capsys.readouterr()
    assert run(["crawl", str(source), "--out", str(done), *QUIET]) == 2
    assert "already holds a crawl" in one_line_error(capsys)
    other = tmp_path / "other.txt"
    other.write_text(f"{server.base}/wiki/b\n")
    assert run(["crawl", str(other), "--out", str(done), "--resume", *QUIET]) == 2
    assert "different crawl" in one_line_error(capsys)

    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "x.warc.gz").write_bytes(b"")
    assert run(["crawl", str(source), "--out", str(stranger), *QUIET]) == 2
    assert "WARC files" in one_line_error(capsys)

    assert run(["crawl", "report", str(tmp_path / "nothing")]) == 2
    assert "holds no crawl" in one_line_error(capsys)


def test_fail_fast_exits_1(make_server, tmp_path, capsys):
    server = make_server(fault_share=0.0)
    source = tmp_path / "urls.txt"
    source.write_text(f"{server.base}/gone/x\n")
    code = run(["crawl", str(source), "--out", str(tmp_path / "o"), "--fail-fast", *QUIET])
    assert code == 1
    assert "fail-fast" in capsys.readouterr().err


def test_a_source_that_breaks_mid_way_stops_with_exit_2(make_server, tmp_path, capsys):
    import gzip
    import sqlite3

    server = make_server(fault_share=0.0)
    whole = gzip.compress("".join(f"{server.base}/wiki/P{i}\n" for i in range(4000)).encode())
    source = tmp_path / "cut.gz"
    source.write_bytes(whole[: len(whole) // 2])  # a download that stopped half way
    out = tmp_path / "o"
    assert run(["crawl", str(source), "--out", str(out), *QUIET]) == 2
    assert "unreadable after line" in one_line_error(capsys)
    # what was fetched before the break is recorded consistently, ready for --resume
    conn = sqlite3.connect(out / "crawl-state.sqlite")
    done = conn.execute("SELECT COUNT(*) FROM urls WHERE status='done'").fetchone()[0]
    assert (
        done
        == conn.execute("SELECT COUNT(*) FROM urls WHERE warc_offset IS NOT NULL").fetchone()[0]
    )
