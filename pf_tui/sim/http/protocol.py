"""uvicorn's httptools protocol, answering the simulator's plain reads from the parser.

For each request uvicorn makes a request-response cycle, an event and a task; the reply then
passes through Starlette, its error middleware and the ASGI messages, and leaves in two writes
(the head when the application starts the reply, the body when it comes: two ``send`` system
calls, two TCP segments, often two wake-ups and two reads on the client's side). Profiled at
10,000 agents, that machinery and those writes were over half of the simulator's CPU
(docs/performance.md, "Goals 1 and 2, night").

:class:`SimProtocol` answers a ``GET`` of a path the router already resolved to a pipeline
endpoint (:class:`~pf_tui.sim.http.pipeline.ExactPaths`), with no body, on a kept-alive HTTP/1.1
connection with nothing else in flight or waiting to be written, while no fault rule is set,
when the parser completes it: :meth:`Endpoint.respond
<pf_tui.sim.http.pipeline.Endpoint.respond>` is the pipeline's own synchronous path for such a
request, and the reply is written whole, in one write, as uvicorn would write it (its date and
server headers first). Every other request takes uvicorn's way, untouched.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

if TYPE_CHECKING:
    from pf_tui.sim.http.pipeline import Endpoint, Reply

log = logging.getLogger("pf_tui.sim")

_INTERNAL_ERROR = b"Internal Server Error"


class SimProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, answering plain reads from the parser (see the module)."""

    _quick: Endpoint | None = None
    _refused = False
    """Set once this connection answered 500 and closed: nothing after that is served."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # ``create_app`` leaves the router's resolved paths on the app's state (a wrapped app,
        # or another app, has none: then every request takes uvicorn's way).
        self._exact: dict[str, Endpoint] | None = getattr(
            getattr(self.app, "state", None), "exact_paths", None
        )

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        exact = self._exact
        if exact is not None:
            endpoint = self._plain_read(exact)
            if endpoint is not None:
                self._quick = endpoint
                return
        # A plain read just answered on this connection armed uvicorn's keep-alive timer; a
        # request served uvicorn's way must not run with it armed (uvicorn's own requests never
        # do: it disarms the timer when data arrives and arms it when nothing is left).
        self._unset_keepalive_if_required()
        super().on_headers_complete()

    def _plain_read(self, exact: dict[str, Endpoint]) -> Endpoint | None:
        """The endpoint that answers this request from the parser, or None for uvicorn's way."""
        parser = self.parser
        if (
            parser.get_method() != b"GET"
            or parser.get_http_version() != "1.1"
            or not parser.should_keep_alive()
            or parser.should_upgrade()
            or self.expect_100_continue
            or self.flow.write_paused
            or (self.cycle is not None and not self.cycle.response_complete)
            or self.transport.is_closing()
        ):
            return None
        url = httptools.parse_url(self.url)
        raw_path = url.path
        if b"%" in raw_path:
            return None
        path = raw_path.decode("ascii")
        endpoint = exact.get(path)
        if endpoint is None or endpoint.sim.faults.rules:
            return None
        for name, _ in self.headers:
            if name in (b"content-length", b"transfer-encoding"):
                return None
        scope = self.scope
        scope["method"] = "GET"
        scope["path"] = path
        scope["raw_path"] = raw_path
        scope["query_string"] = url.query or b""
        return endpoint

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        endpoint = self._quick
        if endpoint is None:
            super().on_message_complete()
            return
        self._quick = None
        try:
            data = self._reply_bytes(endpoint.respond(self.scope, b""))  # type: ignore[arg-type]
        except Exception:  # as uvicorn answers an application's error: 500, then close
            log.exception("unhandled error in GET %s", self.scope["path"])
            self._refused = True
            head = self._head(
                500, b"text/plain; charset=utf-8", len(_INTERNAL_ERROR), [(b"connection", b"close")]
            )
            self.transport.write(head + _INTERNAL_ERROR)
            self.transport.close()
            return
        self.transport.write(data)
        self.on_response_complete()

    def _head(
        self, status: int, content_type: bytes, length: int, extra: list[tuple[bytes, bytes]]
    ) -> bytes:
        parts = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            parts += (name, b": ", value, b"\r\n")
        parts += (b"content-type: ", content_type, b"\r\ncontent-length: ")
        parts += (str(length).encode(), b"\r\n")
        for name, value in extra:
            parts += (name, b": ", value, b"\r\n")
        parts.append(b"\r\n")
        return b"".join(parts)

    def _reply_bytes(self, reply: Reply) -> bytes:
        body = reply.body
        return self._head(reply.status, reply.content_type, len(body), reply.headers) + body


__all__ = ["SimProtocol"]
