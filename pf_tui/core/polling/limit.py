"""A per-host concurrency limit whose waiters cost O(1) each, however many queue.

``asyncio.Semaphore`` (CPython 3.11) scans its waiters on every release and removes each woken
waiter from the middle of a deque: with thousands of polls queued behind one host (a 5,000-agent
fleet when the host slows down) that cost grows with the queue, so the engine spends more CPU per
request exactly when it is already behind, and falls further behind (docs/performance.md, "The
scheduler"). :class:`HostLimit` hands a freed slot straight to the oldest waiter (FIFO, as the
semaphore did) and drops cancelled waiters lazily when they reach the front.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from types import TracebackType

__all__ = ["HostLimit"]


class HostLimit:
    """At most ``limit`` holders at once; the others wait in arrival order.

    Use as ``async with limit:``. A waiter that is cancelled leaves its place (and a slot it was
    just handed goes to the next waiter), so cancellation never leaks a slot.
    """

    __slots__ = ("_free", "_waiters", "limit", "on_room")

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a host limit must allow at least one request")
        self.limit = limit
        self._free = limit
        self._waiters: deque[asyncio.Future[None]] = deque()
        self.on_room: Callable[[], None] | None = None
        """Called once when the queue gets :attr:`has_room` again (the poller parks due polls
        of a host whose queue is full, and sets this to hear when to start them)."""

    @property
    def has_room(self) -> bool:
        """Whether fewer callers wait than the limit: room to start another poll on this host."""
        return len(self._waiters) < self.limit

    @property
    def in_use(self) -> int:
        """Slots held now."""
        return self.limit - self._free

    @property
    def waiting(self) -> int:
        """Waiters queued (cancelled ones not yet dropped included)."""
        return len(self._waiters)

    def try_take(self) -> bool:
        """Take a slot if one is free and nobody waits (no await: most calls), else ``False``."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return True
        return False

    async def acquire(self) -> None:
        """Take a slot, waiting behind earlier callers when none is free."""
        if self.try_take():
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()  # handed a slot just as we were cancelled: pass it on
            raise

    def release(self) -> None:
        """Give a slot back: straight to the oldest live waiter, else to the pool."""
        waiters = self._waiters
        while waiters:
            fut = waiters.popleft()
            if not fut.done():
                fut.set_result(None)  # the slot moves to that waiter; _free is unchanged
                break
        else:
            self._free += 1
        if self.on_room is not None and len(waiters) < self.limit:
            callback, self.on_room = self.on_room, None
            callback()

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
