"""A paused stream's timeout, end to end over real HTTP: the daemon pages before the timeout, the
console shows the countdown, and the money then moves exactly as the screen said.

The console and the daemon share one store and read the simulator's clock, which the test moves
with ``POST /_sim/clock``. A native $5 stream with a 1 h timeout is paused with the `P` key; 45
minutes on (the lead is a quarter of the timeout) the ``stream_timeout`` alert is firing in the
Alerts tab; Enter on it lands on the stream's row with what the server will do, and when, in the
status line; past the timeout the payee has received exactly the amount shown there.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from pf_tui.config import Config
from pf_tui.core.alerts.engine import EventKind
from pf_tui.core.money.types import OpenStream, StreamMode, StreamState, StreamUnit
from pf_tui.daemon.loop import Daemon, DaemonOptions, _poll_once
from pf_tui.demo import fetch_demo_agents
from pf_tui.sim.http.server import SimServer
from pf_tui.tui.app import PfApp
from pf_tui.tui.tabs.alerts import AlertsTab
from pf_tui.tui.widgets.status_bar import StatusBar
from pf_tui.views.times import clock_time
from tests.tui.harness import START, settle, wait_idle
from tests.tui_actions.helpers import plain, show_escrow

pytestmark = pytest.mark.slow

SAID = re.compile(
    r"x close stream st_\w+, d dispute it: "
    r"the server pays the payee (\$[0-9.]+) at (\d\d:\d\d) UTC \(in (\d+)m\)"
)


class SimTime:
    """The simulator's time: moving its clock moves the console's and the daemon's "now"."""

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


def advance(sim: SimServer, seconds: float) -> None:
    httpx.post(f"{sim.url}/_sim/clock", json={"advance_s": seconds}, timeout=10).raise_for_status()


def payee_balance(sim: SimServer, agent_id: str) -> Decimal:
    reply = httpx.get(f"{sim.url}/_sim/state", timeout=10)
    for agent in reply.json(parse_float=Decimal)["agents"]:
        if agent["agent_id"] == agent_id:
            return Decimal(str(agent["casino_usd"]))
    raise KeyError(agent_id)


async def test_paused_stream_pages_first_shows_the_countdown_then_pays_what_it_said(
    sim: SimServer, tmp_path: Path
) -> None:
    agents = fetch_demo_agents(sim.url)
    config = Config.demo(sim.url, agents, store_path=tmp_path / "store.db")
    clock = SimTime(sim)
    payer, payee = str(agents[0]["agent_id"]), str(agents[1]["agent_id"])
    app = PfApp(config, demo=True, clock=clock, tick_s=0.0, age_tick_s=0.1)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        opened = await app.desk.preview(
            OpenStream(
                payer, payee, "1", StreamUnit.HOUR, "5", "1", "gpu hours", StreamMode.NATIVE, 1
            )
        )
        assert (await app.desk.execute(opened)).done
        stream = app.desk.engine.stream(str(opened.stream_id))
        await show_escrow(app, pilot, str(stream.escrow_id))
        await pilot.press("P")  # pause: pf-tui releases nothing more
        await wait_idle(app, pilot)
        assert app.desk.engine.stream(stream.id).state is StreamState.PAUSED

        daemon = Daemon(config, clock, DaemonOptions(receivers=[]))
        try:

            async def paged() -> list[EventKind]:
                await _poll_once(daemon, 20.0)
                return [e.kind for e in daemon.evaluate() if e.rule == "stream_timeout"]

            advance(sim, 45 * 60 - 60)  # a minute before the lead window: quiet
            assert await paged() == []
            advance(sim, 2 * 60)
            assert await paged() == [EventKind.FIRING]
            timeout_at = app.desk.engine.timeout_of(stream.id).at
            assert timeout_at is not None and clock.now() < timeout_at  # before the timeout

            # The console, polled at the new time, on the Alerts tab: the alert, Enter, the row.
            app.action_refresh()
            await settle(app, pilot)
            await pilot.press("5")
            await app.alert_sync.refresh()
            await wait_idle(app, pilot)
            table = app.query_one(AlertsTab).table
            entries = [e for e in app.alert_log.entries if e.rule == "stream_timeout"]
            assert [(e.state, e.stream_id) for e in entries] == [("firing", stream.id)]
            table.move_cursor(row=table.get_row_index(entries[0].key))
            await pilot.press("enter")
            await wait_idle(app, pilot)
            assert app.active_tab == "escrows"
            line = plain(app.query_one(StatusBar))
            said = SAID.search(line)
            assert said is not None, line
            assert 0 < int(said.group(3)) <= 15  # the countdown: minutes left
            amount = Decimal(said.group(1).lstrip("$"))

            assert said.group(2) == clock_time(timeout_at, clock.now())

            before = payee_balance(sim, payee)
            advance(sim, timeout_at - clock.now() - 30)  # half a minute before the time said
            assert payee_balance(sim, payee) == before
            advance(sim, 60)  # past it: the server pays on its own, what the screen said
            assert payee_balance(sim, payee) - before == amount == Decimal("4.95")
            assert await paged() == [EventKind.RESOLVED]
        finally:
            await daemon.close()
