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
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

import certifi

if TYPE_CHECKING:
    from yarl import URL

__all__ = [
    "MAX_REPLY_BYTES",
    "ExchangeTimeout",
    "Exchanger",
    "ReplyTooLarge",
    "Target",
    "verifying_context",
]

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


class Target:
    """An absolute URL, split once for every request sent to it: the client keeps one per route
    and query. The http1 pool writes its request line from :attr:`path_qs` and :attr:`host`;
    aiohttp takes :meth:`url`, yarl's form, made (and yarl imported) on its first use.

    The text is used as given (already percent-encoded, as ``URL(text, encoded=True)`` takes
    it): a path or query is never re-encoded on its way to the wire.
    """

    __slots__ = ("_url", "explicit_port", "get_line", "host", "path_qs", "port", "scheme", "text")

    def __init__(self, text: str) -> None:
        parts = urlsplit(text)
        self.text = text
        self.scheme = parts.scheme
        # As yarl's ``raw_host``: as written, an IPv6 literal without its brackets; a non-ASCII
        # name in its IDNA form, as a Host header must carry it.
        host = parts.netloc.rpartition("@")[2]
        host = host[1 : host.find("]")] if host.startswith("[") else host.partition(":")[0]
        self.host = host if host.isascii() else host.encode("idna").decode("ascii")
        self.explicit_port = parts.port  # the port the URL names, or None
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.path_qs = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._url: URL | None = None
        self.get_line: bytes | None = None
        """A GET's request line and Host header, as bytes: the http1 pool writes it once."""

    def url(self) -> URL:
        """The same URL as yarl's ``URL``, for aiohttp."""
        if self._url is None:
            from yarl import URL

            self._url = URL(self.text, encoded=True)
        return self._url

    def __repr__(self) -> str:
        return f"Target({self.text!r})"


class Exchanger(Protocol):
    """A pool the client sends through directly (the lean paths), skipping httpx's machinery."""

    async def exchange(
        self,
        method: str,
        url: Target | str,
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
