"""Two sharded daemons against one simulator: together they watch every agent exactly once, each
from a store of its own, and every series they serve carries its ``shard`` label."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx

from pf_tui.config import Config
from pf_tui.daemon.loop import DaemonOptions, run_daemon
from pf_tui.shard import Shard
from pf_tui.sim.http.server import SimServer
from pf_tui.wiring import shard_config

from .helpers import free_port

SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})? ")


async def _scrape(port: int, ready: str) -> str:
    text = ""
    async with httpx.AsyncClient() as client:
        for _ in range(400):
            try:
                text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
            except httpx.TransportError:
                text = ""
            if ready in text:
                return text
            await asyncio.sleep(0.05)
    return text


async def test_two_shards_watch_every_agent_once(sim_server: SimServer, tmp_path: Path) -> None:
    """Breaking it: a shard that polls agents of the other (or none), a shared store, or a series
    served without its ``shard`` label."""
    agents = (await asyncio.to_thread(httpx.get, f"{sim_server.url}/_sim/agents")).json()["agents"]
    whole = Config.demo(sim_server.url, agents, store_path=tmp_path / "pf-tui.db")
    shards = [Shard(0, 2), Shard(1, 2)]
    configs = [shard_config(whole, s) for s in shards]
    ports = [free_port(), free_port()]
    stop = asyncio.Event()
    options = DaemonOptions(eval_interval_s=0.1, heartbeat_s=3600)
    tasks = [
        asyncio.create_task(run_daemon(c, metrics_port=p, stop=stop, options=options, shard=s))
        for c, p, s in zip(configs, ports, shards, strict=True)
    ]
    try:
        texts = [await _scrape(p, "pf_agent_balance_usd{") for p in ports]
    finally:
        stop.set()
        codes = await asyncio.wait_for(asyncio.gather(*tasks), 30)
    assert codes == [0, 0]
    seen: list[set[str]] = []
    for shard, config, text in zip(shards, configs, texts, strict=True):
        samples = [SAMPLE.match(line) for line in text.splitlines() if not line.startswith("#")]
        assert samples and all(m is not None for m in samples)
        for m in samples:
            assert m is not None
            assert f'shard="{shard.label}"' in (m["labels"] or ""), m.group(0)
        assert f'pf_fleet_agents{{shard="{shard.label}"}} {float(len(config.agents))}' in text
        seen.append(set(re.findall(r'pf_agent_balance_usd\{agent="([^"]+)"', text)))
        assert seen[-1] == {a.id for a in config.agents}
    assert not seen[0] & seen[1]
    assert seen[0] | seen[1] == {a["agent_id"] for a in agents}
    assert [c.store.path.name for c in configs] == [
        "pf-tui.shard-0-of-2.db",
        "pf-tui.shard-1-of-2.db",
    ]
    assert all(c.store.path.exists() for c in configs)
    assert not whole.store.path.exists()  # nobody opened the unsharded store
