"""Disputing a stream's escrow: the stream record ends ``disputed`` in both dialects, and a preview
made before the stream moved is refused as stale instead of being sent."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from pf_tui.core.money.types import (
    ActionValidationError,
    DisputeEscrow,
    OpenStream,
    ReleasePartial,
    StalePreviewError,
    StreamMode,
    StreamUnit,
)
from pf_tui.sim.http.server import SimServer
from tests.actions.helpers import Harness, agents, money_requests

REASON = "the feed stopped delivering prices"


async def _open(h: Harness, url: str, mode: StreamMode) -> str:
    fleet = agents(url)
    opened = await h.engine.execute(
        await h.engine.preview(
            OpenStream(
                fleet[0]["agent_id"],
                fleet[1]["agent_id"],
                "0.5",
                StreamUnit.CALL,
                "3",
                "1",
                mode=mode,
            )
        )
    )
    assert opened.done, opened
    return h.engine.streams()[0].id


@pytest.mark.parametrize("mode", [StreamMode.NATIVE, StreamMode.TRANCHE])
async def test_dispute_ends_the_stream(sim: SimServer, tmp_path: Path, mode: StreamMode) -> None:
    h = Harness(sim.url, tmp_path / "s.sqlite3")
    try:
        sid = await _open(h, sim.url, mode)
        stream = h.engine.stream(sid)
        before = money_requests(sim.url)[-1]["seq"]
        preview = await h.engine.preview(
            DisputeEscrow(
                stream.agent_id,
                str(stream.escrow_id),
                REASON,
                dialect=stream.dialect,
                stream_id=sid,
            )
        )
        result = await h.engine.execute(preview)
        assert result.done, result
        sent = [r for r in money_requests(sim.url, before) if r["method"] == "POST"]
        assert len(sent) == 1 and sent[0]["path"] in (
            f"/escrow/api/v1/escrow/{stream.escrow_id}/dispute",
            f"/escrow/escrow/dispute/{stream.escrow_id}",
        )
        assert h.engine.stream(sid).state.value == "disputed"
        with pytest.raises(ActionValidationError, match="disputed"):
            await h.engine.preview(ReleasePartial(sid, count=1))
    finally:
        await h.aclose()


async def test_dispute_preview_goes_stale_when_the_stream_moves(
    sim: SimServer, tmp_path: Path
) -> None:
    h = Harness(sim.url, tmp_path / "s.sqlite3")
    try:
        sid = await _open(h, sim.url, StreamMode.NATIVE)
        stream = h.engine.stream(sid)
        dispute = await h.engine.preview(
            DisputeEscrow(
                stream.agent_id,
                str(stream.escrow_id),
                REASON,
                dialect=stream.dialect,
                stream_id=sid,
            )
        )
        released = await h.engine.execute(await h.engine.preview(ReleasePartial(sid, count=1)))
        assert released.done and h.engine.stream(sid).released == Decimal("0.5")
        before = money_requests(sim.url)[-1]["seq"]
        with pytest.raises(StalePreviewError):
            await h.engine.execute(dispute)
        assert [r for r in money_requests(sim.url, before) if r["method"] == "POST"] == []
        assert h.engine.stream(sid).state.value != "disputed"
    finally:
        await h.aclose()


async def test_dispute_of_another_escrow_under_a_stream_id_is_refused(
    sim: SimServer, tmp_path: Path
) -> None:
    h = Harness(sim.url, tmp_path / "s.sqlite3")
    try:
        sid = await _open(h, sim.url, StreamMode.NATIVE)
        stream = h.engine.stream(sid)
        with pytest.raises(ActionValidationError, match="current one"):
            await h.engine.preview(
                DisputeEscrow(
                    stream.agent_id,
                    "esc_0000000000000000",
                    REASON,
                    dialect=stream.dialect,
                    stream_id=sid,
                )
            )
    finally:
        await h.aclose()
