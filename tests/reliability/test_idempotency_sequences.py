"""Hypothesis sequences of (intent, edit, retry) against the simulator's idempotency store.

An operator previews a release, edits the count, executes, loses the reply, retries, edits
again. Whatever the order: a new preview (new parameters) gets a new key and a retry of the same
preview keeps its key (the key changes iff the parameters change), the simulator never answers
``422 idempotency_mismatch`` (one key, two bodies: pf-tui would be about to pay twice for what
the server thinks is one request), and every key moves money at most once.

Broken looks like: a retry minting a new key (a second payment), or an edit reusing the old key
with a new body (a 422 in the request log).
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pf_tui.core.money.types import ActionError, ActionPreview, ReleasePartial, RequestState
from pf_tui.sim.http.server import SimServer
from tests.actions.helpers import Harness, last_seq, open_intent, posts, sim_post

LOSE_REPLY = [
    {
        "route": "/escrow/api/v1/escrow/*",
        "method": "POST",
        "kind": "reset",
        "rate": 1,
        "when": "after",
    }
]

Op = tuple[str, int]


def clear_faults(url: str) -> None:
    httpx.delete(f"{url}/_sim/faults")


ops = st.lists(
    st.one_of(
        st.tuples(st.just("edit"), st.integers(min_value=1, max_value=9)),
        st.tuples(st.sampled_from(["execute", "retry", "lose"]), st.just(0)),
    ),
    min_size=1,
    max_size=10,
)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    server = SimServer(host="127.0.0.1", port=0, seed=11, agents=4, motion=False, limits="off")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=ops)
async def test_the_key_follows_the_parameters_and_no_422_ever(
    sim: SimServer, sequence: list[Op]
) -> None:
    sim_post(sim.url, "/_sim/reset", {})
    with tempfile.TemporaryDirectory(prefix="rel-idem-") as folder:
        async with Harness(sim.url, Path(folder) / "s.db", max_attempts=2) as h:
            await run(h, sim.url, sequence)


async def run(h: Harness, url: str, sequence: list[Op]) -> None:
    stream = await h.open_stream(open_intent(url, rate="0.01", budget="2", batch="0.01"))
    start = last_seq(url)
    preview: ActionPreview | None = None
    count = 0
    keys: list[str] = []  # one per preview, in order
    executed: set[str] = set()
    lose = False
    for op, n in sequence:
        if op == "edit" or preview is None:
            n = n or 1
            if preview is not None and n == count:
                continue  # same parameters: not an edit
            try:
                fresh = await h.engine.preview(ReleasePartial(stream.id, count=n))
            except ActionError:
                continue  # e.g. an unsettled release holds the stream: no new intent yet
            assert fresh.key not in keys  # new parameters, new key
            preview, count = fresh, n
            keys.append(fresh.key)
            if op == "edit":
                continue
        if op == "lose":
            lose = True
            continue
        if lose:
            sim_post(url, "/_sim/faults", LOSE_REPLY)
        try:
            result = await h.engine.execute(preview)
        except ActionError:
            result = None  # refused before sending (stale preview, stream busy): nothing sent
        finally:
            if lose:
                clear_faults(url)
                lose = False
        if result is not None:
            assert result.key == preview.key  # a retry keeps its key
            executed.add(preview.key)
    # Settle what a lost reply left unknown: with the same keys, never new ones.
    for _ in range(5):
        if not h.engine.unsettled():
            break
        await h.engine.reconcile()
    log = posts(url, start)
    assert not [r for r in log if r["status"] == 422]  # one key never carried two bodies
    sent = {r["idempotency_key"] for r in log}
    assert sent <= executed  # only executed previews' keys ever left
    moved = Counter(
        r["idempotency_key"]
        for r in log
        if r["executed"] and (r["status"] == 0 or r["status"] < 300)
    )
    assert all(times == 1 for times in moved.values())  # each key moved money once
    done = [k for k in executed if h.engine.result(k).state is RequestState.DONE]
    assert set(done) <= set(moved)
