"""The console's poll worker (``[polling] engine = "process"``): what crosses its pipe comes back
as it left (every error class, unchanged figures as the very object held, keys only on that
pipe), and against the simulator over 127.0.0.1 the worker polls, counts its calls in the
console, pauses, refreshes, is started again when it dies and leaves when the console does."""

from __future__ import annotations

import asyncio
import itertools
import os
import pickle
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

sim_server_mod = pytest.importorskip("pf_tui.sim.http.server")

from pf_tui.api import errors  # noqa: E402
from pf_tui.api.models import Activity, Balance, Lifetime, WalletBalance  # noqa: E402
from pf_tui.clock import SYSTEM_CLOCK, FakeClock  # noqa: E402
from pf_tui.config import Config  # noqa: E402
from pf_tui.config.model import PROCESS_ENGINE_FROM  # noqa: E402
from pf_tui.core.polling.results import (  # noqa: E402
    BalanceSnapshot,
    DataType,
    PollFailure,
    PollResult,
    Snapshot,
)
from pf_tui.demo import fetch_demo_agents  # noqa: E402
from pf_tui.poll_worker import (  # noqa: E402
    Decoder,
    RemoteEngine,
    RemotePoller,
    autogroup_nice,
    dumps_config,
    encode,
    engine_mode,
    frame,
    read_frame,
)
from pf_tui.secret import Secret  # noqa: E402

# ---- the wire ------------------------------------------------------------------------------------

STATUS_ERRORS = [
    errors.BadRequestError,
    errors.AuthenticationError,
    errors.InsufficientBalanceError,
    errors.PermissionDeniedError,
    errors.NotFoundError,
    errors.ConflictError,
    errors.UnprocessableEntityError,
    errors.RateLimitError,
    errors.InternalServerError,
    errors.ServiceUnavailableError,
    errors.UnexpectedStatusError,
]


@pytest.mark.parametrize("cls", STATUS_ERRORS)
def test_every_status_error_crosses_the_pipe_whole(cls: type[errors.APIStatusError]) -> None:
    """Their constructors take (status, code, message), not what ``args`` holds: pickled the
    default way they could not be rebuilt, and the worker's failures would kill the pipe."""
    error = cls(
        429,
        "rate_limited",
        "slow down \x1b[2J",
        {"balance": Decimal("1.10")},
        service="casino",
        endpoint="GET /auth/balance",
        retry_after=3.5,
    )
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is cls
    assert (back.status, back.code, back.server_message, back.body, back.retry_after) == (
        429,
        "rate_limited",
        "slow down \x1b[2J",
        {"balance": Decimal("1.10")},
        3.5,
    )
    assert str(back) == str(error) and back.where == "casino GET /auth/balance"


@pytest.mark.parametrize(
    "error",
    [
        errors.PurpleFleaError("boom", service="wallet", endpoint="GET /x"),
        errors.MissingKeyError("no trading key", service="trading"),
        errors.APIConnectionError("reset", service="casino", cause="aiohttp.ServerDisconnected"),
        errors.APITimeoutError("read timeout", service="casino"),
        errors.ResponseDecodeError("missing", field="lifetime.win_rate", status=200),
    ],
)
def test_the_other_client_errors_cross_the_pipe_whole(error: errors.PurpleFleaError) -> None:
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error) and back.__dict__ == error.__dict__ and str(back) == str(error)


def test_an_error_of_another_kind_crosses_as_a_client_error_with_its_name() -> None:
    failure = PollFailure("ag_1", DataType.CASINO, KeyError("lifetime"), 1.0, 2, 4.0)
    (item,) = pickle.loads(pickle.dumps(encode([failure])))
    (back,) = Decoder().decode([item])
    assert isinstance(back, PollFailure) and isinstance(back.error, errors.PurpleFleaError)
    assert str(back.error) == "KeyError: 'lifetime'"
    assert (back.failures, back.retry_in) == (2, 4.0)


def test_a_secret_is_pickled_only_for_the_pipe() -> None:
    key = Secret("pk_live_0123456789abcdef", "agents[0].casino_key")
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(key)
    back = pickle.loads(dumps_config(key))  # type: ignore[arg-type]
    assert isinstance(back, Secret) and back == key and back.source == key.source


def snapshot(agent: str, usd: str, changed: bool, at: float) -> Snapshot:
    return Snapshot(
        agent, DataType.BALANCE, BalanceSnapshot(Balance(Decimal(usd))), at, 0.01, changed
    )


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["ag_a", "ag_b"]),
            st.decimals(min_value=0, max_value=10**6, places=2),
            st.booleans(),
        ),
        max_size=30,
    )
)
def test_results_come_back_as_sent_and_an_unchanged_figure_as_the_object_held(
    polls: list[tuple[str, Decimal, bool]],
) -> None:
    """Through frames and back: every changed figure equal to what was sent; every unchanged
    one the very object last received for its source (the fleet state's identity fast path),
    or dropped when none was received yet; order kept."""
    sent: list[PollResult] = []
    for n, (agent, usd, changed) in enumerate(polls):
        sent.append(snapshot(agent, str(usd), changed, float(n)))
    decoder = Decoder()
    wire = pickle.loads(frame(encode(sent))[4:])
    back = decoder.decode(wire)
    held: dict[str, object] = {}
    expected: list[tuple[str, float, bool]] = []
    for result, item in zip(sent, wire, strict=True):
        assert isinstance(result, Snapshot)
        if result.changed:
            expected.append((result.agent_id, result.fetched_at, True))
            held[result.agent_id] = item[3]
        elif result.agent_id in held:
            expected.append((result.agent_id, result.fetched_at, False))
    assert [(r.agent_id, r.fetched_at, r.changed) for r in back] == expected  # type: ignore[union-attr]
    last: dict[str, object] = {}
    for result in back:
        assert isinstance(result, Snapshot)
        if result.changed:
            last[result.agent_id] = result.value
        else:
            assert result.value is last[result.agent_id]
    for result, original in zip(
        [r for r in back if isinstance(r, Snapshot) and r.changed],
        [r for r in sent if isinstance(r, Snapshot) and r.changed],
        strict=True,
    ):
        assert result.value == original.value


def test_a_balance_crosses_without_its_recent_activity() -> None:
    """The console reads nothing of a balance's recent activity (the worker's poller does):
    it stays behind, and the rest of the balance and its on-chain half cross whole."""
    moved = Activity("withdrawal", Decimal("-5.00"), Decimal("45.00"), "x", "casino", None)
    balance = Balance(Decimal("45.00"), "ag_a", Lifetime(Decimal(50)), (moved, moved))
    wallet = WalletBalance(Decimal("7.25"))
    sent = Snapshot("ag_a", DataType.BALANCE, BalanceSnapshot(balance, wallet), 1.0, 0.01, True)
    (back,) = Decoder().decode(pickle.loads(frame(encode([sent]))[4:]))
    assert isinstance(back, Snapshot)
    assert back.value == BalanceSnapshot(replace(balance, recent_activity=()), wallet)


async def test_a_frame_reads_back_and_a_closed_pipe_is_eof() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(frame(("results", [], [("ag_1", "casino GET /stats/me", 0.01, True)])))
    reader.feed_data(frame(("ready",))[:3])
    reader.feed_eof()
    assert await read_frame(reader) == (
        "results",
        [],
        [("ag_1", "casino GET /stats/me", 0.01, True)],
    )
    with pytest.raises(EOFError):
        await read_frame(reader)


# ---- which engine ----------------------------------------------------------------------------


def fleet_config(n: int, engine: str = "auto") -> Config:
    agents = [
        {"agent_id": f"ag_{i:012x}", "label": f"A{i}", "keys": {"casino": f"pk_live_{i:016x}"}}
        for i in range(n)
    ]
    config = Config.demo("http://127.0.0.1:9", agents)
    return replace(config, polling=replace(config.polling, engine=engine))  # type: ignore[arg-type]


def test_auto_polls_in_a_worker_from_its_threshold_and_a_test_clock_always_inline() -> None:
    assert engine_mode(fleet_config(PROCESS_ENGINE_FROM - 1)) == "inline"
    assert engine_mode(fleet_config(PROCESS_ENGINE_FROM)) == "process"
    assert engine_mode(fleet_config(3, "process")) == "process"
    assert engine_mode(fleet_config(PROCESS_ENGINE_FROM, "inline")) == "inline"
    assert engine_mode(fleet_config(3, "process"), FakeClock()) == "inline"
    assert engine_mode(fleet_config(3, "process"), SYSTEM_CLOCK) == "process"


# ---- against the simulator ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def sim() -> Iterator[Any]:
    server = sim_server_mod.SimServer(
        host="127.0.0.1", port=0, seed=11, agents=3, motion=True, limits="off", story=False
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def fast(config: Config, seconds: float = 0.5) -> Config:
    intervals = dict.fromkeys(("balance", "positions", "pnl", "casino", "escrows"), seconds)
    return replace(
        config,
        polling=replace(config.polling, engine="process", **intervals),  # type: ignore[arg-type]
    )


async def until(check: Callable[[], bool], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def gather_results(poller: RemotePoller, seconds: float) -> list[PollResult]:
    got: list[PollResult] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            got += await asyncio.wait_for(poller.batch(), deadline - time.monotonic())
        except TimeoutError:
            break
    return got


def proc_bytes(pid: int, name: str) -> bytes:
    return Path(f"/proc/{pid}/{name}").read_bytes()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rpartition(")")[2].split()[0] == "Z")


async def with_engine(config: Config, body: Callable[[RemoteEngine], Awaitable[None]]) -> None:
    engine = RemoteEngine.build(config)
    engine.poller.start()
    try:
        await body(engine)
    finally:
        await engine.aclose()


async def test_the_worker_polls_every_figure_and_the_console_counts_its_calls(sim: Any) -> None:
    config = fast(Config.demo(sim.url, fetch_demo_agents(sim.url)))
    keys = [a.casino_key for a in config.agents if a.casino_key is not None]

    async def body(engine: RemoteEngine) -> None:
        poller = engine.poller
        results = await gather_results(poller, 4.0)
        kinds = {(r.agent_id, r.kind) for r in results if isinstance(r, Snapshot)}
        for agent in config.agents:
            for kind in (DataType.BALANCE, DataType.CASINO, DataType.ESCROWS):
                assert (agent.id, kind) in kinds
        engine.fleet.apply_many(results)
        assert all(engine.fleet.value(a.id, "balance") is not None for a in config.agents)
        # Every call the worker made is counted here, where the screen reads API health.
        first = config.agents[0].id
        assert poller.stats.error_rate(first).rate is not None
        assert poller.stats.endpoint("casino GET /stats/me").requests > 0
        # Unchanged figures come back as the very object the console holds.
        by_source: dict[tuple[str, DataType], list[Snapshot]] = {}
        for r in results:
            if isinstance(r, Snapshot):
                by_source.setdefault((r.agent_id, r.kind), []).append(r)
        repeats = [s for snaps in by_source.values() for s in snaps[1:] if not s.changed]
        assert repeats, "some figure stood still between two polls"
        for snaps in by_source.values():
            for before, after in itertools.pairwise(snaps):
                if not after.changed:
                    assert after.value is before.value
        # The keys went down the pipe: not on the command line, not in the environment.
        pid = poller.pid
        assert pid is not None
        exposed = proc_bytes(pid, "cmdline") + proc_bytes(pid, "environ")
        assert keys and not any(k.reveal().encode() in exposed for k in keys)

    await with_engine(config, body)


@pytest.mark.parametrize("increment", [10, 0])
async def test_the_worker_runs_below_the_console_so_the_screen_goes_first(
    sim: Any, increment: int
) -> None:
    config = fast(Config.demo(sim.url, fetch_demo_agents(sim.url)))
    config = replace(config, polling=replace(config.polling, worker_nice=increment))
    console_nice = os.getpriority(os.PRIO_PROCESS, 0)
    console_group = autogroup_nice("self")

    async def body(engine: RemoteEngine) -> None:
        await engine.poller.batch()  # it polls: it has read its config
        pid = engine.poller.pid
        assert pid is not None
        expected = min(19, console_nice + increment)
        assert os.getpriority(os.PRIO_PROCESS, pid) == expected
        if console_group is not None:
            # Its session is a scheduling group of its own, which must be lowered too (a
            # niced process in a group at nice 0 takes as much CPU as before); the console's
            # group stays as it was.
            group = min(19, max(expected, console_group + increment))
            assert autogroup_nice(pid) == (group if increment else 0)
            assert autogroup_nice("self") == console_group

    await with_engine(config, body)


async def test_pause_stops_the_polls_and_resume_brings_them_back(sim: Any) -> None:
    config = fast(Config.demo(sim.url, fetch_demo_agents(sim.url)))

    async def body(engine: RemoteEngine) -> None:
        poller = engine.poller
        assert await gather_results(poller, 1.5)
        poller.pause()
        assert poller.paused
        await gather_results(poller, 1.0)  # what was in flight when the pause came
        assert await gather_results(poller, 1.2) == []
        poller.resume()
        assert await gather_results(poller, 2.0)

    await with_engine(config, body)


async def test_refresh_polls_everything_now_between_slow_intervals(sim: Any) -> None:
    """Every figure a minute apart: after the start-up round the worker is quiet, and ``r``
    (``refresh_now``) brings every agent's figures at once."""
    config = fast(Config.demo(sim.url, fetch_demo_agents(sim.url)), seconds=60.0)

    async def body(engine: RemoteEngine) -> None:
        poller = engine.poller
        assert await gather_results(poller, 3.0)  # the start-up round
        assert await gather_results(poller, 1.0) == []
        poller.refresh_now()
        again = await gather_results(poller, 2.0)
        assert {r.agent_id for r in again} == {a.id for a in config.agents}

    await with_engine(config, body)


async def test_refresh_of_one_agent_polls_just_its_figures_in_the_worker(sim: Any) -> None:
    """After a money action the console asks for one agent's escrows and balance
    (``refresh``): the worker polls those, and nothing else, at once."""
    config = fast(Config.demo(sim.url, fetch_demo_agents(sim.url)), seconds=60.0)
    agent = config.agents[2].id

    async def body(engine: RemoteEngine) -> None:
        poller = engine.poller
        assert await gather_results(poller, 3.0)  # the start-up round
        assert await gather_results(poller, 1.0) == []
        poller.refresh(agent, (DataType.ESCROWS, DataType.BALANCE))
        again = await gather_results(poller, 2.0)
        assert sorted((r.agent_id, r.kind.value) for r in again) == [
            (agent, "balance"),
            (agent, "escrows"),
        ]

    await with_engine(config, body)


async def test_a_killed_worker_is_said_and_started_again_and_polling_comes_back(sim: Any) -> None:
    config = fast(Config.demo(sim.url, fetch_demo_agents(sim.url)))

    async def body(engine: RemoteEngine) -> None:
        poller = engine.poller
        assert await gather_results(poller, 2.0)
        first = poller.pid
        assert first is not None and poller.trouble() is None
        os.kill(first, signal.SIGKILL)
        await until(lambda: poller.trouble() is not None, 5)
        trouble = poller.trouble() or ""
        assert trouble.startswith("poll worker exited (code -9)") and "starting again" in trouble
        await until(lambda: poller.starts == 2 and poller.pid not in (None, first), 10)
        assert await gather_results(poller, 4.0)
        assert poller.trouble() is None

    await with_engine(config, body)


async def test_the_worker_leaves_with_the_console(sim: Any) -> None:
    config = fast(Config.demo(sim.url, fetch_demo_agents(sim.url)))
    engine = RemoteEngine.build(config)
    engine.poller.start()
    await until(lambda: engine.poller.pid is not None)
    pid = engine.poller.pid
    assert pid is not None
    await engine.aclose()
    assert not alive(pid)
    assert engine.poller.pid is None


async def test_a_worker_whose_console_is_gone_stops_by_itself(sim: Any) -> None:
    """The console killed outright: the worker sees its stdin close and stops."""
    config = fast(Config.demo(sim.url, fetch_demo_agents(sim.url)))
    engine = RemoteEngine.build(config)
    engine.poller.start()
    await until(lambda: engine.poller.pid is not None)
    proc = engine.poller._proc
    assert proc is not None and proc.stdin is not None
    proc.stdin.close()
    await asyncio.wait_for(proc.wait(), 5)
    assert proc.returncode == 0
    await engine.aclose()


async def test_a_worker_that_cannot_start_or_dies_at_once_is_said_redacted() -> None:
    """No interpreter to start, or a worker that dies printing a key: the console says so on
    one line, with every key masked, and keeps trying."""
    config = fleet_config(2, "process")
    key = config.agents[0].casino_key
    assert key is not None
    poller = RemotePoller(config, command=["/nonexistent/python3"])
    poller.start()
    try:
        await until(lambda: poller.trouble() is not None, 5)
        assert (poller.trouble() or "").startswith("poll worker could not start (FileNotFoundError")
    finally:
        await poller.stop()
    leak = f"import sys; print('bad key {key.reveal()}\\x1b[2J', file=sys.stderr); sys.exit(3)"
    poller = RemotePoller(config, command=[sys.executable, "-c", leak])
    poller.start()
    try:
        await until(lambda: poller.trouble() is not None, 10)
        trouble = poller.trouble() or ""
        assert trouble.startswith("poll worker exited (code 3): bad key ")
        assert key.reveal() not in trouble and "\x1b" not in trouble
    finally:
        await poller.stop()
