"""The receivers: Telegram Bot API, a generic webhook, a JSON-lines log file.

Each owns one ``httpx.AsyncClient`` and turns whatever happens (2xx, 429, 4xx, 5xx, a dead
network) into an :class:`Outcome`, never an exception. Error text is scrubbed of every secret
(the receiver's own bot token or webhook URL, in all its forms and parts, and every other secret
of the config through ``redactor``) before it goes anywhere: httpx puts URLs in messages, and
many frameworks echo the request path, which holds a webhook's token, on a 404 or a 500.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import certifi
import httpx

from pf_tui.core.alerts.engine import AlertEvent
from pf_tui.core.notify.format import (
    clean_text,
    log_record,
    telegram_digest,
    telegram_html,
    webhook_payload,
)
from pf_tui.files import make_private_dir
from pf_tui.secret import Redactor, Secret

__all__ = [
    "LogReceiver",
    "Outcome",
    "Receiver",
    "TelegramReceiver",
    "WebhookReceiver",
    "retry_after_header",
]

TIMEOUT_S = 10.0
MAX_RETRY_AFTER_S = 3600.0
"""A receiver asking for more than an hour is capped: the queue must move eventually."""


@dataclass(frozen=True)
class Outcome:
    """What one send achieved: accepted, retry (after ``retry_after`` s if given), or dead."""

    ok: bool
    error: str = ""
    retry_after: float | None = None
    dead: str | None = None
    """Why the receiver refused the row for good (text for the operator), or ``None``."""
    reason: str = "refused"
    """A dead letter's reason as a short code (``http_400``, ``http_403``), the label of the
    ``pf_notify_dead_letters`` metric and the Alerts tab's count: a bounded set of values."""


ACCEPTED = Outcome(True)


class Receiver(Protocol):
    """Something notifications are delivered to."""

    name: str

    async def send(self, event: AlertEvent) -> Outcome:
        """Deliver one event; never raises."""

    async def aclose(self) -> None:
        """Release the receiver's resources."""


def retry_after_header(value: str | None) -> float | None:
    """``Retry-After`` in seconds (delta form; an HTTP-date also works), capped; else ``None``."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime
        from time import time

        try:
            seconds = parsedate_to_datetime(value).timestamp() - time()
        except (TypeError, ValueError):
            return None
    return min(MAX_RETRY_AFTER_S, max(0.0, seconds))


@functools.lru_cache(maxsize=1)
def _tls() -> ssl.SSLContext:
    # Loading the CA bundle costs ~45 ms; every receiver shares one context.
    return ssl.create_default_context(cafile=certifi.where())


def _client(
    transport: httpx.AsyncBaseTransport | None, timeout: float = TIMEOUT_S
) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=timeout, transport=transport, verify=_tls())


def _redactor(own: Secret, redactor: Redactor | None) -> Redactor:
    """The receiver's own secret plus every other one the caller knows."""
    combined = Redactor([own])
    if redactor is not None:
        combined.extend(redactor)
    return combined


ERROR_CAP = 300
"""Characters of error text kept on an outcome (and so in the outbox's ``last_error``)."""


def _scrub(text: str, redactor: Redactor) -> str:
    # Secrets first, on the raw text (an escape must not split one), then visible escapes.
    return clean_text(redactor.scrub(text))[:ERROR_CAP]


def _network_error(exc: Exception, redactor: Redactor) -> Outcome:
    return Outcome(False, error=_scrub(f"{type(exc).__name__}: {exc}", redactor))


class TelegramReceiver:
    """Telegram Bot API ``sendMessage`` in HTML parse mode, paced for one chat.

    Telegram lets a bot post about one message a second to a chat and 20 a minute to a group;
    beyond that it answers 429 and may block the bot. :attr:`min_interval_s` (60 / ``per_minute``)
    is the pace the dispatcher keeps, and :meth:`send_many` packs every event waiting into one
    digest (:func:`telegram_digest`), so a storm arrives grouped and paced, never dropped.
    """

    def __init__(
        self,
        token: Secret,
        chat_id: str,
        *,
        api_base: str = "https://api.telegram.org",
        name: str = "telegram",
        transport: httpx.AsyncBaseTransport | None = None,
        redactor: Redactor | None = None,
        per_minute: int | None = None,
    ) -> None:
        self.name = name
        self._token = token
        self._chat_id = chat_id
        self._base = api_base.rstrip("/")
        self._client = _client(transport)
        self._redactor = _redactor(token, redactor)
        if per_minute is None:
            per_minute = 20 if chat_id.startswith(("-", "@")) else 60
        if not 1 <= per_minute <= 60:
            raise ValueError("per_minute must be 1 to 60")
        self.min_interval_s = 60.0 / per_minute
        """Fewest seconds between two messages to this chat (the dispatcher keeps it)."""

    async def send(self, event: AlertEvent) -> Outcome:
        """Send the event: 429 waits ``parameters.retry_after``, 400/401/403/404 are dead."""
        return await self._post(telegram_html(event))

    async def send_many(self, events: Sequence[AlertEvent]) -> tuple[Outcome, int]:
        """Send as many of ``events`` (from the first) as fit in one message; how many did."""
        if len(events) == 1:
            return await self.send(events[0]), 1
        text, taken = telegram_digest(events)
        return await self._post(text), taken

    async def _post(self, text: str) -> Outcome:
        body = {
            "chat_id": self._chat_id,
            "text": text,
            "parse_mode": "HTML",
            "disable_web_page_preview": True,
        }
        url = f"{self._base}/bot{self._token.reveal()}/sendMessage"
        try:
            resp = await self._client.post(url, json=body)
        except httpx.HTTPError as exc:
            return _network_error(exc, self._redactor)
        try:
            data = resp.json()
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        description = _scrub(str(data.get("description", resp.reason_phrase)), self._redactor)
        if resp.status_code == 200 and data.get("ok") is True:
            return ACCEPTED
        if resp.status_code == 429:
            params = data.get("parameters")
            wait = params.get("retry_after") if isinstance(params, dict) else None
            seconds = (
                min(MAX_RETRY_AFTER_S, float(wait))
                if isinstance(wait, (int, float)) and not isinstance(wait, bool) and wait >= 0
                else retry_after_header(resp.headers.get("retry-after"))
            )
            return Outcome(False, error=f"429 {description}", retry_after=seconds)
        if resp.status_code in (400, 401, 403, 404):
            return Outcome(
                False,
                error=f"{resp.status_code} {description}",
                dead=f"telegram {resp.status_code}: {description}",
                reason=f"http_{resp.status_code}",
            )
        return Outcome(False, error=f"{resp.status_code} {description}")

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()


class WebhookReceiver:
    """POSTs Alertmanager-compatible JSON; the event id rides in a header and in the body."""

    def __init__(
        self,
        url: Secret,
        *,
        name: str = "webhook",
        timeout: float = TIMEOUT_S,
        transport: httpx.AsyncBaseTransport | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.name = name
        self._url = url
        self.timeout = timeout
        """``[notify.webhook] timeout``: seconds for the whole exchange (connect, send, reply)."""
        self._client = _client(transport, timeout)
        self._redactor = _redactor(url, redactor)

    async def send(self, event: AlertEvent) -> Outcome:
        """2xx accepted; 408/425/429/5xx retried (Retry-After honoured); other 4xx dead."""
        body = json.dumps(webhook_payload(event, receiver=self.name), ensure_ascii=False)
        headers = {
            "content-type": "application/json",
            "x-pf-event-id": event.event_id,
            "idempotency-key": event.event_id,
        }
        try:
            # httpx's timeout bounds each phase; a server that trickles its reply byte by byte
            # would pass every one of them, so the whole exchange is bounded too.
            async with asyncio.timeout(self.timeout):
                resp = await self._client.post(
                    self._url.reveal(), content=body.encode(), headers=headers
                )
        except TimeoutError:
            return Outcome(False, error=f"no reply within {self.timeout:g} s ([notify.webhook])")
        except httpx.HTTPError as exc:
            return _network_error(exc, self._redactor)
        if 200 <= resp.status_code < 300:
            return ACCEPTED
        error = f"{resp.status_code} {_scrub(resp.text[:2000], self._redactor)[:200]}"
        if resp.status_code in (408, 425, 429) or resp.status_code >= 500:
            return Outcome(
                False, error=error, retry_after=retry_after_header(resp.headers.get("retry-after"))
            )
        return Outcome(
            False, error=error, dead=f"webhook {error}", reason=f"http_{resp.status_code}"
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()


class LogReceiver:
    """Appends one JSON object per line to a file (created 0600, in a 0700 folder)."""

    def __init__(self, path: str | Path, *, name: str = "log") -> None:
        self.name = name
        self.path = Path(path)

    async def send(self, event: AlertEvent) -> Outcome:
        """Append and flush the record; a full disk or a bad path is retried later."""
        line = json.dumps(log_record(event), ensure_ascii=False, sort_keys=True) + "\n"
        try:
            make_private_dir(self.path.parent)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)
        except OSError as exc:
            return Outcome(False, error=clean_text(f"{type(exc).__name__}: {exc.strerror}"))
        return ACCEPTED

    async def aclose(self) -> None:
        """Nothing to release (the file is opened per write)."""
