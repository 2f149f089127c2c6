"""A clock that stands still while sleeps stay real, for reproducible screens.

Screenshots and snapshot tests need every age, countdown, time and latency on screen to come out
the same on every run. :class:`~pf_tui.clock.FakeClock` would advance on every sleep and make the
poller spin; this clock freezes ``now()`` and ``monotonic()`` and really sleeps. Under it the
poller polls only when asked (``refresh_now``, which the app calls at start and on ``r``), and
every measured latency is zero.
"""

from __future__ import annotations

import asyncio


class FrozenClock:
    """``now()`` is fixed at ``at`` and ``monotonic()`` at 0; ``sleep()`` is a real sleep."""

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
