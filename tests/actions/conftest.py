"""Fixtures: a simulator with limits off and no motion, served on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pf_tui.sim.http.server import SimServer


@pytest.fixture
def sim() -> Iterator[SimServer]:
    """A fresh simulator (seed 7, 8 demo agents, no motion, limits off)."""
    server = SimServer(host="127.0.0.1", port=0, seed=7, agents=8, motion=False, limits="off")
    server.start()
    try:
        yield server
    finally:
        server.stop()
