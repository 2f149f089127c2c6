"""The simulator's own tests talk to the served simulator through one plain httpx client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from pf_tui.sim.http.server import SimServer


@pytest.fixture
def client(sim_server: SimServer) -> Iterator[httpx.Client]:
    """A synchronous client with the served simulator (reset for this test) as its base URL."""
    with httpx.Client(base_url=sim_server.url, timeout=10) as c:
        yield c
