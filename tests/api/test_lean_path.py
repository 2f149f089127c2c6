"""The client's lean aiohttp path and its reply cache.

The lean path is checked against a small aiohttp server on 127.0.0.1 that records what arrives
(headers, query, body), so the wire is what the httpx path sent; the reply cache is checked over
``MockTransport`` (it sits above both transports).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from aiohttp import web

from pf_tui import __version__
from pf_tui.api import PurpleFleaClient, RetryPolicy, ServiceBases, normalize, routes
from pf_tui.api import errors as e
from pf_tui.api.transport import MAX_REPLY_BYTES, LeanAiohttpTransport
from tests.api.helpers import BALANCE_OK, CANARY, agent_of, mock_client

NO_RETRY = RetryPolicy(max_attempts=1)
PNL = b'{"summary": {"total_pnl": 1.5, "net_pnl": 1.25, "total_trades": 2}, "chart": []}'


class Recorder:
    """An aiohttp app that answers per path and records every request it saw."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.replies: dict[str, tuple[int, bytes, dict[str, str]]] = {}

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "headers": dict(request.headers),
                "body": await request.read(),
            }
        )
        status, body, headers = self.replies.get(request.path, (200, BALANCE_OK, {}))
        return web.Response(
            status=status, body=body, headers={"Content-Type": "application/json", **headers}
        )


@pytest.fixture
async def server() -> AsyncIterator[tuple[Recorder, str]]:
    recorder = Recorder()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", recorder.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield recorder, f"http://127.0.0.1:{port}"
    await runner.cleanup()


def lean_client(url: str, **kwargs: Any) -> PurpleFleaClient:
    return PurpleFleaClient(
        ServiceBases.for_simulator(url), transport="aiohttp", retry=NO_RETRY, **kwargs
    )


async def test_aiohttp_transport_is_lean_and_still_an_httpx_transport() -> None:
    client = lean_client("http://127.0.0.1:9")
    assert client._clients == {}  # made on the first request
    client._make_pools()
    pool = client._clients["casino"]._transport
    assert isinstance(pool, LeanAiohttpTransport) and isinstance(pool, httpx.AsyncBaseTransport)
    assert set(client._lean) == set(client._clients)
    await client.aclose()


async def test_lean_read_sends_key_defaults_and_query(server: tuple[Recorder, str]) -> None:
    recorder, url = server
    recorder.replies["/trading/v1/trade/pnl-history"] = (200, PNL, {})
    recorder.replies["/casino/api/v1/bets/history"] = (200, b'{"bets": []}', {})
    async with lean_client(url) as client:
        agent = agent_of(client)
        balance = await agent.balance()
        pnl = await agent.pnl_history(days=7)
        await agent.bets(limit=5, since="2026-11-24T00:00:00Z")
    assert balance.balance_usd == Decimal(5)
    assert pnl.net_pnl == Decimal("1.25")
    first, second, third = recorder.seen
    assert first["path"] == "/casino/api/v1/auth/balance" and first["method"] == "GET"
    assert first["headers"]["Authorization"] == f"Bearer {CANARY}"
    assert first["headers"]["Accept"] == "application/json"
    assert first["headers"]["User-Agent"] == f"pf-tui/{__version__}"
    assert "Cookie" not in first["headers"]
    assert second["query"] == {"days": "7"}
    assert third["query"] == {"limit": "5", "since": "2026-11-24T00:00:00Z"}
    assert client.latency.stats("casino GET /auth/balance").ok == 1


async def test_lean_write_sends_json_body_and_idempotency_key(server: tuple[Recorder, str]) -> None:
    recorder, url = server
    reply = b'{"bet_id": "b1", "won": true, "amount_won": 1.96, "new_balance": 10.96}'
    recorder.replies["/casino/api/v1/games/coin-flip"] = (200, reply, {})
    async with lean_client(url) as client:
        agent = agent_of(client)
        await agent.coin_flip("heads", Decimal("1.00"), idempotency_key="idem-1")
        await agent.balance()  # a read after a write carries no idempotency key
    write, read = recorder.seen
    assert write["method"] == "POST" and write["body"] == b'{"side":"heads","amount":1.00}'
    assert write["headers"]["Content-Type"] == "application/json"
    assert write["headers"]["Idempotency-Key"] == "idem-1"
    assert "Idempotency-Key" not in read["headers"]


async def test_lean_status_error_keeps_code_message_and_retry_after(
    server: tuple[Recorder, str],
) -> None:
    recorder, url = server
    body = b'{"error": "rate_limited", "message": "slow down"}'
    recorder.replies["/casino/api/v1/auth/balance"] = (429, body, {"Retry-After": "7"})
    recorder.replies["/casino/api/v1/auth/ledger"] = (302, b"", {"Location": "/elsewhere"})
    async with lean_client(url) as client:
        with pytest.raises(e.RateLimitError) as limited:
            await agent_of(client).balance()
        with pytest.raises(e.APIStatusError) as moved:
            await agent_of(client).ledger()
    assert limited.value.retry_after == 7.0
    assert limited.value.code == "rate_limited" and limited.value.endpoint == "GET /auth/balance"
    assert moved.value.status == 302  # redirects are not followed
    assert [s["path"] for s in recorder.seen] == [
        "/casino/api/v1/auth/balance",
        "/casino/api/v1/auth/ledger",
    ]
    assert client.latency.stats("casino GET /auth/balance").errors == 1


async def test_lean_path_dead_server_is_a_connection_error() -> None:
    async with lean_client("http://127.0.0.1:9", timeout=1.0) as client:
        with pytest.raises(e.APIConnectionError) as caught:
            await agent_of(client).balance()
    assert type(caught.value) is e.APIConnectionError and caught.value.__cause__ is None


# --- reply cache ----------------------------------------------------------------------------


def counting(bodies: list[bytes]) -> tuple[Any, list[int]]:
    """A handler answering ``bodies`` in turn (the last one repeated)."""
    calls = [0]

    def handler(request: httpx.Request) -> httpx.Response:
        body = bodies[min(calls[0], len(bodies) - 1)]
        calls[0] += 1
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    return handler, calls


async def test_same_bytes_return_the_same_model_without_parsing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = BALANCE_OK.replace(b'"balance_usd": 5', b'"balance_usd": 6')
    handler, calls = counting([BALANCE_OK, BALANCE_OK, other, other])
    client, _ = mock_client(handler)
    agent = agent_of(client)
    first = await agent.balance()
    import pf_tui.api.client as client_module

    decoded: list[bytes] = []
    real_loads = client_module.loads
    monkeypatch.setattr(client_module, "loads", lambda raw: decoded.append(raw) or real_loads(raw))
    second = await agent.balance()
    third = await agent.balance()
    fourth = await agent.balance()
    await client.aclose()
    assert calls[0] == 4  # every poll still asks the server
    assert second is first and decoded == [other]  # unchanged bytes: no decode, the same object
    assert third.balance_usd == Decimal(6) and fourth is third
    assert client.latency.stats("casino GET /auth/balance").ok == 4


async def test_the_cache_keeps_a_digest_not_the_body() -> None:
    """At 5,000 agents the bodies were over 100 MB; a 16-byte digest per slot tells the same."""
    handler, _ = counting([PNL])
    client, _ = mock_client(handler)
    await agent_of(client).pnl_history(30)
    replies = client._replies
    assert replies is not None and len(replies) == 1
    ((digest, model),) = replies.values()
    assert len(digest) == 16 and len(PNL) > 16 and not isinstance(model, bytes)
    await client.aclose()


async def test_the_poll_client_keeps_only_a_ledgers_escrow_moves() -> None:
    """Every row is still validated, but only escrow moves are kept (and cached): the poller
    looks for nothing else, and fifty rows per agent were tens of MB at 5,000 agents."""
    rows = [
        {"id": "l1", "type": "bet", "amount": -1, "service": "casino", "reference": "b1"},
        {
            "id": "l2",
            "type": "escrow_lock",
            "amount": -2,
            "service": "escrow",
            "reference": "esc_0123456789abcdef",
        },
        {
            "id": "l3",
            "type": "referral",
            "amount": 1,
            "service": "escrow",
            "reference": "esc_0123456789abcdee",
        },
    ]
    handler, _ = counting([json.dumps({"entries": rows}).encode()])
    client, _ = mock_client(handler)
    (move,) = await agent_of(client).ledger()
    assert (move.id, move.reference) == ("l2", "esc_0123456789abcdef")
    bad, _ = counting([json.dumps({"entries": [*rows, {"type": "bet"}]}).encode()])
    client_bad, _ = mock_client(bad, retry=NO_RETRY)
    with pytest.raises(e.ResponseDecodeError):  # a row with no id fails, escrow move or not
        await agent_of(client_bad).ledger()
    await client.aclose()
    await client_bad.aclose()


async def test_a_route_read_with_two_parsers_keeps_two_slots() -> None:
    """The poller keeps a ledger's escrow moves, the money runner the whole ledger: one client
    serving both must not hand either the other's model."""
    rows = [
        {"id": "l1", "type": "bet", "amount": -1, "service": "casino", "reference": "b1"},
        {
            "id": "l2",
            "type": "escrow_lock",
            "amount": -2,
            "service": "escrow",
            "reference": "esc_0123456789abcdef",
        },
    ]
    ledger = json.dumps({"entries": rows}).encode()
    referrals = b'{"total_referrals": 2, "total_earned_usd": 1.5}'

    def handler(request: httpx.Request) -> httpx.Response:
        body = referrals if request.url.path.endswith("/referral/stats") else ledger
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    client, _ = mock_client(handler)
    agent = agent_of(client)
    moves = await agent.ledger()
    whole = await agent._get(routes.LEDGER, normalize.ledger)
    assert [m.id for m in moves] == ["l2"] and [r.id for r in whole] == ["l1", "l2"]
    assert await agent.ledger() is moves
    # A route parsed through a lambda made afresh on every call still hits its one slot.
    first = await agent.casino_referrals()
    assert await agent.casino_referrals() is first
    slots = len(client._replies or {})
    for _ in range(5):
        await agent.casino_referrals()
    assert len(client._replies or {}) == slots
    await client.aclose()


async def test_cache_is_per_agent_route_and_query() -> None:
    handler, _ = counting([PNL])
    client, _ = mock_client(handler)
    a = agent_of(client)
    b = client.agent("ag_other", casino_key="k2", trading_key="t2")
    week, month = await a.pnl_history(7), await a.pnl_history(30)
    assert week == month and week is not month  # another query is another slot
    assert await b.pnl_history(7) is not week  # another agent is another slot
    assert await a.pnl_history(7) is week
    await client.aclose()


async def test_a_failed_reply_does_not_leave_a_stale_hit() -> None:
    bad = b'{"agent_id": "ag_0123456789ab"}'  # balance_usd missing
    handler, _ = counting([BALANCE_OK, bad, BALANCE_OK])
    client, _ = mock_client(handler, retry=NO_RETRY)
    agent = agent_of(client)
    first = await agent.balance()
    with pytest.raises(e.ResponseDecodeError):
        await agent.balance()
    again = await agent.balance()
    await client.aclose()
    assert again == first and again is not first  # parsed afresh after the failure


async def test_reply_cache_off_parses_every_reply() -> None:
    client = PurpleFleaClient(
        ServiceBases.for_simulator("http://sim.test"),
        transport=httpx.MockTransport(lambda r: httpx.Response(200, content=BALANCE_OK)),
        reply_cache=False,
    )
    agent = agent_of(client)
    first, second = await agent.balance(), await agent.balance()
    await client.aclose()
    assert first == second and first is not second


async def test_missing_key_is_refused_every_time() -> None:
    handler, calls = counting([BALANCE_OK])
    client, _ = mock_client(handler)
    keyless = client.agent("ag_nokey", casino_key=None, trading_key="t")
    for _ in range(2):
        with pytest.raises(e.MissingKeyError):
            await keyless.balance()
    await client.aclose()
    assert calls[0] == 0


# ---- the reply size cap, on every transport ----------------------------------------------------


@pytest.fixture
async def flood() -> AsyncIterator[str]:
    """A server whose coin flip (a write) answers with a body one byte over the cap, declared
    (``/declared/...``) or streamed chunked with no length (``/chunked/...``); anything else is
    a small good reply."""

    async def handle(request: web.Request) -> web.StreamResponse:
        await request.read()
        if not request.path.endswith("/games/coin-flip"):
            return web.Response(body=BALANCE_OK, content_type="application/json")
        if request.path.startswith("/declared/"):
            return web.Response(body=b" " * (MAX_REPLY_BYTES + 1), content_type="application/json")
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        chunk = b" " * 65536
        try:
            for _ in range(MAX_REPLY_BYTES // len(chunk) + 4):
                await response.write(chunk)
        except ConnectionError:
            pass  # the client hung up, as it should
        return response

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.mark.parametrize("framing", ["declared", "chunked"])
@pytest.mark.parametrize("transport", ["aiohttp", "http1", "httpx"])
async def test_an_oversized_write_reply_is_a_clear_connection_error(
    flood: str, transport: str, framing: str
) -> None:
    """Breaking it: without the cap the write path reads any reply whole into memory (here
    8 MiB and a byte, and the test fails on the missing error). A connection error is what the
    money runner keeps as an unknown outcome, reconciled with the same key: nothing is lost."""
    client = PurpleFleaClient(
        ServiceBases.for_simulator(f"{flood}/{framing}"), transport=transport, retry=NO_RETRY
    )
    async with client:
        agent = agent_of(client)
        with pytest.raises(e.APIConnectionError) as caught:
            await agent.coin_flip("heads", Decimal("1.00"), idempotency_key="idem-big")
        assert type(caught.value) is e.APIConnectionError
        assert "reply too large" in str(caught.value)
        assert f"over {MAX_REPLY_BYTES} bytes" in str(caught.value)
        # The pool is not poisoned: the next exchange reads its reply.
        balance = await agent.balance()
    assert balance.balance_usd == Decimal(5)
