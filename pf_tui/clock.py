"""Injectable time, so whatever waits (backoff, timeouts, intervals) is tested without sleeping.

Production code takes a :class:`Clock` and calls ``clock.now()``, ``clock.monotonic()`` and
``await clock.sleep(s)``; tests pass a :class:`FakeClock`, whose ``sleep`` advances time at once
(after yielding to the event loop, so other tasks still interleave).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """What pf-tui needs to know about time."""

    def now(self) -> float:
        """Wall-clock seconds since the epoch (UTC)."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary start that never go backwards."""

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (a fake clock returns at once, having advanced)."""


class SystemClock:
    """The real clock."""

    # The functions themselves, not methods calling them: the poll engine reads the clock
    # several times a request, and a Python frame each time was about 1% of its CPU.
    now = staticmethod(time.time)
    monotonic = staticmethod(time.monotonic)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """A clock that only moves when told to, or when something sleeps on it.

    ``sleeps`` records every requested sleep, so tests can assert backoff bounds.
    """

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self._now = start
        self._mono = 0.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        if seconds < 0:
            raise ValueError("time does not go backwards")
        self._now += seconds
        self._mono += seconds

    async def sleep(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self.sleeps.append(seconds)
        self.advance(seconds)
        await asyncio.sleep(0)


class FrozenClock:
    """``now()`` is fixed at ``at`` and ``monotonic()`` at 0; ``sleep()`` is a real sleep.

    Screenshots and snapshot tests need every age, countdown, time and latency on screen to come
    out the same on every run. :class:`FakeClock` would advance on every sleep and make the poller
    spin; this clock freezes ``now()`` and ``monotonic()`` and really sleeps. Under it the poller
    polls only when asked (``refresh_now``, which the app calls at start and on ``r``), and every
    measured latency is zero.
    """

    def __init__(self, at: float) -> None:
        self.at = at

    def now(self) -> float:
        """The frozen wall time."""
        return self.at

    def monotonic(self) -> float:
        """Frozen monotonic time."""
        return 0.0

    async def sleep(self, seconds: float) -> None:
        """A real sleep (so nothing that waits on this clock spins)."""
        await asyncio.sleep(max(0.0, seconds))


def utc(ts: float) -> datetime:
    """Epoch seconds to an aware UTC datetime."""
    return datetime.fromtimestamp(ts, tz=UTC)


SYSTEM_CLOCK = SystemClock()
