"""The request pipeline every simulator route runs through, as a raw ASGI endpoint.

Order: body read, due jobs run, fault rules "before", the per-IP limiter (production's first check),
idempotency, the handler (which authenticates), fault rules "after", the request log. Replies are
pre-serialised bytes so hot reads can be cached per agent.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, TypedDict, cast

from starlette.types import ASGIApp, Receive, Scope, Send

from pf_tui.sim.model.accounts import Agent
from pf_tui.sim.model.errors import ApiError
from pf_tui.usd import JSON, loads

if TYPE_CHECKING:
    from pf_tui.sim.model.faults import FaultRule
    from pf_tui.sim.model.state import Simulator

log = logging.getLogger("pf_tui.sim")

JSON_TYPE = b"application/json"
HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    b"<body><center><h1>502 Bad Gateway</h1></center><hr><center>cloudflare</center></body></html>"
)
HANG_LIMIT_S = 600.0


class _Unparsable(Enum):
    """The mark of a body that is not JSON (None cannot say it: ``null`` is a JSON body)."""

    BODY = 0


_INVALID = _Unparsable.BODY


class SimulatedReset(Exception):
    """Raised to make the server drop the connection without a complete reply."""


class Reply:
    """Status, body bytes, extra headers."""

    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(
        self,
        status: int,
        body: bytes,
        headers: list[tuple[bytes, bytes]] | None = None,
        content_type: bytes = JSON_TYPE,
    ) -> None:
        self.status = status
        self.body = body
        self.headers = headers or []
        self.content_type = content_type


class Ctx:
    """What a handler sees of one request."""

    __slots__ = (
        "_json",
        "caller",
        "db_fallback",
        "ip",
        "method",
        "params",
        "path",
        "query",
        "raw_body",
        "service",
        "sim",
        "token",
    )

    def __init__(
        self,
        sim: Simulator,
        method: str,
        path: str,
        query: str,
        ip: str,
        token: str | None,
        caller: tuple[Agent, str] | None,
        raw_body: bytes,
        params: dict[str, str],
        service: str,
    ) -> None:
        self.sim = sim
        self.method = method
        self.path = path
        self.query = query
        self.ip = ip
        self.token = token
        self.caller = caller
        self.raw_body = raw_body
        self._json: JSON | _Unparsable = None
        self.params = params
        self.service = service
        self.db_fallback = False

    def body(self, *, invalid: str | None = "invalid_json") -> JSON:
        """The JSON body (``{}`` when empty).

        An unparsable body is a 400 ``invalid``, or ``{}`` when ``invalid`` is None.
        """
        if self._json is None:
            self._json = parse_body(self.raw_body)
        if self._json is _INVALID:
            if invalid is None:
                return {}
            raise ApiError(400, invalid, "the body is not valid JSON")
        return self._json

    def fields(self, *, invalid: str | None = "invalid_json") -> dict[str, JSON]:
        body = self.body(invalid=invalid)
        return body if isinstance(body, dict) else {}

    def arg(self, name: str) -> str | None:
        from urllib.parse import parse_qs

        values = parse_qs(self.query).get(name)
        return values[0] if values else None

    def agent(
        self, kind: str | None, *, missing: str = "unauthorized", unknown: str = "unauthorized"
    ) -> Agent:
        """The caller, authenticated with a key of ``kind`` (any kind when ``None``), else 401."""
        if not self.token:
            raise ApiError(401, missing, "missing Authorization: Bearer <key>")
        if self.caller is None or (kind is not None and self.caller[1] != kind):
            raise ApiError(401, unknown, "unknown API key")
        return self.caller[0]

    def now(self) -> float:
        return self.sim.now()


def parse_body(raw: bytes) -> JSON | _Unparsable:
    if not raw.strip():
        return {}
    try:
        return loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return _INVALID


_dumps_str = json.encoder.encode_basestring  # JSONEncoder(ensure_ascii=False)'s, without its checks
_KEYS: dict[str, str] = {}
"""Object keys as JSON strings: the routes' replies use a few dozen, over and over."""
_KEYS_MAX = 4096


def to_json(obj: JSON) -> str:
    """JSON with ``Decimal`` as a plain number (production's wire form); floats are not money.

    Every reply the simulator builds passes through here (at 10,000 agents a sixth of its CPU),
    so the common types are told apart by ``type`` first; subclasses take the ``isinstance``
    way below.
    """
    kind = type(obj)
    if kind is dict:
        keys = _KEYS
        parts = []
        for k, v in obj.items():
            key = keys.get(k)
            if key is None:
                key = _dumps_str(str(k))
                if type(k) is str and len(keys) < _KEYS_MAX:
                    keys[k] = key
            parts.append(key + ":" + to_json(v))
        return "{" + ",".join(parts) + "}"
    if kind is str:
        return _dumps_str(obj)
    if kind is Decimal:
        return format(obj, "f")
    if kind is list:
        return "[" + ",".join([to_json(v) for v in obj]) + "]"
    return _to_json_other(obj)


def _to_json_other(obj: JSON) -> str:
    if isinstance(obj, str):
        return _dumps_str(obj)
    if isinstance(obj, dict):
        return "{" + ",".join(_dumps_str(str(k)) + ":" + to_json(v) for k, v in obj.items()) + "}"
    if isinstance(obj, (list, tuple)):
        return "[" + ",".join(to_json(v) for v in obj) + "]"
    if isinstance(obj, Decimal):
        return format(obj, "f")
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if obj is None:
        return "null"
    if isinstance(obj, (int, float)):
        return json.dumps(obj)
    raise TypeError(f"cannot encode {type(obj).__name__} as JSON")


def encode(
    status: int, obj: JSON, service: str | None, headers: list[tuple[bytes, bytes]] | None = None
) -> Reply:
    """JSON reply; an object gets the ``_info`` object every production reply carries."""
    if service is not None and isinstance(obj, dict) and "_info" not in obj:
        obj = {**obj, "_info": {"service": service, "simulated": True, "version": "sim-1"}}
    return Reply(status, to_json(obj).encode(), headers)


Handler = Callable[[Ctx], "Reply | dict[str, JSON]"]


class Knobs(TypedDict, total=False):
    """The pipeline switches of one route (:class:`Endpoint`'s keyword arguments but ``limit``,
    which routes set one by one where they share the rest)."""

    idempotent: bool
    classic: bool
    docs_limits: bool
    controls: bool
    bad_json: str


class Endpoint:
    """One route: handlers by method plus the pipeline knobs of that route."""

    def __init__(
        self,
        sim: Simulator,
        service: str | None,
        handlers: dict[str, Handler],
        *,
        limit: str | None = None,
        idempotent: bool = False,
        classic: bool = False,
        docs_limits: bool = False,
        controls: bool = False,
        bad_json: str = "invalid_json",
    ) -> None:
        self.sim = sim
        self.service = service
        self.handlers = handlers
        self.limit = limit
        self.idempotent = idempotent
        self.classic = classic
        self.docs_limits = docs_limits
        self.controls = controls
        self.bad_json = bad_json
        self.exact_paths: dict[str, Endpoint] | None = None
        """Where this endpoint records the paths that reach it (:class:`ExactPaths`)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.exact_paths is not None and not scope.get("path_params"):
            # Reached by a path with no parameters: the next request for it skips the router.
            self.exact_paths.setdefault(scope["path"], self)
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        raw = b"".join(chunks)
        sim = self.sim
        method = scope["method"]
        if not sim.faults.rules and (method != "POST" or not self.idempotent):
            # No fault rule can fire and no idempotency key can guard it: the plain pipeline.
            await _send(send, self.respond(scope, raw))
            return
        path = scope["path"]
        if self.controls:
            reply = self._run(self._ctx(scope, method, path, raw, None, None))
            await _send(send, reply)
            return
        sim.tick()
        token, ip, key = _caller_headers(scope)
        caller = sim.accounts.lookup(token) if token else None
        agent = caller[0] if caller else None
        ctx = self._ctx(scope, method, path, raw, token, caller, ip)
        fired = sim.faults.fired(path, method) if sim.faults.rules else []
        before = [r for r in fired if r.when == "before"]
        after = [r for r in fired if r.when == "after"]
        ctx.db_fallback = any(r.kind == "db_fallback" for r in fired)

        for rule in before:
            if rule.kind == "latency":
                await asyncio.sleep(_delay(sim, rule))
            elif rule.kind != "db_fallback":
                sim.log_request(method, path, agent, ip, key, _fault_status(rule), False, rule.kind)
                await self._fault(rule, None, receive, send)
                return

        limited = self._limited(method, path, agent, ip, key)
        if limited is not None:
            await _send(send, limited)
            return

        scope_key = None
        if (
            key
            and method == "POST"
            and self.idempotent
            and (not self.classic or sim.idempotency_on_classic)
        ):
            parsed = parse_body(raw)
            compare = raw if parsed is _INVALID else parsed
            scope_key = (token or "", method, path, key)
            verdict, stored = sim.idempotency.begin(scope_key, compare)
            if verdict != "run":
                if verdict == "replay":
                    # Only this pipeline stores replies there, and it stores Replies.
                    reply = cast("Reply", stored)
                elif verdict == "mismatch":
                    reply = encode(
                        422,
                        {
                            "error": "idempotency_mismatch",
                            "message": "this Idempotency-Key was used with another body",
                        },
                        self.service,
                    )
                else:
                    reply = encode(
                        409,
                        {
                            "error": "idempotency_in_flight",
                            "message": "a request with this Idempotency-Key is still running",
                        },
                        self.service,
                    )
                sim.log_request(method, path, agent, ip, key, reply.status, False, None)
                await _send(send, reply)
                return
        produced: Reply | None = None
        try:
            reply = produced = self._run(ctx)
            agent = agent or (ctx.caller[0] if ctx.caller else None)
            fault = None
            for rule in after:
                if rule.kind == "latency":
                    await asyncio.sleep(_delay(sim, rule))
                elif rule.kind != "db_fallback":
                    fault = rule
                    break
            if scope_key is not None:
                # Stored after "after" latency: a duplicate meanwhile sees the first still running.
                sim.idempotency.finish(scope_key, reply)
                scope_key = None
            if fault is None:
                sim.log_request(method, path, agent, ip, key, reply.status, True, None)
                await _send(send, reply)
            else:
                sim.log_request(
                    method, path, agent, ip, key, _fault_status(fault, reply), True, fault.kind
                )
                await self._fault(fault, reply, receive, send)
        finally:
            if scope_key is not None:
                if produced is not None:
                    # Executed, and the wait after it was cut short: keep the reply.
                    sim.idempotency.finish(scope_key, produced)
                else:
                    sim.idempotency.abandon(scope_key)

    def respond(self, scope: Scope, raw: bytes) -> Reply:
        """The reply to a request that no fault rule touches and no idempotency key guards,
        made without waiting: the pipeline of :meth:`__call__` for that case. The simulator's
        HTTP protocol calls it straight from the parser for a plain ``GET`` of a known path
        (:mod:`pf_tui.sim.http.protocol`), so it must stay synchronous."""
        sim = self.sim
        method = scope["method"]
        path = scope["path"]
        if self.controls:
            return self._run(self._ctx(scope, method, path, raw, None, None))
        sim.tick()
        token, ip, key = _caller_headers(scope)
        caller = sim.accounts.lookup(token) if token else None
        agent = caller[0] if caller else None
        limited = self._limited(method, path, agent, ip, key)
        if limited is not None:
            return limited
        ctx = self._ctx(scope, method, path, raw, token, caller, ip)
        reply = self._run(ctx)
        agent = agent or (ctx.caller[0] if ctx.caller else None)
        sim.log_request(method, path, agent, ip, key, reply.status, True, None)
        return reply

    def _limited(
        self, method: str, path: str, agent: Agent | None, ip: str, key: str | None
    ) -> Reply | None:
        """The 429 of this route's rate limit, logged, when ``ip`` has spent it; else None."""
        sim = self.sim
        if self.limit is None or not sim.limiter.hit(self.limit, path, ip, sim.now()):
            return None
        headers = []
        if self.docs_limits:
            wait = int(sim.limiter.window_end(sim.now()) - sim.now()) + 1
            headers.append((b"retry-after", str(wait).encode()))
        reply = encode(
            429,
            {"error": "rate_limited", "message": "Too many requests, slow down"},
            self.service,
            headers,
        )
        sim.log_request(method, path, agent, ip, key, 429, False, None)
        return reply

    def _ctx(
        self,
        scope: Scope,
        method: str,
        path: str,
        raw: bytes,
        token: str | None,
        caller: tuple[Agent, str] | None,
        ip: str = "127.0.0.1",
    ) -> Ctx:
        query = scope.get("query_string", b"").decode("latin-1")
        return Ctx(
            self.sim,
            method,
            path,
            query,
            ip,
            token,
            caller,
            raw,
            scope.get("path_params", {}),
            self.service or "",
        )

    def _run(self, ctx: Ctx) -> Reply:
        handler = self.handlers.get(ctx.method)
        try:
            if handler is None:
                raise ApiError(405, "method_not_allowed", f"{ctx.method} is not allowed here")
            result = handler(ctx)
            if isinstance(result, Reply):
                return result
            return encode(200, result, self.service)
        except ApiError as exc:
            return encode(exc.status, exc.body(), self.service)
        except Exception:  # the contract's 500 internal_error, with the traceback in the server log
            log.exception("unhandled error in %s %s", ctx.method, ctx.path)
            return encode(
                500, {"error": "internal_error", "message": "internal error"}, self.service
            )

    async def _fault(
        self, rule: FaultRule, reply: Reply | None, receive: Receive, send: Send
    ) -> None:
        kind = rule.kind
        if kind == "reset":
            # Start a reply, send a fragment and fail: the server then drops the connection.
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", JSON_TYPE), (b"content-length", b"64")],
                }
            )
            await send({"type": "http.response.body", "body": b'{"', "more_body": True})
            raise SimulatedReset("fault rule: reset the connection")
        if kind == "hang":

            async def until_disconnect() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass

            try:
                await asyncio.wait_for(until_disconnect(), HANG_LIMIT_S)
            except TimeoutError:
                pass
            return
        if kind == "error":
            status = rule.status or 503
            if rule.body is not None:
                out = Reply(status, rule.body.encode(), content_type=b"text/plain; charset=utf-8")
            else:
                out = encode(
                    status,
                    {"error": "service_unavailable", "message": "injected fault"},
                    self.service,
                )
        elif kind == "rate_limit":
            headers = []
            if rule.retry_after_s is not None:
                headers.append((b"retry-after", _seconds(rule.retry_after_s)))
            out = encode(
                rule.status or 429,
                {"error": "rate_limited", "message": "Too many requests"},
                self.service,
                headers,
            )
        elif kind == "html":
            body = rule.body.encode() if rule.body is not None else HTML_PAGE
            out = Reply(rule.status or 502, body, content_type=b"text/html; charset=utf-8")
        elif kind == "empty":
            out = Reply(200, b"{}")
        elif kind == "malformed":
            out = Reply(
                reply.status if reply else 200,
                b'{"error": "internal_error", "message": "unterminated',
            )
        else:  # truncate: a complete HTTP reply whose JSON body is cut in half
            whole = (
                reply.body
                if reply is not None
                else encode(200, {"status": "ok"}, self.service).body
            )
            out = Reply(reply.status if reply else 200, whole[: len(whole) // 2])
        await _send(send, out)


def _seconds(value: float) -> bytes:
    return str(int(value) if float(value).is_integer() else value).encode()


def _delay(sim: Simulator, rule: FaultRule) -> float:
    jitter = sim.faults.rng.uniform(0, rule.jitter_ms) if rule.jitter_ms else 0.0
    return (rule.latency_ms + jitter) / 1000.0


def _fault_status(rule: FaultRule, reply: Reply | None = None) -> int:
    return {
        "error": rule.status or 503,
        "rate_limit": rule.status or 429,
        "html": rule.status or 502,
        "empty": 200,
        "reset": 0,
        "hang": 0,
    }.get(rule.kind, reply.status if reply else 200)


def _caller_headers(scope: Scope) -> tuple[str | None, str, str | None]:
    """The bearer token, the client's IP (``X-Forwarded-For``, ``X-Real-IP``, the peer) and the
    ``Idempotency-Key`` of a request."""
    xff = real = token = key = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            text = value.decode("latin-1")
            if text[:7].lower() == "bearer ":
                token = text[7:].strip()
        elif name == b"x-forwarded-for":
            xff = value.decode("latin-1").split(",")[0].strip() or None
        elif name == b"x-real-ip":
            real = value.decode("latin-1").strip() or None
        elif name == b"idempotency-key":
            key = value.decode("latin-1")
    client = scope.get("client")
    return token, xff or real or (client[0] if client else "127.0.0.1"), key


async def _send(send: Send, reply: Reply) -> None:
    headers = [
        (b"content-type", reply.content_type),
        (b"content-length", str(len(reply.body)).encode()),
        *reply.headers,
    ]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})


class ExactPaths:
    """ASGI middleware: a request for a path the router resolved before goes straight to its
    endpoint.

    Starlette matches a request against every mount and route in order (regular expressions,
    a child scope per mount): about an eighth of the simulator's CPU at fleet scale, for ~15
    distinct paths that every agent asks for (keys travel in headers, not in paths). An endpoint
    records each path without parameters that reached it (``Endpoint.exact_paths``); what the
    router resolved once it resolves the same way again, so later requests for that path skip
    it. Paths with parameters (escrow ids) and the catch-all 404s always go through the router.
    """

    def __init__(self, app: ASGIApp, paths: dict[str, Endpoint]) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            endpoint = self.paths.get(scope["path"])
            if endpoint is not None:
                await endpoint(scope, receive, send)
                return
        await self.app(scope, receive, send)
