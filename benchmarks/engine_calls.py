"""The poll engine's work per read, counted: Python and C calls per request (cProfile).

    python benchmarks/engine_calls.py --agents 1000 --seconds 10

CPU time per request (``fleet_poll.py``) is the figure the goals name, but on these shared
cores two runs of the same code differ by 10% and more, so a change worth 2% cannot be seen in
it. The number of calls behind each read barely moves from run to run: it tells whether a change
removed work, and the table says where the work is. cProfile slows everything several times, so
its times (per read, "profiled") are for ranking only; the timed figures come from
``fleet_poll.py``.

The engine is built as ``fleet_poll.py`` builds it (``wiring.build_poll_engine``, the http1
read path, uvloop) and polls a simulator in its own process for a warm-up (every figure fetched
once, the reply cache filled) and then ``--seconds`` under the profiler.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys

import _process

from pf_tui import event_loop
from pf_tui.api.bases import ServiceBases
from pf_tui.api.client import PurpleFleaClient
from pf_tui.api.retry import RetryPolicy
from pf_tui.config import Config
from pf_tui.demo import fetch_demo_agents
from pf_tui.wiring import build_poll_engine, poll_latency, poll_transport

WARM_S = 12.0
"""Unprofiled polling first: the first round parses every body; later rounds mostly hit the
reply cache, as a running engine does."""


async def _count(url: str, seconds: float) -> tuple[int, pstats.Stats]:
    agents = fetch_demo_agents(url)
    client = PurpleFleaClient(
        ServiceBases.for_simulator(url),
        transport=poll_transport("aiohttp"),
        retry=RetryPolicy(max_attempts=1),
        timeout=10.0,
        max_connections=64,
        latency=poll_latency(),
    )
    engine = build_poll_engine(
        Config.demo(url, agents), client=client, seed=1, max_concurrency=64, keep_samples=True
    )
    poller, fleet = engine.poller, engine.fleet

    async def consume() -> None:
        while True:
            fleet.apply_many(await poller.batch())
            fleet.drain_samples()

    def requests() -> int:
        stats = poller.stats
        return sum(stats.totals(e)[0] for e in stats.endpoints())

    async with poller:
        consumer = asyncio.create_task(consume())
        await asyncio.sleep(WARM_S)
        before = requests()
        profile = cProfile.Profile()
        profile.enable()
        await asyncio.sleep(seconds)
        profile.disable()
        done = requests() - before
        consumer.cancel()
    await client.aclose()
    return done, pstats.Stats(profile)


def _where(key: tuple[str, int, str]) -> str:
    path, line, name = key
    return name if path == "~" else f"{os.path.basename(path)}:{line} {name}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--top", type=int, default=30, help="functions listed, by calls")
    args = parser.parse_args()
    proc, url = _process.start_sim(args.agents, "--seed", "1", "--no-story")
    try:
        done, stats = event_loop.run(_count(url, args.seconds))  # uvloop, as the product runs
    finally:
        proc.terminate()
        proc.wait()
    table = stats.stats  # type: ignore[attr-defined]  # pstats keeps its rows there
    calls = sum(row[1] for row in table.values())
    print(f"# engine_calls: {args.agents} agents, {done} reads profiled over {args.seconds:.0f} s")
    print(f"calls per read  {calls / max(done, 1):.1f}  (ce47c78: 172.5 at 1,000 agents)")
    print(f"{'calls/read':>10} {'us/read':>8}  function (times profiled: for ranking only)")
    rows = sorted(table.items(), key=lambda kv: -kv[1][1])[: args.top]
    for key, (_, ncalls, tottime, _, _) in rows:
        print(f"{ncalls / max(done, 1):10.2f} {1e6 * tottime / max(done, 1):8.2f}  {_where(key)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
