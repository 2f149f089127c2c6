"""[notify.alertmanager]: the body Alertmanager's API takes, outcomes, the refresh, the config."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from pf_tui.config import ConfigError
from pf_tui.core.alerts.engine import EventKind
from pf_tui.core.notify.alertmanager import AlertmanagerReceiver, FiringAlert
from pf_tui.wiring import build_receivers
from tests.config.helpers import load_text
from tests.daemon.helpers import T0, make_event


def _receiver(handler: httpx.MockTransport, **kw: float) -> AlertmanagerReceiver:
    return AlertmanagerReceiver(
        "http://127.0.0.1:9093/", transport=handler, clock=lambda: T0 + 10, **kw
    )


async def test_firing_is_a_list_held_four_resend_intervals_and_resolved_ends() -> None:
    """The API refuses the webhook body with 400: a dict instead of a list here fails."""
    seen: list[tuple[str, object]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, json.loads(request.content)))
        return httpx.Response(200)

    receiver = _receiver(httpx.MockTransport(handle), resend_interval_s=30)
    evil = "boom\x1b[2J\u202e"
    assert (await receiver.send(make_event(1, description=evil))).ok
    assert (await receiver.send(make_event(2, kind=EventKind.RESOLVED))).ok
    assert (await receiver.send(make_event(3, kind=EventKind.HEARTBEAT))).ok  # not sent
    await receiver.aclose()
    assert [path for path, _ in seen] == ["/api/v2/alerts", "/api/v2/alerts"]
    firing, resolved = (body for _, body in seen)
    assert isinstance(firing, list) and len(firing) == 1
    assert firing[0]["labels"] == {
        "alertname": "balance_low", "severity": "warning", "agent": "ag_1"
    }  # fmt: skip
    # Control and bidi characters arrive as visible escapes, as in every other channel.
    assert firing[0]["annotations"]["description"] == "boom\\x1b[2J\\u202e"
    assert firing[0]["startsAt"] == "2026-01-01T00:00:00.000Z"
    assert firing[0]["endsAt"] == "2026-01-01T00:02:10.000Z"  # now + 4 x 30 s
    assert isinstance(resolved, list) and resolved[0]["endsAt"] == "2026-01-01T00:01:00.000Z"


@pytest.mark.parametrize(
    ("status", "retry", "dead"), [(400, False, True), (503, True, False), (429, True, False)]
)
async def test_outcomes(status: int, retry: bool, dead: bool) -> None:
    receiver = _receiver(httpx.MockTransport(lambda r: httpx.Response(status, text="nope")))
    outcome = await receiver.send(make_event(1))
    await receiver.aclose()
    assert (
        not outcome.ok
        and (outcome.dead is not None) is dead
        and outcome.error.startswith(str(status))
    )


async def test_dead_network_is_an_outcome_not_an_exception() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    receiver = _receiver(httpx.MockTransport(fail))
    outcome = await receiver.send(make_event(1))
    await receiver.aclose()
    assert not outcome.ok and outcome.dead is None and "ConnectError" in outcome.error


async def test_refresh_resends_every_firing_alert_with_its_summary() -> None:
    bodies: list[list[dict[str, object]]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200)

    receiver = _receiver(httpx.MockTransport(handle), resend_interval_s=60)
    await receiver.send(make_event(1, summary="balance (ag_1)"))
    labels = {"alertname": "balance_low", "severity": "warning", "agent": "ag_1"}
    other = {"alertname": "data_stale", "severity": "warning", "agent": "ag_2"}
    assert (
        await receiver.refresh(
            [FiringAlert("fp00000000000001", labels, T0, "balance 40"),
             FiringAlert("fpother", other, T0 - 5, "no data")]
        )
    ).ok  # fmt: skip
    assert (await receiver.refresh([])).ok  # nothing firing: nothing sent
    await receiver.aclose()
    assert len(bodies) == 2
    refreshed = bodies[1]
    assert [a["annotations"]["summary"] for a in refreshed] == ["balance (ag_1)", "data_stale"]
    assert all(a["endsAt"] == "2026-01-01T00:04:10.000Z" for a in refreshed)


def test_config_section_builds_the_receiver(tmp_path: Path) -> None:
    text = """
[notify.alertmanager]
enabled = true
url = "http://127.0.0.1:9093/"
resend_interval = "30s"
"""
    config = load_text(tmp_path, text)
    am = config.notify.alertmanager
    assert (am.url, am.resend_interval, am.timeout) == ("http://127.0.0.1:9093", 30.0, 10.0)
    (receiver,) = build_receivers(config)
    assert isinstance(receiver, AlertmanagerReceiver) and receiver.hold_s == 120


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("enabled = true", "notify.alertmanager.url: missing"),
        ('url = "ftp://x"', "'ftp://x' is not an http(s) URL; write Alertmanager's base"),
        ('url = "http://u:pw@am:9093"', "must not carry a user name or password"),
        ('url = "http://am:9093"\nresend_interval = "2h"', "out of range"),
    ],
)
def test_config_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        load_text(tmp_path, "[notify.alertmanager]\n" + text)
    assert "pw" not in str(info.value)
