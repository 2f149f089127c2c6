"""pf_tui/tui/widgets/datatable_internals.py writes DataTable's private state, as it is in one
Textual release: any other release fails here, by name, instead of drawing a stale table."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

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
        yield internals.CellRenderCache[str]()


async def test_each_write_shows_on_screen() -> None:
    """What the module relies on, checked through the table's public reads and its render: a
    write that no longer lands (a renamed private) fails here instead of drawing a stale table."""
    app = TableApp()
    async with app.run_test(size=(40, 8)) as pilot:
        table: DataTable[str] = app.query_one(DataTable)
        name = table.add_column("name", key="name", width=16)
        a, b = table.add_row("alpha", key="a"), table.add_row("beta", key="b")
        await pilot.pause()
        assert "alpha" in _line(table, 1)

        internals.row_cells(table, a)[name] = "a longer alpha"
        internals.redraw(table)
        await pilot.pause()
        assert table.get_cell("a", "name") == "a longer alpha", MODULE
        assert "a longer alpha" in _line(table, 1), f"{MODULE}: a written cell is not drawn"

        internals.set_row_order(table, [b, a])
        await pilot.pause()
        assert [table.get_row_at(i)[0] for i in range(2)] == ["beta", "a longer alpha"]
        assert "beta" in _line(table, 1), f"{MODULE}: the row order is not drawn"
        assert table.get_row_index(RowKey("a")) == 1, MODULE
        assert internals.row_key_at(table, 0) == b and internals.row_key_at(table, 5) is None

        added = internals.append_rows(table, [("c", {name: "gamma"})])
        await pilot.pause()
        assert table.row_count == 3 and table.get_row_index(added["c"]) == 2, MODULE
        assert "gamma" in _line(table, 3), f"{MODULE}: an appended row is not drawn"

        internals.remove_rows(table, [b])
        await pilot.pause()
        assert [table.get_row_at(i)[0] for i in range(2)] == ["a longer alpha", "gamma"], MODULE

        size, note = ColumnKey("size"), ColumnKey("note")
        internals.set_columns(
            table,
            [(note, Text("note"), 6), (size, Text("size"), 4)],
            {a: {note: "n-a", size: "1"}, added["c"]: {note: "n-c", size: "22"}},
        )
        await pilot.pause()
        assert [c.label.plain for c in table.ordered_columns] == ["note", "size"], MODULE
        assert _line(table, 0).split() == ["note", "size"], f"{MODULE}: new columns not drawn"
        assert _line(table, 2).split() == ["n-c", "22"], MODULE

        internals.set_widths(table, {note: 12})
        await pilot.pause()
        assert table.columns[note].get_render_width(table) == 14, MODULE
        assert _line(table, 0).index("size") == 15, f"{MODULE}: a new width is not drawn"


async def test_the_render_cache_follows_the_cell_object() -> None:
    """A cell is rendered again exactly when a new object is put in its place: a stale render
    here would show yesterday's figure."""
    app = TableApp()
    async with app.run_test(size=(40, 6)) as pilot:
        table = app.query_one(internals.CellRenderCache)
        column = table.add_column("v", key="v")
        row = table.add_row("one", key="r")
        await pilot.pause()
        assert "one" in _line(table, 1)
        calls = []
        original = DataTable._render_cell

        def counting(self: DataTable[str], *args: object, **kwargs: object) -> object:
            calls.append(args[:2])
            return original(self, *args, **kwargs)  # type: ignore[arg-type]

        DataTable._render_cell = counting  # type: ignore[method-assign]
        try:
            internals.redraw(table)
            assert "one" in _line(table, 1)
            assert (0, 0) not in calls, "an unchanged cell was rendered again"
            internals.row_cells(table, row)[column] = "two"
            internals.redraw(table)
            assert "two" in _line(table, 1)
            assert (0, 0) in calls
        finally:
            DataTable._render_cell = original  # type: ignore[method-assign]


def _line(table: DataTable[str], y: int) -> str:
    return "".join(segment.text for segment in table.render_line(y))
