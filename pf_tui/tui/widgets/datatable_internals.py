"""The one place pf-tui reaches into Textual's DataTable: written for textual 8.2.8 only.

# HACK: :class:`~pf_tui.tui.widgets.keyed_table.KeyedTable` must draw a tick of 5,000 agents inside
# a frame (``benchmarks/tui_frames.py``, goal p99 <= 33 ms from the tick to the screen), and
# change its columns when the terminal is resized without refilling thousands of rows.
# DataTable's public API costs too much there: ``update_cell`` refreshes the widget once per cell
# (the age column alone changes hundreds of cells a tick), ``sort`` hands cell values to its key,
# ``remove_column``/``add_column`` cannot put a column back in its place, and each redraw renders
# every visible cell again through Rich (about 50 ms for a 120x40 screen), although most cells are
# the very objects drawn a moment before. So the table's private state is read and written
# directly, and here only:

- ``_data`` (row key -> column key -> cell): the cells drawn; :func:`row_cells` returns a row's.
- ``_update_count``: part of the key of DataTable's line and offset caches; bumping it is how
  ``update_cell`` makes the next render read ``_data`` again (:func:`redraw`).
- ``_row_locations`` (row key <-> row index, a :class:`textual._two_way_dict.TwoWayDict`): the
  order rows are drawn in, which ``sort`` rebuilds (:func:`set_row_order`, :func:`row_key_at`).
- ``_column_locations``, ``columns``, ``_updated_cells``, ``_require_update_dimensions`` and
  ``_clear_caches``: what ``add_column``/``remove_column`` maintain (:func:`set_columns`,
  :func:`set_widths`).
- ``_render_cell`` (row index, column index, style, width, cursor, hover -> lines) and
  ``_render_line_in_row`` (row key, line, style, cursor, hover -> fixed and scrollable lines),
  their cache keys' parts ``_show_hover_cursor``, ``_pseudo_class_state``, ``_labelled_row_exists``
  and ``_header_row_key``, and ``notify_style_update``: :class:`CellRenderCache` keeps each cell's
  and each row's rendering for as long as its cell objects are the same, so a redraw renders only
  what changed.
- ``rich_style``: DataTable's ``render_line`` reads it for every line; inside one
  ``render_lines`` it cannot change, so it is worked out once there.
- ``ordered_rows`` and ``_y_offsets`` (the rows in drawn order, and each screen line's row):
  DataTable caches them by ``_update_count`` too, so every redraw rebuilt both, a walk of every
  row (at 5,000 rows, most of a tick's own work). :class:`CellRenderCache` keys them by a count of
  the changes that can move or resize rows (:meth:`CellRenderCache.rows_moved`): writing a cell
  does not.

An upgrade that renames or reshapes any of these does not raise: it shows a stale screen. So
``tests/tui/test_datatable_internals.py`` fails, naming this module, as soon as the installed
Textual is not :data:`TEXTUAL_VERSION`: read these internals again in the new version's
``textual/widgets/_data_table.py``, adapt the code below, then move the version (and the pin
in ``pyproject.toml``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Self, TypeVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual._two_way_dict import TwoWayDict
from textual.coordinate import Coordinate
from textual.css.styles import RenderStyles
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import Column, ColumnKey, CursorType, RowKey
from textual.widgets.data_table import Row as DataRow

TEXTUAL_VERSION = "8.2.8"
"""The Textual release whose DataTable internals this module was written against."""

CellT = TypeVar("CellT")
SegmentLines = list[list[Segment]]
RowLines = tuple[SegmentLines, SegmentLines]
CELL_CACHE_SIZE = 4096
"""Rendered cells kept by :class:`CellRenderCache`: a screen holds a few hundred, each in a
few styles (cursor, hover, stripes)."""


def row_cells(table: DataTable[CellT], row_key: RowKey) -> dict[ColumnKey, CellT]:
    """The live cells of one row: a value set here is drawn after :func:`redraw`."""
    return table._data[row_key]


def row_key_at(table: DataTable[CellT], index: int) -> RowKey | None:
    """The key of the row drawn at ``index`` (``None`` past the end)."""
    return table._row_locations.get_key(index)


def redraw(table: DataTable[CellT]) -> None:
    """Drop the table's rendered lines, so cells written through :func:`row_cells` show: one
    refresh for any number of cells."""
    table._update_count += 1
    table.refresh()


def redraw_rows(table: DataTable[CellT], row_keys: Iterable[RowKey]) -> None:
    """Redraw the lines of these rows alone, so cells written through :func:`row_cells` show.

    :func:`redraw` repaints every line on screen; a tick that changed a few rows (or the ages of
    some) repaints only theirs. Every row is one line high, as :func:`append_rows` adds them.
    Rows off screen are skipped: they are drawn when scrolled to.
    """
    table._update_count += 1  # the changed lines' cached strips are stale
    top = int(table.scroll_y)
    bottom = top + table.size.height
    header = table.header_height if table.show_header else 0
    width = table.virtual_size.width
    locations = table._row_locations
    for row_key in row_keys:
        index = locations.get(row_key)
        if index is not None and top <= index < bottom:
            table._refresh_region(Region(0, index + header, width, 1))


def set_row_order(table: DataTable[CellT], order: Iterable[RowKey]) -> None:
    """Draw the rows in ``order`` (every row key of the table, once each), then redraw."""
    table._row_locations = TwoWayDict({row_key: index for index, row_key in enumerate(order)})
    _rows_moved(table)
    redraw(table)


def _rows_moved(table: DataTable[CellT]) -> None:
    if isinstance(table, CellRenderCache):
        table.rows_moved()


def set_columns(
    table: DataTable[CellT],
    columns: Sequence[tuple[ColumnKey, Text, int]],
    rows: Mapping[RowKey, dict[ColumnKey, CellT]],
) -> None:
    """Replace the table's columns (key, header, width; in the order drawn) and every row's
    cells (one dict per row key, keyed by those columns), keeping the rows and their order."""
    table.columns.clear()
    for key, label, width in columns:
        table.columns[key] = Column(key, label, width, content_width=width, auto_width=False)
    table._column_locations = TwoWayDict({key: index for index, (key, _, _) in enumerate(columns)})
    for row_key in table.rows:
        table._data[row_key] = rows[row_key]
    table._updated_cells.clear()
    table._clear_caches()
    if isinstance(table, CellRenderCache):
        table.columns_changed()
    table._require_update_dimensions = True
    table.cursor_coordinate = table.cursor_coordinate  # clamped to the new columns
    table._update_count += 1
    table.refresh(layout=True)


def set_widths(table: DataTable[CellT], widths: Mapping[ColumnKey, int]) -> None:
    """Draw each column at exactly its width (cells wider than that are cropped by the table:
    shorten them first)."""
    for key, width in widths.items():
        column = table.columns[key]
        column.width = column.content_width = width
        column.auto_width = False
    if isinstance(table, CellRenderCache):
        table.columns_changed()
    table._require_update_dimensions = True
    table._update_count += 1
    table.refresh(layout=True)


class _DrawnComponent:
    """A component's styles during one drawing pass, its Rich style worked out once."""

    __slots__ = ("_styles", "rich_style")

    def __init__(self, styles: RenderStyles) -> None:
        self._styles = styles
        self.rich_style: Style = styles.rich_style

    def __getattr__(self, name: str) -> Any:
        return getattr(self._styles, name)


class CellRenderCache(DataTable[CellT]):
    """A DataTable that renders a cell, or a row, again only when its cell objects changed.

    DataTable keys its own cell and row caches by ``_update_count``, which every write bumps,
    so each redraw renders every visible cell through Rich again, and looks up each row's
    styles again. Here a rendering is kept per place and look (row and column index, style,
    width, cursor, hover, focus) together with the cell objects it was made from, and reused
    while those same objects are still there. Writers never change a cell in place (they put a
    new object), so identity is enough.
    """

    def __init__(
        self,
        *,
        id: str | None = None,
        classes: str | None = None,
        cursor_type: CursorType = "row",
        zebra_stripes: bool = True,
    ) -> None:
        self._style_memo: Style | None = None
        self._component_memo: dict[tuple[str, ...], _DrawnComponent] | None = None
        self._rows_version = 0
        """Bumped when rows may have moved, come, gone or changed height (set before DataTable's
        constructor, which already clears its caches)."""
        self._ordered: tuple[tuple[int, int], list[DataRow]] | None = None
        self._offsets: tuple[tuple[int, int], list[tuple[RowKey, int]]] | None = None
        super().__init__(
            id=id, classes=classes, cursor_type=cursor_type, zebra_stripes=zebra_stripes
        )
        self._rendered: dict[tuple[object, ...], tuple[object, SegmentLines]] = {}
        self._rows_rendered: dict[tuple[object, ...], tuple[tuple[object, ...], RowLines]] = {}
        self._columns_version = 0
        """Bumped when columns or widths change: part of every cached row's key."""

    def render_lines(self, crop: Region) -> list[Strip]:
        """DataTable's, with the widget's own style and its components' worked out once for
        all the lines."""
        self._style_memo = DataTable.rich_style.fget(self)  # type: ignore[attr-defined]
        self._component_memo = {}
        try:
            return super().render_lines(crop)
        finally:
            self._style_memo = None
            self._component_memo = None

    def get_component_styles(self, *names: str) -> RenderStyles:
        """Inside :meth:`render_lines`, each component's styles once per pass.

        DataTable asks for the header's and the row's component styles on every line it draws,
        and each ask merges new styles and walks every ancestor for the style: two of those per
        line were a fifth of drawing a line. Nothing restyles the table while it draws.
        """
        memo = self._component_memo
        if memo is None:
            return super().get_component_styles(*names)
        hit = memo.get(names)
        if hit is None:
            hit = memo[names] = _DrawnComponent(super().get_component_styles(*names))
        return hit  # type: ignore[return-value]

    @property
    def rich_style(self) -> Style:
        """The widget's style; inside :meth:`render_lines`, the one worked out there.

        DataTable's ``render_line`` asks for it once per line, and each time Textual walks
        every ancestor's styles: at 40 lines a frame, a good part of drawing the table.
        """
        memo = self._style_memo
        return memo if memo is not None else super().rich_style

    def rows_moved(self) -> None:
        """Rows were added, removed, reordered or resized: the row order is read again."""
        self._rows_version += 1

    @property
    def ordered_rows(self) -> list[DataRow]:
        """The rows in drawn order, rebuilt only after :meth:`rows_moved`, not per redraw."""
        key = (self._rows_version, len(self.rows))
        if self._ordered is None or self._ordered[0] != key:
            self._ordered = (key, super().ordered_rows)
        return self._ordered[1]

    @property
    def _y_offsets(self) -> list[tuple[RowKey, int]]:
        key = (self._rows_version, len(self.rows))
        if self._offsets is None or self._offsets[0] != key:
            self._offsets = (key, super()._y_offsets)
        return self._offsets[1]

    # DataTable's own ways of moving rows (the keyed table uses the functions of this module,
    # which say so themselves); _clear_caches runs on most of them, and on every column change.
    def _clear_caches(self) -> None:
        self.rows_moved()
        super()._clear_caches()

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        self.rows_moved()  # auto-height rows get their heights here
        super()._update_dimensions(new_rows)

    def add_row(self, *args: Any, **kwargs: Any) -> RowKey:
        self.rows_moved()
        return super().add_row(*args, **kwargs)

    def remove_row(self, row_key: RowKey | str) -> None:
        self.rows_moved()
        super().remove_row(row_key)

    def sort(self, *args: Any, **kwargs: Any) -> Self:
        self.rows_moved()
        return super().sort(*args, **kwargs)

    def clear(self, columns: bool = False) -> Self:
        self.rows_moved()
        return super().clear(columns)

    def columns_changed(self) -> None:
        """The columns or their widths changed: rows rendered before no longer fit."""
        self._columns_version += 1
        self._rows_rendered.clear()

    def _render_line_in_row(
        self,
        row_key: RowKey,
        line_no: int,
        base_style: Style,
        cursor_location: Coordinate,
        hover_location: Coordinate,
    ) -> RowLines:
        row_index = self._row_locations.get(row_key)
        if (
            row_index is None
            or self.cursor_type != "row"
            or self.fixed_columns
            or (self._labelled_row_exists and self.show_row_labels)
        ):
            return super()._render_line_in_row(
                row_key, line_no, base_style, cursor_location, hover_location
            )
        # A row cursor highlights whole rows: a row's line depends on whether the cursor (or
        # the mouse) is on it, not on where else it is.
        key = (
            row_key,
            line_no,
            row_index,
            base_style,
            cursor_location.row == row_index,
            hover_location.row == row_index,
            self.show_cursor,
            self._show_hover_cursor,
            self._pseudo_class_state,
            self._columns_version,
            self.size.width,
        )
        cells = tuple(self._data[row_key].values())
        hit = self._rows_rendered.get(key)
        if hit is not None and all(a is b for a, b in zip(hit[0], cells, strict=True)):
            return hit[1]
        lines = super()._render_line_in_row(
            row_key, line_no, base_style, cursor_location, hover_location
        )
        if len(self._rows_rendered) >= CELL_CACHE_SIZE:
            self._rows_rendered.clear()
        self._rows_rendered[key] = (cells, lines)
        return lines

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> SegmentLines:
        if row_index < 0 or column_index < 0:  # the header and row labels: rarely redrawn
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        if row_key is None or column_key is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        cell = self._data[row_key][column_key]
        key = (
            row_index,
            column_index,
            base_style,
            width,
            cursor,
            hover,
            self._show_hover_cursor,
            self.show_cursor,
            self._pseudo_class_state,
        )
        hit = self._rendered.get(key)
        if hit is not None and hit[0] is cell:
            return hit[1]
        lines = super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        if len(self._rendered) >= CELL_CACHE_SIZE:
            self._rendered.clear()
        self._rendered[key] = (cell, lines)
        return lines

    def notify_style_update(self) -> None:
        """A theme or CSS change restyles every cell: forget every rendering."""
        self._rendered.clear()
        self._rows_rendered.clear()
        super().notify_style_update()


def append_rows(
    table: DataTable[CellT], rows: Iterable[tuple[str, dict[ColumnKey, CellT]]]
) -> dict[str, RowKey]:
    """Add rows (key, cells by column) at the bottom in one go; returns their row keys.

    What ``add_row`` does for each, without measuring every new cell (the keyed table sets
    every column's width itself) and without validating the cursor once per row.
    """
    added: dict[str, RowKey] = {}
    locations = table._row_locations
    index = len(table.rows)
    for key, cells in rows:
        row_key = RowKey(key)
        locations[row_key] = index
        table._data[row_key] = cells
        table.rows[row_key] = DataRow(row_key, 1)
        added[key] = row_key
        index += 1
    if added:
        _rows_moved(table)
        first = len(table.rows) == len(added)
        table._require_update_dimensions = True
        table.cursor_coordinate = table.cursor_coordinate
        if first and table.columns and table.show_cursor and table.cursor_type != "none":
            table._highlight_cursor()  # as add_row does for the first row
        table._update_count += 1
        table.check_idle()
    return added


def remove_rows(table: DataTable[CellT], row_keys: Iterable[RowKey]) -> None:
    """Remove rows in one go (``remove_row`` renumbers every row once per row removed)."""
    gone = set(row_keys)
    if not gone:
        return
    count = len(table.rows)
    for row_key in gone:
        del table.rows[row_key]
        del table._data[row_key]
    old = table._row_locations
    order = [old.get_key(index) for index in range(count)]
    kept = [row_key for row_key in order if row_key is not None and row_key not in gone]
    table._row_locations = TwoWayDict({row_key: index for index, row_key in enumerate(kept)})
    _rows_moved(table)
    table._updated_cells = {cell for cell in table._updated_cells if cell.row_key not in gone}
    table._require_update_dimensions = True
    table.cursor_coordinate = table.cursor_coordinate
    table.hover_coordinate = table.hover_coordinate
    table._update_count += 1
    table.refresh(layout=True)
