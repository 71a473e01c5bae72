from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from searchlab.crawl.retry import backoff_delay, is_retryable_status, parse_retry_after


def test_crawl_never_imports_torch_and_ray_only_in_its_backend():
    code = (
        "import sys, searchlab.crawl, searchlab.cli.crawl, searchlab.crawl.engine, "
        "searchlab.crawl.coordinator, searchlab.crawl.shard_process, searchlab.crawl.shard_ray; "
        "print('torch' in sys.modules, 'ray' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False False"


def test_full_jitter_backoff_is_capped_seeded_and_spread():
    import random

    rng = random.Random(1)
    delays = [backoff_delay(n, 0.5, 4.0, rng) for n in range(1, 12) for _ in range(50)]
    assert all(0 <= d <= 4.0 for d in delays)
    assert max(delays) > 3.0 and min(delays) < 0.1  # full jitter spreads over [0, cap]
    again = random.Random(1)
    assert delays[:5] == [backoff_delay(1, 0.5, 4.0, again) for _ in range(5)]
    first_retry = [backoff_delay(1, 0.5, 60.0, rng) for _ in range(200)]
    assert max(first_retry) <= 0.5


def test_retry_after_in_both_forms():
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    now = 1_700_000_000.0  # Tue, 14 Nov 2023 22:13:20 GMT
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:50 GMT", now=now) == pytest.approx(30.0)
    assert parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", now=now) == 0.0


def test_which_statuses_are_retried():
    assert all(is_retryable_status(s) for s in (429, 500, 502, 503, 504))
    assert not any(is_retryable_status(s) for s in (200, 301, 400, 403, 404, 410))


def test_sample_dump_is_in_the_real_format():
    import gzip

    data = gzip.decompress((Path(__file__).parent / "data" / "all-titles-sample.gz").read_bytes())
    lines = data.decode().splitlines()
    assert lines[0] == "page_namespace\tpage_title"
    assert all(line.split("\t")[0].isdigit() and line.count("\t") == 1 for line in lines[1:])
