"""``PurpleFleaClient``: one connection pool per service base, shared by every agent.

The pools are an ``httpx.AsyncClient`` over the chosen transport per service, or the poll
engine's ``"http1"`` pools (:mod:`pf_tui.api.http1`), made on the client's first request: this
module imports neither aiohttp nor httpx itself (:mod:`pf_tui.api.exchange`).

The client owns the pools, the retry policy, the clock and the latency recorder; per-agent views
(:meth:`PurpleFleaClient.agent`, see :mod:`pf_tui.api.agent`) are cheap and send their key as a
per-request header. Every request goes through :meth:`PurpleFleaClient.send`, the one place where
transport failures, statuses and bodies become typed results or typed errors, and every read
through :meth:`PurpleFleaClient.read`, which adds retries. Writes are sent once: money POSTs are
never retried here (docs/api.md §5).

Every secret the client knows (each agent's keys, added as its view is made, and whatever the
caller passes as ``redactor``: in pf-tui every secret of the config) is masked in everything a
server sends back, whatever the status: an error's body and message, and a 2xx reply that echoes
a key (its strings are scrubbed before the normaliser sees them). The check of a clean reply is
one Aho-Corasick pass over its bytes (:class:`pf_tui.secret.Redactor`).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable, Mapping
from hashlib import blake2b
from time import perf_counter
from types import TracebackType
from typing import TYPE_CHECKING, TypeAlias, TypeVar, cast
from urllib.parse import urlencode

from pf_tui import __version__
from pf_tui.api.bases import SERVICES, ServiceBases
from pf_tui.api.errors import (
    APIStatusError,
    PurpleFleaError,
    ResponseDecodeError,
    is_retryable,
    plain_text,
    status_error_class,
)
from pf_tui.api.exchange import Exchanger, ExchangeTimeout, Target
from pf_tui.api.http1 import build_http1
from pf_tui.api.latency import LatencyRecorder
from pf_tui.api.retry import RetryPolicy, parse_reset_at, parse_retry_after
from pf_tui.api.routes import Endpoint
from pf_tui.clock import SYSTEM_CLOCK, Clock
from pf_tui.secret import Redactor, Secret
from pf_tui.usd import JSON, dumps, loads

if TYPE_CHECKING:
    import httpx

    from pf_tui.api.agent import AgentClient
    from pf_tui.api.transport import TransportSpec

__all__ = ["PurpleFleaClient", "Query", "QueryValue"]

T = TypeVar("T")

QueryValue: TypeAlias = str | int | bool | None
"""One query parameter's value (:func:`_query_value` writes it as httpx would)."""
Query: TypeAlias = Mapping[str, QueryValue]
_QueryKey: TypeAlias = tuple[tuple[str, QueryValue], ...]
_ReplyKey: TypeAlias = tuple[str, str | None, str, _QueryKey, object]
"""The reply cache's slot: route label, agent, path, query and the parser of the reply."""


_MAX_ERROR_BODY = 4096
"""Bytes of an error reply kept on the exception: an HTML page is evidence, not a payload."""
_JSON = {"Content-Type": "application/json"}


def _decode_failure(content: bytes) -> str:
    """A few words on why a 2xx body is not JSON (never the body itself)."""
    head = content.lstrip()[:64].lower()
    if not head:
        return "empty reply body"
    if head.startswith((b"<!doctype", b"<html", b"<")):
        return "reply is an HTML page, not JSON"
    if head.startswith((b"{", b"[")):
        return "reply is malformed or truncated JSON"
    return "reply is not JSON"


def _query_value(value: QueryValue) -> str:
    """A query value as httpx writes it (``true``/``false``, ``""`` for None, else ``str``)."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return "" if value is None else str(value)


_URL_CACHE_MAX = 16_384
"""Parsed absolute URLs kept per client: httpx parses a relative URL twice on every request.
Each agent with an address has a URL of its own (the on-chain balance's query): 4,096 was
cleared over and over at 5,000 agents, and every one parsed again (2% of the engine's CPU)."""
TRANSPORTS = ("aiohttp", "http1", "httpx", "plain")
"""The transports named by a string (see :class:`PurpleFleaClient`)."""
_REPLY_CACHE_MAX = 65536
"""Last reply bodies kept (one per agent, read route and query): a few per agent in a fleet."""


class PurpleFleaClient:
    """The Purple Flea API client: pools, retries, latency samples; agents via :meth:`agent`.

    ``transport`` is ``"aiohttp"`` (default, docs/performance.md), ``"httpx"`` for the plain httpx
    pool, or any ``httpx.AsyncBaseTransport`` (tests: ``ASGITransport``, ``MockTransport``), shared
    then by all service clients. ``timeout`` bounds connect, each read, each write and the wait for
    a pooled connection; a whole exchange is also cut off at ``3 * timeout`` so a server that
    trickles bytes cannot hold a request forever.

    With ``reply_cache`` (default) a read whose reply body is byte for byte the last one of the
    same (route, agent, path, query) returns the model parsed last time, without decoding or
    normalising again: most figures of a fleet do not change between polls, and the models are
    frozen, so sharing them is safe. It keeps a 16-byte BLAKE2b digest of each body, not the body:
    at 5,000 agents the bodies (the ledger's 50 rows, 30-day charts) were over 100 MB.

    ``redactor`` holds secrets to mask in every reply and error besides the agents' keys (which
    :meth:`agent` adds as it makes each view); :func:`pf_tui.wiring.build_client` passes every
    secret of the config.
    """

    def __init__(
        self,
        bases: ServiceBases,
        *,
        timeout: float = 10.0,
        transport: TransportSpec = "aiohttp",
        retry: RetryPolicy | None = None,
        clock: Clock = SYSTEM_CLOCK,
        latency: LatencyRecorder | None = None,
        max_connections: int = 100,
        rng: random.Random | None = None,
        reply_cache: bool = True,
        redactor: Redactor | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.bases = bases
        self.redactor = Redactor()
        """Every secret masked in replies and errors: the agents' keys and the caller's."""
        if redactor is not None:
            self.redactor.extend(redactor)
        self.retry = retry or RetryPolicy()
        self.clock = clock
        self.latency = latency if latency is not None else LatencyRecorder()
        self._rng = rng or random.Random()
        self._deadline = timeout * 3
        headers = {"Accept": "application/json", "User-Agent": f"pf-tui/{__version__}"}
        self._clients: dict[str, httpx.AsyncClient] = {}
        # Services whose pool the client sends through directly, skipping httpx (see send()).
        self._lean: dict[str, Exchanger] = {}
        # The pools are made on the first request: until then no HTTP library is imported
        # (pf_tui/api/exchange.py). A console opens its money client at start to read the
        # journal, and sends nothing through it until the operator acts.
        self._pools_args = (transport, timeout, max_connections, headers)
        self._pools_made = False
        if isinstance(transport, str) and transport not in TRANSPORTS:
            raise ValueError(
                f"unknown transport {transport!r}: use 'aiohttp', 'http1', 'httpx' or an "
                "httpx.AsyncBaseTransport"
            )
        # The same bounds as httpx.Timeout(timeout) on the lean path, plus the whole-exchange cap.
        self._timeout = ExchangeTimeout(total=self._deadline, connect=timeout, sock_read=timeout)
        self._urls: dict[tuple[str, str], httpx.URL] = {}
        self._lean_urls: dict[tuple[str, str, _QueryKey], Target] = {}
        # (route label, agent, path, query, parser) -> the last body's digest and its model
        self._replies: dict[_ReplyKey, tuple[bytes, object]] | None = {} if reply_cache else None
        self._closed = False

    def _make_pools(self) -> None:
        """One pool per service: ``"http1"``'s, or an httpx client over the transport's pool
        (the lean ones noted). Once, on the first request."""
        if self._closed:
            raise RuntimeError("the client is closed")
        transport, timeout, max_connections, headers = self._pools_args
        bases = self.bases
        if transport == "http1":
            # The poll engine's: no aiohttp or httpx until a write or a failure needs them.
            for service in SERVICES:
                self._lean[service] = build_http1(
                    max_connections=max_connections,
                    headers=headers,
                    tls=not bases.url(service).startswith("http://"),
                )
            self._pools_made = True
            return
        import httpx

        from pf_tui.api.transport import LeanAiohttpTransport, NoCookies, build_transport

        for service in SERVICES:
            pool = build_transport(
                transport,
                max_connections=max_connections,
                headers=headers,
                tls=not bases.url(service).startswith("http://"),
            )
            self._clients[service] = httpx.AsyncClient(
                base_url=bases.url(service),
                transport=pool,
                timeout=httpx.Timeout(timeout),
                headers=headers,
                follow_redirects=False,
                trust_env=False,
            )
            self._clients[service]._cookies = NoCookies()
            if isinstance(pool, LeanAiohttpTransport):
                self._lean[service] = pool
        self._pools_made = True

    # --- lifecycle ------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close every pool (idempotent)."""
        if self._closed:
            return
        self._closed = True
        transport = self._pools_args[0]
        if not self._pools_made and not isinstance(transport, str):
            await transport.aclose()  # an injected transport is closed with the client, used or not
            return
        seen: set[int] = set()
        for client in self._clients.values():
            # An injected transport is shared: close it once.
            transport_id = id(client._transport)
            if transport_id in seen:
                continue
            seen.add(transport_id)
            await client.aclose()
        for pool in self._lean.values():
            if id(pool) not in seen:  # a pool with no httpx client over it (``"http1"``)
                seen.add(id(pool))
                await pool.aclose()

    async def __aenter__(self) -> PurpleFleaClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def agent(
        self,
        agent_id: str | None,
        *,
        casino_key: Secret | str | None,
        trading_key: Secret | str | None = None,
        wallet_key: Secret | str | None = None,
    ) -> AgentClient:
        """A view of the client for one agent: its keys, the shared pools (cheap to make)."""
        from pf_tui.api.agent import AgentClient

        return AgentClient(
            self, agent_id, casino_key=casino_key, trading_key=trading_key, wallet_key=wallet_key
        )

    def __repr__(self) -> str:
        return f"PurpleFleaClient(casino={self.bases.casino!r})"

    # --- the one request path -------------------------------------------------------------

    async def send(
        self,
        ep: Endpoint,
        parse: Callable[[JSON], T],
        *,
        path: str | None = None,
        agent_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        params: Query | None = None,
        body: JSON = None,
        secrets: Iterable[Secret] = (),
        url: str | None = None,
    ) -> T:
        """One exchange, no retry: the parsed model, or a :class:`PurpleFleaError`.

        ``path`` is the concrete path (the template with ids filled in), ``url`` an absolute URL
        (health checks), ``body`` JSON (Decimals as numbers); ``secrets`` join the client's
        :attr:`redactor` (masked in every reply and error). Latency and the outcome are recorded
        under ``ep.label``.
        """
        redactor = self.redactor
        if secrets:
            redactor.add(*secrets)
        content = None
        if body is not None:
            content = dumps(body).encode()
            headers = {**headers, **_JSON} if headers else _JSON
        route = path or ep.route
        if not self._pools_made:
            self._make_pools()
        lean = self._lean.get(ep.service)
        started = perf_counter()
        try:
            query = tuple(params.items()) if params else ()
            if lean is not None:
                target = self._lean_url(ep.service, route, query, params) if url is None else url
                status, reply_headers, raw = await lean.exchange(
                    ep.method, target, headers, content, self._timeout
                )
            else:
                from pf_tui.api.transport import read_capped

                async with (
                    asyncio.timeout(self._deadline),
                    self._clients[ep.service].stream(
                        ep.method,
                        self._url(ep.service, route) if url is None else url,
                        params=params,
                        headers=headers,
                        content=content,
                    ) as response,
                ):
                    raw = await read_capped(response)
                status, reply_headers = response.status_code, response.headers
        except Exception as exc:
            # What a transport raises for a failed exchange (aiohttp's, httpx's, OSError...):
            # classified where those libraries are imported, only now that one failed.
            from pf_tui.api.transport import TRANSPORT_ERRORS, map_transport_error

            if not isinstance(exc, TRANSPORT_ERRORS):
                raise
            self.latency.record(ep.label, agent_id, perf_counter() - started, False)
            error = map_transport_error(exc, service=ep.service, endpoint=ep.name)
            error.scrub(redactor)
            raise error from None
        replies = self._replies
        key = None
        digest = b""
        try:
            if not 200 <= status < 300:
                raise self._status_error(ep, status, reply_headers, raw)
            if replies is not None and url is None and ep.method == "GET":
                # The parser is told apart by its code object: the same for every lambda made
                # by one line of source (a new lambda per call must still hit the slot it filled
                # last time), different for two functions.
                key = (ep.label, agent_id, route, query, getattr(parse, "__code__", parse))
                digest = blake2b(raw, digest_size=16).digest()
                last = replies.get(key)
                if last is not None and last[0] == digest:
                    # The same bytes parse to the same model: skip decoding and normalising.
                    self.latency.record(ep.label, agent_id, perf_counter() - started, True)
                    # The key names the route and the parser (the poller keeps a ledger's
                    # escrow moves, the money runner the whole ledger): last[1] is a T.
                    return cast("T", last[1])
            try:
                data = loads(raw)
            except (ValueError, UnicodeDecodeError, RecursionError):
                raise ResponseDecodeError(
                    _decode_failure(raw), service=ep.service, endpoint=ep.name, status=status
                ) from None
            # A 2xx that echoes a secret (raw, or JSON-escaped: any backslash) is scrubbed
            # before the normaliser sees it, so no model, memo or label ever holds one.
            if redactor and (b"\\" in raw or redactor.found_in(raw)):
                data = redactor.scrub_json(data)
            try:
                result = parse(data)
            except ResponseDecodeError as exc:
                exc.service, exc.endpoint, exc.status = ep.service, ep.name, status
                raise
        except PurpleFleaError as exc:
            self.latency.record(ep.label, agent_id, perf_counter() - started, False)
            if replies is not None and key is not None:
                replies.pop(key, None)
            exc.scrub(redactor)
            raise
        if replies is not None and key is not None:
            if len(replies) >= _REPLY_CACHE_MAX:
                replies.clear()  # bounded; refilled within one poll round
            replies[key] = (digest, result)
        self.latency.record(ep.label, agent_id, perf_counter() - started, True)
        return result

    def _lean_url(self, service: str, route: str, query: _QueryKey, params: Query | None) -> Target:
        """The absolute URL of a request on the lean path, parsed once per route and query
        (``query``: ``params`` as the cache keys it)."""
        key = (service, route, query)
        cached = self._lean_urls.get(key)
        if cached is None:
            if len(self._lean_urls) >= _URL_CACHE_MAX:
                self._lean_urls.clear()
            text = self.bases.url(service).rstrip("/") + route
            if params:
                text += "?" + urlencode([(k, _query_value(v)) for k, v in params.items()])
            cached = self._lean_urls[key] = Target(text)
        return cached

    def _url(self, service: str, path: str) -> httpx.URL:
        key = (service, path)
        cached = self._urls.get(key)
        if cached is None:
            if len(self._urls) >= _URL_CACHE_MAX:
                self._urls.clear()  # ids churn slowly; a rebuild is cheap
            base = self._clients[service].base_url
            cached = self._urls[key] = base.copy_with(
                raw_path=base.raw_path.rstrip(b"/") + path.encode("ascii")
            )
        return cached

    def _status_error(
        self,
        ep: Endpoint,
        status: int,
        headers: Mapping[str, str],
        content: bytes,
    ) -> APIStatusError:
        """The typed error for a non-2xx reply, with the server's code and message as plain text.

        The body is scrubbed of every secret before anything is read from it.
        """
        raw = content[:_MAX_ERROR_BODY]
        body: JSON
        try:
            body = loads(raw) if len(content) <= _MAX_ERROR_BODY else None
        except (ValueError, UnicodeDecodeError, RecursionError):
            body = None
        if body is None:
            body = raw.decode("utf-8", "replace")
        body = self.redactor.scrub_json(body)
        code = message = None
        if isinstance(body, dict):
            err = body.get("error")
            if isinstance(err, dict):  # {"error": {"code": ..., "message": ...}}
                code, message = err.get("code") or err.get("type"), err.get("message")
            else:
                code, message = err, body.get("message") or body.get("description")
        code = (
            plain_text(code, 80)
            if isinstance(code, (str, int)) and not isinstance(code, bool)
            else None
        )
        message = plain_text(message) if isinstance(message, str) and message.strip() else None
        now = self.clock.now()
        retry_after = parse_retry_after(headers.get("retry-after"), now)
        if retry_after is None and status == 429 and isinstance(body, dict):
            retry_after = parse_reset_at(body.get("reset_at"), now)
        return status_error_class(status)(
            status,
            code,
            message,
            body,
            service=ep.service,
            endpoint=ep.name,
            retry_after=retry_after,
        )

    async def read(
        self,
        ep: Endpoint,
        parse: Callable[[JSON], T],
        *,
        path: str | None = None,
        agent_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        params: Query | None = None,
        secrets: Iterable[Secret] = (),
    ) -> T:
        """A GET with retries per :attr:`retry` (backoff with full jitter, Retry-After, budget)."""
        policy = self.retry
        attempt = 0
        started = self.clock.monotonic()
        while True:
            try:
                return await self.send(
                    ep,
                    parse,
                    path=path,
                    agent_id=agent_id,
                    headers=headers,
                    params=params,
                    secrets=secrets,
                )
            except PurpleFleaError as exc:
                if attempt + 1 >= policy.max_attempts or not is_retryable(exc):
                    raise
                delay = policy.delay(attempt, getattr(exc, "retry_after", None), self._rng)
                if delay is None or (self.clock.monotonic() - started) + delay > policy.budget:
                    raise
                await self.clock.sleep(delay)
                attempt += 1
