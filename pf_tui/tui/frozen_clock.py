"""A wall clock that stands still while monotonic time and sleeps stay real.

Screenshots and snapshot tests need every age, countdown and time on screen to come out the same
on every run, yet the poller must still schedule (a :class:`~pf_tui.clock.FakeClock` would
advance on every sleep and spin). This clock freezes only ``now()``.
"""

from __future__ import annotations

import asyncio
import time


class FrozenWallClock:
    """``now()`` is fixed at ``at``; ``monotonic()`` and ``sleep()`` are the real ones."""

    def __init__(self, at: float) -> None:
        self.at = at

    def now(self) -> float:
        """The frozen wall time."""
        return self.at

    def monotonic(self) -> float:
        """Real monotonic seconds (the poller schedules with these)."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """A real sleep."""
        await asyncio.sleep(max(0.0, seconds))
