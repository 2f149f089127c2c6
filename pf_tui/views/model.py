"""What the screen shows, as plain frozen data: one :class:`FleetView` per poll tick.

The views read only these types. :mod:`pf_tui.views.feed` builds them from the engine's fleet
state, tests build them by hand, so a view can be checked without a simulator and the engine can
change shape without touching a widget. Money stays ``Decimal``; untrusted strings stay ``str``
here and meet :func:`pf_tui.tui.sanitize.safe` only when a widget renders them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from pf_tui.api.models import Dialect


@dataclass(frozen=True, slots=True)
class AgentView:
    """One agent's latest figures (or the fleet's totals, with ``agent_id`` ``"*"``)."""

    agent_id: str
    label: str
    strategy: str = ""
    balance: Decimal | None = None
    pnl_today: Decimal | None = None
    pnl_total: Decimal | None = None
    pnl_pct: Decimal | None = None
    open_positions: int | None = None
    referrals: int | None = None
    referral_income: Decimal | None = None
    win_rate: float | None = None
    """Casino win rate, fraction 0..1."""
    expected_win_rate: float | None = None
    casino_bets: int | None = None
    """Lifetime bets behind the win rates (the fleet's rates are weighted by it)."""
    latency_p95_ms: float | None = None
    error_rate: float | None = None
    """Fraction 0..1 of this agent's requests that failed."""
    escrow_exposure: Decimal | None = None
    sharpe_7d: float | None = None
    max_drawdown_pct: float | None = None
    max_drawdown_usd: Decimal | None = None
    dispute_rate: float | None = None
    funnel_referrals: int | None = None
    funnel_earning: int | None = None
    updated_at: float | None = None
    """Epoch seconds when the oldest of this agent's figures was fetched (``None``: never).

    A time, not an age, so an agent whose figures did not change yields an equal view and
    costs the screen nothing; views compute the age against the app's clock."""
    stale: bool = False
    stale_reason: str = ""
    last_error: str = ""
    """Untrusted: may hold an API error body."""
    pnl_series: tuple[Decimal, ...] = ()
    """Cumulative daily trading P&L, oldest first, for sparklines."""

    @property
    def status(self) -> str:
        """``ok``, ``stale`` or ``error`` (stale with an error), for the status column."""
        if self.stale:
            return "error" if self.last_error else "stale"
        if self.updated_at is None:
            return "waiting"
        return "ok"


@dataclass(frozen=True, slots=True)
class PositionView:
    """One open position of one agent."""

    key: str
    agent_id: str
    agent_label: str
    pair: str
    side: str
    size: Decimal | None
    entry: Decimal | None
    current: Decimal | None
    unrealized_pnl: Decimal | None
    leverage: Decimal | None
    liquidation: Decimal | None


@dataclass(frozen=True, slots=True)
class EscrowNote:
    """What pf-tui itself knows of an escrow it created: the dialect it was created in (the docs
    list shows a tranche as a stream object) and, for a stream's escrow, the stream's rate."""

    dialect: Dialect | None = None
    rate: str = ""


@dataclass(frozen=True, slots=True)
class EscrowView:
    """One active escrow or stream of one agent."""

    key: str
    agent_id: str
    agent_label: str
    payee: str
    memo: str
    amount: Decimal
    released: Decimal | None
    remaining: Decimal | None
    state: str
    dialect: str
    rate: str = ""
    """The stream's rate and unit when pf-tui knows the stream, else empty."""
    next_at: float | None = None
    """Epoch seconds of the automatic timeout."""
    timeout_pays_payee: bool = False
    """True: the timeout releases to the payee (docs dialect); False: it refunds the creator."""

    @property
    def escrow_id(self) -> str:
        """The escrow's id (the key is ``<agent id>/<escrow id>``)."""
        return self.key.split("/", 1)[1]


@dataclass(frozen=True, slots=True)
class ServiceView:
    """How one Purple Flea service is answering, fleet-wide."""

    name: str
    state: str
    """``up``, ``degraded``, ``down`` or ``idle`` (nothing polled yet)."""
    latency_p95_ms: float | None = None
    error_rate: float | None = None


@dataclass(frozen=True, slots=True)
class FleetView:
    """Everything one tick puts on screen."""

    at: float
    """Epoch seconds (the app's clock) when this view was made."""
    agents: tuple[AgentView, ...]
    totals: AgentView
    positions: tuple[PositionView, ...] = ()
    escrows: tuple[EscrowView, ...] = ()
    services: tuple[ServiceView, ...] = ()
    last_error: str = ""
    """Untrusted: the newest API error, body included."""
    pnl_daily: tuple[tuple[str, Decimal], ...] = ()
    """Fleet cumulative trading P&L per UTC day: (``YYYY-MM-DD``, USD), oldest first."""
    agent_pnl_daily: dict[str, tuple[tuple[str, Decimal], ...]] = field(default_factory=dict)
    """The same for the drilled-into agent only (copying 1,000 series each tick would not pay)."""
    changed_agents: frozenset[str] | None = None
    """Agents whose figures changed since the last view; ``None``: assume all."""

    def agent(self, agent_id: str) -> AgentView | None:
        """The agent with ``agent_id``, if in this view."""
        for agent in self.agents:
            if agent.agent_id == agent_id:
                return agent
        return None
