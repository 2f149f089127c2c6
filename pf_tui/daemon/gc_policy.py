"""The daemon's garbage-collection policy: young collections on its own clock, rare full ones.

Measured at 2,000 agents (docs/performance.md, "The garbage collector"): with CPython's automatic
collector the engine ran 20 full collections in 30 s, each walking ~500,000 objects for ~350 ms
of CPU, a fifth of a core spent finding cyclic garbage that was not there (0 objects collected by
those passes). A fleet's data is acyclic: models, figures and rings are freed by reference
counting the moment they are replaced. Almost every survivor of a young collection is a model
that lives a few seconds, so the "25% more long-lived objects" rule fires every second or two.

So the daemon runs the collector itself (:class:`EngineGc`, ticked by its loop):

- the automatic collector is off while the daemon runs (restored when it stops);
- the young generations are collected every :data:`YOUNG_S` seconds (milliseconds each: they hold
  only what arrived since), so short-lived cycles (a failed request's traceback) go quickly;
- everything that survives is frozen (``gc.freeze()``), so no later pass walks it again;
- every :data:`FULL_S` seconds everything is thawed and one full collection runs, so cycles
  among long-lived objects are found too; then the survivors are frozen again.

Frozen objects that become garbage are still freed by reference counting, which is how nearly all
of the engine's garbage dies; only cycles wait for the next full pass. The console has its own
pacer for the same reason, tuned to keep pauses out of frames (``pf_tui/tui/gc_pacer.py``).
"""

from __future__ import annotations

import gc

__all__ = ["FULL_S", "YOUNG_S", "EngineGc"]

YOUNG_S = 1.0
"""Seconds between collections of the young generations (and the freeze after each)."""
FULL_S = 300.0
"""Seconds between full collections (everything thawed first)."""


class EngineGc:
    """Runs the collector for a headless engine; call :meth:`tick` from its loop.

    ``start`` turns the automatic collector off; ``stop`` turns it back on (as it was) and thaws
    everything, so a test or a caller that goes on running is left as it was found.
    """

    def __init__(self, young_s: float = YOUNG_S, full_s: float = FULL_S) -> None:
        self.young_s = young_s
        self.full_s = full_s
        self._next_young = 0.0
        self._next_full = 0.0
        self._was_enabled = True
        self.running = False
        self.young_runs = 0
        self.full_runs = 0

    def start(self, now: float) -> None:
        """Take over from the automatic collector (``now``: monotonic seconds)."""
        if self.running:
            return
        self.running = True
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._next_young = now + self.young_s
        self._next_full = now + self.full_s

    def tick(self, now: float) -> None:
        """Collect what is due at ``now`` (cheap when nothing is)."""
        if not self.running or now < self._next_young:
            return
        if now >= self._next_full:
            gc.unfreeze()
            gc.collect()
            self.full_runs += 1
            self._next_full = now + self.full_s
        else:
            gc.collect(1)  # generations 0 and 1: what arrived since the last freeze
            self.young_runs += 1
        gc.freeze()
        self._next_young = now + self.young_s

    def stop(self) -> None:
        """Thaw everything and give the collector back (as it was before :meth:`start`)."""
        if not self.running:
            return
        self.running = False
        gc.unfreeze()
        if self._was_enabled:
            gc.enable()
