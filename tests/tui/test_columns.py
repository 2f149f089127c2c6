"""Columns that fit: which columns a width drops, how wide the rest are, and how a cell is cut.

Properties over random tables (Hypothesis): the table never overflows when its essential
columns fit, a less important column always goes before a more important one, a figure is
never shortened, and a shortened cell always carries its mark and keeps the ends it promises.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from rich.text import Text

from pf_tui.tui.sanitize import safe
from pf_tui.tui.widgets.columns import (
    ELLIPSIS,
    Column,
    Cut,
    fit_cell,
    fit_widths,
    minimum_width,
    natural_width,
)

PAD = 2


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[Column], list[int], int]:
    count = draw(st.integers(1, 10))
    columns, naturals = [], []
    for i in range(count):
        cut = draw(st.sampled_from(list(Cut)))
        column = Column(
            f"c{i}",
            f"C{i}",
            priority=draw(st.integers(0, 5)),
            cut=cut,
            min_width=draw(st.integers(0, 20)),
        )
        columns.append(column)
        naturals.append(natural_width(column, draw(st.integers(0, 40)), len(column.label)))
    return columns, naturals, draw(st.integers(0, 300))


def _used(columns: list[Column], widths: tuple[int | None, ...]) -> int:
    return sum(w + PAD for w in widths if w is not None)


@given(tables())
def test_what_is_shown_fits_and_keeps_its_promises(
    table: tuple[list[Column], list[int], int],
) -> None:
    columns, naturals, available = table
    widths = fit_widths(columns, naturals, available, padding=PAD)
    essential = sum(
        minimum_width(c, n) + PAD for c, n in zip(columns, naturals, strict=True) if c.priority == 0
    )
    if essential <= available:
        assert _used(columns, widths) <= available
    for column, natural, width in zip(columns, naturals, widths, strict=True):
        if column.priority == 0:
            assert width is not None, "an essential column was dropped"
        if width is None:
            continue
        if column.cut is Cut.NEVER:
            assert width == natural, "a column that may not be shortened was shortened"
        else:
            assert minimum_width(column, natural) <= width <= natural


@given(tables())
def test_a_less_important_column_always_goes_first(
    table: tuple[list[Column], list[int], int],
) -> None:
    columns, naturals, available = table
    widths = fit_widths(columns, naturals, available, padding=PAD)
    dropped = [i for i, w in enumerate(widths) if w is None]
    shown = [i for i, w in enumerate(widths) if w is not None and columns[i].priority > 0]
    for d in dropped:
        for s in shown:
            # A shown column is at least as important; of equals, the dropped one is to its right.
            assert (columns[s].priority, s) < (columns[d].priority, d)
    if dropped:
        # Nothing was dropped needlessly: the most important dropped column would not fit.
        back = min(dropped, key=lambda i: (columns[i].priority, i))
        assert (
            _used(columns, widths) + minimum_width(columns[back], naturals[back]) + PAD > available
        )


def test_the_sort_column_is_kept() -> None:
    columns = [Column("a", "A"), Column("b", "B", priority=3)]
    assert fit_widths(columns, [10, 10], 14, padding=PAD) == (10, None)
    assert fit_widths(columns, [10, 10], 14, padding=PAD, keep=(1,)) == (10, 10)


def test_spare_width_goes_to_the_most_important_cut_column_first() -> None:
    columns = [
        Column("a", "A", priority=2, cut=Cut.END, min_width=4),
        Column("b", "B", priority=1, cut=Cut.END, min_width=4),
    ]
    assert fit_widths(columns, [20, 20], 4 + 4 + 2 * PAD + 10, padding=PAD) == (4, 14)


@given(st.text(min_size=1, max_size=60), st.integers(1, 40), st.sampled_from([Cut.END, Cut.MIDDLE]))
def test_a_cut_cell_fits_and_shows_its_mark(raw: str, width: int, cut: Cut) -> None:
    cell = safe(raw)  # as every table cell of untrusted text is built
    value = cell.plain
    fitted = fit_cell(cell, width, cut)
    if cell.cell_len <= width:
        assert fitted is cell
        return
    assert fitted.cell_len <= width
    assert ELLIPSIS in fitted.plain
    head, _, tail = fitted.plain.partition(ELLIPSIS)
    assert value.startswith(head)
    if cut is Cut.MIDDLE:
        assert value.endswith(tail)


def test_an_id_keeps_both_ends() -> None:
    """The issue's audit view showed ``ag_aa1969db0c9`` for ``ag_aa1969db0c9e``: it looked whole."""
    fitted = fit_cell(Text("ag_aa1969db0c9e"), 12, Cut.MIDDLE)
    assert fitted.plain == "ag_aa1…b0c9e"
    assert fit_cell(Text("delta-data-buyer-004"), 11, Cut.END).plain == "delta-data…"


def test_a_figure_is_never_cut() -> None:
    cell = Text("$12,345.67")
    assert fit_cell(cell, 4, Cut.NEVER) is cell


def test_wide_characters_are_never_halved() -> None:
    fitted = fit_cell(Text("名前名前名前"), 6, Cut.END)
    assert fitted.cell_len <= 6 and fitted.plain == "名前…"


def test_styles_survive_the_cut() -> None:
    cell = Text("loss-maker-agent", style="red", justify="right")
    cell.stylize("bold", 0, 4)
    fitted = fit_cell(cell, 8, Cut.END)
    assert str(fitted.style) == "red" and fitted.justify == "right"
    assert [(s.start, s.end) for s in fitted.spans if str(s.style) == "bold"] == [(0, 4)]
