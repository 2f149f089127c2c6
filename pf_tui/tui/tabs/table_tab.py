"""The shared shape of the four table tabs: a title line over a :class:`KeyedTable`."""

from __future__ import annotations

import abc
from collections.abc import Collection, Mapping, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from pf_tui.text import plural
from pf_tui.tui.sanitize import safe
from pf_tui.tui.tabs.frame import Frame
from pf_tui.tui.widgets.columns import Column
from pf_tui.tui.widgets.keyed_table import KeyedTable, Row


def hidden_hint(hidden: Sequence[str], room: int) -> str:
    """The end of a title line naming the columns a width leaves out, in ``room`` cells: every
    name if they fit, else as many as fit and how many more, else only how many."""
    full = f"  | not shown at this width: {', '.join(hidden)}"
    if len(full) <= room:
        return full
    for shown in range(len(hidden), 0, -1):
        more = len(hidden) - shown
        hint = f"  | hidden: {', '.join(hidden[:shown])}" + (f" +{more} more" if more else "")
        if len(hint) <= room:
            return hint
    counted = f"  | {plural(len(hidden), 'column')} hidden"
    return counted if len(counted) <= room else f"  | {len(hidden)} hidden"


class TableTab(Vertical):
    """A titled, keyed, sortable, filterable table; subclasses say which rows it shows.

    :meth:`rows` is abstract for the type checker (as in :class:`MoneyForm`); Textual's widget
    metaclass and ``ABCMeta`` do not combine, so it is not enforced at run time.
    """

    COLUMNS: tuple[Column, ...] = ()
    SORT: str | None = None
    REVERSE: bool = False
    LIVE: str | None = None
    """The column whose rows carry a :attr:`Row.live` cell (the age), if any."""
    NOUN = "rows"
    """What the rows are, plural; the title counts them (``1 row``, ``12 rows``)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="table-tab")
        self._title = Text("")
        self._frame: Frame | None = None
        self.table = KeyedTable(
            self.COLUMNS,
            sort_column=self.SORT,
            reverse=self.REVERSE,
            live_column=self.LIVE,
            id=f"{id}-table",
        )

    def compose(self) -> ComposeResult:
        """A title line and the table."""
        yield Static("", classes="tab-title")
        yield self.table

    def show(self, frame: Frame) -> None:
        """Feed this tick's rows to the table and retitle."""
        self._frame = frame
        rows = self.rows(frame)
        self.table.apply(rows, frame.now, changed=self.changed_keys())
        self.retitle(frame)

    def select_key(self, key: str) -> bool:
        """Put the cursor on the row ``key`` (clearing a filter that hides it); False when the
        table does not hold it."""
        table = self.table
        if key not in table.shown_keys() and table.filter_text:
            table.set_filter("")
            if self._frame is not None:
                self.retitle(self._frame)
        if key not in table.shown_keys():
            return False
        table.move_cursor(row=table.get_row_index(key), animate=False)
        return True

    def changed_keys(self) -> Collection[str] | None:
        """After :meth:`rows`: the keys whose rows may differ from the previous call's, every
        other row being the same object (``None``: not known, the table compares them all)."""
        return None

    def on_keyed_table_columns_changed(self, event: KeyedTable.ColumnsChanged) -> None:
        """The terminal was resized (or a figure grew): the title says which columns went."""
        event.stop()
        if self._frame is not None:
            self.retitle(self._frame)

    @abc.abstractmethod
    def rows(self, frame: Frame) -> Mapping[str, Row]:
        """This tick's rows, keyed (the whole set: the table diffs it against what it shows)."""

    def title_text(self, frame: Frame) -> Text:
        """``12 positions | of 40, filter: btc  agent: X  (Esc: whole fleet)``."""
        table = self.table
        parts = [plural(table.row_count, self.NOUN.removesuffix("s"))]
        if table.filter_text:
            parts.append(f"of {table.row_count_all}, filter: {table.filter_text!s}")
        text = safe(" | ".join(parts))
        if frame.selected is not None:
            agent = frame.view.agent(frame.selected)
            text.append("  agent: ")
            text.append_text(safe(agent.label if agent else frame.selected))
            text.append("  (Esc: whole fleet)")
        return text

    def retitle(self, frame: Frame) -> None:
        """Redraw the title line when its text or styles changed; it ends with the columns
        this width leaves out, and is cut with a visible ``…`` where the terminal ends."""
        text = self.title_text(frame)
        text.no_wrap, text.overflow = True, "ellipsis"
        title = self.query_one(".tab-title", Static)
        if self.table.hidden:
            text.append(hidden_hint(self.table.hidden, title.content_size.width - text.cell_len))
        old = self._title
        if text != old or text.spans != old.spans or str(text.style) != str(old.style):
            self._title = text
            # One line, always: a layout would redraw the whole screen on every tick.
            title.update(text, layout=False)
