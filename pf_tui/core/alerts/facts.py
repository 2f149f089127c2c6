"""The facts the alert rules read, and where the daemon gets them.

:class:`FactsSource` builds one :class:`AgentFacts` per agent from the fleet state (figures and
their freshness), the poller's own call counters (error rates) and the store (open streams,
money actions whose outcome is unknown), plus fleet-wide :class:`FleetFacts`.

The store is read with two small queries of its own (:func:`read_open_streams`,
:func:`read_unknown_actions`) rather than the money package's readers: the daemon runs them every
evaluation, and they fetch only the rows and columns a rule looks at.
"""

from __future__ import annotations

import enum
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from pf_tui.api.models import Dialect, Escrow, EscrowStatus
from pf_tui.core.fleet import derived
from pf_tui.core.fleet.state import FleetState
from pf_tui.core.money.brake import BRAKE_OFF, BrakeState, read_brake
from pf_tui.core.money.escrows import HeldEscrow, TimeoutOutcome, timeout_outcome
from pf_tui.core.money.types import Op, RequestState, StreamMode, StreamState, StreamUnit
from pf_tui.core.polling.callstats import CallStats
from pf_tui.core.polling.results import DataType, EscrowSnapshot

SPEND_WINDOW_S = 3600.0
"""Spend per hour is measured over the last hour of balance and P&L history."""


class Health(str, enum.Enum):
    """How far an agent's figures can be trusted right now."""

    OK = "ok"
    NODATA = "nodata"  # stale: no fresh figures within the staleness window
    ERROR = "error"  # the API is failing for this agent


@dataclass(frozen=True)
class StreamFacts:
    """One open stream of an agent: when its payee was last paid, how often it should be (time
    streams only), and what it paid out over the last hour."""

    stream_id: str
    payee: str
    expected_interval_s: float | None
    last_release_at: float
    metrics: Mapping[str, Decimal | None] = field(default_factory=dict)
    """Per-stream figures a ``scope = "stream"`` rule reads (``spend_usd_per_hour``)."""


@dataclass(frozen=True)
class StreamTimeoutFacts:
    """One live stream of an agent and what its escrow's timeout will do on its own."""

    stream_id: str
    state: str
    """``open`` or ``paused`` (while the brake is on, every stream counts as paused)."""
    outcome: TimeoutOutcome
    timeout_hours: int | None
    """The escrow's timeout length (the default lead is a quarter of a short one)."""
    last_paid_at: float | None
    """When pf-tui last released from the stream (``None``: never)."""

    @property
    def paused(self) -> bool:
        """pf-tui releases nothing more from it."""
        return self.state == StreamState.PAUSED.value


@dataclass(frozen=True)
class AgentFacts:
    """What the rules know about one agent at one moment."""

    agent_id: str
    label: str = ""
    health: Health = Health.OK
    health_reason: str = ""
    metrics: Mapping[str, Decimal | None] = field(default_factory=dict)
    streams: tuple[StreamFacts, ...] = ()
    disputes: tuple[str, ...] = ()  # escrow ids currently disputed
    unknown_actions: tuple[str, ...] = ()  # action keys whose outcome is unknown
    stream_timeouts: tuple[StreamTimeoutFacts, ...] = ()


@dataclass(frozen=True)
class FleetFacts:
    """Fleet-wide figures (totals, rates) for fleet-scoped rules."""

    metrics: Mapping[str, Decimal | None] = field(default_factory=dict)


@dataclass
class FactsSource:
    """Builds :class:`AgentFacts` from the fleet state, the poller's call stats and the store."""

    fleet: FleetState
    stats: CallStats
    streams: dict[str, list[StreamFacts]] = field(default_factory=dict)
    unknown_actions: dict[str, list[str]] = field(default_factory=dict)
    live: dict[str, list[LiveStream]] = field(default_factory=dict)
    brake: BrakeState = BRAKE_OFF
    first_poll_grace: bool = True
    """A figure not fetched yet is stale only once its first poll is late
    (:meth:`FleetState.agent_staleness`); ``--once`` turns it off: it waited for every first
    poll already, and a figure still missing then is stale."""

    def load_store(self, conn: sqlite3.Connection, now: float | None = None) -> None:
        """Refresh open streams (with what each paid in the hour before ``now``), unknown money
        actions and the brake from the store (cheap queries)."""
        self.streams = read_open_streams(conn, time.time() if now is None else now)
        self.unknown_actions = read_unknown_actions(conn)
        self.live = read_live_streams(conn)
        self.brake = read_brake(conn)

    def agent(self, agent_id: str, now: float) -> AgentFacts:
        """Facts for one agent at ``now``."""
        state = self.fleet.agents[agent_id]
        d = state.derived
        stale = self.fleet.agent_staleness(agent_id, now, first_poll_grace=self.first_poll_grace)
        if not stale.stale:
            health, reason = Health.OK, ""
        elif stale.error is not None:
            health, reason = Health.ERROR, stale.reason
        else:
            health, reason = Health.NODATA, stale.reason
        rate = self.stats.error_rate(agent_id).rate
        balance = d.get("balance")
        equity = None
        if balance is not None:
            equity = balance + (d.get("wallet_usdc") or 0) + (d.get("unrealized_pnl") or 0)
        hist = [p for p in self.fleet.history(agent_id, "balance") if p[0] >= now - SPEND_WINDOW_S]
        pnl_hist = [p for p in self.fleet.history(agent_id, "pnl") if p[0] >= now - SPEND_WINDOW_S]
        metrics: dict[str, Decimal | None] = {
            "balance_usd": balance,
            "equity_usd": equity,
            "pnl_usd": d.get("pnl"),
            "unrealized_pnl_usd": d.get("unrealized_pnl"),
            "open_positions": d.get("positions"),
            "max_drawdown_pct": d.get("max_drawdown_pct"),
            # Two figures, two rules: the fall now (clears when the agent recovers) and the worst
            # fall on the chart (stays until that fall leaves the 30-day window).
            "drawdown_pct": d.get("drawdown_pct"),
            "error_rate_pct": None if rate is None else Decimal(str(round(rate * 100, 4))),
            "stale_s": None if stale.age_s is None else Decimal(str(round(stale.age_s, 3))),
            "casino_net_usd": d.get("casino_net"),
            "spend_usd_per_hour": derived.spend_rate_from_history(hist, pnl_hist),
        }
        disputes: tuple[str, ...] = ()
        escrows = state.figures[DataType.ESCROWS].value
        records: dict[str, Escrow] = {}
        if isinstance(escrows, EscrowSnapshot):
            disputes = tuple(
                e.escrow_id for e in escrows.escrows if e.status is EscrowStatus.DISPUTED
            )
            records = {e.escrow_id: e for e in escrows.escrows}
        return AgentFacts(
            agent_id=agent_id,
            label=state.info.label,
            health=health,
            health_reason=reason,
            metrics=metrics,
            streams=tuple(self.streams.get(agent_id, ())),
            disputes=disputes,
            unknown_actions=tuple(self.unknown_actions.get(agent_id, ())),
            stream_timeouts=tuple(
                s.facts(records.get(s.held.escrow_id), braked=self.brake.engaged)
                for s in self.live.get(agent_id, ())
            ),
        )

    def fleet_facts(self, agents: Sequence[AgentFacts]) -> FleetFacts:
        """Fleet-wide error rate (the worst service's failed share of the fleet's recent calls)
        and spend per hour."""
        spend = Decimal(0)
        for facts in agents:
            spend += facts.metrics.get("spend_usd_per_hour") or 0
        rate = self.stats.fleet_error_rate([f.agent_id for f in agents]).rate
        return FleetFacts(
            {
                "error_rate_pct": None if rate is None else Decimal(str(round(rate * 100, 4))),
                "spend_usd_per_hour": spend,
            }
        )


_StreamRow = tuple[str, str, str, str, str, str | None, float | None, float | None, float]
"""``streams`` columns: id, agent_id, payee, rate, unit, batch, last_release_at, active_since,
created_at (money as its Decimal text)."""


RELEASE_OPS = (Op.CLASSIC_RELEASE.value, Op.STREAM_RELEASE_PARTIAL.value)
"""Journal requests that pay a stream's payee: what a stream's spend per hour adds up."""


def read_open_streams(conn: sqlite3.Connection, now: float) -> dict[str, list[StreamFacts]]:
    """Open streams by paying agent: each payee's interval (time-based streams), when it was last
    paid, and what the stream paid out over the hour before ``now`` (``spend_usd_per_hour``).

    A stream never released counts from when it began accruing (or was created).
    """
    rows: list[_StreamRow] = conn.execute(
        "SELECT id, agent_id, payee, rate, unit, batch, last_release_at, active_since, created_at"
        " FROM streams WHERE state = ?",
        (StreamState.OPEN.value,),
    ).fetchall()
    if not rows:
        return {}
    spent: dict[str, Decimal] = {}
    paid = conn.execute(
        f"SELECT stream_id, amount FROM actions WHERE state = ? AND stream_id IS NOT NULL"
        f" AND amount IS NOT NULL AND kind IN ({','.join('?' * len(RELEASE_OPS))})"
        " AND updated_at >= ?",
        (RequestState.DONE.value, *RELEASE_OPS, now - SPEND_WINDOW_S),
    ).fetchall()
    for stream_id, amount in paid:
        try:
            spent[stream_id] = spent.get(stream_id, Decimal(0)) + Decimal(amount)
        except ArithmeticError:
            continue  # a journal row is Decimal text; anything else is not money
    streams: dict[str, list[StreamFacts]] = {}
    for sid, agent, payee, rate, unit, batch, last, since, created in rows:
        start = last if last is not None else (since if since is not None else created)
        streams.setdefault(agent, []).append(
            StreamFacts(
                sid,
                payee,
                stream_interval(rate, unit, batch),
                float(start),
                # The window is one hour: the sum paid in it is the rate per hour.
                {"spend_usd_per_hour": spent.get(sid, Decimal(0))},
            )
        )
    return streams


@dataclass(frozen=True)
class LiveStream:
    """A live stream as the store has it: what its escrow holds by pf-tui's record."""

    stream_id: str
    state: str
    held: HeldEscrow
    timeout_hours: int
    last_paid_at: float | None

    def facts(self, record: Escrow | None, *, braked: bool) -> StreamTimeoutFacts:
        """Its timeout facts: from the escrow's polled record when there is one (the server's
        word), else from pf-tui's own."""
        state = StreamState.PAUSED.value if braked else self.state
        paused = state == StreamState.PAUSED.value
        outcome = timeout_outcome(record, self.held, paused=paused)
        hours = record.timeout_hours if record is not None and record.timeout_hours else None
        return StreamTimeoutFacts(
            self.stream_id, state, outcome, hours or self.timeout_hours, self.last_paid_at
        )


_LiveRow = tuple[
    str, str, str, str, str, str, str, str | None, float | None, int | None, float | None, float
]
"""id, agent_id, payee, mode, state, escrow_id, funded, timeout_at, timeout_hours,
last_release_at, created_at (money as its Decimal text)."""


def read_live_streams(conn: sqlite3.Connection) -> dict[str, list[LiveStream]]:
    """Open and paused streams that hold an escrow, by paying agent (one query)."""
    rows = conn.execute(
        "SELECT s.id, s.agent_id, s.payee, s.mode, s.state, s.escrow_id, a.funded, a.timeout_at,"
        " a.timeout_hours, s.last_release_at, s.created_at FROM streams s"
        " JOIN stream_accounts a ON a.stream_id = s.id"
        " WHERE s.state IN (?, ?) AND s.escrow_id IS NOT NULL",
        (StreamState.OPEN.value, StreamState.PAUSED.value),
    ).fetchall()
    live: dict[str, list[LiveStream]] = {}
    for sid, agent, payee, mode, state, escrow, funded, at, hours, last, created in rows:
        dialect = StreamMode(mode).dialect
        if at is None and dialect is Dialect.STREAMING:
            at = float(created) + int(hours or 24) * 3600  # the one escrow of a native stream
        held = HeldEscrow(str(escrow), dialect, Decimal(str(funded or 0)), at, agent, payee)
        stream = LiveStream(sid, state, held, int(hours or 24), last)
        live.setdefault(agent, []).append(stream)
    return live


def read_unknown_actions(conn: sqlite3.Connection) -> dict[str, list[str]]:
    """Idempotency keys of money actions whose outcome is unknown, by agent."""
    rows: list[tuple[str, str]] = conn.execute(
        "SELECT idempotency_key, agent_id FROM actions WHERE state = ?",
        (RequestState.UNKNOWN.value,),
    ).fetchall()
    unknown: dict[str, list[str]] = {}
    for key, agent in rows:
        unknown.setdefault(agent, []).append(key)
    return unknown


def stream_interval(rate: str, unit: str, batch: str | None) -> float | None:
    """Seconds between a time-based stream's releases (one batch at its rate); else ``None``."""
    try:
        r, b = Decimal(rate), Decimal(batch or "0")
    except ArithmeticError:
        return None
    if unit != StreamUnit.HOUR.value or r <= 0 or b <= 0:
        return None
    return float(b / r * 3600)


def escrow_queue(fleet: FleetState, agent_id: str) -> int:
    """Escrows ``agent_id`` created that are funded and not yet released."""
    value = fleet.agents[agent_id].figures[DataType.ESCROWS].value
    if not isinstance(value, EscrowSnapshot):
        return 0
    return sum(
        1 for e in value.escrows if not e.status.terminal and e.creator_id in (None, agent_id)
    )
