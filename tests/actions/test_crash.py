"""``kill -9`` at each of four points of an action; after a restart everything reconciles.

A subprocess runs one release and SIGKILLs itself at the injected point; a fresh engine (the
restart) reconciles. Double executions must be 0 and nothing may stay unknown.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from pf_tui.core.money.types import OpenStream, StreamMode, StreamUnit
from pf_tui.sim.http.server import SimServer
from pf_tui.usd import fee_of

from .helpers import Harness, agents, casino_balance, money_requests, sim_get, sim_post

POINTS = ("before_journal", "after_journal", "after_send", "after_reply")
ROOT = Path(__file__).resolve().parents[2]
TRANCHE = Decimal("0.10")


def crash_once(url: str, db: Path, stream_id: str, point: str) -> str | None:
    env = {**os.environ, "PF_CRASH_AT": point}
    proc = subprocess.run(
        [sys.executable, "-m", "tests.actions.crash_driver", url, str(db), stream_id],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    key = proc.stdout.strip()
    return key or None


async def crash_loop(sim: SimServer, tmp_path: Path, mode: StreamMode, rounds: int) -> None:
    if mode is StreamMode.TRANCHE:
        sim_post(sim.url, "/_sim/config", {"idempotency_on_classic": False})
    db = tmp_path / "store.sqlite3"
    fleet = agents(sim.url)
    payer, payee = fleet[0]["agent_id"], fleet[1]["agent_id"]
    payer0, payee0 = casino_balance(sim.url, payer), casino_balance(sim.url, payee)
    budget = TRANCHE * (rounds * len(POINTS) + 1)
    h = Harness(sim.url, db)
    try:
        opened = await h.engine.execute(
            await h.engine.preview(
                OpenStream(
                    payer, payee, "0.01", StreamUnit.CALL, str(budget), str(TRANCHE), "crash", mode
                )
            )
        )
        assert opened.done
        stream_id = h.engine.streams(payer)[0].id
    finally:
        await h.aclose()
    start_seq = money_requests(sim.url)[-1]["seq"]

    journaled: list[str] = []
    for _ in range(rounds):
        for point in POINTS:
            key = crash_once(sim.url, db, stream_id, point)
            assert key is not None
            restart = Harness(sim.url, db)
            try:
                await restart.engine.reconcile()
                assert restart.engine.unsettled() == [], point
                if restart.engine.journal.has_intent(key):
                    journaled.append(key)
                    assert restart.engine.result(key).done, (point, restart.engine.result(key))
                else:
                    assert point == "before_journal"
            finally:
                await restart.aclose()

    assert len(journaled) == rounds * (len(POINTS) - 1)
    log = [r for r in money_requests(sim.url, start_seq) if r["method"] == "POST"]
    succeeded = Counter(
        r["idempotency_key"] for r in log if r["executed"] and 200 <= r["status"] < 300
    )
    assert all(c == 1 for c in succeeded.values())  # double executions: 0
    creates = [k for k in succeeded if k.endswith("/2")]
    if mode is StreamMode.TRANCHE:
        assert len(creates) == len(journaled)
        mine = [e for e in sim_get(sim.url, "/_sim/state")["escrows"] if e["creator_id"] == payer]
        assert Counter(e["status"] for e in mine) == {"released": len(journaled), "funded": 1}
    payer_model = payer0 - (budget if mode is StreamMode.NATIVE else TRANCHE * (len(journaled) + 1))
    assert casino_balance(sim.url, payer) == payer_model
    assert casino_balance(sim.url, payee) == payee0 + len(journaled) * (TRANCHE - fee_of(TRANCHE))


@pytest.mark.parametrize("mode", [StreamMode.NATIVE, StreamMode.TRANCHE])
async def test_kill_at_each_point_once(sim: SimServer, tmp_path: Path, mode: StreamMode) -> None:
    await crash_loop(sim, tmp_path, mode, 1)


@pytest.mark.slow
@pytest.mark.parametrize("mode", [StreamMode.NATIVE, StreamMode.TRANCHE])
async def test_kill_at_each_point_twenty_times(
    sim: SimServer, tmp_path: Path, mode: StreamMode
) -> None:
    await crash_loop(sim, tmp_path, mode, 20)
