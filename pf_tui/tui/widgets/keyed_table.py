"""A DataTable that is diffed by row key on every tick, never cleared and refilled.

The dolphie pattern (docs/conventions.md, convention 5): inside one ``batch_update`` remove the keys
that went away, write only the cells whose text or style changed, add the new rows, then sort once,
and only when needed. The cursor stays on the same row (by key) and the chosen sort survives every
poll. Filtering (``/``) hides rows by removing them from the table while their data is kept.

Changed cells and the row order are written into the DataTable's own state, with one refresh for
all of them: the only way a 1,000-agent tick fits a frame. Those writes go through
:mod:`pf_tui.tui.widgets.datatable_internals`, the one module that knows DataTable's privates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from rich.text import Span, Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowDoesNotExist, RowKey

from pf_tui.tui.widgets import datatable_internals as internals

SortValue = str | int | float | Decimal | None
"""What a column sorts by (one type per column; ``None`` sorts last)."""


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its key, header, and whether figures align right."""

    key: str
    label: str
    numeric: bool = False
    width: int | None = None


@dataclass(frozen=True, slots=True)
class Row:
    """One row's cells (in column order), sort values (same order) and filter text."""

    cells: tuple[Text, ...]
    sort: tuple[SortValue, ...]
    search: str
    """Lower-case plain text the filter matches against."""


def _signature(cell: Text) -> tuple[str, str, tuple[Span, ...]]:
    # Text.__eq__ ignores the base style, so a colour change alone would be missed.
    return (cell.plain, str(cell.style), tuple(cell.spans))


class KeyedTable(DataTable[Text]):
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

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        sort_column: str | None = None,
        reverse: bool = False,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self.spec = tuple(columns)
        self._index = {column.key: i for i, column in enumerate(self.spec)}
        self.sort_column = sort_column or self.spec[0].key
        self.reverse = reverse
        self.filter_text = ""
        self._rows: dict[str, Row] = {}
        self._shown: dict[str, tuple[Text, ...]] = {}
        """The cells last sent to the table, per shown key."""
        self._needs_sort = True
        self._column_keys: tuple[ColumnKey, ...] = ()
        self._row_keys: dict[str, RowKey] = {}

    def on_mount(self) -> None:
        """Create the columns once."""
        self._column_keys = tuple(
            self.add_column(self._header(column), key=column.key, width=column.width)
            for column in self.spec
        )

    def _header(self, column: Column) -> Text:
        label = column.label
        if column.key == self.sort_column:
            label += " v" if self.reverse else " ^"
        return Text(label, justify="right" if column.numeric else "left")

    # -- data -------------------------------------------------------------------------------

    @property
    def row_count_all(self) -> int:
        """Rows held, filtered out or not."""
        return len(self._rows)

    def apply(self, rows: Mapping[str, Row]) -> None:
        """Make the table show ``rows`` (all of them, keyed), touching only what changed."""
        self._rows = dict(rows)
        self._sync()

    def _matches(self, row: Row) -> bool:
        return not self.filter_text or self.filter_text in row.search

    def _remove(self, key: str) -> None:
        self.remove_row(key)
        del self._shown[key]
        del self._row_keys[key]

    def _sync(self) -> None:
        keep_key = self.cursor_key
        wanted = {k: r for k, r in self._rows.items() if self._matches(r)}
        sort_index = self._index[self.sort_column]
        columns = self._column_keys
        row_keys = self._row_keys
        changed = False
        with self.app.batch_update():
            for key in [k for k in self._shown if k not in wanted]:
                self._remove(key)
            for key, row in wanted.items():
                previous = self._shown.get(key)
                if previous is None:
                    row_keys[key] = self.add_row(*row.cells, key=key)
                    self._needs_sort = True
                elif previous is not row.cells:
                    cells = internals.row_cells(self, row_keys[key])
                    for i, (old, new) in enumerate(zip(previous, row.cells, strict=True)):
                        # Views reuse cell objects for unchanged figures: identity is the fast path.
                        if old is not new and _signature(old) != _signature(new):
                            # What update_cell does, without its per-cell refresh: at 1,000 rows
                            # the age column alone changes hundreds of cells a tick, and one
                            # refresh for all of them is what makes a tick fit in a frame.
                            column_key = columns[i]
                            cells[column_key] = new
                            changed = True
                            column = self.columns[column_key]
                            if column.auto_width and new.cell_len > column.content_width:
                                # A figure grew wider than its column ($9.99 -> $12,345.67):
                                # have the table measure it again, or it is drawn cut off.
                                internals.remeasure(self, row_keys[key], column_key)
                            if i == sort_index:
                                self._needs_sort = True
                self._shown[key] = row.cells
            if changed:
                internals.redraw(self)
            if self._needs_sort:
                self._resort()
            self._restore_cursor(keep_key)

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
        self._needs_sort = False

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
        for name in {old, column}:
            index = self._index[name]
            self.columns[self._column_keys[index]].label = self._header(self.spec[index])
        keep = self.cursor_key
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
