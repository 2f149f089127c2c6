"""Keeps the cyclic garbage collector's long pauses out of the frames.

At 1,000 agents the console holds about 450,000 objects the collector tracks, and CPython's
automatic full (generation 2) collection walks all of them: 140-190 ms, every few ticks, inside
whatever frame it lands in (``benchmarks/tui_frames.py``: p99 175 ms, against 13 ms p50). Almost
all of those objects live for the whole session (histories, rows, caches).

So after each drawn tick the pacer collects the young generations (0.2-2 ms: cyclic garbage of
the tick is freed there) and then freezes the survivors (``gc.freeze``): the automatic full
collections only walk what arrived since. Garbage cycles among frozen objects are not found by
those collections (Textual's rendering leaves a few hundred objects a tick: about 2,000 a second
at 1,000 agents), so every ``full_every_s`` the pacer thaws everything and runs one full
collection right after a frame: one pause of that length a minute, not every few ticks, and at
most a minute of frozen garbage. (The size of the frozen set is not watched instead:
``gc.get_freeze_count`` walks the whole list, 15-40 ms at this size.) On shutdown everything is
thawed (tests run many apps in one process).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

FULL_EVERY_S = 60.0


class GcPacer:
    """Call :meth:`after_frame` once each tick is on screen; :meth:`release` on shutdown."""

    def __init__(
        self, *, full_every_s: float = FULL_EVERY_S, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.full_every_s = full_every_s
        self._monotonic = monotonic
        self._last_full = monotonic()
        self.frozen = False
        self.full_passes = 0

    def after_frame(self) -> None:
        """Young garbage out, survivors frozen; now and then one full collection."""
        now = self._monotonic()
        if self.frozen and now - self._last_full >= self.full_every_s:
            gc.unfreeze()
            gc.collect()
            self._last_full = now
            self.full_passes += 1
        else:
            gc.collect(1)
        gc.freeze()
        self.frozen = True

    def release(self) -> None:
        """Thaw everything frozen, so the collector sees it again (idempotent)."""
        if self.frozen:
            gc.unfreeze()
            self.frozen = False
