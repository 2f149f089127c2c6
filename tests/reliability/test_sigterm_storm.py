"""SIGTERM during an alert storm, then restart; then kill -9 during it, then restart.

The real daemon (``pf-tui --headless``, a separate process) pages a storm: one alert per agent
of a 120-agent fleet, to a webhook that takes 40 ms a request. It is stopped with SIGTERM in the
middle, restarted, killed with SIGKILL in the middle, restarted, and left to finish. Every alert
must arrive; after the graceful stop there must be no duplicate at all, and the kill may repeat
only what was in flight (one webhook POST). The figures recorded: alerts delivered, duplicates
after SIGTERM (0), duplicates after kill -9 (at most 1).

Broken looks like: a SIGTERM that drops queued alerts or re-sends delivered ones on restart
(rows marked delivered only in memory), or a restart that re-evaluates into new event ids.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pf_tui.demo import fetch_demo_agents
from pf_tui.sim.http.server import SimServer
from tests.daemon.helpers import Sink, webhook_sink

AGENTS = 120


def write_config(path: Path, sim_url: str, hook: str, folder: Path) -> None:
    lines = [
        "[api]",
        f'casino = "{sim_url}/casino/api/v1"',
        f'escrow = "{sim_url}/escrow"',
        f'faucet = "{sim_url}/faucet"',
        f'trading = "{sim_url}/trading/v1"',
        f'wallet = "{sim_url}/wallet/v1"',
        f'docs = "{sim_url}/api/v1"',
        'escrow_dialect = "streaming"',
        "[alerts.rules.has_money]",
        'metric = "balance_usd"',
        'op = ">"',
        "threshold = 0",
        'severity = "info"',
        "[notify.webhook]",
        "enabled = true",
        f'url = "{hook}"',
        "[notify.log]",
        f'path = "{folder / "alerts.jsonl"}"',
        "[store]",
        f'path = "{folder / "store.db"}"',
    ]
    # The simulator's last demo agent is a newcomer with no deposit: has_money never fires for
    # it. The fleet is the AGENTS before it, every one holding money.
    for agent in fetch_demo_agents(sim_url)[:AGENTS]:
        keys = agent["keys"]
        assert isinstance(keys, dict)
        lines += [
            "[[agents]]",
            f'id = "{agent["agent_id"]}"',
            f'casino_key = "{keys["casino"]}"',
            f'trading_key = "{keys["trading"]}"',
        ]
    path.write_text("\n".join(lines) + "\n")
    os.chmod(path, 0o600)


def has_money(sink: Sink) -> list[str]:
    with sink.lock:
        return [
            str(b["commonLabels"]["agent"])  # type: ignore[index]
            for b in sink.received
            if b["commonLabels"].get("alertname") == "has_money"  # type: ignore[union-attr]
        ]


def wait_for(sink: Sink, count: int, proc: subprocess.Popen[bytes], within_s: float = 300) -> None:
    """Until ``count`` alerts arrived. The bound only stops a hung run: a loaded 2-core CI box
    took over 90 s to start a daemon and deliver 30, so it waits on states, not on a pace."""
    deadline = time.monotonic() + within_s
    while len(has_money(sink)) < count:
        assert proc.poll() is None, "the daemon exited on its own"
        assert time.monotonic() < deadline, f"only {len(has_money(sink))} alerts arrived"
        time.sleep(0.02)


@pytest.mark.slow
@pytest.mark.timeout(900)  # three daemons, each bounded by wait_for's 300 s
def test_sigterm_and_kill_9_mid_storm_lose_nothing_and_repeat_only_in_flight(
    tmp_path: Path,
) -> None:
    repo = Path(__file__).resolve().parents[2]
    config = tmp_path / "config.toml"
    with (
        SimServer(seed=5, agents=AGENTS + 1, motion=False, limits="off") as sim,
        webhook_sink(delay_s=0.04) as sink,
    ):
        write_config(config, sim.url, sink.url, tmp_path)

        def daemon() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                [sys.executable, "-m", "pf_tui", "--headless", "--config", str(config)],
                cwd=repo,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

        first = daemon()
        wait_for(sink, AGENTS // 4, first)
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=30) == 0
        after_sigterm = list(sink.event_ids())
        assert len(has_money(sink)) < AGENTS, "the storm was over before the stop"

        second = daemon()
        wait_for(sink, len(has_money(sink)) + AGENTS // 4, second)
        no_dupes_yet = collections.Counter(sink.event_ids())
        second.send_signal(signal.SIGKILL)
        second.wait(timeout=30)

        third = daemon()
        wait_for(sink, AGENTS, third)  # counted with repeats; all distinct checked below
        deadline = time.monotonic() + 300
        while len(set(has_money(sink))) < AGENTS and time.monotonic() < deadline:
            time.sleep(0.05)
        third.send_signal(signal.SIGTERM)
        assert third.wait(timeout=30) == 0

    ids = sink.event_ids()
    agents = has_money(sink)
    assert len(set(agents)) == AGENTS  # every alert of the storm arrived
    sigterm_dupes = sum(n - 1 for n in collections.Counter(after_sigterm).values())
    before_kill_dupes = sum(n - 1 for n in no_dupes_yet.values())
    kill_dupes = sum(n - 1 for n in collections.Counter(ids).values())
    print(
        f"storm: {len(set(agents))} of {AGENTS} alerts arrived ({len(set(ids))} events with"
        f" the heartbeat), {sigterm_dupes} repeats after SIGTERM and restart,"
        f" {kill_dupes} after kill -9 and restart"
    )
    assert sigterm_dupes == 0 and before_kill_dupes == 0  # a graceful stop repeats nothing
    assert kill_dupes <= 1  # kill -9: at most the one POST in flight
