"""Every action on an escrow a demo agent created from its own code, in both dialects.

Each action runs through the same faults: its first attempt answers 503 before the handler runs,
its second executes and loses the reply. The classic routes ignore ``Idempotency-Key`` here, as
production does. Each action must execute exactly once on the server (the request log, and the
balances) and end in the state it aimed for; a preview must show the funds at stake and what the
escrow's timeout will do. Breaking the runner's "409 means already done once a GET shows it" or
the docs dialect's replay shows up as a second execution or an unknown outcome.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from pf_tui.api.models import Dialect, EscrowStatus
from pf_tui.core.money.escrows import TimeoutMove, escrow_version
from pf_tui.core.money.types import (
    ActionValidationError,
    AdoptEscrow,
    CloseEscrow,
    CloseStream,
    DisputeEscrow,
    MarkComplete,
    ReleaseEscrow,
    ReleasePartial,
    RequestState,
    StalePreviewError,
    StreamMode,
    StreamOrigin,
    StreamUnit,
)
from pf_tui.sim.http.server import SimServer
from pf_tui.usd import fee_of

from .helpers import (
    REASON,
    Harness,
    ScriptedFaults,
    agent_escrow,
    agent_post,
    casino_balance,
    last_seq,
    lost_and_503,
    money_requests,
    posts,
    sim_post,
)

BOTH = pytest.mark.parametrize("dialect", [Dialect.CLASSIC, Dialect.STREAMING])


def executions(url: str, since: int, path: str) -> list[dict[str, Any]]:
    """Requests to ``path`` the server's handler carried out (a lost reply counts: it ran)."""
    return [
        r
        for r in money_requests(url, since)
        if r["path"] == path and r["executed"] and r["status"] < 300
    ]


def production(url: str) -> None:
    """Classic routes ignore the idempotency key, as production's do."""
    sim_post(url, "/_sim/config", {"idempotency_on_classic": False})


async def run_through_faults(h: Harness, intent: Any, route: str) -> Any:
    """Preview ``intent``, then execute it with attempt 1 refused (503) and attempt 2's reply
    lost after it executed; the result must be done."""
    preview = await h.engine.preview(intent)
    h.engine.runner.wire = ScriptedFaults(h.client, h.keys, h.url, lost_and_503(route))
    since = last_seq(h.url)
    result = await h.engine.execute(preview)
    assert result.state is RequestState.DONE, result
    tried = [r["fault"] for r in money_requests(h.url, since) if r["path"] == route]
    assert tried[:2] == ["error", "reset"]  # the faults did happen, in that order
    return preview


async def status(h: Harness, agent_id: str, escrow_id: str, dialect: Dialect) -> EscrowStatus:
    return (await h.wire.escrow(agent_id, escrow_id, dialect)).status


async def test_release_in_full_of_an_agents_classic_escrow(harness: Harness) -> None:
    url = harness.url
    production(url)
    escrow_id, a, b = agent_escrow(url, Dialect.CLASSIC, amount="2")
    payee0 = casino_balance(url, b["agent_id"])
    since = last_seq(url)
    preview = await run_through_faults(
        harness,
        ReleaseEscrow(a["agent_id"], escrow_id, Dialect.CLASSIC),
        f"/escrow/escrow/release/{escrow_id}",
    )
    assert (preview.amount, preview.fee, preview.payee_nets) == (
        Decimal(2),
        Decimal("0.02"),
        Decimal("1.98"),
    )
    assert preview.stake is not None and preview.stake.timeout.move is TimeoutMove.REFUNDS_CREATOR
    assert len(executions(url, since, f"/escrow/escrow/release/{escrow_id}")) == 1
    assert casino_balance(url, b["agent_id"]) - payee0 == Decimal("1.98")
    assert await status(harness, a["agent_id"], escrow_id, Dialect.CLASSIC) is (
        EscrowStatus.RELEASED
    )


async def test_mark_complete_as_the_payee(harness: Harness) -> None:
    url = harness.url
    production(url)
    escrow_id, _a, b = agent_escrow(url, Dialect.CLASSIC)
    since = last_seq(url)
    preview = await run_through_faults(
        harness, MarkComplete(b["agent_id"], escrow_id), f"/escrow/escrow/complete/{escrow_id}"
    )
    # Complete moves nothing, and the preview says the timeout still refunds the creator.
    assert preview.amount == 0 and preview.stake is not None
    assert any("refunds the creator" in note for note in preview.notes)
    assert len(executions(url, since, f"/escrow/escrow/complete/{escrow_id}")) == 1
    assert await status(harness, b["agent_id"], escrow_id, Dialect.CLASSIC) is (
        EscrowStatus.COMPLETED
    )


@BOTH
@pytest.mark.parametrize("party", ["creator", "payee"])
async def test_dispute_by_either_party(harness: Harness, dialect: Dialect, party: str) -> None:
    url = harness.url
    production(url)
    escrow_id, a, b = agent_escrow(url, dialect, amount="3")
    who = a if party == "creator" else b
    path = (
        f"/escrow/escrow/dispute/{escrow_id}"
        if dialect is Dialect.CLASSIC
        else f"/escrow/api/v1/escrow/{escrow_id}/dispute"
    )
    since = last_seq(url)
    preview = await run_through_faults(
        harness, DisputeEscrow(who["agent_id"], escrow_id, REASON, dialect=dialect), path
    )
    # The funds at stake, not "$0.00": the whole escrow freezes.
    assert preview.stake is not None and preview.stake.remaining == Decimal(3)
    assert preview.stake.payee_nets == Decimal("2.97")
    assert len(executions(url, since, path)) == 1
    assert await status(harness, who["agent_id"], escrow_id, dialect) is EscrowStatus.DISPUTED


async def test_release_part_then_the_rest_of_an_agents_stream(harness: Harness) -> None:
    url = harness.url
    escrow_id, a, b = agent_escrow(url, Dialect.STREAMING, amount="5")
    path = f"/escrow/api/v1/escrow/{escrow_id}/release-partial"
    payee0 = casino_balance(url, b["agent_id"])
    since = last_seq(url)
    part = await run_through_faults(
        harness, ReleaseEscrow(a["agent_id"], escrow_id, Dialect.STREAMING, "1.5"), path
    )
    assert (part.amount, part.fee) == (Decimal("1.5"), Decimal("0.015"))
    assert any("3.5" in note for note in part.notes)  # what stays in the escrow
    rest = await run_through_faults(
        harness, ReleaseEscrow(a["agent_id"], escrow_id, Dialect.STREAMING), path
    )
    assert rest.amount == Decimal("3.5")
    assert len(executions(url, since, path)) == 2  # one per intent, none twice
    assert casino_balance(url, b["agent_id"]) - payee0 == Decimal(5) - fee_of(Decimal(5))
    assert await status(harness, a["agent_id"], escrow_id, Dialect.STREAMING) is (
        EscrowStatus.RELEASED
    )


async def test_close_an_agents_stream_refunds_the_rest(harness: Harness) -> None:
    url = harness.url
    escrow_id, a, _b = agent_escrow(url, Dialect.STREAMING, amount="4")
    agent_post(
        url,
        f"/escrow/api/v1/escrow/{escrow_id}/release-partial",
        a["keys"]["casino"],
        {"amount": "1"},
    )
    creator0 = casino_balance(url, a["agent_id"])
    path = f"/escrow/api/v1/escrow/{escrow_id}/close"
    since = last_seq(url)
    preview = await run_through_faults(harness, CloseEscrow(a["agent_id"], escrow_id), path)
    assert preview.refund == Decimal(3)
    assert preview.stake is not None and preview.stake.released == Decimal(1)
    assert len(executions(url, since, path)) == 1
    assert casino_balance(url, a["agent_id"]) - creator0 == Decimal(3)


async def test_each_action_is_refused_where_the_api_would_refuse_it(harness: Harness) -> None:
    """Wrong dialect, wrong party, wrong amount: refused at preview, nothing sent."""
    url = harness.url
    classic, a, b = agent_escrow(url, Dialect.CLASSIC, amount="2")
    stream, _, _ = agent_escrow(url, Dialect.STREAMING, amount="2")
    since = last_seq(url)
    refusals = [
        (ReleaseEscrow(b["agent_id"], classic, Dialect.CLASSIC), "only its creator"),
        (ReleaseEscrow(a["agent_id"], classic, Dialect.CLASSIC, "1"), "released whole"),
        (ReleaseEscrow(a["agent_id"], stream, Dialect.STREAMING, "2.5"), "more than"),
        (CloseEscrow(a["agent_id"], classic, dialect=Dialect.CLASSIC), "has no close"),
        (CloseEscrow(b["agent_id"], stream), "only its creator"),
        (MarkComplete(a["agent_id"], classic), "only its payee"),
        (MarkComplete(b["agent_id"], stream, dialect=Dialect.STREAMING), "only a classic"),
    ]
    for intent, words in refusals:
        with pytest.raises(ActionValidationError, match=words):
            await harness.engine.preview(intent)
    assert posts(url, since) == []


async def test_an_escrow_that_moved_since_the_preview_is_refused_sending_nothing(
    harness: Harness,
) -> None:
    """The agent's own code releases part of the escrow between preview and confirm: execute
    re-reads it, sees another version, and sends nothing."""
    url = harness.url
    escrow_id, a, _b = agent_escrow(url, Dialect.STREAMING, amount="5")
    seen = await harness.wire.escrow(a["agent_id"], escrow_id, Dialect.STREAMING)
    intent = CloseEscrow(a["agent_id"], escrow_id, version=escrow_version(seen))
    preview = await harness.engine.preview(intent)
    assert preview.escrow_version == escrow_version(seen)
    agent_post(
        url,
        f"/escrow/api/v1/escrow/{escrow_id}/release-partial",
        a["keys"]["casino"],
        {"amount": "1"},
    )
    since = last_seq(url)
    with pytest.raises(StalePreviewError, match="changed since the preview"):
        await harness.engine.execute(preview)
    assert posts(url, since) == []
    assert not harness.engine.journal.has_intent(preview.key)
    # A preview made now shows the new figures and says the row the operator saw is old.
    again = await harness.engine.preview(intent)
    assert again.stake is not None and again.stake.remaining == Decimal(4)
    assert "changed since the row you acted on" in again.notes[0]


@BOTH
async def test_adopt_an_agents_escrow_as_a_stream_then_pay_and_close_it(
    sim: SimServer, harness: Harness, dialect: Dialect
) -> None:
    """Adoption sends nothing; the stream then owes by the hour and its release and close act
    on the agent's escrow (native: in parts; tranche: the escrow is one tranche)."""
    url = harness.url
    escrow_id, a, b = agent_escrow(url, dialect, amount="1")
    since = last_seq(url)
    preview = await harness.engine.preview(
        AdoptEscrow(a["agent_id"], escrow_id, dialect, "0.5", StreamUnit.HOUR)
    )
    assert preview.requests == () and preview.stake is not None
    assert (await harness.engine.execute(preview)).done
    assert posts(url, since) == []
    stream = harness.engine.stream(str(preview.stream_id))
    assert (stream.origin, stream.escrow_id, stream.funded, stream.payee) == (
        StreamOrigin.ADOPTED,
        escrow_id,
        Decimal(1),
        b["agent_id"],
    )
    assert stream.mode is (
        StreamMode.NATIVE if dialect is Dialect.STREAMING else StreamMode.TRANCHE
    )
    assert stream.timeout_at is not None
    # Its escrow is now the stream's: escrow-level money moves are refused.
    with pytest.raises(ActionValidationError, match="backs stream"):
        await harness.engine.preview(ReleaseEscrow(a["agent_id"], escrow_id, dialect))
    harness.clock.advance(2 * 3600)  # two hours at $0.50: $1 owed, the whole escrow
    payee0 = casino_balance(url, b["agent_id"])
    if dialect is Dialect.STREAMING:
        release = await harness.engine.preview(ReleasePartial(stream.id, amount="0.4"))
        assert (await harness.engine.execute(release)).done
        close = await harness.engine.preview(CloseStream(stream.id))
        assert close.amount == Decimal("0.6")  # what is still owed, then nothing left to refund
    else:
        close = await harness.engine.preview(CloseStream(stream.id))
        assert close.amount == Decimal(1)  # one whole tranche owed: released whole
    assert (await harness.engine.execute(close)).done
    assert casino_balance(url, b["agent_id"]) - payee0 == Decimal("0.99")
    assert harness.engine.stream(stream.id).state.value == "closed"
