"""Typed models of what Purple Flea answers, one shape for both dialects.

The servers (production) and the public guides (docs) describe the same facts in different shapes
(docs/api.md §2-§3). :mod:`pf_tui.api.normalize` is the one place that maps either shape onto these
models; everything above the client (engine, daemon, TUI) sees only these. Money is ``Decimal``,
times are timezone-aware ``datetime`` in UTC, rates are fractions in 0..1, and a figure a shape
does not carry is ``None`` (never a made-up zero).
"""

from __future__ import annotations

import enum
import sys
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import overload

from pf_tui.usd import PACK_ODD, pack, unpack


class EscrowStatus(str, enum.Enum):
    """Canonical escrow states (docs/api.md §3). Docs ``locked`` maps to FUNDED."""

    FUNDED = "funded"
    COMPLETED = "completed"
    RELEASED = "released"
    DISPUTED = "disputed"
    REFUNDED = "refunded"
    CLOSED = "closed"

    @property
    def terminal(self) -> bool:
        """Terminal states never change again."""
        return self not in (EscrowStatus.FUNDED, EscrowStatus.COMPLETED)

    @property
    def settled(self) -> bool:
        """Terminal with its money moved (released, refunded, closed): not frozen in a dispute."""
        return self.terminal and self is not EscrowStatus.DISPUTED


class Dialect(str, enum.Enum):
    """Which escrow API an escrow was made through."""

    CLASSIC = "classic"
    """Production: ``/escrow/create``, whole releases, timeout refunds the creator."""
    STREAMING = "streaming"
    """Docs: ``/api/v1/escrow``, partial releases, timeout pays the payee."""


@dataclass(frozen=True, slots=True)
class Activity:
    """One recent balance move (``recent_activity`` of ``/auth/balance``)."""

    type: str
    amount: Decimal
    balance_after: Decimal | None
    reason: str
    service: str
    at: datetime | None


@dataclass(frozen=True, slots=True)
class Lifetime:
    """Lifetime casino account totals."""

    total_deposited: Decimal | None = None
    total_withdrawn: Decimal | None = None
    total_wagered: Decimal | None = None
    total_won: Decimal | None = None
    net_profit: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Balance:
    """Custodial (casino) USD balance: production ``/auth/balance``, docs ``/wallet/balance``."""

    balance_usd: Decimal
    agent_id: str | None = None
    lifetime: Lifetime | None = None
    recent_activity: tuple[Activity, ...] = ()


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One casino ledger row; escrow rows are how pf-tui finds escrows (docs/api.md §2, §5)."""

    id: str
    type: str
    amount: Decimal
    balance_after: Decimal | None
    reason: str
    reference: str
    service: str
    at: datetime | None


@dataclass(frozen=True, slots=True)
class GameStats:
    """Per-game casino figures."""

    game: str
    bets: int
    wagered: Decimal
    won: Decimal
    net: Decimal
    win_rate: Decimal | None
    """Fraction 0..1."""


@dataclass(frozen=True, slots=True)
class CasinoStats:
    """Casino figures: production ``/stats/me``, docs ``/casino/stats``."""

    total_bets: int | None = None
    total_wagered: Decimal | None = None
    total_won: Decimal | None = None
    net_profit: Decimal | None = None
    win_rate: Decimal | None = None
    """Fraction 0..1 (production sends a percent, docs a fraction)."""
    by_game: tuple[GameStats, ...] = ()
    bets_today: int | None = None
    """Only the docs shape carries it; production derives it from ``total_bets`` deltas."""


@dataclass(frozen=True, slots=True)
class Bet:
    """One casino bet (``/bets/history`` and docs ``/casino/recent``)."""

    id: str
    game: str
    amount: Decimal
    amount_won: Decimal
    multiplier: Decimal | None
    won: bool
    net: Decimal
    at: datetime | None


@dataclass(frozen=True, slots=True)
class Position:
    """An open trading position (hyperliquid, database or docs shape)."""

    position_id: str
    pair: str
    """Market name as shown (``ticker`` or ``coin``; docs ``pair``)."""
    side: str
    """``long`` or ``short``."""
    size_usd: Decimal | None
    entry_price: Decimal | None
    current_price: Decimal | None
    unrealized_pnl: Decimal | None
    leverage: Decimal | None = None
    liquidation_price: Decimal | None = None
    size: Decimal | None = None
    """Size in coin units where the shape gives it."""
    source: str = "hyperliquid"


@dataclass(frozen=True, slots=True)
class Positions:
    """All open positions of one agent."""

    items: tuple[Position, ...]
    source: str = "hyperliquid"


@dataclass(frozen=True, slots=True)
class PnlPoint:
    """One day of the trading P&L chart."""

    date: str
    daily_pnl: Decimal
    cumulative_pnl: Decimal


class PnlChart(Sequence[PnlPoint]):
    """The days of a P&L chart, packed: a sequence of :class:`PnlPoint` that keeps no point.

    A fleet holds every agent's chart (30 days each): as points, a day was four objects (the
    point, its date, two ``Decimal`` amounts), about 370 bytes, 55 MB at 5,000 agents. Here the
    amounts are packed into one array (:func:`pf_tui.usd.pack`, 9 bytes each, exact: each reads
    back as the very same ``Decimal``), the dates are interned (one string per day for the
    whole fleet), and a point is built when it is read. It pickles as its arrays, so the poll
    worker's pipe carries them too.
    """

    __slots__ = ("_amounts", "_dates", "_exps", "_odd")
    _dates: tuple[str, ...]
    _amounts: array[int]
    """Daily, then cumulative P&L of each day, packed."""
    _exps: array[int]
    _odd: dict[int, Decimal] | None
    """The amounts that do not pack (:data:`pf_tui.usd.PACK_ODD`), by their slot."""

    def __init__(self, points: Iterable[PnlPoint] = ()) -> None:
        self._fill((p.date, p.daily_pnl, p.cumulative_pnl) for p in points)

    @classmethod
    def of_rows(cls, rows: Iterable[tuple[str, Decimal, Decimal]]) -> PnlChart:
        """The chart of ``(date, daily P&L, cumulative P&L)`` rows, oldest first."""
        chart = cls.__new__(cls)
        chart._fill(rows)
        return chart

    def _fill(self, rows: Iterable[tuple[str, Decimal, Decimal]]) -> None:
        dates: list[str] = []
        amounts: list[int] = []
        exps: list[int] = []
        odd: dict[int, Decimal] | None = None
        for date, daily, cumulative in rows:
            dates.append(sys.intern(date) if type(date) is str else date)
            for value in (daily, cumulative):
                coeff, exp = pack(value)
                if exp == PACK_ODD:
                    odd = odd if odd is not None else {}
                    odd[len(amounts)] = value
                amounts.append(coeff)
                exps.append(exp)
        self._dates = tuple(dates)
        self._amounts = array("q", amounts)
        self._exps = array("b", exps)
        self._odd = odd

    def _amount(self, slot: int) -> Decimal:
        exp = self._exps[slot]
        if exp == PACK_ODD and self._odd is not None:
            return self._odd[slot]
        return unpack(self._amounts[slot], exp)

    def _point(self, day: int) -> PnlPoint:
        return PnlPoint(self._dates[day], self._amount(2 * day), self._amount(2 * day + 1))

    def __len__(self) -> int:
        return len(self._dates)

    @overload
    def __getitem__(self, index: int) -> PnlPoint: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[PnlPoint, ...]: ...

    def __getitem__(self, index: int | slice) -> PnlPoint | tuple[PnlPoint, ...]:
        n = len(self._dates)
        if isinstance(index, slice):
            return tuple(self._point(day) for day in range(*index.indices(n)))
        if not -n <= index < n:
            raise IndexError("P&L chart index out of range")
        return self._point(index % n)

    def __iter__(self) -> Iterator[PnlPoint]:
        return map(self._point, range(len(self._dates)))

    def cumulative_by_day(self) -> Iterator[tuple[str, Decimal]]:
        """``(date, cumulative P&L)`` of each day, oldest first, without building the points
        (a point costs three times what its one amount does)."""
        amount = self._amount
        return ((date, amount(2 * day + 1)) for day, date in enumerate(self._dates))

    def cumulative_on(self, day: int) -> tuple[str, Decimal]:
        """``(date, cumulative P&L)`` of day ``day`` (from 0, the oldest)."""
        return self._dates[day], self._amount(2 * day + 1)

    def same_day(self, other: PnlChart, day: int) -> bool:
        """Whether day ``day`` of both charts has the same date and the same cumulative P&L,
        packed alike (unpacking neither): the feed's fleet sums skip such days."""
        slot = 2 * day + 1
        return (
            self._dates[day] == other._dates[day]
            and self._amounts[slot] == other._amounts[slot]
            and self._exps[slot] == other._exps[slot] != PACK_ODD
        )

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PnlChart):
            if (self._dates, self._amounts, self._exps, self._odd) == (
                other._dates,
                other._amounts,
                other._exps,
                other._odd,
            ):
                return True  # packed alike: the same points
            # 1.0 and 1.00 pack apart and are equal amounts, as the points they stand for.
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        if isinstance(other, tuple):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"PnlChart({list(self)!r})"

    def __reduce__(self) -> tuple[object, ...]:
        return _chart_of_parts, (self._dates, self._amounts, self._exps, self._odd)


def _chart_of_parts(
    dates: tuple[str, ...], amounts: array[int], exps: array[int], odd: dict[int, Decimal] | None
) -> PnlChart:
    """A pickled :class:`PnlChart` (its dates interned again in this process)."""
    chart = PnlChart.__new__(PnlChart)
    chart._dates = tuple(sys.intern(d) if type(d) is str else d for d in dates)
    chart._amounts, chart._exps, chart._odd = amounts, exps, odd
    return chart


_NO_DAYS = PnlChart()


def cumulative_by_day(chart: Sequence[PnlPoint]) -> Iterator[tuple[str, Decimal]]:
    """``(date, cumulative P&L)`` of each day of any chart, oldest first."""
    if type(chart) is PnlChart:
        return chart.cumulative_by_day()
    return ((p.date, p.cumulative_pnl) for p in chart)


@dataclass(frozen=True, slots=True)
class PnlHistory:
    """Trading P&L: production ``/trade/pnl-history``; docs ``/portfolio/pnl`` fills the totals."""

    net_pnl: Decimal | None = None
    total_pnl: Decimal | None = None
    total_fees: Decimal | None = None
    total_trades: int | None = None
    win_rate: Decimal | None = None
    """Fraction 0..1."""
    chart: Sequence[PnlPoint] = ()
    """Oldest day first; kept as a :class:`PnlChart` whatever sequence it was given."""
    max_drawdown_pct: Decimal | None = None
    """Positive percent, where the shape carries it (docs ``/portfolio/pnl``)."""

    def __post_init__(self) -> None:
        if type(self.chart) is not PnlChart:
            object.__setattr__(self, "chart", PnlChart(self.chart) if self.chart else _NO_DAYS)


@dataclass(frozen=True, slots=True)
class Drawdown:
    """Trading drawdown summary; all ``None`` when the agent has no trades yet."""

    max_drawdown_usd: Decimal | None = None
    max_drawdown_pct: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ReferralStats:
    """Referral figures of one service (``casino``, ``trading``, ``wallet``) or the docs total."""

    service: str
    total_referrals: int
    total_earned_usd: Decimal | None = None
    last_30_days_usd: Decimal | None = None
    available_usd: Decimal | None = None
    today: int | None = None
    """Docs ``/referrals/stats.today``; production derives it from deltas."""


@dataclass(frozen=True, slots=True)
class ChainBalance:
    """USDC held on one chain."""

    chain: str
    address: str
    usdc_balance: Decimal


@dataclass(frozen=True, slots=True)
class WalletBalance:
    """On-chain USDC (``/wallet/usdc-balance``)."""

    total_usd: Decimal
    balances: tuple[ChainBalance, ...] = ()


@dataclass(frozen=True, slots=True)
class EscrowEvent:
    """One event of an escrow's history (visible to its parties)."""

    event: str
    actor_id: str | None
    note: str | None
    at: datetime | None


@dataclass(frozen=True, slots=True)
class Escrow:
    """An escrow read through either dialect, mapped onto the one state machine."""

    escrow_id: str
    status: EscrowStatus
    amount: Decimal
    released: Decimal | None = None
    """Gross amount released so far (docs); ``None`` where the shape does not say."""
    remaining: Decimal | None = None
    commission: Decimal | None = None
    net_to_counterparty: Decimal | None = None
    description: str = ""
    """Production ``description`` or docs ``memo``: untrusted text."""
    creator_id: str | None = None
    counterparty_id: str | None = None
    timeout_hours: int | None = None
    created_at: datetime | None = None
    auto_release_at: datetime | None = None
    completed_at: datetime | None = None
    released_at: datetime | None = None
    disputed_at: datetime | None = None
    dialect: Dialect = Dialect.CLASSIC
    events: tuple[EscrowEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class EscrowStats:
    """Service-wide escrow totals (``/escrow/stats``)."""

    total_created: int
    total_released: int
    total_disputed: int
    total_volume_usd: Decimal
    total_commission_usd: Decimal


@dataclass(frozen=True, slots=True)
class Registration:
    """Reply of casino ``POST /auth/register``; ``api_key`` is a secret."""

    agent_id: str
    api_key: str = field(repr=False)
    referral_code: str | None = None
    balance: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class FaucetClaim:
    """Outcome of ``POST /faucet/claim``: credited, or why it was not claimable."""

    credited: Decimal
    claim_id: str | None = None
    agent_id: str | None = None
    not_claimable: str | None = None
    """``ip_rate_limited``, ``already_claimed`` or ``has_deposits``: not failures (docs/api.md
    §4)."""


@dataclass(frozen=True, slots=True)
class BetResult:
    """Reply of a casino game play."""

    bet_id: str
    won: bool
    amount_won: Decimal
    new_balance: Decimal
    payout_multiplier: Decimal | None


@dataclass(frozen=True, slots=True)
class ErrorStats:
    """Docs ``/agent/error-stats`` (production derives error rates from its own calls)."""

    error_rate: Decimal
    """Fraction 0..1."""
    requests: int | None = None
    errors: int | None = None


@dataclass(frozen=True, slots=True)
class ClosedPosition:
    """Reply of trading ``POST /trade/close``: what closing a position realised."""

    position_id: str
    coin: str | None = None
    exit_price: Decimal | None = None
    realized_pnl: Decimal | None = None
    fee: Decimal | None = None
    net_pnl: Decimal | None = None
