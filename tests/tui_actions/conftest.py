"""One frozen simulator (seed 7, motion off after its warm-up) for the money-keys tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pf_tui.sim.http.server import SimServer
from tests.tui.harness import frozen_sim


@pytest.fixture(scope="module")
def server() -> Iterator[SimServer]:
    """A frozen simulator shared by a module (each test opens streams of its own)."""
    with frozen_sim() as sim:
        yield sim
