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
What it bounds: a reply's head (:data:`MAX_HEADER_BYTES`, give or take one read), its chunked
trailers (which it reads past and ignores, as aiohttp does) to the same size, and its body
(:data:`MAX_BODY_BYTES`, the cap every transport applies); a server sending more ends the
exchange with
:class:`~pf_tui.api.transport.ReplyTooLarge`, and the connection is dropped at once rather than
read into memory.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import NoReturn, cast

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
"""The most bytes a reply's status line and headers may take, counted by the reads that carry
no byte past them (so a head is cut off within one read, 256 KiB at most, of this)."""

_LINES_MAX = 16_384
"""Distinct request header sets whose wire form is kept (one or a few an agent)."""


def _is_latin1(text: str) -> bool:
    return text.isascii() or all(ord(ch) < 256 for ch in text)


class _Stop(Exception):
    """Raised inside an httptools callback to stop the parser, which then raises its own error:
    why is kept on the connection (:attr:`_Connection.stopped`), as the parser's error does not
    always chain the callback's."""


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


class _Reply:
    """One reply as the parser reads it."""

    __slots__ = ("body", "body_bytes", "framed", "header_bytes", "headers_done", "raw", "status")

    def __init__(self) -> None:
        self.status = 0
        self.raw: list[tuple[bytes, bytes]] = []
        """The headers as they came: decoded only if someone reads them (:class:`_Headers`)."""
        self.body: list[bytes] = []
        self.body_bytes = 0
        self.header_bytes = 0
        self.framed = False
        """The reply says where it ends (Content-Length or chunked)."""
        self.headers_done = False


class _Headers(Mapping[str, str]):
    """A reply's headers, names lowercased, decoded on first use.

    The client reads a reply's headers only when its status is not 2xx (Retry-After, the error
    page's type): decoding every header of every reply was about 2% of the engine's CPU.
    """

    __slots__ = ("_decoded", "_raw")

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self._raw = raw
        self._decoded: dict[str, str] | None = None

    def _dict(self) -> dict[str, str]:
        if self._decoded is None:
            self._decoded = {n.decode("latin-1").lower(): v.decode("latin-1") for n, v in self._raw}
        return self._decoded

    def __getitem__(self, name: str) -> str:
        return self._dict()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict())

    def __len__(self) -> int:
        return len(self._dict())

    def __repr__(self) -> str:
        return f"_Headers({self._dict()!r})"


class _Connection(asyncio.Protocol):
    """One kept-alive connection; one request at a time, one parser for all of them (llhttp
    starts over after each complete reply)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[_Reply] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.reply = _Reply()
        self.parser = httptools.HttpResponseParser(self)
        self.pool: _Pool | None = None
        """Whose timeout sweep watches this connection while a request is pending."""
        self.closed = False
        self.keep_alive = True
        self.received = False
        """Whether any byte of the current reply arrived (a silent stale connection is safe to
        retry; a half reply is not)."""
        self.stopped: Callable[[], BaseException] | None = None
        """Why a callback stopped the parser: the error the exchange fails with."""
        self.lost: BaseException | None = None
        """The error the current exchange failed with because the server closed the connection
        (told apart by identity: its type is aiohttp's, which may still be loading in another
        thread)."""
        self.idle_since = 0.0
        self.deadline = 0.0
        """Loop time by which the whole exchange must be done."""
        self.read_timeout = 0.0
        self.last_read = 0.0
        """Loop time of the request's write, then of the last bytes of its reply."""

    # -- asyncio.Protocol --

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCPTransport has write() and abort() but is not an asyncio.Transport subclass.
        self.transport = cast("asyncio.Transport", transport)
        self.loop = asyncio.get_running_loop()

    def data_received(self, data: bytes) -> None:
        self.received = True
        waiter = self.waiter
        if waiter is None:
            # Unasked-for bytes on an idle connection: whatever it carries next cannot be trusted.
            self._fail(_not_http("bytes arrived with no request pending"))
            self.abort()
            return
        reply = self.reply
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            why, self.stopped = self.stopped, None
            self._fail(why or _not_http("reply is not valid HTTP/1.1"))
            self.abort()
            return
        if not reply.headers_done:
            reply.header_bytes += len(data)  # all of it was head: no header ended in it
            if reply.header_bytes > MAX_HEADER_BYTES:
                too_long = ReplyTooLarge(f"reply headers over {MAX_HEADER_BYTES} bytes")
                self._fail(lambda: too_long)
                self.abort()
                return
        if self.waiter is not None and self.loop is not None:
            self.last_read = self.loop.time()  # the read timeout starts again

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        reply = self.reply
        if reply.headers_done and not reply.framed and self.waiter is not None:
            self._complete()  # no length: the reply ended with the connection
            return
        self._fail(_disconnected, lost=True)

    # -- httptools callbacks --

    def _stop(self, why: Callable[[], BaseException]) -> NoReturn:
        self.stopped = why
        raise _Stop

    def _too_large(self, what: str) -> NoReturn:
        error = ReplyTooLarge(what)
        self._stop(lambda: error)

    def on_message_begin(self) -> None:
        if self.waiter is None:
            # A second reply behind the one asked for, in the same bytes: not trusted either.
            self._stop(_not_http("bytes arrived with no request pending"))

    def on_header(self, name: bytes, value: bytes) -> None:
        reply = self.reply
        if not reply.headers_done:
            reply.raw.append((name, value))  # bounded by data_received: MAX_HEADER_BYTES
            return
        # A trailer, after a chunked body: not a header of the reply (aiohttp ignores them too),
        # and counted here, since data_received counts the head only.
        reply.header_bytes += len(name) + len(value)
        if reply.header_bytes > MAX_HEADER_BYTES:
            self._too_large(f"reply trailers over {MAX_HEADER_BYTES} bytes")

    def on_headers_complete(self) -> None:
        reply = self.reply
        reply.status = self.parser.get_status_code()
        reply.headers_done = True
        length = b""
        for name, value in reply.raw:
            lowered = name.lower()
            if lowered == b"content-length":
                reply.framed = True
                length = value
            elif lowered == b"transfer-encoding":
                reply.framed = True
        if length.isascii() and length.isdigit() and int(length) > MAX_BODY_BYTES:
            self._too_large(f"reply body over {MAX_BODY_BYTES} bytes")

    def on_body(self, body: bytes) -> None:
        reply = self.reply
        reply.body_bytes += len(body)
        if reply.body_bytes > MAX_BODY_BYTES:
            self._too_large(f"reply body over {MAX_BODY_BYTES} bytes")
        reply.body.append(body)

    def on_message_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()
        self._complete()

    # -- one exchange --

    def send(
        self, request: bytes, read_timeout: float, total: float, pool: _Pool
    ) -> asyncio.Future[_Reply]:
        """Write ``request``; the future its reply (or its failure) is set on."""
        loop = self.loop
        assert self.transport is not None and loop is not None
        self.reply = _Reply()
        waiter: asyncio.Future[_Reply] = loop.create_future()
        self.waiter = waiter
        self.received = False
        self.lost = None
        now = loop.time()
        self.read_timeout = read_timeout
        self.deadline = now + total
        self.last_read = now
        self.pool = pool
        pool.watch(self, loop)
        self.transport.write(request)
        return waiter

    def expires(self) -> float:
        """Loop time at which the pending exchange times out: the next read within the read
        timeout, the whole within its deadline."""
        return min(self.last_read + self.read_timeout, self.deadline)

    def timed_out(self) -> None:
        self._fail(_read_timed_out)
        self.abort()

    def closed_under(self) -> None:
        """The pool closed while this exchange was pending."""
        self._fail(_disconnected)
        self.abort()

    def _complete(self) -> None:
        waiter, self.waiter = self.waiter, None
        self._unwatch()
        if waiter is not None and not waiter.done():
            waiter.set_result(self.reply)

    def _fail(self, make: Callable[[], BaseException], *, lost: bool = False) -> None:
        """End the exchange with ``make()`` (made only if an exchange is waiting for it);
        ``lost``: because the server closed the connection."""
        waiter, self.waiter = self.waiter, None
        self.keep_alive = False
        self._unwatch()
        if waiter is not None and not waiter.done():
            error = make()
            if lost:
                self.lost = error
            waiter.set_exception(error)

    def _unwatch(self) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.pending.discard(self)

    def abort(self) -> None:
        """Drop the connection at once (a failed or abandoned exchange)."""
        self.closed = True
        self.keep_alive = False
        if self.transport is not None:
            self.transport.abort()


class _Pool:
    """Kept-alive connections to one ``(scheme, host, port)``, at most ``limit`` open.

    The pool also times its pending exchanges out. One timer a request (``call_at`` when it is
    sent, ``cancel`` when its reply is in) was about 4% of the engine's CPU at 5,000 agents; the
    pool keeps one timer instead, at the earliest moment a pending exchange could expire, and
    each sweep looks at the exchanges still pending then. Replies take milliseconds and timeouts
    seconds, so it fires about once a read timeout, and an exchange still times out on time.
    """

    def __init__(self, host: str, port: int, tls: ssl.SSLContext | None, limit: int) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.limit = limit
        self.open = 0
        self.idle: deque[_Connection] = deque()
        self.waiters: deque[asyncio.Future[None]] = deque()
        self.pending: set[_Connection] = set()
        """Connections with a request out, watched by the sweep."""
        self.sweep_at = float("inf")
        self.sweeper: asyncio.TimerHandle | None = None

    def watch(self, conn: _Connection, loop: asyncio.AbstractEventLoop) -> None:
        """Time ``conn``'s exchange out when it expires (:meth:`_Connection.expires`)."""
        self.pending.add(conn)
        expires = conn.expires()
        if expires < self.sweep_at:
            self._arm(loop, expires)

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self.sweeper is not None:
            self.sweeper.cancel()
        self.sweep_at = when
        self.sweeper = loop.call_at(when, self._sweep, loop)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        self.sweeper = None
        self.sweep_at = float("inf")
        now = loop.time()
        due = [conn for conn in self.pending if conn.expires() <= now]
        for conn in due:
            conn.timed_out()  # leaves self.pending
        if self.pending:
            self._arm(loop, min(conn.expires() for conn in self.pending))

    def reuse(self) -> _Connection | None:
        """A kept-alive connection to send on now, if one is idle (no await: most requests)."""
        idle = self.idle
        if idle:
            now = time.monotonic()
            while idle:
                conn = idle.pop()  # the most recently used: the least likely to be stale
                if not conn.closed and now - conn.idle_since < IDLE_S:
                    return conn
                self._drop(conn)
        return None

    async def take(self, connect_timeout: float) -> tuple[_Connection, bool]:
        """A connection to send on, and whether it was reused (kept alive)."""
        while True:
            conn = self.reuse()
            if conn is not None:
                return conn, True
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
        """Close every connection; an exchange still pending ends as if the server had closed
        it (the sweep that would have timed it out stops here)."""
        if self.sweeper is not None:
            self.sweeper.cancel()
            self.sweeper = None
        self.sweep_at = float("inf")
        for conn in list(self.pending):
            conn.closed_under()
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
        self._head_text = "".join(f"{k}: {v}\r\n" for k, v in default_headers.items())
        self._head = (self._head_text + "\r\n").encode("latin-1")
        self._lines: dict[tuple[tuple[str, str], ...], bytes] = {}
        """Header lines by the request headers they were made from (:meth:`_header_lines`)."""
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
        pool = self._pool(target.scheme, target.host, target.port)
        wire = target.get_line
        if wire is None:
            named = f"[{target.host}]" if ":" in target.host else target.host  # IPv6 keeps []
            host = named if target.explicit_port is None else f"{named}:{target.port}"
            line = f"GET {target.path_qs} HTTP/1.1\r\nHost: {host}\r\n"
            wire = target.get_line = line.encode("latin-1")
        wire += self._header_lines(headers) if headers else self._head
        connect = timeout.connect or timeout.total or 10.0
        read = timeout.sock_read or timeout.total or 10.0
        total = timeout.total or read * 3
        for attempt in (0, 1):
            conn = pool.reuse()
            if conn is not None:
                reused = True
            else:
                conn, reused = await pool.take(connect)
            # The connection's own loop makes the future (asking asyncio for the running loop
            # checks the process id, a system call, each time).
            waiter = conn.send(wire, read, total, pool)
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
            body = reply.body
            content = body[0] if len(body) == 1 else b"".join(body)
            return reply.status, _Headers(reply.raw), content
        raise AssertionError("unreachable")  # pragma: no cover

    def _header_lines(self, headers: Mapping[str, str]) -> bytes:
        """The default headers and ``headers`` as the request's remaining lines, ending with the
        blank line; made once per distinct set (a poll sends its agent's same few every time)."""
        items = tuple(headers.items())
        lines = self._lines.get(items)
        if lines is None:
            for k, v in items:
                if "\r" in v or "\n" in v or "\r" in k or "\n" in k:
                    # As aiohttp refuses them: a header must never split the request (and the
                    # message names no value, which may be a key).
                    raise ValueError("newline or carriage return in a request header")
            if len(self._lines) >= _LINES_MAX:
                self._lines.clear()
            text = self._head_text + "".join(f"{k}: {v}\r\n" for k, v in items) + "\r\n"
            if not _is_latin1(text):
                # Not the encoder's own error: it holds the whole text, a key among it.
                raise ValueError("a request header is not latin-1 text")
            lines = self._lines[items] = text.encode("latin-1")
        return lines

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
        self._lines.clear()  # the agents' Authorization lines: kept no longer than the pools
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
