"""The one chart widget: a daily series, behind an interface that does not leak plotext.

textual-plotext is little maintained (docs/conventions.md, "Libraries we chose"), so views only call
:meth:`DailyChart.show` with (``YYYY-MM-DD``, Decimal) points; swapping the backend (for
``textual-plot``, say) touches this module alone. No untrusted text is ever passed to the plot:
plotext output is parsed as ANSI.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from textual_plotext import PlotextPlot

from pf_tui.tui.widgets.glyphs import unicode_ok


class DailyChart(PlotextPlot):
    """A line chart of one value per day, with ``MM-DD`` ticks and a USD y-axis."""

    DEFAULT_CSS = """
    DailyChart { height: 1fr; min-height: 8; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._points: tuple[tuple[str, Decimal], ...] | None = None
        self._marker = "braille" if unicode_ok() else "*"

    def show(self, points: Sequence[tuple[str, Decimal]], *, label: str) -> None:
        """Plot ``points`` (day, value); redraws only when they changed."""
        points = tuple(points)
        if points == self._points:
            return
        self._points = points
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(label)
        if len(points) >= 2:
            xs = list(range(len(points)))
            # Plot coordinates only: every figure printed elsewhere stays Decimal.
            ys = [float(v) for _, v in points]
            plt.plot(xs, ys, marker=self._marker)
            picks = sorted({0, len(xs) // 4, len(xs) // 2, 3 * len(xs) // 4, len(xs) - 1})
            plt.xticks([float(i) for i in picks], [points[i][0][5:] for i in picks])
        else:
            plt.title(f"{label}: waiting for the P&L history")
        self.refresh()
