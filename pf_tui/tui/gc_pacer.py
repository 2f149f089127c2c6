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

CPython's own full collections are turned off while the pacer runs (its generation-2 threshold
raised out of reach, put back by :meth:`GcPacer.release`): each epoch's end already collects
everything not frozen, and an automatic one would land inside a frame, wherever an allocation
tipped the count (a test sees them run between epochs when survivors pile up). The young
generations stay automatic: they hold only what arrived since the last collection.

A full pass that frees nothing is still a 0.25-0.6 s frame, and measured at 1,000 agents nearly
every one freed nothing (510 objects of 348,000). So where the system can fork (Linux), the
question "is there frozen garbage?" is asked of a copy: :class:`ForkedCount` forks the process,
and the child thaws, collects, writes how many objects it found unreachable and exits, while the
console carries on drawing (the fork itself costs the parent a few ms; the child's collection
touches every tracked object, so it holds up to the heap's size again in copied pages for the
quarter of a second it runs). Only when the child found garbage (at least ``garbage_floor``
objects) does the console run the full pass itself, and free it; otherwise the growth was live
data, and the threshold doubles as above. A child that cannot be forked, dies or takes longer
than :data:`PROBE_TIMEOUT_S` is answered by the full pass in the console: memory stays bounded
first. The child keeps away from everything the console holds open (its descriptors are closed,
its output goes to ``/dev/null``): a finalizer it runs cannot write on the operator's terminal.

On shutdown everything is thawed (tests run many apps in one process).

**Start-up.** ``pf-tui`` turns the automatic collector off before it imports the console
(``pf_tui.cli._cmd_tui``): start-up creates a few hundred thousand objects (modules, classes, the
widget tree, the first poll's models) that nearly all live for the whole session, and the
automatic passes meanwhile walk them again and again, about a tenth of the demo's cold start
(docs/performance.md, "Start-up"). A pacer made while the collector is off
(``resume_collector``) turns it back on at its first run, after the first tick is on screen, or
at the latest :data:`START_HOLD_S` after the console mounted (:meth:`GcPacer.end_start_hold`),
so a console whose first tick never comes does not run without a collector.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import time
import warnings
from collections.abc import Callable

from textual.cache import FIFOCache
from textual.strip import Strip

EPOCH_S = 1.0
FULL_AFTER_MB = 64.0
GARBAGE_FLOOR = 20_000
"""A full pass that frees fewer objects than this (a few MB) found growth, not garbage."""
MAX_FULL_AFTER_MB = 1024.0
NO_AUTOMATIC_FULL = 1 << 30
"""The generation-2 threshold while the pacer runs: no automatic full collection is reached
(each epoch's end collects instead)."""
START_HOLD_S = 5.0
"""The longest the collector stays off after the console mounted (see "Start-up" above)."""
PROBE_TIMEOUT_S = 30.0
"""A forked count that has not answered by then is killed, and the console runs the full pass."""
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


class ProbeFailed(Exception):
    """The forked count could not be started, died, or ran out of time."""


def _count_garbage_and_exit(write_fd: int) -> None:
    """In the forked child: thaw, collect, write the count, exit (never returns)."""
    code = 1
    try:
        sys.unraisablehook = lambda _unraisable: None  # a finalizer's complaint goes nowhere
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        keep = sorted({0, 1, 2, write_fd})
        for low, high in zip(keep, [*keep[1:], os.sysconf("SC_OPEN_MAX")], strict=True):
            os.closerange(low + 1, high)  # the console's sockets, pipes, store: not the child's
        gc.unfreeze()
        found = gc.collect()
        os.write(write_fd, f"{found}\n".encode())
        code = 0
    finally:
        os._exit(code)


def forking_works() -> bool:
    """Whether :class:`ForkedCount` can run here (Linux: ``fork`` is sound without exec)."""
    return hasattr(os, "fork") and sys.platform.startswith("linux")


class ForkedCount:
    """How many objects a full collection would free, counted in a forked copy of the process.

    :meth:`result` is ``None`` until the child answers, then the count; it raises
    :class:`ProbeFailed` when the child died or ran past ``timeout_s``. :meth:`cancel` kills it.
    """

    def __init__(
        self,
        *,
        timeout_s: float = PROBE_TIMEOUT_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._monotonic = monotonic
        self._deadline = monotonic() + timeout_s
        self._buffer = b""
        read_fd, write_fd = os.pipe()
        try:
            with warnings.catch_warnings():
                # Python 3.12+ warns of fork in a threaded process; the child only collects.
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
        except OSError as exc:
            os.close(read_fd)
            os.close(write_fd)
            raise ProbeFailed(f"fork failed: {exc.strerror}") from None
        if pid == 0:  # pragma: no cover - the child's lines run in the child and exit
            os.close(read_fd)
            _count_garbage_and_exit(write_fd)
        os.close(write_fd)
        os.set_blocking(read_fd, False)
        self.pid: int | None = pid
        self._fd: int | None = read_fd

    def result(self) -> int | None:
        """The child's count once it has answered; ``None`` while it works."""
        if self._fd is None:
            raise ProbeFailed("the count was cancelled")
        try:
            chunk = os.read(self._fd, 64)
        except BlockingIOError:
            chunk = None
        if chunk:
            self._buffer += chunk
        if self._buffer.endswith(b"\n"):
            self._finish(kill=False)
            return int(self._buffer)
        if chunk == b"":  # the child closed its end without a whole answer: it died
            self._finish(kill=False)
            raise ProbeFailed("the forked count died")
        if self._monotonic() >= self._deadline:
            self._finish(kill=True)
            raise ProbeFailed("the forked count ran out of time")
        return None

    def cancel(self) -> None:
        """Kill the child if it still runs (idempotent)."""
        if self._fd is not None:
            self._finish(kill=True)

    def _finish(self, *, kill: bool) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if kill and self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.reap()

    def reap(self, *, block: bool = False) -> bool:
        """Collect the exited child (else it stays a zombie); whether it is gone. Not blocking
        by default: a child tearing down its copied heap takes a few ms the frame need not wait."""
        if self.pid is None:
            return True
        try:
            pid, _status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            pid = self.pid
        if pid == 0:
            return False
        self.pid = None
        return True


COUNT_GARBAGE: Callable[[], ForkedCount] | None = ForkedCount if forking_works() else None
"""How the pacer asks whether there is frozen garbage: a forked count, where fork is sound."""


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
        count_garbage: Callable[[], ForkedCount] | None = COUNT_GARBAGE,
        resume_collector: bool = False,
    ) -> None:
        """``resume_collector``: the collector was turned off for start-up, and the pacer turns
        it back on (see "Start-up" in the module)."""
        self.epoch_s = epoch_s
        self.full_after_mb = full_after_mb
        self.garbage_floor = garbage_floor
        self.threshold_mb = full_after_mb
        """The growth since the last full pass that calls the next one (see the module)."""
        self.last_full_freed: int | None = None
        self._monotonic = monotonic
        self._memory = memory
        self._count_garbage = count_garbage
        self._counting: ForkedCount | None = None
        self._unreaped: list[ForkedCount] = []
        self._last_epoch = monotonic()
        self._baseline_mb = memory()
        self.frozen = False
        self.epochs = 0
        self.full_passes = 0
        self.counts = 0
        """Forked counts that answered (see the module)."""
        self.last_count: int | None = None
        self.count_failures = 0
        self.longest_epoch_ms = 0.0
        self._threshold: tuple[int, int, int] | None = None
        """CPython's thresholds before the pacer took over full collections (see the module)."""
        self.start_hold = resume_collector
        """The collector is still off for start-up (see the module)."""

    def end_start_hold(self) -> None:
        """Turn the collector back on if it is still off for start-up (idempotent)."""
        if self.start_hold:
            self.start_hold = False
            gc.enable()

    def after_frame(self) -> None:
        """Young garbage out; at an epoch's end, the unfrozen rest collected and frozen; a full
        pass only when memory says frozen garbage may have piled up, and (where the process can
        fork) a copy of it has counted that garbage."""
        if self._threshold is None:
            self._threshold = gc.get_threshold()
            young, middle = self._threshold[:2]
            gc.set_threshold(young, middle, NO_AUTOMATIC_FULL)
        self.end_start_hold()
        now = self._monotonic()
        if now - self._last_epoch < self.epoch_s:
            gc.collect(1)
            return
        started = time.thread_time()
        self._last_epoch = now
        self._unreaped = [count for count in self._unreaped if not count.reap()]
        memory, baseline = self._memory(), self._baseline_mb
        full = self._full_pass_due(memory, baseline)
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

    def _full_pass_due(self, memory: float | None, baseline: float | None) -> bool:
        """Whether this epoch runs the full pass: the process has grown past the threshold and,
        where a forked count is possible, the count found garbage (or could not say)."""
        if self._counting is not None:
            try:
                found = self._counting.result()
            except ProbeFailed:
                self.count_failures += 1
                found = self.garbage_floor  # unknown: free what there may be
            if found is None:
                return False  # still counting
            self._keep_reaping(self._counting)
            self._counting = None
            self.counts += 1
            self.last_count = found
            if found >= self.garbage_floor:
                return True
            # Only live data: no pass; the next count waits for twice the growth.
            self.threshold_mb = min(self.threshold_mb * 2, MAX_FULL_AFTER_MB)
            self._baseline_mb = memory
            return False
        grown = (
            self.frozen
            and memory is not None
            and baseline is not None
            and memory - baseline > self.threshold_mb
        )
        if not grown:
            return False
        if self._count_garbage is None:
            return True
        try:
            self._counting = self._count_garbage()
        except ProbeFailed:
            self.count_failures += 1
            return True
        return False

    def _keep_reaping(self, count: ForkedCount) -> None:
        if not count.reap():
            self._unreaped.append(count)

    def describe(self) -> str:
        """What the pacer did, for the benchmark."""
        counted = (
            f"; {self.counts} forked counts (the last found {self.last_count:,} unreachable)"
            if self.last_count is not None
            else ""
        )
        failures = f", {self.count_failures} failed" if self.count_failures else ""
        return (
            f"{self.epochs} epochs of {self.epoch_s:g} s (longest {self.longest_epoch_ms:.1f} ms"
            f" CPU), {self.full_passes} full passes"
            + (
                f" (the last freed {self.last_full_freed:,} objects; next after"
                f" +{self.threshold_mb:g} MB)"
                if self.last_full_freed is not None
                else f" (the first after +{self.threshold_mb:g} MB)"
            )
            + counted
            + failures
        )

    def release(self) -> None:
        """Stop a count still running, thaw everything frozen and end the start-up hold, so
        the collector sees everything again (idempotent)."""
        self.end_start_hold()
        if self._counting is not None:
            self._counting.cancel()
            self._unreaped.append(self._counting)
            self._counting = None
        for count in self._unreaped:
            count.reap(block=True)
        self._unreaped.clear()
        if self.frozen:
            gc.unfreeze()
            self.frozen = False
        if self._threshold is not None:
            gc.set_threshold(*self._threshold)
            self._threshold = None
