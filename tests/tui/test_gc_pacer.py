"""The GC pacer: survivors of a tick are frozen (full passes skip them), yet frozen garbage
cycles are reclaimed by the periodic full pass."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from pf_tui.tui.gc_pacer import GcPacer


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


@pytest.fixture(autouse=True)
def _thawed() -> Iterator[None]:
    yield
    gc.unfreeze()


def test_frozen_cycles_are_reclaimed_by_the_periodic_full_pass() -> None:
    now = [0.0]
    pacer = GcPacer(full_every_s=60, monotonic=lambda: now[0])
    node = Node()
    ref = weakref.ref(node)
    pacer.after_frame()
    assert gc.get_freeze_count() > 0
    del node
    gc.collect()
    assert ref() is not None  # frozen: an ordinary full collection does not see it
    now[0] = 59.0
    pacer.after_frame()
    assert ref() is not None and pacer.full_passes == 0
    now[0] = 61.0
    pacer.after_frame()
    assert ref() is None and pacer.full_passes == 1
    pacer.release()
    assert gc.get_freeze_count() == 0 and not pacer.frozen
