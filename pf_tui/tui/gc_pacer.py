"""Keeps the cyclic garbage collector's long pauses out of the frames, and its garbage bounded.

At 1,000 agents the console holds about 400,000 objects the collector tracks, nearly all of them
alive for the whole session (histories, rows, caches, the poller's tasks), and a full (generation
2) collection walks all of them: 150-300 ms of a core, inside whatever frame it lands in.
``gc.freeze`` hides objects from every collection, so the automatic ones walk only what is not
frozen; the question is what to freeze, and when, without freezing garbage.

Freezing every tick's survivors (what this module did first) froze the screen's short-lived
objects too, and one full pass of everything had to run every minute (a 300 ms frame) to reclaim
them. Measured (``benchmarks/tui_frames.py`` counts what a final full pass frees): nearly all of
that garbage was Textual's rendered lines (:class:`~textual.strip.Strip`), which refer to
themselves through their own caches, so each one still cached at a freeze became garbage only a
full pass could find.

So the pacer works in *epochs* (``epoch_s``), and runs after a frame is on screen, not inside it:

- after each frame, the young generations are collected (0.2-2 ms);
- at each epoch's end, everything not yet frozen is collected (what arrived in the epoch and
  survived: a few ms), the self-references of the surviving rendered lines are dropped (their
  caches are only caches), and the survivors are frozen. An object is frozen only if it outlived
  an epoch, and a frozen line, once dropped, is freed by its reference count like any object;
- a full pass of everything (thaw, collect, freeze) runs only when the process has grown by
  ``full_after_mb`` since the last one, the sign that garbage may have collected among frozen
  objects. Growth is also live data (the fleet filling, histories lengthening), and a full pass
  costs 0.3-1 s at 1,000-5,000 agents: so each pass measures what it freed, and when that was
  little (under ``garbage_floor`` objects) the growth it was called for was live data and the
  next pass waits for twice the growth (the threshold grows with the data, as a heap-doubling
  collector's does). A pass that does find garbage puts the threshold back to ``full_after_mb``.
  In a steady session no pass is due, so there is no periodic long pause.

On shutdown everything is thawed (tests run many apps in one process).
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable

from textual.cache import FIFOCache
from textual.strip import Strip

EPOCH_S = 1.0
FULL_AFTER_MB = 64.0
GARBAGE_FLOOR = 20_000
"""A full pass that frees fewer objects than this (a few MB) found growth, not garbage."""
MAX_FULL_AFTER_MB = 1024.0
_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20 if hasattr(os, "sysconf") else 4 / 1024
# HACK: a Strip's memo caches (textual 8.2.8, the release pinned for the DataTable internals too)
# may hold the strip itself; they are emptied before a strip is frozen (see the module docstring).
_STRIP_CACHES = tuple(name for name in Strip.__slots__ if name.endswith("_cache"))


def resident_mb() -> float | None:
    """This process's resident memory now (Linux; ``None`` where it cannot be read cheaply)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_MB
    except (OSError, ValueError, IndexError):
        return None


def unlink_strips(objects: list[object]) -> int:
    """Empty the memo caches of every :class:`Strip` in ``objects``; returns how many."""
    count = 0
    for obj in objects:
        if type(obj) is Strip:
            for name in _STRIP_CACHES:
                cache = getattr(obj, name, None)
                if isinstance(cache, FIFOCache):
                    cache.clear()
            count += 1
    return count


class GcPacer:
    """Call :meth:`after_frame` once each tick is on screen; :meth:`release` on shutdown."""

    def __init__(
        self,
        *,
        epoch_s: float = EPOCH_S,
        full_after_mb: float = FULL_AFTER_MB,
        garbage_floor: int = GARBAGE_FLOOR,
        monotonic: Callable[[], float] = time.monotonic,
        memory: Callable[[], float | None] = resident_mb,
    ) -> None:
        self.epoch_s = epoch_s
        self.full_after_mb = full_after_mb
        self.garbage_floor = garbage_floor
        self.threshold_mb = full_after_mb
        """The growth since the last full pass that calls the next one (see the module)."""
        self.last_full_freed: int | None = None
        self._monotonic = monotonic
        self._memory = memory
        self._last_epoch = monotonic()
        self._baseline_mb = memory()
        self.frozen = False
        self.epochs = 0
        self.full_passes = 0
        self.longest_epoch_ms = 0.0

    def after_frame(self) -> None:
        """Young garbage out; at an epoch's end, the unfrozen rest collected and frozen; a full
        pass only when memory says frozen garbage has piled up."""
        now = self._monotonic()
        if now - self._last_epoch < self.epoch_s:
            gc.collect(1)
            return
        started = time.thread_time()
        self._last_epoch = now
        memory, baseline = self._memory(), self._baseline_mb
        full = (
            self.frozen
            and memory is not None
            and baseline is not None
            and memory - baseline > self.threshold_mb
        )
        if full:
            gc.unfreeze()
            self.full_passes += 1
        freed = gc.collect()  # everything not frozen: the epoch's survivors, and its garbage
        if full:
            self.last_full_freed = freed
            self.threshold_mb = (
                min(self.threshold_mb * 2, MAX_FULL_AFTER_MB)
                if freed < self.garbage_floor
                else self.full_after_mb
            )
        unlink_strips(gc.get_objects())  # only the unfrozen ones: the survivors
        gc.freeze()
        if full or baseline is None:
            self._baseline_mb = self._memory()
        self.frozen = True
        self.epochs += 1
        self.longest_epoch_ms = max(self.longest_epoch_ms, (time.thread_time() - started) * 1000)

    def describe(self) -> str:
        """What the pacer did, for the benchmark."""
        return (
            f"{self.epochs} epochs of {self.epoch_s:g} s (longest {self.longest_epoch_ms:.1f} ms"
            f" CPU), {self.full_passes} full passes"
            + (
                f" (the last freed {self.last_full_freed:,} objects; next after"
                f" +{self.threshold_mb:g} MB)"
                if self.last_full_freed is not None
                else f" (the first after +{self.threshold_mb:g} MB)"
            )
        )

    def release(self) -> None:
        """Thaw everything frozen, so the collector sees it again (idempotent)."""
        if self.frozen:
            gc.unfreeze()
            self.frozen = False
