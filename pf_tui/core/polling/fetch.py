"""Which client calls make up each data type, for one agent (docs/api.md §2).

Each fetcher is one coroutine per (agent, data type) poll. Calls to several services run
concurrently; every call goes through :meth:`Fetcher.call`, which bounds concurrency per host and
counts latency and outcome per endpoint and agent (the error rates no route provides).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from pf_tui.api.errors import NotFoundError, PurpleFleaError
from pf_tui.api.models import (
    Balance,
    CasinoStats,
    Dialect,
    Escrow,
    LedgerEntry,
    PnlHistory,
    Positions,
    ReferralStats,
    WalletBalance,
)
from pf_tui.clock import Clock
from pf_tui.core.polling.callstats import CallStats
from pf_tui.core.polling.limit import HostLimit
from pf_tui.core.polling.results import (
    BalanceSnapshot,
    DataType,
    EscrowSnapshot,
    ReferralSnapshot,
    SnapshotValue,
)

T = TypeVar("T")
ESCROW_ID = re.compile(r"esc_[0-9a-f]{16}")
MAX_ESCROWS = 50
"""Escrows read per poll at most (the ledger holds 50 rows)."""


class AgentSource(Protocol):
    """The reads the poller makes for one agent (``pf_tui.api`` ``AgentClient``)."""

    async def balance(self) -> Balance: ...
    async def wallet_balance(self, base: str | None, solana: str | None) -> WalletBalance: ...
    async def positions(self) -> Positions: ...
    async def pnl_history(self, days: int = 30) -> PnlHistory: ...
    async def casino_stats(self) -> CasinoStats: ...
    async def casino_referrals(self) -> ReferralStats: ...
    async def trading_referrals(self) -> ReferralStats: ...
    async def wallet_referrals(self) -> ReferralStats: ...
    async def streams(self) -> tuple[Escrow, ...]: ...
    async def escrow(self, escrow_id: str, dialect: Dialect) -> Escrow: ...
    async def ledger(self) -> tuple[LedgerEntry, ...]: ...


@dataclass
class PollTarget:
    """One agent to poll: its client and what it can be polled for."""

    agent_id: str
    source: AgentSource
    services: frozenset[str] = frozenset({"casino", "trading", "wallet", "escrow"})
    """Services the agent has keys for (``AgentConfig.polls``)."""
    base_address: str | None = None
    solana_address: str | None = None
    escrow_dialect: str = "auto"
    """``auto`` (try the docs list, fall back to the ledger), ``streaming`` or ``classic``."""
    known_escrows: set[str] = field(default_factory=set)
    """Escrow ids pf-tui created or tracks (streams), polled besides those found in the ledger."""

    def data_types(self) -> tuple[DataType, ...]:
        """The data types this agent's keys allow."""
        s = self.services
        out: list[DataType] = []
        if "casino" in s:
            out += [DataType.BALANCE, DataType.CASINO]
        if "trading" in s:
            out += [DataType.POSITIONS, DataType.PNL]
        if s & {"casino", "trading", "wallet"}:
            out.append(DataType.REFERRALS)
        if "casino" in s or "escrow" in s:
            out.append(DataType.ESCROWS)
        return tuple(out)


class Fetcher:
    """Runs the calls of each data type, bounded per host, counted per endpoint and agent."""

    def __init__(
        self,
        clock: Clock,
        stats: CallStats,
        *,
        max_concurrency: int,
        hosts: Mapping[str, str] | None = None,
    ) -> None:
        self._clock = clock
        self.stats = stats
        self._hosts = dict(hosts or {})
        self._limit = max_concurrency
        self._sems: dict[str, HostLimit] = {}
        self._terminal: dict[str, dict[str, Escrow]] = {}
        self._dialect: dict[str, str] = {}

    def _sem(self, service: str) -> HostLimit:
        return self.limit_of(self._hosts.get(service, service))

    def limit_of(self, host: str) -> HostLimit:
        """The request limit of one host (made on first use)."""
        sem = self._sems.get(host)
        if sem is None:
            sem = self._sems[host] = HostLimit(self._limit)
        return sem

    def hosts_for(self, target: PollTarget, kind: DataType) -> tuple[str, ...]:
        """The hosts one poll of ``kind`` may call (what :meth:`fetch` below calls, by host)."""
        s = target.services
        if kind is DataType.CASINO:
            services: tuple[str, ...] = ("casino",)
        elif kind is DataType.BALANCE:
            services = ("casino", "wallet") if "wallet" in s else ("casino",)
        elif kind in (DataType.POSITIONS, DataType.PNL):
            services = ("trading",)
        elif kind is DataType.REFERRALS:
            services = tuple(x for x in ("casino", "trading", "wallet") if x in s)
        else:  # escrows: the list or the reads, and the casino ledger in the classic dialect
            services = ("escrow", "casino") if "casino" in s else ("escrow",)
        return tuple(dict.fromkeys(self._hosts.get(x, x) for x in services))

    async def call(
        self, agent_id: str, service: str, endpoint: str, fn: Callable[[], Awaitable[T]]
    ) -> T:
        """Run one client call under its host's limit and count it."""
        async with self._sem(service):
            start = self._clock.monotonic()
            try:
                result = await fn()
            except Exception:
                self.stats.record(agent_id, endpoint, self._clock.monotonic() - start, False)
                raise
        self.stats.record(agent_id, endpoint, self._clock.monotonic() - start, True)
        return result

    def forget(self, agent_id: str) -> None:
        """Drop per-agent caches (the agent was removed)."""
        self._terminal.pop(agent_id, None)
        self._dialect.pop(agent_id, None)

    async def fetch(self, target: PollTarget, kind: DataType) -> SnapshotValue:
        """Fetch one data type for one agent; raises the client's typed errors."""
        a, src = target.agent_id, target.source
        if kind is DataType.CASINO:
            return await self.call(a, "casino", "casino GET /stats/me", src.casino_stats)
        if kind is DataType.POSITIONS:
            return await self.call(a, "trading", "trading GET /trade/positions", src.positions)
        if kind is DataType.PNL:
            return await self.call(a, "trading", "trading GET /trade/pnl-history", src.pnl_history)
        if kind is DataType.BALANCE:
            return await self._balance(target)
        if kind is DataType.REFERRALS:
            return await self._referrals(target)
        return await self._escrows(target)

    async def _balance(self, target: PollTarget) -> BalanceSnapshot:
        a, src = target.agent_id, target.source
        casino = self.call(a, "casino", "casino GET /auth/balance", src.balance)
        if "wallet" not in target.services or not (target.base_address or target.solana_address):
            return BalanceSnapshot(await casino)

        def wallet() -> Awaitable[WalletBalance]:
            return src.wallet_balance(target.base_address, target.solana_address)

        bal, chain = await asyncio.gather(
            casino,
            self.call(a, "wallet", "wallet GET /wallet/usdc-balance", wallet),
            return_exceptions=True,
        )
        if isinstance(bal, BaseException):
            raise bal
        # The custodial balance is the figure; an on-chain read that failed is counted in the
        # wallet endpoint's error rate and shows as "no on-chain figure", not as a stale balance.
        return BalanceSnapshot(bal, None if isinstance(chain, BaseException) else chain)

    async def _referrals(self, target: PollTarget) -> ReferralSnapshot:
        a, src = target.agent_id, target.source
        calls = []
        if "casino" in target.services:
            calls.append(
                self.call(a, "casino", "casino GET /auth/referral/stats", src.casino_referrals)
            )
        if "trading" in target.services:
            calls.append(
                self.call(a, "trading", "trading GET /referral/stats", src.trading_referrals)
            )
        if "wallet" in target.services:
            calls.append(self.call(a, "wallet", "wallet GET /referral/stats", src.wallet_referrals))
        results = await asyncio.gather(*calls, return_exceptions=True)
        stats = tuple(r for r in results if isinstance(r, ReferralStats))
        if not stats:
            errors = [r for r in results if isinstance(r, BaseException)]
            raise errors[0]
        return ReferralSnapshot(stats)

    async def _escrows(self, target: PollTarget) -> EscrowSnapshot:
        a, src = target.agent_id, target.source
        dialect = self._dialect.get(a, target.escrow_dialect)
        found: dict[str, Escrow] = {}
        if dialect in ("auto", "streaming"):
            try:
                listed = await self.call(a, "escrow", "escrow GET /api/v1/escrows", src.streams)
            except NotFoundError:
                if dialect == "streaming":
                    raise
                self._dialect[a] = dialect = "classic"  # production has no list: use the ledger
            else:
                self._dialect[a] = "streaming"
                found = {e.escrow_id: e for e in listed}
        ids: list[str] = []
        if dialect == "classic":
            rows = await self.call(a, "casino", "casino GET /auth/ledger", src.ledger)
            for row in rows:
                if row.service == "escrow":
                    match = ESCROW_ID.match(row.reference or "")
                    if match and match.group() not in ids:
                        ids.append(match.group())
        ids += [i for i in sorted(target.known_escrows) if i not in ids and i not in found]
        terminal = self._terminal.setdefault(a, {})
        wanted = [i for i in ids[:MAX_ESCROWS] if i not in terminal and i not in found]
        via = Dialect.STREAMING if dialect == "streaming" else Dialect.CLASSIC
        reads = await asyncio.gather(
            *(self._read_escrow(a, src, i, via) for i in wanted), return_exceptions=True
        )
        for escrow_id, escrow in zip(wanted, reads, strict=True):
            if isinstance(escrow, Escrow):
                found[escrow_id] = escrow
            elif not isinstance(escrow, PurpleFleaError) and isinstance(escrow, BaseException):
                raise escrow
        for escrow_id in ids:
            if escrow_id in terminal:
                found.setdefault(escrow_id, terminal[escrow_id])
        for escrow in found.values():
            if escrow.status.terminal:
                terminal[escrow.escrow_id] = escrow  # terminal states never change: read once
        ordered = sorted(
            found.values(),
            key=lambda e: e.created_at.timestamp() if e.created_at else 0.0,
            reverse=True,
        )
        return EscrowSnapshot(tuple(ordered))

    def _read_escrow(
        self, a: str, src: AgentSource, escrow_id: str, via: Dialect
    ) -> Awaitable[Escrow]:
        endpoint = (
            "escrow GET /api/v1/escrow/{id}"
            if via is Dialect.STREAMING
            else "escrow GET /escrow/{id}"
        )
        return self.call(a, "escrow", endpoint, lambda: src.escrow(escrow_id, via))
