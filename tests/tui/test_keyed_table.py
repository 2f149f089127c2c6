"""KeyedTable: keyed diffs written straight into the table still draw what they hold: a figure
that grows wider widens its column, the sort follows the views' sort values, filtered rows come
back, and the cursor stays on its row."""

from __future__ import annotations

from decimal import Decimal as D

from rich.text import Text
from textual.app import App, ComposeResult

from pf_tui.tui.widgets.keyed_table import Column, KeyedTable, Row

COLUMNS = (Column("name", "Name"), Column("usd", "USD", numeric=True))


def row(name: str, usd: str | None) -> Row:
    value = None if usd is None else D(usd.strip("$").replace(",", ""))
    return Row((Text(name), Text(usd or "-", justify="right")), (name, value), name.lower())


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield KeyedTable(COLUMNS, sort_column="usd")


def lines(table: KeyedTable) -> list[str]:
    return [" ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]


async def test_a_wider_figure_widens_its_column_and_rows_follow_the_sort() -> None:
    app = TableApp()
    async with app.run_test(size=(60, 10)) as pilot:
        table = app.query_one(KeyedTable)
        table.apply(
            {"a": row("alpha", "$9.99"), "b": row("beta", "$1.00"), "c": row("gamma", None)}
        )
        await pilot.pause()
        assert lines(table) == ["beta $1.00", "alpha $9.99", "gamma -"]  # None sorts last
        table.move_cursor(row=1)  # on alpha
        table.apply(
            {"a": row("alpha", "$12,345.67"), "b": row("beta", "$1.00"), "c": row("gamma", None)}
        )
        await pilot.pause()
        usd = table.columns[table._column_keys[1]]
        assert usd.content_width >= len("$12,345.67")
        rendered = "".join(seg.text for seg in table.render_line(1 + table.get_row_index("a")))
        assert "$12,345.67" in rendered  # drawn whole, not cut to the old width
        assert table.cursor_key == "a"
        table.set_sort("usd", reverse=True)
        await pilot.pause()
        assert [line.split()[0] for line in lines(table)] == [
            "alpha",
            "beta",
            "gamma",
        ]  # None still last
        table.set_filter("gam")
        await pilot.pause()
        assert lines(table) == ["gamma -"]
        table.set_filter("")
        await pilot.pause()
        assert table.row_count == 3 and table.cursor_key is not None
