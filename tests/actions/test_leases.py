"""One action at a time on a stream or an escrow, across processes on one store.

A second real process holds a release on a stream with its send gated. This process must be
refused, naming the other process, for every action on that stream and on its escrow, and must
send nothing. When the holder dies mid-send its lease is taken over by reconciliation. Leases
kept in memory (the engine's old ``_busy`` map alone) fail the first test: each process would
see the stream free.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest

from pf_tui.core.money.brake import Leases
from pf_tui.core.money.types import (
    ActionInFlightError,
    CloseStream,
    DisputeEscrow,
    ReleasePartial,
    Resource,
    StreamMode,
)
from pf_tui.core.store.db import Store, transaction
from pf_tui.sim.http.server import SimServer

from .helpers import REASON, Harness, last_seq, open_intent, posts, sim_post

# Minutes of pilots and subprocesses on a 2-core machine: the slow set runs them (CI too), so
# the quick suite keeps its five-minute promise.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def holder(
    url: str, db: Path, stream_id: str, command: str = "hold"
) -> Iterator[subprocess.Popen[str]]:
    """A second pf-tui process holding a release on ``stream_id`` (or, with ``reconcile``, its
    reconciliation of the journal) with its send at a gate."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.actions.second_process", url, str(db), command, stream_id],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line == f"holding {proc.pid}", (line, proc.stderr.read() if proc.stderr else "")
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


async def test_a_stream_another_process_acts_on_takes_no_action_here(
    sim: SimServer, tmp_path: Path
) -> None:
    db = tmp_path / "shared.sqlite3"
    async with Harness(sim.url, db) as h:
        stream = await h.open_stream(open_intent(sim.url))
        ready = await h.engine.preview(ReleasePartial(stream.id, count=5))  # before it started
        with holder(sim.url, db, stream.id) as proc:
            assert h.engine.busy(stream.id)
            since = last_seq(sim.url)
            with pytest.raises(ActionInFlightError):
                await h.engine.execute(ready)
            for intent in (
                ReleasePartial(stream.id, count=1),
                CloseStream(stream.id),
                DisputeEscrow(stream.agent_id, str(stream.escrow_id), REASON),
            ):
                with pytest.raises(ActionInFlightError):
                    await h.engine.preview(intent)
            assert posts(sim.url, since) == []
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
            assert proc.stdout.readline().strip() == "done"
        assert not h.engine.busy(stream.id)
        assert h.engine.stream(stream.id).released == Decimal("0.1")
        fresh = await h.engine.preview(ReleasePartial(stream.id, count=5))
        assert (await h.engine.execute(fresh)).done


async def test_the_lease_of_a_process_that_died_is_taken_over(
    sim: SimServer, tmp_path: Path
) -> None:
    """The holder is killed with its request on the wire: the journal says "sent", the lease row
    stays behind; this process's reconciliation takes the lease (its pid is gone) and settles
    the release once, with the same key."""
    db = tmp_path / "shared.sqlite3"
    async with Harness(sim.url, db) as h:
        stream = await h.open_stream(open_intent(sim.url))
        with holder(sim.url, db, stream.id) as proc:
            proc.kill()
            proc.wait(timeout=30)
        (result,) = await h.engine.reconcile()
        assert result.done
        assert h.engine.stream(stream.id).released == Decimal("0.1")
        assert h.engine.leases.holder_of(Resource.stream(stream.id), h.clock.now()) is None


def test_leases_expire_and_die_with_their_process(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite3")
    a_conn, b_conn = store.journal_connection(), store.journal_connection()
    alive = {True}
    a = Leases(a_conn, alive=lambda pid: True in alive, ttl_s=60)
    b = Leases(b_conn, alive=lambda pid: True in alive, ttl_s=60)
    stream = Resource.stream("st_1")
    with transaction(a_conn):
        a.acquire(stream, "intent-a", now=1000.0)
    with pytest.raises(ActionInFlightError, match="intent-a"[:8]):
        b.refuse_if_held(stream, now=1001.0)
    with transaction(a_conn):
        a.acquire(stream, "intent-a2", now=1002.0)  # its own holder may take it again
    assert b.holder_of(Resource.stream("st_2"), 1003.0) is None  # another stream is free
    assert b.holder_of(stream, 1002.0 + 61) is None  # expired
    alive.clear()
    assert b.holder_of(stream, 1003.0) is None  # its process is gone
    a.release(stream)
    a_conn.close()
    b_conn.close()
    store.close()


def crash_after_journal(url: str, db: Path, stream_id: str) -> None:
    """A release of one tranche in another process, killed once its first request is sent."""
    crashed = subprocess.run(
        [sys.executable, "-m", "tests.actions.crash_driver", url, str(db), stream_id],
        cwd=ROOT,
        env={**os.environ, "PF_CRASH_AT": "after_journal"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]


async def test_two_processes_never_reconcile_one_action_at_once(
    sim: SimServer, tmp_path: Path
) -> None:
    """A tranche release whose process crashed after journaling leaves a classic ``release``
    sent and a ``create`` journaled. Production ignores the idempotency key on a classic create,
    so two reconcilers sending it at once would fund two tranches. While the second process
    reconciles it (send held), this one leaves it alone and sends nothing; in the end one
    tranche is funded."""
    sim_post(sim.url, "/_sim/config", {"idempotency_on_classic": False})
    db = tmp_path / "shared.sqlite3"
    async with Harness(sim.url, db) as h:
        stream = await h.open_stream(open_intent(sim.url, mode=StreamMode.TRANCHE))
        crash_after_journal(sim.url, db, stream.id)
        since = last_seq(sim.url)
        with holder(sim.url, db, "-", "reconcile") as proc:
            assert await h.engine.reconcile() == []
            assert posts(sim.url, since) == []
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
            assert proc.stdout.readline().strip() == "done"
        creates = [r for r in posts(sim.url, since) if r["path"] == "/escrow/escrow/create"]
        assert len([r for r in creates if r["status"] == 201]) == 1
        assert h.engine.stream(stream.id).funded == Decimal("0.1")
        assert h.engine.stream(stream.id).released == Decimal("0.1")
