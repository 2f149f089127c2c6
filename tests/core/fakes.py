"""An in-memory agent source for poller tests on a fake clock (the simulator tests use HTTP)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from decimal import Decimal

from pf_tui.api.errors import NotFoundError
from pf_tui.api.models import (
    Activity,
    Balance,
    CasinoStats,
    Dialect,
    Escrow,
    EscrowStatus,
    LedgerEntry,
    PnlHistory,
    Positions,
    ReferralStats,
    WalletBalance,
)
from pf_tui.clock import FakeClock


class FakeSource:
    """Answers every read at once; records call times; per-method faults and hangs."""

    def __init__(
        self, clock: FakeClock, agent_id: str, calls: dict[str, list[tuple[str, float]]]
    ) -> None:
        self.clock = clock
        self.agent_id = agent_id
        self.calls = calls
        self.faults: dict[str, Exception] = {}
        self.hang: set[str] = set()
        self.released = asyncio.Event()
        self.balance_usd = Decimal("10.00")
        self.ledger_rows: tuple[LedgerEntry, ...] = ()
        self.escrows: dict[str, Escrow] = {}
        self.activity: tuple[Activity, ...] = ()
        """The balance's ``recent_activity`` (an escrow move there is the ledger's hint)."""
        self.listed: tuple[Escrow, ...] | None = None
        """What the streaming list answers (``None``: 404, as production)."""
        self.reads: list[tuple[str, Dialect]] = []
        """Every escrow read, with the dialect it was read through."""

    async def _enter(self, name: str) -> None:
        self.calls[name].append((self.agent_id, self.clock.monotonic()))
        if name in self.hang:
            await self.released.wait()
        if name in self.faults:
            raise self.faults[name]

    async def balance(self) -> Balance:
        await self._enter("balance")
        return Balance(self.balance_usd, self.agent_id, recent_activity=self.activity)

    async def wallet_balance(self, base: str | None, solana: str | None) -> WalletBalance:
        await self._enter("wallet_balance")
        return WalletBalance(Decimal(1))

    async def positions(self) -> Positions:
        await self._enter("positions")
        return Positions(())

    async def pnl_history(self, days: int = 30) -> PnlHistory:
        await self._enter("pnl_history")
        return PnlHistory(net_pnl=Decimal(0))

    async def casino_stats(self) -> CasinoStats:
        await self._enter("casino_stats")
        return CasinoStats(total_bets=1, net_profit=Decimal(0))

    async def casino_referrals(self) -> ReferralStats:
        await self._enter("casino_referrals")
        return ReferralStats("casino", 1)

    async def trading_referrals(self) -> ReferralStats:
        await self._enter("trading_referrals")
        return ReferralStats("trading", 2)

    async def wallet_referrals(self) -> ReferralStats:
        await self._enter("wallet_referrals")
        return ReferralStats("wallet", 3)

    async def streams(self) -> tuple[Escrow, ...]:
        await self._enter("streams")
        if self.listed is None:
            raise NotFoundError(404, "not_found", "no such route")
        return self.listed

    async def ledger(self) -> tuple[LedgerEntry, ...]:
        await self._enter("ledger")
        return self.ledger_rows

    async def escrow(self, escrow_id: str, dialect: Dialect) -> Escrow:
        await self._enter("escrow")
        self.reads.append((escrow_id, dialect))
        return self.escrows.get(escrow_id) or Escrow(escrow_id, EscrowStatus.FUNDED, Decimal(1))


def new_calls() -> dict[str, list[tuple[str, float]]]:
    """A shared call log: method -> [(agent, monotonic time)]."""
    return defaultdict(list)
