"""A new agent over real HTTP: register, faucet, bet, stream to another agent, two partials,
close."""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx

from pf_tui.api.errors import APIConnectionError, ConflictError
from pf_tui.core.money.types import (
    ClaimFaucet,
    CloseStream,
    JsonObject,
    OpenStream,
    PlannedRequest,
    ReleasePartial,
    RequestState,
    StreamMode,
    StreamState,
    StreamUnit,
)
from pf_tui.core.money.wire import ClientWire
from pf_tui.sim.http.server import SimServer
from pf_tui.usd import fee_of

from .helpers import Harness, casino_balance, last_seq, money_requests


async def test_new_agent_end_to_end(sim: SimServer, harness: Harness) -> None:
    anon = harness.client.agent(None, casino_key=None)
    payer = await anon.register()  # the day's first registration gets the faucet dollar itself
    payee = await anon.register()
    harness.add_key(payee.agent_id, payee.api_key)
    harness.add_key(payer.agent_id, payer.api_key)
    assert casino_balance(sim.url, payer.agent_id) == Decimal(1)
    assert casino_balance(sim.url, payee.agent_id) == Decimal(0)

    bettor = harness.client.agent(payer.agent_id, casino_key=harness.keys[payer.agent_id])
    bet = await bettor.coin_flip("heads", Decimal("0.10"), idempotency_key=str(uuid.uuid4()))
    after_bet = Decimal(1) - Decimal("0.10") + bet.amount_won
    assert casino_balance(sim.url, payer.agent_id) == after_bet

    opened = await harness.engine.preview(
        OpenStream(
            payer.agent_id,
            payee.agent_id,
            "0.05",
            StreamUnit.CALL,
            "0.50",
            "0.10",
            "api calls",
            StreamMode.NATIVE,
        )
    )
    assert opened.balance_after == after_bet - Decimal("0.50")
    assert (await harness.engine.execute(opened)).done
    sid = opened.stream_id
    assert sid is not None
    for _ in range(2):
        release = await harness.engine.preview(ReleasePartial(sid, count=2))
        assert release.amount == Decimal("0.10") and release.payee_nets == Decimal("0.099")
        assert (await harness.engine.execute(release)).done
    close = await harness.engine.preview(CloseStream(sid, count=1))
    assert [r.path.rsplit("/", 1)[-1] for r in close.requests] == ["release-partial", "close"]
    assert close.refund == Decimal("0.25")
    assert (await harness.engine.execute(close)).done

    stream = harness.engine.stream(sid)
    assert stream.state is StreamState.CLOSED and stream.released == Decimal("0.25")
    paid = Decimal("0.25")
    fees = fee_of(Decimal("0.10")) * 2 + fee_of(Decimal("0.05"))
    assert casino_balance(sim.url, payer.agent_id) == after_bet - paid
    assert casino_balance(sim.url, payee.agent_id) == paid - fees
    assert harness.engine.unsettled() == []


async def test_faucet_claim_for_a_new_agent(sim: SimServer, harness: Harness) -> None:
    anon = harness.client.agent(None, casino_key=None)
    await anon.register()  # takes the registration bucket's dollar
    fresh = await anon.register()
    harness.add_key(fresh.agent_id, fresh.api_key)
    claim = await harness.engine.preview(ClaimFaucet(fresh.agent_id))
    assert claim.balance_before == 0 and claim.balance_after == 1
    assert (await harness.engine.execute(claim)).done
    assert casino_balance(sim.url, fresh.agent_id) == Decimal(1)


FAUCET = "/faucet/faucet/claim"


async def fresh_agent(harness: Harness) -> str:
    """A newly registered agent with no money, its key known to the harness."""
    anon = harness.client.agent(None, casino_key=None)
    await anon.register()  # takes the registration bucket's dollar
    fresh = await anon.register()
    harness.add_key(fresh.agent_id, fresh.api_key)
    return fresh.agent_id


def claims(url: str, since: int) -> list[dict[str, object]]:
    """Faucet claims the server carried out (a lost reply counts: it ran)."""
    return [
        r
        for r in money_requests(url, since)
        if r["path"] == FAUCET and r["executed"] and r["status"] < 300
    ]


def claim_elsewhere(url: str, agent_id: str) -> None:
    """The agent's own code claims, from another address (so pf-tui's is not IP-limited)."""
    httpx.post(
        f"{url}{FAUCET}",
        json={"agent_casino_id": agent_id},
        headers={"X-Forwarded-For": "10.9.8.7"},
        timeout=10,
    ).raise_for_status()


async def test_a_first_claim_answered_already_claimed_paid_nothing(
    sim: SimServer, harness: Harness
) -> None:
    agent_id = await fresh_agent(harness)
    claim_elsewhere(sim.url, agent_id)
    preview = await harness.engine.preview(ClaimFaucet(agent_id))
    since = last_seq(sim.url)
    result = await harness.engine.execute(preview)
    # Our one send was refused: the journal says so, not "done" (nothing was credited by it).
    assert result.state is RequestState.FAILED, result
    (request,) = result.requests
    assert request.state is RequestState.FAILED
    assert request.error is not None
    assert "already_claimed" in request.error and "nothing was paid" in request.error
    assert claims(sim.url, since) == []
    assert casino_balance(sim.url, agent_id) == Decimal(1)  # the agent's own claim, once


class LostThenAlreadyClaimed(ClientWire):
    """Attempt 1 reaches the server and claims, and its reply is lost; attempt 2 meets a server
    that does not replay the key (production's faucet may not): 409 ``already_claimed``."""

    attempts = 0

    async def post(self, agent_id: str, request: PlannedRequest, path: str) -> JsonObject:
        self.attempts += 1
        if self.attempts == 1:
            await super().post(agent_id, request, path)
            raise APIConnectionError("connection reset (test: the reply was lost)")
        raise ConflictError(409, "already_claimed", "this agent already claimed")


async def test_a_claim_whose_reply_was_lost_is_done_and_claimed_once(
    sim: SimServer, harness: Harness
) -> None:
    agent_id = await fresh_agent(harness)
    preview = await harness.engine.preview(ClaimFaucet(agent_id))
    wire = LostThenAlreadyClaimed(harness.client, harness.keys)
    harness.engine.runner.wire = wire
    since = last_seq(sim.url)
    result = await harness.engine.execute(preview)
    # The 409 answers our own lost claim: done, and the server ran the claim exactly once.
    assert result.state is RequestState.DONE, result
    assert wire.attempts == 2
    assert (result.requests[0].response or {}).get("note") == "already_claimed"
    assert len(claims(sim.url, since)) == 1
    assert casino_balance(sim.url, agent_id) == Decimal(1)
    # Run again with the same key: nothing new is sent, nothing claimed twice.
    again = await harness.engine.execute(preview)
    assert again.state is RequestState.DONE and wire.attempts == 2
    assert len(claims(sim.url, since)) == 1
