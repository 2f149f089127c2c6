"""The Fleet row's figures, kept as agents' views are replaced instead of summed every tick.

At 5,000 agents, summing two dozen figures over every agent on every tick cost more than
building the rows that changed (docs/performance.md, "The Fleet tab at 5,000 agents").
:class:`FleetSums` takes each agent's new :class:`AgentView` out of the sums and puts the new one
in: money sums stay exact (Decimal adds and takes back the same values); float sums are
compensated (an outlier taken out again leaves no trace) and recounted from the views now and
then; the worst and oldest figures are recomputed only when the agent holding them changed.
"""

from __future__ import annotations

import math
from decimal import Decimal

from pf_tui.text import plural
from pf_tui.views.model import AgentView

__all__ = ["FleetSums"]

ZERO = Decimal(0)

_MONEY = ("balance", "pnl_today", "pnl_total", "referral_income", "escrow_exposure")
"""Summed exactly; ``None`` when no agent has one."""
_COUNTS = ("open_positions", "referrals", "funnel_referrals", "funnel_earning")
"""Summed; ``None`` when no agent has one."""
_MEANS = ("error_rate", "sharpe_7d", "dispute_rate")
"""Averaged over the agents that have one."""
_BET_WEIGHTED = ("win_rate", "expected_win_rate")
"""Averaged by bets: agents that never bet have no rate."""
_WORST = ("latency_p95_ms", "max_drawdown_pct")
"""The highest of any agent."""

RECOUNT_EVERY = 50
"""Float sums are recounted from the views after this many replacements per agent."""


class FleetSums:
    """Fleet-wide figures over the agents' latest views."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._views: dict[str, AgentView] = {}
        self._money: dict[str, Decimal] = dict.fromkeys(_MONEY, ZERO)
        self._ints: dict[str, int] = dict.fromkeys(_COUNTS, 0)
        self._floats: dict[str, float] = dict.fromkeys(_MEANS + _BET_WEIGHTED, 0.0)
        self._carry: dict[str, float] = dict.fromkeys(_MEANS + _BET_WEIGHTED, 0.0)
        """The low-order parts the float sums could not hold (compensated summation)."""
        self._nonfinite: dict[str, int] = dict.fromkeys(_MEANS + _BET_WEIGHTED, 0)
        self._have: dict[str, int] = dict.fromkeys(_MONEY + _COUNTS + _MEANS + _BET_WEIGHTED, 0)
        """How many agents have each figure (for bet-weighted ones: how many bets)."""
        self._bets = 0
        self._stale = 0
        self._worst: dict[str, float | None] = dict.fromkeys((*_WORST, "updated_at"))
        self._dirty: set[str] = set()
        """Extremes whose holder changed: recomputed from every view when next read."""
        self._replaced = 0

    def __len__(self) -> int:
        return len(self._views)

    def put(self, view: AgentView) -> None:
        """Count ``view`` in place of the agent's previous one."""
        old = self._views.get(view.agent_id)
        if old is view:
            return
        self._views[view.agent_id] = view
        if old is None:
            self._count(view, 1)
            return
        self._replaced += 1
        self._swap(old, view)
        if self._replaced > RECOUNT_EVERY * len(self._views) + 1000:
            self._recount()

    def drop(self, agent_id: str) -> None:
        """Stop counting an agent."""
        old = self._views.pop(agent_id, None)
        if old is not None:
            self._count(old, -1)

    def _recount(self) -> None:
        views = list(self._views.values())
        self._reset()
        for view in views:
            self.put(view)

    def _count(self, v: AgentView, sign: int) -> None:
        have = self._have
        for name in _MONEY:
            x = getattr(v, name)
            if x is not None:
                self._money[name] = self._money[name] + x if sign > 0 else self._money[name] - x
                have[name] += sign
        for name in _COUNTS:
            x = getattr(v, name)
            if x is not None:
                self._ints[name] += sign * x
                have[name] += sign
        for name in _MEANS:
            x = getattr(v, name)
            if x is not None:
                self._add(name, x, sign)
                have[name] += sign
        bets = v.casino_bets
        if bets:
            self._bets += sign * bets
            for name in _BET_WEIGHTED:
                x = getattr(v, name)
                if x is not None:
                    self._add(name, x * bets, sign)
                    have[name] += sign * bets
        self._stale += sign * v.stale
        worst = self._worst
        for name in (*_WORST, "updated_at"):
            x = getattr(v, name)
            if x is None or name in self._dirty:
                continue
            cur = worst[name]
            lower = name == "updated_at"  # the oldest update is the fleet's
            if sign > 0:
                if cur is None or (x < cur if lower else x > cur):
                    worst[name] = x
            elif cur is None or x == cur:
                self._dirty.add(name)  # the holder left: find the next one when asked

    def _swap(self, old: AgentView, new: AgentView) -> None:
        """Count ``new`` in place of ``old``: what ``_count(old, -1)`` then ``_count(new, 1)``
        would do, touching only the figures that differ (most of an agent's do not, from one
        tick to the next: at 5,000 agents, hundreds of agents are replaced a tick)."""
        have = self._have
        money = self._money
        for name in _MONEY:
            a, b = getattr(old, name), getattr(new, name)
            if a is b:
                continue
            if a is not None:
                money[name] -= a
                have[name] -= 1
            if b is not None:
                money[name] += b
                have[name] += 1
        for name in _COUNTS:
            a, b = getattr(old, name), getattr(new, name)
            if a == b:
                continue
            if a is not None:
                self._ints[name] -= a
                have[name] -= 1
            if b is not None:
                self._ints[name] += b
                have[name] += 1
        for name in _MEANS:
            a, b = getattr(old, name), getattr(new, name)
            if a == b:  # a NaN is never equal: it is taken out and put in again
                continue
            if a is not None:
                self._add(name, a, -1)
                have[name] -= 1
            if b is not None:
                self._add(name, b, 1)
                have[name] += 1
        old_bets, bets = old.casino_bets, new.casino_bets
        if old_bets or bets:
            self._bets += (bets or 0) - (old_bets or 0)
            for name in _BET_WEIGHTED:
                a, b = getattr(old, name), getattr(new, name)
                if old_bets == bets and a == b:
                    continue
                if old_bets and a is not None:
                    self._add(name, a * old_bets, -1)
                    have[name] -= old_bets
                if bets and b is not None:
                    self._add(name, b * bets, 1)
                    have[name] += bets
        self._stale += new.stale - old.stale
        worst = self._worst
        dirty = self._dirty
        for name in (*_WORST, "updated_at"):
            a, b = getattr(old, name), getattr(new, name)
            if a == b or name in dirty:
                continue
            cur = worst[name]
            lower = name == "updated_at"  # the oldest update is the fleet's
            if a is not None and (cur is None or a == cur):
                dirty.add(name)  # the holder left: find the next one when asked
            elif b is not None and (cur is None or (b < cur if lower else b > cur)):
                worst[name] = b

    def _add(self, name: str, x: float, sign: int) -> None:
        """Add (``sign`` 1) or take out (-1) ``x`` in a float sum, compensated (Neumaier): an
        outlier put in and taken out again (a Sharpe ratio of 1e17 from a flat series) leaves
        the others' sum as it was. Infinities and NaNs are only counted (see :meth:`_mean`)."""
        if not math.isfinite(x):
            self._nonfinite[name] += sign
            return
        x = sign * x
        s = self._floats[name]
        t = s + x
        if abs(s) >= abs(x):
            self._carry[name] += (s - t) + x
        else:
            self._carry[name] += (x - t) + s
        self._floats[name] = t

    def _mean(self, name: str) -> float | None:
        """A mean (or a bet-weighted one) over the agents that have the figure."""
        weight = self._have[name]
        if not weight:
            return None
        if self._nonfinite[name]:  # an inf or NaN among them: what the plain sum would say
            weighted = name in _BET_WEIGHTED
            total = 0.0
            for v in self._views.values():
                x = getattr(v, name)
                if x is not None and (not weighted or v.casino_bets):
                    total += x * v.casino_bets if weighted and v.casino_bets else x
            return total / weight
        return (self._floats[name] + self._carry[name]) / weight

    def _extreme(self, name: str) -> float | None:
        if name in self._dirty:
            self._dirty.discard(name)
            values = [x for v in self._views.values() if (x := getattr(v, name)) is not None]
            self._worst[name] = (min if name == "updated_at" else max)(values, default=None)
        return self._worst[name]

    def view(self, pnl_series: tuple[Decimal, ...]) -> AgentView:
        """The Fleet row (``agent_id`` ``*``)."""
        have = self._have

        def money(name: str) -> Decimal | None:
            return self._money[name] if have[name] else None

        def count(name: str) -> int | None:
            return self._ints[name] if have[name] else None

        mean = self._mean

        balance, pnl = money("balance"), money("pnl_total")
        initial = balance - pnl if balance is not None and pnl is not None else None
        stale = self._stale
        return AgentView(
            agent_id="*",
            label=f"fleet ({plural(len(self._views), 'agent')})",
            balance=balance,
            pnl_today=money("pnl_today"),
            pnl_total=pnl,
            pnl_pct=(pnl * 100 / initial) if pnl is not None and initial else None,
            open_positions=count("open_positions"),
            referrals=count("referrals"),
            referral_income=money("referral_income"),
            win_rate=mean("win_rate"),
            expected_win_rate=mean("expected_win_rate"),
            casino_bets=self._bets,
            latency_p95_ms=self._extreme("latency_p95_ms"),
            error_rate=mean("error_rate"),
            escrow_exposure=money("escrow_exposure"),
            sharpe_7d=mean("sharpe_7d"),
            max_drawdown_pct=self._extreme("max_drawdown_pct"),
            max_drawdown_usd=None,
            dispute_rate=mean("dispute_rate"),
            funnel_referrals=count("funnel_referrals"),
            funnel_earning=count("funnel_earning"),
            updated_at=self._extreme("updated_at"),
            stale=bool(stale),
            stale_reason=f"{plural(stale, 'agent')} stale" if stale else "",
            pnl_series=pnl_series,
        )
