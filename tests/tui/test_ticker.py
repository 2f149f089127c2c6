"""The tick policy without Textual: a batch of results is one view, a quiet poller yields a view
only when ages move on, the newest failure reaches the view as one line."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal

from pf_tui.api.models import Balance
from pf_tui.clock import FakeClock
from pf_tui.core.fleet.state import AgentInfo, FleetState
from pf_tui.core.polling.results import (
    BalanceSnapshot,
    DataType,
    PollFailure,
    PollResult,
    Snapshot,
    changes,
)
from pf_tui.views.model import FleetView
from pf_tui.views.ticker import AGE_TICK_S, MAX_CARRY_TICKS, Ticker
from pf_tui.wiring import PollEngine
from tests.tui.harness import POLL_INTERVALS


class FakePoller:
    """What the ticker uses of the poller: start, refresh_now, batch, drain and pending."""

    def __init__(self) -> None:
        self.ready: list[PollResult] = []
        self.arrived = asyncio.Event()
        self.started = self.refreshed = False
        self.down: str | None = None

    def start(self) -> None:
        self.started = True

    def refresh_now(self) -> None:
        self.refreshed = True

    def push(self, *results: PollResult) -> None:
        self.ready += results
        self.arrived.set()

    async def batch(self) -> list[PollResult]:
        while not self.ready:
            self.arrived.clear()
            await self.arrived.wait()
        return self.drain()

    def drain(self) -> list[PollResult]:
        out, self.ready = self.ready, []
        return out

    def pending(self) -> int:
        return changes(self.ready)

    def trouble(self) -> str | None:
        return self.down


def ticker_of(
    clock: FakeClock,
    *,
    tick_s: float = 0.0,
    filled: bool = False,
    max_results: int = 300,
    drawn: Callable[[], Awaitable[None]] | None = None,
) -> tuple[Ticker, FakePoller]:
    """A ticker over two agents and a fake poller; ``filled``: past the start-up window."""
    fleet = FleetState(
        [AgentInfo("ag_0", "A0"), AgentInfo("ag_1", "A1")], intervals=POLL_INTERVALS, clock=clock
    )
    poller = FakePoller()
    engine = PollEngine(client=None, poller=poller, fleet=fleet)  # type: ignore[arg-type]
    starts = iter([0.0])  # the window opens at 0; with filled, every later reading is past it
    monotonic = (lambda: next(starts, 60.0)) if filled else (lambda: 0.0)
    ticker = Ticker(
        engine,
        clock,
        tick_s=tick_s,
        age_tick_s=0.01,
        max_results=max_results,
        drawn=drawn,
        monotonic=monotonic,
    )
    ticker.view()  # as the app does: the view before any poll
    return ticker, poller


def balance(clock: FakeClock, agent_id: str, usd: str) -> Snapshot:
    value = BalanceSnapshot(Balance(Decimal(usd)))
    return Snapshot(agent_id, DataType.BALANCE, value, clock.now(), 0.01)


async def next_view(views: AsyncIterator[FleetView]) -> FleetView:
    return await asyncio.wait_for(anext(views), timeout=2)


async def test_results_within_a_tick_make_one_view() -> None:
    clock = FakeClock()
    ticker, poller = ticker_of(clock, tick_s=0.5, filled=True)
    views = ticker.views(lambda: None)
    waiting = asyncio.ensure_future(next_view(views))
    await asyncio.sleep(0.02)
    assert poller.started and poller.refreshed  # everything polled at once on start-up
    poller.push(balance(clock, "ag_0", "10"))
    await asyncio.sleep(0.02)  # the ticker took it and waits out the tick...
    assert not waiting.done()
    poller.push(balance(clock, "ag_1", "20"))  # ...so this one is drawn with it
    view = await waiting
    assert view.changed_agents == {"ag_0", "ag_1"}
    assert [a.balance for a in view.agents] == [Decimal("10"), Decimal("20")]


async def test_a_full_tick_is_drawn_without_waiting_out_its_window() -> None:
    """A large fleet's quarter second brings hundreds of agents: a tick holding ``max_results``
    closes at once (the next check), and what came after it waits for the next tick."""
    clock = FakeClock()
    ticker, poller = ticker_of(clock, tick_s=5.0, filled=True, max_results=3)
    views = ticker.views(lambda: None)
    waiting = asyncio.ensure_future(next_view(views))
    await asyncio.sleep(0.02)
    poller.push(balance(clock, "ag_0", "10"))
    await asyncio.sleep(0.02)
    assert not waiting.done()  # one result: the window stays open
    poller.push(balance(clock, "ag_1", "20"), balance(clock, "ag_0", "11"))
    view = await asyncio.wait_for(waiting, timeout=1.0)  # not the 5 s window
    assert view.changed_agents == {"ag_0", "ag_1"}
    assert [a.balance for a in view.agents] == [Decimal("11"), Decimal("20")]


async def test_unchanged_figures_do_not_close_a_tick_early() -> None:
    """The early close counts changes: a 1,000-agent fleet brings hundreds of replies a second
    that equal the last (no row to rebuild), and closing on those made 3.5 times the frames."""
    clock = FakeClock()
    ticker, poller = ticker_of(clock, tick_s=5.0, filled=True, max_results=2)
    views = ticker.views(lambda: None)
    waiting = asyncio.ensure_future(next_view(views))
    await asyncio.sleep(0.02)
    poller.push(balance(clock, "ag_0", "10"))
    await asyncio.sleep(0.02)
    same = BalanceSnapshot(Balance(Decimal(10)))
    poller.push(*(Snapshot("ag_0", DataType.BALANCE, same, clock.now(), 0.01, False),) * 5)
    await asyncio.sleep(0.15)  # three checks of the window: one change, five unchanged
    assert not waiting.done()
    poller.push(balance(clock, "ag_1", "20"))  # the second change: drawn now
    view = await asyncio.wait_for(waiting, timeout=1.0)
    assert view.changed_agents == {"ag_0", "ag_1"}


async def test_a_burst_is_drawn_over_several_ticks_oldest_first_each_after_the_last_frame() -> None:
    """After a pause of the loop (or the start-up poll of everything) results pour in at once:
    each tick takes ``max_results`` of them, oldest first, and the next waits until the last
    view is on screen, so no frame holds the whole burst and no view replaces one unseen."""
    clock = FakeClock()
    frames: list[int] = []

    async def drawn() -> None:
        frames.append(len(seen))

    ticker, poller = ticker_of(clock, tick_s=5.0, filled=True, max_results=2, drawn=drawn)
    views = ticker.views(lambda: None)
    seen: list[FleetView] = []
    poller.push(*(balance(clock, f"ag_{(n - 1) % 2}", str(n)) for n in range(1, 6)))
    for _ in range(3):
        seen.append(await asyncio.wait_for(anext(views), timeout=1.0))  # not the 5 s window
    assert [[a.balance for a in view.agents] for view in seen] == [
        [Decimal(1), Decimal(2)],
        [Decimal(3), Decimal(4)],
        [Decimal(5), Decimal(4)],
    ]
    assert frames == [1, 2]  # each later part waited for the frame of the view before it


async def test_agents_over_a_builds_budget_are_drawn_in_the_next_frame() -> None:
    """Staleness flips need no result: when a whole fleet turns stale at once (an outage), the
    feed rebuilds ``max_results`` agents a build and the rest come in the next one, right
    after the frame, not a second later with the next age tick."""
    clock = FakeClock()
    frames: list[int] = []

    async def drawn() -> None:
        frames.append(1)

    ticker, _ = ticker_of(clock, tick_s=5.0, filled=True, max_results=1, drawn=drawn)
    fleet = ticker.engine.fleet
    for agent in ("ag_0", "ag_1"):
        for kind in DataType:
            value = BalanceSnapshot(Balance(Decimal(1)))
            fleet.apply(Snapshot(agent, kind, value, clock.now(), 0.01))  # type: ignore[arg-type]
    assert not any(a.stale for a in ticker.view().agents)  # every figure fresh
    views = ticker.views(lambda: None)
    waiting = asyncio.ensure_future(next_view(views))
    await asyncio.sleep(0.02)  # the ticker runs, nothing to draw yet
    clock.advance(3600)  # every figure past its limit: both agents turn stale at once
    first = await waiting
    second = await next_view(views)
    assert [a.stale for a in first.agents].count(True) == 1
    assert [a.stale for a in second.agents] == [True, True]
    assert second.at == first.at  # the leftover, not a later age tick
    assert frames == [1]


async def test_a_backlog_past_the_carry_limit_is_drawn_at_once() -> None:
    """A backlog of more than ``MAX_CARRY_TICKS`` ticks is applied whole: split, it would
    only grow."""
    clock = FakeClock()
    ticker, poller = ticker_of(clock, tick_s=5.0, filled=True, max_results=2)
    views = ticker.views(lambda: None)
    count = 2 * MAX_CARRY_TICKS + 1
    poller.push(*(balance(clock, "ag_0", str(n)) for n in range(1, count + 1)))
    view = await asyncio.wait_for(anext(views), timeout=1.0)
    assert view.agents[0].balance == Decimal(count)


async def test_a_quiet_poller_yields_only_when_ages_move_on() -> None:
    clock = FakeClock()
    ticker, _ = ticker_of(clock)
    views = ticker.views(lambda: None)
    waiting = asyncio.ensure_future(next_view(views))
    await asyncio.sleep(0.1)  # ten wake-ups, the clock still: nothing to draw
    assert not waiting.done()
    clock.advance(AGE_TICK_S)
    view = await waiting
    assert view.changed_agents == frozenset() and view.at == clock.now()


async def test_the_newest_failure_is_one_line_in_the_view() -> None:
    clock = FakeClock()
    ticker, poller = ticker_of(clock)
    views = ticker.views(lambda: "ag_1")
    poller.push(
        PollFailure("ag_0", DataType.BALANCE, RuntimeError("older"), clock.now(), 1, 2.0),
        PollFailure("ag_1", DataType.BALANCE, RuntimeError("bad\nbody"), clock.now(), 1, 2.0),
    )
    view = await next_view(views)
    assert view.last_error == "ag_1 balance: bad\\x0abody"  # untrusted: one line, escaped
    assert set(view.agent_pnl_daily) == {"ag_1"}  # the agent drilled into


async def test_a_dead_poll_worker_is_said_in_the_view_as_ages_move_on() -> None:
    clock = FakeClock()
    ticker, poller = ticker_of(clock)
    views = ticker.views(lambda: None)
    poller.push(balance(clock, "ag_0", "10"))
    assert (await next_view(views)).last_error == ""
    poller.down = "poll worker exited (code -9): no message; starting again in 1 s"
    clock.advance(AGE_TICK_S)  # no result comes: the age tick still brings the news
    view = await next_view(views)
    assert view.last_error == poller.down


async def test_a_quit_as_a_batch_arrives_stops_the_views() -> None:
    """Python 3.11's ``asyncio.wait_for`` returns the inner result and drops the cancel when
    both land in the same step (fixed in 3.12): the engine worker, cancelled on quit just as a
    batch came in, then polled on forever. The ticker must end on every cancel."""
    clock = FakeClock()
    ticker, poller = ticker_of(clock)
    calls = 0

    async def batch_then_quit() -> list[PollResult]:
        nonlocal calls
        calls += 1
        if calls > 1:
            await asyncio.Event().wait()  # polling on after the quit: no more batches come
        consumer.cancel()  # the quit, in the very step the batch comes back
        return []

    poller.batch = batch_then_quit  # type: ignore[method-assign]

    async def consume() -> None:
        async for _ in ticker.views(lambda: None):
            pass

    consumer = asyncio.ensure_future(consume())
    done, _ = await asyncio.wait([consumer], timeout=2)
    if not done:
        consumer.cancel()  # a second cancel lands (the views wait in a batch that never ends)
        await asyncio.wait([consumer], timeout=2)
    assert done, "the cancel was lost: the views kept polling"
    assert consumer.cancelled()
