"""The poller against the simulator over 127.0.0.1, with its fault knobs (docs/api.md §6).

Intervals are 0.1 s and the backoff cap 0.4 s so each case runs in about a second of real time;
waiting is done by polling the fleet state with a deadline, never by a fixed sleep.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

sim_server_mod = pytest.importorskip("pf_tui.sim.http.server")

from pf_tui.api.bases import ServiceBases  # noqa: E402
from pf_tui.api.client import PurpleFleaClient  # noqa: E402
from pf_tui.api.retry import RetryPolicy  # noqa: E402
from pf_tui.config import Config  # noqa: E402
from pf_tui.core.fleet.state import FleetState  # noqa: E402
from pf_tui.core.polling.poller import Poller  # noqa: E402
from pf_tui.core.polling.results import DataType, PollFailure, PollResult  # noqa: E402
from pf_tui.demo import fetch_demo_agents  # noqa: E402
from pf_tui.wiring import build_poll_engine  # noqa: E402

INTERVAL = 0.1
CAP = 0.4
STATS_ROUTE = "/casino/api/v1/stats/me"
SERVICE_ROUTES = ("/casino/*", "/trading/*", "/wallet/*", "/escrow/*")
"""Every service route, and none of the simulator's own ``/_sim`` controls."""


@pytest.fixture(scope="module")
def sim() -> Iterator[Any]:
    server = sim_server_mod.SimServer(
        host="127.0.0.1", port=0, seed=7, agents=3, motion=False, limits="off"
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _control(sim: Any, method: str, path: str, body: Any = None) -> Any:
    reply = httpx.request(method, f"{sim.url}{path}", json=body, timeout=5)
    reply.raise_for_status()
    return reply.json()


def add_fault(sim: Any, rule: dict[str, Any]) -> None:
    """Add a fault rule. The reply is not checked: the simulator currently answers 500 when it
    echoes the rule (a float it cannot encode) after adding it; the tests check the effect."""
    httpx.post(f"{sim.url}/_sim/faults", json=rule, timeout=5)


Pump = Callable[[], list[PollResult]]
"""Applies what the poller has ready to the fleet state and returns it."""


@pytest.fixture
async def engine(
    sim: Any,
) -> AsyncIterator[tuple[Poller, FleetState, Pump]]:
    _control(sim, "DELETE", "/_sim/faults")
    config = Config.demo(sim.url, fetch_demo_agents(sim.url))
    client = PurpleFleaClient(
        ServiceBases.for_simulator(sim.url), timeout=0.5, retry=RetryPolicy(max_attempts=1)
    )
    engine = build_poll_engine(config, client=client, seed=3)
    poller, fleet = engine.poller, engine.fleet
    poller.max_backoff = CAP
    intervals = {k.value: INTERVAL for k in DataType}
    poller.set_intervals(intervals)
    fleet.set_intervals(intervals)

    def pump() -> list[PollResult]:
        results = poller.drain()
        fleet.apply_many(results)
        return results

    async with poller:
        yield poller, fleet, pump
    await client.aclose()
    _control(sim, "DELETE", "/_sim/faults")


async def wait_for(pump: Callable[[], object], cond: Callable[[], bool], within_s: float) -> float:
    """Apply results until ``cond`` holds; return the seconds it took (fail after ``within_s``)."""
    start = time.monotonic()
    while time.monotonic() - start < within_s:
        pump()
        if cond():
            return time.monotonic() - start
        await asyncio.sleep(0.02)
    raise AssertionError(f"condition not met within {within_s}s")


def all_fresh(fleet: FleetState, kinds: tuple[DataType, ...]) -> bool:
    return all(not fleet.staleness(a, k).stale for a in fleet.agents for k in kinds)


OTHERS = (DataType.BALANCE, DataType.POSITIONS, DataType.PNL)


@pytest.mark.parametrize(
    ("kind", "extra", "error_name"),
    [
        ("rate_limit", {}, "RateLimitError"),
        ("error", {"status": 503}, "ServiceUnavailableError"),
        ("reset", {}, "APIConnectionError"),
        ("hang", {}, "APITimeoutError"),
        ("truncate", {}, "Error"),
        ("malformed", {}, "ResponseDecodeError"),
        ("html", {}, "Error"),
        ("empty", {}, "ResponseDecodeError"),
    ],
)
async def test_fault_makes_only_that_figure_stale_and_it_recovers(
    sim: Any,
    engine: tuple[Poller, FleetState, Pump],
    kind: str,
    extra: dict,
    error_name: str,
) -> None:
    _, fleet, drain = engine
    seen: list[PollResult] = []

    def pump() -> None:
        seen.extend(drain())

    # The starting state, not what is tested: a generous bound (it only matters if the poller
    # never gets there), since on a machine at load 20 the first round can take over 5 s.
    await wait_for(pump, lambda: all_fresh(fleet, (DataType.CASINO, *OTHERS)), 30)
    add_fault(sim, {"route": STATS_ROUTE, "kind": kind, "rate": 1, **extra})

    def casino_stale_with_reason() -> bool:
        return all(
            fleet.staleness(a, DataType.CASINO).stale and fleet.staleness(a, DataType.CASINO).error
            for a in fleet.agents
        )

    await wait_for(pump, casino_stale_with_reason, 5)
    for agent in fleet.agents:
        s = fleet.staleness(agent, DataType.CASINO)
        assert error_name in type(s.error).__name__ or error_name == "Error", s.reason
        assert s.reason
    # The other figures keep updating meanwhile (waited for, not sampled once: one slow tick of
    # a loaded machine must not read as a stalled poller), while the casino figure stays stale.
    await wait_for(pump, lambda: all_fresh(fleet, OTHERS), 2)
    assert casino_stale_with_reason()

    _control(sim, "DELETE", "/_sim/faults")
    await wait_for(pump, lambda: all_fresh(fleet, (DataType.CASINO,)), 5)
    # Recovery is bounded by the schedule, not by how busy this machine is: no failed casino poll
    # was given a wait beyond the backoff cap (plus its jitter), so the first poll after the fault
    # cleared came at most one capped backoff later.
    waits = [r.retry_in for r in seen if isinstance(r, PollFailure) and r.kind is DataType.CASINO]
    assert waits, "the fault never failed a casino poll"
    assert max(waits) <= CAP * 1.2


async def test_latency_with_jitter_keeps_figures_fresh(
    sim: Any, engine: tuple[Poller, FleetState, Pump]
) -> None:
    poller, fleet, pump = engine
    # 0.25 s here: the simulator shares this process's GIL, so 0.1 s would measure the machine.
    slower = {k.value: 0.25 for k in DataType}
    poller.set_intervals(slower)
    fleet.set_intervals(slower)
    for route in SERVICE_ROUTES:
        add_fault(
            sim, {"route": route, "kind": "latency", "rate": 1, "latency_ms": 20, "jitter_ms": 20}
        )
    await wait_for(pump, lambda: all_fresh(fleet, (DataType.CASINO, *OTHERS)), 5)
    t_end = time.monotonic() + 0.6
    while time.monotonic() < t_end:
        pump()
        stale = [
            (a, k.value, fleet.staleness(a, k).reason)
            for a in fleet.agents
            for k in (DataType.CASINO, *OTHERS)
            if fleet.staleness(a, k).stale
        ]
        assert not stale
        await asyncio.sleep(0.05)


async def test_429_storm_no_source_polled_faster_than_its_backoff(
    sim: Any, engine: tuple[Poller, FleetState, Pump]
) -> None:
    _, fleet, pump = engine
    await wait_for(pump, lambda: all_fresh(fleet, (DataType.CASINO,)), 5)
    mark = _control(sim, "GET", "/_sim/requests")["last_seq"]
    for route in SERVICE_ROUTES:
        add_fault(sim, {"route": route, "kind": "rate_limit", "rate": 1})
    await asyncio.sleep(2.0)  # the storm itself: let it run for a fixed span to count requests
    _control(sim, "DELETE", "/_sim/faults")
    rows = [
        r
        for r in _control(sim, "GET", f"/_sim/requests?since={mark}")["requests"]
        if r.get("fault") == "rate_limit" and not r["path"].startswith("/_sim")
    ]
    assert rows
    by_source: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in rows:
        by_source[(r["agent_id"] or "", r["path"])].append(float(r["t"]))
    assert len(by_source) >= 3 * 4  # every agent's sources were in the storm
    for source, times in by_source.items():
        # A normal 0.1 s rhythm makes ~20 requests in 2 s; backoff (0.2, then 0.4 capped, plus
        # up to 20% jitter) allows at most ~6. Exact gaps are checked on the fake clock in
        # test_poller_schedule.py; the simulator's request times are too coarse for that here.
        assert len(times) <= 8, (source, len(times))
    # And every figure recovers once the storm is over.
    try:
        await wait_for(pump, lambda: all_fresh(fleet, (DataType.CASINO, *OTHERS)), 5)
    except AssertionError:
        stale = [
            (a, k.value, fleet.staleness(a, k).reason)
            for a in fleet.agents
            for k in (DataType.CASINO, *OTHERS)
            if fleet.staleness(a, k).stale
        ]
        raise AssertionError(stale) from None


@pytest.mark.parametrize("kind", ["error", "rate_limit", "malformed"])
async def test_failed_polls_leave_no_cyclic_garbage(
    sim: Any, engine: tuple[Poller, FleetState, Pump], kind: str
) -> None:
    """A failed poll's exception is kept (the figure's error) without its traceback, so it holds
    no frames: a traceback's frames hold the locals that hold the exception, a cycle that only a
    full collection frees. The daemon runs one every five minutes, so every failure's frames,
    replies and buffers piled up until then (the soak's RSS climbed 1.5 MB a minute at 5% faults).
    A connection reset still leaves aiohttp's own cycle (its StreamReader, the Future that keeps
    the error's traceback, their frames) to the full collection: not ours to break.
    """
    _, fleet, pump = engine
    await wait_for(pump, lambda: all_fresh(fleet, (DataType.CASINO, *OTHERS)), 30)
    extra = {"status": 503} if kind == "error" else {}
    for route in SERVICE_ROUTES:
        add_fault(sim, {"route": route, "kind": kind, "rate": 1, **extra})
    failures = 0
    gc.collect()
    gc.disable()
    try:
        start = time.monotonic()
        while time.monotonic() - start < 1.5:
            failures += sum(isinstance(r, PollFailure) for r in pump())
            await asyncio.sleep(0.02)
        found = gc.collect()
    finally:
        gc.enable()
    assert failures >= 20
    # Before the fix each failure left 12-80 objects in cycles (its frames, tracebacks, cells);
    # a request cut short at the end (a timeout, a cancelled fetch) may leave one chain of ~90.
    assert found < 5 * failures, f"{found} objects in cycles after {failures} failed polls"
    for agent in fleet.agents:
        error = fleet.staleness(agent, DataType.CASINO).error
        assert error is not None and error.__traceback__ is None
