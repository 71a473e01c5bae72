"""When to try again and how long to wait: capped exponential backoff with full jitter
(AWS's "full jitter": uniform(0, min(cap, base·2ⁿ)), which spreads retries best) and
``Retry-After`` in either of its two forms (delay-seconds or an HTTP date)."""

from __future__ import annotations

import random
import time
from email.utils import parsedate_to_datetime

RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504}) | frozenset(range(520, 530))


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUSES or status >= 500


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Wait before retry number ``attempt`` (1 = first retry)."""
    return rng.uniform(0.0, min(cap, base * (2 ** (attempt - 1))))


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header, or None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None or moment.tzinfo is None:
        return None
    wall_now = time.time() if now is None else now
    return max(0.0, moment.timestamp() - wall_now)


def retry_delay(
    tries: int,
    max_retries: int,
    *,
    base: float,
    cap: float,
    rng: random.Random,
    retry_after: float | None = None,
    max_retry_after: float = 600.0,
) -> float | None:
    """The retry middleware's decision for a URL that failed its ``tries``-th attempt at the
    current hop: seconds to wait before the next attempt, or None to give up."""
    if tries > max_retries:
        return None
    delay = backoff_delay(tries, base, cap, rng)
    if retry_after is not None:
        delay = max(delay, min(retry_after, max_retry_after))
    return delay
