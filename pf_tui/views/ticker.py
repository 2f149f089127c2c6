"""When the screen gets a new view: the console's tick policy, without Textual.

The poller hands over results as they come; drawing each one alone would redraw a 1,000-agent
table hundreds of times a second. :meth:`Ticker.views` batches them instead:

- Results that arrive within :data:`TICK_S` of the first are applied to the fleet state together
  and make one view; a tick that already holds :data:`MAX_TICK_CHANGES` changes closes early
  (checked every :data:`BATCH_CHECK_S`) and a burst is split over several ticks, so a large
  fleet gets more, smaller frames instead of a few long ones (at 5,000 agents a quarter second
  brought 600-1,500 agents' results, a 100-160 ms frame). For :data:`FILL_S` after start-up
  the window is :data:`FILL_TICK_S`, so the first figures show at once while the screen fills.
- With no results, a view still comes every :data:`AGE_TICK_S` of the app's clock, so ages and
  staleness move on; between those, nothing is built and the screen stays as it is.
- The newest poll failure goes into the view (:attr:`FleetView.last_error`) as one line.

The TUI's engine worker only iterates :meth:`Ticker.views` and posts each view; everything it
decides can be tested with a fake poller and clock.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from itertools import islice

from pf_tui.clock import Clock
from pf_tui.core.polling.results import PollFailure, PollResult, changes, is_change
from pf_tui.text import one_line
from pf_tui.views.feed import FleetFeed
from pf_tui.views.model import FleetView, MoneyNotes
from pf_tui.wiring import ConsoleEngine

TICK_S = 0.25
"""Fastest the screen follows the poller: results arriving within a tick are drawn together."""
FILL_S = 2.0
"""For this long after start-up results are drawn within :data:`FILL_TICK_S`, not a whole tick."""
FILL_TICK_S = 0.03
MAX_TICK_CHANGES = 150
"""A tick holding this many changes (a figure that differs, or a failure; an unchanged figure
costs the frame next to nothing) is drawn without waiting out :data:`TICK_S`: about half of a
33 ms frame at 5,000 agents (docs/performance.md, "Smaller frames for a large fleet")."""
MAX_CARRY_TICKS = 20
"""A tick holding more than this many ticks' worth of changes applies them all at once."""
CARRY_GAP_S = 0.02
"""Between the ticks a burst is split into, where the screen cannot say when it has drawn: a
frame's time (Textual draws at 60 Hz)."""
BATCH_CHECK_S = 0.05
"""How often a tick's window looks at how many results it holds; the shortest gap between two
views when results pour in (the screen draws in between)."""
AGE_TICK_S = 1.0
"""With no new results, ages and staleness still move on screen this often (app clock)."""


class Ticker:
    """Turns the poller's results into the views the screen shows, one per tick."""

    def __init__(
        self,
        engine: ConsoleEngine,
        clock: Clock,
        *,
        notes: Callable[[], MoneyNotes] | None = None,
        tick_s: float = TICK_S,
        age_tick_s: float = AGE_TICK_S,
        max_results: int = MAX_TICK_CHANGES,
        drawn: Callable[[], Awaitable[None]] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``notes`` is what pf-tui knows beyond the server (:meth:`MoneyDesk.escrow_notes`);
        ``tick_s`` 0 draws every batch at once (tests); the worker wakes every ``age_tick_s``
        without results to see whether :data:`AGE_TICK_S` has passed on ``clock``. ``drawn``
        returns once the last view yielded is on screen (the app's frame): a burst split over
        several ticks waits for it before each next one (without it: :data:`CARRY_GAP_S`)."""
        self.engine = engine
        self.clock = clock
        self.feed = FleetFeed(engine.fleet, notes)
        self.tick_s = tick_s
        self.age_tick_s = age_tick_s
        self.max_results = max_results
        self._drawn = drawn
        if tick_s > 0:
            self.feed.budget = max_results
        self._monotonic = monotonic

    def view(self, selected: str | None = None) -> FleetView:
        """The view of the fleet as it stands now, every agent rebuilt (before any poll: every
        agent waiting)."""
        return self.feed.build(self.clock.now(), selected=selected)

    def _split(self, results: list[PollResult]) -> tuple[list[PollResult], list[PollResult]]:
        """This tick's results and those carried to the next: a burst (after a pause of the
        loop, or the start-up poll of everything) is drawn over several frames, oldest first,
        :attr:`max_results` changes each; a backlog longer than :data:`MAX_CARRY_TICKS` ticks
        is drawn at once, so it never grows without bound."""
        limit = self.max_results
        total = changes(results)
        if total <= limit or total > limit * MAX_CARRY_TICKS:
            return results, []
        places = (index for index, result in enumerate(results) if is_change(result))
        cut = next(islice(places, limit, None))  # the first change past the limit
        return results[:cut], results[cut:]

    async def views(self, selected: Callable[[], str | None]) -> AsyncIterator[FleetView]:
        """Start polling, then yield a view whenever the screen should change, forever.

        ``selected`` names the agent drilled into when each view is built (only its P&L history
        is copied into the view).
        """
        poller, fleet, clock = self.engine.poller, self.engine.fleet, self.clock
        poller.start()
        # Everything at once on start-up (bounded per host by the poller): every tab fills now,
        # not over the slowest interval the first-poll jitter would spread it across.
        poller.refresh_now()
        shown_at = clock.now()
        fill_until = self._monotonic() + FILL_S
        carry: list[PollResult] = []
        while True:
            if carry or self.feed.deferred:
                # Results past the last tick's limit, or agents the last build put off: they are
                # late already, so no window; but the last view is drawn first (its handler,
                # then its frame), so this one's work never lands inside that frame, nor
                # replaces it unseen.
                if self._drawn is not None:
                    await self._drawn()
                else:
                    await asyncio.sleep(CARRY_GAP_S)
                results, carry = carry, []
                results += poller.drain()
            else:
                # asyncio.timeout, not wait_for: on Python 3.11, wait_for drops a cancel that
                # lands in the step its awaitable finishes, and a quit then left this loop
                # polling.
                try:
                    async with asyncio.timeout(self.age_tick_s):
                        results = await poller.batch()
                except TimeoutError:
                    results = []
                if results and self.tick_s > 0:
                    # While the screen fills, a short window: the first figures show at once.
                    filling = self._monotonic() < fill_until
                    window = min(self.tick_s, FILL_TICK_S) if filling else self.tick_s
                    steps = max(1, math.ceil(window / BATCH_CHECK_S))
                    held = changes(results)
                    for _ in range(steps):
                        await asyncio.sleep(window / steps)
                        if held + poller.pending() >= self.max_results:
                            break  # a full tick: drawn now
                    results += poller.drain()
            if self.tick_s > 0:
                results, carry = self._split(results)
            now = clock.now()
            if not results and not self.feed.deferred and now - shown_at < AGE_TICK_S:
                continue  # nothing new and no age moved on: the screen stays as it is
            changed = fleet.apply_many(results)
            failures = [r for r in results if isinstance(r, PollFailure)]
            if failures:
                last = failures[-1]
                self.feed.note_error(one_line(f"{last.agent_id} {last.kind.value}: {last.error}"))
            trouble = poller.trouble()
            if trouble is not None:
                self.feed.note_error(trouble)
            shown_at = now
            yield self.feed.build(now, changed, selected=selected())
