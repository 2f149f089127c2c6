"""The stop-all brake: it pauses every open stream, refuses every money action from every process
on the store until lifted, survives restarts, and says who engaged it, when and why.

The second process is a real one (``tests/actions/second_process.py``) on the same SQLite file.
A brake kept in memory would pass the first test and fail the restart and the second process.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from pf_tui.api.models import Dialect
from pf_tui.core.money.brake import brake_history
from pf_tui.core.money.escrows import TimeoutMove
from pf_tui.core.money.types import (
    BrakeEngagedError,
    ClaimFaucet,
    CloseStream,
    OpenStream,
    ReadOnlyError,
    ReleaseEscrow,
    ReleasePartial,
    RequestState,
    StreamMode,
    StreamState,
    StreamUnit,
)
from pf_tui.sim.http.server import SimServer

from .helpers import GatedWire, Harness, agent_escrow, last_seq, open_intent, posts

ROOT = Path(__file__).resolve().parents[2]


def hourly(url: str, budget: str = "5") -> OpenStream:
    """A native stream at $1 an hour from the first demo agent to the second, timing out in 1 h."""
    base = open_intent(url)
    return OpenStream(
        base.agent_id,
        base.payee,
        "1",
        StreamUnit.HOUR,
        budget,
        "0.5",
        "brake test",
        StreamMode.NATIVE,
        1,
    )


def second_process(url: str, db: Path, command: str, arg: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.actions.second_process", url, str(db), command, arg],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip()


async def test_the_brake_pauses_every_stream_and_refuses_every_action(harness: Harness) -> None:
    engine, url = harness.engine, harness.url
    running = await harness.open_stream(hourly(url))
    paused = await harness.open_stream(hourly(url))
    engine.pause(paused.id)
    before = await engine.preview(ReleasePartial(running.id, amount="0.5"))  # made before it
    escrow_id, a, _ = agent_escrow(url, Dialect.CLASSIC)

    preview = engine.preview_brake()
    assert [s.id for s in preview.pauses] == [running.id]
    assert [s.id for s in preview.already_paused] == [paused.id]
    # It says what the server will still do on its own: the native escrows pay their payees.
    assert {o.move for _, o in preview.outcomes} == {TimeoutMove.PAYS_PAYEE}
    assert all("pf-tui releases nothing more" in o.sentence(0) for _, o in preview.outcomes)

    state = engine.engage_brake(preview, "incident 42: payee disputes the data")
    assert state.engaged and state.streams == (running.id,)
    assert engine.stream(running.id).state is StreamState.PAUSED
    assert engine.brake() == state

    since = last_seq(url)
    for intent in (
        ReleasePartial(running.id, amount="0.1"),
        CloseStream(running.id),
        ClaimFaucet(a["agent_id"]),
        ReleaseEscrow(a["agent_id"], escrow_id, Dialect.CLASSIC),
        hourly(url),
    ):
        with pytest.raises(BrakeEngagedError, match="incident 42"):
            await engine.preview(intent)
    with pytest.raises(BrakeEngagedError):
        await engine.execute(before)
    with pytest.raises(BrakeEngagedError):
        engine.resume(paused.id)
    assert posts(url, since) == []
    assert not engine.journal.has_intent(before.key)

    lifted = engine.lift_brake("resolved with the payee", resume=True)
    assert not lifted.engaged
    # Only what the brake paused resumes; the stream paused by hand stays paused.
    assert engine.stream(running.id).state is StreamState.OPEN
    assert engine.stream(paused.id).state is StreamState.PAUSED
    history = brake_history(engine.journal.conn)
    assert [(h.engaged, h.reason) for h in history] == [
        (False, "resolved with the payee"),
        (True, "incident 42: payee disputes the data"),
    ]
    assert all(h.operator == engine.journal.operator for h in history)
    events = [e for _, _, e, _ in engine.book.events(running.id)]
    assert events == ["paused", "resumed"]


async def test_an_intent_running_when_the_brake_is_engaged_sends_nothing_more(
    harness: Harness,
) -> None:
    """A tranche release is two requests (release, then fund the next tranche). The brake lands
    while the first is on the wire: the second is not sent, and stays journaled until the brake
    is lifted and the intent reconciled."""
    engine, url = harness.engine, harness.url
    stream = await harness.open_stream(open_intent(url, mode=StreamMode.TRANCHE))
    gated = GatedWire(harness.client, harness.keys)
    engine.runner.wire = gated
    task = asyncio.create_task(
        engine.execute(await engine.preview(ReleasePartial(stream.id, count=10)))
    )
    await gated.sending.wait()
    engine.engage_brake(engine.preview_brake(), "stop everything")
    gated.gate.set()
    result = await task
    assert [r.state for r in result.requests] == [RequestState.DONE, RequestState.JOURNALED]
    assert "held by the brake" in result.message
    assert await engine.reconcile() == [engine.runner.result(result.key)]  # still held
    assert engine.runner.result(result.key).state is RequestState.UNKNOWN
    engine.lift_brake("all clear")
    (settled,) = await engine.reconcile()
    assert settled.done
    assert engine.stream(stream.id).funded == Decimal("0.1")  # the next tranche, funded now


async def test_the_brake_survives_a_restart_and_refuses_a_second_process(
    sim: SimServer, tmp_path: Path
) -> None:
    db = tmp_path / "shared.sqlite3"
    async with Harness(sim.url, db) as first:
        stream = await first.open_stream(open_intent(sim.url))
        first.engine.engage_brake(first.engine.preview_brake(), "audit in progress")
    async with Harness(sim.url, db) as restarted:
        assert restarted.engine.brake().engaged
        assert restarted.engine.brake().reason == "audit in progress"
        since = last_seq(sim.url)
        said = second_process(sim.url, db, "try", stream.id)
        assert said.startswith("BrakeEngagedError: brake on by"), said
        assert "audit in progress" in said
        assert posts(sim.url, since) == []
        restarted.engine.lift_brake("audit done")
        assert second_process(sim.url, db, "try", stream.id) == "done"


async def test_read_only_may_engage_the_brake_but_not_lift_it(
    sim: SimServer, tmp_path: Path
) -> None:
    """Pulling the brake only ever stops money, so a read-only console may; lifting lets money
    move again, so it may not."""
    async with Harness(sim.url, tmp_path / "s.sqlite3", read_only=True) as h:
        state = h.engine.engage_brake(h.engine.preview_brake(), "seen something odd")
        assert state.engaged
        with pytest.raises(ReadOnlyError):
            h.engine.lift_brake("never mind")
        assert h.engine.brake().engaged
