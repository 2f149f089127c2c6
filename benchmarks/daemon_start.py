"""Daemon start-up benchmark: ``pf-tui --headless`` to its first poll result (goal <= 150 ms).

    python benchmarks/daemon_start.py --agents 8 --runs 7

Two figures, each the median of ``--runs``, with a fresh store every run (migrations included)
and the simulator in its own process (``pf-tui sim``), so its CPU never slows the daemon:

- **start -> first poll** (the goal): from calling ``run_daemon(...)`` to its first poll result.
  The daemon opens the store, builds the client, poller, fleet state, alert engine and receivers,
  and starts polling; the first result is what an operator's first alert can be built on.
- **process -> first poll**: from spawning ``python -m pf_tui --headless --config FILE`` to the
  daemon's ``first poll`` log line, so the interpreter's start and every import count too. Shown
  beside the first figure; not the goal (the interpreter alone costs tens of milliseconds).

Also prints the cost of ``import pf_tui.daemon.loop`` in a fresh interpreter.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fleet_poll import start_sim

from pf_tui.config import Config
from pf_tui.daemon.loop import DaemonOptions, run_daemon
from pf_tui.demo import fetch_demo_agents

GOAL_S = 0.150
"""``--headless`` start to the first poll (issue 15 goal 4)."""


async def one_run(config: Config) -> float:
    """Seconds from calling ``run_daemon`` to its first poll result."""
    stop = asyncio.Event()
    first: list[float] = []

    def seen(t: float) -> None:
        first.append(t)
        stop.set()

    start = time.perf_counter()
    await run_daemon(
        config, stop=stop, options=DaemonOptions(on_first_poll=seen, drain_grace_s=0.5)
    )
    if not first:
        raise RuntimeError("the daemon stopped before any poll")
    return first[0] - start


def write_config(folder: Path, url: str, agents: list[dict[str, object]]) -> Path:
    """A config file for the simulator's agents (keys inline, mode 0600 in a 0700 folder)."""
    lines = [
        'profile = "bench"',
        "[api]",
        f'casino = "{url}/casino/api/v1"',
        f'escrow = "{url}/escrow"',
        f'faucet = "{url}/faucet"',
        f'trading = "{url}/trading/v1"',
        f'wallet = "{url}/wallet/v1"',
        f'docs = "{url}/api/v1"',
        "[store]",
        f'path = "{folder / "store.db"}"',
    ]
    for agent in agents:
        keys = agent["keys"]
        assert isinstance(keys, dict)
        lines += ["[[agents]]", f'id = "{agent["agent_id"]}"']
        for kind in ("casino", "trading", "wallet"):
            if keys.get(kind):
                lines.append(f'{kind}_key = "{keys[kind]}"')
    path = folder / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


def process_run(config_path: Path) -> float:
    """Seconds from spawning ``pf-tui --headless`` to its ``first poll`` log line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PF_")}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pf_tui", "--headless", "--config", str(config_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("msg") == "first poll":
                return time.perf_counter() - start
        raise RuntimeError(f"the daemon exited ({proc.wait()}) before its first poll")
    finally:
        proc.terminate()
        proc.wait(30)


def import_cost() -> float:
    """Seconds a fresh interpreter spends importing the daemon."""
    code = (
        "import time; t = time.perf_counter(); import pf_tui.daemon.loop; "
        "print(time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main() -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(f"# daemon_start: {args.agents} agents, load average {os.getloadavg()[0]:.1f} at start")
    sim, url = start_sim(args.agents)
    try:
        agents = fetch_demo_agents(url)
        times, process = [], []
        for i in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                config = Config.demo(url, agents, store_path=Path(tmp) / "store.db")
                seconds = asyncio.run(one_run(config))
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp)
                folder.chmod(0o700)
                whole = process_run(write_config(folder, url, agents))
            times.append(seconds)
            process.append(whole)
            print(
                f"run {i + 1}: start -> first poll {seconds * 1000:.1f} ms; "
                f"process -> first poll {whole * 1000:.0f} ms"
            )
    finally:
        sim.terminate()
        sim.wait(10)
    median = statistics.median(times)
    verdict = "OK" if median <= GOAL_S else "OVER"
    print(
        f"median start -> first poll: {median * 1000:.1f} ms over {args.runs} runs "
        f"({args.agents} agents; goal <= {GOAL_S * 1000:.0f} ms): {verdict}"
    )
    print(f"median process -> first poll: {statistics.median(process) * 1000:.0f} ms")
    print(f"import pf_tui.daemon.loop in a fresh interpreter: {import_cost() * 1000:.0f} ms")
    print(f"# load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
