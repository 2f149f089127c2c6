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

from pf_tui.core.money.types import StreamMode
from pf_tui.sim.http.server import SimServer
from pf_tui.usd import fee_of

from .helpers import (
    BOTH_MODES,
    Harness,
    casino_balance,
    last_seq,
    open_intent,
    posts,
    sim_get,
    sim_post,
)

# Minutes of pilots and subprocesses on a 2-core machine: the slow set runs them (CI too), so
# the quick suite keeps its five-minute promise.
pytestmark = pytest.mark.slow

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
    budget = TRANCHE * (rounds * len(POINTS) + 1)
    intent = open_intent(sim.url, budget=str(budget), batch=str(TRANCHE), mode=mode, memo="crash")
    payer, payee = intent.agent_id, intent.payee
    payer0, payee0 = casino_balance(sim.url, payer), casino_balance(sim.url, payee)
    async with Harness(sim.url, db) as h:
        stream_id = (await h.open_stream(intent)).id
    start_seq = last_seq(sim.url)

    journaled: list[str] = []
    for _ in range(rounds):
        for point in POINTS:
            key = crash_once(sim.url, db, stream_id, point)
            assert key is not None
            async with Harness(sim.url, db) as restart:
                await restart.engine.reconcile()
                assert restart.engine.unsettled() == [], point
                if restart.engine.journal.has_intent(key):
                    journaled.append(key)
                    assert restart.engine.result(key).done, (point, restart.engine.result(key))
                else:
                    assert point == "before_journal"

    assert len(journaled) == rounds * (len(POINTS) - 1)
    log = posts(sim.url, start_seq)
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


@BOTH_MODES
@pytest.mark.parametrize("rounds", [1, pytest.param(20, marks=pytest.mark.slow)])
async def test_kill_at_each_point(
    sim: SimServer, tmp_path: Path, mode: StreamMode, rounds: int
) -> None:
    await crash_loop(sim, tmp_path, mode, rounds)
