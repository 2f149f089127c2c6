"""The canary check: no configured secret in any output, file, table row, payload or screen.

Every secret is a unique canary: each agent's three keys, the bot token, the webhook URL (its
token in the path and the query) and the dead man's URL. Every server pf-tui talks to is made to
fail and to echo what it was sent (:mod:`tests.reliability.canary_server`): keys come back in
200 replies, in decode errors, in error bodies of every status, another agent's too; the webhook
and Telegram echo their paths on 404/400; the dead man's switch echoes its path on 500.

Then the daemon runs (once, then its loop with ``/metrics`` and the dead man's switch) and the
console runs on every tab, and everything they produced is searched for every canary, raw,
base64, URL-encoded and JSON-escaped: stderr, every file under the run's folder (the store with
its -wal and -shm, the JSON alert log), every row of every table, every payload sent to a
receiver, ``/metrics``, and each tab's screen. The figure recorded: 0 hits.

Broken looks like: the webhook token in the outbox's ``last_error`` (only the whole URL was
scrubbed), a key from a 200 reply or a decode error in the alert log, the payloads and the status
bar, another agent's key in an error, a key as a pair name on the Positions tab.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import sqlite3
from io import StringIO
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx

from pf_tui.config import AgentConfig, AlertsConfig, Config, default_alert_rules
from pf_tui.config.model import (
    ApiConfig,
    HeartbeatConfig,
    LogNotifyConfig,
    NotifyConfig,
    StoreConfig,
    TelegramConfig,
    WebhookConfig,
)
from pf_tui.daemon.logs import setup_logging
from pf_tui.daemon.loop import DaemonOptions, run_daemon
from pf_tui.secret import Secret
from pf_tui.tui.app import PfApp
from tests.daemon.helpers import free_port
from tests.reliability.canary_server import echo_server

WEBHOOK_TOKEN = "whCANARYtoken7f3a9c2e"
WEBHOOK_QUERY = "whqCANARY51d0b8"
BOT_TOKEN = "555000111:CANARYbotTOKENxyzABC123"
DEADMAN_TOKEN = "dmCANARY-0f9e8d7c-6b5a"


def key(agent: int, kind: str) -> str:
    return f"sk_{kind}_CANARY{agent}_{kind[::-1]}_0123456789abcdef0123456789abcdef"


def forms(secret: str) -> dict[str, str]:
    """How a leak may look: raw, base64 (both alphabets, padded or not), URL-encoded, JSON."""
    raw = secret.encode()
    out = {
        "raw": secret,
        "base64": base64.b64encode(raw).decode().rstrip("="),
        "base64url": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "urlencoded": quote(secret, safe=""),
        "urlencoded+": quote_plus(secret),
        "json": json.dumps(secret)[1:-1],
        "json/": json.dumps(secret)[1:-1].replace("/", "\\/"),
    }
    return {name: form for name, form in out.items() if len(form) >= 8}


def canaries(echo_url: str) -> list[str]:
    out = [key(a, kind) for a in (1, 2) for kind in ("live", "trade", "wallet")]
    out += [BOT_TOKEN, BOT_TOKEN.split(":", 1)[1], WEBHOOK_TOKEN, WEBHOOK_QUERY, DEADMAN_TOKEN]
    out += [webhook_url(echo_url), deadman_url(echo_url)]
    return out


def webhook_url(base: str) -> str:
    return f"{base}/hook/{WEBHOOK_TOKEN}?k={WEBHOOK_QUERY}"


def deadman_url(base: str) -> str:
    return f"{base}/deadman/{DEADMAN_TOKEN}"


def config(base: str, folder: Path) -> Config:
    agents = tuple(
        AgentConfig(
            id=f"ag_0000000000b{n}",
            label=f"canary-{n}",
            casino_key=Secret(key(n, "live"), "env:PF_C"),
            trading_key=Secret(key(n, "trade"), "env:PF_T"),
            wallet_key=Secret(key(n, "wallet"), "env:PF_W"),
            base_address="0x" + "ab" * 20,
        )
        for n in (1, 2)
    )
    return Config(
        store=StoreConfig(path=folder / "data" / "pf-tui.db"),
        api=ApiConfig(
            casino=base + "/casino",
            escrow=base + "/escrow",
            faucet=base + "/faucet",
            trading=base + "/trading",
            wallet=base + "/wallet",
            docs=base + "/docs",
            timeout=2.0,
            escrow_dialect="streaming",
            transport="httpx",
        ),
        agents=agents,
        alerts=AlertsConfig(rules=default_alert_rules()),
        notify=NotifyConfig(
            telegram=TelegramConfig(
                enabled=True,
                token=Secret(BOT_TOKEN, "env:PF_TG"),
                chat_id="42",
                api_base=base + "/telegram",
            ),
            webhook=WebhookConfig(
                enabled=True, url=Secret(webhook_url(base), "env:PF_WH"), timeout=2
            ),
            log=LogNotifyConfig(path=folder / "logs" / "alerts.jsonl"),
            heartbeat=HeartbeatConfig(
                interval=3600,
                deadman_url=Secret(deadman_url(base), "env:PF_DM"),
                deadman_interval=1,
            ),
        ),
    )


async def run_daemon_twice(cfg: Config, stderr: StringIO) -> str:
    """``--once`` (every rule fires, every receiver refuses and echoes), then the loop for a few
    seconds with ``/metrics`` and the dead man's switch; the metrics text."""
    handler = setup_logging(cfg, stderr)
    try:
        assert await run_daemon(cfg, once=True, options=DaemonOptions(once_timeout_s=15)) == 3
        port = free_port()
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_daemon(
                cfg, metrics_port=port, stop=stop, options=DaemonOptions(eval_interval_s=0.2)
            )
        )
        await asyncio.sleep(3.0)
        async with httpx.AsyncClient() as http:
            metrics = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
        stop.set()
        assert await asyncio.wait_for(task, 20) == 0
    finally:
        logging.getLogger("pf_tui").removeHandler(handler)
    return metrics


async def console_screens(cfg: Config) -> list[str]:
    """Each tab of the console on the hostile server, as the text of its screenshot."""
    app = PfApp(cfg, tick_s=0.0)
    screens: list[str] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(3.0)  # every figure polled: failures and echoes included
        for tab in "12345":
            await pilot.press(tab)
            await pilot.pause(0.3)
            screens.append(app.export_screenshot())
        screens.append(str(app.fleet_view.last_error if app.fleet_view else ""))
    return screens


def files_under(folder: Path) -> dict[str, str]:
    """Every file the run left (the store, its -wal and -shm, the alert log), as text."""
    return {
        f"file {path.relative_to(folder)}": path.read_bytes().decode("latin-1")
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def store_dump(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


async def test_no_canary_anywhere(tmp_path: Path) -> None:
    with echo_server(other_key=key(2, "live")) as echo:
        cfg = config(echo.url, tmp_path)
        stderr = StringIO()
        metrics = await run_daemon_twice(cfg, stderr)
        screens = await console_screens(cfg)
        payloads = list(echo.payloads)
    outputs: dict[str, str] = {
        "stderr": stderr.getvalue(),
        "metrics": metrics,
        "tables": store_dump(cfg.store.path),
        **{f"payload {n}": p for n, p in enumerate(payloads)},
        **{f"screen {n}": s for n, s in enumerate(screens)},
    }
    outputs.update(files_under(tmp_path))
    # The run did what it should: failures were seen, echoed, logged, stored and paged.
    assert payloads and "<secret>" in outputs["tables"]
    assert any("dead man's switch call failed" in line for line in stderr.getvalue().splitlines())
    hits = [
        f"{name}: {secret[:14]}... as {how}"
        for name, text in outputs.items()
        for secret in canaries(echo.url)
        for how, form in forms(secret).items()
        if form in text
    ]
    print(f"canary check: {len(outputs)} outputs searched, {len(hits)} hits")
    assert hits == []
