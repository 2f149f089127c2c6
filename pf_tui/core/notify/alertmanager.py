"""Alerts pushed to a real Alertmanager: ``POST <url>/api/v2/alerts`` with a list of alerts.

The webhook receiver's body (Alertmanager's *webhook* format, what Alertmanager sends out) is not
what Alertmanager takes in: its API answers 400 to it. It takes a JSON list of postable alerts,
``{labels, annotations, startsAt, endsAt, generatorURL}``, and identifies an alert by its label
set, so dedup, grouping, inhibition and silences across several daemons happen there.

How an alert stays firing: Alertmanager resolves an alert on its own once its ``endsAt`` passes,
so a firing alert is sent with ``endsAt`` :data:`HOLD_INTERVALS` resend intervals ahead, and the
daemon re-sends every firing alert each ``resend_interval`` (:meth:`AlertmanagerReceiver.refresh`,
the way Prometheus does it). A daemon that dies therefore lets its alerts resolve a few minutes
later instead of pinning them forever. A resolution is sent with ``endsAt`` = when it ended.

The outbox delivers the transitions (firing, repeat, resolved) in order with retries and dead
letters, like every receiver; the refresh is best effort, as the next one comes soon.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

from pf_tui.core.alerts.engine import AlertEvent, EventKind
from pf_tui.core.notify.format import clean_text, rfc3339
from pf_tui.core.notify.receivers import ACCEPTED, ERROR_CAP, Outcome, retry_after_header
from pf_tui.secret import Redactor

__all__ = ["HOLD_INTERVALS", "AlertmanagerReceiver", "FiringAlert", "postable_alert"]

HOLD_INTERVALS = 4
"""A firing alert's ``endsAt`` is this many resend intervals ahead (Prometheus uses 4 too)."""
PATH = "/api/v2/alerts"


@dataclass(frozen=True)
class FiringAlert:
    """One alert still firing, as the daemon's refresh re-sends it."""

    fingerprint: str
    labels: dict[str, str]
    starts_at: float
    description: str


def _labels(labels: dict[str, str] | object) -> dict[str, str]:
    assert isinstance(labels, dict)
    # Alertmanager refuses an empty label value; pf-tui's labels are never empty but config
    # labels could be, and a dropped empty label names the same alert.
    return {clean_text(k): clean_text(v) for k, v in labels.items() if str(v)}


def postable_alert(event: AlertEvent, *, now: float, hold_s: float) -> dict[str, object]:
    """``event`` as one element of the ``POST /api/v2/alerts`` list."""
    if event.status == "resolved":
        ends = event.ends_at if event.ends_at is not None else event.at
    else:
        ends = now + hold_s
    return {
        "labels": _labels(dict(event.labels)),
        "annotations": {
            "summary": clean_text(event.summary),
            "description": clean_text(event.description),
        },
        "startsAt": rfc3339(event.starts_at),
        "endsAt": rfc3339(ends),
        "generatorURL": "",
    }


class AlertmanagerReceiver:
    """Pushes alerts to one Alertmanager (the outbox's transitions and the daemon's refresh)."""

    def __init__(
        self,
        url: str,
        *,
        name: str = "alertmanager",
        resend_interval_s: float = 60.0,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        redactor: Redactor | None = None,
    ) -> None:
        self.name = name
        self._redactor = redactor if redactor is not None else Redactor([])
        """Every configured secret: an error body that echoes one is scrubbed before it is kept."""
        self.resend_interval_s = resend_interval_s
        self._endpoint = url.rstrip("/") + PATH
        self._clock = clock
        self._summaries: dict[str, str] = {}
        """Fingerprint -> the summary last sent, so a refresh does not blank it (Alertmanager keeps
        the newest annotations)."""
        self._client = httpx.AsyncClient(timeout=timeout_s, transport=transport)

    @property
    def hold_s(self) -> float:
        """How far ahead a firing alert's ``endsAt`` is set."""
        return HOLD_INTERVALS * self.resend_interval_s

    async def send(self, event: AlertEvent) -> Outcome:
        """POST the event as a one-alert list: 2xx accepted, 429/5xx retried, other 4xx dead."""
        if event.kind is EventKind.HEARTBEAT:
            # The Watchdog message is for chat receivers; Alertmanager users run their own
            # dead-man's switch on pf_daemon_up (deploy/prometheus/rules.yml).
            return ACCEPTED
        if event.status == "resolved":
            self._summaries.pop(event.fingerprint, None)
        else:
            self._summaries[event.fingerprint] = event.summary
        alert = postable_alert(event, now=self._clock(), hold_s=self.hold_s)
        return await self._post([alert])

    async def refresh(self, firing: Sequence[FiringAlert]) -> Outcome:
        """Re-send every alert still firing, pushing its ``endsAt`` ahead again."""
        if not firing:
            return ACCEPTED
        now = self._clock()
        alerts: list[dict[str, object]] = [
            {
                "labels": _labels(a.labels),
                "annotations": {
                    "summary": clean_text(
                        self._summaries.get(a.fingerprint, a.labels.get("alertname", ""))
                    ),
                    "description": clean_text(a.description),
                },
                "startsAt": rfc3339(a.starts_at),
                "endsAt": rfc3339(now + self.hold_s),
                "generatorURL": "",
            }
            for a in firing
        ]
        return await self._post(alerts)

    async def _post(self, alerts: list[dict[str, object]]) -> Outcome:
        body = json.dumps(alerts, ensure_ascii=False).encode()
        try:
            resp = await self._client.post(
                self._endpoint, content=body, headers={"content-type": "application/json"}
            )
        except httpx.HTTPError as exc:
            text = self._redactor.scrub(f"{type(exc).__name__}: {exc}")
            return Outcome(False, error=clean_text(text)[:ERROR_CAP])
        if 200 <= resp.status_code < 300:
            return ACCEPTED
        error = f"{resp.status_code} {clean_text(self._redactor.scrub(resp.text[:2000]))[:200]}"
        if resp.status_code in (408, 425, 429) or resp.status_code >= 500:
            return Outcome(
                False, error=error, retry_after=retry_after_header(resp.headers.get("retry-after"))
            )
        return Outcome(False, error=error, dead=f"alertmanager {error}")

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()
