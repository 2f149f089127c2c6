"""The daemon against the simulator over 127.0.0.1: alerts reach Telegram and a webhook, /metrics
passes promtool, and no secret shows up anywhere it writes."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
import shutil
import sqlite3
from asyncio.subprocess import PIPE
from decimal import Decimal
from io import StringIO
from pathlib import Path

import httpx
import pytest

from pf_tui.config import AlertRule, Config
from pf_tui.config.model import LogNotifyConfig, StoreConfig, TelegramConfig, WebhookConfig
from pf_tui.daemon.logs import setup_logging
from pf_tui.daemon.loop import DaemonOptions, run_daemon
from pf_tui.secret import Secret
from pf_tui.sim.http.server import SimServer

from .helpers import free_port, webhook_sink

TOKEN = "987654:CANARY-telegram-token-q"
HOOK_SECRET = "CANARYhookSecret77"


HAS_MONEY = AlertRule(
    name="has_money",
    metric="balance_usd",
    op=">",
    threshold=Decimal("0"),
    clear_threshold=Decimal("0"),
    severity="info",
)
"""Holds for every agent of the demo fleet that has money (all but the newcomer, which has not
claimed the faucet yet): a run pages once per such agent."""


def with_money(config: Config) -> int:
    """How many of the demo's agents hold money: every one but the newcomer."""
    return sum(1 for a in config.agents if a.strategy != "newcomer")


def with_has_money(config: Config) -> Config:
    """``config`` with :data:`HAS_MONEY` added to its rules."""
    rules = (*config.alerts.rules, HAS_MONEY)
    return dataclasses.replace(config, alerts=dataclasses.replace(config.alerts, rules=rules))


def sim_config(sim_server: SimServer, tmp_path: Path, hook_url: str) -> Config:
    agents = httpx.get(f"{sim_server.url}/_sim/agents").json()["agents"]
    base = with_has_money(Config.demo(sim_server.url, agents, store_path=tmp_path / "store.db"))
    notify = dataclasses.replace(
        base.notify,
        telegram=TelegramConfig(
            enabled=True, token=Secret(TOKEN), chat_id="42", api_base=f"{sim_server.url}/telegram"
        ),
        webhook=WebhookConfig(enabled=True, url=Secret(f"{hook_url}?k={HOOK_SECRET}")),
        log=LogNotifyConfig(path=tmp_path / "alerts.jsonl"),
    )
    return dataclasses.replace(base, notify=notify, store=StoreConfig(path=tmp_path / "store.db"))


def secrets_of(config: Config) -> list[str]:
    out = [TOKEN, HOOK_SECRET]
    for a in config.agents:
        out += [k.reveal() for k in (a.casino_key, a.trading_key, a.wallet_key) if k]
    return out


async def test_once_then_run_with_metrics(sim_server: SimServer, tmp_path: Path) -> None:
    sent_url = f"{sim_server.url}/telegram/_sent"
    await asyncio.to_thread(httpx.delete, sent_url)
    logs = StringIO()
    with webhook_sink() as sink:
        config = sim_config(sim_server, tmp_path, sink.url)
        handler = setup_logging(config, logs)
        try:
            code = await run_daemon(config, once=True)
            assert code == 3
            once_bodies = list(sink.received)
            port = free_port()
            stop = asyncio.Event()
            task = asyncio.create_task(
                run_daemon(
                    config,
                    metrics_port=port,
                    stop=stop,
                    options=DaemonOptions(eval_interval_s=0.1, heartbeat_s=3600),
                )
            )
            metrics = ""
            async with httpx.AsyncClient() as client:
                for _ in range(300):
                    try:
                        metrics = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
                    except httpx.TransportError:
                        metrics = ""
                    if (
                        "pf_agent_balance_usd{" in metrics
                        and "pf_api_latency_seconds_bucket" in metrics
                    ):
                        break
                    await asyncio.sleep(0.05)
            stop.set()
            assert await asyncio.wait_for(task, 30) == 0
        finally:
            logging.getLogger("pf_tui").removeHandler(handler)
        bodies = list(sink.received)
    rules = sorted(b["commonLabels"]["alertname"] for b in once_bodies)
    assert rules.count("has_money") == with_money(config)
    telegram = (await asyncio.to_thread(httpx.get, sent_url)).json()["result"]
    # Every event to both receivers, once each: Telegram's are grouped into digests (one chat
    # takes about one message a second), so count the events inside each message.
    assert sum(events_in(m["text"]) for m in telegram) == len(bodies)
    assert len(telegram) < len(bodies)
    assert len({b["eventId"] for b in bodies}) == len(bodies)
    assert any(b["commonLabels"]["alertname"] == "Watchdog" for b in bodies)  # heartbeat message
    conn = sqlite3.connect(tmp_path / "store.db")
    # The daemon's fleet keeps its history points for the store (the console's does not).
    assert conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0] > 0
    store_dump = "\n".join(
        str(r)
        for t in ("alerts", "outbox", "kv", "samples")
        for r in conn.execute(f"SELECT * FROM {t}")
    )
    everything = "\n".join(
        [
            logs.getvalue(),
            metrics,
            json.dumps(bodies),
            json.dumps(telegram),
            store_dump,
            (tmp_path / "alerts.jsonl").read_text(),
        ]
    )
    for secret in secrets_of(config):
        assert secret not in everything
    assert "pf_fleet_balance_usd" in metrics and "pf_notify_outbox_depth" in metrics
    (tmp_path / "metrics.txt").write_text(metrics)
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (apt-get install -y prometheus): format not checked")
    check = await asyncio.create_subprocess_exec(
        promtool, "check", "metrics", stdin=PIPE, stdout=PIPE, stderr=PIPE
    )
    out, err = await check.communicate(metrics.encode())
    assert check.returncode == 0, (out + err).decode()


async def test_demo_config_pages_the_simulators_telegram(
    sim_server: SimServer, tmp_path: Path
) -> None:
    """`pf-tui --headless --demo` pages somewhere a newcomer can see: the demo config sends to the
    simulator's Telegram stand-in, with no token or chat to set up."""
    from pf_tui.config.demo import DEMO_CHAT

    async with httpx.AsyncClient(base_url=sim_server.url) as http:
        await http.delete("/telegram/_sent")
        agents = (await http.get("/_sim/agents")).json()["agents"]
        base = Config.demo(sim_server.url, agents, store_path=tmp_path / "store.db")
        telegram = base.notify.telegram
        assert telegram.enabled and telegram.api_base == f"{sim_server.url}/telegram"
        config = with_has_money(base)
        assert await run_daemon(config, once=True) == 3
        sent = (await http.get("/telegram/_sent")).json()["result"]
    assert sent and all(m["chat_id"] == DEMO_CHAT for m in sent)
    assert sum(m["text"].count("has_money") for m in sent) == with_money(config)


def events_in(text: str) -> int:
    """How many alert events one Telegram message carries: a digest says, a single one is one."""
    head = re.match(r"\S+ <b>(\d+) alerts</b>", text)
    return int(head[1]) if head else 1
