"""Raw ESC and C1 bytes never leave pf-tui through a headless channel.

An error body or a memo may carry ``ESC [2J``, OSC 52 (write the clipboard), a C1 CSI (U+009B,
which some terminals obey like ESC [) or a bidi override. The webhook's JSON, the JSON alert log
and the daemon's stderr must hold none of them as raw bytes; each is shown as the same visible
escape the console uses (``\\x1b[2J``, ``\\x9b6n``), so the operator can see the body was hostile.

Broken looks like: ``ensure_ascii=False`` JSON carrying U+009B as the bytes C2 9B, or the escape
silently deleted (``HTTP 500: boom [2J``).
"""

from __future__ import annotations

import json
import logging
import re
from io import StringIO
from pathlib import Path

import httpx

from pf_tui.core.notify.receivers import LogReceiver, WebhookReceiver
from pf_tui.daemon.logs import JsonFormatter, log_event
from pf_tui.secret import Secret
from tests.daemon.helpers import make_event

HOSTILE = "boom \x1b[2J \x1b]52;c;ZXZpbA==\x07 \x9b6n \x9d0;t\x9c \u202egnp.exe \x1bP+q\x1b\\"
SHOWN = ("\\x1b[2J", "\\x1b]52;c;ZXZpbA==\\x07", "\\x9b6n", "\\x9d0;t\\x9c", "\\u202egnp.exe")
# ESC, BEL, every C1 code point as UTF-8 (C2 80..C2 9F), bidi overrides and isolates.
RAW = re.compile(
    rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]"
)


def assert_clean(raw: bytes, where: str) -> None:
    found = RAW.findall(raw)
    assert not found, f"{where} carries raw control bytes: {found[:5]}"


def assert_visible(values: list[str], where: str) -> None:
    joined = " ".join(values)
    for shown in SHOWN:
        assert shown in joined, f"{where} lost {shown!r}"


def strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


async def test_webhook_json_carries_visible_escapes_only() -> None:
    sent: list[bytes] = []

    def hook(request: httpx.Request) -> httpx.Response:
        sent.append(request.content)
        return httpx.Response(200)

    receiver = WebhookReceiver(
        Secret("https://hooks.example.com/x/token-0123456789"),
        transport=httpx.MockTransport(hook),
    )
    event = make_event(1, description=HOSTILE, labels={"alertname": "x", "label": HOSTILE})
    assert (await receiver.send(event)).ok
    await receiver.aclose()
    assert_clean(sent[0], "the webhook JSON")
    assert_visible(strings(json.loads(sent[0])), "the webhook JSON")


async def test_the_json_alert_log_carries_visible_escapes_only(tmp_path: Path) -> None:
    log = LogReceiver(tmp_path / "alerts.jsonl")
    assert (await log.send(make_event(1, description=HOSTILE, summary=HOSTILE))).ok
    raw = (tmp_path / "alerts.jsonl").read_bytes()
    assert_clean(raw, "the JSON alert log")
    assert_visible(strings(json.loads(raw)), "the JSON alert log")


def test_the_daemons_stderr_carries_visible_escapes_only() -> None:
    stream = StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("pf_tui")
    logger.addHandler(handler)
    try:
        log_event(
            logging.WARNING, "delivery failed " + HOSTILE, reason=HOSTILE, labels={"a": HOSTILE}
        )
    finally:
        logger.removeHandler(handler)
    raw = stream.getvalue().encode()
    assert_clean(raw, "stderr")
    assert_visible(strings(json.loads(raw)), "stderr")
