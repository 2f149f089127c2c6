"""Pilot tests: the keys do what the help screen says, on a frozen simulator."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pf_tui.clock import FrozenClock
from pf_tui.shard import Shard, shard_of
from pf_tui.sim.http.server import SimServer
from pf_tui.tui.app import PfApp
from pf_tui.tui.dialogs.filter import FilterDialog
from pf_tui.tui.dialogs.help import HelpScreen
from pf_tui.tui.keymap import EVERY_BINDING
from pf_tui.tui.tabs.fleet import FleetTab
from pf_tui.tui.tabs.positions import PositionsTab
from pf_tui.tui.widgets.chart import DailyChart
from pf_tui.wiring import shard_config
from tests.tui.harness import make_app, settle, settled, sim_now, wait_idle


def _column(app: PfApp, table_tab: type, column: str) -> list[str]:
    table = app.query_one(table_tab).table
    return [
        table.get_row_at(i)[[c.key for c in table.spec].index(column)].plain
        for i in range(table.row_count)
    ]


class TestTabs:
    async def test_number_keys_switch_tabs(self, server: SimServer, tmp_path: Path) -> None:
        app = make_app(server, tmp_path)
        async with settled(app) as pilot:
            for key, tab in (
                ("2", "positions"),
                ("3", "fleet"),
                ("4", "escrows"),
                ("5", "alerts"),
                ("1", "overview"),
            ):
                await pilot.press(key)
                await wait_idle(app, pilot)
                assert app.active_tab == tab


class TestShard:
    async def test_a_sharded_console_says_which_shard_and_shows_only_its_agents(
        self, server: SimServer, tmp_path: Path
    ) -> None:
        whole = make_app(server, tmp_path).config
        config = shard_config(whole, Shard(1, 2))
        app = PfApp(config, demo=True, tick_s=0.0, clock=FrozenClock(sim_now(server)))
        async with settled(app) as pilot:
            assert app.sub_title == "demo  shard 1/2"
            await pilot.press("3")
            await wait_idle(app, pilot)
            mine = {a.id for a in whole.agents if shard_of(a.id, 2) == 1}
            assert 0 < len(mine) < len(whole.agents)
            assert {a.agent_id for a in app.fleet_view.agents} == mine
            assert app.query_one(FleetTab).table.row_count == len(mine)


class TestFleetTable:
    async def test_sort_keys_and_cursor_survives_updates(
        self, server: SimServer, tmp_path: Path
    ) -> None:
        app = make_app(server, tmp_path)
        async with settled(app) as pilot:
            await pilot.press("3")
            await wait_idle(app, pilot)
            table = app.query_one(FleetTab).table
            assert table.row_count == 8
            labels = _column(app, FleetTab, "label")
            assert labels == sorted(labels)
            await pilot.press("s", "s")  # label -> strategy -> balance (numbers sort high first)
            await wait_idle(app, pilot)
            assert table.sort_column == "balance" and table.reverse
            balances = [
                Decimal(v.replace("$", "").replace(",", ""))
                for v in _column(app, FleetTab, "balance")
            ]
            assert balances == sorted(balances, reverse=True)
            await pilot.press("S")
            await wait_idle(app, pilot)
            balances = [
                Decimal(v.replace("$", "").replace(",", ""))
                for v in _column(app, FleetTab, "balance")
            ]
            assert balances == sorted(balances)
            await pilot.press("down", "down")
            key = table.cursor_key
            # A poll tick (refresh) diffs the rows in place: the cursor stays on the same agent.
            await pilot.press("r")
            await settle(app, pilot)
            assert table.cursor_key == key
            assert table.sort_column == "balance" and not table.reverse

    async def test_filter_and_clear(self, server: SimServer, tmp_path: Path) -> None:
        app = make_app(server, tmp_path)
        async with settled(app) as pilot:
            await pilot.press("3", "slash")
            await wait_idle(app, pilot)
            assert isinstance(app.screen, FilterDialog)
            await pilot.press(*"trend", "enter")
            await wait_idle(app, pilot)
            labels = _column(app, FleetTab, "label")
            assert labels and all("trend" in label for label in labels)
            assert len(labels) < 8
            await pilot.press("slash", "ctrl+a", "ctrl+k", "enter")
            await wait_idle(app, pilot)
            assert app.query_one(FleetTab).table.row_count == 8

    async def test_drill_down_and_back(self, server: SimServer, tmp_path: Path) -> None:
        app = make_app(server, tmp_path)
        async with settled(app) as pilot:
            await pilot.press("3")
            await wait_idle(app, pilot)
            table = app.query_one(FleetTab).table
            agent_id = table.cursor_key
            await pilot.press("enter")
            await wait_idle(app, pilot)
            assert app.selected == agent_id
            assert app.active_tab == "overview"
            await pilot.press("2")
            await wait_idle(app, pilot)
            positions = app.query_one(PositionsTab).table
            shown = {key.value.split("/")[0] for key in positions.rows}
            assert shown <= {agent_id}
            await pilot.press("escape")
            await wait_idle(app, pilot)
            assert app.selected is None
            assert app.active_tab == "fleet"

    async def test_drill_down_charts_the_agent_at_once(
        self, server: SimServer, tmp_path: Path
    ) -> None:
        """The chart shows the chosen agent's P&L history as soon as it is chosen, not
        "waiting for the P&L history" until the next tick (none comes on a frozen simulator)."""
        app = make_app(server, tmp_path)
        async with settled(app) as pilot:
            fleet_points = app.query_one(DailyChart)._points
            await pilot.press("3")
            await wait_idle(app, pilot)
            agent_id = app.query_one(FleetTab).table.cursor_key
            ticks = app.ticks
            await pilot.press("enter")
            await wait_idle(app, pilot)
            assert app.ticks == ticks  # no new poll view drew it
            points = app.query_one(DailyChart)._points
            assert points is not None and len(points) >= 2
            assert points != fleet_points
            assert agent_id is not None
            assert points == app.fleet_view.agent_pnl_daily[agent_id]


class TestPolling:
    async def test_refresh_and_pause(self, server: SimServer, tmp_path: Path) -> None:
        app = make_app(server, tmp_path)
        async with settled(app) as pilot:
            before = server.sim.requests[-1][0]
            await pilot.press("r")
            await settle(app, pilot)
            await wait_idle(app, pilot)
            assert server.sim.requests[-1][0] > before
            await pilot.press("p")
            await wait_idle(app, pilot)
            assert app.paused and app.engine.poller.paused
            assert "PAUSED" in str(app.query_one("#status").render())
            await pilot.press("p")
            await wait_idle(app, pilot)
            assert not app.paused and not app.engine.poller.paused


class TestHelpAndPalette:
    async def test_help_lists_every_binding(self, server: SimServer, tmp_path: Path) -> None:
        app = make_app(server, tmp_path)
        async with settled(app) as pilot:
            await pilot.press("question_mark")
            await wait_idle(app, pilot)
            assert isinstance(app.screen, HelpScreen)
            text = app.export_screenshot()
            for binding in EVERY_BINDING:
                assert binding.id is not None and binding.id in text
            await pilot.press("escape")
            await wait_idle(app, pilot)
            assert not isinstance(app.screen, HelpScreen)

    async def test_palette_runs_the_same_actions(self, server: SimServer, tmp_path: Path) -> None:
        app = make_app(server, tmp_path)
        async with settled(app) as pilot:
            await pilot.press("ctrl+p")
            await wait_idle(app, pilot)
            await pilot.press(*"Show Escrows", "enter")
            await wait_idle(app, pilot)
            assert app.active_tab == "escrows"

    async def test_palette_search_for_filter_does_not_crash(
        self, server: SimServer, tmp_path: Path
    ) -> None:
        # The filter key renders as "[/]", which Textual used to parse as markup (MarkupError).
        app = make_app(server, tmp_path)
        async with settled(app) as pilot:
            await pilot.press("ctrl+p")
            await wait_idle(app, pilot)
            await pilot.press(*"Filter")
            await wait_idle(app, pilot)
            await pilot.press("escape")
            await wait_idle(app, pilot)
            assert app.is_running

    async def test_keymap_remaps_a_binding(self, server: SimServer, tmp_path: Path) -> None:
        app = make_app(server, tmp_path, keymap={"tab.fleet": "f3", "app.pause": "f9"})
        async with settled(app) as pilot:
            await pilot.press("f3")
            await wait_idle(app, pilot)
            assert app.active_tab == "fleet"
            await pilot.press("f9")
            await wait_idle(app, pilot)
            assert app.paused
            await pilot.press("question_mark")
            await wait_idle(app, pilot)
            assert "f9" in app.export_screenshot()


class TestFrozen:
    async def test_untouched_figures_stay_put(self, server: SimServer, tmp_path: Path) -> None:
        app = make_app(server, tmp_path)
        async with settled(app) as pilot:
            first = app.export_screenshot()
            ticks = app.ticks
            await pilot.press("r")  # a whole new round of polls of the same (paused) world
            await settle(app, pilot)
            await pilot.pause(1.0)
            assert app.ticks > ticks
            assert app.export_screenshot() == first
