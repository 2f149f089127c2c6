"""Fixtures: a simulator with limits off and no motion, served on 127.0.0.1, and an engine on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from pf_tui.sim.http.server import SimServer

from .helpers import Harness


@pytest.fixture
def sim() -> Iterator[SimServer]:
    """A fresh simulator (seed 7, 8 demo agents, no motion, limits off)."""
    server = SimServer(host="127.0.0.1", port=0, seed=7, agents=8, motion=False, limits="off")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def harness(sim: SimServer, tmp_path: Path) -> AsyncIterator[Harness]:
    """An engine on ``sim`` with a fresh store: no amount limit, not read-only."""
    async with Harness(sim.url, tmp_path / "s.sqlite3") as h:
        yield h
