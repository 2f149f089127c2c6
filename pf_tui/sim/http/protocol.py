"""uvicorn's httptools protocol, made cheaper for the simulator's hot reads.

**One write a reply.** uvicorn writes a reply's status line and headers as soon as the
application starts the reply, and its body when the body comes: two ``send`` system calls for
every reply, two TCP segments, and on the client's side often two wake-ups and two reads.
Profiled at 10,000 agents, those two writes were 30% of the simulator's samples
(docs/performance.md, "Goals 1 and 2, night"). :class:`OneWriteTransport` holds the
first write and sends it with the next one. Whatever is still held when the loop comes round (a
reply that waits between its head and its body) goes out then, so nothing waits longer than the
rest of the current callback; ``close`` sends what is held first, and ``abort`` drops it, as it
drops the transport's own buffer.

**Plain reads answered from the parser.** For each request uvicorn makes a request-response
cycle, an event and a task, and the reply then passes through Starlette, its error middleware
and the ASGI messages: at 10,000 agents that machinery cost about as much as the simulator's own
work. A ``GET`` of a path the router already resolved to a pipeline endpoint
(:class:`~pf_tui.sim.http.pipeline.ExactPaths`), with no body, on a kept-alive HTTP/1.1
connection with nothing else in flight, while no fault rule is set, is answered when the parser
completes it: :meth:`Endpoint.respond <pf_tui.sim.http.pipeline.Endpoint.respond>` is the
pipeline's own synchronous path for such a request, and the reply is written as uvicorn would
write it (its date and server headers first). Every other request takes uvicorn's way.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

if TYPE_CHECKING:
    from pf_tui.sim.http.pipeline import Endpoint

log = logging.getLogger("pf_tui.sim")

_INTERNAL_ERROR = (
    STATUS_LINE[500] + b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: 21\r\nconnection: close\r\n\r\nInternal Server Error"
)


class OneWriteTransport:
    """A transport's stand-in that joins a write with the one after it (see the module)."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is None:
            self._held = bytes(data)
            self._loop.call_soon(self.flush)
            return
        self._held = None
        self._transport.write(held + data)

    def write_now(self, data: bytes) -> None:
        """Send ``data`` now, after anything held."""
        held = self._held
        if held is not None:
            self._held = None
            data = held + data
        self._transport.write(data)

    def flush(self) -> None:
        """Send what is held now (nothing if the next write took it along)."""
        held = self._held
        if held is not None:
            self._held = None
            if held and not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        # Everything else (extra info, flow control, the write buffer's limits) is the
        # transport's own.
        return getattr(self._transport, name)


class SimProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a :class:`OneWriteTransport`, answering plain reads
    from the parser (see the module)."""

    _quick: Endpoint | None = None
    _exact: dict[str, Endpoint] | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._wire = OneWriteTransport(transport, self.loop)
        super().connection_made(self._wire)  # type: ignore[arg-type]
        # ``create_app`` leaves the router's resolved paths on the app's state (a wrapped app,
        # or another app, has none: then every request takes uvicorn's way).
        self._exact = getattr(getattr(self.app, "state", None), "exact_paths", None)

    def on_headers_complete(self) -> None:
        exact = self._exact
        if exact is not None:
            endpoint = self._plain_read(exact)
            if endpoint is not None:
                self._quick = endpoint
                return
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

    def on_message_complete(self) -> None:
        endpoint = self._quick
        if endpoint is None:
            super().on_message_complete()
            return
        self._quick = None
        try:
            reply = endpoint.respond(self.scope, b"")  # type: ignore[arg-type]
        except Exception:  # as uvicorn answers an application's error: 500, then close
            log.exception("unhandled error in GET %s", self.scope["path"])
            self._wire.write_now(_INTERNAL_ERROR)
            self._wire.close()
            return
        parts = [STATUS_LINE[reply.status]]
        for name, value in self.server_state.default_headers:
            parts += (name, b": ", value, b"\r\n")
        parts += (
            b"content-type: ",
            reply.content_type,
            b"\r\ncontent-length: ",
            str(len(reply.body)).encode(),
            b"\r\n",
        )
        for name, value in reply.headers:
            parts += (name, b": ", value, b"\r\n")
        parts += (b"\r\n", reply.body)
        self._wire.write_now(b"".join(parts))
        self.on_response_complete()


__all__ = ["OneWriteTransport", "SimProtocol"]
