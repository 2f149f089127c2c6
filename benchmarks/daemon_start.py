"""Daemon start-up benchmark: from ``run_daemon(...)`` to the first poll result (goal <= 0.5 s).

    python benchmarks/daemon_start.py --agents 8 --runs 7

Each run opens a fresh store (migrations included), builds the client, poller, fleet state,
alert engine and receivers, starts polling the simulator (served on 127.0.0.1 in this process's
background thread), and stops at the first poll result. Prints every run and the median. Also
prints the cost of ``import pf_tui.daemon.loop`` in a fresh interpreter (what ``pf-tui --headless``
pays before any of that).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from pf_tui.config import Config
from pf_tui.daemon.loop import DaemonOptions, run_daemon
from pf_tui.sim.http.server import SimServer


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
    with SimServer(seed=7, agents=args.agents, motion=False) as sim:
        agents = httpx.get(f"{sim.url}/_sim/agents").json()["agents"]
        times = []
        for i in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                config = Config.demo(sim.url, agents, store_path=Path(tmp) / "store.db")
                seconds = asyncio.run(one_run(config))
            times.append(seconds)
            print(f"run {i + 1}: start -> first poll {seconds * 1000:.1f} ms")
    median = statistics.median(times)
    print(
        f"median start -> first poll: {median * 1000:.1f} ms over {args.runs} runs "
        f"({args.agents} agents; goal <= 500 ms): {'OK' if median <= 0.5 else 'OVER'}"
    )
    print(f"import pf_tui.daemon.loop in a fresh interpreter: {import_cost() * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
