"""Which columns of a table fit a terminal, how wide each is, and cells shortened visibly.

Every table declares its columns once (:class:`Column`): how important each is (``priority``),
whether and how it may be shortened (:class:`Cut`), the narrowest it may be shortened to and the
widest it grows to. :func:`fit_widths` turns that, the widest cell of each column and the width
on screen into one width per column, or ``None`` for a column dropped at this width:

1. Every column starts at its minimum: its natural width (its widest cell, and its header) when
   it is never shortened, else ``min_width``.
2. While those minimums do not fit, the least important column goes (the largest ``priority``;
   of equals, the rightmost). Priority 0, and any column the caller keeps (the sort column), is
   never dropped: if those alone do not fit, the table scrolls sideways.
3. What space is left goes to the shortened columns, most important first, up to their natural
   width.

A cell wider than its column is shortened by :func:`fit_cell`, always with a visible mark
(``…``, or ``~`` where the terminal cannot draw it): text loses its end (``delta-data-bu…``),
an id loses its middle so both ends stay recognisable (``ag_aa19…0c9e``). A figure, a state or
what a timeout will do is never shortened: it is shown whole or its column is dropped. Nothing
here depends on Textual; the keyed table applies the widths.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from rich.cells import get_character_cell_size
from rich.text import Text

ELLIPSIS = "…"
"""The mark of a shortened cell."""
ELLIPSIS_ASCII = "~"
"""The same mark where the terminal is not UTF-8 (``PF_TUI_ASCII=1``)."""


class Cut(enum.Enum):
    """Whether and where a column's cells may be shortened."""

    NEVER = "never"
    """Shown whole, or the column is dropped: figures, states, what a timeout will do."""
    END = "end"
    """Text that reads from the start: labels of things, memos, reasons."""
    MIDDLE = "middle"
    """Ids and names whose both ends matter: ``ag_aa19…0c9e``, ``cobalt-cas…nder-003``."""


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a keyed table, and how it gives way on a narrow terminal."""

    key: str
    label: str
    numeric: bool = False
    """Figures: aligned right, and sorted largest first on the first press."""
    priority: int = 0
    """How important the column is: 0 is never dropped; a larger number is dropped sooner."""
    cut: Cut = Cut.NEVER
    """Whether cells may be shortened, and where the mark goes."""
    min_width: int = 0
    """The narrowest a shortened column gets, in cells (ignored when ``cut`` is NEVER)."""
    max_width: int | None = None
    """The widest the column grows; wider cells are shortened even on a wide terminal. ``None``:
    as wide as its widest cell."""


def natural_width(column: Column, widest_cell: int, header: int) -> int:
    """The width ``column`` would like: its widest cell or its header, capped by ``max_width``
    (a column that is never shortened is never capped)."""
    width = max(widest_cell, header)
    if column.cut is not Cut.NEVER and column.max_width is not None:
        width = min(width, max(column.max_width, column.min_width, 1))
    return max(width, 1)


def minimum_width(column: Column, natural: int) -> int:
    """The narrowest ``column`` may be drawn: its natural width unless it may be shortened."""
    if column.cut is Cut.NEVER:
        return natural
    return max(1, min(natural, column.min_width))


def fit_widths(
    columns: Sequence[Column],
    natural: Sequence[int],
    available: int,
    *,
    padding: int = 2,
    keep: Collection[int] = (),
) -> tuple[int | None, ...]:
    """The width of each column (``None``: dropped) so the table fits ``available`` cells.

    ``natural`` is each column's :func:`natural_width`; ``padding`` the cells each shown column
    adds around its content; ``keep`` the indexes never dropped besides priority 0.
    """
    count = len(columns)
    minimum = [minimum_width(columns[i], natural[i]) for i in range(count)]
    shown = set(range(count))
    used = sum(minimum) + padding * count
    droppable = [i for i in range(count) if columns[i].priority > 0 and i not in keep]
    # Least important first; of equals, the rightmost first.
    droppable.sort(key=lambda i: (columns[i].priority, i), reverse=True)
    for index in droppable:
        if used <= available:
            break
        shown.discard(index)
        used -= minimum[index] + padding
    widths: list[int | None] = [minimum[i] if i in shown else None for i in range(count)]
    spare = available - used
    for index in sorted(shown, key=lambda i: (columns[i].priority, i)):
        if spare <= 0:
            break
        width = widths[index]
        assert width is not None
        grow = min(spare, natural[index] - width)
        if grow > 0:
            widths[index] = width + grow
            spare -= grow
    return tuple(widths)


def _head(text: Text, cells: int) -> Text:
    """The start of ``text`` that fits ``cells`` (wide characters are never halved)."""
    plain = text.plain
    if len(plain) == text.cell_len:
        return text[:cells]
    used = 0
    for index, char in enumerate(plain):
        used += get_character_cell_size(char)
        if used > cells:
            return text[:index]
    return text


def _tail(text: Text, cells: int) -> Text:
    """The end of ``text`` that fits ``cells``."""
    plain = text.plain
    if cells <= 0:
        return text[len(plain) :]
    if len(plain) == text.cell_len:
        return text[-cells:]
    used = 0
    for index in range(len(plain) - 1, -1, -1):
        used += get_character_cell_size(plain[index])
        if used > cells:
            return text[index + 1 :]
    return text


def fit_cell(text: Text, width: int, cut: Cut, ellipsis: str = ELLIPSIS) -> Text:
    """``text`` if it fits ``width`` cells (or may not be shortened), else a shortened copy
    that ends (END) or is split (MIDDLE) by ``ellipsis``, exactly ``width`` cells wide at most."""
    if cut is Cut.NEVER or text.cell_len <= width:
        return text
    room = max(0, width - len(ellipsis))
    out = Text(style=text.style, justify=text.justify, no_wrap=True, end="")
    if cut is Cut.END or room < 3:
        out.append_text(_head(text, room))
        out.append(ellipsis)
        return out
    head = room - room // 2
    out.append_text(_head(text, head))
    out.append(ellipsis)
    out.append_text(_tail(text, room - head))
    return out
