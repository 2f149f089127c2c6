"""A daemon whose API is dead (nothing listens): api_down fires, --once exits 3, no secret out."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import sqlite3
from io import StringIO
from pathlib import Path

import httpx

from pf_tui.clock import FakeClock
from pf_tui.config.model import (
    AgentConfig,
    AlertsConfig,
    ApiConfig,
    Config,
    LogNotifyConfig,
    NotifyConfig,
    StoreConfig,
    WebhookConfig,
)
from pf_tui.config.parse import default_alert_rules
from pf_tui.core.alerts.heartbeat import read_heartbeat
from pf_tui.daemon.logs import setup_logging
from pf_tui.daemon.loop import DaemonOptions, run_daemon
from pf_tui.secret import Secret

from .helpers import free_port, webhook_sink

CANARY_KEY = "sk_live_CANARY0123456789abcdef0123456789abcdef01234567"
CANARY_HOOK_TOKEN = "hooktokenCANARY42"


def dead_config(tmp_path: Path, hook_url: str, base: str | None = None) -> Config:
    """One agent whose API is at ``base`` (default: a port nothing listens on)."""
    base = base or f"http://127.0.0.1:{free_port()}"
    return Config(
        store=StoreConfig(path=tmp_path / "store.db"),
        api=ApiConfig(
            casino=base + "/casino/api/v1",
            escrow=base + "/escrow",
            faucet=base + "/faucet",
            trading=base + "/trading/v1",
            wallet=base + "/wallet/v1",
            docs=base + "/api/v1",
            timeout=0.5,
            transport="httpx",
        ),
        agents=(AgentConfig(id="ag_0000000000a1", label="alpha", casino_key=Secret(CANARY_KEY)),),
        alerts=AlertsConfig(rules=default_alert_rules()),
        notify=NotifyConfig(
            webhook=WebhookConfig(
                enabled=True, url=Secret(f"{hook_url}?token={CANARY_HOOK_TOKEN}")
            ),
            log=LogNotifyConfig(path=tmp_path / "alerts.jsonl"),
        ),
    )


async def test_once_api_down_exits_3_and_delivers(tmp_path: Path) -> None:
    stream = StringIO()
    with webhook_sink() as sink:
        config = dead_config(tmp_path, sink.url)
        handler = setup_logging(config, stream)
        try:
            code = await run_daemon(
                config, once=True, clock=FakeClock(), options=DaemonOptions(once_timeout_s=20)
            )
        finally:
            logging.getLogger("pf_tui").removeHandler(handler)
        assert code == 3
        bodies = sink.received
    # the agent's own threshold rules are unknown (no data), not "all good" and not firing
    assert sorted(b["commonLabels"]["alertname"] for b in bodies) == [
        "api_down",
        "fleet_error_rate",
    ]
    down = next(b for b in bodies if b["commonLabels"]["alertname"] == "api_down")
    assert down["commonLabels"]["agent"] == "ag_0000000000a1"
    lines = (tmp_path / "alerts.jsonl").read_text().splitlines()
    assert sorted(json.loads(x)["rule"] for x in lines) == ["api_down", "fleet_error_rate"]
    conn = sqlite3.connect(tmp_path / "store.db")
    rows = sorted(conn.execute("SELECT rule, state FROM alerts").fetchall())
    # The error rate is about the API itself, so it is read while the agent's figures are
    # missing and fires too; api_down inhibits its notification (it says it all).
    assert rows == [
        ("api_down", "firing"),
        ("error_rate", "firing"),
        ("fleet_error_rate", "firing"),
    ]
    beat = read_heartbeat(conn)
    assert beat is not None and beat.firing == 3 and beat.agents == 1
    dump = "\n".join(
        str(r) for t in ("alerts", "outbox", "kv") for r in conn.execute(f"SELECT * FROM {t}")
    )
    logs = stream.getvalue()
    for blob in (dump, logs, json.dumps(bodies), "\n".join(lines)):
        assert CANARY_KEY not in blob and CANARY_HOOK_TOKEN not in blob
    assert '"msg": "alert firing"' in logs


async def test_second_once_run_does_not_repeat(tmp_path: Path) -> None:
    with webhook_sink() as sink:
        config = dead_config(tmp_path, sink.url)
        clock = FakeClock()
        assert await run_daemon(config, once=True, clock=clock) == 3
        assert await run_daemon(config, once=True, clock=clock) == 3
        # still firing: no second message inside the repeat interval
        assert len(sink.received) == 2


async def test_metrics_served_and_stop_exits_0(tmp_path: Path) -> None:
    with webhook_sink() as sink:
        config = dead_config(tmp_path, sink.url)
        port = free_port()
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_daemon(
                config, metrics_port=port, stop=stop, options=DaemonOptions(eval_interval_s=0.05)
            )
        )
        text = ""
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                try:
                    text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
                except httpx.TransportError:
                    text = ""
                if "pf_agent_stale" in text and "pf_api_errors_total" in text:
                    break
                await asyncio.sleep(0.05)
        stop.set()
        assert await asyncio.wait_for(task, 20) == 0
    assert 'pf_agent_stale{agent="ag_0000000000a1",label="alpha"} 1.0' in text
    assert "pf_notify_outbox_depth" in text and "pf_fleet_escrow_queue_depth" in text
    assert CANARY_KEY not in text and CANARY_HOOK_TOKEN not in text


async def test_once_calls_figures_that_never_answered_stale(tmp_path: Path) -> None:
    """``--once`` waits for every first poll (here: a server that takes requests and never
    answers, well inside the client's timeout), then evaluates: a figure still missing is stale.
    The first-poll grace the running daemon gives figures not fetched yet must not let a cron
    check pass green with nothing read."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.read()  # never answers; returns when the daemon hangs up
        finally:
            writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        with webhook_sink() as sink:
            config = dead_config(tmp_path, sink.url, base)
            config = dataclasses.replace(config, api=dataclasses.replace(config.api, timeout=60.0))
            # The real clock: one second passes, far inside any figure's grace.
            code = await run_daemon(config, once=True, options=DaemonOptions(once_timeout_s=1.0))
            conn = sqlite3.connect(tmp_path / "store.db")
            rows = sorted(conn.execute("SELECT rule, state FROM alerts").fetchall())
    finally:
        server.close()
    assert ("data_stale", "firing") in rows, rows
    assert code == 3
