"""The Overview's figures as Prometheus gauges, per agent and for the fleet, plus open streams.

What the console's Overview cards show (docs/design.md, "Users and jobs") is what Grafana and
the alert rules should see, so these gauges read the very same
:class:`~pf_tui.views.model.AgentView` the console draws, built by the same
:class:`~pf_tui.views.feed.FleetFeed`: one figure, one
meaning, whichever face shows it. :data:`FIGURES` is the one table: each row becomes
``pf_agent_<name>`` (label ``agent``) and, where the fleet has a figure, ``pf_fleet_<name>``.

Naming follows Prometheus: the unit ends the name (``_usd``, ``_seconds``, ``_ratio`` for a
fraction 0..1; percents are divided by 100), counters end in ``_total``. Label values are agent
ids and pf-tui's own stream ids only, never free text from the API, so the series count is
bounded by the config: one series per agent per figure, and at most :data:`MAX_STREAM_SERIES`
streams (those with the most money left; ``pf_fleet_streams_open`` counts them all).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from prometheus_client import CollectorRegistry, Gauge

from pf_tui.views.model import AgentView

__all__ = ["FIGURES", "MAX_STREAM_SERIES", "AgentExtras", "Figure", "OverviewMetrics", "StreamRow"]

MAX_STREAM_SERIES = 200
"""Per-stream series are capped (the streams holding the most money are kept)."""

Number = Decimal | float | int | None


@dataclass(frozen=True)
class Figure:
    """One Overview figure: its metric name (after ``pf_agent_`` / ``pf_fleet_``), help, source.

    ``attr`` names the :class:`AgentView` field; ``percent`` fields are divided by 100 so every
    ``_ratio`` is a fraction.
    """

    name: str
    help: str
    attr: str
    percent: bool = False
    fleet: bool = True
    """Whether the fleet has this figure too (``pf_fleet_<name>``)."""

    def get(self, view: AgentView) -> Number:
        """The figure in ``view`` (``None``: not known yet)."""
        value: Number = getattr(view, self.attr)
        if self.percent and value is not None:
            return float(value) / 100
        return value


FIGURES: tuple[Figure, ...] = (
    Figure("pnl_today_usd", "P&L since UTC midnight (trading day + casino net), USD", "pnl_today"),
    Figure("pnl_ratio", "Total P&L over the initial balance (0.05: +5%)", "pnl_pct", percent=True),
    Figure("referrals", "Referred agents, as the services report them", "referrals"),
    Figure("referral_income_usd", "Referral income earned, USD", "referral_income"),
    Figure("casino_win_ratio", "Casino win rate, lifetime (fleet: weighted by bets)", "win_rate"),
    Figure(
        "casino_expected_win_ratio",
        "Win rate the games' odds predict for the bets made (fleet: weighted by bets)",
        "expected_win_rate",
    ),
    Figure("casino_bets", "Lifetime casino bets behind the win rates", "casino_bets"),
    Figure(
        "api_error_ratio",
        "Failed share of the worst service's calls over the last 5 minutes (fleet: mean)",
        "error_rate",
    ),
    Figure("escrow_exposure_usd", "Money held in escrows it created, USD", "escrow_exposure"),
    Figure(
        "sharpe_7d_ratio",
        "Sharpe ratio of 7 days of daily returns, annualised (fleet: mean)",
        "sharpe_7d",
    ),
    Figure(
        "max_drawdown_ratio",
        "Largest peak-to-trough fall of equity (fleet: the worst agent's)",
        "max_drawdown_pct",
        percent=True,
    ),
    Figure(
        "max_drawdown_usd",
        "Largest peak-to-trough fall of equity, USD",
        "max_drawdown_usd",
        fleet=False,
    ),
    Figure(
        "escrow_dispute_ratio",
        "Share of escrows seen that are disputed (fleet: mean)",
        "dispute_rate",
    ),
    Figure("referral_funnel_registered", "Referral funnel: agents referred", "funnel_referrals"),
    Figure(
        "referral_funnel_transacted",
        "Referral funnel: referred agents that made the referrer money",
        "funnel_earning",
    ),
)
"""Every Overview figure that :class:`~pf_tui.daemon.metrics.DaemonMetrics` does not already
export (that has balance, total P&L, open positions, data age, escrow queue depth, API p95)."""


@dataclass(frozen=True)
class StreamRow:
    """One open stream: what is left of its budget, what it owes now, when its escrow times out."""

    agent_id: str
    stream_id: str
    remaining: Decimal
    owed: Decimal
    timeout_s: float | None
    """Seconds until the escrow backing it times out (``None``: no escrow funded, or not seen)."""
    last_release_at: float | None = None
    """When the payee was last paid (or the stream began accruing); ``None``: not time-based."""
    interval_s: float | None = None
    """Seconds between releases the stream's rate and batch call for (``None``: not time-based)."""


@dataclass(frozen=True)
class AgentExtras:
    """Per-agent figures the Overview does not hold: latency percentiles and spend per hour."""

    latency_p50_s: float | None = None
    latency_p99_s: float | None = None
    spend_usd_per_hour: Decimal | None = None
    disputed: int = 0
    """Escrows of the agent in dispute now."""
    unknown_actions: int = 0
    """Money requests whose outcome is unknown (the journal's ``unknown`` rows)."""


AGENT_EXTRAS: tuple[tuple[str, str, Callable[[AgentExtras], Number]], ...] = (
    (
        "pf_agent_api_latency_p50_seconds",
        "p50 latency of the agent's recent API calls",
        lambda e: e.latency_p50_s,
    ),
    (
        "pf_agent_api_latency_p99_seconds",
        "p99 latency of the agent's recent API calls",
        lambda e: e.latency_p99_s,
    ),
    (
        "pf_agent_spend_usd_per_hour",
        "Money spent over the last hour (balance fall not explained by P&L), USD per hour",
        lambda e: e.spend_usd_per_hour,
    ),
    ("pf_agent_escrows_disputed", "Escrows of the agent in dispute now", lambda e: e.disputed),
    (
        "pf_agent_money_actions_unknown",
        "Money requests whose outcome pf-tui could not prove (journal state unknown)",
        lambda e: e.unknown_actions,
    ),
)
"""The per-agent gauges of :class:`AgentExtras`: name, help, and where the figure is."""

STREAM_FIGURES: tuple[tuple[str, str, Callable[[StreamRow], Number]], ...] = (
    (
        "pf_stream_remaining_usd",
        "Budget the stream has not released yet, USD",
        lambda s: s.remaining,
    ),
    ("pf_stream_owed_usd", "What the stream owes its payee now, USD", lambda s: s.owed),
    (
        "pf_stream_timeout_seconds",
        "Seconds until the escrow backing the stream times out (NaN: none funded)",
        lambda s: s.timeout_s,
    ),
    (
        "pf_stream_last_release_timestamp_seconds",
        "Unix time the payee was last paid (or the stream began accruing)",
        lambda s: s.last_release_at,
    ),
    (
        "pf_stream_release_interval_seconds",
        "Seconds between releases the stream's rate and batch call for",
        lambda s: s.interval_s,
    ),
)
"""The per-stream gauges (labels ``agent`` and ``stream``): name, help, and the figure."""


def _value(value: Number) -> float:
    # The exposition format is float: the one place money becomes one (docs/design.md).
    return float("nan") if value is None else float(value)


class OverviewMetrics:
    """The gauges of :data:`FIGURES`, latency percentiles, spend per hour and open streams."""

    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        agent = ("agent",)
        self.agent_figures = [
            (f, Gauge(f"pf_agent_{f.name}", f.help, agent, registry=r)) for f in FIGURES
        ]
        self.fleet_figures = [
            (f, Gauge(f"pf_fleet_{f.name}", f.help, registry=r)) for f in FIGURES if f.fleet
        ]
        self.info = Gauge(
            "pf_agent_info", "Always 1: the agent's label and strategy from the config",
            ("agent", "label", "strategy"), registry=r,
        )  # fmt: skip
        self.agent_extras = [
            (get, Gauge(name, text, agent, registry=r)) for name, text, get in AGENT_EXTRAS
        ]
        self.fleet_spend = Gauge(
            "pf_fleet_spend_usd_per_hour", "Sum of the agents' spend per hour", registry=r
        )
        self.fleet_age = Gauge(
            "pf_fleet_data_age_seconds", "Age of the oldest figure in the fleet", registry=r
        )
        stream = ("agent", "stream")
        self.stream_figures = [
            (get, Gauge(name, text, stream, registry=r)) for name, text, get in STREAM_FIGURES
        ]
        self.streams_open = Gauge(
            "pf_fleet_streams_open", "Open or paused streams pf-tui runs", registry=r
        )
        self._agents: set[tuple[str, str, str]] = set()
        self._streams: set[tuple[str, str]] = set()

    def update(
        self,
        agents: Sequence[AgentView],
        totals: AgentView,
        extras: dict[str, AgentExtras],
        streams: Iterable[StreamRow],
        now: float,
    ) -> None:
        """Set every gauge; series of agents and streams that went away are removed."""
        seen: set[tuple[str, str, str]] = set()
        spend_total = Decimal(0)
        for view in agents:
            aid = view.agent_id
            info = (aid, view.label, view.strategy)
            seen.add(info)
            self.info.labels(*info).set(1)
            for figure, gauge in self.agent_figures:
                gauge.labels(aid).set(_value(figure.get(view)))
            extra = extras.get(aid, AgentExtras())
            for get, gauge in self.agent_extras:
                gauge.labels(aid).set(_value(get(extra)))
            spend_total += extra.spend_usd_per_hour or 0
        for gone in self._agents - seen:
            _remove(self.info, *gone)
            for _, metric in (*self.agent_extras, *self.agent_figures):
                _remove(metric, gone[0])
        self._agents = seen
        for figure, gauge in self.fleet_figures:
            gauge.set(_value(figure.get(totals)))
        self.fleet_spend.set(_value(spend_total))
        self.fleet_age.set(_value(None if totals.updated_at is None else now - totals.updated_at))
        self._update_streams(list(streams))

    def _update_streams(self, streams: list[StreamRow]) -> None:
        self.streams_open.set(len(streams))
        kept = sorted(streams, key=lambda s: (-s.remaining, s.stream_id))[:MAX_STREAM_SERIES]
        seen: set[tuple[str, str]] = set()
        for row in kept:
            key = (row.agent_id, row.stream_id)
            seen.add(key)
            for get, gauge in self.stream_figures:
                gauge.labels(*key).set(_value(get(row)))
        for gone in self._streams - seen:
            for _, metric in self.stream_figures:
                _remove(metric, *gone)
        self._streams = seen


def _remove(metric: Gauge, *labels: str) -> None:
    try:
        metric.remove(*labels)
    except KeyError:
        pass  # never set for these labels
