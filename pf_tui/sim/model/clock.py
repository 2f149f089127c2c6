"""Simulator time: wall time plus an offset, or frozen while paused."""

from __future__ import annotations

import time
from collections.abc import Callable


class SimClock:
    """``now()`` is ``wall() + offset`` while running and a fixed value while paused.

    Only :meth:`advance` moves a paused clock, so tests are deterministic.
    """

    def __init__(
        self,
        start: float | None = None,
        *,
        paused: bool = False,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._wall = wall
        base = wall() if start is None else start
        self._offset = base - wall()
        self._frozen: float | None = base if paused else None

    @property
    def paused(self) -> bool:
        return self._frozen is not None

    def now(self) -> float:
        """Simulator seconds since the epoch."""
        frozen = self._frozen
        return frozen if frozen is not None else self._wall() + self._offset

    def pause(self) -> None:
        if self._frozen is None:
            self._frozen = self.now()

    def resume(self) -> None:
        if self._frozen is not None:
            self._offset = self._frozen - self._wall()
            self._frozen = None

    def advance(self, seconds: float) -> None:
        """Move simulator time forward (jobs are run by the simulator, not here)."""
        if seconds < 0:
            raise ValueError("simulator time does not go backwards")
        if self._frozen is not None:
            self._frozen += seconds
        else:
            self._offset += seconds
