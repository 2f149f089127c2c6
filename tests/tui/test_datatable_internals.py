"""pf_tui/tui/widgets/datatable_internals.py writes DataTable's private state, as it is in one
Textual release: any other release fails here, by name, instead of drawing a stale table."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

from textual.app import App, ComposeResult
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

from pf_tui.tui.widgets import datatable_internals as internals

MODULE = "pf_tui/tui/widgets/datatable_internals.py"
ROOT = Path(__file__).resolve().parents[2]


def test_the_installed_textual_is_the_release_the_module_was_written_for() -> None:
    installed = version("textual")
    assert installed == internals.TEXTUAL_VERSION, (
        f"textual {installed} is installed, but {MODULE} writes DataTable's private state as it"
        f" is in textual {internals.TEXTUAL_VERSION}: read _data, _updated_cells,"
        " _require_update_dimensions, _update_count and _row_locations again in the new"
        f" textual/widgets/_data_table.py, adapt {MODULE}, then move its TEXTUAL_VERSION"
    )


def test_pyproject_pins_that_release() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert f"textual=={internals.TEXTUAL_VERSION}" in project["dependencies"], (
        f"pyproject.toml must pin textual to the release {MODULE} was written for"
    )


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield DataTable[str]()


async def test_each_write_shows_on_screen() -> None:
    """What the module relies on, checked through the table's public reads and its render."""
    app = TableApp()
    async with app.run_test(size=(40, 6)) as pilot:
        table: DataTable[str] = app.query_one(DataTable)
        name = table.add_column("name", key="name")
        a, b = table.add_row("alpha", key="a"), table.add_row("beta", key="b")
        await pilot.pause()

        internals.row_cells(table, a)[name] = "a much longer alpha"
        internals.remeasure(table, a, name)
        internals.redraw(table)
        await pilot.pause()
        assert table.get_cell("a", "name") == "a much longer alpha", MODULE
        assert table.columns[name].content_width == len("a much longer alpha"), MODULE
        assert "a much longer alpha" in _line(table, 1), f"{MODULE}: a written cell is not drawn"

        internals.set_row_order(table, [b, a])
        await pilot.pause()
        assert [table.get_row_at(i)[0] for i in range(2)] == ["beta", "a much longer alpha"]
        assert "beta" in _line(table, 1), f"{MODULE}: the row order is not drawn"
        assert table.get_row_index(RowKey("a")) == 1, MODULE


def _line(table: DataTable[str], y: int) -> str:
    return "".join(segment.text for segment in table.render_line(y))
