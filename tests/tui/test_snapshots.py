"""SVG snapshots of every tab, the help screen and each dialog, on a frozen simulator and clock.

The same SVGs are committed under ``screenshots/``; ``test_screenshots_match_snapshots`` keeps
the two in step (``PF_TUI_WRITE_SCREENSHOTS=1`` copies the snapshots over).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from pf_tui.sim.http.server import SimServer
from tests.tui.harness import SIZE, make_app, settle, wait_idle

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = Path(__file__).parent / "__snapshots__" / "test_snapshots"
SCREENSHOTS = ROOT / "screenshots"


pytestmark = pytest.mark.usefixtures("steady_cursor")


def _before(*keys: str, tab: str | None = None) -> Any:
    async def run_before(pilot: Any) -> None:
        app = pilot.app
        await settle(app, pilot)
        if tab is not None:
            await pilot.press(tab)
            await wait_idle(app, pilot)
        for key in keys:
            await pilot.press(key)
        await wait_idle(app, pilot)

    return run_before


def test_overview(snap_compare: Any, server: SimServer, tmp_path: Path) -> None:
    """Fleet cards with figures, sparkline and the 30-day P&L chart."""
    assert snap_compare(make_app(server, tmp_path), terminal_size=SIZE, run_before=_before())


def test_positions(snap_compare: Any, server: SimServer, tmp_path: Path) -> None:
    """Every open position of every agent."""
    assert snap_compare(make_app(server, tmp_path), terminal_size=SIZE, run_before=_before(tab="2"))


def test_fleet(snap_compare: Any, server: SimServer, tmp_path: Path) -> None:
    """One row per agent."""
    assert snap_compare(make_app(server, tmp_path), terminal_size=SIZE, run_before=_before(tab="3"))


def test_escrows(snap_compare: Any, server: SimServer, tmp_path: Path) -> None:
    """Active escrows with what their timeout will do."""
    assert snap_compare(make_app(server, tmp_path), terminal_size=SIZE, run_before=_before(tab="4"))


def test_alerts(snap_compare: Any, server: SimServer, tmp_path: Path) -> None:
    """The alert log (empty on a healthy fleet: the pilot tests fill it with faults)."""
    assert snap_compare(make_app(server, tmp_path), terminal_size=SIZE, run_before=_before(tab="5"))


def test_alerts_daemon(snap_compare: Any, server: SimServer, tmp_path: Path) -> None:
    """The daemon's alerts from the shared store, one silenced, and its heartbeat on the title."""
    from tests.tui.test_alert_store import FakeDaemon

    db = tmp_path / "store.db"
    now = server.sim.clock.now()
    app = make_app(server, tmp_path)
    agents = app.config.agents
    first, second = FakeDaemon(db, agents[0].id), FakeDaemon(db, agents[2].id)
    first.evaluate("40", now - 900)
    first.evaluate("40", now - 500)
    second.evaluate("12.5", now - 400)
    second.evaluate("12.5", now - 60)
    first.conn.execute(
        "UPDATE alerts SET silenced_until = ?, acked = 1 WHERE id = 1", (now + 3000,)
    )
    first.beat(now - 4)
    assert snap_compare(app, terminal_size=SIZE, run_before=_before(tab="5"))


def test_help(snap_compare: Any, server: SimServer, tmp_path: Path) -> None:
    """The ? screen lists every binding."""
    assert snap_compare(
        make_app(server, tmp_path), terminal_size=SIZE, run_before=_before("question_mark")
    )


def test_filter_dialog(snap_compare: Any, server: SimServer, tmp_path: Path) -> None:
    """The / prompt over the Fleet tab, text typed."""
    assert snap_compare(
        make_app(server, tmp_path),
        terminal_size=SIZE,
        run_before=_before("slash", "t", "r", "e", "n", "d", tab="3"),
    )


def test_filtered_fleet(snap_compare: Any, server: SimServer, tmp_path: Path) -> None:
    """The Fleet tab filtered to trend agents."""
    assert snap_compare(
        make_app(server, tmp_path),
        terminal_size=SIZE,
        run_before=_before("slash", "t", "r", "e", "n", "d", "enter", tab="3"),
    )


def test_palette(snap_compare: Any, server: SimServer, tmp_path: Path) -> None:
    """The command palette offering the key actions."""
    assert snap_compare(
        make_app(server, tmp_path), terminal_size=SIZE, run_before=_before("ctrl+p", "t", "a", "b")
    )


def test_drill_down(snap_compare: Any, server: SimServer, tmp_path: Path) -> None:
    """Enter on a Fleet row: the Overview shows that one agent."""
    assert snap_compare(
        make_app(server, tmp_path), terminal_size=SIZE, run_before=_before("down", "enter", tab="3")
    )


SMALL = (80, 24)
"""The terminal an operator gets over SSH from a laptop split pane or a phone."""


def test_overview_80x24(snap_compare: Any, server: SimServer, tmp_path: Path) -> None:
    """The cards and the chart at 80x24."""
    assert snap_compare(make_app(server, tmp_path), terminal_size=SMALL, run_before=_before())


def test_positions_80x24(snap_compare: Any, server: SimServer, tmp_path: Path) -> None:
    """Positions at 80x24: leverage and the liquidation price give way, names lose their middle."""
    assert snap_compare(
        make_app(server, tmp_path), terminal_size=SMALL, run_before=_before(tab="2")
    )


def test_fleet_80x24(snap_compare: Any, server: SimServer, tmp_path: Path) -> None:
    """Fleet at 80x24: only Strategy gives way; Err %, Age and Status stay."""
    assert snap_compare(
        make_app(server, tmp_path), terminal_size=SMALL, run_before=_before(tab="3")
    )


def test_escrows_80x24(snap_compare: Any, server: SimServer, tmp_path: Path) -> None:
    """Escrows at 80x24: State and At timeout stay; the title says what is not shown."""
    assert snap_compare(
        make_app(server, tmp_path), terminal_size=SMALL, run_before=_before(tab="4")
    )


def test_alerts_80x24(snap_compare: Any, server: SimServer, tmp_path: Path) -> None:
    """The daemon's alerts at 80x24: the value is cut with a visible mark."""
    from tests.tui.test_alert_store import FakeDaemon

    db = tmp_path / "store.db"
    now = server.sim.clock.now()
    app = make_app(server, tmp_path)
    first = FakeDaemon(db, app.config.agents[0].id)
    first.evaluate("40", now - 900)
    first.evaluate("40", now - 500)
    first.beat(now - 4)
    assert snap_compare(app, terminal_size=SMALL, run_before=_before(tab="5"))


def test_help_80x24(snap_compare: Any, server: SimServer, tmp_path: Path) -> None:
    """The ? screen at 80x24: "What it does" is readable."""
    assert snap_compare(
        make_app(server, tmp_path), terminal_size=SMALL, run_before=_before("question_mark")
    )


def test_screenshots_match_snapshots() -> None:
    """screenshots/*.svg are the snapshot SVGs, byte for byte."""
    snapshots = sorted(SNAPSHOTS.glob("*.svg"))
    assert snapshots, "run the snapshot tests first (pytest tests/tui --snapshot-update)"
    if os.environ.get("PF_TUI_WRITE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(exist_ok=True)
        for stale in SCREENSHOTS.glob("*.svg"):
            stale.unlink()
        for snap in snapshots:
            shutil.copyfile(snap, SCREENSHOTS / _screenshot_name(snap))
    for snap in snapshots:
        shot = SCREENSHOTS / _screenshot_name(snap)
        assert shot.exists(), f"{shot.name} missing: PF_TUI_WRITE_SCREENSHOTS=1 pytest {__file__}"
        assert shot.read_bytes() == snap.read_bytes(), f"{shot.name} is out of date"
    assert len(list(SCREENSHOTS.glob("*.svg"))) == len(snapshots)


def _screenshot_name(snapshot: Path) -> str:
    return snapshot.name.removeprefix("test_")
