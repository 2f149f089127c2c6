"""The demo fleet: N seeded agents whose motion is a function of simulated time.

At set-up every agent gets a history, so the console has figures from its first poll: 30 days of
closed trades, casino grinders' bets of the past hour (a win rate next to the expected one), and
the data buyers' streams already running (escrow exposure, a dispute rate). With two agents or
more, the last one is a *newcomer*: registered a few minutes ago, with keys but no deposit and
no faucet claim, so the faucet key has an agent it works for.

One :meth:`Fleet.step` per simulated second: prices move, a few agents act by strategy (trade and
sweep realised P&L between the trading and casino accounts, bet, open/release/close/dispute
escrows), referrals trickle in, and the demo's scripted incidents
(:mod:`pf_tui.sim.model.story`) start and end on time. Same seed, same steps, same state.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import TYPE_CHECKING

from pf_tui.sim.model.accounts import Agent
from pf_tui.sim.model.errors import ApiError
from pf_tui.sim.model.escrow import CLASSIC, DOCS, OPEN
from pf_tui.sim.model.market import Trade
from pf_tui.sim.model.num import day_start, num, q2
from pf_tui.usd import JSON

if TYPE_CHECKING:
    from pf_tui.sim.model.state import Simulator

STRATEGIES = ("trend", "mean-revert", "casino-grinder", "data-buyer", "compute-seller")
NEWCOMER = "newcomer"
"""The strategy of the demo's last agent: new, no deposit, the faucet's dollar still to claim."""
_NAMES = (
    "atlas",
    "birch",
    "cobalt",
    "delta",
    "ember",
    "fjord",
    "gale",
    "harbor",
    "iris",
    "juniper",
    "kestrel",
    "lumen",
    "maple",
    "nova",
    "onyx",
    "pike",
    "quill",
    "raven",
    "sable",
    "tundra",
)
_BALANCES = (250, 500, 1000, 2500, 5000)
_TRADING_SHARE = {
    "trend": Decimal("0.8"),
    "mean-revert": Decimal("0.8"),
    "casino-grinder": Decimal("0.1"),
    "data-buyer": Decimal("0.2"),
    "compute-seller": Decimal("0.2"),
}
_CASINO_FLOOR = Decimal(100)
"""The least an agent keeps in the casino at the start (twice the low_balance threshold)."""
_HISTORY_DAYS = 30
_PAST_BETS = 40
"""Bets each casino grinder made in the hour before the simulation starts."""
_ACTS_PER_STEP = 3
"""Agents that act each simulated second (a tenth of the fleet when that is more): enough that
every figure of a small demo fleet moves within a few seconds."""


class Fleet:
    """The demo agents and what they do each simulated second."""

    def __init__(self, sim: Simulator, rng: random.Random) -> None:
        self.sim = sim
        self.rng = rng
        self.members: list[Agent] = []
        self.sellers: list[Agent] = []
        self.onchain: dict[str, Decimal] = {}
        self._open: dict[str, list[str]] = {}
        self._steps = 0
        self._stream_no = 0

    # --- set-up --------------------------------------------------------------------------------

    def setup(self, count: int, now: float) -> None:
        rng, acc, ids = self.rng, self.sim.accounts, self.sim.ids
        regular = count - 1 if count >= 2 else count
        for i in range(regular):
            strategy = STRATEGIES[i % len(STRATEGIES)]
            label = f"{_NAMES[i % len(_NAMES)]}-{strategy}-{i + 1:03d}"
            referred_by = None
            if self.members and rng.random() < 0.4:
                referred_by = rng.choice(self.members).agent_id
            created = day_start(now) - rng.randint(35, 120) * 86400
            agent = acc.create(created, referred_by=referred_by, label=label, strategy=strategy)
            agent.keys = {
                "casino": ids.casino_key(),
                "trading": ids.trading_key(),
                "wallet": ids.wallet_key(),
            }
            for kind, key in agent.keys.items():
                acc.add_key(agent, kind, key)
            agent.addresses = {"base": ids.base_address(), "solana": ids.solana_address()}
            self.onchain[agent.addresses["base"]] = Decimal(rng.randint(0, 500_000)) / 100
            self.onchain[agent.addresses["solana"]] = Decimal(rng.randint(0, 200_000)) / 100
            initial = Decimal(rng.choice(_BALANCES))
            # A trader's casino share stays a good margin over the $50 low_balance threshold:
            # at exactly $50, its first covered loss put it under for good (a permanent alert
            # that teaches nothing).
            trading = q2(min(initial * _TRADING_SHARE[strategy], initial - _CASINO_FLOOR))
            agent.initial_balance = initial
            acc.post(
                agent,
                initial - trading,
                "deposit",
                created,
                reason="initial deposit",
                reference="dep_initial",
            )
            agent.trading = trading
            agent.trading_start = trading
            agent.wallet_ref_count = rng.randint(0, 4)
            agent.wallet_ref_earned = Decimal(rng.randint(0, 2000)) / 100
            self._seed_history(agent, trading, now)
            self.members.append(agent)
            if strategy == "compute-seller":
                self.sellers.append(agent)
        if regular < count:
            self._newcomer(count - 1, now)
        for agent in self.members:
            if agent.strategy == "casino-grinder":
                self._past_bets(agent, now)
        for agent in self.members:
            if agent.strategy == "data-buyer":
                self._first_stream(agent)

    def _newcomer(self, i: int, now: float) -> None:
        """An agent registered minutes ago (referred by a member): keys, and not a cent yet."""
        rng, acc, ids = self.rng, self.sim.accounts, self.sim.ids
        referrer = rng.choice(self.members) if self.members else None
        created = now - rng.randint(60, 600)
        agent = acc.create(
            created,
            referred_by=referrer.agent_id if referrer else None,
            label=f"{_NAMES[i % len(_NAMES)]}-{NEWCOMER}-{i + 1:03d}",
            strategy=NEWCOMER,
        )
        # Keys for every service (a figure with no key is never fetched, and the console shows
        # such an agent stale for good), but no money anywhere yet.
        agent.keys = {
            "casino": ids.casino_key(),
            "trading": ids.trading_key(),
            "wallet": ids.wallet_key(),
        }
        for kind, key in agent.keys.items():
            acc.add_key(agent, kind, key)
        agent.addresses = {"base": ids.base_address(), "solana": ids.solana_address()}
        self.members.append(agent)

    def _past_bets(self, agent: Agent, now: float) -> None:
        """The grinder's last hour of bets, so its win rate starts beside the expected one."""
        for n in range(_PAST_BETS, 0, -1):
            try:
                self._bet(agent, now - n * 90)
            except ApiError:
                return

    def _first_stream(self, agent: Agent) -> None:
        """A stream already paying a seller when the simulation starts, a part released."""
        try:
            self._buy(agent, self.sim.now(), opening=True)
            mine = self._open_of(agent)
            if mine:
                esc = self.sim.escrows.escrows[mine[0]]
                if esc.dialect == DOCS:
                    part = q2(esc.amount * Decimal("0.2"))
                    self.sim.escrows.release_partial(esc, agent, part, self.sim.now())
        except ApiError:
            pass  # a demo agent that cannot afford a stream starts without one

    def _seed_history(self, agent: Agent, trading: Decimal, now: float) -> None:
        """30 days of closed trades, and some of today's (all before the simulation starts), so
        P&L charts have points and "P&L today" a figure from the first poll."""
        if trading <= 0:
            return
        rng = self.rng
        today = day_start(now)
        coins = list(self.sim.market.prices)
        so_far = max(int(now - today) - 1, 0)  # seconds of today before the start
        for day in range(_HISTORY_DAYS, -1, -1):
            for _ in range(rng.randint(0, 3) if day else rng.randint(1, 2)):
                # Today's trades take a fraction of the time so far from one random(): a
                # randint over a range that depends on the hour draws a varying number of bits,
                # and every figure seeded after it (balances, the first streams) then depended
                # on the time of day the simulator started.
                offset = rng.randint(0, 86399) if day else int(rng.random() * so_far)
                at = today - day * 86400 + offset
                pnl = q2(trading * rng.randint(-250, 300) / 10000)
                fee = q2(trading * Decimal("0.0002"))
                agent.trades.append(
                    Trade(at, rng.choice(coins), rng.choice(("long", "short")), pnl, fee)
                )

    def wire(self) -> list[dict[str, JSON]]:
        return [
            {
                "agent_id": a.agent_id,
                "label": a.label,
                "strategy": a.strategy,
                "initial_balance": num(a.initial_balance),
                "referral_code": a.referral_code,
                "keys": dict(a.keys),
                "addresses": dict(a.addresses),
            }
            for a in self.members
        ]

    # --- motion --------------------------------------------------------------------------------

    def step(self, at: float) -> None:
        """One simulated second."""
        sim, rng = self.sim, self.rng
        sim.market.step()
        self._steps += 1
        if not self.members:
            return
        sim.story.step(at)
        for _ in range(max(_ACTS_PER_STEP, len(self.members) // 10)):
            agent = rng.choice(self.members)
            try:
                self._act(agent, at)
            except ApiError:
                pass  # a demo agent's move that the rules refuse is simply not made
        if self._steps % 10 == 0:
            for agent in self.members:
                if agent.positions:
                    sim.market.liquidate_due(agent, at)
        if rng.random() < 1 / 120:
            referrer = rng.choice(self.members)
            sim.register(referrer.referral_code)
        if rng.random() < 1 / 600:
            agent = rng.choice(self.members)
            agent.wallet_ref_count += 1
            agent.wallet_ref_earned += Decimal(rng.randint(10, 500)) / 100
            agent.touch()

    def _act(self, agent: Agent, at: float) -> None:
        strategy = agent.strategy
        if strategy in ("trend", "mean-revert"):
            self._trade(agent, at, 1 if strategy == "trend" else -1)
        elif strategy == "casino-grinder":
            self._bet(agent, at)
        elif strategy == "data-buyer":
            self._buy(agent, at)
        elif strategy == NEWCOMER:
            self._try_luck(agent, at)
        else:
            self._sell(agent, at)

    def _trade(self, agent: Agent, at: float, bias: int) -> None:
        rng, market = self.rng, self.sim.market
        if agent.positions:
            if rng.random() < 0.15:
                closed = market.close(agent, next(iter(agent.positions)), at)
                net = closed["net_pnl"]
                if isinstance(net, Decimal):
                    self._sweep(agent, net, at)
            return
        if rng.random() < 0.5:
            coin = rng.choice(list(market.prices))
            direction = market.trend(coin) * bias or rng.choice((1, -1))
            leverage = rng.choice((1, 2, 3, 5, 10))
            free = agent.trading - agent.margin_locked()
            size = q2(free * rng.choice((10, 20, 30)) / 100 * leverage)
            if size >= 1:
                market.open(agent, coin, "long" if direction > 0 else "short", size, leverage, at)

    def _sweep(self, agent: Agent, net: Decimal, at: float) -> None:
        """A trader's realised P&L settles against its casino balance: a profit is swept in, a
        loss is covered from it (as far as it goes), so the trading account stays its size."""
        acc = self.sim.accounts
        if net > 0:
            agent.trading -= net
            acc.post(agent, net, "deposit", at, reason="profit swept from trading")
        elif net < 0:
            cover = min(-net, agent.casino)
            if cover > 0:
                acc.post(agent, -cover, "withdrawal", at, reason="loss covered to trading")
                agent.trading += cover

    def _try_luck(self, agent: Agent, at: float) -> None:
        """The newcomer bets small once it has its faucet dollar."""
        stake = Decimal("0.05")
        if agent.casino >= stake * 2 and self.rng.random() < 0.3:
            self.sim.casino.coin_flip(agent, self.rng.choice(("heads", "tails")), stake, at)

    def _bet(self, agent: Agent, at: float) -> None:
        rng, casino = self.rng, self.sim.casino
        amount = min(max(Decimal("0.01"), q2(agent.casino / 200)), Decimal(25))
        if agent.casino < amount:
            return
        if rng.random() < 0.5:
            casino.coin_flip(agent, rng.choice(("heads", "tails")), amount, at)
        else:
            casino.dice(agent, rng.choice(("over", "under")), rng.randint(20, 80), amount, at)

    def _open_of(self, agent: Agent) -> list[str]:
        book = self.sim.escrows.escrows
        mine = [e for e in self._open.get(agent.agent_id, []) if book[e].status in OPEN]
        self._open[agent.agent_id] = mine
        return mine

    def _buy(self, agent: Agent, at: float, *, opening: bool = False) -> None:
        rng, sim = self.rng, self.sim
        mine = self._open_of(agent)
        if not mine:
            if opening or rng.random() < 0.5:
                payees = [s for s in (self.sellers or self.members) if s is not agent]
                if not payees:
                    return
                payee = rng.choice(payees)
                amount = min(max(Decimal("0.10"), q2(agent.casino / 20)), Decimal(200))
                if agent.casino < amount:
                    return
                self._stream_no += 1
                dialect = DOCS if rng.random() < 0.6 else CLASSIC
                kind = "data feed" if dialect == DOCS else "compute job"
                esc = sim.create_escrow(
                    agent,
                    dialect=dialect,
                    raw_amount=amount,
                    description=f"{kind} #{self._stream_no}",
                    payee_id=payee.agent_id,
                    raw_timeout=rng.choice((1, 6, 24)),
                    referral_code=None,
                )
                self._open.setdefault(agent.agent_id, []).append(esc.escrow_id)
            return
        esc = sim.escrows.escrows[mine[0]]
        roll = rng.random()
        if roll < 0.004:
            sim.escrows.dispute(esc, agent, "demo: deliverable not received", esc.dialect, at)
        elif esc.dialect == DOCS:
            if esc.held <= esc.amount / 5 and roll < 0.3:
                sim.escrows.close(esc, agent, at)
            elif roll < 0.25:  # a release every few acts: a stream lasts a minute or two
                part = min(
                    esc.held, max(Decimal("0.01"), q2(esc.amount * rng.randint(5, 20) / 100))
                )
                sim.escrows.release_partial(esc, agent, part, at)
        elif esc.status == "completed" or roll < 0.1:
            sim.escrows.release(esc, agent, at)

    def _sell(self, agent: Agent, at: float) -> None:
        rng, book = self.rng, self.sim.escrows
        for escrow_id in agent.escrow_ids[-5:]:
            esc = book.escrows[escrow_id]
            if esc.payee_id == agent.agent_id and esc.dialect == CLASSIC and esc.status == "funded":
                if rng.random() < 0.05:
                    book.dispute(esc, agent, "demo: payment terms", CLASSIC, at)
                else:
                    book.complete(esc, agent, at)
                return
        if rng.random() < 0.2 and agent.casino >= Decimal("0.5"):
            self.sim.casino.coin_flip(agent, rng.choice(("heads", "tails")), Decimal("0.25"), at)
