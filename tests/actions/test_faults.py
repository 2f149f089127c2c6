"""Partial releases through lost replies, 503s and 429s: every request executes exactly once.

30% of escrow POSTs lose their reply after the server executed (``reset`` when ``after``), 10%
answer 503 and 10% 429 before executing. The classic dialect runs with
``idempotency_on_classic: false`` (as production), so only reconciliation by the ``pf:`` tag stands
between a lost ``create`` reply and a double payment.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from pf_tui.core.money.types import ReleasePartial, RequestState, StreamMode
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

RATE = Decimal("0.01")
UNITS = 10  # 10 calls x $0.01 = one $0.10 tranche per release

FAULTS = [
    {
        "route": "/escrow/*",
        "method": "POST",
        "kind": "reset",
        "rate": Decimal("0.3"),
        "when": "after",
    },
    {
        "route": "/escrow/*",
        "method": "POST",
        "kind": "error",
        "status": 503,
        "rate": Decimal("0.1"),
    },
    {
        "route": "/escrow/*",
        "method": "POST",
        "kind": "rate_limit",
        "rate": Decimal("0.1"),
        "retry_after_s": 1,
    },
]


async def run_releases(sim: SimServer, tmp_path: Path, mode: StreamMode, n: int) -> None:
    if mode is StreamMode.TRANCHE:
        sim_post(sim.url, "/_sim/config", {"idempotency_on_classic": False})
    async with Harness(sim.url, tmp_path / "store.sqlite3", seed=n) as h:
        await _releases(h, sim.url, mode, n)


async def _releases(h: Harness, url: str, mode: StreamMode, n: int) -> None:
    per_release = RATE * UNITS
    budget = per_release * (n + 1)
    intent = open_intent(
        url, rate=str(RATE), budget=str(budget), batch=str(per_release), mode=mode, memo="feed"
    )
    payer, payee = intent.agent_id, intent.payee
    payer0, payee0 = casino_balance(url, payer), casino_balance(url, payee)
    stream_id = (await h.open_stream(intent)).id
    sim_post(url, "/_sim/faults", FAULTS)
    start_seq = last_seq(url)

    intents: list[str] = []
    for _ in range(n):
        preview = await h.engine.preview(ReleasePartial(stream_id, count=UNITS))
        intents.append(preview.key)
        result = await h.engine.execute(preview)
        for _attempt in range(20):
            if result.state is not RequestState.UNKNOWN:
                break
            settled = await h.engine.reconcile()
            result = next(
                (r for r in settled if r.key == preview.key), h.engine.result(preview.key)
            )
        assert result.done, result
    assert h.engine.unsettled() == []

    # One key per intent, derived per request; retries reuse keys, never new ones.
    log = posts(url, start_seq)
    expected_keys: set[str] = set()
    for key in intents:
        expected_keys |= {key} if mode is StreamMode.NATIVE else {f"{key}/1", f"{key}/2"}
    assert len(set(intents)) == n
    assert {r["idempotency_key"] for r in log} == expected_keys
    assert any(r["fault"] == "reset" and r["executed"] for r in log)  # the faults did bite
    # Executed exactly once. A handler that ran and refused (a classic release resent after
    # it went through answers 409) moved nothing; a reset hides the handler's status (0).
    ran = Counter(
        r["idempotency_key"]
        for r in log
        if r["executed"] and (r["status"] == 0 or r["status"] < 400)
    )
    succeeded = Counter(
        r["idempotency_key"] for r in log if r["executed"] and 200 <= r["status"] < 300
    )
    assert set(ran) == expected_keys
    assert all(c <= 1 for c in succeeded.values())
    if mode is StreamMode.NATIVE:
        assert all(c == 1 for c in ran.values())
    else:
        assert all(ran[f"{k}/2"] == 1 for k in intents)  # creates: production ignores the key
        mine = [e for e in sim_get(url, "/_sim/state")["escrows"] if e["creator_id"] == payer]
        assert len(mine) == n + 1
        assert Counter(e["status"] for e in mine) == {"released": n, "funded": 1}

    # Balances equal a pure model of n releases of $0.10.
    payer_model = payer0 - (budget if mode is StreamMode.NATIVE else per_release * (n + 1))
    payee_model = payee0 + n * (per_release - fee_of(per_release))
    assert casino_balance(url, payer) == payer_model
    assert casino_balance(url, payee) == payee_model
    stream = h.engine.stream(stream_id)
    assert stream.released == per_release * n


@BOTH_MODES
@pytest.mark.parametrize("releases", [30, pytest.param(1000, marks=pytest.mark.slow)])
async def test_releases_through_faults(
    sim: SimServer, tmp_path: Path, mode: StreamMode, releases: int
) -> None:
    await run_releases(sim, tmp_path, mode, releases)
