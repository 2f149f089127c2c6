"""Notifications through the simulator's Telegram stand-in over 127.0.0.1, under a fake clock."""

from __future__ import annotations

import itertools
import re
import sqlite3
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pf_tui.core.alerts.engine import AlertEngine
from pf_tui.core.alerts.facts import AgentFacts
from pf_tui.core.notify.alert_book import AlertBook
from pf_tui.core.notify.format import TELEGRAM_LIMIT, telegram_html, utf16_len
from pf_tui.core.notify.outbox import Dispatcher
from pf_tui.core.notify.receivers import Outcome, TelegramReceiver
from pf_tui.core.store.schema import migrate
from pf_tui.secret import Secret
from pf_tui.sim.http.server import SimServer

from .helpers import BALANCE_LOW, T0, make_event

TOKEN = Secret("123456:CANARY-bot-token-zzz")


@pytest.fixture(autouse=True)
def _clean(sim_server: SimServer) -> None:
    httpx.delete(f"{sim_server.url}/telegram/_sent")
    httpx.post(f"{sim_server.url}/telegram/_faults", json={"every_n": 0, "retry_after": 1})


def sent(sim_server: SimServer) -> list[dict[str, object]]:
    return list(httpx.get(f"{sim_server.url}/telegram/_sent").json()["result"])


def _log(tmp_path: Path) -> AlertBook:
    conn = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    migrate(conn)
    return AlertBook(conn)


async def test_24h_message_count_matches_model(sim_server: SimServer, tmp_path: Path) -> None:
    engine = AlertEngine([BALANCE_LOW])
    log = _log(tmp_path)
    receiver = TelegramReceiver(TOKEN, "42", api_base=f"{sim_server.url}/telegram")
    disp = Dispatcher(log.outbox, [receiver])

    def balance(agent: str, t: int) -> str:
        h = t / 3600
        if agent == "a":  # persists 6 h, flaps inside `for` for 2 h, low again 12-14 h
            if h < 6 or 12 <= h < 14:
                return "40"
            if 6 <= h < 8:
                return "40" if (t // 120) % 2 == 0 else "60"
            if 14 <= h < 15:
                return "52"  # between trigger and clear: keeps firing
            return "60"
        # agent b: flaps for 24 h, each low spell 4 minutes: never past `for`
        return "40" if (t // 240) % 2 == 0 else "60"

    for t in range(0, 24 * 3600, 60):
        now = T0 + t
        facts = [AgentFacts(x, metrics={"balance_usd": Decimal(balance(x, t))}) for x in "ab"]
        before = AlertBook.snapshot(engine)
        events = engine.evaluate(facts, None, now)
        log.commit(engine, before, events, ["telegram"], now)
        await disp.deliver("telegram", now)
    await disp.close()

    def model() -> int:
        # agent a, episode 1: fires 00:05, repeats 01:05..05:05 (5), resolved at 06:01.
        # episode 2: fires 12:05, repeats 13:05, 14:05, resolved at 15:00. Agent b: nothing.
        return (1 + 5 + 1) + (1 + 2 + 1)

    messages = sent(sim_server)
    assert len(messages) == model()
    texts = [str(m["text"]) for m in messages]
    assert sum("RESOLVED" in x for x in texts) == 2
    assert all("<code>a</code>" in x for x in texts)
    rows = log.conn.execute("SELECT state, COUNT(*) FROM alerts GROUP BY state").fetchall()
    assert rows == [("resolved", 2)]


async def test_429_retry_after_honoured(sim_server: SimServer, tmp_path: Path) -> None:
    async with httpx.AsyncClient() as http:
        faults = {"every_n": 3, "retry_after": 30}
        await http.post(f"{sim_server.url}/telegram/_faults", json=faults)
    log = _log(tmp_path)
    attempts: list[tuple[float, bool]] = []
    now = T0

    class Recording(TelegramReceiver):
        async def _post(self, text: str) -> Outcome:
            outcome = await super()._post(text)
            attempts.append((now, outcome.ok))
            return outcome

    disp = Dispatcher(log.outbox, [Recording(TOKEN, "42", api_base=f"{sim_server.url}/telegram")])
    enqueued = 0
    for _ in range(80):
        if enqueued < 7:  # one new event a second: each its own message, paced
            log.enqueue([make_event(enqueued, description=f"event {enqueued}")], ["telegram"], now)
            enqueued += 1
        await disp.deliver("telegram", now)
        nxt = log.outbox.next_due_at("telegram")
        if nxt is None and enqueued == 7:
            break
        now = max(now + 1, nxt or now + 1)
    await disp.close()
    refused = [t for t, ok in attempts if not ok]
    assert len(refused) >= 2
    for t in refused:
        later = [u for u, _ in attempts if u > t]
        assert later and min(later) >= t + 30
        assert not [u for u, _ in attempts if t < u < t + 30]
    texts = "\n".join(str(m["text"]) for m in sent(sim_server))
    found = [int(n) for n in re.findall(r"event (\d+)", texts)]
    assert found == list(range(len(found))) and len(found) >= 7  # once each, in order


@pytest.mark.slow
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.text(
        alphabet=st.sampled_from(list("<>&/b\"' \n\U0001f600x"))
        | st.characters(blacklist_categories=("Cs",)),
        max_size=9000,
    )
)
def test_stand_in_accepts_any_alert_text(sim_server: SimServer, text: str) -> None:
    event = make_event(
        description=text,
        summary=text[:600],
        labels={"alertname": "x</b>", "severity": "warning", "agent": text[:64]},
    )
    html = telegram_html(event)
    assert utf16_len(html) <= TELEGRAM_LIMIT
    resp = httpx.post(
        f"{sim_server.url}/telegram/bot{TOKEN.reveal()}/sendMessage",
        json={"chat_id": "42", "text": html, "parse_mode": "HTML"},
    )
    assert resp.status_code == 200, resp.text


async def test_bad_chat_400_dead_letter_not_retried(sim_server: SimServer, tmp_path: Path) -> None:
    log = _log(tmp_path)
    disp = Dispatcher(
        log.outbox, [TelegramReceiver(TOKEN, "", api_base=f"{sim_server.url}/telegram")]
    )
    log.enqueue([make_event(1)], ["telegram"], T0)
    await disp.deliver("telegram", T0)
    await disp.deliver("telegram", T0 + 86400)
    await disp.close()
    dead = log.outbox.dead_letters()
    assert len(dead) == 1 and "chat_id is empty" in dead[0][2]
    assert disp.failed["telegram"] == 1


async def test_a_storm_of_500_alerts_arrives_grouped_paced_and_whole(
    sim_server: SimServer, tmp_path: Path
) -> None:
    """Broken: one message per alert, unpaced: 500 messages in a burst, which Telegram answers
    with 429s (and may block the bot for); or, grouped carelessly, alerts that never arrive.

    A group chat takes 20 messages a minute: the storm must come as digests at least 3 s apart,
    each within Telegram's 4,096 UTF-16 units, and every alert must be in exactly one of them.
    """
    log = _log(tmp_path)
    times: list[float] = []
    now = T0

    class Recording(TelegramReceiver):
        async def _post(self, text: str) -> Outcome:
            times.append(now)
            return await super()._post(text)

    receiver = Recording(TOKEN, "-1001234567890", api_base=f"{sim_server.url}/telegram")
    assert receiver.min_interval_s == 3.0
    disp = Dispatcher(log.outbox, [receiver])
    storm = [
        make_event(
            i, labels={"alertname": "balance_low", "severity": "warning", "agent": f"ag_s{i:04d}"}
        )
        for i in range(500)
    ]
    log.enqueue(storm, ["telegram"], now)
    for _ in range(1000):
        await disp.deliver("telegram", now)
        nxt = log.outbox.next_due_at("telegram")
        if nxt is None:
            break
        now = max(now + 0.5, nxt)  # the daemon's loop sleeps until the next slot
    await disp.close()
    messages = [str(m["text"]) for m in sent(sim_server)]
    agents = re.findall(r"<code>(ag_s\d{4})</code>", "\n".join(messages))
    assert sorted(agents) == sorted(f"ag_s{i:04d}" for i in range(500))  # each exactly once
    assert all(utf16_len(m) <= TELEGRAM_LIMIT for m in messages)
    assert len(messages) <= 30  # grouped: 500 alerts in a few digests
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 3.0  # paced: never faster than 20 a minute to a group
    assert log.outbox.depth() == {} and not log.outbox.dead_letters()
    print(f"storm: 500 alerts in {len(messages)} messages over {times[-1] - times[0]:.0f} s")
