"""A daemon-shaped worker for the kill -9 test: evaluate 1,000 distinct alerts, deliver them.

``python -m tests.daemon.crash_worker STORE TELEGRAM_BASE WEBHOOK_URL`` evaluates one rule over
facts holding 1,000 unknown money actions (the same facts on every start), commits alert state and
outbox rows exactly as the daemon does, then delivers to Telegram and the webhook until the outbox
is empty, and exits 0. Killed at any point and restarted, it must lose nothing.
"""

from __future__ import annotations

import asyncio
import sys

from pf_tui.clock import SYSTEM_CLOCK
from pf_tui.core.alerts.engine import AlertEngine
from pf_tui.core.alerts.facts import AgentFacts
from pf_tui.core.alerts.rules import RuleKind, RuleSpec, Severity
from pf_tui.core.notify.alert_book import AlertBook
from pf_tui.core.notify.outbox import Dispatcher
from pf_tui.core.notify.receivers import TelegramReceiver, WebhookReceiver
from pf_tui.core.store.db import Store
from pf_tui.secret import Secret

AGENTS = 10
PER_AGENT = 100


async def main(store_path: str, telegram_base: str, webhook_url: str) -> int:
    store = Store(store_path)
    conn = store.connect()
    log = AlertBook(conn)
    rule = RuleSpec("unknown_action", RuleKind.UNKNOWN_ACTION, Severity.CRITICAL, repeat_s=10**6)
    engine = AlertEngine([rule], state=log.load_instances())
    facts = [
        AgentFacts(
            f"ag_{a:012d}", unknown_actions=tuple(f"act-{a:02d}-{i:03d}" for i in range(PER_AGENT))
        )
        for a in range(AGENTS)
    ]
    names = ["telegram", "webhook"]
    now = SYSTEM_CLOCK.now()
    before = AlertBook.snapshot(engine)
    events = engine.evaluate(facts, None, now)
    log.commit(engine, before, events, names, now)
    disp = Dispatcher(
        log.outbox,
        [
            TelegramReceiver(Secret("1:crash-token"), "42", api_base=telegram_base),
            WebhookReceiver(Secret(webhook_url)),
        ],
        batch=20,
    )

    async def drain(name: str) -> None:
        while True:
            await disp.deliver(name, SYSTEM_CLOCK.now())
            nxt = log.outbox.next_due_at(name)
            if nxt is None:
                return
            await asyncio.sleep(max(0.0, min(0.2, nxt - SYSTEM_CLOCK.now())))

    await asyncio.gather(drain("telegram"), drain("webhook"))
    await disp.close()
    conn.close()
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:4])))
