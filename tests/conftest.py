"""Shared fixtures: the simulator in-process (``sim_app``) and on a real loopback port (``sim_server``)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from hypothesis import HealthCheck, settings
from starlette.applications import Starlette

from pf_tui.sim.http.app import create_app
from pf_tui.sim.http.server import SimServer

settings.register_profile(
    "ci",
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=False,
)
settings.register_profile(
    "thorough", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

SIM_SEED = 7
SIM_AGENTS = 8


def asgi_client(
    app: Starlette, *, client_ip: str = "127.0.0.1", **kwargs: object
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` that talks to ``app`` in-process (no socket), base URL ``http://sim``."""
    transport = httpx.ASGITransport(app=app, client=(client_ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://sim", **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def sim_app() -> Starlette:
    """The simulator app in-process: seed 7, 8 demo agents, motion off (clock paused)."""
    return create_app(seed=SIM_SEED, agents=SIM_AGENTS, motion=False)


@pytest.fixture
async def sim_client(sim_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client bound to ``sim_app``."""
    async with asgi_client(sim_app) as client:
        yield client


@pytest.fixture(scope="session")
def _sim_server_session() -> Iterator[SimServer]:
    server = SimServer(host="127.0.0.1", port=0, seed=SIM_SEED, agents=SIM_AGENTS, motion=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sim_server(_sim_server_session: SimServer) -> SimServer:
    """The simulator served by uvicorn on 127.0.0.1 (``.url``, ``.sim``), reset before each test."""
    response = httpx.post(f"{_sim_server_session.url}/_sim/reset", timeout=10)
    response.raise_for_status()
    return _sim_server_session


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The `slow` set (1,000 actions, kill loops) gets a longer per-test timeout than the default."""
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(600))


@pytest.fixture(autouse=True)
def _restore_pf_tui_logger() -> Iterator[None]:
    """The daemon's setup_logging takes over the ``pf_tui`` logger (its own handler, no
    propagation); put it back after each test so later tests' ``caplog`` still sees records."""
    import logging

    logger = logging.getLogger("pf_tui")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers, logger.level, logger.propagate = saved[0], saved[1], saved[2]
