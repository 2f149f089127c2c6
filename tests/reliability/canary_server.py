"""A hostile Purple Flea (and Telegram, webhook and dead-man endpoint) that fails and echoes.

Every route answers with what it was sent, the way careless servers do: the caller's key in a
200 reply (a memo, a pair name, an amount field the client cannot decode), in error bodies of
every status, another agent's key too, the request path (a webhook's token) on a 404, and the
headers as JSON on anything unexpected. What pf-tui *sends* to these endpoints is recorded, so a
test can check that no payload carries a secret either.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.daemon.helpers import free_port


@dataclass
class Echo:
    """The running server: its base URL and what notification endpoints were sent."""

    url: str = ""
    other_key: str = ""
    """Another agent's key, echoed in replies to every agent."""
    payloads: list[str] = field(default_factory=list)
    """Bodies pf-tui POSTed to the webhook and Telegram (its own outgoing payloads)."""
    lock: threading.Lock = field(default_factory=threading.Lock)


def _stream(memo: str) -> dict[str, object]:
    return {
        "escrow_id": "esc_00000000000000aa",
        "status": "locked",
        "amount": "5.00",
        "released": "0.00",
        "remaining": "5.00",
        "to_agent_id": "ag_0000000000b2",
        "from_agent_id": "ag_0000000000b1",
        "memo": memo,
        "created_at": "2026-01-01T00:00:00Z",
        "auto_release_at": "2026-01-02T00:00:00Z",
    }


def _app(echo: Echo) -> Starlette:
    async def handle(request: Request) -> Response:
        path = request.url.path
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        other = echo.other_key
        encoded = base64.b64encode(bearer.encode()).decode()
        loud = f"{bearer} | {other} | {quote(bearer, safe='')} | {encoded}"
        if path.startswith(("/hook", "/telegram")):
            body = (await request.body()).decode("utf-8", "replace")
            with echo.lock:  # never held across an await: it would block the server's loop
                echo.payloads.append(body)
        if path.startswith("/hook"):
            return PlainTextResponse(f"Cannot POST {path}?{request.url.query}", status_code=404)
        if path.startswith("/telegram"):
            return JSONResponse(
                {
                    "ok": False,
                    "error_code": 400,
                    "description": f"Bad Request: chat not found {path}",
                },
                status_code=400,
            )
        if path.startswith("/deadman"):
            return PlainTextResponse(f"no check at {path}", status_code=500)
        if path.endswith("/auth/balance"):
            return JSONResponse({"agent_id": "ag_0000000000b1", "balance_usd": bearer})
        if path.endswith("/stats/me"):
            return JSONResponse({"error": "internal_error", "message": loud}, status_code=500)
        if path.endswith("/trade/positions"):
            item = {
                "position_id": "pos_1",
                "coin": bearer,
                "side": "long",
                "size_usd": 10,
                "entry_price": 1,
                "current_price": 1,
                "leverage": 1,
                "unrealized_pnl": 0,
            }
            return JSONResponse({"positions": [item], "count": 1, "source": "hyperliquid"})
        if path.endswith("/trade/pnl-history"):
            return PlainTextResponse(f"Unauthorized: Bearer {bearer}", status_code=401)
        if path.endswith("/api/v1/escrows"):
            return JSONResponse({"escrows": [_stream(f"{bearer} {other}")]})
        if "/referral" in path:
            return JSONResponse({"error": "rate_limited", "message": loud}, status_code=429)
        if path.startswith("/wallet"):
            return JSONResponse({"total_usd": bearer, "balances": []})
        return JSONResponse(
            {"error": "not_found", "headers": dict(request.headers)}, status_code=404
        )

    return Starlette(
        routes=[Route("/{rest:path}", handle, methods=["GET", "POST", "PUT", "DELETE"])]
    )


@contextmanager
def echo_server(other_key: str) -> Iterator[Echo]:
    """Serve the hostile server on 127.0.0.1 for the duration of the block."""
    import uvicorn

    echo = Echo(other_key=other_key)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(_app(echo), host="127.0.0.1", port=port, log_level="error", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    echo.url = f"http://127.0.0.1:{port}"
    try:
        yield echo
    finally:
        server.should_exit = True
        thread.join(timeout=5)


def dumps(value: object) -> str:
    return json.dumps(value)
