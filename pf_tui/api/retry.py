"""Retry constants and the backoff arithmetic for reads, in one place.

Reads are retried with exponential backoff and full jitter (a random wait in
``[0, min(cap, base * 2**attempt)]``), within a total time budget, and the server's own hint wins
when it gives one: ``Retry-After`` (seconds or an HTTP-date) or a casino ``reset_at``. All waiting
goes through an injected :class:`pf_tui.clock.Clock`, so tests never sleep. Money POSTs are never
retried here (docs/api.md §5: the actions layer decides, with its journaled idempotency key).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime

__all__ = ["RetryPolicy", "parse_reset_at", "parse_retry_after"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How reads are retried. Every retry constant of the client lives here."""

    max_attempts: int = 3
    """Tries in all, the first included (1 turns retries off)."""
    base: float = 0.25
    """Backoff scale in seconds: attempt n waits up to ``base * 2**n``."""
    cap: float = 8.0
    """No computed backoff is longer than this."""
    budget: float = 20.0
    """Total seconds of waiting one read may spend; a wait that would pass it is not started."""
    max_retry_after: float = 60.0
    """A server hint longer than this is not waited for here (the poller backs off instead)."""

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full-jitter wait before retry number ``attempt`` (0 = the first retry)."""
        ceiling = min(self.cap, self.base * (2.0 ** min(attempt, 62)))
        return rng.uniform(0.0, ceiling)

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float | None:
        """Seconds to wait before the next try, or ``None`` when the server asks for too long."""
        if retry_after is not None:
            if retry_after > self.max_retry_after:
                return None
            return max(0.0, retry_after)
        return self.backoff(attempt, rng)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), else None."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return float(int(text[:9]))
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    if seconds is not None:
        return max(0.0, seconds) if seconds == seconds and seconds != float("inf") else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def parse_reset_at(value: object, now: float) -> float | None:
    """Seconds until a body's ``reset_at`` (ISO-8601, or epoch seconds/ms), else None."""
    if isinstance(value, bool) or value is None:
        return None
    ts: float | None = None
    if isinstance(value, (int, float)) or (
        isinstance(value, str) and value.strip().isdigit() and value.isascii()
    ):
        try:
            ts = float(value)
        except (TypeError, ValueError):
            return None
        if ts > 1e12:
            ts /= 1000.0
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        ts = when.timestamp()
    elif isinstance(value, Decimal):  # a JSON number with a fraction (usd.loads)
        try:
            ts = float(value)  # a time, not money
        except ValueError:
            return None
        if ts > 1e12:
            ts /= 1000.0
    else:
        return None
    if ts != ts:
        return None
    return max(0.0, ts - now)
