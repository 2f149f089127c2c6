"""The ``pf-tui serve`` web server: textual-serve's app runner behind a token, an Origin check and
a session limit.

Routes: ``/`` (the page; ``?token=`` signs in and redirects to drop it), ``POST /login`` (the same
from a form), ``/ws`` (one console per WebSocket), ``/static/`` (textual-serve's own scripts,
styles and fonts). Every route but the sign-in answers 401 without the session cookie. Every
response forbids framing (a page cannot overlay the console and steer clicks) and caching.

Each WebSocket starts its own ``pf-tui`` process, so each browser tab is a full poller: at most
``max_sessions`` run at once (default :data:`DEFAULT_MAX_SESSIONS`); one more gets a line saying
so in its terminal and is closed. The console runs ``--read-only`` unless the server was started
with ``--write``.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
import shlex
import sys
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import TextIO
from urllib.parse import urlencode, urlsplit

from aiohttp import WSMsgType, web
from aiohttp.typedefs import Handler
from textual_serve.app_service import AppService
from textual_serve.download_manager import DownloadManager

from pf_tui.secret import Secret
from pf_tui.serve.auth import COOKIE, TOKEN_ENV, cookie_value, origin_of, valid_cookie, valid_token

__all__ = [
    "DEFAULT_MAX_SESSIONS",
    "MAX_SESSIONS",
    "ServeOptions",
    "build_app",
    "child_command",
    "serve_forever",
]

log = logging.getLogger("pf_tui.serve")

DEFAULT_MAX_SESSIONS = 2
"""Browser sessions at once by default: each one is a console polling the whole fleet."""
MAX_SESSIONS = 16
CHILD_EXIT_S = 10.0
"""How long a console may take to exit after its browser tab closed."""
WS_CLOSE_TRY_AGAIN = 1013
"""WebSocket close code "try again later" (RFC 6455 registry), for a session over the limit."""
_STATIC = Path(str(files("textual_serve") / "static"))
_TEMPLATE = Path(str(files("textual_serve") / "templates" / "app_index.html"))
_KEY: web.AppKey[ServeState] = web.AppKey("pf_tui_serve")


@dataclass(frozen=True)
class ServeOptions:
    """How ``pf-tui serve`` runs: where, for whom, which console, how many at once."""

    token: Secret
    command: tuple[str, ...]
    """The console's command line (see :func:`child_command`)."""
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""
    """The URL the browser uses (default ``http://host:port``); WebSocket Origins must match it."""
    max_sessions: int = DEFAULT_MAX_SESSIONS
    write: bool = False
    """Whether the consoles may move money (the command then lacks ``--read-only``)."""
    title: str = "pf-tui"

    @property
    def url(self) -> str:
        """The public URL, without a trailing slash."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


@dataclass
class ServeState:
    """The server's live state: sessions running now."""

    options: ServeOptions
    page: str
    """textual-serve's page, less its third-party web font: the console must work offline and
    tell no one it is open (the fonts ship in /static)."""
    sessions: set[AppService] = field(default_factory=set)
    downloads: DownloadManager = field(default_factory=DownloadManager)


def child_command(
    *,
    config: Path | None,
    demo: bool,
    agents: int = 8,
    seed: int = 42,
    write: bool = False,
) -> tuple[str, ...]:
    """The console each session runs: this Python's ``pf-tui``, read-only unless ``write``."""
    cmd = [sys.executable, "-m", "pf_tui"]
    if demo:
        cmd += ["--demo", "--agents", str(agents), "--seed", str(seed)]
    elif config is not None:
        cmd += ["--config", str(config)]
    if not write:
        cmd.append("--read-only")
    return tuple(cmd)


class _Session(AppService):
    """textual-serve's app runner, with the token kept out of the console's environment, and a
    stop that waits for the console to exit (it closes its store and journal on the way out)."""

    async def stop(self) -> None:
        await super().stop()
        process = self._process
        if process is None or process.returncode is not None:
            return
        try:
            await asyncio.wait_for(process.wait(), CHILD_EXIT_S)
        except TimeoutError:
            log.warning("a console did not exit in %.0f s; killing it", CHILD_EXIT_S)
            process.kill()
            await process.wait()

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        environment = super()._build_environment(width, height)
        environment.pop(TOKEN_ENV, None)
        return environment


# ---- the guard ---------------------------------------------------------------------------------

_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _csp(options: ServeOptions) -> str:
    ws = "wss" if options.url.startswith("https") else "ws"
    origin = origin_of(options.url)
    return (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline';"
        f" img-src 'self' data:; font-src 'self'; connect-src 'self' {ws}://{origin.split('://')[1]};"
        " frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )


def _refused(status: int, message: str) -> web.Response:
    page = (
        "<!DOCTYPE html><html><head><title>pf-tui</title></head><body>"
        f"<p>{html.escape(message)}</p>"
        '<form method="post" action="/login"><label>Access token '
        '<input name="token" type="password" autocomplete="off" autofocus></label> '
        '<button type="submit">Sign in</button></form></body></html>'
    )
    return web.Response(status=status, text=page, content_type="text/html")


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[_KEY]
    options = state.options
    try:
        if request.path == "/login" and request.method == "POST":
            response = await _login(request, state)
        elif "token" in request.query:
            response = _sign_in(request, state, request.query.get("token"))
        elif not valid_cookie(options.token, request.cookies.get(COOKIE)):
            response = _refused(401, "pf-tui serve: sign in with the link printed at start.")
        else:
            response = await handler(request)
    except web.HTTPException as exc:
        response = exc
    if not response.prepared:
        response.headers.update(_HEADERS)
        response.headers["Content-Security-Policy"] = _csp(options)
    return response


def _set_cookie(response: web.StreamResponse, state: ServeState) -> None:
    options = state.options
    response.set_cookie(
        COOKIE,
        cookie_value(options.token),
        httponly=True,
        samesite="Strict",
        secure=options.url.startswith("https"),
        path="/",
    )


def _sign_in(request: web.Request, state: ServeState, token: str | None) -> web.StreamResponse:
    if not valid_token(state.options.token, token):
        log.warning("sign-in refused: wrong token", extra={"peer": request.remote})
        return _refused(401, "pf-tui serve: that token is not the one this server was given.")
    query = {k: v for k, v in request.query.items() if k != "token"}
    # A redirect drops the token from the address bar and the history.
    target = request.path + ("?" + urlencode(query) if query else "")
    response = web.Response(status=303, headers={"Location": target})
    _set_cookie(response, state)
    return response


async def _login(request: web.Request, state: ServeState) -> web.StreamResponse:
    origin = request.headers.get("Origin")
    if origin is not None and origin != origin_of(state.options.url):
        return web.Response(status=403, text="pf-tui serve: sign-in from another site refused")
    form = await request.post()
    token = form.get("token")
    if not isinstance(token, str) or not valid_token(state.options.token, token):
        return _refused(401, "pf-tui serve: that token is not the one this server was given.")
    response = web.Response(status=303, headers={"Location": "/"})
    _set_cookie(response, state)
    return response


# ---- the routes --------------------------------------------------------------------------------


async def _index(request: web.Request) -> web.Response:
    options = request.app[_KEY].options
    ws = ("wss:" if options.url.startswith("https") else "ws:") + options.url.split(":", 1)[1]
    try:
        font_size = max(8, min(32, int(request.query.get("fontsize", "16"))))
    except ValueError:
        font_size = 16
    page = request.app[_KEY].page
    for placeholder, value in (
        ("{{ config.static.url }}", "/static/"),
        ("{{ app_websocket_url }}", ws + "/ws"),
        ("{{ font_size }}", str(font_size)),
        ("{{ ping_url }}", ""),
        ("{{ application.name or 'Textual Application' }}", options.title),
    ):
        page = page.replace(placeholder, html.escape(value))
    return web.Response(text=page, content_type="text/html")


async def _websocket(request: web.Request) -> web.StreamResponse:
    state = request.app[_KEY]
    options = state.options
    origin = request.headers.get("Origin")
    if origin != origin_of(options.url):
        log.warning("websocket refused: origin %s", origin)
        return web.Response(status=403, text="pf-tui serve: WebSocket from another origin refused")
    websocket = web.WebSocketResponse(heartbeat=15)
    await websocket.prepare(request)
    if len(state.sessions) >= options.max_sessions:
        text = (
            f"\r\n pf-tui serve: {len(state.sessions)} browser sessions are open, the limit"
            f" (--max-sessions {options.max_sessions}): each one is a console polling the whole"
            " fleet. Close one and reload this page.\r\n"
        )
        await websocket.send_bytes(text.encode())
        await websocket.close(code=WS_CLOSE_TRY_AGAIN, message=b"session limit")
        return websocket
    width = _int(request.query.get("width"), 80)
    height = _int(request.query.get("height"), 24)

    async def close() -> None:
        await websocket.close()

    service = _Session(
        shlex.join(options.command),
        write_bytes=websocket.send_bytes,
        write_str=websocket.send_str,
        close=close,
        download_manager=state.downloads,
    )
    state.sessions.add(service)
    log.info("session started", extra={"sessions": len(state.sessions)})
    try:
        await service.start(width, height)
        async for message in websocket:
            if message.type != WSMsgType.TEXT:
                continue
            await _relay(websocket, service, message.data)
    finally:
        state.sessions.discard(service)
        await service.stop()
        log.info("session ended", extra={"sessions": len(state.sessions)})
    return websocket


async def _relay(websocket: web.WebSocketResponse, service: AppService, data: str) -> None:
    try:
        envelope = json.loads(data)
    except ValueError:
        return
    if not isinstance(envelope, list) or not envelope:
        return
    kind, payload = envelope[0], envelope[1] if len(envelope) > 1 else None
    if kind == "stdin" and isinstance(payload, str):
        await service.send_bytes(payload.encode("utf-8"))
    elif kind == "resize" and isinstance(payload, dict):
        await service.set_terminal_size(
            _int(payload.get("width"), 80), _int(payload.get("height"), 24)
        )
    elif kind == "ping":
        await websocket.send_json(["pong", payload])
    elif kind == "blur":
        await service.blur()
    elif kind == "focus":
        await service.focus()


def _int(value: object, default: int) -> int:
    try:
        return max(1, min(1000, int(str(value))))
    except ValueError:
        return default


async def _stop_sessions(app: web.Application) -> None:
    state = app[_KEY]
    await asyncio.gather(*(s.stop() for s in list(state.sessions)), return_exceptions=True)


def build_app(options: ServeOptions) -> web.Application:
    """The aiohttp application for ``options`` (tests run it on a free loopback port)."""
    if not 1 <= options.max_sessions <= MAX_SESSIONS:
        raise ValueError(f"max_sessions must be 1..{MAX_SESSIONS}")
    if urlsplit(options.url).scheme not in ("http", "https"):
        raise ValueError("the public URL must be http(s)")
    app = web.Application(middlewares=[_guard])
    page = _TEMPLATE.read_text(encoding="utf-8")
    page = re.sub(r"<link[^>]*fonts\.googleapis\.com[^>]*>", "", page, flags=re.S)
    app[_KEY] = ServeState(options, page)
    app.add_routes(
        [
            web.get("/", _index),
            web.post("/login", _index),  # answered by the guard
            web.get("/ws", _websocket),
            web.static("/static", _STATIC, show_index=False),
        ]
    )
    app.on_shutdown.append(_stop_sessions)
    return app


def serve_forever(options: ServeOptions, *, generated: bool, out: TextIO) -> int:
    """Run until Ctrl-C or SIGTERM; print where to sign in (the token only if generated here)."""
    app = build_app(options)
    link = options.url + "/"
    if generated:
        # The one time the token is shown: the operator needs it, and it is theirs.
        link += "?" + urlencode({"token": options.token.reveal()})
    mode = (
        "money actions ON (--write)" if options.write else "read-only (start with --write to act)"
    )
    print(
        f"pf-tui serve on {options.url}  [{mode}; at most {options.max_sessions} sessions]",
        file=out,
    )
    if generated:
        print(f"sign in (this link holds the access token, shown only now): {link}", file=out)
    else:
        print(f"sign in at {link} with the token from {options.token.source}", file=out)
    out.flush()
    # access_log=None: aiohttp's access log would write the sign-in URL, token and all.
    web.run_app(app, host=options.host, port=options.port, access_log=None, print=None)
    return 0
