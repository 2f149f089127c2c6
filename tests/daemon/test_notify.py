"""Notification formats (Telegram HTML, Alertmanager JSON, JSON log) and the durable outbox."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from pf_tui.core.alerts.engine import EventKind
from pf_tui.core.notify.format import (
    TELEGRAM_LIMIT,
    event_from_dict,
    event_to_dict,
    telegram_html,
    utf16_len,
    webhook_payload,
)
from pf_tui.core.notify.outbox import DEAD_AT, Dispatcher, Outbox, backoff_s, dead_reason
from pf_tui.core.notify.receivers import LogReceiver, TelegramReceiver, WebhookReceiver
from pf_tui.core.store.schema import migrate
from pf_tui.secret import Secret

from .helpers import T0, make_event, telegram_html_errors, webhook_sink

NASTY = st.text(
    alphabet=st.sampled_from(list("<>&</b>\"'ab \n\u202e\x1b\U0001f600é")) | st.characters(),
    max_size=6000,
)


@settings(max_examples=150, deadline=None)
@given(desc=NASTY, summary=NASTY, label=NASTY)
def test_telegram_html_valid_and_bounded(desc: str, summary: str, label: str) -> None:
    event = make_event(
        description=desc,
        summary=summary,
        labels={"alertname": "x", "severity": "warning", "agent": "ag_1", "label": label},
    )
    text = telegram_html(event)
    assert utf16_len(text) <= TELEGRAM_LIMIT
    assert telegram_html_errors(text) == []
    assert "\x1b" not in text and "\u202e" not in text


def test_telegram_html_escapes_and_truncates_huge() -> None:
    event = make_event(description="</b><script>&amp;" * 2000)
    text = telegram_html(event)
    assert utf16_len(text) <= TELEGRAM_LIMIT and text.endswith("\u2026")
    assert "&lt;/b&gt;&lt;script&gt;&amp;amp;" in text
    assert telegram_html_errors(text) == []
    assert text.startswith("\U0001f525 <b>FIRING</b> [warning] <b>balance_low</b>\n")


def test_webhook_payload_alertmanager_shape() -> None:
    body = webhook_payload(make_event(3, kind=EventKind.RESOLVED))
    assert body["status"] == "resolved" and body["version"] == "4"
    alert = body["alerts"][0]
    assert set(alert) >= {"status", "labels", "annotations", "startsAt", "endsAt", "fingerprint"}
    assert alert["startsAt"] == "2026-01-01T00:00:00.000Z"
    assert alert["endsAt"] == "2026-01-01T00:01:00.000Z"
    assert body["eventId"] == "ev000003"
    firing = webhook_payload(make_event(4))["alerts"][0]
    assert firing["endsAt"] == "0001-01-01T00:00:00Z" and firing["status"] == "firing"


def test_event_roundtrip() -> None:
    event = make_event(7, kind=EventKind.RESOLVED)
    assert event_from_dict(json.loads(json.dumps(event_to_dict(event)))) == event


def _outbox() -> Outbox:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    migrate(conn)
    return Outbox(conn)


async def test_log_receiver_writes_json_lines(tmp_path: Path) -> None:
    box = _outbox()
    path = tmp_path / "sub" / "alerts.jsonl"
    disp = Dispatcher(box, [LogReceiver(path)])
    box.enqueue([make_event(1), make_event(2)], ["log"], T0)
    assert await disp.deliver("log", T0) == 2
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["event_id"] for x in lines] == ["ev000001", "ev000002"]
    assert path.stat().st_mode & 0o077 == 0
    assert path.parent.stat().st_mode & 0o077 == 0  # the folder it made is private too
    assert box.depth() == {}


async def test_webhook_500_then_200_backlog_drains_healthy_receiver_no_copies() -> None:
    box = _outbox()
    with webhook_sink() as bad, webhook_sink() as good:
        bad.fail_status = 500
        disp = Dispatcher(
            box,
            [
                WebhookReceiver(Secret(bad.url), name="bad"),
                WebhookReceiver(Secret(good.url), name="good"),
            ],
        )
        now = T0
        box.enqueue([make_event(i) for i in range(5)], ["bad", "good"], now)
        for step in range(40):
            if step == 20:
                bad.fail_status = None
            if step % 3 == 0:
                box.enqueue([make_event(100 + step)], ["bad", "good"], now)
            await disp.deliver("bad", now)
            await disp.deliver("good", now)
            now += 30
        # drain what remains after the receiver recovered
        for _ in range(10):
            nxt = box.next_due_at("bad")
            if nxt is None:
                break
            await disp.deliver("bad", max(now, nxt))
        await disp.close()
    expected = [f"ev{i:06d}" for i in range(5)] + [f"ev{100 + s:06d}" for s in range(0, 40, 3)]
    assert sorted(good.event_ids()) == sorted(expected)
    assert len(good.event_ids()) == len(set(good.event_ids()))
    assert bad.event_ids() == good.event_ids()  # same order, each once
    assert box.depth() == {}
    assert disp.failed["good"] == 0 and disp.failed["bad"] > 0
    assert good.headers[0]["x-pf-event-id"] == good.event_ids()[0]


async def test_backoff_holds_whole_receiver_and_grows() -> None:
    box = _outbox()
    calls: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(T0)
        return httpx.Response(503, text="busy")

    disp = Dispatcher(
        box,
        [WebhookReceiver(Secret("http://127.0.0.1:9/h"), transport=httpx.MockTransport(handler))],
    )
    box.enqueue([make_event(1), make_event(2)], ["webhook"], T0)
    await disp.deliver("webhook", T0)
    assert len(calls) == 1  # the second row waits behind the first
    assert box.next_due_at("webhook") == T0 + backoff_s(1)
    await disp.deliver("webhook", T0 + backoff_s(1) - 0.001)
    assert len(calls) == 1
    await disp.deliver("webhook", T0 + backoff_s(1))
    assert box.next_due_at("webhook") == T0 + backoff_s(1) + backoff_s(2)
    assert backoff_s(2) == 2 * backoff_s(1) and backoff_s(50) == 600.0


def test_backoff_stays_at_its_cap_however_long_a_receiver_is_down() -> None:
    # a week of a dead receiver at one attempt per 600 s is ~1,000 attempts; 2.0 ** 1100 overflows
    assert [backoff_s(n) for n in (0, 1, 11, 1100, 10**9)] == [2.0, 2.0, 600.0, 600.0, 600.0]


async def test_telegram_400_and_403_dead_lettered_not_retried() -> None:
    box = _outbox()
    answers = iter(
        [
            httpx.Response(
                400,
                json={"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
            ),
            httpx.Response(
                403,
                json={"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked"},
            ),
            httpx.Response(200, json={"ok": True, "result": {"message_id": 1}}),
        ]
    )
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content)["text"])
        return next(answers)

    token = Secret("123:CANARY-TOKEN-abc")
    disp = Dispatcher(
        box,
        [
            TelegramReceiver(
                token, "42", api_base="http://127.0.0.1:9", transport=httpx.MockTransport(handler)
            )
        ],
    )
    # One a second, as a chat takes them: each event is its own message.
    accepted = 0
    for n in (1, 2, 3):
        box.enqueue([make_event(n)], ["telegram"], T0 + n)
        accepted += await disp.deliver("telegram", T0 + n)
    assert accepted == 1
    assert len(seen) == 3
    dead = box.dead_letters()
    assert [(r, e) for r, e, _ in dead] == [("telegram", "ev000001"), ("telegram", "ev000002")]
    assert "chat not found" in dead[0][2] and "blocked" in dead[1][2]
    assert box.depth() == {} and box.next_due_at("telegram") is None
    rows = box.conn.execute("SELECT next_attempt_at FROM outbox WHERE delivered_at IS NULL")
    assert all(r[0] == DEAD_AT for r in rows)
    await disp.deliver("telegram", T0 + 10**6)
    assert len(seen) == 3  # nothing dead is ever sent again


async def test_network_error_is_retried_and_token_scrubbed() -> None:
    box = _outbox()
    token = Secret("999:CANARY-TOKEN-xyz")

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}")

    disp = Dispatcher(
        box,
        [
            TelegramReceiver(
                token, "42", api_base="http://127.0.0.1:9", transport=httpx.MockTransport(handler)
            )
        ],
    )
    box.enqueue([make_event(1)], ["telegram"], T0)
    await disp.deliver("telegram", T0)
    err = box.conn.execute("SELECT last_error FROM outbox").fetchone()[0]
    assert "ConnectError" in err and "CANARY" not in err and "<secret>" in err


def test_enqueue_is_idempotent_per_receiver() -> None:
    box = _outbox()
    assert box.enqueue([make_event(1)], ["a", "b"], T0) == 2
    assert box.enqueue([make_event(1)], ["a", "b"], T0) == 0
    assert box.depth() == {"a": 1, "b": 1}


async def test_a_refused_digest_is_resent_one_by_one_and_nothing_is_lost() -> None:
    """Broken: a digest refused for good (one event Telegram cannot take) dead-lettered every
    alert in it; now its rows go out one at a time, still paced, and only the bad one dies."""
    box = _outbox()
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        text = json.loads(request.content)["text"]
        seen.append(text)
        if "alerts</b>" in text or "POISON" in text:
            return httpx.Response(400, json={"ok": False, "description": "Bad Request: nope"})
        return httpx.Response(200, json={"ok": True, "result": {"message_id": len(seen)}})

    receiver = TelegramReceiver(
        Secret("123:CANARY-TOKEN-abc"),
        "42",
        api_base="http://127.0.0.1:9",
        transport=httpx.MockTransport(handler),
    )
    disp = Dispatcher(box, [receiver])
    events = [make_event(n, description="POISON" if n == 2 else "fine") for n in (1, 2, 3)]
    box.enqueue(events, ["telegram"], T0)
    now, accepted = T0, 0
    for _ in range(10):
        accepted += await disp.deliver("telegram", now)
        now += 1
    assert accepted == 2 and len(seen) == 4  # the digest, then one message per event
    assert [(e, dead_reason(err)) for _, e, err in box.dead_letters()] == [("ev000002", "http_400")]
    assert box.dead_by_reason() == {("telegram", "http_400"): 1}


def test_dead_letters_are_counted_by_reason_in_metrics() -> None:
    """Broken: pf_notify_dead_letters had only a receiver label, so a chat that blocked the bot
    (403) and a message Telegram could not parse (400) looked the same."""
    from decimal import Decimal

    from prometheus_client import generate_latest

    from pf_tui.daemon.metrics import DaemonMetrics, FleetRow

    metrics = DaemonMetrics()
    dead = {("telegram", "http_400"): 2, ("webhook", "http_404"): 1}
    fleet = FleetRow(0, Decimal(0), Decimal(0), 0, 0, 0)
    metrics.update([], fleet, {}, {}, dead, {}, {}, 0.0)
    text = generate_latest(metrics.registry).decode()
    assert 'pf_notify_dead_letters{reason="http_400",receiver="telegram"} 2.0' in text
    assert 'pf_notify_dead_letters{reason="http_404",receiver="webhook"} 1.0' in text
