"""What each receiver is sent: pure functions of an :class:`~pf_tui.core.alerts.engine.AlertEvent`.

- Telegram: HTML parse mode, every field escaped, only ``<b>`` and ``<code>`` tags of our own,
  kept within Telegram's 4096 characters (counted in UTF-16 units, as Telegram counts) by
  truncating the *text* before escaping, so no tag or entity is ever cut in half.
- Webhook: Alertmanager's webhook JSON (version 4) plus a stable ``eventId``.
- JSON log: one flat object per line.
Untrusted text (labels carry agent labels from config, descriptions carry API error text) has its
control, escape, C1 and bidi characters turned into visible escapes (``\\x1b``, ``\\u202e``) here,
once, before any receiver sees it: the same escapes the console shows, so an operator reading a
page can tell that a memo or an error body was hostile.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TypedDict

from pf_tui.core.alerts.engine import AlertEvent, EventKind
from pf_tui.core.alerts.rules import Severity
from pf_tui.text import escape_text

__all__ = [
    "DIGEST_LINE_CAP",
    "TELEGRAM_LIMIT",
    "EventRecord",
    "clean_text",
    "event_from_dict",
    "event_to_dict",
    "log_record",
    "rfc3339",
    "telegram_digest",
    "telegram_html",
    "utf16_len",
    "webhook_payload",
]

TELEGRAM_LIMIT = 4096
"""Telegram's maximum message length (after entity parsing; we bound the raw HTML, stricter)."""
FIELD_CAP = 512
"""No single label or summary may crowd out the rest of a message."""
ZERO_TIME = "0001-01-01T00:00:00Z"
"""Alertmanager's ``endsAt`` for an alert that has not ended."""

CLEAN_LIMIT = 8192
"""Longest untrusted string :func:`clean_text` keeps (each receiver cuts further)."""
_ICONS = {
    EventKind.FIRING: "\U0001f525",
    EventKind.REPEAT: "\U0001f501",
    EventKind.RESOLVED: "\u2705",
    EventKind.HEARTBEAT: "\U0001f49a",
}


def clean_text(text: object) -> str:
    """``text`` as a string with every control, escape, C1, bidi, invisible and lone-surrogate
    character shown as its visible escape (``\\x1b``, ``\\u202e``), never removed silently."""
    return escape_text(str(text), limit=CLEAN_LIMIT)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units (how Telegram measures a message)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def rfc3339(ts: float) -> str:
    """Unix seconds as ``2026-01-01T00:00:00.000Z``."""
    dt = datetime.fromtimestamp(ts, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _cap(text: str, cap: int = FIELD_CAP) -> str:
    return text if len(text) <= cap else text[: cap - 1] + "\u2026"


def _escaped_within(text: str, budget: int) -> tuple[str, bool]:
    """Escape ``text``, cutting it (between characters, never inside an entity) to ``budget``."""
    out: list[str] = []
    used = 0
    for ch in text:
        piece = html.escape(ch, quote=False)
        size = utf16_len(piece)
        if used + size > budget:
            return "".join(out), True
        out.append(piece)
        used += size
    return "".join(out), False


def telegram_html(event: AlertEvent, *, limit: int = TELEGRAM_LIMIT) -> str:
    """The event as a Telegram HTML message of at most ``limit`` UTF-16 units, always valid."""
    labels = event.labels
    agent = labels.get("agent") or labels.get("scope") or ""
    segments: list[tuple[str | None, str]] = [
        (None, _ICONS.get(event.kind, "") + " "),
        ("b", event.kind.value.upper()),
        (None, f" [{event.severity.value}] "),
        ("b", _cap(clean_text(event.rule), 128)),
        (None, "\n"),
    ]
    if agent:
        segments += [(None, "agent "), ("code", _cap(clean_text(agent), 128))]
        if labels.get("label"):
            segments.append((None, " " + _cap(clean_text(labels["label"]), 128)))
        segments.append((None, "\n"))
    for key in ("stream", "payee", "escrow", "action"):
        if labels.get(key):
            segments += [
                (None, f"{key} "),
                ("code", _cap(clean_text(labels[key]), 128)),
                (None, "\n"),
            ]
    segments.append((None, _cap(clean_text(event.summary)) + "\n"))
    when = (
        f"since {rfc3339(event.starts_at)}"
        if event.kind is not EventKind.RESOLVED
        else (f"resolved {rfc3339(event.ends_at or event.at)}, began {rfc3339(event.starts_at)}")
    )
    segments.append((None, when + "\n"))
    # the description is last: it is the one that may be huge (API error text)
    segments.append((None, clean_text(event.description)))
    return _render(segments, limit)


def _render(segments: list[tuple[str | None, str]], limit: int) -> str:
    ellipsis = "\u2026"
    out: list[str] = []
    budget = limit
    for tag, text in segments:
        opening, closing = (f"<{tag}>", f"</{tag}>") if tag else ("", "")
        room = budget - utf16_len(opening) - utf16_len(closing)
        if room <= len(ellipsis):
            break
        body, cut = _escaped_within(text, room)
        if cut:
            body = _escaped_within(text, room - len(ellipsis))[0] + ellipsis
        out.append(opening + body + closing)
        budget -= utf16_len(out[-1])
        if cut:
            break
    return "".join(out)


DIGEST_LINE_CAP = 240
"""Characters of one event's line in a digest (before escaping): one storm line, not a page."""


def _digest_line(event: AlertEvent) -> str:
    """One event as one escaped line of a digest: icon, severity, rule, agent, summary, detail."""
    labels = event.labels
    who = labels.get("agent") or labels.get("scope") or ""
    parts = [
        _ICONS.get(event.kind, ""),
        f" [{event.severity.value}] ",
        "<b>" + html.escape(_cap(clean_text(event.rule), 64), quote=False) + "</b>",
    ]
    if who:
        parts.append(" <code>" + html.escape(_cap(clean_text(who), 64), quote=False) + "</code>")
    for key in ("stream", "escrow", "action"):
        if labels.get(key):
            parts.append(f" {key} " + html.escape(_cap(clean_text(labels[key]), 64), quote=False))
    detail = clean_text(event.description) or clean_text(event.summary)
    parts.append(" " + html.escape(_cap(detail, DIGEST_LINE_CAP), quote=False))
    return "".join(parts) + "\n"


def telegram_digest(
    events: Sequence[AlertEvent], *, limit: int = TELEGRAM_LIMIT
) -> tuple[str, int]:
    """Several events as one Telegram HTML message, and how many of them (from the first) it holds.

    Used when notifications come faster than Telegram lets a bot post to one chat (about one a
    second, 20 a minute to a group): a storm arrives as a few digests, each as full as 4,096
    UTF-16 units allow, and the events that did not fit go in the next one, never dropped. Each
    event is one line, every field escaped after it is cut, so the message is always valid HTML.
    """
    if not events:
        raise ValueError("a digest needs at least one event")
    reserve = 96  # the header and the "more follow" footer
    lines: list[str] = []
    used = 0
    for event in events:
        line = _digest_line(event)
        size = utf16_len(line)
        if lines and used + size > limit - reserve:
            break
        lines.append(line)
        used += size
    taken = len(lines)
    kinds: dict[str, int] = {}
    for event in events[:taken]:
        kinds[event.kind.value] = kinds.get(event.kind.value, 0) + 1
    summary = ", ".join(f"{kind} {count}" for kind, count in kinds.items())
    head = f"\U0001f4e8 <b>{taken} alerts</b> ({summary})\n"
    more = len(events) - taken
    tail = f"\u2026 {more} more in the next message" if more else ""
    return head + "".join(lines) + tail, taken


def _annotations(event: AlertEvent) -> dict[str, str]:
    return {"summary": clean_text(event.summary), "description": clean_text(event.description)}


def _labels(event: AlertEvent) -> dict[str, str]:
    return {clean_text(k): clean_text(v) for k, v in event.labels.items()}


def webhook_payload(event: AlertEvent, *, receiver: str = "pf-tui") -> dict[str, object]:
    """Alertmanager-compatible webhook body (version 4) for one event, with ``eventId``."""
    labels = _labels(event)
    annotations = _annotations(event)
    status = event.status
    alert = {
        "status": status,
        "labels": labels,
        "annotations": annotations,
        "startsAt": rfc3339(event.starts_at),
        "endsAt": rfc3339(event.ends_at) if event.ends_at is not None else ZERO_TIME,
        "generatorURL": "",
        "fingerprint": event.fingerprint,
    }
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{labels.get("alertname", event.rule)}"}}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": {"alertname": labels.get("alertname", event.rule)},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": "",
        "alerts": [alert],
        "eventId": event.event_id,
        "eventKind": event.kind.value,
    }


def log_record(event: AlertEvent) -> dict[str, object]:
    """One JSON-lines record for the alert log file."""
    return {
        "ts": rfc3339(event.at),
        "event_id": event.event_id,
        "kind": event.kind.value,
        "status": event.status,
        "rule": event.rule,
        "severity": event.severity.value,
        "fingerprint": event.fingerprint,
        "labels": _labels(event),
        **_annotations(event),
        "starts_at": rfc3339(event.starts_at),
        "ends_at": rfc3339(event.ends_at) if event.ends_at is not None else None,
    }


class EventRecord(TypedDict):
    """An :class:`AlertEvent` as the outbox's ``payload`` column holds it (JSON)."""

    event_id: str
    kind: str
    rule: str
    severity: str
    fingerprint: str
    labels: dict[str, str]
    summary: str
    description: str
    starts_at: float
    ends_at: float | None
    at: float


def event_to_dict(event: AlertEvent) -> EventRecord:
    """The event as plain JSON (the outbox payload); the inverse of :func:`event_from_dict`."""
    return {
        "event_id": event.event_id,
        "kind": event.kind.value,
        "rule": event.rule,
        "severity": event.severity.value,
        "fingerprint": event.fingerprint,
        "labels": dict(event.labels),
        "summary": event.summary,
        "description": event.description,
        "starts_at": event.starts_at,
        "ends_at": event.ends_at,
        "at": event.at,
    }


def event_from_dict(data: EventRecord) -> AlertEvent:
    """Rebuild an event from :func:`event_to_dict` output (each field coerced: it was JSON)."""
    return AlertEvent(
        event_id=str(data["event_id"]),
        kind=EventKind(data["kind"]),
        rule=str(data["rule"]),
        severity=Severity(data["severity"]),
        fingerprint=str(data["fingerprint"]),
        labels={str(k): str(v) for k, v in data["labels"].items()},
        summary=str(data["summary"]),
        description=str(data["description"]),
        starts_at=float(data["starts_at"]),
        ends_at=None if (ends := data.get("ends_at")) is None else float(ends),
        at=float(data["at"]),
    )
