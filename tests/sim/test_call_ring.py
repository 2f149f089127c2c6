"""The simulator's per-agent call ring: a bounded deque of ``(time, failed)`` in 9 bytes a call."""

from __future__ import annotations

from collections import deque

from hypothesis import given
from hypothesis import strategies as st

from pf_tui.sim.model.accounts import CallRing


@given(
    st.integers(min_value=1, max_value=9),
    st.lists(st.tuples(st.floats(allow_nan=False, width=64), st.booleans()), max_size=40),
)
def test_a_call_ring_is_a_bounded_deque(size: int, calls: list[tuple[float, bool]]) -> None:
    """Breaking it (the oldest call not the one dropped, a wrapped ring read from slot 0, a
    failure flag lost) fails here."""
    ring, reference = CallRing(size), deque[tuple[float, bool]](maxlen=size)
    for call in calls:
        ring.append(call)
        reference.append(call)
        assert list(ring) == list(reference) and len(ring) == len(reference)
