"""The run-time state file: theme, sorts, filters and silences survive a restart; bad files do not
stop it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from pf_tui.config import load_state, save_state
from pf_tui.sim.http.server import SimServer
from pf_tui.tui.tabs.fleet import FleetTab
from pf_tui.tui.tabs.positions import PositionsTab
from pf_tui.views.saved_state import SavedState, TableState
from tests.tui.harness import make_app, settled, sim_now, wait_idle


@pytest.mark.slow
async def test_sort_filter_theme_and_silences_restored(server: SimServer, tmp_path: Path) -> None:
    state = tmp_path / "state.toml"
    now = sim_now(server)
    app = make_app(server, tmp_path, state_path=state)
    async with settled(app) as pilot:
        await pilot.press("3", "s", "s")  # Fleet: sort by the third column
        await pilot.press("S")  # ...reversed
        await pilot.press("slash", *"trend", "enter")
        await wait_idle(app, pilot)
        app.theme = "nord"
        app.alert_log.restore_silences(
            [("ag_1", "stale_data", now + 600), ("ag_2", "api_error", now - 1)], now
        )
        table = app.query_one(FleetTab).table
        sort, reverse = table.sort_column, table.reverse
        assert sort != "label" or not reverse
        await pilot.press("q")  # quitting saves
        await pilot.pause()
    saved = load_state(state)
    assert saved["theme"] == "nord"
    assert saved["tables"]["fleet"] == {"sort": sort, "reverse": reverse, "filter": "trend"}
    assert saved["silences"] == [{"agent": "ag_1", "rule": "stale_data", "until": now + 600}]

    again = make_app(server, tmp_path, state_path=state)
    async with settled(again) as pilot:
        await pilot.press("3")
        await wait_idle(again, pilot)
        table = again.query_one(FleetTab).table
        assert (table.sort_column, table.reverse, table.filter_text) == (sort, reverse, "trend")
        assert 0 < table.row_count < 8  # the filter is applied, not just remembered
        assert again.theme == "nord"
        assert again.alert_log.silenced_until("ag_1", "stale_data") == now + 600
        positions = again.query_one(PositionsTab).table
        assert positions.filter_text == ""


async def test_change_is_saved_without_quitting(server: SimServer, tmp_path: Path) -> None:
    state = tmp_path / "state.toml"
    app = make_app(server, tmp_path, state_path=state)
    async with settled(app) as pilot:
        keeper = app.state_keeper
        await keeper.tick()
        assert keeper.saves == 0  # nothing changed yet: nothing written
        await pilot.press("2", "s")
        await wait_idle(app, pilot)
        await keeper.tick()
        await keeper.tick()
        assert keeper.saves == 1
        assert load_state(state)["tables"]["positions"]["sort"] == (
            app.query_one(PositionsTab).table.sort_column
        )


async def test_bad_values_are_skipped(server: SimServer, tmp_path: Path) -> None:
    state = tmp_path / "state.toml"
    save_state(
        state,
        {
            "theme": "no-such-theme",
            "tables": {"fleet": {"sort": "nope", "reverse": "x", "filter": 3}},
            "silences": [{"agent": "a"}, "junk"],
        },
    )
    app = make_app(server, tmp_path, state_path=state)
    async with settled(app):
        table = app.query_one(FleetTab).table
        assert table.filter_text == "" and table.sort_column == FleetTab.SORT
        assert app.theme != "no-such-theme"


async def test_a_file_from_before_tab_names_is_read(server: SimServer, tmp_path: Path) -> None:
    """Tables used to be keyed by widget id (``fleet-view``); such a file still restores."""
    state = tmp_path / "state.toml"
    save_state(
        state,
        {
            "version": 1,
            "tables": {"fleet-view": {"sort": "balance", "reverse": True, "filter": "trend"}},
        },
    )
    app = make_app(server, tmp_path, state_path=state)
    async with settled(app) as pilot:
        await pilot.press("3")
        await wait_idle(app, pilot)
        table = app.query_one(FleetTab).table
        assert (table.sort_column, table.reverse, table.filter_text) == ("balance", True, "trend")
        await pilot.press("S", "q")  # a change, then quitting saves it, under tab names
        await pilot.pause()
    tables = load_state(state)["tables"]
    assert set(tables) == {"positions", "fleet", "escrows", "alerts"}
    assert tables["fleet"] == {"sort": "balance", "reverse": False, "filter": "trend"}


async def test_no_state_path_writes_nothing(server: SimServer, tmp_path: Path) -> None:
    app = make_app(server, tmp_path)
    async with settled(app) as pilot:
        assert app.config.state_path is None and app.state_keeper.path is None
        await pilot.press("3", "s")
        await wait_idle(app, pilot)
        await app.state_keeper.tick()
        app.state_keeper.save_now()
        assert app.state_keeper.saves == 0


def test_saved_state_round_trip_and_junk() -> None:
    """What is written reads back the same; junk and half entries are dropped, not fatal."""
    written = SavedState(
        "nord",
        {"fleet": TableState("balance", True, "trend"), "alerts": TableState("time")},
        (("ag_1", "stale_data", 1767272400.0),),
    )
    tabs = ("positions", "fleet", "escrows", "alerts")
    assert SavedState.from_toml(written.to_toml(), tabs) == written
    read = SavedState.from_toml(
        {
            "theme": 3,
            "tables": {
                "fleet": {"sort": "balance", "filter": "x"},  # no direction: the sort is dropped
                "positions-view": {"sort": "upnl", "reverse": False},
                "unknown": {"sort": "a", "reverse": True},
            },
            "silences": [
                {"agent": "a", "rule": "r", "until": Decimal("5.5")},
                {"agent": "a", "rule": "r"},
                "junk",
            ],
        },
        tabs,
    )
    assert read == SavedState(
        None,
        {"fleet": TableState(None, filter="x"), "positions": TableState("upnl")},
        (("a", "r", 5.5),),
    )
    assert SavedState.from_toml({"tables": "junk", "silences": {}}, tabs) == SavedState()
