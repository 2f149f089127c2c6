"""A canary key never shows in an error; the latency recorder's percentiles, counts and bounds."""

from __future__ import annotations

import random
from decimal import Decimal

import httpx
import pytest

from pf_tui.api import LatencyRecorder, RetryPolicy
from pf_tui.api import errors as e
from pf_tui.api.latency import percentile
from tests.api.helpers import BALANCE_OK, CANARY, CANARY_TRADE, CANARY_WALLET, agent_of, mock_client

CANARIES = (CANARY, CANARY_TRADE, CANARY_WALLET)


def echoing(status: int):
    """A server that echoes the Authorization header back in every field it can."""

    def handler(request: httpx.Request) -> httpx.Response:
        auth = request.headers.get("authorization", "")
        body = {
            "error": f"bad key {auth}",
            "message": f"key {auth} rejected",
            "detail": {"key": auth},
        }
        return httpx.Response(status, json=body, headers={"Retry-After": "1"})

    return handler


def assert_clean(exc: BaseException) -> None:
    texts = [
        str(exc),
        repr(exc),
        str(exc.args),
        repr(getattr(exc, "body", None)),
        str(getattr(exc, "code", "")),
        str(getattr(exc, "server_message", "")),
    ]
    for canary in CANARIES:
        assert all(canary not in t for t in texts), type(exc)


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 409, 422, 429, 500, 503, 418])
@pytest.mark.parametrize("read", ["balance", "positions", "wallet_referrals", "docs_balance"])
async def test_canary_never_in_status_errors(status: int, read: str) -> None:
    client, _ = mock_client(echoing(status), retry=RetryPolicy(max_attempts=1))
    with pytest.raises(e.APIStatusError) as info:
        await getattr(agent_of(client), read)()
    await client.aclose()
    assert_clean(info.value)
    assert "<secret>" in str(info.value)


async def test_canary_never_in_transport_or_decode_errors() -> None:
    def transport_fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(
            f"failed with headers {request.headers!r} {request.headers['authorization']}"
        )

    client, _ = mock_client(transport_fail, retry=RetryPolicy(max_attempts=1))
    with pytest.raises(e.APIConnectionError) as info:
        await agent_of(client).balance()
    await client.aclose()
    assert_clean(info.value)

    def bad_body(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="{" + request.headers["authorization"])

    client, _ = mock_client(bad_body)
    with pytest.raises(e.ResponseDecodeError) as info2:
        await agent_of(client).balance()
    await client.aclose()
    assert_clean(info2.value)


async def test_canary_not_in_reprs() -> None:
    client, _ = mock_client(lambda r: httpx.Response(200, content=BALANCE_OK))
    agent = agent_of(client)
    for text in (repr(agent), repr(client), str(agent)):
        assert all(c not in text for c in CANARIES)
    await client.aclose()


def test_percentile_nearest_rank() -> None:
    samples = sorted(float(i) for i in range(1, 101))
    assert percentile(samples, 50) == 50.0
    assert percentile(samples, 95) == 95.0
    assert percentile(samples, 99) == 99.0
    assert percentile([3.0], 99) == 3.0
    assert percentile([], 50) is None


def test_recorder_per_endpoint_and_agent() -> None:
    rec = LatencyRecorder(window=1000, agent_window=10)
    rng = random.Random(3)
    values = [rng.random() for _ in range(200)]
    for i, v in enumerate(values):
        rec.record("casino GET /auth/balance", f"ag_{i % 4}", v, ok=i % 10 != 0)
    rec.record("trading GET /trade/positions", "ag_0", 5.0, ok=False)
    stats = rec.stats("casino GET /auth/balance")
    ordered = sorted(values)
    assert (stats.ok, stats.errors, stats.samples) == (180, 20, 200)
    assert stats.p50 == ordered[99] and stats.p95 == ordered[189] and stats.p99 == ordered[197]
    assert stats.error_rate == 0.1
    per_agent = rec.stats("casino GET /auth/balance", "ag_1")
    assert (
        per_agent.ok + per_agent.errors == 50 and per_agent.samples == 10
    )  # counts all, keeps a window
    assert per_agent.p99 == max(values[i] for i in range(161, 200, 4))
    agent0 = rec.stats(agent_id="ag_0")
    assert agent0.errors == 10 + 1 and agent0.p99 == 5.0  # i % 20 == 0 and the positions error
    assert rec.endpoints() == ["casino GET /auth/balance", "trading GET /trade/positions"]
    assert rec.agents() == ["ag_0", "ag_1", "ag_2", "ag_3"]
    assert rec.stats().requests == 201


def test_recorder_memory_is_bounded() -> None:
    rec = LatencyRecorder(window=16, agent_window=4)
    for i in range(10_000):
        rec.record("e", "a", float(i), ok=True)
    assert rec.stats("e").samples == 16 and rec.stats("e").ok == 10_000
    assert rec.stats("e").p50 == float(10_000 - 16 + 7)  # only the newest window is kept
    assert rec.stats("e", "a").samples == 4
    assert rec.stats("nothing").p50 is None and rec.stats("nothing").error_rate is None


async def test_client_records_every_request_by_route_template() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/escrow/escrow/esc_1"):
            return httpx.Response(404, json={"error": "not_found"})
        return httpx.Response(200, content=BALANCE_OK)

    client, _ = mock_client(handler)
    agent = agent_of(client)
    for _ in range(3):
        await agent.balance()
    with pytest.raises(e.NotFoundError):
        await agent.escrow("esc_1")
    await client.aclose()
    snap = client.latency.snapshot()
    assert snap["casino GET /auth/balance"].ok == 3
    assert snap["escrow GET /escrow/{id}"].errors == 1  # the template, not the id
    assert client.latency.stats("casino GET /auth/balance", "ag_0123456789ab").ok == 3
    assert all(s.p50 is not None and s.p50 >= 0 for s in snap.values())


def test_money_stays_decimal_in_the_recorder_path() -> None:
    # Guard: nothing in the client converts money through float (the normaliser returns Decimal).
    from pf_tui.api import normalize

    assert isinstance(normalize.balance({"balance_usd": Decimal("0.1")}).balance_usd, Decimal)
