"""KeyedTable: keyed diffs written straight into the table still draw what they hold: a figure
that grows wider widens its column, the sort follows the views' sort values, filtered rows come
back, the cursor stays on its row, columns give way to a narrow terminal by priority with a
visible mark, and live cells are drawn for the rows on screen only."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D

from rich.text import Text
from textual.app import App, ComposeResult
from textual.strip import Strip
from textual.widgets.data_table import ColumnKey

from pf_tui.tui.widgets.columns import Column, Cut, fit_cell
from pf_tui.tui.widgets.keyed_table import KeyedTable, Row

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
        usd = table.columns[ColumnKey("usd")]
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


WIDE = (
    Column("id", "Id", cut=Cut.MIDDLE, min_width=12),
    Column("label", "Label", priority=2, cut=Cut.END, min_width=6),
    Column("usd", "USD", numeric=True),
    Column("note", "Note", priority=3),
)


class WideApp(App[None]):
    def compose(self) -> ComposeResult:
        yield KeyedTable(WIDE, sort_column="id")


def wide_row(n: int) -> Row:
    ident, label = f"ag_aa1969db0c{n:02d}", f"a rather long label number {n}"
    cells = (Text(ident), Text(label), Text(f"${n},000.00", justify="right"), Text("memo"))
    return Row(cells, (ident, label, D(n), "memo"), ident)


def drawn(table: KeyedTable) -> list[str]:
    return ["".join(s.text for s in table.render_line(y)) for y in range(1 + table.row_count)]


async def test_columns_drop_by_priority_and_come_back_when_the_terminal_widens() -> None:
    """Narrow: the least important column goes first, a shortenable one is cut with a mark, a
    figure stays whole; wide again: everything is back and whole. Breaking it shows cut ids that
    look complete (the issue's ``ag_aa1969db0c9``) or figures that lose digits."""
    app = WideApp()
    async with app.run_test(size=(30, 8)) as pilot:
        table = app.query_one(KeyedTable)
        table.apply({str(n): wide_row(n) for n in range(3)})
        await pilot.pause()
        assert table.hidden == ("Label", "Note")
        lines = drawn(table)
        assert "ag_aa1969db0c01" in lines[2] and "$1,000.00" in lines[2]
        assert all(len(line) <= 30 for line in lines)
        assert table.virtual_size.width <= table.size.width  # no sideways scrolling

        await pilot.resize_terminal(120, 8)
        await pilot.pause()
        assert table.hidden == ()
        assert "a rather long label number 1" in drawn(table)[2]
        assert "ag_aa1969db0c01" in drawn(table)[2]

        await pilot.resize_terminal(26, 8)
        await pilot.pause()
        cell = table.get_row("1")[0]
        assert cell.plain.startswith("ag_aa1") and cell.plain.endswith("c01") and "…" in cell.plain


async def test_a_wider_label_takes_spare_width_and_a_cut_always_shows() -> None:
    """Every drawn cell is either the whole text or carries the ellipsis."""
    app = WideApp()
    async with app.run_test(size=(60, 8)) as pilot:
        table = app.query_one(KeyedTable)
        table.apply({str(n): wide_row(n) for n in range(3)})
        await pilot.pause()
        for key in ("0", "1", "2"):
            full = table._rows[key].cells
            for shown, whole in zip(table.get_row(key), (full[0], full[2]), strict=False):
                assert shown.plain == whole.plain or shown.plain.endswith("…") or "…" in shown.plain


async def test_a_cell_shared_by_many_rows_is_cut_to_each_width_it_meets() -> None:
    """Rows share cell objects (every stale agent's status in an outage) and a shared cell is
    cut once per width: after a resize each row shows the cut of the new width, never the
    cached cut of the old one, and the same cell in every row."""
    shared = Text("stale: casino: no update for 6.1s")

    def shared_row(n: int) -> Row:
        ident = f"ag_aa1969db0c{n:02d}"
        cells = (Text(ident), shared, Text(f"${n},000.00", justify="right"), Text("memo"))
        return Row(cells, (ident, shared.plain, D(n), "memo"), ident)

    def labels(table: KeyedTable) -> list[str]:
        return [table.get_row(str(n))[1].plain for n in range(4)]

    app = WideApp()
    async with app.run_test(size=(52, 8)) as pilot:
        table = app.query_one(KeyedTable)
        table.apply({str(n): shared_row(n) for n in range(4)})
        await pilot.pause()
        narrow = table.widths[1]
        assert narrow is not None and narrow < shared.cell_len
        cut = labels(table)
        assert len(set(cut)) == 1 and cut[0].endswith("…") and len(cut[0]) == narrow

        await pilot.resize_terminal(120, 8)
        await pilot.pause()
        assert labels(table) == [shared.plain] * 4

        await pilot.resize_terminal(48, 8)
        await pilot.pause()
        narrower = table.widths[1]
        assert narrower is not None and narrower < narrow
        assert labels(table) == [shared.plain[: narrower - 1] + "…"] * 4


async def test_each_resize_leaves_every_row_its_cell_fitted_to_the_new_width() -> None:
    """A resized column recuts only the cells it must (a cell drawn whole that still fits is
    left as drawn: 5,000 rows made that a 31 ms frame), and after every resize, wider or
    narrower, each row shows its own cell fitted to the column's new width: a short label
    whole, a long one cut with the mark, never the cut of an earlier width."""
    labels = ["ok", "stale: casino", "stale: casino: no update", "stale: trading: 502 upstream"]

    def label_row(n: int) -> Row:
        ident = f"ag_aa1969db0c{n:02d}"
        cells = (Text(ident), Text(labels[n]), Text(f"${n},000.00", justify="right"), Text("m"))
        return Row(cells, (ident, labels[n], D(n), "m"), ident)

    app = WideApp()
    async with app.run_test(size=(52, 8)) as pilot:
        table = app.query_one(KeyedTable)
        table.apply({str(n): label_row(n) for n in range(len(labels))})
        await pilot.pause()
        seen: set[int] = set()
        for columns in (52, 120, 47, 58, 45, 120, 50):
            await pilot.resize_terminal(columns, 8)
            await pilot.pause()
            width = table.widths[1]
            assert width is not None
            seen.add(width)
            for n, label in enumerate(labels):
                want = label if len(label) <= width else fit_cell(Text(label), width, Cut.END).plain
                assert table.get_row(str(n))[1].plain == want, (columns, width, n)
        # Wider and narrower both happened, with cells whole at one width and cut at another.
        assert len(seen) >= 4 and min(seen) < len(labels[2]) < max(seen)


class LiveApp(App[None]):
    def compose(self) -> ComposeResult:
        yield KeyedTable(
            (Column("name", "Name"), Column("age", "Age", numeric=True)),
            sort_column="name",
            live_column="age",
        )


async def test_live_cells_are_drawn_only_on_screen_and_on_scroll() -> None:
    """A 200-row table asks only the rows on screen for their age, and the rows a scroll brings
    in show the age now, not the one from when they were built. Breaking it either costs every
    row every tick (the 5,000-agent budget) or shows stale ages after a scroll."""
    asked: list[str] = []

    def live(key: str) -> Callable[[float], Text]:
        def age(now: float) -> Text:
            asked.append(key)
            return Text(f"{int(now)}s", justify="right")

        return age

    app = LiveApp()
    async with app.run_test(size=(30, 12)) as pilot:
        table = app.query_one(KeyedTable)
        rows = {
            f"{n:03d}": Row((Text(f"{n:03d}"), Text("0s")), (f"{n:03d}", n), "", live(f"{n:03d}"))
            for n in range(200)
        }
        table.apply(rows, now=5)
        await pilot.pause()
        assert 0 < len(set(asked)) <= 12 and "199" not in asked
        assert "5s" in drawn(table)[1]
        asked.clear()
        table.apply(rows, now=7)
        assert 0 < len(set(asked)) <= 12
        table.scroll_end(animate=False)
        await pilot.pause()
        assert "199" in asked
        bottom = table.get_row("199")
        assert bottom[1].plain == "7s"


async def test_a_tick_naming_its_changed_keys_draws_them_sorted_and_filtered() -> None:
    """``apply(changed=...)`` looks only at the named keys: a changed figure is drawn and
    re-sorted, a row the filter no longer matches goes and one it matches again comes back,
    and the rows' drawn order (cached until rows move) follows each time."""
    app = TableApp()
    async with app.run_test(size=(60, 10)) as pilot:
        table = app.query_one(KeyedTable)
        rows = {"a": row("alpha", "$3.00"), "b": row("beta", "$1.00"), "c": row("gamma", "$2.00")}
        table.apply(rows)
        await pilot.pause()
        assert lines(table) == ["beta $1.00", "gamma $2.00", "alpha $3.00"]
        rows = {**rows, "b": row("beta", "$9.00")}
        table.apply(rows, changed=["b"])
        await pilot.pause()
        assert lines(table) == ["gamma $2.00", "alpha $3.00", "beta $9.00"]
        assert [r.key.value for r in table.ordered_rows] == ["c", "a", "b"]
        table.set_filter("a")  # alpha, beta and gamma all match
        rows = {**rows, "a": row("zed", "$3.00")}
        table.apply(rows, changed=["a"])
        await pilot.pause()
        assert lines(table) == ["gamma $2.00", "beta $9.00"]
        rows = {**rows, "a": row("alpha", "$0.50")}
        table.apply(rows, changed=["a"])
        await pilot.pause()
        assert lines(table) == ["alpha $0.50", "gamma $2.00", "beta $9.00"]
        assert table.row_count_all == 3


class ByNameApp(App[None]):
    def compose(self) -> ComposeResult:
        yield KeyedTable(COLUMNS, sort_column="name")


async def test_a_figure_changed_in_place_redraws_its_own_line_alone() -> None:
    """A tick that changes a few rows on screen, none of them moving, draws those lines again
    and no other: drawing every line on screen each tick was most of a 1,000-agent frame
    (docs/performance.md). The line drawn holds the new figure; a change that moves rows still
    draws them all."""
    app = ByNameApp()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(KeyedTable)
        rows = {f"r{n}": row(f"agent{n}", f"${n}.00") for n in range(8)}
        table.apply(rows)
        await pilot.pause()
        drawn: dict[int, str] = {}
        render_line = table.render_line

        def spy(y: int) -> Strip:
            strip = render_line(y)
            drawn[y] = strip.text
            return strip

        table.render_line = spy  # type: ignore[method-assign]
        # the same width: no column moves
        table.apply({**rows, "r3": row("agent3", "$9.99")}, changed=["r3"])
        await pilot.pause()
        line = 1 + table.get_row_index("r3")  # under the header
        assert list(drawn) == [line] and "$9.99" in drawn[line]
        drawn.clear()
        table.apply({**rows, "r3": row("zulu", "$9.99")}, changed=["r3"])  # moves to the end
        await pilot.pause()
        assert len(drawn) >= 8 and "zulu" in drawn[1 + table.get_row_index("r3")]
