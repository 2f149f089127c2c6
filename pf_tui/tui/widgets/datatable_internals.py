"""The one place pf-tui reaches into Textual's DataTable: written for textual 8.2.8 only.

# HACK: :class:`~pf_tui.tui.widgets.keyed_table.KeyedTable` must draw a 1,000-agent tick inside a
# frame (``benchmarks/tui_frames.py``, goal p99 <= 33 ms). DataTable's public API costs too much
# there: ``update_cell`` refreshes the widget once per cell (the age column alone changes hundreds
# of cells a tick), and ``sort`` hands cell values to its key, so ordering rows by the views' own
# sort values would mean wrapping a copy of every changed cell in a carrier of its value, each
# tick. So the table's private state is written directly, and here only:

- ``_data`` (row key -> column key -> cell): the cells drawn; :func:`row_cells` returns a row's.
- ``_updated_cells`` and ``_require_update_dimensions``: what ``update_cell(update_width=True)``
  sets so the next layout measures a cell again (:func:`remeasure`).
- ``_update_count``: part of the key of DataTable's line and offset caches; bumping it is how
  ``update_cell`` makes the next render read ``_data`` again (:func:`redraw`).
- ``_row_locations`` (row key <-> row index, a :class:`textual._two_way_dict.TwoWayDict`): the
  order rows are drawn in, which ``sort`` rebuilds (:func:`set_row_order`).

An upgrade that renames or reshapes any of these does not raise: it shows a stale screen. So
``tests/tui/test_datatable_internals.py`` fails, naming this module, as soon as the installed
Textual is not :data:`TEXTUAL_VERSION`: read these internals again in the new version's
``textual/widgets/_data_table.py``, adapt the functions below, then move the version (and the pin
in ``pyproject.toml``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from textual._two_way_dict import TwoWayDict
from textual.widgets import DataTable
from textual.widgets.data_table import CellKey, ColumnKey, RowKey

TEXTUAL_VERSION = "8.2.8"
"""The Textual release whose DataTable internals this module was written against."""

CellT = TypeVar("CellT")


def row_cells(table: DataTable[CellT], row_key: RowKey) -> dict[ColumnKey, CellT]:
    """The live cells of one row: a value set here is drawn after :func:`redraw`."""
    return table._data[row_key]


def remeasure(table: DataTable[CellT], row_key: RowKey, column_key: ColumnKey) -> None:
    """Have the next layout measure this cell again (a wider figure widens its column)."""
    table._updated_cells.add(CellKey(row_key, column_key))
    table._require_update_dimensions = True


def redraw(table: DataTable[CellT]) -> None:
    """Drop the table's rendered lines, so cells written through :func:`row_cells` show: one
    refresh for any number of cells."""
    table._update_count += 1
    table.refresh()


def set_row_order(table: DataTable[CellT], order: Iterable[RowKey]) -> None:
    """Draw the rows in ``order`` (every row key of the table, once each), then redraw."""
    table._row_locations = TwoWayDict({row_key: index for index, row_key in enumerate(order)})
    redraw(table)
