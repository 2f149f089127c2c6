"""Config keys that were parsed and never used: ``[notify.webhook] timeout``,
``[notify.heartbeat] interval`` and ``[store] retention_days`` now reach the receiver, the daemon
and the store and change what they do."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from decimal import Decimal
from pathlib import Path

import httpx

from pf_tui.clock import FakeClock
from pf_tui.config.model import HeartbeatConfig
from pf_tui.core.notify.receivers import WebhookReceiver
from pf_tui.core.store.db import Sample
from pf_tui.daemon.loop import Daemon, DaemonOptions
from pf_tui.secret import Secret
from pf_tui.wiring import build_receivers
from tests.daemon.helpers import make_event
from tests.daemon.test_daemon_offline import dead_config


def test_the_webhook_timeout_bounds_a_receiver_that_never_answers(tmp_path: Path) -> None:
    """Broken: ``timeout`` was parsed and dropped, so a webhook that holds the connection open
    kept the delivery task waiting for httpx's default (and a trickling reply, forever); here the
    configured 0.2 s ends the exchange as a retryable failure that names the setting."""
    config = dead_config(tmp_path, "http://127.0.0.1:9/hook")
    webhook = dataclasses.replace(config.notify.webhook, timeout=0.2)
    config = dataclasses.replace(config, notify=dataclasses.replace(config.notify, webhook=webhook))
    (built,) = [r for r in build_receivers(config) if isinstance(r, WebhookReceiver)]
    assert built.timeout == 0.2  # the config's value reaches the receiver

    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return httpx.Response(200)

    async def run() -> None:
        receiver = WebhookReceiver(
            Secret("https://hooks.example/t/abc"),
            timeout=built.timeout,
            transport=httpx.MockTransport(hang),
        )
        try:
            started = time.monotonic()
            outcome = await receiver.send(make_event())
            took = time.monotonic() - started
        finally:
            await receiver.aclose()
        assert not outcome.ok and outcome.dead is None  # retried later, not dead-lettered
        assert outcome.error == "no reply within 0.2 s ([notify.webhook])"
        assert took < 10  # bounded by the setting, not by the server's 30 s

    asyncio.run(run())


def test_the_heartbeat_message_follows_the_configured_interval(tmp_path: Path) -> None:
    """Broken: the "still alive" message was fixed at every 6 hours whatever the config said.
    With ``interval = 600`` an hour of evaluations queues 6 messages per receiver (one per
    10-minute slot, none repeated within a slot); with ``interval = 0`` none at all."""

    def messages(interval: float) -> int:
        config = dead_config(tmp_path / str(int(interval)), "http://127.0.0.1:9/hook")
        beat = HeartbeatConfig(interval=interval)
        notify = dataclasses.replace(config.notify, heartbeat=beat)
        config = dataclasses.replace(config, notify=notify)
        clock = FakeClock()

        async def run() -> int:
            daemon = Daemon(config, clock, DaemonOptions())
            try:
                assert daemon.heartbeat_s == interval
                start = (clock.now() // 3600 + 1) * 3600  # an hour's boundary: 6 whole slots
                for second in range(0, 3600, 30):
                    daemon.heartbeat(start + second)
                rows = daemon.conn.execute(
                    "SELECT COUNT(*) FROM outbox WHERE receiver = 'webhook'"
                    " AND payload LIKE '%Watchdog%'"
                ).fetchone()
                return int(rows[0])
            finally:
                await daemon.close()

        return asyncio.run(run())

    assert messages(600) == 6
    assert messages(0) == 0


def test_the_daemon_prunes_history_to_retention_days(tmp_path: Path) -> None:
    """Broken: ``[store] retention_days`` was parsed and ``Store.prune`` never called, so history
    grew for ever. With ``retention_days = 2`` the daemon's prune drops a 3-day-old sample and
    keeps a 1-day-old one."""
    config = dead_config(tmp_path, "http://127.0.0.1:9/hook")
    config = dataclasses.replace(config, store=dataclasses.replace(config.store, retention_days=2))
    clock = FakeClock()

    async def run() -> list[float]:
        daemon = Daemon(config, clock, DaemonOptions())
        try:
            now = clock.now()
            daemon.store.put_samples(
                Sample("ag_0000000000a1", "balance", now - days * 86_400, Decimal(days))
                for days in (3, 1)
            )
            daemon.store.flush()
            await daemon.prune()
            rows = daemon.conn.execute("SELECT value FROM samples ORDER BY t").fetchall()
            return [float(v) for (v,) in rows]
        finally:
            await daemon.close()

    assert asyncio.run(run()) == [1.0]
