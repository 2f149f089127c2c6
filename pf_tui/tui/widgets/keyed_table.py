"""A DataTable that is diffed by row key on every tick, never cleared and refilled, and that fits
its columns to the terminal.

The dolphie pattern (docs/conventions.md, convention 5): inside one ``batch_update`` remove the keys
that went away, write only the cells whose text or style changed, add the new rows, then sort once,
and only when needed. The cursor stays on the same row (by key) and the chosen sort survives every
poll. Filtering (``/``) hides rows by removing them from the table while their data is kept.

The columns follow the width on screen (:mod:`pf_tui.tui.widgets.columns`): each declares its
priority and whether it may be shortened; on every resize, and whenever a cell grows wider than
its column, the table drops the least important columns that do not fit and shortens the cells of
the others with a visible ``…``. The rows keep their whole cells; what is drawn is cut from them.

One column may be *live* (the Fleet tab's age): its text depends on the time, so instead of
rebuilding thousands of rows a second, each row carries a function that draws that cell at a
given time, called only for the rows on screen (after each tick, a scroll or a resize).

Changed cells, the columns and the row order are written into the DataTable's own state, with one
refresh for all of them: the only way a 5,000-agent tick fits a frame. Those writes go through
:mod:`pf_tui.tui.widgets.datatable_internals`, the one module that knows DataTable's privates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import ClassVar

from rich.cells import cell_len
from rich.text import Span, Text
from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowDoesNotExist, RowKey

from pf_tui.tui.widgets import datatable_internals as internals
from pf_tui.tui.widgets.columns import (
    ELLIPSIS,
    ELLIPSIS_ASCII,
    Column,
    Cut,
    fit_cell,
    fit_widths,
    natural_width,
)
from pf_tui.tui.widgets.glyphs import unicode_ok

SortValue = str | int | float | Decimal | None
"""What a column sorts by (one type per column; ``None`` sorts last)."""


@dataclass(frozen=True, slots=True)
class Row:
    """One row's cells (in column order), sort values (same order) and filter text."""

    cells: tuple[Text, ...]
    sort: tuple[SortValue, ...]
    search: str
    """Lower-case plain text the filter matches against."""
    live: Callable[[float], Text] | None = None
    """Draws the table's live column at a time (the age): called only while the row is on
    screen. ``cells`` holds that column as it was when the row was built."""


FIT_CACHE = 8192
"""Cut cells kept (:meth:`KeyedTable._fit`); past this many the cache starts again."""


def _signature(cell: Text) -> tuple[str, str, tuple[Span, ...]]:
    # Text.__eq__ ignores the base style, so a colour change alone would be missed.
    return (cell.plain, str(cell.style), tuple(cell.spans))


class KeyedTable(internals.CellRenderCache[Text]):
    """A row-cursor DataTable fed whole keyed snapshots through :meth:`apply`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "cycle_sort", "Sort", id="table.sort", tooltip="Sort by the next column"),
        Binding(
            "S",
            "reverse_sort",
            "Reverse",
            id="table.reverse",
            tooltip="Reverse the sort order",
            show=False,
        ),
    ]

    class ColumnsChanged(Message):
        """The columns shown changed (a resize, a wider figure): titles may say what is hidden."""

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        sort_column: str | None = None,
        reverse: bool = False,
        live_column: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self.spec = tuple(columns)
        self._index = {column.key: i for i, column in enumerate(self.spec)}
        self.sort_column = sort_column or self.spec[0].key
        self.reverse = reverse
        self.filter_text = ""
        self.ellipsis = ELLIPSIS if unicode_ok() else ELLIPSIS_ASCII
        """The mark of a shortened cell."""
        self._live = self._index[live_column] if live_column is not None else None
        self.now = 0.0
        """The time live cells are drawn at (the last :meth:`apply`)."""
        self._rows: dict[str, Row] = {}
        self._shown: dict[str, tuple[Text, ...]] = {}
        """The whole cells last sent to the table, per shown key (what is drawn is cut from
        them)."""
        self._row_keys: dict[str, RowKey] = {}
        self._needs_sort = True
        self._cell_widths: tuple[Counter[int], ...] = tuple(Counter() for _ in self.spec)
        """Per column, how many shown rows have a cell of each width: the widest is the
        column's natural width, kept exact as cells change without measuring every row."""
        self._live_widest = 0
        self.widths: tuple[int | None, ...] = (None,) * len(self.spec)
        """Each column's width on screen (``None``: dropped at this width)."""
        self._slot: list[ColumnKey | None] = [None] * len(self.spec)
        """The DataTable column of each shown column."""
        self._layout_input: tuple[object, ...] | None = None
        self._fitted: dict[tuple[int, int], tuple[Text, int, Text]] = {}
        """Cells as cut to their column's width, by column and cell (see :meth:`_fit`)."""

    # -- columns ----------------------------------------------------------------------------

    @property
    def hidden(self) -> tuple[str, ...]:
        """Labels of the columns dropped at this width."""
        return tuple(c.label for c, w in zip(self.spec, self.widths, strict=True) if w is None)

    def _available(self) -> int | None:
        """Cells the columns may take, or ``None`` before the table has a size."""
        width = self.size.width
        if width <= 0:
            return None
        if len(self._shown) + self.header_height > self.size.height:
            # Rows overflow: the vertical scrollbar takes its share. Counted from the rows, not
            # from the scrollbar, which appears only after the next layout.
            width -= self.styles.scrollbar_size_vertical
        return width

    def _natural(self, index: int) -> int:
        column = self.spec[index]
        counts = self._cell_widths[index]
        widest = max(counts) if counts else 0
        if index == self._live:
            widest = max(widest, self._live_widest)
        header = cell_len(column.label) + (2 if column.key == self.sort_column else 0)
        return natural_width(column, widest, header)

    def _header(self, index: int, width: int) -> Text:
        column = self.spec[index]
        marker = ""
        if column.key == self.sort_column:
            marker = " v" if self.reverse else " ^"
        label = fit_cell(Text(column.label), max(1, width - len(marker)), Cut.END, self.ellipsis)
        label.append(marker)
        label.justify = "right" if column.numeric else "left"
        return label

    def _fit(self, cell: Text, index: int) -> Text:
        width = self.widths[index]
        assert width is not None
        cut = self.spec[index].cut
        if cut is Cut.NEVER:
            return cell
        # Rows share cells (every agent ``stale: casino: no update for 6.1s`` in an outage):
        # each is cut once per width, not once per row. The entry holds its cell, so the id
        # is never another object's while the entry lives.
        fitted = self._fitted
        hit = fitted.get((index, id(cell)))
        if hit is not None and hit[0] is cell and hit[1] == width:
            return hit[2]
        out = fit_cell(cell, width, cut, self.ellipsis)
        if len(fitted) >= FIT_CACHE:
            fitted.clear()
        fitted[index, id(cell)] = (cell, width, out)
        return out

    def _drawn(self, cells: tuple[Text, ...]) -> dict[ColumnKey, Text]:
        """A row's cells as drawn: the shown columns only, each cut to its width."""
        return {
            slot: self._fit(cell, i)
            for i, (slot, cell) in enumerate(zip(self._slot, cells, strict=True))
            if slot is not None
        }

    def _relayout(self, *, force: bool = False) -> bool:
        """Fit the columns to the width on screen; True when anything drawn changed."""
        available = self._available()
        naturals = tuple(self._natural(i) for i in range(len(self.spec)))
        layout_input = (available, naturals, self.sort_column, self.reverse)
        if not force and layout_input == self._layout_input:
            return False
        self._layout_input = layout_input
        widths = fit_widths(
            self.spec,
            naturals,
            available if available is not None else sum(naturals) + 2 * len(naturals) * 4,
            padding=2 * self.cell_padding,
            keep=(self._index[self.sort_column],),
        )
        old = self.widths
        self.widths = widths
        shown = tuple(i for i, w in enumerate(widths) if w is not None)
        if force or shown != tuple(i for i, w in enumerate(old) if w is not None):
            slots: dict[int, ColumnKey] = {i: ColumnKey(self.spec[i].key) for i in shown}
            self._slot = [slots.get(i) for i in range(len(self.spec))]
            internals.set_columns(
                self,
                [(slots[i], self._header(i, widths[i] or 1), widths[i] or 1) for i in shown],
                {row_key: self._drawn(self._shown[key]) for key, row_key in self._row_keys.items()},
            )
            self._refresh_live()
            self.post_message(self.ColumnsChanged())
            return True
        resized = {i: key for i in shown if widths[i] != old[i] and (key := self._slot[i])}
        if not resized:
            return False
        shown_cells = self._shown
        for i, key in resized.items():
            self.columns[key].label = self._header(i, widths[i] or 1)
            if self.spec[i].cut is Cut.NEVER:
                continue
            width, wider = widths[i] or 1, (old[i] or 0) <= (widths[i] or 0)
            for row_key, rk in self._row_keys.items():
                drawn = internals.row_cells(self, rk)
                cell = shown_cells[row_key][i]
                # A cell drawn whole still fits a wider column, and a narrower one it fits: at
                # 5,000 rows recutting every cell of a resized column took 31 ms of one frame.
                if drawn[key] is cell and (wider or cell.cell_len <= width):
                    continue
                drawn[key] = self._fit(cell, i)
        internals.set_widths(self, {key: widths[i] or 1 for i, key in resized.items()})
        self._refresh_live()
        return True

    def relabel(self, labels: Mapping[str, str]) -> None:
        """Give columns (by key) new header labels, e.g. a tab switching what its rows are; the
        headers are drawn again (widths follow the new labels)."""
        spec = tuple(replace(c, label=labels[c.key]) if c.key in labels else c for c in self.spec)
        if spec == self.spec:
            return
        self.spec = spec
        if self.is_mounted:
            self._relayout(force=True)

    def on_mount(self) -> None:
        """The headers, before any row arrives."""
        self._relayout(force=True)

    def on_resize(self, _event: events.Resize) -> None:
        """A new size: fit the columns again (and draw the ages of rows now on screen)."""
        self._relayout()
        if self._refresh_live():
            internals.redraw(self)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Rows scrolled into view show their age now, not when they were last on screen."""
        super().watch_scroll_y(old_value, new_value)
        if self._refresh_live():
            internals.redraw(self)

    # -- data -------------------------------------------------------------------------------

    @property
    def row_count_all(self) -> int:
        """Rows held, filtered out or not."""
        return len(self._rows)

    def apply(
        self,
        rows: Mapping[str, Row],
        now: float | None = None,
        *,
        changed: Collection[str] | None = None,
    ) -> None:
        """Make the table show ``rows`` (all of them, keyed), touching only what changed;
        ``now`` is the time live cells are drawn at.

        ``changed``, when the caller knows it: the keys whose rows may differ from the last
        call's, every other key's row being the same object as then (and no key come or gone).
        Only those are looked at: at 5,000 rows and a few dozen changed, walking every row was
        a good part of a tick.
        """
        if now is not None:
            self.now = now
        if changed is not None and (len(rows) != len(self._rows) or not self._rows):
            changed = None
        self._rows = dict(rows)
        self._sync(changed)

    def _matches(self, row: Row) -> bool:
        return not self.filter_text or self.filter_text in row.search

    def _count(self, cells: tuple[Text, ...], step: int) -> None:
        for counts, cell in zip(self._cell_widths, cells, strict=True):
            width = cell.cell_len
            counts[width] += step
            if not counts[width]:
                del counts[width]

    def _sync(self, keys: Collection[str] | None = None) -> None:
        """Show :attr:`_rows`; ``keys``: only these may have changed (see :meth:`apply`)."""
        keep_key = self.cursor_key
        rows = self._rows
        filter_text = self.filter_text
        candidates: Iterable[tuple[str, Row]]
        wanted: Mapping[str, Row] = rows
        if keys is None:
            if filter_text:
                wanted = {k: r for k, r in rows.items() if filter_text in r.search}
            candidates = wanted.items()
        else:
            candidates = [(k, rows[k]) for k in keys if filter_text in rows[k].search]
        sort_index = self._index[self.sort_column]
        slots = self._slot
        cut = [column.cut is not Cut.NEVER for column in self.spec]
        row_keys = self._row_keys
        shown = self._shown
        cell_widths = self._cell_widths
        dirty: list[RowKey] = []
        """Rows whose drawn cells changed, in place: their lines alone are drawn again."""
        with self.app.batch_update():
            if keys is None:
                gone = [k for k in shown if k not in wanted]
            else:  # a changed row that no longer matches the filter
                gone = [k for k in keys if k in shown and filter_text not in rows[k].search]
            if gone:
                for key in gone:
                    self._count(shown.pop(key), -1)
                internals.remove_rows(self, [row_keys.pop(key) for key in gone])
            added: list[tuple[str, Row]] = []
            for key, row in candidates:
                previous = shown.get(key)
                if previous is None:
                    added.append((key, row))
                    continue
                if previous is row.cells:
                    continue
                row_key = row_keys[key]
                cells = internals.row_cells(self, row_key)
                row_dirty = False
                for i, (old, new) in enumerate(zip(previous, row.cells, strict=True)):
                    # Views reuse cell objects for unchanged figures: identity is the fast path.
                    if old is new:
                        continue
                    old_width, new_width = old.cell_len, new.cell_len
                    if old_width != new_width:
                        counts = cell_widths[i]
                        counts[old_width] -= 1
                        if not counts[old_width]:
                            del counts[old_width]
                        counts[new_width] += 1
                    slot = slots[i]
                    if slot is not None and _signature(old) != _signature(new):
                        # What update_cell does, without its per-cell refresh: at 1,000 rows the
                        # cells of a tick are written with one refresh for all of them.
                        cells[slot] = self._fit(new, i) if cut[i] else new
                        row_dirty = True
                        if i == sort_index:
                            self._needs_sort = True
                if row_dirty:
                    dirty.append(row_key)
                shown[key] = row.cells
            for key, row in added:
                shown[key] = row.cells
                self._count(row.cells, 1)
            # Widths first (a new row may widen a column), then the new rows' cells, cut to them.
            self._relayout()
            if added:
                drawn = ((key, self._drawn(row.cells)) for key, row in added)
                row_keys.update(internals.append_rows(self, drawn))
                self._needs_sort = True
            dirty += self._refresh_live()
            if self._needs_sort:
                self._resort()  # rows move: every line is drawn again
            elif dirty:
                internals.redraw_rows(self, dirty)
            self._restore_cursor(keep_key)

    def _refresh_live(self) -> list[RowKey]:
        """Draw the live column of the rows on screen at :attr:`now`; the rows whose cell
        changed (not yet redrawn)."""
        index = self._live
        if index is None:
            return []
        slot = self._slot[index]
        if slot is None:
            return []
        top = max(0, int(self.scroll_y))
        bottom = min(self.row_count, top + max(0, self.size.height))
        rows = self._rows
        changed: list[RowKey] = []
        for position in range(top, bottom):
            row_key = internals.row_key_at(self, position)
            if row_key is None:
                continue
            row = rows.get(str(row_key.value))
            if row is None or row.live is None:
                continue
            cell = row.live(self.now)
            cells = internals.row_cells(self, row_key)
            old = cells[slot]
            if old is cell or _signature(old) == _signature(cell):
                continue
            if cell.cell_len > self._live_widest:
                self._live_widest = cell.cell_len
            cells[slot] = self._fit(cell, index)
            changed.append(row_key)
        if changed and self._live_widest > (self.widths[index] or 0):
            # An age grew a digit (9s -> 10s): widen the column rather than crop it.
            self._relayout()
        return changed

    def _resort(self) -> None:
        """Order the shown rows by the sort column's values (from :class:`Row`, not the cells).

        DataTable.sort hands cell values to the key; sorting our own keys by the views' sort
        tuples and setting the row order once is the same result without wrapping every cell in
        a carrier of its sort value (a copy of each changed cell, every tick).
        """
        index = self._index[self.sort_column]
        reverse = self.reverse
        missing = -1 if reverse else 1
        rows = self._rows

        def key(row_key: str) -> tuple[int, SortValue]:
            value = rows[row_key].sort[index]
            return (missing, 0) if value is None else (0, value)

        if self._shown:
            row_keys = self._row_keys
            internals.set_row_order(
                self, (row_keys[k] for k in sorted(self._shown, key=key, reverse=reverse))
            )
            self._refresh_live()
        self._needs_sort = False

    def shown_keys(self) -> frozenset[str]:
        """The keys of the rows shown (filter applied)."""
        return frozenset(self._shown)

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor, if any."""
        if not self.row_count:
            return None
        try:
            return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)
        except CellDoesNotExist:
            return None

    def _restore_cursor(self, key: str | None) -> None:
        if key is None or key not in self._shown:
            return
        try:
            index = self.get_row_index(key)
        except RowDoesNotExist:
            return
        if index != self.cursor_row:
            self.move_cursor(row=index, animate=False, scroll=False)

    # -- sort and filter ----------------------------------------------------------------------

    def set_sort(self, column: str, reverse: bool | None = None) -> None:
        """Sort by ``column`` (toggling direction when it is already the sort column)."""
        if column not in self._index:
            return
        if reverse is None:
            reverse = (
                (not self.reverse)
                if column == self.sort_column
                else self.spec[self._index[column]].numeric
            )
        old = self.sort_column
        self.sort_column, self.reverse = column, reverse
        keep = self.cursor_key
        with self.app.batch_update():
            if not self._relayout():
                # Same columns and widths: only the two headers' markers move.
                for name in {old, column}:
                    index = self._index[name]
                    slot, width = self._slot[index], self.widths[index]
                    if slot is not None and width is not None:
                        self.columns[slot].label = self._header(index, width)
            self._resort()
            self._restore_cursor(keep)
            self.refresh()

    def set_filter(self, text: str) -> None:
        """Show only rows whose text contains ``text`` (case-insensitive); empty shows all."""
        self.filter_text = text.strip().lower()
        self._sync()

    def action_cycle_sort(self) -> None:
        """Sort by the next column."""
        keys = [column.key for column in self.spec]
        self.set_sort(keys[(keys.index(self.sort_column) + 1) % len(keys)])

    def action_reverse_sort(self) -> None:
        """Reverse the current sort."""
        self.set_sort(self.sort_column, not self.reverse)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        """Clicking a header sorts by it (again: reverses)."""
        event.stop()
        self.set_sort(str(event.column_key.value))
