"""The engine's parts for large fleets: the per-host limit, the compact rings, the daemon's GC
policy (issue 15; docs/performance.md)."""

from __future__ import annotations

import asyncio
import gc
import itertools
from collections import deque
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pf_tui.api.latency import FlagRing, FloatRing, LatencyRecorder
from pf_tui.core.fleet.history import DayChange, SampleRing
from pf_tui.core.polling.callstats import CallStats
from pf_tui.core.polling.limit import HostLimit
from pf_tui.daemon.gc_policy import EngineGc
from pf_tui.wiring import poll_latency

# ---- HostLimit --------------------------------------------------------------------------------


async def test_limit_holds_at_most_n_and_serves_waiters_in_arrival_order() -> None:
    """Breaking it: more than ``limit`` requests in flight on a host, or a late caller served
    before an early one (the semaphore it replaces was FIFO too)."""
    limit = HostLimit(3)
    order: list[int] = []
    inside = 0
    most = 0
    gate = asyncio.Event()

    async def one(i: int) -> None:
        nonlocal inside, most
        async with limit:
            inside += 1
            most = max(most, inside)
            order.append(i)
            await gate.wait()
            inside -= 1

    tasks = [asyncio.create_task(one(i)) for i in range(50)]
    await asyncio.sleep(0)
    assert limit.in_use == 3 and limit.waiting == 47
    gate.set()
    await asyncio.gather(*tasks)
    assert most == 3
    assert order == list(range(50))
    assert limit.in_use == 0 and limit.waiting == 0


async def test_cancelled_waiters_never_leak_a_slot() -> None:
    """A waiter cancelled while queued, or just as it was handed a slot, gives the slot on.

    Breaking it: after enough cancellations (timeouts of a poll) the host's limit shrinks to
    nothing and every later poll of that host waits forever.
    """
    limit = HostLimit(2)
    await limit.acquire()
    await limit.acquire()
    waiters = [asyncio.create_task(limit.acquire()) for _ in range(10)]
    await asyncio.sleep(0)
    for task in waiters[::2]:
        task.cancel()  # cancelled while queued
    limit.release()  # hands the slot to waiters[1] ...
    waiters[1].cancel()  # ... which is cancelled before it runs: the slot must move on
    for _ in range(5):
        await asyncio.sleep(0)
    done = [i for i, t in enumerate(waiters) if t.done() and not t.cancelled()]
    assert done == [3]  # one slot was free: the next live waiter in order got it
    assert limit.in_use == 2
    for task in waiters[5:]:
        task.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)
    for _ in range(2):
        limit.release()
    assert limit.in_use == 0
    async with limit, limit:
        assert limit.in_use == 2


async def test_a_long_queue_costs_the_same_per_wait() -> None:
    """20,000 queued waiters pass through in order; the old semaphore scanned its queue on every
    release (quadratic), which would make this take minutes rather than a fraction of a second.
    Counted in operations, not timed: each release pops exactly one waiter."""
    limit = HostLimit(1)
    await limit.acquire()
    served = 0

    async def one() -> None:
        nonlocal served
        await limit.acquire()
        served += 1
        limit.release()

    tasks = [asyncio.create_task(one()) for _ in range(20_000)]
    await asyncio.sleep(0)
    assert limit.waiting == 20_000
    limit.release()
    await asyncio.gather(*tasks)
    assert served == 20_000 and limit.in_use == 0


def test_limit_of_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        HostLimit(0)


# ---- rings ------------------------------------------------------------------------------------


@given(st.integers(min_value=1, max_value=9), st.lists(st.floats(allow_nan=False), max_size=40))
def test_float_ring_is_a_bounded_deque(size: int, values: list[float]) -> None:
    ring, ref = FloatRing(size), deque[float](maxlen=size)
    for v in values:
        ring.append(v)
        ref.append(v)
        assert list(ring) == list(ref) and len(ring) == len(ref)


@given(st.integers(min_value=1, max_value=9), st.lists(st.booleans(), max_size=40))
def test_flag_ring_is_a_bounded_deque_that_counts(size: int, flags: list[bool]) -> None:
    ring, ref = FlagRing(size), deque[bool](maxlen=size)
    for f in flags:
        ring.append(f)
        ref.append(f)
        assert list(ring) == list(ref)
        assert ring.count == sum(ref)


def test_call_stats_error_rate_is_over_the_last_512_calls() -> None:
    stats = CallStats()
    for _ in range(600):
        stats.record("ag_1", "casino GET /auth/balance", 0.01, False)
    for _ in range(256):
        stats.record("ag_1", "casino GET /auth/balance", 0.02, True)
    summary = stats.agent("ag_1")
    assert (summary.requests, summary.errors) == (512, 256)
    assert summary.p50 == pytest.approx(0.02)
    assert stats.totals("casino GET /auth/balance") == (856, 600)


def test_the_consoles_call_stats_keep_error_rates_but_no_latency_per_agent() -> None:
    """The console's counters (``agent_latency=False``): the same error rates and endpoint
    figures, and no per-agent ring (4.6 KB an agent)."""
    kept, lean = CallStats(), CallStats(agent_latency=False)
    for stats in (kept, lean):
        for ok in (True, False, False, True):
            stats.record("ag_1", "casino GET /auth/balance", 0.01, ok)
        stats.record("ag_1", "trading GET /v1/positions", 0.01, True)
    assert lean.error_rate("ag_1") == kept.error_rate("ag_1")
    assert lean.error_rate("ag_1").rate == 0.5
    assert lean.endpoint("casino GET /auth/balance") == kept.endpoint("casino GET /auth/balance")
    assert kept.agent("ag_1").requests == 5
    assert lean.agent("ag_1").requests == 0 and not lean._by_agent


def test_the_poll_engines_client_keeps_no_second_copy_of_the_latencies() -> None:
    """The poller's CallStats keeps them (per endpoint and agent); the client's recorder would
    be a copy nobody reads."""
    rec = poll_latency()
    rec.record("casino GET /auth/balance", "ag_1", 0.5, True)
    assert rec.stats().ok == 0 and rec.endpoints() == [] and rec.agents() == []


def test_a_recorder_without_agent_series_keeps_endpoints_only() -> None:
    rec = LatencyRecorder(agent_window=0)
    rec.record("casino GET /auth/balance", "ag_1", 0.5, True)
    assert rec.stats("casino GET /auth/balance").ok == 1
    assert rec.agents() == []
    assert LatencyRecorder().agents() == []  # the default still keeps them, once recorded
    with pytest.raises(ValueError, match="at least one"):
        LatencyRecorder(window=0)


# ---- the daemon's GC policy ----------------------------------------------------------------


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_engine_gc_takes_over_collects_and_gives_back() -> None:
    """Breaking it: the automatic collector left on (its full passes cost a fifth of a core at
    2,000 agents), cycles never collected, or the process left frozen and without a collector."""
    was = gc.isenabled()
    policy = EngineGc(young_s=1.0, full_s=10.0)
    policy.start(100.0)
    try:
        assert not gc.isenabled()
        policy.tick(100.5)
        assert policy.young_runs == 0  # not due yet
        _Cycle()  # garbage only a collection can find
        collected_before = sum(s["collected"] for s in gc.get_stats())
        policy.tick(101.0)
        assert policy.young_runs == 1
        assert gc.get_freeze_count() > 0  # the survivors are out of later passes
        assert sum(s["collected"] for s in gc.get_stats()) > collected_before
        policy.tick(110.0)
        assert policy.full_runs == 1
    finally:
        policy.stop()
    assert gc.isenabled() == was
    assert gc.get_freeze_count() == 0


# ---- the poller's first round -------------------------------------------------------------


async def test_first_polls_are_evenly_spaced_and_the_first_comes_at_once() -> None:
    """Breaking it: random first polls clump (a server sees bursts, p95 data age grows), or the
    daemon waits a random fraction of an interval for its first figure."""
    from .test_poller_schedule import make, run_until

    clock, poller, _, calls = make(n=200)
    async with poller:
        await run_until(clock, 2.0)
    firsts: dict[str, float] = {}
    for agent, t in calls["casino_stats"]:  # casino: the fastest data type (2 s)
        firsts.setdefault(agent, t)
    times = sorted(firsts.values())
    assert len(times) == 200
    assert times[0] == 0.0
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(g == pytest.approx(0.01, abs=0.006) for g in gaps)  # 2 s / 200, fake clock ticks
    pnl = sorted(dict(reversed(calls["pnl_history"])).values())
    assert 0.0 <= pnl[0] < 3.0 / 200 + 0.006  # its own random phase within one step
    assert len(pnl) == pytest.approx(200 * 2 / 3, abs=2)  # two thirds of a 3 s round in 2 s


# ---- history rings ---------------------------------------------------------------------------

AMOUNTS = st.one_of(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=2, min_value=-(10**9), max_value=10**9
    ),
    st.decimals(
        allow_nan=False, allow_infinity=False, places=6, min_value=-(10**3), max_value=10**3
    ),
    st.decimals(allow_nan=False, allow_infinity=False),  # any size and exponent
    st.sampled_from([Decimal("-0"), Decimal("0.00"), Decimal("1E+3"), Decimal("9" * 25)]),
)


@given(
    st.integers(min_value=1, max_value=7),
    st.lists(st.tuples(st.floats(allow_nan=False, width=64), AMOUNTS), max_size=30),
)
def test_sample_ring_is_a_bounded_deque_of_exact_amounts(
    size: int, samples: list[tuple[float, Decimal]]
) -> None:
    """Breaking it: an amount read back with another value, sign or exponent (money history is
    exact), or a ring that keeps more or other samples than ``deque(maxlen)`` would."""
    ring, ref = SampleRing(maxlen=size), deque[tuple[float, Decimal]](maxlen=size)
    for sample in samples:
        ring.append(sample)
        ref.append(sample)
        got = list(ring)
        assert [t for t, _ in got] == [t for t, _ in ref]
        assert [str(v) for _, v in got] == [str(v) for _, v in ref]
        assert len(ring) == len(ref) and bool(ring) == bool(ref)
        assert str(ring[-1][1]) == str(ref[-1][1]) and str(ring[0][1]) == str(ref[0][1])
    with pytest.raises(IndexError):
        ring[len(ref)]
    assert list(SampleRing(ref, maxlen=size)) == list(ring)


async def test_a_full_host_queue_parks_polls_without_holding_the_others() -> None:
    """Behind a hung host, due polls wait as queue entries, not as thousands of tasks, and the
    other hosts keep their rhythm; when it recovers, the parked polls run, oldest first.

    Breaking it: every due poll of the hung host becomes a waiting task (memory and GC grow
    with the fleet), or polls of healthy hosts stall behind the hung one.
    """
    from .test_poller_schedule import make, per_agent, run_until

    clock, poller, sources, calls = make(n=60, max_concurrency=2)
    for source in sources:
        source.hang |= {"positions", "pnl_history", "trading_referrals"}  # trading hangs
    async with poller:
        await run_until(clock, 12.0)
        assert len(poller._tasks) <= 12  # 2 calls in progress + a queue of 2, a pass's slack
        assert poller.parked() >= 100  # 60 agents x 2 trading figures, minus those started
        for agent in ("ag_0", "ag_30", "ag_59"):
            assert len(per_agent(calls, "casino_stats", agent)) >= 5  # every 2 s, unhindered
        stuck = len(calls["positions"])
        for source in sources:
            source.hang.clear()
            source.released.set()
        await run_until(clock, 20.0)
        assert poller.parked() == 0
        assert {a for a, _ in calls["positions"][stuck:]} == {s.agent_id for s in sources}


DAY = 86_400


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=DAY),
            st.decimals(min_value=-1000, max_value=1000, places=2),
        ),
        max_size=40,
    ),
    st.integers(min_value=0, max_value=2 * DAY),
)
def test_day_change_is_the_move_since_midnight(steps: list[tuple[int, Decimal]], wait: int) -> None:
    """Against every sample kept: the move since the latest midnight is the latest value less
    the last one before midnight (else the day's first), zero once a day passes with none.
    Breaking it (the base not moved at a new day, or a day that is not UTC's) fails here."""
    mark, samples = DayChange(), []
    t = 5 * DAY - 3_600.0  # an hour before a midnight
    for step, value in steps:
        t += step  # in time order, repeats allowed
        mark.append(t, value)
        samples.append((t, value))
    now = t + wait
    midnight = now - now % DAY
    if not samples:
        assert mark.since(midnight) is None
        return
    before = [value for when, value in samples if when < midnight]
    today = [value for when, value in samples if when >= midnight]
    base = before[-1] if before else today[0]
    expected = samples[-1][1] - (base if today else samples[-1][1])
    moved = mark.since(midnight)
    assert moved == expected and str(moved) == str(expected)
