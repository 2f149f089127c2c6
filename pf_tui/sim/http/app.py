"""``create_app``: the Starlette app that serves every service of docs/api.md on one port."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import TypedDict

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route

from pf_tui.sim.http.pipeline import Ctx, Endpoint, ExactPaths
from pf_tui.sim.http.routes import casino as casino_routes
from pf_tui.sim.http.routes import docs as docs_routes
from pf_tui.sim.http.routes.control import control_routes, telegram_routes
from pf_tui.sim.http.routes.escrow import classic_routes, docs_escrow_mount_routes
from pf_tui.sim.http.routes.services import faucet_routes, trading_routes, wallet_routes
from pf_tui.sim.http.routing import catch_all, health, route
from pf_tui.sim.model.state import Simulator
from pf_tui.usd import JSON

MOUNTS = {
    "casino": "/casino/api/v1",
    "escrow": "/escrow",
    "escrow_streaming": "/escrow/api/v1",
    "faucet": "/faucet",
    "trading": "/trading/v1",
    "wallet": "/wallet/v1",
    "docs": "/api/v1",
    "telegram": "/telegram",
}
TICK_S = 0.25


class AppOptions(TypedDict, total=False):
    """:func:`create_app`'s keyword arguments, as :class:`~pf_tui.sim.http.server.SimServer`
    passes them on."""

    seed: int
    agents: int
    faults: list[JSON] | None
    limits: str
    motion: bool
    story: bool
    start_time: float | None


def create_app(
    *,
    seed: int = 0,
    agents: int = 8,
    faults: list[JSON] | None = None,
    limits: str = "production",
    motion: bool = True,
    story: bool = True,
    start_time: float | None = None,
) -> Starlette:
    """The simulator app; ``app.state.sim`` is the :class:`~pf_tui.sim.model.state.Simulator`.

    ``motion=False`` starts with the clock paused and the demo fleet still (tests); only
    ``/_sim/clock`` then moves time. ``story=False`` leaves out the demo's scripted incidents
    (:mod:`pf_tui.sim.model.story`). Raises ``ValueError`` for a bad ``limits`` spec or fault
    rule.
    """
    sim = Simulator(
        seed=seed,
        agents=agents,
        faults=faults,
        limits=limits,
        motion=motion,
        story=story,
        start_time=start_time,
    )

    def index(ctx: Ctx) -> dict[str, JSON]:
        return {"service": "purple-flea-simulator", "mounts": MOUNTS, "controls": "/_sim"}

    routes = [
        Mount(MOUNTS["casino"], routes=casino_routes.routes(sim)),
        health(sim, "casino", "/casino/health"),
        Mount(MOUNTS["escrow_streaming"], routes=docs_escrow_mount_routes(sim)),
        Mount(MOUNTS["escrow"], routes=classic_routes(sim)),
        Mount(MOUNTS["faucet"], routes=faucet_routes(sim)),
        Mount(MOUNTS["trading"], routes=trading_routes(sim)),
        health(sim, "trading", "/trading/health"),
        Mount(MOUNTS["wallet"], routes=wallet_routes(sim)),
        health(sim, "wallet", "/wallet/health"),
        Mount(MOUNTS["docs"], routes=docs_routes.routes(sim)),
        Mount(MOUNTS["telegram"], routes=telegram_routes(sim)),
        Mount("/_sim", routes=control_routes(sim)),
        route(sim, "simulator", "/", {"GET": index}),
        catch_all(sim, "simulator"),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(_drive(sim))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = Starlette(routes=routes, lifespan=lifespan)
    exact: dict[str, Endpoint] = {}
    _record_exact_paths(routes, exact)
    app.add_middleware(ExactPaths, paths=exact)
    app.state.sim = sim
    # The same paths let the HTTP protocol answer plain reads itself (protocol.py).
    app.state.exact_paths = exact
    return app


def _record_exact_paths(routes: Sequence[BaseRoute], paths: dict[str, Endpoint]) -> None:
    """Point every pipeline endpoint under ``routes`` at ``paths`` (see :class:`ExactPaths`)."""
    for item in routes:
        if isinstance(item, Mount):
            _record_exact_paths(item.routes, paths)
        elif isinstance(item, Route) and isinstance(item.endpoint, Endpoint):
            item.endpoint.exact_paths = paths


async def _drive(sim: Simulator) -> None:
    """Real-time mode: run due jobs and fleet steps as wall time passes (paused means frozen)."""
    while True:
        await asyncio.sleep(TICK_S)
        sim.tick()
