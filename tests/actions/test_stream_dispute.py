"""Disputing a stream's escrow: the stream record ends ``disputed`` in both dialects, and a preview
made before the stream moved is refused as stale instead of being sent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pf_tui.core.money.streams import Stream
from pf_tui.core.money.types import (
    ActionValidationError,
    ReleasePartial,
    StalePreviewError,
    StreamMode,
    StreamState,
)

from .helpers import BOTH_MODES, Harness, last_seq, open_intent, posts, stream_dispute


async def open_stream(h: Harness, mode: StreamMode = StreamMode.NATIVE) -> Stream:
    """A $3 stream at $0.50 a call, funded in $1 tranches in tranche mode."""
    return await h.open_stream(open_intent(h.url, rate="0.5", budget="3", batch="1", mode=mode))


@BOTH_MODES
async def test_dispute_ends_the_stream(harness: Harness, mode: StreamMode) -> None:
    stream = await open_stream(harness, mode)
    before = last_seq(harness.url)
    result = await harness.engine.execute(await harness.engine.preview(stream_dispute(stream)))
    assert result.done, result
    sent = posts(harness.url, before)
    assert len(sent) == 1 and sent[0]["path"] in (
        f"/escrow/api/v1/escrow/{stream.escrow_id}/dispute",
        f"/escrow/escrow/dispute/{stream.escrow_id}",
    )
    assert harness.engine.stream(stream.id).state is StreamState.DISPUTED
    with pytest.raises(ActionValidationError, match="disputed"):
        await harness.engine.preview(ReleasePartial(stream.id, count=1))


async def test_dispute_preview_goes_stale_when_the_stream_moves(harness: Harness) -> None:
    stream = await open_stream(harness)
    dispute = await harness.engine.preview(stream_dispute(stream))
    released = await harness.engine.execute(
        await harness.engine.preview(ReleasePartial(stream.id, count=1))
    )
    assert released.done and harness.engine.stream(stream.id).released == Decimal("0.5")
    before = last_seq(harness.url)
    with pytest.raises(StalePreviewError):
        await harness.engine.execute(dispute)
    assert posts(harness.url, before) == []
    assert harness.engine.stream(stream.id).state is not StreamState.DISPUTED


async def test_dispute_of_another_escrow_under_a_stream_id_is_refused(harness: Harness) -> None:
    stream = await open_stream(harness)
    with pytest.raises(ActionValidationError, match="current one"):
        await harness.engine.preview(stream_dispute(stream, "esc_0000000000000000"))
