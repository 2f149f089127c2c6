"""The poller's read path: GETs over pooled HTTP/1.1 keep-alive connections, parsed by httptools.

Profiled at 3,000 agents (docs/performance.md, "The HTTP client"), aiohttp's client machinery was
half of the engine's CPU: per request a ``ClientRequest``, a ``ClientResponse``, merged header
multidicts, auto headers, two timers, tracing hooks, the connector's bookkeeping. A poll needs
none of it: one GET with an ``Authorization`` header on a kept-alive connection, a status, a few
headers and a small JSON body. :class:`Http1Transport` sends exactly that and parses the reply
with httptools (llhttp, the parser behind uvicorn and Node.js), on the same event loop.

Only ``GET`` takes this path, and only for a client made with ``transport="http1"`` (the poll
engine's, ``wiring.build_poll_engine``). Every other method goes through an aiohttp pool made on
the first one (:mod:`pf_tui.api.transport`), so money writes never take this path (docs/api.md
§5). Failures surface as the exceptions :func:`~pf_tui.api.transport.map_transport_error`
already classifies: a refused connection as ``ConnectionRefusedError``, a timeout as aiohttp's
``ConnectionTimeoutError`` or ``SocketTimeoutError``, a connection closed before a complete
reply as ``ServerDisconnectedError``, a reply that is not HTTP as ``httpx.RemoteProtocolError``.

Nothing here imports aiohttp or httpx until it is needed (the first write, or the first failure,
whose exception types are theirs): a console polls and draws its first figures without loading
them (:mod:`pf_tui.api.exchange`).

What it does not do, because no Purple Flea read needs it: redirects (never followed anyway),
cookies (no jar, as before), compression (it asks for none), proxies (``trust_env`` was off).
What it bounds: a reply's headers (:data:`MAX_HEADER_BYTES`) and body (:data:`MAX_BODY_BYTES`,
the cap every transport applies); a server sending more ends the exchange with
:class:`~pf_tui.api.transport.ReplyTooLarge`, and the connection is dropped at once rather than
read into memory.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import cast

import httptools

from pf_tui.api.exchange import (
    MAX_REPLY_BYTES,
    Exchanger,
    ExchangeTimeout,
    ReplyTooLarge,
    Target,
    verifying_context,
)

__all__ = ["IDLE_S", "MAX_BODY_BYTES", "MAX_HEADER_BYTES", "Http1Transport", "build_http1"]

IDLE_S = 4.0
"""An idle connection is reused only this long: servers commonly drop theirs after 5 s."""

MAX_BODY_BYTES = MAX_REPLY_BYTES
"""The largest reply body read: the same cap as every transport's
(:data:`~pf_tui.api.transport.MAX_REPLY_BYTES`)."""

MAX_HEADER_BYTES = 64 * 1024
"""The most header bytes (names and values) a reply may carry."""


class _TooLarge(Exception):
    """Raised inside an httptools callback to stop the parser (it raises its own error)."""


# The failures, as the exceptions the aiohttp path raises (the client classifies both alike).
# Each imports its library when first raised: a console that never fails never loads them.


def _disconnected() -> BaseException:
    import aiohttp

    return aiohttp.ServerDisconnectedError()


def _read_timed_out() -> BaseException:
    import aiohttp

    return aiohttp.SocketTimeoutError("timed out waiting for the reply")


def _connect_timed_out(what: str) -> BaseException:
    import aiohttp

    return aiohttp.ConnectionTimeoutError(what)


def _not_http(what: str) -> Callable[[], BaseException]:
    def make() -> BaseException:
        import httpx

        return httpx.RemoteProtocolError(what)

    return make


@dataclass(slots=True)
class _Reply:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: list[bytes] = field(default_factory=list)
    body_bytes: int = 0
    header_bytes: int = 0
    framed: bool = False
    """The reply says where it ends (Content-Length or chunked)."""
    headers_done: bool = False


class _Connection(asyncio.Protocol):
    """One kept-alive connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[_Reply] | None = None
        self.reply = _Reply()
        self.parser: httptools.HttpResponseParser | None = None
        self.closed = False
        self.keep_alive = True
        self.received = False
        """Whether any byte of the current reply arrived (a silent stale connection is safe to
        retry; a half reply is not)."""
        self.lost: BaseException | None = None
        """The error the current exchange failed with because the server closed the connection
        (told apart by identity: its type is aiohttp's, which may still be loading in another
        thread)."""
        self.idle_since = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.deadline = 0.0
        self.read_timeout = 0.0

    # -- asyncio.Protocol --

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCPTransport has write() and abort() but is not an asyncio.Transport subclass.
        self.transport = cast("asyncio.Transport", transport)

    def data_received(self, data: bytes) -> None:
        self.received = True
        if self.parser is None:
            # Unasked-for bytes on an idle connection: whatever it carries next cannot be trusted.
            self._fail(_not_http("bytes arrived with no request pending"))
            self.abort()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            # A callback's exception reaches here chained as the parser's error's context.
            if isinstance(exc.__context__, _TooLarge):
                too_large = ReplyTooLarge(str(exc.__context__))
                self._fail(lambda: too_large)
            else:
                self._fail(_not_http("reply is not valid HTTP/1.1"))
            self.abort()
            return
        if self.waiter is not None and not self.waiter.done():
            self._arm_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        reply = self.reply
        if reply.headers_done and not reply.framed and self.waiter is not None:
            self._complete()  # no length: the reply ended with the connection
            return
        self._fail(_disconnected, lost=True)

    # -- httptools callbacks --

    def on_header(self, name: bytes, value: bytes) -> None:
        reply = self.reply
        reply.header_bytes += len(name) + len(value)
        if reply.header_bytes > MAX_HEADER_BYTES:
            raise _TooLarge(f"reply headers over {MAX_HEADER_BYTES} bytes")
        reply.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        reply = self.reply
        assert self.parser is not None
        reply.status = self.parser.get_status_code()
        reply.headers_done = True
        reply.framed = "content-length" in reply.headers or "transfer-encoding" in reply.headers
        length = reply.headers.get("content-length", "")
        if length.isascii() and length.isdigit() and int(length) > MAX_BODY_BYTES:
            raise _TooLarge(f"reply body over {MAX_BODY_BYTES} bytes")

    def on_body(self, body: bytes) -> None:
        reply = self.reply
        reply.body_bytes += len(body)
        if reply.body_bytes > MAX_BODY_BYTES:
            raise _TooLarge(f"reply body over {MAX_BODY_BYTES} bytes")
        reply.body.append(body)

    def on_message_complete(self) -> None:
        assert self.parser is not None
        self.keep_alive = self.parser.should_keep_alive()
        self._complete()

    # -- one exchange --

    def send(
        self, request: bytes, waiter: asyncio.Future[_Reply], read_timeout: float, total: float
    ) -> None:
        assert self.transport is not None
        self.reply = _Reply()
        self.parser = httptools.HttpResponseParser(self)
        self.waiter = waiter
        self.received = False
        self.lost = None
        loop = waiter.get_loop()
        self.read_timeout = read_timeout
        self.deadline = loop.time() + total
        self._arm_timer()
        self.transport.write(request)

    def _arm_timer(self) -> None:
        # One timer per exchange: the next read within read_timeout, the whole within deadline.
        if self.timer is not None:
            self.timer.cancel()
        assert self.waiter is not None
        loop = self.waiter.get_loop()
        self.timer = loop.call_at(
            min(loop.time() + self.read_timeout, self.deadline), self._timed_out
        )

    def _timed_out(self) -> None:
        self.timer = None
        self._fail(_read_timed_out)
        self.abort()

    def _complete(self) -> None:
        waiter, self.waiter = self.waiter, None
        self.parser = None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if waiter is not None and not waiter.done():
            waiter.set_result(self.reply)

    def _fail(self, make: Callable[[], BaseException], *, lost: bool = False) -> None:
        """End the exchange with ``make()`` (made only if an exchange is waiting for it);
        ``lost``: because the server closed the connection."""
        waiter, self.waiter = self.waiter, None
        self.parser = None
        self.keep_alive = False
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if waiter is not None and not waiter.done():
            error = make()
            if lost:
                self.lost = error
            waiter.set_exception(error)

    def abort(self) -> None:
        """Drop the connection at once (a failed or abandoned exchange)."""
        self.closed = True
        self.keep_alive = False
        if self.transport is not None:
            self.transport.abort()


class _Pool:
    """Kept-alive connections to one ``(scheme, host, port)``, at most ``limit`` open."""

    def __init__(self, host: str, port: int, tls: ssl.SSLContext | None, limit: int) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.limit = limit
        self.open = 0
        self.idle: deque[_Connection] = deque()
        self.waiters: deque[asyncio.Future[None]] = deque()

    async def take(self, connect_timeout: float) -> tuple[_Connection, bool]:
        """A connection to send on, and whether it was reused (kept alive)."""
        while True:
            now = time.monotonic()
            while self.idle:
                conn = self.idle.pop()  # the most recently used: the least likely to be stale
                if not conn.closed and now - conn.idle_since < IDLE_S:
                    return conn, True
                self._drop(conn)
            if self.open < self.limit:
                break
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.waiters.append(fut)
            try:
                async with asyncio.timeout(connect_timeout):
                    await fut
            except BaseException as exc:
                if fut.done() and not fut.cancelled():
                    self._wake()  # woken, then timed out or cancelled: pass the turn on
                if isinstance(exc, TimeoutError):
                    raise _connect_timed_out("timed out waiting for a connection") from None
                raise
        self.open += 1
        try:
            async with asyncio.timeout(connect_timeout):
                _, conn = await asyncio.get_running_loop().create_connection(
                    _Connection,
                    self.host,
                    self.port,
                    ssl=self.tls,
                    server_hostname=self.host if self.tls else None,
                )
        except TimeoutError:
            self.open -= 1
            self._wake()
            raise _connect_timed_out("timed out connecting") from None
        except BaseException:
            self.open -= 1
            self._wake()
            raise
        return conn, False

    def give_back(self, conn: _Connection) -> None:
        """Keep ``conn`` for the next request if it can be, else close it."""
        if conn.closed or not conn.keep_alive:
            self._drop(conn)
            return
        conn.idle_since = time.monotonic()
        self.idle.append(conn)
        self._wake()

    def _drop(self, conn: _Connection) -> None:
        if not conn.closed:
            conn.abort()
        self.open -= 1
        self._wake()

    def _wake(self) -> None:
        while self.waiters:
            fut = self.waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    def close(self) -> None:
        while self.idle:
            conn = self.idle.pop()
            conn.abort()
            self.open -= 1


class Http1Transport:
    """The poll engine's pool for one service: ``GET`` exchanges take the lean HTTP/1.1 path
    above; any other method goes to ``writes()``, an aiohttp pool made on the first one."""

    def __init__(
        self,
        *,
        max_connections: int,
        default_headers: Mapping[str, str],
        writes: Callable[[], Exchanger],
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self._max = max_connections
        self._tls = tls_context
        self._pools: dict[tuple[str, str, int], _Pool] = {}
        self._head = "".join(f"{k}: {v}\r\n" for k, v in default_headers.items())
        self._make_writes = writes
        self._writes: Exchanger | None = None
        self._closed = False

    async def exchange(
        self,
        method: str,
        url: Target | str,
        headers: Mapping[str, str] | None,
        content: bytes | None,
        timeout: ExchangeTimeout,  # noqa: ASYNC109  (the client's per-phase bounds)
    ) -> tuple[int, Mapping[str, str], bytes]:
        """One request: ``(status, reply headers, whole body)``; only GETs take the lean path."""
        if method != "GET" or content:
            if self._closed:
                raise RuntimeError("the transport is closed")
            if self._writes is None:
                self._writes = self._make_writes()
            return await self._writes.exchange(method, url, headers, content, timeout)
        target = url if isinstance(url, Target) else Target(url)
        host, port = target.host, target.port
        pool = self._pool(target.scheme, host, port)
        named = f"[{host}]" if ":" in host else host  # an IPv6 literal keeps its brackets
        host_header = named if target.explicit_port is None else f"{named}:{port}"
        extra = headers or {}
        for k, v in extra.items():
            if "\r" in v or "\n" in v or "\r" in k or "\n" in k:
                # As aiohttp refuses them: a header must never split the request (and the
                # message names no value, which may be a key).
                raise ValueError("newline or carriage return in a request header")
        lines = self._head + "".join(f"{k}: {v}\r\n" for k, v in extra.items())
        request = f"GET {target.path_qs} HTTP/1.1\r\nHost: {host_header}\r\n{lines}\r\n"
        wire = request.encode("latin-1")
        connect = timeout.connect or timeout.total or 10.0
        read = timeout.sock_read or timeout.total or 10.0
        total = timeout.total or read * 3
        for attempt in (0, 1):
            conn, reused = await pool.take(connect)
            waiter: asyncio.Future[_Reply] = asyncio.get_running_loop().create_future()
            conn.send(wire, waiter, read, total)
            try:
                reply = await waiter
            except BaseException as exc:
                if exc is not conn.lost:
                    conn.abort()  # cancelled or failed mid-reply: the connection's state is unknown
                    pool.give_back(conn)
                    raise
                pool.give_back(conn)
                if reused and not conn.received and attempt == 0:
                    continue  # a kept-alive connection the server had closed: once more, fresh
                raise
            pool.give_back(conn)
            return reply.status, reply.headers, b"".join(reply.body)
        raise AssertionError("unreachable")  # pragma: no cover

    def _pool(self, scheme: str, host: str, port: int) -> _Pool:
        key = (scheme, host, port)
        pool = self._pools.get(key)
        if pool is None:
            tls = None
            if scheme == "https":
                tls = self._tls or verifying_context()
            pool = self._pools[key] = _Pool(host, port, tls, self._max)
        return pool

    async def aclose(self) -> None:
        """Close the lean pools and the writes' pool (a write after this is refused)."""
        self._closed = True
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
        writes, self._writes = self._writes, None
        if writes is not None:
            await writes.aclose()


def build_http1(
    *, max_connections: int, headers: Mapping[str, str] | None = None, tls: bool = True
) -> Http1Transport:
    """The ``"http1"`` pool for one service base; ``tls=False`` for an ``http://`` base (see
    :func:`~pf_tui.api.transport.build_transport`, which makes its pool for anything but GETs)."""

    def writes() -> Exchanger:
        from pf_tui.api.transport import LeanAiohttpTransport, build_transport

        pool = build_transport("aiohttp", max_connections=max_connections, headers=headers, tls=tls)
        assert isinstance(pool, LeanAiohttpTransport)
        return pool

    return Http1Transport(
        max_connections=max_connections, default_headers=dict(headers or {}), writes=writes
    )
