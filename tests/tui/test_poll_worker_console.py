"""The console with its poller in a worker process (``[polling] engine = "process"``), driven
by keys against the simulator over 127.0.0.1: every agent fills through the worker, the API
health counts the worker's calls, ``p`` pauses the worker, and quitting takes it along."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from pf_tui.config import Config
from pf_tui.demo import fetch_demo_agents
from pf_tui.poll_worker import RemotePoller
from pf_tui.sim.http.server import SimServer
from pf_tui.tui.app import PfApp
from tests.tui.harness import SIZE, settle


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rpartition(")")[2].split()[0] == "Z"  # exited, not yet reaped


async def test_the_console_polls_through_its_worker_and_takes_it_along(
    server: SimServer, tmp_path: Path
) -> None:
    config = Config.demo(
        server.url, fetch_demo_agents(server.url), store_path=tmp_path / "store.db"
    )
    config = replace(config, polling=replace(config.polling, engine="process"))
    app = PfApp(config, demo=True)
    poller = app.engine.poller
    assert isinstance(poller, RemotePoller)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot, within_s=30)
        pid = poller.pid
        assert pid is not None and pid != os.getpid()
        view = app.fleet_view
        assert all(a.balance is not None for a in view.agents)
        assert any(a.latency_p95_ms is not None for a in view.agents)  # counted here
        # The console draws its history but stores none (the daemon does): it keeps no list of
        # points to store, which grew by hundreds a second at 5,000 agents.
        # It keeps no history ring (the daemon's alert rules read those), only the casino net's
        # move since midnight, for today's P&L.
        fleet = app.engine.fleet
        assert any(
            fleet.since_midnight(a.agent_id, "casino_net", 0.0) is not None for a in view.agents
        )
        assert not any(fleet.agents[a.agent_id].history for a in view.agents)
        assert fleet.drain_samples() == []
        await pilot.press("p")
        assert app.paused and poller.paused
        await pilot.press("p")
        assert not app.paused and not poller.paused
        await pilot.press("q")
        await pilot.pause()
    assert gone(pid)
