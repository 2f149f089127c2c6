"""The poll engine's GET path (``transport="http1"``, :mod:`pf_tui.api.http1`).

The wire is checked against the aiohttp server of ``test_lean_path`` (what arrives must be what
the aiohttp path sent); the failures against raw asyncio servers on 127.0.0.1 that misbehave on
purpose, each mapped to the same typed error as on the aiohttp path.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from pf_tui import __version__
from pf_tui.api import PurpleFleaClient, RetryPolicy, ServiceBases, http1
from pf_tui.api import errors as e
from pf_tui.api.http1 import Http1Transport
from tests.api.helpers import BALANCE_OK, CANARY, agent_of
from tests.api.test_lean_path import PNL, Recorder, server  # noqa: F401  (the fixture)

NO_RETRY = RetryPolicy(max_attempts=1)


def http1_client(url: str, **kwargs: Any) -> PurpleFleaClient:
    return PurpleFleaClient(
        ServiceBases.for_simulator(url), transport="http1", retry=NO_RETRY, **kwargs
    )


def _pool_of(client: PurpleFleaClient, service: str = "casino") -> Any:
    transport = client._lean[service]
    assert isinstance(transport, Http1Transport)
    return next(iter(transport._pools.values()))


async def test_reads_send_what_the_aiohttp_path_sent(server: tuple[Recorder, str]) -> None:  # noqa: F811
    recorder, url = server
    recorder.replies["/trading/v1/trade/pnl-history"] = (200, PNL, {})
    recorder.replies["/casino/api/v1/bets/history"] = (200, b'{"bets": []}', {})
    async with http1_client(url) as client:
        agent = agent_of(client)
        balance = await agent.balance()
        pnl = await agent.pnl_history(days=7)
        await agent.bets(limit=5, since="2026-11-24T00:00:00Z")
        for _ in range(5):
            await agent.balance()
        assert _pool_of(client).open == 1  # one kept-alive connection served all six
    assert balance.balance_usd == Decimal(5) and pnl.net_pnl == Decimal("1.25")
    first, second, third = recorder.seen[:3]
    assert first["path"] == "/casino/api/v1/auth/balance" and first["method"] == "GET"
    assert first["headers"]["Authorization"] == f"Bearer {CANARY}"
    assert first["headers"]["Accept"] == "application/json"
    assert first["headers"]["User-Agent"] == f"pf-tui/{__version__}"
    assert first["headers"]["Host"] == url.removeprefix("http://")
    assert "Cookie" not in first["headers"]
    assert second["query"] == {"days": "7"}
    assert third["query"] == {"limit": "5", "since": "2026-11-24T00:00:00Z"}


async def test_writes_still_go_through_aiohttp(server: tuple[Recorder, str]) -> None:  # noqa: F811
    recorder, url = server
    reply = b'{"bet_id": "b1", "won": true, "amount_won": 1.96, "new_balance": 10.96}'
    recorder.replies["/casino/api/v1/games/coin-flip"] = (200, reply, {})
    async with http1_client(url) as client:
        await agent_of(client).coin_flip("heads", Decimal("1.00"), idempotency_key="idem-1")
        assert client._lean["casino"]._pools == {}  # type: ignore[attr-defined]  # no lean pool
    (write,) = recorder.seen
    assert write["method"] == "POST" and write["headers"]["Idempotency-Key"] == "idem-1"


async def test_status_errors_keep_code_message_and_retry_after(
    server: tuple[Recorder, str],  # noqa: F811
) -> None:
    recorder, url = server
    body = b'{"error": "rate_limited", "message": "slow down"}'
    recorder.replies["/casino/api/v1/auth/balance"] = (429, body, {"Retry-After": "7"})
    recorder.replies["/casino/api/v1/auth/ledger"] = (302, b"", {"Location": "/elsewhere"})
    async with http1_client(url) as client:
        with pytest.raises(e.RateLimitError) as limited:
            await agent_of(client).balance()
        with pytest.raises(e.APIStatusError) as moved:
            await agent_of(client).ledger()
    assert limited.value.retry_after == 7.0 and limited.value.code == "rate_limited"
    assert moved.value.status == 302  # redirects are not followed


async def test_a_key_the_server_echoes_never_reaches_the_error(
    server: tuple[Recorder, str],  # noqa: F811
) -> None:
    recorder, url = server
    echo = b'{"error": "bad_key", "message": "key ' + CANARY.encode() + b' is not valid"}'
    recorder.replies["/casino/api/v1/auth/balance"] = (401, echo, {"X-Echo": CANARY})
    async with http1_client(url) as client:
        with pytest.raises(e.APIStatusError) as caught:
            await agent_of(client).balance()
    assert caught.value.status == 401
    assert CANARY not in str(caught.value) and CANARY not in repr(caught.value)


# --- misbehaving servers ---------------------------------------------------------------------

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _serve(handler: Handler) -> tuple[asyncio.Server, str]:
    srv = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    return srv, f"http://127.0.0.1:{port}"


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


def _reply(body: bytes, extra: bytes = b"") -> bytes:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    return head + b"Content-Length: %d\r\n" % len(body) + extra + b"\r\n" + body


def _answering(reply: Callable[[bytes], bytes]) -> Handler:
    """A server answering every request of a kept-alive connection with ``reply(request)``."""

    async def handler(reader: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while True:
            try:
                request = await _read_request(reader)
                w.write(reply(request))
                await w.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                break  # the client hung up (or dropped the connection, as it should)
        w.close()

    return handler


async def _silent(reader: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    """Reads the request and never answers."""
    await _read_request(reader)
    await asyncio.sleep(5)
    w.close()


def _bare_transport() -> Http1Transport:
    """The lean pool alone, for GETs (no client around it; a write would find no pool)."""
    return Http1Transport(max_connections=4, default_headers={}, writes=_no_writes)


def _no_writes() -> Any:
    raise AssertionError("these tests send GETs only")


@pytest.fixture
async def servers() -> AsyncIterator[list[asyncio.Server]]:
    made: list[asyncio.Server] = []
    yield made
    for srv in made:
        srv.close()
        await srv.wait_closed()


async def test_a_kept_alive_connection_the_server_closed_is_retried_once_fresh(
    servers: list[asyncio.Server],
) -> None:
    """Breaking it: the first poll after a server dropped an idle connection fails."""
    connections = 0

    async def one_reply_then_close(reader: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await _read_request(reader)
        w.write(_reply(BALANCE_OK))  # says nothing of closing, then closes: a stale keep-alive
        await w.drain()
        w.close()

    srv, url = await _serve(one_reply_then_close)
    servers.append(srv)
    async with http1_client(url) as client:
        agent = agent_of(client)
        assert (await agent.balance()).balance_usd == Decimal(5)
        await asyncio.sleep(0.05)  # the close reaches the idle connection (or not yet: both work)
        assert (await agent.balance()).balance_usd == Decimal(5)
    assert connections == 2


@pytest.mark.parametrize(
    ("behaviour", "error", "kind"),
    [
        ("hang", e.APITimeoutError, "timed out waiting for the reply"),
        ("trickle", e.APITimeoutError, "timed out waiting for the reply"),
        ("garbage", e.APIConnectionError, "HTTP protocol error"),
        ("half", e.APIConnectionError, "connection closed before a complete reply"),
    ],
)
async def test_failures_map_to_the_same_typed_errors(
    servers: list[asyncio.Server], behaviour: str, error: type[Exception], kind: str
) -> None:
    """Breaking it: a raw exception escapes, or a hung or trickling server holds a poll past
    its bounds (read timeout 0.3 s, whole exchange 3 x that)."""

    async def misbehave(reader: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        if behaviour == "hang":
            await asyncio.sleep(5)
        elif behaviour == "trickle":  # a byte every 0.2 s: each read in time, the whole not
            for byte in _reply(BALANCE_OK):
                w.write(bytes([byte]))
                await w.drain()
                await asyncio.sleep(0.2)
        elif behaviour == "garbage":
            w.write(b"SMTP ready\r\n\r\n")
        else:  # half a body, then the connection goes
            whole = _reply(BALANCE_OK)
            w.write(whole[: len(whole) - 10])
            await w.drain()
        w.close()

    srv, url = await _serve(misbehave)
    servers.append(srv)
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with http1_client(url, timeout=0.3) as client:
        with pytest.raises(error) as caught:
            await agent_of(client).balance()
    assert type(caught.value) is error and kind in str(caught.value)
    assert loop.time() - started < 2.0
    assert CANARY not in str(caught.value)


@pytest.mark.parametrize("framing", ["declared", "chunked", "unframed", "headers"])
async def test_an_oversized_reply_is_refused_before_it_is_read(
    servers: list[asyncio.Server], framing: str
) -> None:
    """Breaking it: a server streaming an endless body (or endless headers) grows the engine's
    memory until the read timeout; here it would also outlast the test's 2 s bound."""
    chunk = b"x" * 65536

    async def flood(reader: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        if framing == "declared":
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (http1.MAX_BODY_BYTES + 1))
        elif framing == "chunked":
            w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        elif framing == "unframed":
            w.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
        else:
            w.write(b"HTTP/1.1 200 OK\r\n")
        try:
            for _ in range(http1.MAX_BODY_BYTES // len(chunk) + 4):
                if framing == "chunked":
                    w.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                elif framing == "headers":
                    w.write(b"X-Pad: %s\r\n" % chunk[:4000])
                else:
                    w.write(chunk)
                await w.drain()
        except ConnectionError:
            pass  # the client hung up, as it should
        w.close()

    srv, url = await _serve(flood)
    servers.append(srv)
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with http1_client(url, timeout=1.0) as client:
        with pytest.raises(e.APIConnectionError) as caught:
            await agent_of(client).balance()
        assert _pool_of(client).open == 0  # the connection was dropped, not kept
    assert type(caught.value) is e.APIConnectionError
    assert "reply too large" in str(caught.value)
    assert loop.time() - started < 2.0


async def test_a_reply_without_length_ends_with_the_connection(
    servers: list[asyncio.Server],
) -> None:
    async def close_delimited(reader: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        w.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + BALANCE_OK)
        await w.drain()
        w.close()

    srv, url = await _serve(close_delimited)
    servers.append(srv)
    async with http1_client(url) as client:
        assert (await agent_of(client).balance()).balance_usd == Decimal(5)


async def test_a_refused_connection_is_a_connection_error() -> None:
    async with http1_client("http://127.0.0.1:9", timeout=1.0) as client:
        with pytest.raises(e.APIConnectionError) as caught:
            await agent_of(client).balance()
    assert type(caught.value) is e.APIConnectionError and "could not connect" in str(caught.value)


async def test_a_header_that_would_split_the_request_is_refused() -> None:
    async with http1_client("http://127.0.0.1:9") as client:
        agent = client.agent("ag_0123456789ab", casino_key="sk_live_x\r\nX-Evil: 1")
        with pytest.raises(ValueError, match="newline") as caught:
            await agent.balance()
    assert "X-Evil" not in str(caught.value)


async def test_a_closed_client_sends_no_more_writes(server: tuple[Recorder, str]) -> None:  # noqa: F811
    """After ``aclose`` a write is refused, as aiohttp's closed session refused it, instead of
    opening a new pool that nothing would close."""
    recorder, url = server
    recorder.replies["/casino/api/v1/auth/balance"] = (200, BALANCE_OK, {})
    client = http1_client(url)
    await agent_of(client).balance()  # the pools made
    await client.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await agent_of(client).coin_flip("heads", Decimal("1.00"), idempotency_key="idem-2")
    assert [seen["method"] for seen in recorder.seen] == ["GET"]
    unused = http1_client(url)
    await unused.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await agent_of(unused).balance()  # never made its pools: it does not make them now


async def test_a_cancelled_read_while_aiohttp_is_still_importing_frees_its_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The console imports aiohttp in a thread after start (``WARM_HTTP_S``), and while it does,
    ``sys.modules["aiohttp"]`` is a module half built. Telling a lost connection from other
    failures by that module's exception type raised AttributeError there: a cancelled read came
    back as that error and its connection was never given back."""
    import sys
    import types

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.read()
        finally:
            writer.close()

    srv, url = await _serve(silent)
    async with http1_client(url) as client:
        read = asyncio.create_task(agent_of(client).balance())
        await asyncio.sleep(0.2)
        monkeypatch.setitem(sys.modules, "aiohttp", types.ModuleType("aiohttp"))  # half built
        read.cancel()
        with pytest.raises(asyncio.CancelledError):
            await read
        monkeypatch.undo()
        assert _pool_of(client).open == 0
    srv.close()


# --- the pool's one timer, the connection's one parser ---------------------------------------


async def test_many_reads_on_one_connection_arm_the_timeout_once(
    servers: list[asyncio.Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Breaking it: a timer made and cancelled for every request (about 4% of the engine's CPU
    at 5,000 agents), or a parser that does not start over after each kept-alive reply."""

    srv, url = await _serve(_answering(lambda _: _reply(BALANCE_OK)))
    servers.append(srv)
    armed: list[float] = []
    arm = http1._Pool._arm

    def counting(self: Any, loop: asyncio.AbstractEventLoop, when: float) -> None:
        armed.append(when)
        arm(self, loop, when)

    monkeypatch.setattr(http1._Pool, "_arm", counting)
    async with http1_client(url, timeout=5.0) as client:
        agent = agent_of(client)
        for _ in range(50):
            assert (await agent.balance()).balance_usd == Decimal(5)
        pool = _pool_of(client)
        assert pool.open == 1 and not pool.pending
    assert len(armed) == 1


async def test_the_sweep_times_out_the_exchange_due_first(
    servers: list[asyncio.Server],
) -> None:
    """An exchange sent after another but due sooner is still timed out on time: breaking it
    means a sweep armed only for the first exchange's later moment."""

    srv, url = await _serve(_silent)
    servers.append(srv)
    loop = asyncio.get_running_loop()
    transport = _bare_transport()
    slow = asyncio.create_task(
        transport.exchange("GET", url + "/a", None, None, _bounds(read=3.0, total=3.0))
    )
    await asyncio.sleep(0.1)
    started = loop.time()
    with pytest.raises(Exception, match="timed out waiting for the reply"):
        await transport.exchange("GET", url + "/b", None, None, _bounds(read=0.3, total=0.9))
    assert 0.25 <= loop.time() - started < 1.0
    assert not slow.done()  # the other exchange keeps its own, later, moment
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    await transport.aclose()


def _bounds(*, read: float, total: float) -> Any:
    from pf_tui.api.exchange import ExchangeTimeout

    return ExchangeTimeout(connect=1.0, sock_read=read, total=total)


async def test_a_reply_nobody_asked_for_drops_the_connection(
    servers: list[asyncio.Server],
) -> None:
    """A second reply in the same bytes as the one asked for must not be read into the first,
    nor left for the next request to find: the connection goes."""
    connections = 0
    two_replies = _answering(lambda _: _reply(BALANCE_OK) + _reply(b'{"balance_usd": 999}'))

    async def counted(reader: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await two_replies(reader, w)

    srv, url = await _serve(counted)
    servers.append(srv)
    async with http1_client(url) as client:
        agent = agent_of(client)
        assert (await agent.balance()).balance_usd == Decimal(5)
        assert (await agent.balance()).balance_usd == Decimal(5)
        assert _pool_of(client).open == 0
    assert connections == 2


async def test_a_read_pending_when_its_pool_closes_ends_at_once(
    servers: list[asyncio.Server],
) -> None:
    """Breaking it: closing the pool stopped the one sweep that would time the read out, and it
    waited for ever (the per-request timers it replaced kept running)."""

    srv, url = await _serve(_silent)
    servers.append(srv)
    transport = _bare_transport()
    read = asyncio.create_task(
        transport.exchange("GET", url + "/a", None, None, _bounds(read=0.3, total=0.9))
    )
    await asyncio.sleep(0.05)
    await transport.aclose()
    with pytest.raises(Exception, match="Server disconnected"):
        async with asyncio.timeout(1.0):
            await read


async def test_a_header_that_is_not_latin1_is_refused_without_its_text() -> None:
    """The encoder's own error carried the whole header text, the key among it, in its repr."""
    async with http1_client("http://127.0.0.1:9") as client:
        agent = client.agent("ag_0123456789ab", casino_key="sk_live_\u20ac" + CANARY)
        with pytest.raises(ValueError, match="latin-1") as caught:
            await agent.balance()
    assert CANARY not in repr(caught.value) and caught.value.__context__ is None


async def test_reply_headers_read_as_a_mapping_with_lowercase_names(
    servers: list[asyncio.Server],
) -> None:
    """As the aiohttp path gave them: names lowercased, the last of a name wins, latin-1."""

    async def headers(reader: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        w.write(_reply(BALANCE_OK, b"Retry-After: 3\r\nX-Note: caf\xe9\r\nretry-after: 7\r\n"))
        await w.drain()
        w.close()

    srv, url = await _serve(headers)
    servers.append(srv)
    transport = _bare_transport()
    status, got, body = await transport.exchange(
        "GET", url + "/a", None, None, _bounds(read=1.0, total=2.0)
    )
    await transport.aclose()
    assert status == 200 and body == BALANCE_OK
    assert got["retry-after"] == "7" and got["x-note"] == "caf\xe9"
    assert dict(got) == {
        "content-type": "application/json",
        "content-length": str(len(BALANCE_OK)),
        "retry-after": "7",
        "x-note": "caf\xe9",
    }


async def test_chunked_trailers_are_bounded_and_are_not_headers(
    servers: list[asyncio.Server],
) -> None:
    """Breaking it: trailers after a chunked body were appended to the reply's headers without
    a bound (a server could grow the engine's memory until the exchange's deadline), and a
    trailing Retry-After overrode the reply's own."""
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nRetry-After: 3\r\n\r\n"
    chunks = b"%x\r\n%s\r\n0\r\n" % (len(BALANCE_OK), BALANCE_OK)
    many = (b"X-Pad: " + b"p" * 90 + b"\r\n") * 20_000  # 1.9 MB of trailers

    def chunked(request: bytes) -> bytes:
        return head + chunks + (many if b"/many" in request else b"Retry-After: 99\r\n") + b"\r\n"

    srv, url = await _serve(_answering(chunked))
    servers.append(srv)
    transport = _bare_transport()
    bounds = _bounds(read=1.0, total=2.0)
    status, got, body = await transport.exchange("GET", url + "/one", None, None, bounds)
    assert status == 200 and body == BALANCE_OK and got["retry-after"] == "3"
    with pytest.raises(Exception, match="reply trailers over"):
        await transport.exchange("GET", url + "/many", None, None, bounds)
    await transport.aclose()
