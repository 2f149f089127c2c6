"""Which client calls make up each data type, for one agent (docs/api.md §2).

Each fetcher is one coroutine per (agent, data type) poll. Calls to several services run
concurrently; every call goes through :meth:`Fetcher.call`, which bounds concurrency per host and
counts latency and outcome per endpoint and agent (the error rates no route provides).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeAlias, TypeVar

from pf_tui.api.errors import NotFoundError, PurpleFleaError
from pf_tui.api.models import (
    Activity,
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
from pf_tui.api.normalize import ESCROW_MOVES
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
KEEP_SETTLED = 5
"""Settled escrows (released, refunded, closed: their money has moved) kept in an agent's
snapshot by the poller, newest first, beside every live or disputed one, every one pf-tui's
journal knows and every one that just settled (:data:`JUST_SETTLED_S`). The streaming list names
every stream an agent was ever party to, so without a bound a busy fleet's memory grew for as
long as the console or the daemon ran (about 450 escrows a minute in the 5,000-agent benchmark,
about 2 KB each in the console, in the snapshots of both parties). Each escrow that settles
while watched reaches the finished view, which keeps its own rows; this is the older history
shown at start. Scripts' one-shot reads keep them all."""
SETTLED_BUDGET = 10_000
"""Settled escrows the poller keeps for the whole fleet: :data:`KEEP_SETTLED` an agent up to
2,000 agents, fewer (at least one) in a larger fleet (:func:`settled_per_agent`). Each is in the
console's memory twice, as the snapshot's escrow and as its finished row; at 5,000 agents, five
an agent was 25,000 of each."""


def settled_per_agent(agents: int) -> int:
    """Settled escrows kept in each agent's snapshot in a fleet of ``agents``."""
    return max(1, min(KEEP_SETTLED, SETTLED_BUDGET // max(1, agents)))


JUST_SETTLED_S = 120.0
"""An escrow seen live and then settled stays in its agent's snapshot this long whatever the
bound, so the console shows how it ended (its finished row) even when more than
:data:`KEEP_SETTLED` newer escrows settled before it: the bound orders by creation, and a long
stream is older than the short ones."""
_Hint: TypeAlias = tuple[float, frozenset[tuple[Activity, int]]]
_NO_HINT: _Hint = (0.0, frozenset())
_HINT_MAX = 64
"""The most moves of one second a hint keeps (a frozen clock stamps every move alike)."""
LEDGER_EVERY_S = 30.0
"""The ledger walk that finds classic escrows runs on the first escrow poll, whenever the balance
poll's recent activity shows an escrow move it has not covered yet, and at least this often
(docs/api.md §3): one call per agent every 30 s instead of one per escrow poll."""


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
    """``auto`` (the streaming list and the ledger; no list: the ledger alone), ``streaming``
    (the list alone) or ``classic`` (the ledger alone)."""
    known_escrows: dict[str, Dialect] = field(default_factory=dict)
    """Escrows pf-tui created or tracks (streams), with the dialect each was created in, polled
    besides those the list and the ledger show."""

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
        keep_settled: int | None = KEEP_SETTLED,
    ) -> None:
        """``keep_settled``: settled escrows kept in each agent's snapshot beside the rest
        (:data:`KEEP_SETTLED`); ``None`` keeps every one listed (a script's one-shot read)."""
        self._clock = clock
        self._keep_settled = keep_settled
        self.stats = stats
        self._hosts = dict(hosts or {})
        self._limit = max_concurrency
        self._sems: dict[str, HostLimit] = {}
        self._terminal: dict[str, dict[str, Escrow]] = {}
        """Per agent: escrows read in a terminal state (they never change: read once)."""
        self._no_list: set[str] = set()
        """Agents whose server answered the streaming list with 404 (production): ledger only."""
        self._dialects: dict[str, dict[str, Dialect]] = {}
        """Per agent: the dialect each escrow was found in (the list: streaming; the ledger
        alone: classic), kept while the escrow is in view so a list that drops an old stream
        does not turn it classic."""
        self._ledger_ids: dict[str, tuple[str, ...]] = {}
        """Per agent: escrow ids in the ledger at its last read, newest first."""
        self._ledger_at: dict[str, float] = {}
        """Per agent: monotonic time of the last ledger read."""
        self._hint: dict[str, _Hint] = {}
        """Per agent: server time of the newest escrow moves the balance poll has shown, and
        those moves (the server stamps moves to the second: a second escrow made in the same
        second as the first is news too)."""
        self._hint_seen: dict[str, _Hint] = {}
        """Per agent: that hint as it was at the last ledger read."""
        self._unsettled: dict[str, set[str]] = {}
        """Per agent: the escrows its last snapshot had live or disputed."""
        self._settling: dict[str, dict[str, float]] = {}
        """Per agent: escrows seen live and then settled, and when (monotonic) they settled."""

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
        limit = self._sem(service)
        if not limit.try_take():
            await limit.acquire()
        monotonic = self._clock.monotonic
        try:
            start = monotonic()
            try:
                result = await fn()
            except Exception:
                end = monotonic()
                self.stats.record(agent_id, endpoint, end - start, False, now=end)
                raise
        finally:
            limit.release()
        end = monotonic()
        self.stats.record(agent_id, endpoint, end - start, True, now=end)
        return result

    def forget(self, agent_id: str) -> None:
        """Drop per-agent caches (the agent was removed)."""
        for cache in (
            self._terminal,
            self._dialects,
            self._ledger_ids,
            self._ledger_at,
            self._hint,
            self._hint_seen,
            self._unsettled,
            self._settling,
        ):
            cache.pop(agent_id, None)
        self._no_list.discard(agent_id)

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
        # The read is made inside _hinting: a poll cancelled before _hinting starts (at shutdown)
        # then leaves no read behind never awaited (a RuntimeWarning on stderr).
        casino = self._hinting(
            a, lambda: self.call(a, "casino", "casino GET /auth/balance", src.balance)
        )
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

    async def _hinting(self, agent_id: str, balance: Callable[[], Awaitable[Balance]]) -> Balance:
        """The balance, noting the newest escrow move in its recent activity (the ledger hint)."""
        bal = await balance()
        top, moves = 0.0, []
        for move in bal.recent_activity:
            if move.service == "escrow" and move.type in ESCROW_MOVES and move.at is not None:
                at = move.at.timestamp()
                if at > top:
                    top, moves = at, [move]
                elif at == top:
                    moves.append(move)
        if not moves:
            return bal
        # Each move with how many alike came before it in that second: two locks of the same
        # amount in one second are two moves (a set of the moves alone would hold one).
        seen: dict[Activity, int] = {}
        marked = []
        for move in moves:
            seen[move] = n = seen.get(move, 0) + 1
            marked.append((move, n))
        at, known = self._hint.get(agent_id, _NO_HINT)
        if top > at:
            self._hint[agent_id] = (top, frozenset(marked))
        elif top == at:
            # Merged, not replaced: a move of that second may leave the window (or the server
            # list that second's moves in another order) before the walk that covers it.
            merged = known.union(marked)
            self._hint[agent_id] = (top, merged if len(merged) <= _HINT_MAX else frozenset(marked))
        return bal

    def _ledger_due(self, agent_id: str) -> bool:
        last = self._ledger_at.get(agent_id)
        if last is None or self._clock.monotonic() - last >= LEDGER_EVERY_S:
            return True
        at, moves = self._hint.get(agent_id, _NO_HINT)
        seen_at, seen = self._hint_seen.get(agent_id, _NO_HINT)
        # A newer second, or a move of the same second the last walk did not cover (the recent
        # activity is a window: a covered move leaving it is no news).
        return at > seen_at or (at == seen_at and not moves <= seen)

    async def _ledger_escrows(self, target: PollTarget) -> tuple[str, ...]:
        """Escrow ids the agent is a party of, in its ledger (read when due, else as last read)."""
        a = target.agent_id
        if not self._ledger_due(a):
            return self._ledger_ids.get(a, ())
        hint = self._hint.get(a, _NO_HINT)
        rows = await self.call(a, "casino", "casino GET /auth/ledger", target.source.ledger)
        ids: list[str] = []
        for row in rows:
            if row.service == "escrow" and row.type in ESCROW_MOVES:
                match = ESCROW_ID.match(row.reference or "")
                if match and match.group() not in ids:
                    ids.append(match.group())
        self._ledger_ids[a] = found = tuple(ids)
        self._ledger_at[a] = self._clock.monotonic()
        self._hint_seen[a] = hint
        return found

    async def _escrows(self, target: PollTarget) -> EscrowSnapshot:
        """Every escrow the agent is a party of, each read through the dialect that created it.

        Streaming escrows come from the streaming list (one call: they need no read of their
        own). Classic escrows are found in the casino ledger, as production requires, and read
        through the classic routes; pf-tui's own escrows come with the dialect its journal
        recorded. Under ``auto`` a server without the list (404) is read through the ledger
        alone for the rest of the run (docs/api.md §3).
        """
        a, src = target.agent_id, target.source
        mode = target.escrow_dialect
        dialects = self._dialects.setdefault(a, {})
        found: dict[str, Escrow] = {}
        if mode != "classic" and a not in self._no_list:
            try:
                listed = await self.call(a, "escrow", "escrow GET /api/v1/escrows", src.streams)
            except NotFoundError:
                if mode == "streaming":
                    raise
                self._no_list.add(a)  # production has no list: the ledger alone
            else:
                for stream in listed:
                    found[stream.escrow_id] = stream
                    dialects[stream.escrow_id] = Dialect.STREAMING
        ledger = await self._ledger_escrows(target) if mode != "streaming" else ()
        in_view: dict[str, Dialect] = {}
        for escrow_id in ledger:
            in_view[escrow_id] = dialects.get(escrow_id, Dialect.CLASSIC)
        for escrow_id, dialect in sorted(target.known_escrows.items()):
            in_view.setdefault(escrow_id, dialect)
        terminal = self._terminal.setdefault(a, {})
        wanted = [i for i in in_view if i not in found and i not in terminal][:MAX_ESCROWS]
        reads = await asyncio.gather(
            *(self._read_escrow(a, src, i, in_view[i]) for i in wanted), return_exceptions=True
        )
        for escrow_id, read in zip(wanted, reads, strict=True):
            if isinstance(read, Escrow):
                if a in (read.creator_id, read.counterparty_id) or not (
                    read.creator_id or read.counterparty_id
                ):
                    found[escrow_id] = read
            elif not isinstance(read, PurpleFleaError):
                raise read
        for escrow_id in in_view:
            if escrow_id in terminal:
                found.setdefault(escrow_id, terminal[escrow_id])
        # Remembered only while in view, so a long run does not grow without bound.
        self._terminal[a] = {i: e for i, e in found.items() if e.status.terminal and i in in_view}
        self._dialects[a] = {i: d for i, d in dialects.items() if i in found or i in in_view}
        ordered = sorted(
            found.values(),
            key=lambda e: e.created_at.timestamp() if e.created_at else 0.0,
            reverse=True,
        )
        if self._keep_settled is None:
            return EscrowSnapshot(tuple(ordered))
        kept = _bounded(
            ordered, {*target.known_escrows, *self._just_settled(a, ordered)}, self._keep_settled
        )
        return EscrowSnapshot(tuple(kept), settled_left_out=len(ordered) - len(kept))

    def _just_settled(self, agent_id: str, escrows: list[Escrow]) -> set[str]:
        """The escrows of ``agent_id`` that settled within :data:`JUST_SETTLED_S`, having been
        live or disputed in an earlier snapshot; remembers which are unsettled now."""
        now = self._clock.monotonic()
        before = self._unsettled.get(agent_id, set())
        settling = self._settling.setdefault(agent_id, {})
        for escrow in escrows:
            if escrow.status.settled and escrow.escrow_id in before:
                settling.setdefault(escrow.escrow_id, now)
        for escrow_id in [i for i, at in settling.items() if now - at > JUST_SETTLED_S]:
            del settling[escrow_id]
        self._unsettled[agent_id] = {e.escrow_id for e in escrows if not e.status.settled}
        return set(settling)

    def _read_escrow(
        self, a: str, src: AgentSource, escrow_id: str, via: Dialect
    ) -> Awaitable[Escrow]:
        endpoint = (
            "escrow GET /api/v1/escrow/{id}"
            if via is Dialect.STREAMING
            else "escrow GET /escrow/{id}"
        )
        return self.call(a, "escrow", endpoint, lambda: src.escrow(escrow_id, via))


def _bounded(newest_first: list[Escrow], exempt: Collection[str], keep: int) -> list[Escrow]:
    """``newest_first`` with every settled escrow past the newest ``keep`` left out, unless it
    is ``exempt``: one pf-tui's journal knows (its own action, followed to its end) or one that
    has just settled."""
    out: list[Escrow] = []
    settled = 0
    for escrow in newest_first:
        if escrow.status.settled and escrow.escrow_id not in exempt:
            settled += 1
            if settled > keep:
                continue
        out.append(escrow)
    return out
