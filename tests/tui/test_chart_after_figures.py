"""The P&L chart is mounted after the first figures are on screen, not with the Overview tab.

Importing plotext and drawing the chart's first plot took about 50 ms of the console's
start-up, in front of the first figures (docs/performance.md, "Start-up"). The chart now comes
once a poll has answered and its figures are drawn, or a second after the tab if no poll
answers; its place is kept, so the cards do not move when it comes.
"""

from __future__ import annotations

from pathlib import Path

from textual import events

from pf_tui.sim.http.server import SimServer
from pf_tui.tui.app import PfApp
from pf_tui.tui.messages import FleetUpdated
from pf_tui.tui.tabs.overview import CHART_LATEST_S, OverviewTab
from pf_tui.tui.widgets.chart import DailyChart
from tests.tui.harness import make_app, settle


class Watched(PfApp):
    """Notes, for each view handled, whether it had figures and whether the chart was there."""

    seen: list[tuple[bool, bool]]

    def on_fleet_updated(self, message: FleetUpdated) -> None:
        super().on_fleet_updated(message)
        message.prevent_default()  # else Textual runs PfApp's handler again (it walks the MRO)
        figures = any(a.updated_at is not None for a in message.view.agents)
        self.seen.append((figures, self.query_one(OverviewTab).chart is not None))


class Unpolled(PfApp):
    """The console with no engine: no poll ever answers."""

    def on_load(self, event: events.Load) -> None:
        event.prevent_default()  # PfApp.on_load would start the engine


async def test_the_chart_comes_after_the_first_figures_in_the_same_place(
    server: SimServer, tmp_path: Path
) -> None:
    app = make_app(server, tmp_path, app_class=Watched)
    assert isinstance(app, Watched)
    app.seen = []
    async with app.run_test() as pilot:
        await settle(app, pilot)
        overview = app.query_one(OverviewTab)
        first_with_figures = next(chart for figures, chart in app.seen if figures)
        assert not first_with_figures  # drawn before the chart was mounted
        chart = app.query_one(DailyChart)
        assert overview.chart is chart
        assert chart._points == app.fleet_view.pnl_daily and len(chart._points) >= 2
        slot = app.query_one("#chart-slot")
        assert chart.parent is slot and chart.region.height == slot.region.height > 0


async def test_the_chart_comes_anyway_when_no_poll_answers(
    server: SimServer, tmp_path: Path
) -> None:
    app = make_app(server, tmp_path, app_class=Unpolled)
    async with app.run_test() as pilot:
        await pilot.pause()
        overview = app.query_one(OverviewTab)
        assert overview.chart is None
        await pilot.pause(CHART_LATEST_S + 0.3)
        assert overview.chart is not None
        assert app.query_one(DailyChart)._points == ()  # "waiting for the P&L history"
