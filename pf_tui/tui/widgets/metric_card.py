"""A metric card: a title, one big figure, a detail line and, where it fits, a sparkline."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from pf_tui.tui.widgets.glyphs import unicode_ok
from pf_tui.tui.widgets.sparkline import sparkline


class MetricCard(Static):
    """One figure of the fleet or of the selected agent, redrawn only when it changed."""

    DEFAULT_CSS = """
    MetricCard { width: 1fr; height: 5; padding: 0 1; }
    """

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="card")
        self.border_title = title
        self._shown: tuple[object, ...] | None = None
        self._figures: tuple[Text, Text | str, Sequence[Decimal], Style | str] | None = None
        self._ascii = not unicode_ok()

    def show(
        self,
        value: Text,
        detail: Text | str = "",
        series: Sequence[Decimal] = (),
        series_style: Style | str = "",
    ) -> None:
        """Set the figure, its detail line and its sparkline series."""
        self._figures = (value, detail, series, series_style)
        self._draw()

    def on_resize(self) -> None:
        """The sparkline is cut to the card's width: a card shown before the first layout (the
        first poll can land then) or resized since draws it again at its width now."""
        self._draw()

    def _draw(self) -> None:
        if self._figures is None:
            return
        value, detail, series, series_style = self._figures
        width = max(0, self.content_size.width or 20)
        key = (
            value.plain,
            str(value.style),
            detail if isinstance(detail, str) else detail.plain,
            tuple(series[-width:]),
            str(series_style),
            width,
        )
        if key == self._shown:
            return
        self._shown = key
        body = Text(end="")
        body.append_text(value)
        body.append("\n")
        body.append_text(detail if isinstance(detail, Text) else Text(detail, end=""))
        spark = sparkline(series, width, ascii_only=self._ascii, style=series_style)
        if spark.plain:
            body.append("\n")
            body.append_text(spark)
        self.update(body)
