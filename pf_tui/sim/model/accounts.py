"""Agents, their casino ledger and trading account, keys (hash-compared) and the house.

Every money move goes through :class:`Accounts` so the conservation invariant
``agents + escrow holdings + house == initial total + faucet grants`` has one place to hold.
"""

from __future__ import annotations

import hashlib
from array import array
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from pf_tui.sim.model.errors import ApiError
from pf_tui.sim.model.ids import Ids
from pf_tui.sim.model.num import ZERO, iso, num
from pf_tui.usd import JSON

if TYPE_CHECKING:
    from pf_tui.sim.model.market import Position, Trade

LEDGER_ROWS = 50
CALLS_KEPT = 4096
"""Calls remembered per agent (their time and whether they failed)."""


class CallRing:
    """The last ``maxlen`` calls of one agent as ``(time, failed)``, oldest first, in 9 bytes a
    call: as a deque of tuples it was 88 bytes, and a 5,000-agent simulator grew by 1.8 GB as
    the rings filled (about 100 minutes at the benchmarks' rate)."""

    __slots__ = ("_failed", "_next", "_times", "maxlen")

    def __init__(self, maxlen: int) -> None:
        self.maxlen = maxlen
        self._times = array("d")
        self._failed = array("b")
        self._next = 0

    def append(self, call: tuple[float, bool]) -> None:
        t, failed = call
        if len(self._times) < self.maxlen:
            self._times.append(t)
            self._failed.append(failed)
        else:
            self._times[self._next] = t
            self._failed[self._next] = failed
            self._next = (self._next + 1) % self.maxlen

    def __len__(self) -> int:
        return len(self._times)

    def __iter__(self) -> Iterator[tuple[float, bool]]:
        n, start = len(self._times), self._next
        for i in range(n):
            slot = (start + i) % n
            yield self._times[slot], bool(self._failed[slot])


LEDGER_TYPES = frozenset(
    {
        "deposit",
        "withdrawal",
        "bet",
        "win",
        "faucet",
        "escrow_lock",
        "escrow_release",
        "escrow_refund",
        "referral",
    }
)
_IN_TYPES = frozenset({"deposit", "faucet", "escrow_release", "escrow_refund", "referral"})
_OUT_TYPES = frozenset({"withdrawal", "escrow_lock"})


def key_hash(key: str) -> bytes:
    """Keys are stored and compared only as SHA-256 digests."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


@dataclass(slots=True)
class LedgerRow:
    """One signed move of an agent's casino balance."""

    id: int
    agent_id: str
    type: str
    amount: Decimal
    balance_after: Decimal
    reason: str
    reference: str
    service: str
    at: float

    def wire(self) -> dict[str, JSON]:
        return {
            "id": self.id,
            "agentId": self.agent_id,
            "type": self.type,
            "amount": num(self.amount),
            "balanceAfter": num(self.balance_after),
            "reason": self.reason,
            "reference": self.reference,
            "service": self.service,
            "createdAt": int(self.at),
            "at": iso(self.at),
        }


@dataclass(slots=True)
class GameTally:
    """One agent's figures for one game."""

    bets: int = 0
    wagered: Decimal = ZERO
    won: Decimal = ZERO
    wins: int = 0


@dataclass(slots=True, eq=False)
class Agent:
    """One Purple Flea agent: casino balance, trading account, stats, referrals."""

    agent_id: str
    referral_code: str
    created_at: float
    label: str = ""
    strategy: str = ""
    referred_by: str | None = None
    casino: Decimal = ZERO
    trading: Decimal = ZERO
    ledger: deque[LedgerRow] = field(default_factory=lambda: deque(maxlen=LEDGER_ROWS))
    deposited: Decimal = ZERO
    withdrawn: Decimal = ZERO
    wagered: Decimal = ZERO
    won: Decimal = ZERO
    total_bets: int = 0
    wins: int = 0
    by_game: dict[str, GameTally] = field(default_factory=dict)
    bets: deque[tuple[float, dict[str, JSON]]] = field(default_factory=lambda: deque(maxlen=500))
    game_window: list[float] = field(default_factory=lambda: [0.0, 0.0])
    positions: dict[str, Position] = field(default_factory=dict)
    trades: list[Trade] = field(default_factory=list)
    trading_start: Decimal = ZERO
    referrals: list[tuple[str, float]] = field(default_factory=list)
    referral_income: list[tuple[float, Decimal]] = field(default_factory=list)
    trading_ref_fees: Decimal = ZERO
    trading_ref_earned: Decimal = ZERO
    wallet_ref_count: int = 0
    wallet_ref_earned: Decimal = ZERO
    escrow_ids: list[str] = field(default_factory=list)
    faucet_claimed: bool = False
    has_deposits: bool = False
    addresses: dict[str, str] = field(default_factory=dict)
    initial_balance: Decimal = ZERO
    keys: dict[str, str] = field(default_factory=dict)
    requests: CallRing = field(default_factory=lambda: CallRing(CALLS_KEPT))
    """The agent's last calls, for ``/agent/error-stats``."""
    cache: dict[str, object] = field(default_factory=dict)
    """Replies the HTTP layer built from this agent's state, by name; :meth:`touch` drops them."""

    def touch(self) -> None:
        """Drop cached replies: the agent's state changed."""
        if self.cache:
            self.cache.clear()

    def margin_locked(self) -> Decimal:
        return sum((p.margin for p in self.positions.values()), ZERO)


class Accounts:
    """The agent registry, key index, referral codes, the house and the faucet total."""

    def __init__(self, ids: Ids) -> None:
        self.ids = ids
        self.agents: dict[str, Agent] = {}
        self.by_key: dict[bytes, tuple[Agent, str]] = {}
        self.by_code: dict[str, Agent] = {}
        self.house = ZERO
        self.granted = ZERO
        self.initial_total = ZERO
        self._row = 0

    def create(
        self, at: float, *, referred_by: str | None = None, label: str = "", strategy: str = ""
    ) -> Agent:
        """A new agent with no money and a fresh referral code."""
        agent_id = self.ids.agent()
        while agent_id in self.agents:
            agent_id = self.ids.agent()
        code = self.ids.referral()
        while code in self.by_code:
            code = self.ids.referral()
        agent = Agent(
            agent_id=agent_id, referral_code=code, created_at=at, label=label, strategy=strategy
        )
        self.agents[agent_id] = agent
        self.by_code[code] = agent
        if referred_by is not None and referred_by in self.agents:
            agent.referred_by = referred_by
            referrer = self.agents[referred_by]
            referrer.referrals.append((agent_id, at))
            referrer.touch()
        return agent

    def add_key(self, agent: Agent, kind: str, key: str) -> None:
        """Index ``key`` (by hash) as the agent's ``kind`` key: casino, trading or wallet."""
        self.by_key[key_hash(key)] = (agent, kind)

    def lookup(self, token: str | None) -> tuple[Agent, str] | None:
        if not token:
            return None
        return self.by_key.get(key_hash(token))

    def get(self, agent_id: str) -> Agent:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise ApiError(404, "agent_not_found", f"no agent {agent_id}")
        return agent

    def post(
        self,
        agent: Agent,
        amount: Decimal,
        type_: str,
        at: float,
        *,
        reason: str = "",
        reference: str = "",
        service: str = "casino",
    ) -> LedgerRow:
        """Move ``amount`` (signed) on the agent's casino balance and write the ledger row.

        The caller moves the matching amount elsewhere (house, escrow, faucet): money is conserved.
        """
        agent.casino += amount
        self._row += 1
        row = LedgerRow(
            self._row, agent.agent_id, type_, amount, agent.casino, reason, reference, service, at
        )
        agent.ledger.append(row)
        if type_ == "deposit":
            agent.has_deposits = True
        if type_ in _IN_TYPES:
            agent.deposited += amount
        elif type_ in _OUT_TYPES:
            agent.withdrawn -= amount
        agent.touch()
        return row

    def agents_total(self) -> Decimal:
        return sum((a.casino + a.trading for a in self.agents.values()), ZERO)
