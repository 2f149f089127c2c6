"""Derived figures: pure functions from the API models (and the fleet's history) to numbers.

Conventions, settled here once so that the TUI, the daemon and the alerts agree:

- Money is ``Decimal`` in and out; ratios, latencies and Sharpe are ``float`` (they are not money).
- P&L is trading net P&L (``/trade/pnl-history`` ``summary.net_pnl``) plus casino net profit
  (``/stats/me`` ``lifetime.net_profit``), the same sum the docs aggregate calls ``total_usd``.
- Equity for drawdown and returns is ``initial_balance + cumulative_pnl`` of the trading chart.
- Sharpe: daily simple returns ``daily_pnl / equity at the start of that day`` over the last
  7 chart days; ``mean / sample std (ddof=1) * sqrt(365)`` (crypto trades every day, so 365, not
  252); no risk-free rate. Fewer than 2 returns, or a zero std, gives ``None``: undefined, not 0.
- Latency percentiles and error rates are the poller's (:mod:`pf_tui.core.polling.callstats`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from pf_tui.api.models import (
    Activity,
    Balance,
    CasinoStats,
    Escrow,
    EscrowStatus,
    GameStats,
    PnlPoint,
    ReferralStats,
)

ZERO = Decimal(0)
HUNDRED = Decimal(100)
SHARPE_WINDOW_DAYS = 7
DAYS_PER_YEAR = 365
COIN_FLIP_WIN_P = 0.5
"""Coin flip pays 1.99x on a fair coin: the 0.5% house edge is in the payout, not the odds."""
HOUSE_RTP = Decimal("0.995")
"""Dice multiplier = 0.995 / p (docs/api.md §7), so p = 0.995 / multiplier."""
SPEND_TYPES = frozenset({"withdrawal", "escrow_lock"})
"""``recent_activity`` types that are money leaving the agent, not P&L."""


def balance_of(balance: Balance | None) -> Decimal | None:
    """The custodial balance in USD, ``None`` when not fetched yet."""
    return None if balance is None else balance.balance_usd


def total_pnl(trading_net: Decimal | None, casino_net: Decimal | None) -> Decimal | None:
    """Trading net P&L plus casino net profit; ``None`` only when neither is known."""
    if trading_net is None and casino_net is None:
        return None
    return (trading_net or ZERO) + (casino_net or ZERO)


def pnl_pct(pnl: Decimal | None, initial_balance: Decimal | None) -> Decimal | None:
    """P&L as a percent of the agent's initial balance (``None`` without a positive base)."""
    if pnl is None or initial_balance is None or initial_balance <= 0:
        return None
    return pnl * HUNDRED / initial_balance


def daily_returns(chart: Sequence[PnlPoint], initial_balance: Decimal) -> list[float]:
    """Simple daily returns: each day's P&L over the equity at the start of that day.

    A day whose starting equity is not positive has no meaningful return and is skipped.
    """
    returns: list[float] = []
    for point in chart:
        start = initial_balance + point.cumulative_pnl - point.daily_pnl
        if start > 0:
            # The ratio is dimensionless: float is fine here (not money).
            returns.append(float(point.daily_pnl / start))
    return returns


def sharpe_ratio(returns: Sequence[float], periods_per_year: int = DAYS_PER_YEAR) -> float | None:
    """Annualised Sharpe: ``mean / sample std * sqrt(periods_per_year)``; ``None`` if undefined."""
    n = len(returns)
    if n < 2:
        return None
    mean = sum(returns) / n
    var = sum((r - mean) ** 2 for r in returns) / (n - 1)
    if var <= 0:
        return None
    return mean / math.sqrt(var) * math.sqrt(periods_per_year)


def rolling_sharpe(
    chart: Sequence[PnlPoint], initial_balance: Decimal, days: int = SHARPE_WINDOW_DAYS
) -> float | None:
    """Sharpe ratio of the last ``days`` chart days (see the module's conventions)."""
    return sharpe_ratio(daily_returns(chart[-days:], initial_balance))


@dataclass(frozen=True, slots=True)
class DrawdownFigures:
    """Largest peak-to-trough fall of equity: in USD, and as a percent of its peak."""

    max_drawdown_usd: Decimal
    max_drawdown_pct: Decimal | None
    """Largest ``(peak - equity) / peak * 100``; ``None`` when no peak was positive."""
    drawdown_pct: Decimal | None = None
    """The fall *now*: ``(peak - last equity) / peak * 100``, 0 once equity is back at its peak;
    ``None`` when no peak was positive. Unlike the maximum it clears when the agent recovers."""


def max_drawdown(cumulative: Iterable[Decimal], initial_balance: Decimal = ZERO) -> DrawdownFigures:
    """Peak-to-trough drawdown of ``initial_balance + cumulative`` (USD and %, both >= 0).

    The starting equity (before the first point) counts as a peak, so a series that only falls
    has a drawdown from the initial balance. USD and % maxima are taken independently.
    """
    peak = initial_balance
    worst_usd = ZERO
    worst_pct: Decimal | None = None
    current_pct: Decimal | None = ZERO if peak > 0 else None
    for value in cumulative:
        equity = initial_balance + value
        if equity > peak:
            peak = equity
        fall = peak - equity
        if fall > worst_usd:
            worst_usd = fall
        if peak > 0:
            current_pct = fall * HUNDRED / peak
            if worst_pct is None or current_pct > worst_pct:
                worst_pct = current_pct
    return DrawdownFigures(worst_usd, worst_pct, current_pct)


def dice_win_probability(direction: str, threshold: Decimal) -> Decimal:
    """Chance that a dice bet wins: rolls 0.00..99.99; ``over T`` wins above T, ``under`` below."""
    if direction == "over":
        return (Decimal("99.99") - threshold) / HUNDRED
    if direction == "under":
        return threshold / HUNDRED
    raise ValueError(f"dice direction must be 'over' or 'under', not {direction!r}")


def _expected_p(game: GameStats) -> float | None:
    name = game.game.replace("_", "-").lower()
    if name in ("coin-flip", "coinflip"):
        return COIN_FLIP_WIN_P
    if name == "dice":
        # The threshold is not in the stats, but the multiplier paid is 0.995 / p, and the
        # average multiplier paid equals won / (wins * average stake).
        if not game.bets or not game.win_rate or game.won <= 0 or game.wagered <= 0:
            return None
        wins_stake = game.wagered * game.win_rate  # stake of the winning bets, equal stakes assumed
        multiplier = game.won / wins_stake
        return float(HOUSE_RTP / multiplier) if multiplier > 0 else None
    return None


@dataclass(frozen=True, slots=True)
class WinRateComparison:
    """Realised casino win rate beside the rate the games played should give."""

    actual: float | None
    expected: float | None
    bets: int

    @property
    def deviation(self) -> float | None:
        """``actual - expected`` in rate points (positive: luckier than the odds)."""
        if self.actual is None or self.expected is None:
            return None
        return self.actual - self.expected


def win_rate_vs_expected(stats: CasinoStats) -> WinRateComparison:
    """Bet-weighted expected win rate over ``by_game`` against the realised lifetime rate."""
    weighted = 0.0
    counted = 0
    for game in stats.by_game:
        p = _expected_p(game)
        if p is not None and game.bets > 0:
            weighted += p * game.bets
            counted += game.bets
    expected = weighted / counted if counted else None
    bets = stats.total_bets if stats.total_bets is not None else sum(g.bets for g in stats.by_game)
    # No bets, no rate: a server's `win_rate: 0` for an agent that never played is not a 0% rate.
    actual = float(stats.win_rate) if stats.win_rate is not None and bets else None
    return WinRateComparison(actual, expected, bets)


def bets_today(stats: CasinoStats, total_bets_at_midnight: int | None) -> int | None:
    """The docs field when present, else ``total_bets`` minus its value at UTC midnight."""
    if stats.bets_today is not None:
        return stats.bets_today
    if stats.total_bets is None or total_bets_at_midnight is None:
        return None
    return max(0, stats.total_bets - total_bets_at_midnight)


def escrow_dispute_rate(escrows: Iterable[Escrow], *, also_seen: int = 0) -> float | None:
    """Disputed escrows over all escrows seen (``also_seen``: undisputed ones seen but not in
    ``escrows``); ``None`` with none."""
    total, disputed = also_seen, 0
    for escrow in escrows:
        total += 1
        disputed += escrow.status is EscrowStatus.DISPUTED
    return disputed / total if total else None


def referral_count(stats: Iterable[ReferralStats]) -> int:
    """Referrals summed over services (casino, trading, wallet)."""
    return sum(s.total_referrals for s in stats)


def referral_income(stats: Iterable[ReferralStats]) -> Decimal:
    """Referral income in USD summed over services."""
    return sum((s.total_earned_usd or ZERO for s in stats), ZERO)


@dataclass(frozen=True, slots=True)
class ReferralFunnel:
    """Referred agents that registered, and those that went on to transact."""

    registered: int
    transacted: int

    @property
    def conversion(self) -> float | None:
        """Transacted over registered; ``None`` with no registrations."""
        return self.transacted / self.registered if self.registered else None


def referral_funnel(stats: Iterable[ReferralStats]) -> ReferralFunnel:
    """Registrations (casino referrals: agents register at the casino) -> first transaction.

    Production has no per-referral activity flag, so "transacted" counts referrals that show up
    where a transaction creates them: the trading and wallet services record a referral when the
    referred agent first trades or uses the wallet. The larger of the two, capped by the
    registrations, is the count of referred agents known to have transacted.
    """
    by_service = {s.service: s.total_referrals for s in stats}
    registered = by_service.get("casino", 0)
    transacted = max(by_service.get("trading", 0), by_service.get("wallet", 0))
    return ReferralFunnel(registered, min(transacted, registered) if registered else transacted)


def spend_rate_from_history(
    balances: Sequence[tuple[float, Decimal]],
    pnls: Sequence[tuple[float, Decimal]],
) -> Decimal | None:
    """USD per hour leaving the agent: the fall in balance not explained by P&L.

    ``balances`` and ``pnls`` are ``(unix time, value)`` samples; the window runs from the first
    to the last balance sample, and P&L is read at the samples nearest its ends. A negative
    result (money came in) is reported as 0: spend is outflow only.
    """
    if len(balances) < 2:
        return None
    (t0, b0), (t1, b1) = balances[0], balances[-1]
    hours = Decimal(str(t1 - t0)) / Decimal(3600)
    if hours <= 0:
        return None
    d_pnl = ZERO
    if pnls:
        d_pnl = _nearest(pnls, t1) - _nearest(pnls, t0)
    outflow = -((b1 - b0) - d_pnl)
    return max(ZERO, outflow / hours)


def _nearest(series: Sequence[tuple[float, Decimal]], t: float) -> Decimal:
    return min(series, key=lambda s: abs(s[0] - t))[1]


def spend_rate_from_activity(
    activity: Iterable[Activity], now: datetime, window_hours: Decimal = Decimal(1)
) -> Decimal:
    """USD per hour of withdrawals and escrow locks in ``recent_activity`` within the window."""
    window_s = float(window_hours) * 3600.0
    spent = ZERO
    for move in activity:
        if move.type not in SPEND_TYPES or move.at is None:
            continue
        if 0 <= (now - move.at).total_seconds() <= window_s:
            spent += abs(move.amount)
    return spent / window_hours
