"""`--demo`: the embedded simulator on loopback, and a config that points pf-tui at it.

The simulator runs in a thread of this process with its own event loop and serves real HTTP on
127.0.0.1 (a free port), so the demo exercises exactly the code paths a real deployment uses:
the same client, the same transport, the same parsing.
"""

from __future__ import annotations

import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from pf_tui import usd

if TYPE_CHECKING:
    from pf_tui.config import Config


def fetch_demo_agents(sim_url: str, *, timeout: float = 5.0) -> list[dict[str, object]]:
    """The simulator's demo fleet (`GET /_sim/agents`), with money decoded as Decimal.

    Plain urllib: the simulator is on ``http://`` loopback, and an httpx client would load the
    CA bundle first (about 25 ms of the demo's cold start) for a request that never uses TLS.
    """
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
    with direct.open(f"{sim_url}/_sim/agents", timeout=timeout) as reply:
        body = reply.read()
    agents = usd.loads(body)["agents"]
    if not isinstance(agents, list):
        raise RuntimeError("the simulator's /_sim/agents reply has no agent list")
    return agents


@contextmanager
def demo_session(*, agents: int = 8, seed: int = 42, motion: bool = True) -> Iterator[Config]:
    """Start the simulator, yield a demo Config for it, stop the simulator on exit.

    Each demo gets a store of its own in a temporary directory, removed on exit: its journal and
    streams describe this simulator's escrows only. A store kept between demos would reconcile
    an earlier demo's unsettled actions against a new simulator that never saw them.
    """
    from pf_tui.config import Config
    from pf_tui.sim.http.server import SimServer

    server = SimServer(host="127.0.0.1", port=0, seed=seed, agents=agents, motion=motion)
    server.start()
    try:
        with tempfile.TemporaryDirectory(prefix="pf-tui-demo-") as scratch:
            yield Config.demo(
                server.url, fetch_demo_agents(server.url), store_path=Path(scratch) / "demo.db"
            )
    finally:
        server.stop()
