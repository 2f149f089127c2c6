"""Pause does not stop money: the daemon warns before a paused stream's timeout moves it, and the
money then moves exactly as pf-tui said it would.

A native $5 stream at $1 an hour with a 1 h timeout is opened through the money core and paused.
The daemon polls the simulator, whose clock the test moves (``POST /_sim/clock``); the daemon's
own clock reads the simulator's time. Before the lead window (a quarter of the 1 h timeout) the
``stream_timeout`` alert stays quiet; inside it, it fires with what the server will do; past the
timeout the payee has received exactly the amount the alert and ``timeout_of`` named, the alert
resolves, and syncing the stream records closes the stream. The brake shows on ``/metrics``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from pf_tui.config import Config
from pf_tui.core.alerts.engine import EventKind
from pf_tui.core.money.escrows import TimeoutMove
from pf_tui.core.money.types import OpenStream, StreamMode, StreamState, StreamUnit
from pf_tui.core.polling.results import DataType, EscrowSnapshot
from pf_tui.daemon.loop import Daemon, DaemonOptions, _poll_once
from pf_tui.sim.http.server import SimServer
from pf_tui.wiring import open_money

START = 1_767_268_800.0  # 2026-01-01T12:00:00Z


class SimTime:
    """The daemon's clock: the simulator's time, so moving it moves the daemon's "now"."""

    def __init__(self, server: SimServer) -> None:
        self.server = server

    def now(self) -> float:
        return self.server.sim.now()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


@pytest.fixture
def sim() -> Iterator[SimServer]:
    server = SimServer(
        host="127.0.0.1", port=0, seed=11, agents=3, motion=False, limits="off", start_time=START
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def demo_agents(sim: SimServer) -> list[dict[str, object]]:
    agents: list[dict[str, object]] = httpx.get(f"{sim.url}/_sim/agents", timeout=10).json()[
        "agents"
    ]
    return agents


def advance(sim: SimServer, seconds: float) -> None:
    httpx.post(f"{sim.url}/_sim/clock", json={"advance_s": seconds}, timeout=10)


def balance(sim: SimServer, agent_id: str) -> Decimal:
    return sim.sim.accounts.agents[agent_id].casino


async def test_a_paused_streams_timeout_pages_first_then_moves_what_it_said(
    sim: SimServer, tmp_path: Path
) -> None:
    agents = demo_agents(sim)
    config = Config.demo(sim.url, agents, store_path=tmp_path / "store.sqlite3")
    clock = SimTime(sim)
    payer, payee = str(agents[0]["agent_id"]), str(agents[1]["agent_id"])
    money = open_money(config, clock)
    try:
        engine = money.engine
        opened = await engine.preview(
            OpenStream(
                payer, payee, "1", StreamUnit.HOUR, "5", "1", "gpu hours", StreamMode.NATIVE, 1
            )
        )
        assert (await engine.execute(opened)).done
        stream_id = str(opened.stream_id)
        engine.pause(stream_id)
        said = engine.timeout_of(stream_id)
        assert (said.move, said.net, said.to) == (TimeoutMove.PAYS_PAYEE, Decimal("4.95"), payee)
        assert said.at is not None and said.at == pytest.approx(clock.now() + 3600, abs=2)
        assert said.sentence(clock.now()).startswith("pf-tui releases nothing more, but the server")

        daemon = Daemon(config, clock, DaemonOptions(receivers=[]))
        try:

            async def evaluate() -> list[tuple[str, EventKind, str]]:
                await _poll_once(daemon, 20.0)
                return [
                    (e.rule, e.kind, e.description)
                    for e in daemon.evaluate()
                    if e.rule == "stream_timeout"
                ]

            # 1 h timeout: the lead is a quarter of it. A minute before the window: quiet.
            advance(sim, 45 * 60 - 60)
            assert await evaluate() == []
            advance(sim, 2 * 60)
            ((_, kind, words),) = await evaluate()
            assert kind is EventKind.FIRING
            assert f"stream {stream_id} (paused)" in words
            assert "pays the payee $4.95" in words and "unless you close it" in words
            # /metrics carries the rule's two halves, so its Prometheus twin fires now too.
            registry = daemon.metrics.registry
            on = {"agent": payer, "stream": stream_id}
            assert registry.get_sample_value("pf_stream_idle", on) == 1
            lead = registry.get_sample_value("pf_stream_timeout_lead_seconds", on)
            left = registry.get_sample_value("pf_stream_money_timeout_seconds", on)
            assert lead == 900 and left is not None and 0 < left <= lead
            before = balance(sim, payee)
            advance(sim, 20 * 60)  # past the timeout: the server pays on its own
            assert balance(sim, payee) - before == said.net
            ((_, kind, _),) = await evaluate()
            assert kind is EventKind.RESOLVED
            assert registry.get_sample_value("pf_stream_money_timeout_seconds", on) is None

            # The money desk syncs the record with what the server did: the stream is over.
            value = daemon.fleet.agents[payer].figures[DataType.ESCROWS].value
            assert isinstance(value, EscrowSnapshot)
            records = [(e, clock.now()) for e in value.escrows]
            (change,) = engine.sync(records)
            assert change.stream.state is StreamState.CLOSED
            assert change.stream.released == Decimal(5) and change.stream.funded == 0
            assert "released on the server" in change.detail

            # The brake is on /metrics, for every process on the store.
            engine.engage_brake(engine.preview_brake(), "post-mortem")
            daemon.evaluate()
            registry = daemon.metrics.registry
            assert registry.get_sample_value("pf_money_brake_engaged") == 1
        finally:
            await daemon.close()
    finally:
        await money.aclose()
