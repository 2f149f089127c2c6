"""Helpers for the daemon tests: events, a Telegram-HTML checker, a webhook sink on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from html.parser import HTMLParser

from pf_tui.core.alerts.engine import AlertEvent, EventKind
from pf_tui.core.alerts.rules import RuleKind, RuleSpec, Severity

ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "s", "code", "pre", "a"}
T0 = 1_767_225_600.0
BALANCE_LOW = RuleSpec(
    "balance_low",
    RuleKind.THRESHOLD,
    Severity.WARNING,
    metric="balance_usd",
    op="<",
    threshold=Decimal(50),
    clear=Decimal(55),
    for_s=300,
    repeat_s=3600,
)
"""Balance under $50 for 5 minutes fires; it clears at $55 and repeats hourly."""


def make_event(
    n: int = 0,
    *,
    kind: EventKind = EventKind.FIRING,
    description: str = "balance 40 below 50",
    labels: dict[str, str] | None = None,
    summary: str = "balance (ag_1)",
) -> AlertEvent:
    """A plain event; ``n`` makes the id distinct."""
    return AlertEvent(
        event_id=f"ev{n:06d}",
        kind=kind,
        rule="balance_low",
        severity=Severity.WARNING,
        fingerprint=f"fp{n:014d}",
        labels=labels or {"alertname": "balance_low", "severity": "warning", "agent": "ag_1"},
        summary=summary,
        description=description,
        starts_at=T0,
        ends_at=T0 + 60 if kind is EventKind.RESOLVED else None,
        at=T0 + n,
    )


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.errors.append(f"tag {tag}")
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(f"unbalanced {tag}")

    def handle_entityref(self, name: str) -> None:
        if name not in ("lt", "gt", "amp", "quot"):
            self.errors.append(f"entity {name}")


def telegram_html_errors(text: str) -> list[str]:
    """What Telegram would refuse in ``text`` (tags, balance, entities, a bare ``<`` or ``&``)."""
    checker = _Checker()
    checker.feed(text)
    checker.close()
    errors = list(checker.errors)
    if checker.stack:
        errors.append(f"unclosed {checker.stack}")
    stripped = re.sub(r"</?(b|code)>", "", text)
    if "<" in stripped or ">" in stripped:
        errors.append("bare angle bracket")
    if re.search(r"&(?!(lt|gt|amp|quot);)", stripped):
        errors.append("bare ampersand")
    return errors


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Sink:
    """A webhook receiver on 127.0.0.1 that records bodies and can be told to fail."""

    url: str = ""
    received: list[dict[str, object]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    fail_status: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def event_ids(self) -> list[str]:
        """Event ids in arrival order (duplicates kept)."""
        with self.lock:
            return [str(b["eventId"]) for b in self.received]


@contextmanager
def webhook_sink(delay_s: float = 0.0) -> Iterator[Sink]:
    """Serve a :class:`Sink` with uvicorn in a thread for the duration of the block; each request
    takes ``delay_s`` (a slow receiver keeps a storm in flight long enough to interrupt it)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    sink = Sink()

    async def hook(request: Request) -> JSONResponse:
        if delay_s:
            await asyncio.sleep(delay_s)
        if sink.fail_status is not None:
            return JSONResponse({"error": "down"}, status_code=sink.fail_status)
        body = json.loads(await request.body())
        with sink.lock:
            sink.received.append(body)
            sink.headers.append(dict(request.headers))
        return JSONResponse({"ok": True})

    port = free_port()
    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    sink.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield sink
    finally:
        server.should_exit = True
        thread.join(timeout=5)


async def settle() -> None:
    """Let other tasks run a few times."""
    for _ in range(5):
        await asyncio.sleep(0)
