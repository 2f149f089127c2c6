"""From an alert to the action: Enter on an Alerts-tab row lands on the stream's row (or the
agent, drilled into) with the suggested key one press away, still behind the preview and the
typed confirmation. The keys are counted: a firing spend-rate alert to a confirmed close, and a
paused stream's timeout alert to a confirmed dispute, each in at most 4 keys plus the typed
confirmation, and the simulator receives exactly one request.

The alert rows are written the way the daemon writes them: an :class:`AlertEngine` evaluation of
the rule over the stream's facts, committed to the shared store by the daemon's AlertBook.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from pf_tui.core.alerts.engine import AlertEngine
from pf_tui.core.alerts.facts import AgentFacts, StreamFacts, StreamTimeoutFacts
from pf_tui.core.alerts.rules import RuleKind, RuleSpec, Severity
from pf_tui.core.money.types import StreamState
from pf_tui.core.notify.alert_book import AlertBook
from pf_tui.core.store.db import Store
from pf_tui.sim.http.server import SimServer
from pf_tui.tui.app import PfApp
from pf_tui.tui.dialogs.money.confirm import ConfirmMoneyDialog
from pf_tui.tui.dialogs.money.dispute import DisputeDialog
from pf_tui.tui.dialogs.money.stream import CloseDialog
from pf_tui.tui.tabs.alerts import AlertsTab
from pf_tui.tui.tabs.escrows import EscrowsTab
from pf_tui.tui.tabs.fleet import FleetTab
from pf_tui.tui.widgets.status_bar import StatusBar
from tests.tui.harness import make_app, settled, sim_now, wait_idle
from tests.tui_actions.helpers import StreamScene, money_done, plain, stream_on_screen

# Whole-app pilots of 10-30 s each on a 2-core machine: the slow set runs them (CI too), so the
# quick suite keeps its five-minute promise.
pytestmark = pytest.mark.slow


SPEND = RuleSpec(
    "stream_spend",
    RuleKind.THRESHOLD,
    Severity.WARNING,
    scope="stream",
    metric="spend_usd_per_hour",
    op=">",
    threshold=Decimal(1),
)
TIMEOUT = RuleSpec(
    "stream_timeout",
    RuleKind.STREAM_TIMEOUT,
    Severity.CRITICAL,
    lead_s=48 * 3600.0,  # the native escrow times out in 24 h: inside the lead from the start
)
BALANCE = RuleSpec(
    "balance_low",
    RuleKind.THRESHOLD,
    Severity.WARNING,
    metric="balance_usd",
    op="<",
    threshold=Decimal(50),
)


def daemon_fires(db: Path, rule: RuleSpec, facts: AgentFacts, now: float) -> None:
    """One daemon evaluation of ``rule`` over ``facts``, committed to the store; it fires."""
    store = Store(db)
    conn = store.connect()
    store.close()
    try:
        book = AlertBook(conn)
        engine = AlertEngine([rule], state=book.load_instances())
        before = AlertBook.snapshot(engine)
        events = engine.evaluate([facts], None, now)
        assert [e.rule for e in events] == [rule.name]
        book.commit(engine, before, events, ["log"], now)
    finally:
        conn.close()


class Keys:
    """Presses keys and counts them (the typed confirmation is filled, not counted)."""

    def __init__(self, app: PfApp, pilot: Pilot[int]) -> None:
        self.app, self.pilot, self.count = app, pilot, 0

    async def press(self, key: str) -> None:
        self.count += 1
        await self.pilot.press(key)
        await wait_idle(self.app, self.pilot)


async def alerts_tab(scene: StreamScene) -> None:
    """The Alerts tab with the daemon's rows read; the cursor on the newest row."""
    app, pilot = scene.app, scene.pilot
    await pilot.press("5")
    await app.alert_sync.refresh()
    await wait_idle(app, pilot)
    table = app.query_one(AlertsTab).table
    assert table.row_count == 1 and table.cursor_row == 0


def status(app: PfApp) -> str:
    return plain(app.query_one(StatusBar))


async def test_spend_rate_alert_to_a_confirmed_close_in_four_keys(
    server: SimServer, tmp_path: Path
) -> None:
    async with stream_on_screen(server, tmp_path) as scene:
        app, stream = scene.app, scene.stream
        now = sim_now(server)
        spend = StreamFacts(stream.id, stream.payee, None, now, {"spend_usd_per_hour": Decimal(5)})
        facts = AgentFacts(stream.agent_id, streams=(spend,))
        daemon_fires(tmp_path / "store.db", SPEND, facts, now)
        await alerts_tab(scene)
        keys = Keys(app, scene.pilot)

        await keys.press("enter")
        assert app.active_tab == "escrows"
        assert app.query_one(EscrowsTab).table.cursor_key == f"{stream.agent_id}/{stream.escrow_id}"
        assert status(app).startswith(f"next: x close stream {stream.id}, d dispute it")
        await keys.press("x")
        dialog = app.screen
        assert isinstance(dialog, CloseDialog) and dialog.current == stream.id  # pre-filled
        await keys.press("enter")
        confirm = app.screen
        assert isinstance(confirm, ConfirmMoneyDialog) and not confirm.typed
        await keys.press("y")
        await money_done(app, scene.pilot)

        assert keys.count == 4
        posts = scene.posts()
        assert len(posts) == 1, posts
        assert app.desk.engine.stream(stream.id).state is StreamState.CLOSED


async def test_paused_stream_timeout_alert_to_a_confirmed_dispute(
    server: SimServer, tmp_path: Path
) -> None:
    async with stream_on_screen(server, tmp_path) as scene:
        app, stream = scene.app, scene.stream
        app.desk.engine.pause(stream.id)
        now = sim_now(server)
        outcome = app.desk.engine.timeout_of(stream.id)
        timeout = StreamTimeoutFacts(stream.id, "paused", outcome, 24, None)
        facts = AgentFacts(stream.agent_id, stream_timeouts=(timeout,))
        daemon_fires(tmp_path / "store.db", TIMEOUT, facts, now)
        await alerts_tab(scene)
        keys = Keys(app, scene.pilot)

        await keys.press("enter")
        assert app.active_tab == "escrows"
        assert app.query_one(EscrowsTab).table.cursor_key == f"{stream.agent_id}/{stream.escrow_id}"
        assert status(app).startswith(f"next: x close stream {stream.id}, d dispute it")
        await keys.press("d")
        dialog = app.screen
        assert isinstance(dialog, DisputeDialog) and dialog.escrow_id == stream.escrow_id
        reason = dialog.query_one("#money-reason", Input).value
        assert reason == f"alert stream_timeout on stream {stream.id}"  # pre-filled, editable
        await keys.press("enter")
        confirm = app.screen
        assert isinstance(confirm, ConfirmMoneyDialog) and not confirm.typed
        await keys.press("y")
        await money_done(app, scene.pilot)

        assert keys.count == 4
        posts = scene.posts()
        assert len(posts) == 1 and posts[0]["path"].endswith("/dispute"), posts
        assert app.desk.engine.stream(stream.id).state is StreamState.DISPUTED


async def test_an_agent_alert_drills_into_the_agent(server: SimServer, tmp_path: Path) -> None:
    app = make_app(server, tmp_path)
    agent = app.config.agents[2]
    facts = AgentFacts(agent.id, metrics={"balance_usd": Decimal(10)})
    daemon_fires(tmp_path / "store.db", BALANCE, facts, sim_now(server))
    async with settled(app) as pilot:
        await pilot.press("5")
        await app.alert_sync.refresh()
        await wait_idle(app, pilot)
        await pilot.press("enter")
        await wait_idle(app, pilot)
        assert app.selected == agent.id
        assert app.active_tab == "fleet"
        assert app.query_one(FleetTab).table.cursor_key == agent.id
        shown = app.fleet_view.agent(agent.id)
        assert shown is not None
        label = shown.label
        assert status(app).startswith(f"next: agent {label}: 4 its escrows and streams")
        await pilot.press("down")
        await wait_idle(app, pilot)
        assert not status(app).startswith("next:")  # the cursor moved on: the hint is gone
