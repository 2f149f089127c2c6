"""Overview tab: metric cards for the fleet or the drilled-into agent, and the P&L chart."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Container, Grid, VerticalScroll
from textual.widgets import Static

from pf_tui.tui import format as fmt
from pf_tui.tui.sanitize import safe
from pf_tui.tui.tabs.frame import Frame
from pf_tui.tui.widgets.metric_card import MetricCard
from pf_tui.views import times
from pf_tui.views.model import AgentView, FleetView

if TYPE_CHECKING:
    from decimal import Decimal

    from pf_tui.tui.widgets.chart import DailyChart

CHART_LABEL = "cumulative trading P&L, USD"
CHART_LATEST_S = 1.0
"""The chart comes once the first poll's figures are on screen, or this long after the tab if no
poll has answered by then."""

CARDS = (
    ("balance", "Balance"),
    ("pnl", "P&L today"),
    ("positions", "Open positions"),
    ("referrals", "Referrals"),
    ("casino", "Casino win rate"),
    ("api", "API health"),
    ("escrow", "Escrow exposure"),
    ("sharpe", "Sharpe 7d"),
    ("drawdown", "Max drawdown"),
    ("disputes", "Dispute rate"),
    ("funnel", "Referral funnel"),
    ("stale", "Data"),
)


def _count(value: int | None) -> Text:
    return Text("-" if value is None else f"{value:,}", end="")


def _ratio(value: float | None, dp: int = 2) -> Text:
    return Text("-" if value is None else f"{value:.{dp}f}", end="")


def _polled(view: FleetView) -> bool:
    """Whether any poll has answered for ``view``'s fleet (figures or an error)."""
    return any(a.updated_at is not None or a.last_error for a in view.agents)


class OverviewTab(VerticalScroll):
    """The fleet (or one agent) at a glance.

    The chart is mounted after the first figures are drawn, not with the tab: plotext and the
    chart's first plot took about 50 ms of the console's start-up, in front of the first figures
    (docs/performance.md, "Start-up"). Its place is kept, so nothing moves when it comes.
    """

    def compose(self) -> ComposeResult:
        """A scope line, the card grid, the chart's place."""
        self.chart: DailyChart | None = None
        """The P&L chart, once mounted."""
        self._chart_points: tuple[tuple[str, Decimal], ...] = ()
        self._chart_due = False
        yield Static("", id="overview-scope", classes="tab-title")
        with Grid(id="cards"):
            for key, title in CARDS:
                yield MetricCard(title, id=f"card-{key}")
        yield Container(id="chart-slot")

    def on_mount(self) -> None:
        self.set_timer(CHART_LATEST_S, self._mount_chart)

    def _mount_chart(self) -> None:
        if self.chart is not None or not self.is_attached:
            return
        from pf_tui.tui.widgets.chart import DailyChart  # plotext: imported after the figures

        chart = self.chart = DailyChart(id="pnl-chart")
        chart.show(self._chart_points, label=CHART_LABEL)
        self.query_one("#chart-slot", Container).mount(chart)

    def show(self, frame: Frame) -> None:
        """Fill every card from the scope's figures (and the fleet's, for comparison)."""
        view = frame.view
        agent = view.agent(frame.selected) if frame.selected else None
        scope: AgentView = agent or view.totals
        fleet = view.totals
        tones = frame.tones
        scope_line = Text("Scope: ", end="")
        scope_line.append_text(safe(scope.label, style="bold"))
        if agent is not None:
            scope_line.append(f"  ({agent.strategy or 'agent'}; Esc: whole fleet)")
        self.query_one("#overview-scope", Static).update(scope_line)

        def card(key: str) -> MetricCard:
            return self.query_one(f"#card-{key}", MetricCard)

        def vs_fleet(text: Text) -> str:
            return f"fleet {text.plain}" if agent is not None else ""

        card("balance").show(fmt.usd(scope.balance, tones), vs_fleet(fmt.usd(fleet.balance, tones)))
        card("pnl").show(
            fmt.usd(scope.pnl_today, tones, signed=True),
            Text.assemble(
                "total ",
                fmt.usd(scope.pnl_total, tones, signed=True),
                " ",
                fmt.pct(
                    scope.pnl_pct / 100 if scope.pnl_pct is not None else None, tones, signed=True
                ),
            ),
            view.pnl_series(agent.agent_id if agent is not None else None),
            fmt.sign_style(scope.pnl_today, tones),
        )
        card("positions").show(_count(scope.open_positions), vs_fleet(_count(fleet.open_positions)))
        card("referrals").show(
            _count(scope.referrals), Text.assemble("earned ", fmt.usd(scope.referral_income, tones))
        )
        deviation = None
        if scope.win_rate is not None and scope.expected_win_rate is not None:
            deviation = scope.win_rate - scope.expected_win_rate
        card("casino").show(
            fmt.pct(scope.win_rate),
            Text.assemble(
                "expected ",
                fmt.pct(scope.expected_win_rate),
                "  ",
                fmt.pct(deviation, tones, signed=True),
            ),
        )
        api_style = tones.bad if (scope.error_rate or 0) > 0.05 else ""
        card("api").show(
            Text(f"p95 {times.ms(scope.latency_p95_ms)}", end=""),
            Text.assemble("errors ", fmt.pct(scope.error_rate), style=api_style),
        )
        card("escrow").show(
            fmt.usd(scope.escrow_exposure, tones), vs_fleet(fmt.usd(fleet.escrow_exposure, tones))
        )
        card("sharpe").show(_ratio(scope.sharpe_7d), "annualised, daily returns")
        card("drawdown").show(
            Text(
                "-" if scope.max_drawdown_pct is None else f"{scope.max_drawdown_pct:.1f}%", end=""
            ),
            Text.assemble("", fmt.usd(scope.max_drawdown_usd, tones))
            if scope.max_drawdown_usd is not None
            else "of peak equity",
        )
        card("disputes").show(fmt.pct(scope.dispute_rate), "of escrows seen")
        funnel = "-"
        if scope.funnel_referrals is not None:
            earning = scope.funnel_earning or 0
            # Trading/wallet also count referrals that never registered at the casino: a ratio
            # above 1 would not be a conversion, so none is shown then.
            conv = (
                earning / scope.funnel_referrals
                if scope.funnel_referrals and earning <= scope.funnel_referrals
                else None
            )
            funnel = f"{scope.funnel_referrals} -> {scope.funnel_earning or 0}"
            detail = Text.assemble("registered -> transacted ", fmt.pct(conv))
        else:
            detail = Text("registered -> transacted", end="")
        card("funnel").show(Text(funnel, end=""), detail)
        stale_style = tones.warn if scope.stale else tones.good
        card("stale").show(
            Text("stale" if scope.stale else "fresh", style=stale_style, end=""),
            Text.assemble(
                "age ",
                times.age(scope.updated_at, frame.now),
                "  ",
                safe(scope.stale_reason, limit=40),
            ),
        )
        points = view.agent_pnl_daily.get(frame.selected, ()) if frame.selected else view.pnl_daily
        self._chart_points = tuple(points)
        if self.chart is not None:
            self.chart.show(points, label=CHART_LABEL)
        elif not self._chart_due and _polled(view):
            self._chart_due = True
            self.call_after_refresh(self._mount_chart)  # once these figures are on screen
