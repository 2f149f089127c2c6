"""The fleet state: the latest figure per agent and data type, rolling history, fleet totals.

:meth:`FleetState.apply` takes one poll result (pure, fast, no I/O) and returns what changed, so
the TUI updates only changed rows and the daemon evaluates only changed agents. History lives in
bounded ring buffers (:class:`~pf_tui.core.fleet.history.SampleRing`, 17 bytes a sample) per
(agent, metric) for sparklines; the samples it adds
are also queued for the store (:meth:`FleetState.drain_samples`), and
:meth:`FleetState.load_history` refills the buffers from the store at start-up.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from pf_tui.api.latency import FloatRing
from pf_tui.api.models import (
    CasinoStats,
    EscrowStatus,
    PnlHistory,
    Positions,
    cumulative_by_day,
)
from pf_tui.clock import SYSTEM_CLOCK, Clock
from pf_tui.core.fleet import derived
from pf_tui.core.fleet.history import DayChange, SampleRing
from pf_tui.core.polling.callstats import CallStats
from pf_tui.core.polling.results import (
    ALL_TYPES,
    BalanceSnapshot,
    DataType,
    EscrowSnapshot,
    PollResult,
    ReferralSnapshot,
    Snapshot,
)
from pf_tui.core.store.db import History, Sample

ZERO = Decimal(0)
STALE_FACTOR = 3.0
"""A figure older than this many of its intervals is stale."""
DEFAULT_HISTORY = 360
"""Samples kept per (agent, metric) in memory."""
HISTORY_METRICS = (
    "balance",
    "pnl",
    "trading_pnl",
    "casino_net",
    "positions",
    "exposure",
    "referrals",
    "referral_income",
    "total_bets",
    "escrow_exposure",
)
"""The metrics that get a history (a sample whenever their value changes)."""
CONSOLE_HISTORY: tuple[str, ...] = ()
"""The histories the console reads: none. Its one history figure, today's P&L, needs only the
casino net's move since midnight (:data:`DAY_METRICS`). Rings would cost it memory and nothing
else: up to about 300 MB at 5,000 agents once full (17 bytes a sample, 360 samples of 10 metrics
an agent), and 31 MB for the casino net's alone."""
DAY_METRICS = ("casino_net",)
"""The metrics whose move since UTC midnight every fleet keeps (:class:`DayChange`, a few
dozen bytes an agent): the casino half of today's P&L."""


@dataclass(frozen=True, slots=True)
class AgentInfo:
    """What the fleet knows about an agent besides its figures (from the config)."""

    agent_id: str
    label: str = ""
    strategy: str = ""
    initial_balance: Decimal | None = None


@dataclass(slots=True)
class Figure:
    """The latest value of one data type of one agent, and its last failure if newer."""

    value: object | None = None
    fetched_at: float | None = None
    error: Exception | None = None
    error_at: float | None = None
    failures: int = 0


@dataclass(frozen=True, slots=True)
class Staleness:
    """Age of a figure and whether it is stale, with the reason."""

    age_s: float | None
    stale: bool
    reason: str = ""
    error: Exception | None = None


@dataclass(slots=True)
class AgentState:
    """One agent's figures, derived values and history."""

    info: AgentInfo
    figures: dict[DataType, Figure] = field(
        default_factory=lambda: {k: Figure() for k in ALL_TYPES}
    )
    derived: dict[str, Decimal | None] = field(default_factory=dict)
    history: dict[str, SampleRing] = field(default_factory=dict)
    days: dict[str, DayChange] = field(default_factory=dict)
    """Per metric of :data:`DAY_METRICS`, its move since midnight."""
    requests: int = 0
    errors: int = 0
    latencies: FloatRing = field(default_factory=lambda: FloatRing(256))
    """Poll latencies (seconds), 8 bytes each: one ring per agent."""
    since: float = 0.0
    """When the fleet began watching the agent (its first polls are due from then)."""


@dataclass(frozen=True, slots=True)
class Change:
    """What one applied result changed for one agent."""

    agent_id: str
    kind: DataType
    value_changed: bool
    """The figure (and what derives from it) changed: redraw the row's figures."""
    status_changed: bool
    """Freshness or error changed: redraw the row's status."""


@dataclass(frozen=True, slots=True)
class FleetTotals:
    """Sums over the fleet (agents without a figure count as nothing, not as zero)."""

    agents: int
    balance: Decimal
    pnl: Decimal
    positions: int
    exposure: Decimal
    escrow_exposure: Decimal
    stale_agents: int


class FleetState:
    """Latest figures, staleness, history and totals for the whole fleet."""

    def __init__(
        self,
        agents: Iterable[AgentInfo] = (),
        *,
        intervals: Mapping[str, float] | None = None,
        history_len: int = DEFAULT_HISTORY,
        clock: Clock = SYSTEM_CLOCK,
        stale_factor: float = STALE_FACTOR,
        calls: CallStats | None = None,
        keep_samples: bool = False,
        history_metrics: Iterable[str] = HISTORY_METRICS,
    ) -> None:
        self._clock = clock
        self.version = 0
        """Bumped when agents come or go, an agent's info changes or the intervals do: what a
        reader that keeps derived state incrementally (the feed) must start again from."""
        self.calls = calls
        """The poller's call counters: the one source of every error rate pf-tui shows."""
        self.history_len = history_len
        self.history_metrics = frozenset(history_metrics)
        """The metrics that keep a history here (of :data:`HISTORY_METRICS`): the daemon's alert
        rules read several; the console only :data:`CONSOLE_HISTORY`."""
        self.stale_factor = stale_factor
        self.intervals: dict[DataType, float] = dict.fromkeys(ALL_TYPES, 5.0)
        if intervals:
            self.set_intervals(intervals)
        self.agents: dict[str, AgentState] = {}
        self.keep_samples = keep_samples
        """Whether each history point is also kept for :meth:`drain_samples`: only for a reader
        that drains them (the daemon, which stores them). The console never drains them: while
        its fleet kept them, it piled up 195,000 in four minutes at 5,000 agents, without end."""
        self._pending: list[Sample] = []
        self._polled: dict[DataType, int] = dict.fromkeys(ALL_TYPES, 0)
        self._failing: dict[DataType, int] = dict.fromkeys(ALL_TYPES, 0)
        """Per data type: figures polled at least once, and those whose last poll failed."""
        for info in agents:
            self.add_agent(info)

    # ---- membership and settings ----------------------------------------------------------

    def add_agent(self, info: AgentInfo) -> None:
        """Watch an agent (keeps its state if already there, updating its info)."""
        self.version += 1
        state = self.agents.get(info.agent_id)
        if state is None:
            self.agents[info.agent_id] = AgentState(info, since=self._clock.now())
        else:
            state.info = info

    def remove_agent(self, agent_id: str) -> None:
        """Forget an agent and its figures (its stored history stays in the store)."""
        self.version += 1
        state = self.agents.pop(agent_id, None)
        if state is not None:
            for kind, fig in state.figures.items():
                self._polled[kind] -= fig.fetched_at is not None or fig.error is not None
                self._failing[kind] -= fig.error is not None

    def polled_failing(self, kind: DataType) -> tuple[int, int]:
        """How many agents' ``kind`` figures were polled at least once, and how many of those
        failed their last poll (the Overview's service health, without a pass over the fleet)."""
        return self._polled[kind], self._failing[kind]

    def set_intervals(self, intervals: Mapping[str, float]) -> None:
        """Update the polling intervals staleness is measured against (keys: data type names)."""
        self.version += 1
        for name, seconds in intervals.items():
            try:
                self.intervals[DataType(name)] = float(seconds)
            except ValueError:
                continue  # "errors" and other non-polled settings

    # ---- applying results -----------------------------------------------------------------

    def apply(self, result: PollResult) -> Change | None:
        """Apply one poll result; return what changed (``None`` for an unknown agent)."""
        state = self.agents.get(result.agent_id)
        if state is None:
            return None
        fig = state.figures[result.kind]
        if fig.error is not None:
            self._failing[result.kind] -= 1
        elif fig.fetched_at is None:
            self._polled[result.kind] += 1
        if isinstance(result, Snapshot):
            state.requests += 1
            state.latencies.append(result.latency_s)
            # Bad before: failing, never fetched, or stale by age. Each is a status change the
            # caller must see even when the value is the same, or a row would stay "stale".
            was_bad = (
                fig.error is not None
                or fig.fetched_at is None
                or result.fetched_at - fig.fetched_at
                > self.stale_factor * self.intervals[result.kind]
            )
            fig.fetched_at = result.fetched_at
            fig.error = None
            fig.failures = 0
            if result.changed or fig.value is None:
                fig.value = result.value
                self._derive(state, result.kind, result.fetched_at)
                return Change(result.agent_id, result.kind, True, was_bad)
            return Change(result.agent_id, result.kind, False, was_bad) if was_bad else None
        state.requests += 1
        state.errors += 1
        self._failing[result.kind] += 1
        first = fig.error is None
        fig.error = result.error
        fig.error_at = result.at
        fig.failures = result.failures
        return Change(result.agent_id, result.kind, False, first)

    def apply_many(self, results: Iterable[PollResult]) -> set[str]:
        """Apply a batch; return the ids of agents with any change."""
        changed: set[str] = set()
        for result in results:
            change = self.apply(result)
            if change is not None:
                changed.add(change.agent_id)
        return changed

    def _derive(self, state: AgentState, kind: DataType, t: float) -> None:
        d = state.derived
        value = state.figures[kind].value
        if kind is DataType.BALANCE and isinstance(value, BalanceSnapshot):
            d["balance"] = value.balance.balance_usd
            d["wallet_usdc"] = value.wallet.total_usd if value.wallet is not None else None
            self._record(state, "balance", t, d["balance"])
        elif kind is DataType.POSITIONS and isinstance(value, Positions):
            d["positions"] = Decimal(len(value.items))
            d["exposure"] = sum(
                (abs(p.size_usd) for p in value.items if p.size_usd is not None), ZERO
            )
            d["unrealized_pnl"] = sum(
                (p.unrealized_pnl for p in value.items if p.unrealized_pnl is not None), ZERO
            )
            self._record(state, "positions", t, d["positions"])
            self._record(state, "exposure", t, d["exposure"])
        elif kind is DataType.PNL and isinstance(value, PnlHistory):
            d["trading_pnl"] = value.net_pnl
            dd = derived.max_drawdown(
                (amount for _, amount in cumulative_by_day(value.chart)),
                state.info.initial_balance or ZERO,
            )
            d["max_drawdown_usd"] = dd.max_drawdown_usd
            d["max_drawdown_pct"] = (
                value.max_drawdown_pct if not value.chart else dd.max_drawdown_pct
            )
            # The docs shape reports only the maximum: with no chart, the current fall is unknown.
            d["drawdown_pct"] = dd.drawdown_pct if value.chart else None
            self._record(state, "trading_pnl", t, value.net_pnl)
        elif kind is DataType.CASINO and isinstance(value, CasinoStats):
            d["casino_net"] = value.net_profit
            d["total_bets"] = Decimal(value.total_bets) if value.total_bets is not None else None
            self._record(state, "casino_net", t, value.net_profit)
            self._record(state, "total_bets", t, d["total_bets"])
        elif kind is DataType.REFERRALS and isinstance(value, ReferralSnapshot):
            d["referrals"] = Decimal(derived.referral_count(value.stats))
            d["referral_income"] = derived.referral_income(value.stats)
            self._record(state, "referrals", t, d["referrals"])
            self._record(state, "referral_income", t, d["referral_income"])
        elif kind is DataType.ESCROWS and isinstance(value, EscrowSnapshot):
            held = ZERO
            for e in value.escrows:
                if not e.status.terminal and e.creator_id in (None, state.info.agent_id):
                    held += e.remaining if e.remaining is not None else e.amount
            d["escrow_exposure"] = held
            d["disputes"] = Decimal(sum(e.status is EscrowStatus.DISPUTED for e in value.escrows))
            self._record(state, "escrow_exposure", t, held)
        if kind in (DataType.PNL, DataType.CASINO):
            d["pnl"] = derived.total_pnl(d.get("trading_pnl"), d.get("casino_net"))
            d["pnl_pct"] = derived.pnl_pct(d["pnl"], state.info.initial_balance)
            self._record(state, "pnl", t, d["pnl"])

    def _record(self, state: AgentState, metric: str, t: float, value: Decimal | None) -> None:
        if value is None:
            return
        if metric in DAY_METRICS:
            day = state.days.get(metric)
            if day is None:
                day = state.days[metric] = DayChange()
            day.append(t, value)
        if metric not in self.history_metrics:
            return
        ring = state.history.get(metric)
        if ring is None:
            ring = state.history[metric] = SampleRing(maxlen=self.history_len)
        elif ring and ring[-1][1] == value:
            return  # unchanged: a sparkline point and a stored row would say nothing new
        ring.append((t, value))
        if self.keep_samples:
            self._pending.append(Sample(state.info.agent_id, metric, t, value))

    # ---- reading --------------------------------------------------------------------------

    def staleness(self, agent_id: str, kind: DataType, now: float | None = None) -> Staleness:
        """Age of one figure and whether it is stale (older than 3 intervals, or never fetched)."""
        fig = self.agents[agent_id].figures[kind]
        now = self._clock.now() if now is None else now
        limit = self.stale_factor * self.intervals[kind]
        if fig.fetched_at is None:
            reason = _error_text(fig.error) if fig.error is not None else "not fetched yet"
            return Staleness(None, True, reason, fig.error)
        age = max(0.0, now - fig.fetched_at)
        if age <= limit:
            return Staleness(age, False)
        if fig.error is not None:
            return Staleness(age, True, _error_text(fig.error), fig.error)
        shown = f"{age:.1f}" if age < 10 else f"{age:.0f}"
        return Staleness(age, True, f"no update for {shown}s", None)

    def agent_staleness(
        self, agent_id: str, now: float | None = None, *, first_poll_grace: bool = False
    ) -> Staleness:
        """The agent's worst figure: oldest age; stale if any figure is, with the first reason.

        ``first_poll_grace``: a figure not fetched yet, and not failing, is stale only once its
        first poll is as late as a fetched figure may be old (``stale_factor`` intervals since
        the agent was added). The alert rules ask it so: the first polls are spread over each
        interval (the longest is 30 s by default), and until then every agent of a daemon just
        started read "not fetched yet", so every agent's ``data_stale`` went pending at each
        start. Money actions ask without it: a figure never fetched is never fresh enough to act
        on.
        """
        now = self._clock.now() if now is None else now
        oldest: float | None = None
        worst: Staleness | None = None
        since = self.agents[agent_id].since
        for kind in ALL_TYPES:
            s = self.staleness(agent_id, kind, now)
            if (
                first_poll_grace
                and s.age_s is None
                and s.error is None
                and now - since <= self.stale_factor * self.intervals[kind]
            ):
                continue  # its first poll is not late yet
            if s.age_s is not None and (oldest is None or s.age_s > oldest):
                oldest = s.age_s
            if s.stale and (worst is None or (worst.error is None and s.error is not None)):
                worst = Staleness(s.age_s, True, f"{kind.value}: {s.reason}", s.error)
        if worst is not None:
            return Staleness(oldest, True, worst.reason, worst.error)
        return Staleness(oldest, False)

    def staleness_check(self, agent_id: str, now: float) -> tuple[bool, float]:
        """``(stale, next check)``: whether the agent is stale at ``now`` (the verdict of
        :meth:`agent_staleness`, without a :class:`Staleness` per figure: the feed asks it of
        hundreds of agents a tick), and the earliest limit of a figure fresh at ``now``
        (``inf`` when none is fresh): the verdict can change by time alone only once the clock
        is past it.

        A stale figure turns fresh only through a poll result, and :meth:`apply` reports every
        such result as a change, so a caller that asks again for changed agents and for those
        whose check time has come sees every flip without asking about every agent every tick.
        """
        figures = self.agents[agent_id].figures
        factor, intervals = self.stale_factor, self.intervals
        stale = False
        at = math.inf
        for kind in ALL_TYPES:
            fetched = figures[kind].fetched_at
            if fetched is None:
                stale = True
                continue
            limit_at = fetched + factor * intervals[kind]
            if now > limit_at:
                stale = True
            elif limit_at < at:
                at = limit_at
        return stale, at

    def value(self, agent_id: str, metric: str) -> Decimal | None:
        """A derived figure of an agent (``balance``, ``pnl``, ``pnl_pct``, ``exposure``...)."""
        return self.agents[agent_id].derived.get(metric)

    def history(self, agent_id: str, metric: str) -> SampleRing:
        """The ring buffer of ``(t, value)`` for one metric (empty if none yet)."""
        return self.agents[agent_id].history.get(metric) or SampleRing(maxlen=self.history_len)

    def since_midnight(self, agent_id: str, metric: str, midnight: float) -> Decimal | None:
        """How far ``metric`` (one of :data:`DAY_METRICS`) moved since ``midnight``, the latest
        UTC midnight: zero when it has not moved since, ``None`` before its first figure."""
        day = self.agents[agent_id].days.get(metric)
        return None if day is None else day.since(midnight)

    def error_rate(self, agent_id: str) -> float | None:
        """The agent's error rate as the alert rule sees it: its worst service's failed share of
        calls over the last five minutes (:meth:`CallStats.error_rate`); ``None`` without the
        poller's call counters (``calls``) or before any call."""
        if self.calls is None:
            return None
        return self.calls.error_rate(agent_id).rate

    def totals(self, now: float | None = None) -> FleetTotals:
        """Fleet sums of balance, P&L, open positions, exposure and escrow exposure."""
        balance = pnl = exposure = held = ZERO
        positions = stale = 0
        for agent_id, state in self.agents.items():
            d = state.derived
            balance += d.get("balance") or ZERO
            pnl += d.get("pnl") or ZERO
            exposure += d.get("exposure") or ZERO
            held += d.get("escrow_exposure") or ZERO
            positions += int(d.get("positions") or 0)
            stale += self.agent_staleness(agent_id, now).stale
        return FleetTotals(len(self.agents), balance, pnl, positions, exposure, held, stale)

    # ---- persistence ----------------------------------------------------------------------

    def drain_samples(self) -> list[Sample]:
        """The history samples added since the last call, for :meth:`Store.put_samples`
        (always none unless the fleet was built with ``keep_samples``)."""
        out, self._pending = self._pending, []
        return out

    def load_history(self, history: History) -> None:
        """Refill ring buffers from the store (at start-up) for agents being watched."""
        for (agent_id, metric), rows in history.items():
            state = self.agents.get(agent_id)
            if state is None:
                continue
            if metric in DAY_METRICS:
                day = state.days[metric] = DayChange()
                for t, value in rows:
                    day.append(t, value)
            if metric in self.history_metrics:
                state.history[metric] = SampleRing(rows[-self.history_len :], self.history_len)


def _error_text(error: Exception | None) -> str:
    if error is None:
        return ""
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}" if text != type(error).__name__ else text
