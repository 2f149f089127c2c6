"""A metric card's sparkline fits the card as it is now, not as it was when its figures came.

The console starts polling before its widgets are laid out, so the first figures can reach a
card that has no width yet; and a terminal can be resized at any time. Either way the sparkline
is cut again to the card's width, without new figures.
"""

from __future__ import annotations

from decimal import Decimal

from rich.text import Text
from textual.app import App, ComposeResult

from pf_tui.tui.widgets.metric_card import MetricCard

SERIES = [Decimal(n % 7) for n in range(40)]


class _Cards(App[None]):
    def compose(self) -> ComposeResult:
        yield MetricCard("P&L", id="card")

    def on_load(self) -> None:
        self.shown_before_layout = False

    def on_mount(self) -> None:
        card = self.query_one(MetricCard)
        self.shown_before_layout = card.content_size.width == 0
        card.show(Text("$1.00"), "today", SERIES)


def spark_cells(card: MetricCard) -> int:
    lines = card.render().plain.splitlines()  # type: ignore[union-attr]
    return len(lines[2]) if len(lines) > 2 else 0


async def test_a_card_shown_before_layout_fits_its_sparkline_once_laid_out() -> None:
    app = _Cards()
    async with app.run_test(size=(30, 7)) as pilot:
        await pilot.pause()
        card = app.query_one(MetricCard)
        assert app.shown_before_layout
        assert card.content_size.width == 28
        assert spark_cells(card) == 28


async def test_a_resized_card_cuts_its_sparkline_again() -> None:
    app = _Cards()
    async with app.run_test(size=(30, 7)) as pilot:
        await pilot.pause()
        card = app.query_one(MetricCard)
        await pilot.resize_terminal(16, 7)
        await pilot.pause()
        assert spark_cells(card) == 14
        await pilot.resize_terminal(50, 7)
        await pilot.pause()
        assert spark_cells(card) == 40  # every point there is, in a card wider than the series
