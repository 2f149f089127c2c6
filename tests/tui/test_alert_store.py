"""The Alerts tab and the daemon share one store: rows appear, acks and silences go back, the
heartbeat shows.

Alert rows are written the way the daemon writes them (an :class:`AlertEngine` evaluation committed
by :class:`pf_tui.core.notify.alert_book.AlertBook`), and after a silence from the TUI the same
daemon steps are run again to show the daemon really stops paging.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from pf_tui.clock import FakeClock
from pf_tui.core.alerts.engine import AlertEngine, EventKind
from pf_tui.core.alerts.facts import AgentFacts, Health
from pf_tui.core.alerts.heartbeat import Heartbeat
from pf_tui.core.alerts.rules import RuleKind, RuleSpec, Severity
from pf_tui.core.notify.alert_book import AlertBook as DaemonLog
from pf_tui.core.store.db import Store
from pf_tui.sim.http.server import SimServer
from pf_tui.tui.app import PfApp
from pf_tui.tui.tabs.alerts import AlertsTab
from pf_tui.views.daemon_alerts import AlertStore, DaemonStatus, operator_name, row_key
from tests.tui.harness import make_app, settled, sim_now, wait_idle

# Minutes of pilots and subprocesses on a 2-core machine: the slow set runs them (CI too), so
# the quick suite keeps its five-minute promise.
pytestmark = pytest.mark.slow
BAL = RuleSpec(
    "balance_low",
    RuleKind.THRESHOLD,
    Severity.WARNING,
    metric="balance_usd",
    op="<",
    threshold=Decimal(50),
    clear=Decimal(55),
    for_s=300,
    repeat_s=3600,
)


class FakeDaemon:
    """The daemon's evaluation steps (``Daemon.evaluate``) on one store, driven by hand."""

    def __init__(self, db: Path, agent_id: str) -> None:
        store = Store(db)
        self.conn = store.connect()
        store.close()
        self.log = DaemonLog(self.conn)
        self.engine = AlertEngine([BAL], state=self.log.load_instances())
        self.agent_id = agent_id

    def evaluate(self, balance: str, now: float) -> list[Any]:
        self.engine.muted = self.log.muted(now)
        facts = AgentFacts(self.agent_id, "", Health.OK, metrics={"balance_usd": Decimal(balance)})
        before = DaemonLog.snapshot(self.engine)
        events = self.engine.evaluate([facts], None, now)
        self.log.commit(self.engine, before, events, ["log"], now)
        return events

    def beat(self, at: float, *, interval_s: float = 5.0) -> None:
        self.log.beat(
            Heartbeat(
                pid=4242,
                started_at=at - 600,
                at=at,
                agents=8,
                firing=1,
                outbox=0,
                interval_s=interval_s,
            )
        )

    def row(self, row_id: int) -> sqlite3.Row:
        self.conn.row_factory = sqlite3.Row
        try:
            return self.conn.execute("SELECT * FROM alerts WHERE id = ?", (row_id,)).fetchone()
        finally:
            self.conn.row_factory = None


def _rows(app: PfApp) -> dict[str, list[str]]:
    table = app.query_one(AlertsTab).table
    return {str(key.value): [str(c) for c in table.get_row(key)] for key in table.rows}


def _title(app: PfApp) -> str:
    return str(app.query_one(AlertsTab).query_one(".tab-title").render())


async def _open_alerts(app: PfApp, pilot: Pilot[int]) -> None:
    await pilot.press("5")
    await app.alert_sync.refresh()
    await wait_idle(app, pilot)


class TestDaemonRows:
    async def test_daemon_row_shows_and_silence_stops_the_daemon_paging(
        self, server: SimServer, tmp_path: Path
    ) -> None:
        db = tmp_path / "store.db"
        now = sim_now(server)
        app = make_app(server, tmp_path)
        agent = app.config.agents[0]
        daemon = FakeDaemon(db, agent.id)
        assert daemon.evaluate("40", now - 400) == []  # pending
        assert [e.kind for e in daemon.evaluate("40", now - 100)] == [EventKind.FIRING]
        daemon.beat(now - 12)
        async with settled(app) as pilot:
            await _open_alerts(app, pilot)
            rows = _rows(app)
            key = row_key(1)
            assert key in rows, rows
            cells = rows[key]
            assert cells[1:6] == [
                "warning",
                agent.label,
                "balance_low",
                "40 (threshold 50)",
                "firing",
            ]
            assert cells[6] == "6m40s"  # started pending at now - 400
            assert "daemon: alive (pid 4242, 12s ago)" in _title(app)
            assert "(1)" in str(app.query_one("#tabs").get_tab("alerts").label)

            app.query_one(AlertsTab).table.move_cursor(row=0)
            await pilot.press("m")
            await app.alert_sync.flush()
            await wait_idle(app, pilot)
            row = daemon.row(1)
            assert row["silenced_until"] == now + 3600
            assert row["acked"] == 1 and row["acked_by"] == operator_name()
            assert _rows(app)[key][5] == "firing (muted)"

        # The daemon's next evaluation: the repeat due an hour after firing is not sent...
        outbox = daemon.conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        assert daemon.evaluate("40", now + 3500) == []
        assert daemon.conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == outbox
        # ...where the same history without the TUI's silence pages again.
        control = FakeDaemon(tmp_path / "control.db", agent.id)
        control.evaluate("40", now - 400)
        control.evaluate("40", now - 100)
        assert [e.kind for e in control.evaluate("40", now + 3500)] == [EventKind.REPEAT]

    async def test_acknowledge_writes_acked_by(self, server: SimServer, tmp_path: Path) -> None:
        db = tmp_path / "store.db"
        now = sim_now(server)
        app = make_app(server, tmp_path)
        daemon = FakeDaemon(db, app.config.agents[1].id)
        daemon.evaluate("10", now - 400)
        daemon.evaluate("10", now - 50)
        async with settled(app) as pilot:
            await _open_alerts(app, pilot)
            assert _rows(app)[row_key(1)][5] == "firing"
            app.query_one(AlertsTab).table.move_cursor(row=0)
            await pilot.press("a")
            await app.alert_sync.flush()
            await wait_idle(app, pilot)
            row = daemon.row(1)
            assert row["acked"] == 1 and row["acked_by"] == operator_name()
            assert row["silenced_until"] is None
            assert _rows(app)[row_key(1)][5] == "firing (ack)"
            # The daemon resolving it shows up on the next read.
            daemon.evaluate("60", now)
            await app.alert_sync.refresh()
            await wait_idle(app, pilot)
            assert _rows(app)[row_key(1)][5] == "resolved (ack)"


class TestHeartbeat:
    def test_status_text_alive_stale_absent(self) -> None:
        clock = FakeClock()
        beat = Heartbeat(
            pid=77,
            started_at=clock.now(),
            at=clock.now(),
            agents=3,
            firing=0,
            outbox=0,
            interval_s=10.0,
        )
        clock.advance(12)
        assert DaemonStatus(beat, clock.now()).text() == "daemon: alive (pid 77, 12s ago)"
        clock.advance(17.9)
        assert DaemonStatus(beat, clock.now()).state == "alive"
        clock.advance(0.1)  # 3 intervals without a beat
        status = DaemonStatus(beat, clock.now())
        assert status.state == "stale"
        assert status.text() == "daemon: stale since 00:00"  # FakeClock starts at midnight UTC
        assert DaemonStatus(None, clock.now()).text() == "daemon: not running"

    async def test_title_follows_the_heartbeat(self, server: SimServer, tmp_path: Path) -> None:
        db = tmp_path / "store.db"
        now = sim_now(server)  # 12:15 UTC
        app = make_app(server, tmp_path)
        async with settled(app) as pilot:
            await _open_alerts(app, pilot)
            assert "daemon: not running" in _title(app)  # no store file yet
            assert not db.exists(), "reading must not create the store"
            daemon = FakeDaemon(db, app.config.agents[0].id)
            daemon.beat(now - 3)
            await app.alert_sync.refresh()
            await wait_idle(app, pilot)
            assert "daemon: alive (pid 4242, 3s ago)" in _title(app)
            daemon.beat(now - 15 * 60)
            await app.alert_sync.refresh()
            await wait_idle(app, pilot)
            assert "daemon: stale since 12:00" in _title(app)

    async def test_dead_letters_by_reason_on_the_title(
        self, server: SimServer, tmp_path: Path
    ) -> None:
        """Broken: alerts a receiver refused for good (nobody was paged) showed nowhere in the
        console; the tab now counts them by receiver and reason."""
        db = tmp_path / "store.db"
        app = make_app(server, tmp_path)
        async with settled(app) as pilot:
            await _open_alerts(app, pilot)
            from tests.daemon.helpers import make_event

            daemon = FakeDaemon(db, app.config.agents[0].id)
            box = daemon.log.outbox
            box.enqueue([make_event(1)], ["log"], sim_now(server))
            (row,) = box.due("log", sim_now(server) + 1)
            box.dead(row.id, "telegram 400: Bad Request: chat not found", "http_400")
            await app.alert_sync.refresh()
            await wait_idle(app, pilot)
            assert "dead letters: log http_400 x1" in _title(app)


def test_store_reader_keeps_untrusted_text_as_text(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    daemon = FakeDaemon(db, "ag_x")
    daemon.conn.execute(
        "INSERT INTO alerts (fingerprint, rule, agent, severity, state, message, started_at)"
        " VALUES ('fp', 'api_down', 'ag_x', 'critical', 'firing', '[bold]boom\x1b[2J', 5.0)"
    )
    store = AlertStore(db, {"ag_x": "alpha"})
    try:
        snap = store.read()
    finally:
        store.close()
    (entry,) = snap.entries
    assert entry.agent_label == "alpha" and entry.value == "[bold]boom\x1b[2J"
    assert entry.key == row_key(1) and entry.source == "daemon"
    assert snap.heartbeat is None
