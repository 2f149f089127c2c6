"""Every table tab at 80x24, 120x40 and 200x50 on the frozen demo world: nothing scrolls
sideways, the columns that must never go are there, and every drawn cell is either whole or
visibly shortened (issue 12: ``delta-data-``, ``ember-compu`` and ``Dia`` were cut with no mark,
and at 80 columns Fleet lost Err %, Age and Status, Escrows State and At timeout)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from pf_tui.sim.http.server import SimServer
from pf_tui.tui.tabs.table_tab import TableTab, hidden_hint
from pf_tui.tui.widgets.keyed_table import KeyedTable
from tests.tui.harness import make_app, settle, wait_idle

SIZES = [(80, 24), (120, 40), pytest.param((200, 50), marks=pytest.mark.slow)]
MUST_SHOW = {
    "positions": {"Agent", "Pair", "Side", "uP&L"},
    "fleet": {"Agent", "Balance", "P&L", "Err %", "Age", "Status"},
    "escrows": {"Agent", "Payee", "State", "At timeout"},
    "alerts": {"Time", "Rule", "State"},
}
WHOLE_AT_120 = {"positions", "fleet"}
"""Tabs whose demo rows fit 120 columns without shortening anything."""


def check_cells(table: KeyedTable) -> int:
    """Every drawn cell is its row's whole cell or carries the mark; returns how many are cut."""
    cut = 0
    slots = [(i, key) for i, key in enumerate(table._slot) if key is not None]
    for row_key, cells in table._shown.items():
        drawn = table.get_row(row_key)
        for (i, _key), shown in zip(slots, drawn, strict=True):
            whole = cells[i].plain
            width = table.widths[i]
            assert width is not None and shown.cell_len <= width, (row_key, shown.plain)
            if i == table._live:
                continue
            if shown.plain != whole:
                assert table.ellipsis in shown.plain, (whole, shown.plain)
                cut += 1
    return cut


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_every_table_fits_its_terminal(
    server: SimServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    app = make_app(server, tmp_path)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        for key, tab in (("2", "positions"), ("3", "fleet"), ("4", "escrows"), ("5", "alerts")):
            await pilot.press(key)
            await wait_idle(app, pilot)
            view = app.views[tab]
            assert isinstance(view, TableTab)
            table = view.table
            shown = {c.label for c, w in zip(table.spec, table.widths, strict=True) if w}
            assert MUST_SHOW[tab] <= shown, (tab, size, table.hidden)
            assert table.virtual_size.width <= table.size.width, (tab, size, "scrolls sideways")
            cut = check_cells(table)
            if tab in WHOLE_AT_120 and size[0] >= 120:
                assert cut == 0 and not table.hidden, (tab, size)
            if size[0] >= 200:
                assert not table.hidden, (tab, size)
            if table.hidden:
                # The title line says what is hidden, whole: at 80 columns Escrows' list of
                # six names ran past the edge ("not shown at this width: Memo, R…").
                title = view._title
                room = view.query_one(".tab-title", Static).content_size.width
                assert title.cell_len <= room, (tab, size, title.plain)
                assert "hidden" in title.plain or "not shown" in title.plain, title.plain


def test_the_hidden_columns_hint_names_what_fits_and_counts_the_rest() -> None:
    names = ("Memo", "Rate", "Budget", "Paid", "Remaining", "Dialect")
    assert hidden_hint(names[:2], 80) == "  | not shown at this width: Memo, Rate"
    assert hidden_hint(names, 36) == "  | hidden: Memo, Rate +4 more"
    assert hidden_hint(names[:1], 20) == "  | hidden: Memo"  # one name, where the full line is not
    assert hidden_hint(names, 28) == "  | hidden: Memo +5 more"
    assert hidden_hint(names, 20) == "  | 6 columns hidden"
    assert hidden_hint(names, 0) == "  | 6 hidden"
    for room in range(80):
        hint = hidden_hint(names, room)
        assert len(hint) <= max(room, len("  | 6 hidden")), (room, hint)
