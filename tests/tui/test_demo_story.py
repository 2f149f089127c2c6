"""The default demo tells its story within 60 s of simulator time: an alert fires and resolves.

The simulator runs the default demo's seed and fleet with its clock paused; the test moves
simulated time with ``POST /_sim/clock`` and presses ``r`` (poll now) after each step, so nothing
waits on real time but the polls themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from textual.pilot import Pilot

from pf_tui.sim.http.server import SimServer
from pf_tui.tui.app import PfApp
from pf_tui.tui.tabs.alerts import AlertsTab
from pf_tui.views.alert_log import AlertEntry
from tests.tui.harness import START, make_app, settle, wait_idle

DEMO_SEED = 42
"""``pf-tui --demo``'s default seed."""
STEP_S = 10


@pytest.fixture
def demo_sim() -> Iterator[SimServer]:
    """The default demo's simulator, its clock paused at START (so only the test moves it)."""
    server = SimServer(host="127.0.0.1", port=0, seed=DEMO_SEED, agents=8, motion=False)
    server.sim.start_time = START
    server.sim.reset()
    server.sim.set_motion(True)  # the fleet and the story move, but only when the clock does
    with server:
        yield server


async def _step(
    app: PfApp, pilot: Pilot[int], server: SimServer, client: httpx.AsyncClient, seconds: float
) -> None:
    """Move simulated time, poll everything now, and wait until those polls have landed."""
    await client.post("/_sim/clock", json={"advance_s": seconds})
    before = server.sim.request_seq
    await pilot.press("r")
    wanted = len(app.engine.poller.sources())  # every source re-armed: one request or more each
    for _ in range(200):
        await pilot.pause(0.02)
        if server.sim.request_seq - before >= wanted:
            break
    await wait_idle(app, pilot)


def _firing(app: PfApp) -> list[AlertEntry]:
    return [e for e in app.alert_log.entries if e.state == "firing"]


async def test_an_alert_fires_and_resolves_within_a_minute(
    demo_sim: SimServer, tmp_path: Path
) -> None:
    """Within 60 simulated seconds the Alerts tab shows an alert firing (the story's casino
    outage: polls fail, the casino service is down) and, once the outage ends, resolved.

    Breaking it looks like: no alert by 60 s (the story's outage gone or too late), or alerts
    that never resolve after the outage.
    """
    app = make_app(demo_sim, tmp_path)
    async with (
        app.run_test(size=(120, 40)) as pilot,
        httpx.AsyncClient(base_url=demo_sim.url) as client,
    ):
        await settle(app, pilot)
        assert _firing(app) == [], "a healthy start"
        elapsed, fired_at = 0, None
        while elapsed < 60 and fired_at is None:
            await _step(app, pilot, demo_sim, client, STEP_S)
            elapsed += STEP_S
            if _firing(app):
                fired_at = elapsed
        assert fired_at is not None and fired_at <= 60, "no alert within 60 simulated seconds"
        rules = {e.rule for e in _firing(app)}
        assert "service_down" in rules or "api_error" in rules, rules
        await pilot.press("5")
        await wait_idle(app, pilot)
        assert app.query_one(AlertsTab).table.row_count >= 1
        while elapsed < 120 and _firing(app):
            await _step(app, pilot, demo_sim, client, STEP_S)
            elapsed += STEP_S
        assert _firing(app) == [], f"still firing at {elapsed} s: {_firing(app)}"
        assert all(e.state == "resolved" for e in app.alert_log.entries)
