"""Untrusted text stays text: markup typed by an agent shows as typed, escapes never reach the
terminal."""

from __future__ import annotations

import asyncio
import html
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from rich.text import Text

from pf_tui.demo import fetch_demo_agents
from pf_tui.sim.http.server import SimServer
from pf_tui.tui.sanitize import safe
from pf_tui.tui.tabs.alerts import AlertsTab
from pf_tui.tui.tabs.escrows import EscrowsTab
from pf_tui.tui.tabs.fleet import FleetTab
from pf_tui.tui.tabs.positions import PositionsTab
from tests.tui.harness import frozen_sim, make_app, settled, wait_idle

MARKUP = ("[bold red]X[/]", "[@click=app.quit]q[/]", "[link='http://evil']x[/link]")
CONTROLS = {
    "\x1b[2J": "\\x1b[2J",
    "\x1b]52;c;ZXZpbA==\x07": "\\x1b]52;c;ZXZpbA==\\x07",  # OSC 52: write the clipboard
    "\u202e": "\\u202e",
    "\x1b]0;owned\x07": "\\x1b]0;owned\\x07",  # OSC 0: the window title
    "\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\": "\\x1b]8;;http://evil\\x1b\\link\\x1b]8;;\\x1b\\",
    "\x1bP+q544e\x1b\\": "\\x1bP+q544e\\x1b\\",  # DCS: a terminal query
    "\x1b[6n": "\\x1b[6n",  # CSI 6n: the terminal answers with the cursor position
    "\x9b6n\x9d0;t\x9c\x90q\x9c": "\\x9b6n\\x9d0;t\\x9c\\x90q\\x9c",  # the same in C1
}
FOREIGN = ("\x1b", "\x07", "\u202e", "\u2066", "\u200b", "\x9b", "\x9c", "\x9d", "\x90")


def _screen_text(svg: str) -> str:
    return html.unescape(svg).replace("\xa0", " ")


class TestSanitizer:
    @pytest.mark.parametrize("raw", MARKUP)
    def test_markup_is_literal(self, raw: str) -> None:
        text = safe(raw)
        assert text.plain == raw
        assert not text.spans
        assert not text.style

    @pytest.mark.parametrize(("raw", "shown"), list(CONTROLS.items()))
    def test_controls_become_visible_escapes(self, raw: str, shown: str) -> None:
        assert safe(raw).plain == shown

    @pytest.mark.parametrize(
        "char",
        [
            "\x00",
            "\x07",
            "\x1b",
            "\x7f",
            "\x85",
            "\x9b",
            "\u2028",
            "\u2029",
            "\u202a",
            "\u202b",
            "\u202c",
            "\u202d",
            "\u202e",
            "\u2066",
            "\u2067",
            "\u2068",
            "\u2069",
            "\u200e",
            "\u200f",
            "\u200b",
            "\u200c",
            "\u200d",
            "\ufeff",
            "\u061c",
        ],
    )
    def test_every_dangerous_character(self, char: str) -> None:
        plain = safe(f"a{char}b").plain
        assert char not in plain
        assert plain.startswith("a\\") and plain.endswith("b")

    def test_ordinary_text_untouched(self) -> None:
        assert safe("data feed #19 — café 数据").plain == "data feed #19 — café 数据"

    def test_none_and_long(self) -> None:
        assert safe(None).plain == "-"
        assert safe("x" * 5000).plain.endswith("…")
        assert isinstance(safe("x"), Text)


EVIL = "".join(MARKUP) + "".join(CONTROLS)


@pytest.fixture(scope="module")
def evil_server() -> Iterator[SimServer]:
    """A frozen simulator with an evil memo on one escrow (the error body comes in the test)."""
    with frozen_sim() as sim:
        agents = fetch_demo_agents(sim.url)
        payer, payee = agents[0], agents[1]
        reply = httpx.post(
            f"{sim.url}/escrow/api/v1/escrow",
            json={
                "to_agent_id": payee["agent_id"],
                "amount": "0.50",
                "memo": "memo " + EVIL,
                "auto_release_hours": 2,
            },
            headers={"Authorization": f"Bearer {payer['keys']['casino']}"},
        )
        assert reply.status_code == 201, reply.text
        yield sim


async def test_evil_text_everywhere(evil_server: SimServer, tmp_path: Path) -> None:
    server = evil_server
    agents = fetch_demo_agents(server.url)
    labels = {agents[2]["agent_id"]: "label " + EVIL}
    app = make_app(server, tmp_path, labels=labels)
    async with settled(app) as pilot:
        fault = await asyncio.to_thread(
            httpx.post,
            f"{server.url}/_sim/faults",
            json={
                "route": "/trading/v1/trade/pnl-history",
                "kind": "error",
                "status": 500,
                "rate": 1,
                "body": json.dumps({"error": "internal_error", "message": "body " + EVIL}),
            },
        )
        assert fault.status_code < 300, fault.text
        position = {
            "position_id": "pos_evil",
            "coin": "pair " + EVIL,
            "side": "long",
            "size_usd": 10,
            "entry_price": 1,
            "current_price": 1,
            "leverage": 1,
            "unrealized_pnl": 0,
        }
        pairs = await asyncio.to_thread(
            httpx.post,
            f"{server.url}/_sim/faults",
            json={
                "route": "/trading/v1/trade/positions",
                "kind": "error",
                "status": 200,
                "rate": 1,
                "body": json.dumps(
                    {
                        # A long hostile pair is cut to its column (with a mark); a short one
                        # of C1 controls fits whole, so its visible escapes can be read.
                        "positions": [
                            position,
                            {**position, "position_id": "pos_c1", "coin": "\x9b6n\x9d"},
                        ],
                        "count": 2,
                        "source": "hyperliquid",
                    }
                ),
            },
        )
        assert pairs.status_code < 300, pairs.text
        try:
            await pilot.press("r")
            for _ in range(200):
                await pilot.pause(0.05)
                view = app.fleet_view
                evil_pair = view is not None and any(
                    p.pair.startswith("pair ") for p in view.positions
                )
                if app.last_error and evil_pair:
                    break
            await wait_idle(app, pilot)
            screens = {}
            for key, tab in (
                ("1", "overview"),
                ("2", "positions"),
                ("3", "fleet"),
                ("4", "escrows"),
                ("5", "alerts"),
            ):
                await pilot.press(key)
                await wait_idle(app, pilot)
                screens[tab] = app.export_screenshot()
            # The dialogs that show untrusted text: agent labels in the open form, the audit.
            await pilot.press("4")
            await wait_idle(app, pilot)
            for key, name in (("o", "open dialog"), ("A", "audit view")):
                await pilot.press(key)
                await wait_idle(app, pilot)
                screens[name] = app.export_screenshot()
                await pilot.press("escape")
                await wait_idle(app, pilot)
        finally:
            await asyncio.to_thread(httpx.delete, f"{server.url}/_sim/faults")
        assert app.is_running and app.return_code is None  # [@click=app.quit] did nothing
        for name, svg in screens.items():
            for char in FOREIGN:
                assert char not in svg, f"{char!r} reached the {name} raw"
        # A hostile pair name (or label) keeps to its column: the figures stay on screen.
        positions = _screen_text(screens["positions"])
        assert "pair [bold" in positions and "uP&amp;L" in screens["positions"]
        cells = [c.plain for c in app.query_one(PositionsTab).table.get_column("pair")]
        long_pair = [c for c in cells if c.startswith("pair ")]
        assert long_pair and long_pair[0].endswith("…")  # cut, and says so
        assert "\\x9b6n\\x9d" in cells  # C1 shown as escapes, not obeyed
        fleet = _screen_text(screens["fleet"])
        assert "label [bold red]X[/]" in fleet
        escrows = _screen_text(screens["escrows"])
        assert "memo [bold" in escrows
        assert "api_error" in _screen_text(screens["alerts"])
        values = [r.cells[4].plain for r in app.query_one(AlertsTab).table._rows.values()]
        assert any("body [bold red]X[/][@click=app.quit]q[/]" in v for v in values), values

        # Every cell is plain Text: the typed markup is its text, and no span carries an action.
        for view in (FleetTab, EscrowsTab, AlertsTab):
            table = app.query_one(view).table
            for index in range(table.row_count):
                for cell in table.get_row_at(index):
                    for span in cell.spans:
                        style = span.style
                        assert not (hasattr(style, "meta") and style.meta), cell.plain
        fleet_table = app.query_one(FleetTab).table
        drawn = [c for c in fleet_table.get_column("label") if "label" in c.plain]
        # The long label is drawn shortened in its middle (a visible mark), markup still literal;
        # the whole cell is what the table holds.
        assert drawn[0].plain.startswith("label [bold red]X[/][@click")
        label_cells = [
            r.cells[0] for r in fleet_table._rows.values() if "label" in r.cells[0].plain
        ]
        assert label_cells[0].plain.startswith("label [bold red]X[/][@click=app.quit]q[/]")
        assert "\\x1b[2J" in label_cells[0].plain and "\\u202e" in label_cells[0].plain
        memo_rows = [
            r for r in app.query_one(EscrowsTab).table._rows.values() if "memo" in r.cells[2].plain
        ]
        assert memo_rows and "\\x1b[2J\\x1b]52;c;Z" in memo_rows[0].cells[2].plain
        assert Decimal("0.50") in {e.amount for e in app.fleet_view.escrows}
