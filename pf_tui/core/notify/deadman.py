"""A dead man's switch: an outside service (healthchecks-style) that pages when pings stop.

The daemon calls :meth:`DeadMan.ping` after each *healthy* evaluation: rules evaluated and their
state committed to the store. When the daemon dies, hangs, loses its event loop to a blocking
call or cannot write its store, the pings stop and the service pages the operator, which no
message the daemon sends itself can do. Pings are spaced at least ``interval`` apart, run one at
a time, and never raise; the URL is a secret (it carries the check's token) and is masked in
every error.
"""

from __future__ import annotations

import asyncio
import logging

import httpx

from pf_tui.core.notify.format import clean_text
from pf_tui.secret import Redactor, Secret

__all__ = ["DeadMan"]

log = logging.getLogger(__name__)


class DeadMan:
    """Pings one URL with a GET, at most once per ``interval`` seconds."""

    def __init__(
        self,
        url: Secret,
        *,
        interval: float = 60.0,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self._url = url
        self.interval = interval
        self.timeout = timeout
        self._client = httpx.AsyncClient(timeout=timeout, transport=transport)
        self._redactor = Redactor([url])
        if redactor is not None:
            self._redactor.extend(redactor)
        self._last = float("-inf")
        self._task: asyncio.Task[None] | None = None
        self.pings = 0
        """Pings the service accepted."""
        self.failures = 0
        self.last_error = ""
        """Why the last ping failed (secrets masked), ``""`` after a success."""

    def due(self, now: float) -> bool:
        """Whether a ping may go now (interval passed and none in flight)."""
        in_flight = self._task is not None and not self._task.done()
        return not in_flight and now - self._last >= self.interval

    def healthy(self, now: float) -> None:
        """An evaluation succeeded at ``now``: ping in the background if one is due."""
        if not self.due(now):
            return
        self._last = now
        self._task = asyncio.get_running_loop().create_task(self.ping(), name="deadman-ping")

    async def ping(self) -> None:
        """One GET; any 2xx counts. Never raises."""
        try:
            async with asyncio.timeout(self.timeout):
                resp = await self._client.get(self._url.reveal())
        except (httpx.HTTPError, TimeoutError) as exc:
            self._failed(f"{type(exc).__name__}: {exc}")
            return
        if 200 <= resp.status_code < 300:
            self.pings += 1
            self.last_error = ""
        else:
            self._failed(f"HTTP {resp.status_code}: {resp.text[:200]}")

    def _failed(self, text: str) -> None:
        self.failures += 1
        self.last_error = clean_text(self._redactor.scrub(text))[:300]
        log.warning("dead man's switch call failed: %s", self.last_error)

    async def aclose(self) -> None:
        """Wait for a ping in flight (bounded by its timeout), then close the client."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        await self._client.aclose()
