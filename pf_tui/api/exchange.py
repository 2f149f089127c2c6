"""What every transport of the client shares, with no HTTP library behind it.

The poll engine's reads take :mod:`pf_tui.api.http1` (asyncio and httptools); only writes, the
plain httpx pool and injected transports need aiohttp or httpx (:mod:`pf_tui.api.transport`).
Keeping this module, :mod:`~pf_tui.api.http1` and :mod:`~pf_tui.api.client` free of those two
lets a console poll and draw its first figures before the HTTP stack is imported: about 0.2 s of
CPU that ``pf-tui --demo`` no longer spends before its first live figure (docs/performance.md,
"Start-up"). The stack is imported when something first needs it: a write, a transport error
(whose types are aiohttp's and httpx's), or a client on another transport.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import certifi
from yarl import URL

__all__ = ["MAX_REPLY_BYTES", "ExchangeTimeout", "Exchanger", "ReplyTooLarge", "verifying_context"]

MAX_REPLY_BYTES = 8 * 1024 * 1024
"""The largest reply body any transport reads, reads and writes alike: a full page of the
longest history is well under 1 MiB. A larger reply is dropped unread (:class:`ReplyTooLarge`)."""


class ReplyTooLarge(Exception):
    """A reply bigger than a transport reads (:data:`MAX_REPLY_BYTES`): the exchange is
    abandoned and the connection dropped, unread. The request may have executed: the client
    reports it as a connection error, which the money runner keeps as an unknown outcome."""


@dataclass(frozen=True, slots=True)
class ExchangeTimeout:
    """One exchange's bounds, in seconds: connecting, each read, and the whole exchange."""

    total: float
    connect: float
    sock_read: float


class Exchanger(Protocol):
    """A pool the client sends through directly (the lean paths), skipping httpx's machinery."""

    async def exchange(
        self,
        method: str,
        url: URL | str,
        headers: Mapping[str, str] | None,
        content: bytes | None,
        timeout: ExchangeTimeout,  # noqa: ASYNC109  (per-phase bounds, not one deadline)
    ) -> tuple[int, Mapping[str, str], bytes]:
        """One request: ``(status, reply headers, whole body)``; redirects are not followed."""
        ...

    async def aclose(self) -> None:
        """Close every connection."""


@functools.cache
def verifying_context() -> ssl.SSLContext:
    """The one verifying TLS context every pool of the process shares, made on first use:
    loading the CA bundle costs about 25 ms each time. certifi's bundle, as httpx's
    ``create_ssl_context(trust_env=False)`` builds it, without importing httpx."""
    return ssl.create_default_context(cafile=certifi.where())
