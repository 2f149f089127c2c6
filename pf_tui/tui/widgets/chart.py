"""The one chart widget: a time series plot, behind an interface that does not leak plotext.

textual-plotext is little maintained (STYLE.md), so views only call :meth:`TimeChart.show`
with (epoch seconds, Decimal) points; swapping the backend (for ``textual-plot``, say) touches
this module alone. No untrusted text is ever passed to the plot: plotext output is parsed as ANSI.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from decimal import Decimal

from textual_plotext import PlotextPlot

from pf_tui.tui.widgets.glyphs import unicode_ok


def _hhmm(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%H:%M:%S")


class TimeChart(PlotextPlot):
    """A line chart of one series over time, with a readable HH:MM:SS axis and a $ y-axis."""

    DEFAULT_CSS = """
    TimeChart { height: 1fr; min-height: 6; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._points: tuple[tuple[float, Decimal], ...] = ()
        self._marker = "braille" if unicode_ok() else "*"

    def show(self, points: Sequence[tuple[float, Decimal]], *, label: str = "P&L") -> None:
        """Plot ``points`` (epoch seconds, value); redraws only when they changed."""
        points = tuple(points)
        if points == self._points:
            return
        self._points = points
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.xlabel("time (UTC)")
        plt.ylabel(label)
        if len(points) >= 2:
            xs = [t for t, _ in points]
            # Plot coordinates only: every figure printed elsewhere stays Decimal.
            ys = [float(v) for _, v in points]
            plt.plot(xs, ys, marker=self._marker)
            ticks = [xs[0], xs[len(xs) // 2], xs[-1]]
            plt.xticks(ticks, [_hhmm(t) for t in ticks])
        else:
            plt.title("collecting P&L history…" if unicode_ok() else "collecting P&L history...")
        self.refresh()
