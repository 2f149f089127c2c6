"""What the screen shows, as plain frozen data: one :class:`FleetView` per poll tick.

The views read only these types. :mod:`pf_tui.views.feed` builds them from the engine's fleet
state, tests build them by hand, so a view can be checked without a simulator and the engine can
change shape without touching a widget. Money stays ``Decimal``; untrusted strings stay ``str``
here and meet :func:`pf_tui.tui.sanitize.safe` only when a widget renders them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from pf_tui.api.models import Dialect
from pf_tui.core.money.brake import BRAKE_OFF, BrakeState
from pf_tui.core.money.escrows import EscrowStake, HeldEscrow, TimeoutOutcome

SPARK_POINTS = 40
"""P&L points of a sparkline (the fleet's, or the drilled-into agent's)."""


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
    """Cumulative daily trading P&L, oldest first, for the sparkline: the fleet row's only (an
    agent's is read from :attr:`FleetView.agent_pnl_daily` when it is drilled into, see
    :meth:`FleetView.pnl_series`; 5,000 copies would not pay)."""

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


class RowState(str, enum.Enum):
    """An escrow row's state: the server's state merged with pf-tui's own record of it."""

    FUNDED = "funded"
    """Open on the server; nothing of pf-tui's holds it back."""
    COMPLETED = "completed"
    """Classic: the payee marked the work done; the creator has still to release it."""
    OPEN = "open"
    """A pf-tui stream that holds no escrow right now (a tranche stream between tranches)."""
    PAUSED = "paused"
    """pf-tui releases nothing more (by hand or the brake); the server's timeout still acts."""
    CLOSING = "closing"
    """A close is on its way."""
    UNKNOWN = "unknown"
    """What the money will do is not known: an action's outcome is not settled yet."""
    RELEASED = "released"
    REFUNDED = "refunded"
    CLOSED = "closed"
    DISPUTED = "disputed"

    @property
    def finished(self) -> bool:
        """Nothing more happens to the money."""
        return self in (RowState.RELEASED, RowState.REFUNDED, RowState.CLOSED, RowState.DISPUTED)


class EscrowAction(str, enum.Enum):
    """What the operator can do to a row (see :func:`pf_tui.views.escrow_rows.offers_for`)."""

    RELEASE = "release"
    """Release all it holds (classic: ``release``; streaming: the rest)."""
    RELEASE_PART = "release_part"
    """Release part: a stream's owed amount, or an amount of a streaming escrow."""
    CLOSE = "close"
    """Close: a stream pays what is owed then stops; a streaming escrow refunds the rest."""
    DISPUTE = "dispute"
    COMPLETE = "complete"
    """As the payee of a classic escrow, mark the work done."""
    ADOPT = "adopt"
    """Track an agent's escrow as a pf-tui stream (rate and unit)."""
    PAUSE = "pause"
    RESUME = "resume"


@dataclass(frozen=True, slots=True)
class Offer:
    """One action a row allows, and the agent whose key acts."""

    action: EscrowAction
    agent_id: str
    """Who acts: the creator (release, close, adopt), the payee (complete) or either (dispute)."""


@dataclass(frozen=True, slots=True)
class StreamNote:
    """pf-tui's record of one of its streams, as the Escrows tab needs it."""

    stream_id: str
    agent_id: str
    """The paying agent."""
    payee: str
    state: str
    """``open``, ``paused``, ``closing``, ``closed`` or ``disputed``."""
    mode: str
    """``native`` (one streaming escrow) or ``tranche`` (classic escrows, one at a time)."""
    origin: str
    """``opened`` by pf-tui, or ``adopted`` from an agent's escrow."""
    budget: Decimal
    released: Decimal
    """Gross paid so far over the whole stream (every tranche)."""
    rate: str
    """``$0.05/call``."""
    memo: str
    escrow_id: str | None
    held: HeldEscrow | None
    """What its current escrow holds by pf-tui's record (``None``: no escrow now)."""
    last_release_at: float | None
    created_at: float


@dataclass(frozen=True, slots=True)
class EscrowNote:
    """What pf-tui itself knows of an escrow: the dialect it was created in (the journal knows
    what it created), the agent whose key created it, the stream it backs, and an action on it
    whose outcome is not settled."""

    dialect: Dialect | None = None
    rate: str = ""
    """The stream's rate and unit when the escrow backs one of pf-tui's streams."""
    agent_id: str | None = None
    stream: StreamNote | None = None
    pending: str = ""
    """``unknown`` (an action's outcome is not known yet) or ``sending`` (one is on its way)."""


@dataclass(frozen=True, slots=True)
class MoneyNotes:
    """Everything the money desk adds to a tick's view: notes on escrows, pf-tui's live streams
    and the brake. The same object while nothing changed (the feed then rebuilds nothing)."""

    escrows: Mapping[str, EscrowNote] = field(default_factory=dict)
    streams: tuple[StreamNote, ...] = ()
    """Live streams (not closed, not disputed)."""
    brake: BrakeState = BRAKE_OFF


@dataclass(frozen=True, slots=True)
class EscrowView:
    """One escrow or stream row of one agent: the server's record merged with pf-tui's."""

    key: str
    """``<agent id>/<escrow id>``, or ``<agent id>/<stream id>`` for a stream holding no
    escrow now."""
    agent_id: str
    """The row's agent: the creator when watched, else the watched payee."""
    agent_label: str
    payee: str
    """The payee's label (its id when not one of the fleet)."""
    memo: str
    amount: Decimal
    """Budget: a stream's whole budget, else the escrow's amount."""
    released: Decimal | None
    """Paid (gross): over a stream's whole life (every tranche), else the escrow's."""
    remaining: Decimal | None
    """A stream's budget not yet paid, else what the escrow still holds."""
    state: str
    """A :class:`RowState` value."""
    dialect: str
    """``streaming`` or ``classic``: the dialect the escrow was created in (and is acted on
    in), the words ``[api] escrow_dialect`` uses."""
    rate: str = ""
    """The stream's rate and unit when pf-tui knows the stream, else empty."""
    next_at: float | None = None
    """Epoch seconds of the automatic timeout."""
    timeout_pays_payee: bool = False
    """True: the timeout releases to the payee (streaming); False: it refunds the creator."""
    escrow_id: str | None = None
    """The escrow (``None``: a stream between tranches)."""
    creator_id: str | None = None
    payee_id: str | None = None
    creator: str = ""
    """The creator's label (its id when not one of the fleet)."""
    status: str = ""
    """The server's state (``funded``, ``completed``, ...; empty: no record read)."""
    stream_id: str | None = None
    stream_state: str = ""
    mode: str = ""
    origin: str = ""
    stake: EscrowStake | None = None
    """The escrow's own figures (amount, released, remaining, fee, payee nets) and timeout."""
    timeout: TimeoutOutcome | None = None
    """What the server will do on its own at the timeout, and when (paused: pf-tui releases
    nothing more, the server still does this)."""
    version: str | None = None
    """The polled record's version: an action built from this row carries it."""
    pending: str = ""
    finished_at: float | None = None
    """When the money stopped moving (terminal rows, kept 24 h)."""
    outcome: str = ""
    """A finished row's outcome in words (``released to the payee by its timeout``)."""
    offers: tuple[Offer, ...] = ()
    """What the operator can do to it, and which agent acts."""

    @property
    def finished(self) -> bool:
        """Nothing more happens to this row's money."""
        return RowState(self.state).finished


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
    """Active escrows and live streams."""
    finished_escrows: tuple[EscrowView, ...] = ()
    """Escrows whose money stopped moving in the last 24 h, newest first, with their outcome."""
    brake: BrakeState = BRAKE_OFF
    """The stop-all brake, as the store has it (for the header)."""
    services: tuple[ServiceView, ...] = ()
    last_error: str = ""
    """Untrusted: the newest API error, body included."""
    pnl_daily: tuple[tuple[str, Decimal], ...] = ()
    """Fleet cumulative trading P&L per UTC day: (``YYYY-MM-DD``, USD), oldest first."""
    agent_pnl_daily: dict[str, tuple[tuple[str, Decimal], ...]] = field(default_factory=dict)
    """The same for the drilled-into agent only (copying 1,000 series each tick would not pay)."""
    changed_agents: frozenset[str] | None = None
    """Agents whose figures changed since the last view; ``None``: assume all."""
    index: Mapping[str, int] = field(default_factory=dict)
    """Each agent's place in :attr:`agents` (empty: not given, look through them); the feed
    hands every view the same mapping while the fleet's order stays, so a consumer can go
    straight to :attr:`changed_agents` instead of through 5,000 agents a tick."""

    def pnl_series(self, agent_id: str | None) -> tuple[Decimal, ...]:
        """The sparkline's points: the drilled-into agent's cumulative P&L, or the fleet's."""
        if agent_id is None:
            return self.totals.pnl_series
        daily = self.agent_pnl_daily.get(agent_id, ())
        return tuple(value for _, value in daily[-SPARK_POINTS:])

    def agent(self, agent_id: str) -> AgentView | None:
        """The agent with ``agent_id``, if in this view."""
        place = self.index.get(agent_id)
        if place is not None and place < len(self.agents):
            agent = self.agents[place]
            if agent.agent_id == agent_id:
                return agent
        for agent in self.agents:
            if agent.agent_id == agent_id:
                return agent
        return None

    def changed_views(self) -> list[AgentView] | None:
        """The views of :attr:`changed_agents`, in fleet order (``None``: all may have
        changed)."""
        changed = self.changed_agents
        if changed is None:
            return None
        index = self.index
        if len(index) == len(self.agents) and all(a in index for a in changed):
            return [self.agents[i] for i in sorted(index[a] for a in changed)]
        return [a for a in self.agents if a.agent_id in changed]
