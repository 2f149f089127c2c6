"""The event loop pf-tui's long-running processes run on: uvloop when it is installed.

uvloop comes with uvicorn[standard] (a dependency). The daemon (``pf-tui --headless``), the
console's poll worker and ``pf-tui sim`` run on it: the poll engine's and the simulator's loop
work per request is a sizeable part of their CPU at scale (docs/performance.md). Started
through :class:`asyncio.Runner` with uvloop's loop factory, which every uvloop release has;
``uvloop.run`` needs 0.18 or later, and uvicorn[standard] accepts older ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import TypeVar

T = TypeVar("T")


def run(main: Coroutine[object, object, T]) -> T:
    """Run ``main`` to its end on uvloop, or on asyncio's own loop without it."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
