"""The GC pacer: only what outlives an epoch is frozen (full passes skip it), rendered lines are
frozen without their self-references, and frozen garbage is reclaimed by a full pass once the
process has grown."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from rich.segment import Segment
from textual.strip import Strip

from pf_tui.tui.gc_pacer import GcPacer


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


@pytest.fixture(autouse=True)
def _thawed() -> Iterator[None]:
    yield
    gc.unfreeze()


def _pacer(now: list[float], memory: list[float]) -> GcPacer:
    return GcPacer(
        epoch_s=1.0, full_after_mb=64.0, monotonic=lambda: now[0], memory=lambda: memory[0]
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
