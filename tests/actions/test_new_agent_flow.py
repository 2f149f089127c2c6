"""A new agent over real HTTP: register, faucet, bet, stream to another agent, two partials,
close."""

from __future__ import annotations

import uuid
from decimal import Decimal

from pf_tui.core.money.types import (
    ClaimFaucet,
    CloseStream,
    OpenStream,
    ReleasePartial,
    StreamMode,
    StreamState,
    StreamUnit,
)
from pf_tui.sim.http.server import SimServer
from pf_tui.usd import fee_of

from .helpers import Harness, casino_balance


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
