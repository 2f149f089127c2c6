"""Money is conserved through any sequence of operations (hypothesis drives the pure model)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from pf_tui.sim.http.server import SimServer
from pf_tui.sim.model.errors import ApiError
from pf_tui.sim.model.escrow import CLASSIC, DOCS, TERMINAL
from pf_tui.sim.model.faucet import REGISTRATION_BUCKET
from pf_tui.sim.model.market import INITIAL_PRICES
from pf_tui.sim.model.state import Simulator

from .helpers import auth, body

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("60"), places=2)
micro = st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("5"), places=6)


class Conservation(RuleBasedStateMachine):
    """Every rule is a real money move; errors the rules refuse are part of the exploration."""

    def __init__(self) -> None:
        super().__init__()
        self.sim = Simulator(seed=3, agents=5, motion=False, start_time=1_767_225_600.0)
        self.sim.set_motion(False)
        self.agents = list(self.sim.accounts.agents.values())
        self.terminal: dict[str, tuple[str, Decimal, Decimal]] = {}
        self.ips = 0

    def pick(self, i: int) -> Any:
        return self.agents[i % len(self.agents)]

    def attempt(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ApiError:
            return None

    @rule(ref=st.integers(0, 20))
    def register(self, ref: int) -> None:
        agent, _ = self.sim.register(self.pick(ref).referral_code)
        self.agents.append(agent)

    @rule(i=st.integers(0, 50))
    def faucet(self, i: int) -> None:
        self.ips += 1
        self.attempt(
            self.sim.faucet.claim,
            {"agent_casino_id": self.pick(i).agent_id},
            f"ip{self.ips}",
            self.sim.now(),
        )

    @rule(i=st.integers(0, 50), amount=amounts, heads=st.booleans())
    def coin_flip(self, i: int, amount: Decimal, heads: bool) -> None:
        self.attempt(
            self.sim.casino.coin_flip,
            self.pick(i),
            "heads" if heads else "tails",
            amount,
            self.sim.now(),
        )

    @rule(i=st.integers(0, 50), amount=amounts, over=st.booleans(), t=st.integers(1, 99))
    def dice(self, i: int, amount: Decimal, over: bool, t: int) -> None:
        self.attempt(
            self.sim.casino.dice,
            self.pick(i),
            "over" if over else "under",
            t,
            amount,
            self.sim.now(),
        )

    @rule(
        i=st.integers(0, 50),
        coin=st.sampled_from(sorted(INITIAL_PRICES)),
        long=st.booleans(),
        size=st.decimals(min_value=Decimal(1), max_value=Decimal(500), places=2),
        lev=st.integers(1, 20),
    )
    def trade_open(self, i: int, coin: str, long: bool, size: Decimal, lev: int) -> None:
        self.attempt(
            self.sim.market.open,
            self.pick(i),
            coin,
            "long" if long else "short",
            size,
            lev,
            self.sim.now(),
        )

    @rule(i=st.integers(0, 50))
    def trade_close(self, i: int) -> None:
        agent = self.pick(i)
        if agent.positions:
            self.sim.market.close(agent, next(iter(agent.positions)), self.sim.now())

    @rule(steps=st.integers(1, 30))
    def prices_move(self, steps: int) -> None:
        for _ in range(steps):
            self.sim.market.step()

    @rule(
        i=st.integers(0, 50),
        j=st.integers(0, 50),
        amount=st.decimals(min_value=Decimal("0.05"), max_value=Decimal("80"), places=6),
        docs=st.booleans(),
        hours=st.integers(1, 3),
        ref=st.integers(0, 60),
    )
    def escrow_create(
        self, i: int, j: int, amount: Decimal, docs: bool, hours: int, ref: int
    ) -> None:
        code = self.pick(ref).referral_code if ref < 40 else "ref_unknown1"
        self.attempt(
            self.sim.create_escrow,
            self.pick(i),
            dialect=DOCS if docs else CLASSIC,
            raw_amount=amount,
            description="state machine",
            payee_id=self.pick(j).agent_id,
            raw_timeout=hours,
            referral_code=code,
        )

    def escrow(self, k: int) -> Any:
        escrows = list(self.sim.escrows.escrows.values())
        return escrows[k % len(escrows)] if escrows else None

    @rule(k=st.integers(0, 100), who=st.booleans())
    def escrow_complete(self, k: int, who: bool) -> None:
        esc = self.escrow(k)
        if esc is not None:
            agent = self.sim.accounts.agents[esc.payee_id if who else esc.creator_id]
            self.attempt(self.sim.escrows.complete, esc, agent, self.sim.now())

    @rule(k=st.integers(0, 100), who=st.booleans())
    def escrow_release(self, k: int, who: bool) -> None:
        esc = self.escrow(k)
        if esc is not None:
            agent = self.sim.accounts.agents[esc.creator_id if who else esc.payee_id]
            self.attempt(self.sim.escrows.release, esc, agent, self.sim.now())

    @rule(k=st.integers(0, 100), amount=micro)
    def stream_partial(self, k: int, amount: Decimal) -> None:
        esc = self.escrow(k)
        if esc is not None:
            creator = self.sim.accounts.agents[esc.creator_id]
            self.attempt(self.sim.escrows.release_partial, esc, creator, amount, self.sim.now())

    @rule(k=st.integers(0, 100))
    def stream_close(self, k: int) -> None:
        esc = self.escrow(k)
        if esc is not None:
            self.attempt(
                self.sim.escrows.close,
                esc,
                self.sim.accounts.agents[esc.creator_id],
                self.sim.now(),
            )

    @rule(k=st.integers(0, 100), docs=st.booleans())
    def dispute(self, k: int, docs: bool) -> None:
        esc = self.escrow(k)
        if esc is not None:
            agent = self.sim.accounts.agents[esc.payee_id]
            self.attempt(
                self.sim.escrows.dispute,
                esc,
                agent,
                "why",
                DOCS if docs else CLASSIC,
                self.sim.now(),
            )

    @rule(seconds=st.sampled_from([1, 600, 3600, 7200, 86400]))
    def clock_advance(self, seconds: int) -> None:
        self.sim.advance(seconds)

    @invariant()
    def money_is_conserved(self) -> None:
        acc = self.sim.accounts
        assert self.sim.total() == acc.initial_total + acc.granted
        assert all(a.casino >= 0 and a.trading >= 0 for a in acc.agents.values())

    @invariant()
    def escrows_are_sane(self) -> None:
        for esc in self.sim.escrows.escrows.values():
            assert 0 <= esc.released <= esc.amount
            assert esc.held >= 0
            if esc.escrow_id in self.terminal:
                assert self.terminal[esc.escrow_id] == (esc.status, esc.released, esc.refunded)
            elif esc.status in TERMINAL:
                self.terminal[esc.escrow_id] = (esc.status, esc.released, esc.refunded)


TestConservation = Conservation.TestCase


def test_registration_bucket_is_internal() -> None:
    sim = Simulator(seed=1, agents=0, motion=False, start_time=1_767_225_600.0)
    sim.register(None)
    assert REGISTRATION_BUCKET in sim.faucet.ip_claims and sim.accounts.granted == 1


def test_fleet_motion_conserves_money_and_moves_every_screen() -> None:
    sim = Simulator(seed=11, agents=10, motion=True, start_time=1_767_225_600.0)
    sim.pause()
    sim.advance(2 * 3600)
    assert sim.conserved()
    statuses = {e.status for e in sim.escrows.escrows.values()}
    assert {"funded", "released"} & statuses and len(sim.escrows.escrows) > 5
    assert any(a.total_bets for a in sim.accounts.agents.values())
    assert any(a.positions or len(a.trades) > 0 for a in sim.accounts.agents.values())
    assert len(sim.accounts.agents) > 10  # referrals trickled in


def test_http_conservation_smoke(sim_server: SimServer) -> None:
    """A short HTTP-level run across services keeps /_sim/state's books balanced."""
    with httpx.Client(base_url=sim_server.url, timeout=10) as c:
        agents = c.get("/_sim/agents").json()["agents"]
        grinder, buyer, seller = agents[2], agents[3], agents[4]
        c.post(
            "/casino/api/v1/games/dice",
            json={"direction": "over", "threshold": 50, "amount": "1.5"},
            headers=auth(grinder["keys"]["casino"]),
        )
        c.post(
            "/trading/v1/trade/open",
            json={"coin": "ETH", "side": "short", "size_usd": "50"},
            headers=auth(agents[0]["keys"]["trading"]),
        )
        sid = c.post(
            "/escrow/api/v1/escrow",
            json={"to_agent_id": seller["agent_id"], "amount": "3.333333"},
            headers=auth(buyer["keys"]["casino"]),
        ).json()["escrow_id"]
        c.post(
            f"/escrow/api/v1/escrow/{sid}/release-partial",
            json={"amount": "1.111111"},
            headers=auth(buyer["keys"]["casino"]),
        )
        c.post("/_sim/clock", json={"advance_s": 90000})
        state = body(c.get("/_sim/state"))
        assert state["conserved"] is True
        total = (
            sum(a["casino_usd"] + a["trading_usd"] for a in state["agents"])
            + sum(e["held_usd"] for e in state["escrows"])
            + state["house_usd"]
        )
        assert (
            total == state["total_usd"] == state["initial_total_usd"] + state["faucet_granted_usd"]
        )
