"""uvicorn's httptools protocol, sending each reply's head and body in one write.

uvicorn writes a reply's status line and headers as soon as the application starts the reply,
and its body when the body comes: two ``send`` system calls for every reply, two TCP segments,
and on the client's side often two wake-ups and two reads. The simulator's replies are
pre-serialised bytes sent right after their head (``pipeline._send``), so holding the head for
the body costs nothing: profiled at 10,000 agents, those two writes were 30% of the
simulator's samples (docs/performance.md, "The simulator's replies in one write").

:class:`OneWriteTransport` holds the first write and sends it with the next one. Whatever is
still held when the loop comes round (a reply that waits between its head and its body) goes
out then, so nothing waits longer than the rest of the current callback; ``close`` sends what
is held first, and ``abort`` drops it, as it drops the transport's own buffer.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


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


class OneWriteProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a :class:`OneWriteTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(OneWriteTransport(transport, self.loop))  # type: ignore[arg-type]


__all__ = ["OneWriteProtocol", "OneWriteTransport"]
