"""The GC pacer: only what outlives an epoch is frozen (full passes skip it), rendered lines are
frozen without their self-references, and frozen garbage is reclaimed by a full pass once the
process has grown, and (where it can fork) once a forked copy has counted garbage to reclaim."""

from __future__ import annotations

import gc
import os
import time
import weakref
from collections.abc import Callable, Iterator

import pytest
from rich.segment import Segment
from textual.strip import Strip

from pf_tui.tui.gc_pacer import ForkedCount, GcPacer, ProbeFailed, forking_works


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


@pytest.fixture(autouse=True)
def _thawed() -> Iterator[None]:
    yield
    gc.unfreeze()


def _pacer(now: list[float], memory: list[float]) -> GcPacer:
    return GcPacer(
        epoch_s=1.0,
        full_after_mb=64.0,
        monotonic=lambda: now[0],
        memory=lambda: memory[0],
        count_garbage=None,  # the full pass in the process, as where fork is not available
    )


def test_a_cycle_dropped_within_its_epoch_is_never_frozen() -> None:
    """Freezing after every frame (the first design) froze this node while it was alive, and
    only a periodic full pass could free it: then ``ref()`` is still alive after the epoch."""
    now, memory = [0.0], [100.0]
    pacer = _pacer(now, memory)
    node = Node()
    ref = weakref.ref(node)
    now[0] = 0.5
    pacer.after_frame()  # inside the epoch: young generations only, nothing frozen
    assert not pacer.frozen and gc.get_freeze_count() == 0
    del node
    now[0] = 1.5
    pacer.after_frame()  # the epoch ends: the unfrozen garbage goes, the survivors freeze
    assert ref() is None
    assert pacer.frozen and pacer.epochs == 1 and pacer.full_passes == 0
    assert gc.get_freeze_count() > 0


def test_frozen_garbage_is_reclaimed_once_the_process_has_grown() -> None:
    now, memory = [0.0], [100.0]
    pacer = _pacer(now, memory)
    node = Node()
    ref = weakref.ref(node)
    now[0] = 1.0
    pacer.after_frame()  # node outlived the epoch: frozen
    del node
    gc.collect()
    assert ref() is not None  # frozen: an ordinary full collection does not see it
    memory[0], now[0] = 150.0, 2.0  # grown 50 MB: under the 64 MB that calls a full pass
    pacer.after_frame()
    assert ref() is not None and pacer.full_passes == 0
    memory[0], now[0] = 170.0, 3.0
    pacer.after_frame()
    assert ref() is None and pacer.full_passes == 1
    memory[0], now[0] = 200.0, 4.0  # the baseline moved to 170 MB: no second pass at +30 MB
    pacer.after_frame()
    assert pacer.full_passes == 1
    pacer.release()
    assert gc.get_freeze_count() == 0 and not pacer.frozen


def test_full_passes_that_find_only_growth_wait_for_twice_the_growth() -> None:
    """Growth is mostly live data (the fleet filling, histories): a full pass that frees little
    doubles the growth that calls the next one, so a 0.3-1 s pass does not land every 64 MB of
    data; one that does free garbage puts the threshold back."""
    now, memory = [0.0], [100.0]
    pacer = GcPacer(
        epoch_s=1.0,
        full_after_mb=64.0,
        garbage_floor=500,
        monotonic=lambda: now[0],
        memory=lambda: memory[0],
        count_garbage=None,
    )
    gc.collect()
    now[0] = 1.0
    pacer.after_frame()  # frozen, baseline 100 MB
    memory[0], now[0] = 170.0, 2.0
    pacer.after_frame()  # +70 MB: a full pass, which finds no garbage
    assert pacer.full_passes == 1 and pacer.threshold_mb == 128.0
    memory[0], now[0] = 290.0, 3.0
    pacer.after_frame()  # +120 MB: under the doubled threshold
    assert pacer.full_passes == 1
    nodes = [Node() for _ in range(600)]
    now[0] = 4.0
    pacer.after_frame()  # the nodes outlive the epoch: frozen
    del nodes
    memory[0], now[0] = 310.0, 5.0
    pacer.after_frame()  # +140 MB: a full pass; it frees the frozen nodes
    assert pacer.full_passes == 2 and (pacer.last_full_freed or 0) >= 600
    assert pacer.threshold_mb == 64.0


def _refers_to_itself(strip: Strip) -> bool:
    caches = [getattr(strip, name) for name in Strip.__slots__ if name.endswith("_cache")]
    return any(strip in gc.get_referents(cache) for cache in caches if cache is not None) or any(
        value is strip
        for cache in caches
        if cache is not None
        for inner in gc.get_referents(cache)
        if isinstance(inner, dict)
        for value in inner.values()
    )


def test_a_rendered_line_is_frozen_without_its_self_reference() -> None:
    """A Strip caches itself (``crop_extend`` to its own length returns it): frozen like that,
    it is garbage no collection but a full pass finds once the screen drops it. Breaking
    :func:`~pf_tui.tui.gc_pacer.unlink_strips` leaves the reference in place."""
    now, memory = [0.0], [100.0]
    pacer = _pacer(now, memory)
    strip = Strip([Segment("delta-data-bus")])
    assert strip.crop_extend(0, strip.cell_length, None) is strip
    assert _refers_to_itself(strip)
    now[0] = 1.0
    pacer.after_frame()
    assert pacer.frozen and not _refers_to_itself(strip)
    assert strip.crop_extend(0, 5, None).text == "delta"  # caches only: the strip still works


forks = pytest.mark.skipif(not forking_works(), reason="the forked count runs where fork is sound")


def _counting_pacer(
    now: list[float], memory: list[float], count: Callable[[], ForkedCount] = ForkedCount
) -> GcPacer:
    return GcPacer(
        epoch_s=1.0,
        full_after_mb=64.0,
        garbage_floor=500,
        monotonic=lambda: now[0],
        memory=lambda: memory[0],
        count_garbage=count,
    )


def _until_counted(pacer: GcPacer, now: list[float]) -> None:
    """Epochs until the forked count has answered (real time: the child collects for real)."""
    deadline = time.monotonic() + 30
    while pacer.counts == 0 and pacer.count_failures == 0:
        assert time.monotonic() < deadline, "the forked count never answered"
        time.sleep(0.02)
        now[0] += 1.0
        pacer.after_frame()


@forks
def test_a_forked_count_that_finds_garbage_calls_the_full_pass() -> None:
    now, memory = [0.0], [100.0]
    pacer = _counting_pacer(now, memory)
    nodes = [Node() for _ in range(600)]
    ref = weakref.ref(nodes[0])
    now[0] = 1.0
    pacer.after_frame()  # the nodes outlive the epoch: frozen
    del nodes
    memory[0], now[0] = 170.0, 2.0
    pacer.after_frame()  # grown: a copy counts; this process runs no full pass yet
    assert pacer.full_passes == 0 and ref() is not None
    _until_counted(pacer, now)
    assert pacer.count_failures == 0 and (pacer.last_count or 0) >= 600
    assert pacer.full_passes == 1 and ref() is None  # the count found garbage: freed here
    assert pacer.threshold_mb == 64.0
    pacer.release()


@forks
def test_a_forked_count_of_only_live_data_spares_the_console_the_full_pass() -> None:
    """The measured case: growth is the fleet's data, a full pass would free next to nothing,
    and running it anyway was the 0.25-0.6 s frame of the 10-minute benchmark."""
    now, memory = [0.0], [100.0]
    gc.collect()
    pacer = _counting_pacer(now, memory)
    live = [Node() for _ in range(600)]
    now[0] = 1.0
    pacer.after_frame()  # frozen
    memory[0], now[0] = 170.0, 2.0
    pacer.after_frame()
    _until_counted(pacer, now)
    assert pacer.count_failures == 0 and (pacer.last_count or 0) < 500
    assert pacer.full_passes == 0 and pacer.threshold_mb == 128.0
    assert all(node.me is node for node in live)
    memory[0], now[0] = 250.0, now[0] + 1.0  # +80 MB from the new baseline (170): no new count
    pacer.after_frame()
    assert pacer._counting is None
    pacer.release()


class FailedCount(ForkedCount):
    def __init__(self) -> None:  # no child at all
        self.pid = None

    def result(self) -> int | None:
        raise ProbeFailed("the forked count died")


def test_a_count_that_cannot_answer_is_answered_by_the_full_pass() -> None:
    """Memory stays bounded first: a child that died, hung or could not fork leaves the
    decision to the full pass in the console."""
    now, memory = [0.0], [100.0]
    pacer = _counting_pacer(now, memory, count=FailedCount)
    node = Node()
    ref = weakref.ref(node)
    now[0] = 1.0
    pacer.after_frame()
    del node
    memory[0], now[0] = 170.0, 2.0
    pacer.after_frame()  # the count starts
    now[0] = 3.0
    pacer.after_frame()  # ...and fails: the pass runs here
    assert pacer.count_failures == 1 and pacer.full_passes == 1 and ref() is None


def _answer(count: ForkedCount) -> int:
    """Wait (real time) for the child's answer."""
    deadline = time.monotonic() + 30
    while (found := count.result()) is None:
        assert time.monotonic() < deadline, "the forked count never answered"
        time.sleep(0.01)
    return found


def _big_frozen_heap() -> list[list[int]]:
    """Enough tracked objects that the child's collection takes a while (killed before it ends)."""
    heap = [[i] for i in range(1_500_000)]
    gc.freeze()
    return heap


@forks
def test_a_child_killed_before_it_answers_is_a_failure_and_is_reaped() -> None:
    heap = _big_frozen_heap()
    count = ForkedCount()
    assert count.pid is not None
    pid = count.pid
    os.kill(pid, 9)
    with pytest.raises(ProbeFailed, match="died"):
        _answer(count)
    count.reap(block=True)
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped: no zombie left behind
    del heap


@forks
def test_a_child_past_its_time_is_killed() -> None:
    heap = _big_frozen_heap()
    clock = [0.0]
    count = ForkedCount(timeout_s=5.0, monotonic=lambda: clock[0])
    pid = count.pid
    assert pid is not None
    clock[0] = 6.0
    with pytest.raises(ProbeFailed, match="out of time"):
        count.result()
    count.reap(block=True)
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    del heap


@forks
def test_release_stops_a_count_still_running() -> None:
    heap = _big_frozen_heap()
    now, memory = [0.0], [100.0]
    pacer = _counting_pacer(now, memory)
    now[0] = 1.0
    pacer.after_frame()
    memory[0], now[0] = 170.0, 2.0
    pacer.after_frame()
    counting = pacer._counting
    assert counting is not None and counting.pid is not None
    pid = counting.pid
    pacer.release()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    assert gc.get_freeze_count() == 0
    del heap


class Noisy(Node):
    parent = os.getpid()

    def __del__(self) -> None:
        if os.getpid() != Noisy.parent:  # only in the forked child
            os.write(1, b"finalizer output from the child\n")  # straight to the terminal's fds
            os.write(2, b"and on stderr\n")


@forks
def test_the_child_writes_nothing_on_the_console_terminal(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The child shares the console's terminal: a finalizer it runs while collecting must not
    draw on the operator's screen."""
    nodes = [Noisy() for _ in range(50)]
    gc.freeze()
    del nodes
    count = ForkedCount()
    found = _answer(count)
    count.reap(block=True)
    assert found >= 50  # the finalizers ran, in the child
    out, err = capfd.readouterr()
    assert "child" not in out and "stderr" not in err


def test_no_automatic_full_collection_runs_between_epochs_and_release_gives_it_back() -> None:
    """Each epoch's end collects everything not frozen, so CPython's own full collections
    (which landed inside frames, up to 49 ms at 5,000 agents) are off while the pacer runs;
    the young ones go on. Release restores the thresholds as they were."""
    before = gc.get_threshold()
    started: list[int] = []

    def record(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(info["generation"])

    pacer = GcPacer(epoch_s=3600.0, count_garbage=None)
    pacer.after_frame()  # takes over; the epoch is an hour away
    gc.callbacks.append(record)
    try:
        kept = []
        for _ in range(300_000):  # survivors in bulk: CPython's rule would run full passes
            kept.append([None])
        del kept
    finally:
        gc.callbacks.remove(record)
        pacer.release()
    assert started.count(1) > 0  # the young generations still ran on their own
    assert 2 not in started
    assert gc.get_threshold() == before


def test_a_pacer_made_with_the_collector_off_for_start_up_turns_it_on_at_its_first_run() -> None:
    now, memory = [0.0], [100.0]
    gc.disable()
    try:
        pacer = GcPacer(
            monotonic=lambda: now[0],
            memory=lambda: memory[0],
            count_garbage=None,
            resume_collector=True,
        )
        assert pacer.start_hold and not gc.isenabled()
        now[0] = 0.5
        pacer.after_frame()
        assert gc.isenabled() and not pacer.start_hold
        pacer.release()
    finally:
        gc.enable()


def test_a_pacer_leaves_a_collector_turned_off_by_someone_else_alone() -> None:
    """Only the start-up hold is the pacer's to end: without ``resume_collector`` a collector
    that is off stays off (a caller turned it off for its own reasons)."""
    now, memory = [0.0], [100.0]
    gc.disable()
    try:
        pacer = GcPacer(monotonic=lambda: now[0], memory=lambda: memory[0], count_garbage=None)
        now[0] = 0.5
        pacer.after_frame()
        pacer.end_start_hold()
        pacer.release()
        assert not gc.isenabled()
    finally:
        gc.enable()
