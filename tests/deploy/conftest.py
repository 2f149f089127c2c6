"""Fixtures for the deploy tests: one real daemon's ``/metrics`` text for the whole session."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.daemon.helpers import free_port

READY = ("pf_agent_pnl_today_usd{", "pf_agent_balance_usd{", "pf_api_latency_seconds_bucket")
FIGURES_IN = re.compile(r'^pf_agent_pnl_usd\{agent="[^"]+",label="[^"]+"\} -?\d', re.M)
"""At least one agent's P&L is a number (NaN until its first poll)."""


@pytest.fixture(scope="session")
def daemon_metrics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``/metrics`` of ``pf-tui --headless --demo`` once every agent's figures are in.

    A real process, started the way an operator starts it, so the names checked against the rules,
    the dashboard and the adapter are the ones production serves.
    """
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log_path = tmp_path_factory.mktemp("daemon") / "stderr.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pf_tui", "--headless", "--demo", "--agents", "3",
         "--metrics-port", str(port)],
        stdout=subprocess.DEVNULL, stderr=log, env=env,
    )  # fmt: skip
    text = ""
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.TransportError:
                text = ""
            if all(marker in text for marker in READY) and FIGURES_IN.search(text):
                break
            if proc.poll() is not None:
                break
            time.sleep(0.2)
        assert all(m in text for m in READY), log_path.read_bytes()[-2000:]
        yield text
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
