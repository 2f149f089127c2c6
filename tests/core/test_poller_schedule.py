"""The poller's scheduling on a fake clock: intervals, jitter, backoff, isolation, controls."""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal

import pytest

from pf_tui.api.errors import RateLimitError, ServiceUnavailableError
from pf_tui.api.models import Escrow, EscrowStatus, LedgerEntry
from pf_tui.clock import FakeClock
from pf_tui.core.polling.fetch import PollTarget
from pf_tui.core.polling.poller import Poller
from pf_tui.core.polling.results import DataType, PollFailure, Snapshot
from tests.core.fakes import FakeSource, new_calls

INTERVALS = {"balance": 10, "positions": 5, "pnl": 3, "casino": 2, "referrals": 30, "escrows": 5}


async def run_until(clock: FakeClock, t: float) -> None:
    """Let the event loop run until fake monotonic time reaches ``t``."""
    for _ in range(1_000_000):
        if clock.monotonic() >= t:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"fake time stuck at {clock.monotonic()}")


async def spin(n: int = 50) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


def make(n: int = 3, **kw: object) -> tuple[FakeClock, Poller, list[FakeSource], dict]:
    clock = FakeClock()
    calls = new_calls()
    sources = [FakeSource(clock, f"ag_{i}", calls) for i in range(n)]
    targets = [PollTarget(s.agent_id, s, escrow_dialect="classic") for s in sources]
    intervals = kw.pop("intervals", INTERVALS)
    poller = Poller(targets, intervals=intervals, clock=clock, seed=1, **kw)  # type: ignore[arg-type]
    return clock, poller, sources, calls


def per_agent(calls: dict, method: str, agent: str) -> list[float]:
    return [t for a, t in calls[method] if a == agent]


async def test_each_type_polled_at_its_interval() -> None:
    clock, poller, _, calls = make()
    async with poller:
        await run_until(clock, 60.5)
    for agent in ("ag_0", "ag_1", "ag_2"):
        assert len(per_agent(calls, "casino_stats", agent)) in (30, 31)
        assert len(per_agent(calls, "pnl_history", agent)) in (20, 21)
        assert len(per_agent(calls, "balance", agent)) in (6, 7)
        assert len(per_agent(calls, "casino_referrals", agent)) in (2, 3)
        # The ledger walk that finds classic escrows has a slow tier of its own (first poll,
        # then every 30 s without a hint), not one call per 5 s escrow poll.
        assert len(per_agent(calls, "ledger", agent)) in (2, 3)
    assert "bets_history" not in calls  # never /bets/*: 60 a minute for the whole fleet
    results = poller.drain()
    assert all(isinstance(r, Snapshot) for r in results)
    # Unchanged figures are flagged so nobody re-derives them.
    casino = [r for r in results if r.kind is DataType.CASINO and r.agent_id == "ag_0"]
    assert casino[0].changed and not any(r.changed for r in casino[1:])
    assert all(r.value is casino[0].value for r in casino)


async def test_first_polls_are_spread_over_the_interval() -> None:
    clock, poller, _, calls = make(n=200)
    async with poller:
        await run_until(clock, 2.0)
    firsts = {}
    for agent, t in calls["casino_stats"]:
        firsts.setdefault(agent, t)
    times = sorted(firsts.values())
    assert len(times) == 200
    # Uniform over [0, 2): each half-second bucket gets a fair share, none gets them all.
    buckets = [sum(1 for t in times if b * 0.5 <= t < (b + 1) * 0.5) for b in range(4)]
    assert all(25 <= b <= 75 for b in buckets), buckets


async def test_backoff_doubles_to_cap_then_recovers() -> None:
    clock, poller, sources, calls = make(n=2, max_backoff=16.0)
    sources[0].faults["casino_stats"] = ServiceUnavailableError(503, "unavailable", None)
    async with poller:
        await run_until(clock, 60.0)
        times = per_agent(calls, "casino_stats", "ag_0")
        gaps = [b - a for a, b in itertools.pairwise(times)]
        # 2 s interval: 4, 8, 16 (cap), 16 ... each at most 20% over, never under nor over the cap
        expected = [4.0, 8.0, 16.0, 16.0]
        for gap, low in zip(gaps, expected, strict=False):  # the first gaps; more follow
            assert low - 1e-9 <= gap <= min(low * 1.2, 16.0) + 0.01, gaps
        # The healthy agent and the other figures of the failing one kept their rhythm.
        assert len(per_agent(calls, "casino_stats", "ag_1")) >= 29
        assert len(per_agent(calls, "pnl_history", "ag_0")) >= 19
        failures = [r for r in poller.drain() if isinstance(r, PollFailure)]
        assert failures and all(
            r.agent_id == "ag_0" and r.kind is DataType.CASINO for r in failures
        )
        assert [f.failures for f in failures[:3]] == [1, 2, 3]
        assert isinstance(failures[0].error, ServiceUnavailableError)
        # Clear the fault: back to normal after the pending backoff, then every interval.
        del sources[0].faults["casino_stats"]
        _, wait = poller.backoff_of("ag_0", DataType.CASINO)
        t_clear = clock.monotonic()
        await run_until(clock, t_clear + wait + 10.0)
        after = [t for t in per_agent(calls, "casino_stats", "ag_0") if t > t_clear]
        assert after[0] <= t_clear + 16.0 + 0.01
        assert all(abs((b - a) - 2.0) < 0.02 for a, b in itertools.pairwise(after))
        assert poller.backoff_of("ag_0", DataType.CASINO)[0] == 0


async def test_retry_after_longer_than_backoff_is_honoured_and_refresh_respects_it() -> None:
    clock, poller, sources, calls = make(n=1)
    sources[0].faults["casino_stats"] = RateLimitError(429, "rate_limited", None, retry_after=40.0)
    async with poller:
        await run_until(clock, 3.0)
        assert len(per_agent(calls, "casino_stats", "ag_0")) == 1
        poller.refresh_now()
        await run_until(clock, 30.0)
        assert len(per_agent(calls, "casino_stats", "ag_0")) == 1
        await run_until(clock, 45.0)
        assert len(per_agent(calls, "casino_stats", "ag_0")) == 2


@pytest.mark.parametrize("asked", [86_400.0 * 365, float("inf")])
async def test_a_huge_retry_after_is_capped(asked: float) -> None:
    """Broken: a 429 asking for a year (or for infinity) parked the figure for that long; the
    poller now waits at most RETRY_AFTER_CAP_S (600 s) before asking again."""
    from pf_tui.core.polling.poller import RETRY_AFTER_CAP_S

    clock, poller, sources, calls = make(n=1)
    sources[0].faults["casino_stats"] = RateLimitError(429, "rate_limited", None, retry_after=asked)
    async with poller:
        await run_until(clock, 3.0)
        failures, wait = poller.backoff_of("ag_0", DataType.CASINO)
        assert failures == 1 and 0 < wait <= RETRY_AFTER_CAP_S
        sources[0].faults.clear()
        await run_until(clock, 3.0 + RETRY_AFTER_CAP_S + 1)
        assert len(per_agent(calls, "casino_stats", "ag_0")) >= 2  # asked again, answered


async def test_a_hung_source_does_not_stall_the_others() -> None:
    clock, poller, sources, calls = make(n=3, max_concurrency=4)
    sources[1].hang.add("balance")
    sources[1].hang.add("casino_stats")
    async with poller:
        await run_until(clock, 20.5)
        assert len(per_agent(calls, "casino_stats", "ag_1")) == 1  # in flight, never doubled
        assert len(per_agent(calls, "casino_stats", "ag_0")) >= 10
        assert len(per_agent(calls, "pnl_history", "ag_1")) >= 6
        sources[1].hang.clear()
        sources[1].released.set()
        await run_until(clock, 25.0)
        assert len(per_agent(calls, "casino_stats", "ag_1")) >= 2


async def test_interval_change_takes_effect_at_once() -> None:
    clock, poller, _, calls = make(n=1)
    async with poller:
        await run_until(clock, 31.0)
        before = len(per_agent(calls, "casino_referrals", "ag_0"))
        poller.set_interval("referrals", 1.0)
        poller.set_interval("errors", 9.0)  # not a polled type: ignored
        await run_until(clock, 41.0)
        # 30 s -> 1 s: about ten polls in ten seconds instead of none (the fake clock's sleeps
        # cannot be interrupted, so a wake-up may land up to one other job's due time late).
        assert len(per_agent(calls, "casino_referrals", "ag_0")) - before >= 7
        with pytest.raises(ValueError):
            poller.set_interval("casino", 0)


async def test_agents_added_and_removed_while_running() -> None:
    clock, poller, _, calls = make(n=1)
    async with poller:
        await run_until(clock, 5.0)
        extra = FakeSource(clock, "ag_new", calls)
        poller.add_agent(PollTarget("ag_new", extra, escrow_dialect="classic"))
        await run_until(clock, 6.5)
        assert len(per_agent(calls, "casino_stats", "ag_new")) >= 1
        poller.remove_agent("ag_0")
        n = len(per_agent(calls, "casino_stats", "ag_0"))
        await run_until(clock, 20.0)
        assert len(per_agent(calls, "casino_stats", "ag_0")) == n
        assert sorted(poller.agent_ids()) == ["ag_new"]


async def test_sources_are_the_same_before_and_after_start() -> None:
    _, poller, _, _ = make(n=2)
    before = sorted(poller.sources())
    assert len(before) == 2 * len(DataType)
    assert {kind for agent, kind in before if agent == "ag_1"} == set(DataType)
    async with poller:
        assert sorted(poller.sources()) == before
        poller.remove_agent("ag_0")
        assert {agent for agent, _ in poller.sources()} == {"ag_1"}


async def test_pause_resume_and_refresh_now() -> None:
    clock, poller, _, calls = make(n=2)
    async with poller:
        await run_until(clock, 12.0)
        poller.pause()
        await spin()
        n = len(calls["casino_stats"])
        clock.advance(50.0)
        await spin(200)
        assert len(calls["casino_stats"]) == n and poller.paused
        poller.resume()
        await run_until(clock, clock.monotonic() + 1.01)
        assert len(calls["casino_stats"]) >= n + 2
        t0 = clock.monotonic()
        poller.refresh_now()
        await spin(200)
        # Referrals (30 s tier, last polled just now) were polled again for both agents at once
        # (within one uninterruptible fake sleep), not 30 s later.
        assert sorted(a for a, t in calls["casino_referrals"] if t0 <= t <= t0 + 3) == [
            "ag_0",
            "ag_1",
        ]
        assert len([1 for a, t in calls["balance"] if t0 <= t <= t0 + 3]) == 2


async def test_escrows_from_ledger_rows_and_terminal_ones_read_once() -> None:
    clock, poller, sources, calls = make(n=1)
    src = sources[0]
    esc_a, esc_b = "esc_" + "a" * 16, "esc_" + "b" * 16
    src.ledger_rows = (
        LedgerEntry("1", "escrow_lock", Decimal(-1), None, "", f"{esc_a}:lock", "escrow", None),
        LedgerEntry("2", "bet", Decimal(-1), None, "", "bet_1", "casino", None),
        LedgerEntry("3", "escrow_release", Decimal(1), None, "", f"{esc_b}", "escrow", None),
    )
    src.escrows[esc_b] = Escrow(esc_b, EscrowStatus.RELEASED, Decimal(1))
    poller.track_escrow("ag_0", "esc_" + "c" * 16)
    async with poller:
        await run_until(clock, 21.0)
    snaps = [r for r in poller.drain() if r.kind is DataType.ESCROWS]
    ids = {e.escrow_id for e in snaps[-1].value.escrows}
    assert ids == {esc_a, esc_b, "esc_" + "c" * 16}
    reads = len(calls["escrow"])
    assert len(snaps) >= 4
    assert reads == 1 + 2 * len(snaps)  # the released one was read once, funded ones every poll


async def test_async_iteration_yields_typed_results() -> None:
    _, poller, sources, _ = make(n=1)
    sources[0].faults["positions"] = ServiceUnavailableError(503, "x", None)
    seen: dict[tuple[str, bool], int] = {}
    async with poller:
        async for result in poller:
            key = (result.kind.value, result.ok)
            seen[key] = seen.get(key, 0) + 1
            if (
                ("positions", False) in seen
                and ("balance", True) in seen
                and ("referrals", True) in seen
            ):
                break
    assert ("positions", True) not in seen


async def test_the_same_model_object_is_unchanged_and_a_new_value_is_changed() -> None:
    # The client returns the very object it parsed last time when a reply's bytes repeat.
    from pf_tui.api.models import CasinoStats

    clock, poller, sources, _ = make(n=1)
    shared = CasinoStats(total_bets=5, net_profit=Decimal(1))
    values = [shared, shared, CasinoStats(total_bets=6, net_profit=Decimal(1))]

    async def casino_stats() -> CasinoStats:
        return values.pop(0) if len(values) > 1 else values[0]

    sources[0].casino_stats = casino_stats  # type: ignore[method-assign]
    async with poller:
        await run_until(clock, 6.5)
    casino = [r for r in poller.drain() if r.kind is DataType.CASINO]
    assert [r.changed for r in casino[:3]] == [True, False, True]
    assert casino[1].value is shared and casino[2].value.total_bets == 6


async def test_refresh_polls_one_agents_figures_now_and_follows_a_poll_under_way() -> None:
    """After a money action the console asks for the acting agent's balance and escrows at
    once; a poll already under way may have read the server before the action, so another
    follows it as soon as it ends. Nothing else moves."""
    clock, poller, sources, calls = make(n=2)
    async with poller:
        await run_until(clock, 12.0)
        assert len(per_agent(calls, "balance", "ag_0")) == 2
        sources[0].hang.add("balance")  # its third poll (20.67 s) hangs
        await run_until(clock, 25.0)
        hung = len(per_agent(calls, "balance", "ag_0"))
        assert hung == 3 and per_agent(calls, "balance", "ag_0")[-1] < 25.0  # under way
        t0 = clock.monotonic()
        poller.refresh("ag_0", (DataType.BALANCE, DataType.REFERRALS))
        poller.refresh("nobody", (DataType.BALANCE,))  # not polled: ignored
        assert len(per_agent(calls, "balance", "ag_0")) == hung  # never two at once
        # The poll under way ends now, before its 10 s rhythm would call again.
        sources[0].hang.clear()
        sources[0].released.set()
        await run_until(clock, t0 + 25)
    after = per_agent(calls, "balance", "ag_0")[hung:]
    assert after[0] == t0, after  # read again at once, not at 30.67 s
    assert [round(b - a, 6) for a, b in itertools.pairwise(after)] == [10.0, 10.0], after
    # Referrals (a 30 s tier) at once, for ag_0 alone (the fake clock's sleeps cannot be
    # interrupted: "at once" is within a scheduler step).

    def soon(method: str, agent: str) -> list[float]:
        return [t for t in per_agent(calls, method, agent) if t0 <= t < t0 + 1]

    assert len(soon("casino_referrals", "ag_0")) == 1
    assert soon("casino_referrals", "ag_1") == []


async def test_refresh_waits_out_a_retry_after() -> None:
    clock, poller, sources, calls = make(n=1)
    sources[0].faults["casino_stats"] = RateLimitError(429, "rate_limited", None, retry_after=40.0)
    async with poller:
        await run_until(clock, 3.0)
        poller.refresh("ag_0", (DataType.CASINO,))
        await run_until(clock, 30.0)
        assert len(per_agent(calls, "casino_stats", "ag_0")) == 1


async def test_a_restart_polls_what_a_stop_cut_off_before_it_began() -> None:
    """Breaking it: a poll whose task was cancelled before its first step stays marked in
    flight, and after the poller starts again that figure is never polled."""
    clock, poller, _, calls = make(n=20)
    async with poller:
        await run_until(clock, 1.0)
        # As a scheduler pass does just before the stop: the due jobs launched, none run yet.
        launched = [jobs[DataType.POSITIONS] for jobs in poller._jobs.values()]
        for job in launched:
            if not job.in_flight:
                job.in_flight = True
                poller._launch(job)
    assert all(job.parked or not job.in_flight for job in launched)  # parked: queued to start
    before = len(calls["positions"])
    async with poller:
        await run_until(clock, clock.monotonic() + 6.0)  # positions: every 5 s
    assert {a for a, _ in calls["positions"][before:]} == {f"ag_{i}" for i in range(20)}


async def test_a_start_during_a_stop_keeps_its_polls_marked_in_flight() -> None:
    """Breaking it: the stop, finishing after the restart, cleared the new polls' marks, and a
    refresh then started a second poll of a figure already being polled."""
    clock, poller, sources, calls = make(n=1)
    sources[0].hang.add("casino_stats")
    poller.start()
    await run_until(clock, 0.5)
    stopping = asyncio.create_task(poller.stop())
    await asyncio.sleep(0)  # the stop has cancelled the polls and waits for them
    poller.start()
    await run_until(clock, clock.monotonic() + 2.5)  # the restarted casino poll hangs
    await stopping
    started = len(calls["casino_stats"])
    poller.refresh_now()
    await spin()
    assert len(calls["casino_stats"]) == started  # still one casino poll, the hung one
    sources[0].released.set()
    await poller.stop()
