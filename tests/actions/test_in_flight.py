"""One action at a time per resource, with a real send held in flight.

While a release on a stream waits for its reply, every other action on that stream (release,
close, a dispute of its escrow, named as the stream's or as a plain escrow, pause) is refused with
the stream named; actions on another stream go ahead.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from pf_tui.core.money.types import (
    ActionInFlightError,
    CloseStream,
    DisputeEscrow,
    ReleasePartial,
    Resource,
)

from .helpers import REASON, GatedWire, Harness, open_intent, stream_dispute


async def test_a_stream_in_flight_takes_no_second_action(harness: Harness) -> None:
    engine = harness.engine
    stream = await harness.open_stream(open_intent(harness.url))
    other = await harness.open_stream(open_intent(harness.url))
    gated = GatedWire(harness.client, harness.keys)
    engine.runner.wire = gated  # previews still read balances through the engine's own wire

    release = asyncio.create_task(
        engine.execute(await engine.preview(ReleasePartial(stream.id, count=1)))
    )
    await gated.sending.wait()
    assert engine.busy(stream.id) and not engine.busy(other.id)
    for intent in (
        ReleasePartial(stream.id, count=1),
        CloseStream(stream.id),
        stream_dispute(stream),
    ):
        with pytest.raises(ActionInFlightError, match=f"another action on stream {stream.id}"):
            await engine.preview(intent)
    with pytest.raises(ActionInFlightError, match=f"stream {stream.id}"):
        engine.pause(stream.id)

    # The stream's escrow named as a plain escrow is still the stream's: one action at a time.
    plain = DisputeEscrow(stream.agent_id, str(stream.escrow_id), REASON, dialect=stream.dialect)
    assert plain.resource == Resource.escrow(str(stream.escrow_id))
    with pytest.raises(ActionInFlightError, match=f"another action on stream {stream.id}"):
        await engine.preview(plain)
    # Another stream is free.
    assert (await engine.preview(ReleasePartial(other.id, count=1))).stream_id == other.id

    gated.gate.set()
    assert (await release).done
    assert not engine.busy(stream.id)
    assert engine.stream(stream.id).released == Decimal("0.01")
    assert (await engine.preview(CloseStream(stream.id))).stream_id == stream.id


async def test_an_unsettled_stream_takes_no_action_until_reconciled(harness: Harness) -> None:
    engine = harness.engine
    stream = await harness.open_stream(open_intent(harness.url))
    gated = GatedWire(harness.client, harness.keys)
    engine.runner.wire = gated
    release = asyncio.create_task(
        engine.execute(await engine.preview(ReleasePartial(stream.id, count=1)))
    )
    await gated.sending.wait()
    release.cancel()  # the reply is lost: the request stays "sent" in the journal
    with pytest.raises(asyncio.CancelledError):
        await release
    assert engine.busy(stream.id)
    with pytest.raises(ActionInFlightError, match=f"stream {stream.id} has an action whose"):
        await engine.preview(ReleasePartial(stream.id, count=1))

    gated.gate.set()
    assert [r.done for r in await engine.reconcile()] == [True]
    assert not engine.busy(stream.id)
    assert engine.stream(stream.id).released == Decimal("0.01")
