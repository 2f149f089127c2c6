"""The default demo tells its story within 60 s of simulator time: an alert fires and resolves.

The simulator runs the default demo's seed and fleet with its clock paused; the test moves
simulated time with ``POST /_sim/clock`` and presses ``r`` (poll now) after each step, so nothing
waits on real time but the polls themselves (and, for the daemon beside the console, its polls
and the console's reads of the shared store).
"""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from textual.pilot import Pilot

from pf_tui.daemon.embedded import EmbeddedDaemon, embedded_daemon
from pf_tui.sim.http.server import SimServer
from pf_tui.sim.model.story import CASH_OUT
from pf_tui.tui.app import PfApp
from pf_tui.tui.tabs.alerts import AlertsTab
from pf_tui.views.alert_log import AlertEntry
from tests.tui.harness import START, make_app, settle, wait_idle

# The story runs a minute of simulator time through the app and its daemon (25-35 s apiece on a
# loaded 2-core machine): the slow set runs it, keeping the quick suite under five minutes.
pytestmark = pytest.mark.slow

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
    outage: polls fail, the casino service is down) and, once the outage ends, resolved: both
    inside the first minute.

    Breaking it looks like: no alert by 60 s (the story's outage gone or too late), or alerts
    still open at 60 s (an outage too long, or a backoff that outlives it).
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
        while elapsed < 60 and _firing(app):
            await _step(app, pilot, demo_sim, client, STEP_S)
            elapsed += STEP_S
        assert _firing(app) == [], f"still firing at {elapsed} s: {_firing(app)}"
        assert all(e.state == "resolved" for e in app.alert_log.entries)


async def _until(
    pilot: Pilot[int], what: Callable[[], bool], *, within_s: float = 30.0, why: str
) -> None:
    """Wait (bounded) for something the daemon's own real-time polls bring about."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while not what():
        assert loop.time() < deadline, why
        await pilot.pause(0.1)


def _daemon_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "pf-tui-daemon"]


async def test_the_demo_daemon_brings_the_story_low_balance_to_the_alerts_tab(
    demo_sim: SimServer, tmp_path: Path
) -> None:
    """``pf-tui --demo`` runs the alert daemon beside the console (the console never evaluates
    rules): at 5 simulated seconds the story's grinder moves its casino money out, the daemon's
    ``low_balance`` rule fires and the Alerts tab shows it; after the top-up at 25 s it shows
    resolved. Stopping the daemon leaves no thread behind.

    Breaking it looks like: the demo without its daemon (no rule alert ever reaches the tab),
    the cash-out gone or late, the alert never resolving, or a daemon thread outliving the demo.
    """
    app = make_app(demo_sim, tmp_path)
    grinder = next(a.id for a in app.config.agents if a.strategy == "casino-grinder")
    # The balance every second, not every 10 s: the daemon's polls run on real time.
    config = replace(app.config, polling=replace(app.config.polling, balance=1.0))

    def story_alert(state: str) -> bool:
        return any(
            e.source == "daemon"
            and e.rule == "low_balance"
            and e.agent_id == grinder
            and e.state == state
            for e in app.alert_log.entries
        )

    async with (
        app.run_test(size=(120, 40)) as pilot,
        httpx.AsyncClient(base_url=demo_sim.url) as client,
    ):
        await settle(app, pilot)
        daemon = EmbeddedDaemon(config, start_delay_s=0).start()
        try:
            await client.post("/_sim/clock", json={"advance_s": CASH_OUT[0] + 1})
            await _until(
                pilot, lambda: story_alert("firing"), why=f"no low_balance by {CASH_OUT[0] + 1} s"
            )
            # The console's pacer runs the collector in this process; the daemon's own policy
            # (automatic collection off, a full pass every 5 minutes) stays out of it.
            assert gc.isenabled(), "the embedded daemon turned the console's collector off"
            await pilot.press("5")
            await wait_idle(app, pilot)
            table = app.query_one(AlertsTab).table
            assert any("low_balance" in str(table.get_row_at(i)) for i in range(table.row_count)), (
                "the Alerts tab does not list the daemon's low_balance"
            )
            await client.post("/_sim/clock", json={"advance_s": CASH_OUT[1] - CASH_OUT[0]})
            await _until(
                pilot, lambda: story_alert("resolved"), why=f"not resolved at {CASH_OUT[1] + 1} s"
            )
        finally:
            daemon.stop()
        assert daemon.error is None
        assert _daemon_threads() == [], "the daemon thread outlived stop()"


def test_a_demo_quit_before_the_daemon_starts_leaves_no_thread(
    demo_sim: SimServer, tmp_path: Path
) -> None:
    """Quitting in the first seconds (before the daemon's start delay) ends its thread at once;
    the store's schema is written before the block starts, so the console's first open and the
    daemon's never race in the migration.

    Breaking it looks like: ``stop()`` waiting out the start delay, a thread left running, or
    no schema yet when the console starts (under load its daemon then died with "table samples
    already exists").
    """
    import sqlite3

    from pf_tui.config import Config
    from pf_tui.core.store.schema import SCHEMA_VERSION
    from pf_tui.demo import fetch_demo_agents

    agents = fetch_demo_agents(demo_sim.url)
    config = Config.demo(demo_sim.url, agents, store_path=tmp_path / "store.db")
    with embedded_daemon(config) as daemon:
        assert daemon is not None and _daemon_threads()
        with sqlite3.connect(tmp_path / "store.db") as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert _daemon_threads() == []
