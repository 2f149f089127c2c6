"""Production's per-IP rate limiter: fixed 60 s windows keyed by concrete path and client IP."""

from __future__ import annotations

import re

PRODUCTION: dict[str, int] = {
    "escrow_create": 20,
    "escrow_release": 30,
    "escrow_dispute": 10,
    "faucet_claim": 5,
    "trade": 30,
    "register": 10,
    "bets": 60,
    "game_play": 60,
}
WINDOW_S = 60
_XN = re.compile(r"^x(\d+(?:\.\d+)?)$")


def parse_limits(spec: str) -> float | None:
    """``production`` -> 1, ``off`` -> None, ``xN`` -> N; ValueError otherwise."""
    spec = spec.strip().lower()
    if spec == "production":
        return 1.0
    if spec == "off":
        return None
    match = _XN.match(spec)
    if match is None or float(match[1]) <= 0:
        raise ValueError(f"limits must be production, off or xN (N > 0), not {spec!r}")
    return float(match[1])


class RateLimiter:
    """Counts every request to a limited route; answers ``True`` when this one is over the limit."""

    def __init__(self, spec: str = "production") -> None:
        self.spec = "production"
        self.factor: float | None = 1.0
        self.configure(spec)
        self._window = -1.0
        self._counts: dict[tuple[str, str], int] = {}

    def configure(self, spec: str) -> None:
        self.factor = parse_limits(spec)
        self.spec = spec.strip().lower()

    def limit_of(self, name: str) -> int | None:
        if self.factor is None:
            return None
        return max(1, int(PRODUCTION[name] * self.factor))

    def window_end(self, now: float) -> float:
        return now - now % WINDOW_S + WINDOW_S

    def hit(self, name: str, path: str, ip: str, now: float) -> bool:
        """Count the request; ``True`` means answer 429 ``rate_limited``."""
        limit = self.limit_of(name)
        if limit is None:
            return False
        window = now - now % WINDOW_S
        if window != self._window:
            # Windows are aligned for everyone, so a new window makes every old count stale.
            self._window = window
            self._counts.clear()
        key = (path, ip)
        count = self._counts.get(key, 0) + 1
        self._counts[key] = count
        return count > limit

    def clear(self) -> None:
        self._counts.clear()
        self._window = -1.0
