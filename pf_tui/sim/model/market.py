"""Prices that random-walk, and each agent's trading account: positions, closed trades, P&L series.

Margin stays in the agent's trading account while a position is open; realised P&L and fees settle
against the house (the trading counterparty), so money is conserved.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from pf_tui.sim.model.accounts import Accounts, Agent
from pf_tui.sim.model.errors import ApiError
from pf_tui.sim.model.ids import Ids
from pf_tui.sim.model.num import ZERO, day_start, iso, num, parse_amount, q2, q6
from pf_tui.usd import JSON

INITIAL_PRICES: dict[str, Decimal] = {
    "BTC": Decimal("97250"),
    "ETH": Decimal("3410.5"),
    "SOL": Decimal("187.3"),
    "HYPE": Decimal("24.61"),
    "ARB": Decimal("0.8512"),
    "DOGE": Decimal("0.3174"),
}
TRADE_FEE_RATE = Decimal("0.0005")
TRADING_REFERRAL_SHARE = Decimal("0.10")
MIN_SIZE_USD = Decimal("1")
MAX_LEVERAGE = 50
_STEP_SCALE = Decimal("0.0001")


@dataclass(slots=True, eq=False)
class Position:
    """An open position; ``margin = size_usd / leverage`` is held in the agent's trading account."""

    position_id: str
    coin: str
    side: str
    size_usd: Decimal
    leverage: int
    margin: Decimal
    entry_price: Decimal
    opened_at: float

    def pnl(self, price: Decimal) -> Decimal:
        move = (price - self.entry_price) / self.entry_price * self.size_usd
        return q2(move if self.side == "long" else -move)

    def liquidation_price(self) -> Decimal:
        frac = Decimal(1) / self.leverage
        factor = 1 - frac if self.side == "long" else 1 + frac
        return q6(self.entry_price * factor)


@dataclass(slots=True)
class Trade:
    """A closed trade: realised P&L (before fee) and the fee, in USD."""

    closed_at: float
    coin: str
    side: str
    pnl: Decimal
    fee: Decimal


class Market:
    """Coin prices (a seeded multiplicative random walk in basis points) and trading operations."""

    def __init__(self, accounts: Accounts, ids: Ids, rng: random.Random) -> None:
        self.accounts = accounts
        self.ids = ids
        self.rng = rng
        self.prices: dict[str, Decimal] = dict(INITIAL_PRICES)
        self.history: dict[str, deque[Decimal]] = {
            c: deque([p], maxlen=60) for c, p in self.prices.items()
        }
        self.version = 0

    def step(self) -> None:
        """One simulated second of price motion."""
        rng = self.rng
        for coin in self.prices:
            bp = rng.randint(-8, 8)
            if bp:
                price = self.prices[coin] * (1 + bp * _STEP_SCALE)
                self.prices[coin] = q6(price) if price < 100 else q2(price)
            self.history[coin].append(self.prices[coin])
        self.version += 1

    def trend(self, coin: str) -> int:
        """+1 when the coin rose over the last minute, -1 when it fell, 0 when flat."""
        hist = self.history[coin]
        return (hist[-1] > hist[0]) - (hist[-1] < hist[0])

    def open(
        self, agent: Agent, coin: JSON, side: JSON, raw_size: JSON, raw_leverage: JSON, at: float
    ) -> Position:
        if not isinstance(coin, str) or coin.upper() not in self.prices:
            raise ApiError(400, "invalid_coin", f"coin must be one of {', '.join(self.prices)}")
        if side not in ("long", "short"):
            raise ApiError(400, "invalid_side", "side must be long or short")
        size = parse_amount(raw_size, code="invalid_size", field="size_usd")
        if size < MIN_SIZE_USD:
            raise ApiError(400, "invalid_size", f"size_usd must be at least {MIN_SIZE_USD}")
        leverage = 1 if raw_leverage is None else raw_leverage
        if (
            isinstance(leverage, bool)
            or not isinstance(leverage, int)
            or not 1 <= leverage <= MAX_LEVERAGE
        ):
            raise ApiError(
                400, "invalid_leverage", f"leverage must be a whole number from 1 to {MAX_LEVERAGE}"
            )
        size = q2(size)
        margin = q6(size / leverage)
        free = agent.trading - agent.margin_locked()
        if margin > free:
            raise ApiError(
                400, "insufficient_balance", "not enough free margin", available=num(free)
            )
        coin = coin.upper()
        pos = Position(
            self.ids.position(), coin, side, size, leverage, margin, self.prices[coin], at
        )
        agent.positions[pos.position_id] = pos
        agent.touch()
        return pos

    def close(self, agent: Agent, position_id: JSON, at: float) -> dict[str, JSON]:
        pos = agent.positions.get(position_id) if isinstance(position_id, str) else None
        if pos is None:
            raise ApiError(404, "position_not_found", "no open position with that id")
        price = self.prices[pos.coin]
        pnl = max(pos.pnl(price), -pos.margin)
        fee = q2(pos.size_usd * TRADE_FEE_RATE)
        net = max(pnl - fee, -pos.margin)
        fee = pnl - net
        del agent.positions[position_id]
        agent.trading += net
        self.accounts.house -= net
        if agent.referred_by and fee > 0:
            referrer = self.accounts.agents.get(agent.referred_by)
            if referrer is not None:
                share = q6(fee * TRADING_REFERRAL_SHARE)
                referrer.trading += share
                referrer.trading_ref_fees += fee
                referrer.trading_ref_earned += share
                self.accounts.house -= share
                referrer.touch()
        agent.trades.append(Trade(at, pos.coin, pos.side, pnl, fee))
        agent.touch()
        return {
            "position_id": position_id,
            "coin": pos.coin,
            "status": "closed",
            "exit_price": num(price),
            "realized_pnl": num(pnl),
            "fee": num(fee),
            "net_pnl": num(net),
        }

    def liquidate_due(self, agent: Agent, at: float) -> None:
        """Close positions whose loss reached their margin (the only liquidation there is)."""
        for pid, pos in list(agent.positions.items()):
            if pos.pnl(self.prices[pos.coin]) <= -pos.margin:
                self.close(agent, pid, at)

    # --- reads -----------------------------------------------------------------------------

    def positions_wire(self, agent: Agent, database: bool) -> dict[str, JSON]:
        items = []
        for pos in agent.positions.values():
            price = self.prices[pos.coin]
            pnl = pos.pnl(price)
            if database:
                items.append(
                    {
                        "id": pos.position_id,
                        "coin": pos.coin,
                        "side": pos.side,
                        "sizeUsd": num(pos.size_usd),
                        "entryPrice": num(pos.entry_price),
                        "leverage": pos.leverage,
                        "liquidationPrice": num(pos.liquidation_price()),
                        "unrealizedPnl": num(pnl),
                        "status": "open",
                        "openedAt": int(pos.opened_at * 1000),
                        "ticker": f"{pos.coin}-PERP",
                        "current_price": num(price),
                        "unrealized_pnl": num(pnl),
                    }
                )
            else:
                items.append(
                    {
                        "position_id": pos.position_id,
                        "coin": pos.coin,
                        "ticker": f"{pos.coin}-PERP",
                        "side": pos.side,
                        "size": num(q6(pos.size_usd / pos.entry_price)),
                        "size_usd": num(pos.size_usd),
                        "entry_price": num(pos.entry_price),
                        "current_price": num(price),
                        "leverage": pos.leverage,
                        "liquidation_price": num(pos.liquidation_price()),
                        "unrealized_pnl": num(pnl),
                    }
                )
        return {
            "positions": items,
            "count": len(items),
            "source": "database" if database else "hyperliquid",
        }

    def unrealized(self, agent: Agent) -> Decimal:
        return sum((p.pnl(self.prices[p.coin]) for p in agent.positions.values()), ZERO)

    def daily(self, agent: Agent, days: int, now: float) -> list[tuple[str, Decimal]]:
        """Net P&L per UTC day for the last ``days`` days (oldest first, every day present)."""
        today = day_start(now)
        first = today - 86400 * (days - 1)
        buckets = {first + 86400 * i: ZERO for i in range(days)}
        for t in agent.trades:
            d = day_start(t.closed_at)
            if d in buckets:
                buckets[d] += t.pnl - t.fee
        return [(iso(d)[:10], v) for d, v in buckets.items()]

    def pnl_history(self, agent: Agent, days: int, now: float) -> dict[str, JSON]:
        since = day_start(now) - 86400 * (days - 1)
        trades = [t for t in agent.trades if t.closed_at >= since]
        total = sum((t.pnl for t in trades), ZERO)
        fees = sum((t.fee for t in trades), ZERO)
        wins = sum(1 for t in trades if t.pnl - t.fee > 0)
        chart = []
        cum = ZERO
        for date, v in self.daily(agent, days, now):
            cum += v
            chart.append({"date": date, "daily_pnl": num(q2(v)), "cumulative_pnl": num(q2(cum))})
        return {
            "summary": {
                "total_pnl": num(q2(total)),
                "total_fees": num(q2(fees)),
                "net_pnl": num(q2(total - fees)),
                "total_trades": len(trades),
                "win_rate_pct": num(q2(Decimal(wins * 100) / len(trades))) if trades else 0,
            },
            "chart": chart,
            "days": days,
        }

    def drawdown(self, agent: Agent, days: int, now: float) -> dict[str, JSON]:
        since = day_start(now) - 86400 * (days - 1)
        trades = [t for t in agent.trades if t.closed_at >= since]
        if not trades:
            return {"message": "No closed trades in this period"}
        base = agent.trading_start if agent.trading_start > 0 else Decimal(1)
        equity = peak = base
        max_dd = ZERO
        max_pct = ZERO
        for t in sorted(trades, key=lambda t: t.closed_at):
            equity += t.pnl - t.fee
            peak = max(peak, equity)
            dd = peak - equity
            if dd > max_dd:
                max_dd = dd
                max_pct = dd / peak * 100 if peak > 0 else ZERO
        return {
            "summary": {
                "max_drawdown_usd": num(q2(max_dd)),
                "max_drawdown_pct": num(q2(max_pct)),
                "current_equity_usd": num(q2(equity)),
                "peak_equity_usd": num(q2(peak)),
                "total_trades": len(trades),
            },
            "days": days,
        }
