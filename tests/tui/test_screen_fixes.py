"""Three screen defects found in review, each with the test that failed before its fix.

- The header read ``pf-tui— demo`` and the status bar ``data 0slast error:`` in the screenshots:
  a styled run that starts with a space is one SVG ``<text>`` whose leading space is lost.
- On the Alerts tab at 80x24, alerts arriving above a cursor left on the newest row pushed it
  down, and the table scrolled the new rows out of sight.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from textual.app import App, ComposeResult

from pf_tui.core.money.brake import BrakeState
from pf_tui.core.store.db import Store
from pf_tui.sim.http.server import SimServer
from pf_tui.tui.format import Tones
from pf_tui.tui.tabs.alerts import AlertsTab
from pf_tui.tui.widgets.header import ConsoleHeader, title_content
from pf_tui.tui.widgets.status_bar import StatusBar
from pf_tui.views.daemon_alerts import row_key
from pf_tui.views.model import ServiceView
from tests.tui.harness import make_app, settle, sim_now, wait_idle

TEXT = re.compile(r'<text [^>]*clip-path="url\(#terminal-(?:\d+-)?line-(\d+)\)">([^<]*)</text>')


class _Chrome(App[None]):
    TITLE = "pf-tui"

    def compose(self) -> ComposeResult:
        yield ConsoleHeader(icon="$")
        yield StatusBar(id="status")

    def on_mount(self) -> None:
        self.sub_title = "demo"


def svg_lines(svg: str) -> dict[int, list[str]]:
    """Each screen line's ``<text>`` runs, in order, as the SVG holds them."""
    lines: dict[int, list[str]] = {}
    for line, run in TEXT.findall(svg):
        lines.setdefault(int(line), []).append(run)
    return lines


def test_no_styled_run_of_the_title_starts_with_a_space() -> None:
    content = title_content("pf-tui", "demo")
    assert content.plain == "pf-tui — demo"
    for span in content.spans:
        assert not content.plain[span.start].isspace(), span


async def test_the_screenshot_keeps_the_header_and_status_separators() -> None:
    app = _Chrome()
    async with app.run_test(size=(80, 6)) as pilot:
        app.query_one(StatusBar).show(
            (ServiceView("casino", "up"),),
            100.0,
            100.0,
            paused=True,
            error="HTTP 503",
            tones=Tones.from_variables(app.theme_variables),
        )
        await pilot.pause()
        status = app.query_one(StatusBar).render_line(0).text
        assert "casino ok  data 0s  PAUSED  last error: HTTP 503" in status
        plain = svg_lines(app.export_screenshot())
        app.query_one(ConsoleHeader).show_brake(
            BrakeState(True, 100.0, "ops", "incident 42"), 100.0, "B"
        )
        await pilot.pause()
        braked = svg_lines(app.export_screenshot())
    for lines in (plain, braked):
        for number in (0, 1):  # the header, the status bar
            runs = lines[number]
            assert any("demo" in run for run in runs) if number == 0 else runs
            for run in runs:
                # A run of text after a leading space: the space is dropped where it is drawn.
                assert not re.match(r"(&#160;)+[^&]", run), (number, run)
    assert any(run.startswith("BRAKE&#160;ON&#160;since") for run in braked[0]), braked[0]


def insert_alert(db: Path, rule: str, agent: str, started_at: float) -> int:
    """One firing row, as the daemon writes it (the columns the Alerts tab reads)."""
    conn = sqlite3.connect(db)
    try:
        with conn:
            cur = conn.execute(
                "INSERT INTO alerts (fingerprint, rule, agent, severity, state, value, message,"
                " labels, started_at) VALUES (?, ?, ?, 'warning', 'firing', '1', '', '{}', ?)",
                (f"{rule}/{agent}/{started_at}", rule, agent, started_at),
            )
            return int(cur.lastrowid or 0)
    finally:
        conn.close()


async def test_new_alerts_stay_in_view_unless_the_cursor_moved(
    server: SimServer, tmp_path: Path
) -> None:
    db = tmp_path / "store.db"
    Store(db).close()
    now = sim_now(server)
    app = make_app(server, tmp_path)
    agent = app.config.agents[0].id
    for i in range(30):
        insert_alert(db, f"old_{i:02d}", agent, now - 3000 + i)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("5")
        await app.alert_sync.refresh()
        await wait_idle(app, pilot)
        table = app.query_one(AlertsTab).table
        assert table.cursor_row == 0 and table.scroll_y == 0
        newest = 0
        for i in range(30):  # more than a screen of new alerts, newer than every old one
            newest = insert_alert(db, f"new_{i:02d}", agent, now - 600 + i)
        await app.alert_sync.refresh()
        await wait_idle(app, pilot)
        assert table.cursor_key == row_key(newest)
        assert table.cursor_row == 0 and table.scroll_y == 0  # the newest row is on screen

        # The operator moved the cursor: it stays on the row it is on.
        await pilot.press("down", "down")
        await wait_idle(app, pilot)
        chosen = table.cursor_key
        insert_alert(db, "newer", agent, now - 10)
        await app.alert_sync.refresh()
        await wait_idle(app, pilot)
        assert table.cursor_key == chosen and table.cursor_row == 3
