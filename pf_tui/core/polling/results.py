"""What the poller yields and the fleet state applies: typed snapshots and typed failures.

One :class:`Snapshot` or :class:`PollFailure` per (agent, data type) per poll. The value of a
snapshot is an API model (or a small bundle of them, below), never raw JSON.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from pf_tui.api.models import (
    Balance,
    CasinoStats,
    Escrow,
    PnlHistory,
    Positions,
    ReferralStats,
    WalletBalance,
)


class DataType(str, enum.Enum):
    """The figures polled per agent, each on its own interval (``[polling]`` in the config)."""

    BALANCE = "balance"
    """casino ``/auth/balance`` (+ wallet ``/wallet/usdc-balance`` when the agent has addresses)."""
    POSITIONS = "positions"
    """trading ``/trade/positions``."""
    PNL = "pnl"
    """trading ``/trade/pnl-history``; casino net profit comes from CASINO, drawdown is derived."""
    CASINO = "casino"
    """casino ``/stats/me`` (never ``/bets/*``: 60 a minute per host for the whole fleet)."""
    REFERRALS = "referrals"
    """casino, trading and wallet ``/referral/stats`` (slow tier)."""
    ESCROWS = "escrows"
    """docs ``GET /api/v1/escrows`` (streaming) or the escrows found in the casino ledger."""


ALL_TYPES: tuple[DataType, ...] = tuple(DataType)


@dataclass(frozen=True, slots=True)
class BalanceSnapshot:
    """Custodial balance, and on-chain USDC when the agent has wallet addresses."""

    balance: Balance
    wallet: WalletBalance | None = None


@dataclass(frozen=True, slots=True)
class ReferralSnapshot:
    """Referral stats per service that answered (casino, trading, wallet)."""

    stats: tuple[ReferralStats, ...]


@dataclass(frozen=True, slots=True)
class EscrowSnapshot:
    """The escrows pf-tui knows for one agent, newest first."""

    escrows: tuple[Escrow, ...]
    settled_left_out: int = 0
    """Settled escrows the servers listed that the poller's bound left out of ``escrows``
    (``KEEP_SETTLED`` in :mod:`pf_tui.core.polling.fetch`): they still count as seen."""


SnapshotValue = (
    BalanceSnapshot | Positions | PnlHistory | CasinoStats | ReferralSnapshot | EscrowSnapshot
)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A successful poll: the figure, when it was fetched, and whether it differs from the last."""

    agent_id: str
    kind: DataType
    value: SnapshotValue
    fetched_at: float
    """Wall-clock unix seconds (the injected clock's ``now()``)."""
    latency_s: float
    changed: bool = True
    """False when the figure equals the previous one: no re-derivation and no UI work needed."""

    ok = True


@dataclass(frozen=True, slots=True)
class PollFailure:
    """A failed poll: the typed error, and when the source will be tried again."""

    agent_id: str
    kind: DataType
    error: Exception
    """A :class:`pf_tui.api.errors.PurpleFleaError` (or a decode error), never a raw httpx one."""
    at: float
    failures: int
    """Consecutive failures of this (agent, data type), this one included."""
    retry_in: float
    """Seconds until the next attempt (the backoff)."""

    ok = False


PollResult = Snapshot | PollFailure


def is_change(result: PollResult) -> bool:
    """Whether ``result`` changes what the screen shows: a figure that differs from the last,
    or a failure (an unchanged figure only moves its age)."""
    return not isinstance(result, Snapshot) or result.changed


def changes(results: Iterable[PollResult]) -> int:
    """How many of ``results`` change what the screen shows (:func:`is_change`)."""
    return sum(map(is_change, results))
