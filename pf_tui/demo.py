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
def demo_session(
    *, agents: int = 8, seed: int = 42, motion: bool = True, sim_url: str | None = None
) -> Iterator[Config]:
    """Start the simulator (or use the one at ``sim_url``), yield a demo Config for it, and stop
    what was started on exit.

    Each demo gets a store of its own in a temporary directory, removed on exit: its journal and
    streams describe this simulator's escrows only. A store kept between demos would reconcile
    an earlier demo's unsettled actions against a new simulator that never saw them. The
    directory is removed however the block ends (``q``, a signal turned into a quit, an error).
    """
    from pf_tui.config import Config
    from pf_tui.sim.http.server import SimServer

    server = None
    if sim_url is None:
        server = SimServer(host="127.0.0.1", port=0, seed=seed, agents=agents, motion=motion)
        server.start()
        sim_url = server.url
    try:
        fleet = _fetch_fleet(sim_url)
        with tempfile.TemporaryDirectory(prefix="pf-tui-demo-") as scratch:
            yield Config.demo(sim_url, fleet, store_path=Path(scratch) / "demo.db")
    finally:
        if server is not None:
            server.stop()


def _fetch_fleet(sim_url: str) -> list[dict[str, object]]:
    """The fleet of the simulator at ``sim_url``; a :class:`ConfigError` says why not."""
    from pf_tui.config import ConfigError

    url = sim_url.rstrip("/")
    try:
        return fetch_demo_agents(url)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise ConfigError(
            None,
            "--sim",
            f"no simulator answers GET {url}/_sim/agents ({type(exc).__name__}: {exc})",
            "start one with 'pf-tui sim' and pass the URL it prints",
        ) from None
