"""The one place that picks the HTTP transport, and turns transport failures into our errors.

docs/performance.md: httpx's default connection pool is the engine's bottleneck at the concurrency a
fleet needs (it gets slower as concurrency rises), while httpx over ``httpx_aiohttp``'s transport
costs about a third of the CPU per request. So ``"aiohttp"`` is the default; ``"httpx"`` (the plain
httpx pool) stays selectable, and tests inject any ``httpx.AsyncBaseTransport`` (``ASGITransport``
against the simulator app, ``MockTransport``).

``httpx_aiohttp`` maps aiohttp's exceptions onto httpx's by a table that is wrong for us in places:
every ``aiohttp.ClientConnectionError`` (a server that closed the connection, a reset) becomes
``httpx.ConnectTimeout``, and anything outside its table (``ClientResponseError`` for a garbled
status line, ``ClientConnectionResetError``...) escapes raw. :func:`map_transport_error` therefore
classifies by the *original* exception (the ``__cause__`` the library chains) before the mapped
one, so a reset is a connection error, a timeout is a timeout, whichever transport ran.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from collections.abc import Callable, Mapping

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from pf_tui.api.errors import APIConnectionError, APITimeoutError
from pf_tui.api.exchange import (
    MAX_REPLY_BYTES,
    ExchangeTimeout,
    ReplyTooLarge,
    Target,
    verifying_context,
)

__all__ = [
    "MAX_REPLY_BYTES",
    "TRANSPORT_ERRORS",
    "LeanAiohttpTransport",
    "NoCookies",
    "ReplyTooLarge",
    "TransportSpec",
    "build_transport",
    "map_transport_error",
]

TransportSpec = str | httpx.AsyncBaseTransport
"""``"aiohttp"`` (default), ``"http1"`` (GETs on :mod:`pf_tui.api.http1`, anything else on an
``"aiohttp"`` pool made when first needed: the poll engine's), ``"httpx"`` (plain pool), or a
transport instance."""

TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    ReplyTooLarge,
    httpx.HTTPError,
    httpx.StreamError,
    aiohttp.ClientError,
    OSError,
    asyncio.TimeoutError,
    EOFError,
)
"""What a transport may raise for a failed exchange; the client catches exactly these."""


class NoCookies(httpx.Cookies):
    """A jar that keeps nothing: every agent shares the pools (and it saves CPU per reply)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


@functools.cache
def _client_timeout(bounds: ExchangeTimeout) -> aiohttp.ClientTimeout:
    """``bounds`` as aiohttp's (one per client: built once)."""
    return aiohttp.ClientTimeout(
        total=bounds.total,
        connect=bounds.connect,
        sock_connect=bounds.connect,
        sock_read=bounds.sock_read,
    )


def _aiohttp_session_factory(
    max_connections: int, headers: Mapping[str, str] | None = None, *, tls: bool = True
) -> Callable[[], aiohttp.ClientSession]:
    def make() -> aiohttp.ClientSession:
        # Called by the transport inside the event loop, on its first request. No cookie jar: one
        # pool serves every agent, so a cookie set for one agent must never ride on another's call.
        connector = aiohttp.TCPConnector(
            limit=max_connections, keepalive_timeout=5.0, ssl=verifying_context() if tls else False
        )
        return aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(), headers=dict(headers or {})
        )

    return make


class LeanAiohttpTransport(AiohttpTransport):
    """``httpx_aiohttp``'s transport, plus :meth:`exchange`: the client's own path to the same pool.

    Through httpx a request costs about four times raw aiohttp's CPU (building an
    ``httpx.Request``, merging headers, wrapping the reply in a stream and reading it back):
    PurpleFleaClient sends its requests through :meth:`exchange` instead, on the same
    ``aiohttp.ClientSession``. The httpx API (``handle_async_request``) keeps working for
    anything else that holds the transport. Failures surface as aiohttp's own exceptions, which
    :func:`map_transport_error` classifies directly.
    """

    def session(self) -> aiohttp.ClientSession:
        """The pool's session, opened on first use (inside the running loop)."""
        client = self.client
        if not isinstance(client, aiohttp.ClientSession):
            client = self.client = self.get_client()
        return client

    async def exchange(
        self,
        method: str,
        url: Target | str,
        headers: Mapping[str, str] | None,
        content: bytes | None,
        # Per-phase bounds (connect, each read), built once by the client; the caller's
        # asyncio.timeout could not bound the phases separately.
        timeout: ExchangeTimeout,  # noqa: ASYNC109
    ) -> tuple[int, Mapping[str, str], bytes]:
        """One request: ``(status, reply headers, whole body)``; redirects are not followed."""
        client = self.client
        if not isinstance(client, aiohttp.ClientSession):
            client = self.session()
        async with client.request(
            method,
            url.url() if isinstance(url, Target) else url,
            headers=headers,
            data=content,
            allow_redirects=False,
            timeout=_client_timeout(timeout),
        ) as response:
            length = response.content_length
            if length is not None and length > MAX_REPLY_BYTES:
                response.close()  # the connection is not reused: the body is left unread
                raise ReplyTooLarge(f"reply body over {MAX_REPLY_BYTES} bytes")
            if length is not None and "Content-Encoding" not in response.headers:
                # Declared and within the cap, as it arrives (no decoding can make it grow).
                return response.status, response.headers, await response.read()
            body = bytearray()
            async for chunk in response.content.iter_any():
                body += chunk
                if len(body) > MAX_REPLY_BYTES:
                    response.close()
                    raise ReplyTooLarge(f"reply body over {MAX_REPLY_BYTES} bytes")
            return response.status, response.headers, bytes(body)


async def read_capped(response: httpx.Response) -> bytes:
    """A streamed httpx reply's body, refused past :data:`MAX_REPLY_BYTES` (the httpx path's
    cap: the transport tests inject, and the plain pool)."""
    length = response.headers.get("content-length", "")
    if length.isascii() and length.isdigit() and int(length) > MAX_REPLY_BYTES:
        raise ReplyTooLarge(f"reply body over {MAX_REPLY_BYTES} bytes")
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > MAX_REPLY_BYTES:
            raise ReplyTooLarge(f"reply body over {MAX_REPLY_BYTES} bytes")
    return bytes(body)


def build_transport(
    spec: TransportSpec,
    *,
    max_connections: int,
    headers: Mapping[str, str] | None = None,
    tls: bool = True,
) -> httpx.AsyncBaseTransport:
    """A fresh transport for one service client (one connection pool per service base);
    ``"http1"`` pools are :func:`pf_tui.api.http1.build_http1`'s (no aiohttp or httpx).

    An injected instance is returned as is and shared by every service client. ``headers`` are
    the aiohttp session's defaults (what :meth:`LeanAiohttpTransport.exchange` sends besides the
    request's own; httpx sends its client's headers itself). ``tls=False`` is for a plain
    ``http://`` base (the simulator on loopback): such a pool never shakes hands, so it skips
    loading the CA bundle (about 30 ms of the demo's start). Redirects are never followed, so
    it cannot be led to an ``https://`` host either.
    """
    if isinstance(spec, httpx.AsyncBaseTransport):
        return spec
    # Keep every connection the pool may open alive: a poller reuses them all within seconds.
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    verify: ssl.SSLContext | bool = verifying_context() if tls else False
    if spec == "aiohttp":
        return LeanAiohttpTransport(
            verify=verify,
            limits=limits,
            client=_aiohttp_session_factory(max_connections, headers, tls=tls),
        )
    if spec in ("httpx", "plain"):
        return httpx.AsyncHTTPTransport(verify=verify, limits=limits)
    raise ValueError(
        f"unknown transport {spec!r}: use 'aiohttp', 'httpx' or an httpx.AsyncBaseTransport"
    )


def _qualname(exc: BaseException) -> str:
    mod = type(exc).__module__.split(".")[0]
    return f"{mod}.{type(exc).__name__}"


def _is_timeout(exc: BaseException) -> bool:
    # aiohttp's ServerTimeoutError subclasses TimeoutError; httpx's TimeoutException does not.
    return isinstance(exc, (httpx.TimeoutException, asyncio.TimeoutError, TimeoutError))


def map_transport_error(exc: BaseException, *, service: str, endpoint: str) -> APIConnectionError:
    """Our typed error for a transport exception of either transport.

    The message names what went wrong in a few words and never repeats the library's text (which
    can hold a URL); :attr:`APIConnectionError.cause` keeps the original type for diagnostics.
    """
    if isinstance(exc, ReplyTooLarge):
        return APIConnectionError(
            f"reply too large ({exc}): dropped unread",
            service=service,
            endpoint=endpoint,
            cause=_qualname(exc),
        )
    original = exc
    cause = exc.__cause__
    if isinstance(exc, httpx.HTTPError) and isinstance(
        cause, aiohttp.ClientError | asyncio.TimeoutError
    ):
        original = cause  # httpx_aiohttp's mapping hides the real failure; judge by the source
    name = _qualname(original)
    if _is_timeout(original):
        kind = "timed out"
        if isinstance(original, httpx.PoolTimeout):
            kind = "timed out waiting for a free connection"
        elif isinstance(original, (httpx.ConnectTimeout, aiohttp.ConnectionTimeoutError)):
            kind = "timed out connecting"
        elif isinstance(original, (httpx.ReadTimeout, aiohttp.SocketTimeoutError)):
            kind = "timed out waiting for the reply"
        return APITimeoutError(kind, service=service, endpoint=endpoint, cause=name)
    if isinstance(
        original, (httpx.ConnectError, aiohttp.ClientConnectorError, ConnectionRefusedError)
    ):
        kind = "could not connect"
    elif isinstance(
        original,
        (aiohttp.ServerDisconnectedError, ConnectionResetError, aiohttp.ClientPayloadError),
    ):
        kind = "connection closed before a complete reply"
    elif isinstance(
        original, (httpx.RemoteProtocolError, httpx.LocalProtocolError, aiohttp.ClientResponseError)
    ):
        kind = "HTTP protocol error"
    elif isinstance(original, (httpx.ReadError, httpx.WriteError)):
        kind = "connection closed before a complete reply"
    else:
        kind = "connection error"
    return APIConnectionError(kind, service=service, endpoint=endpoint, cause=name)
