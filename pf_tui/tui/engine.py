"""Builds the engine the TUI drives from a Config: one client, one poller, one fleet state.

Wiring only; the engine itself lives in :mod:`pf_tui.core` and :mod:`pf_tui.api`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pf_tui.api.bases import ServiceBases
from pf_tui.api.client import PurpleFleaClient
from pf_tui.clock import Clock
from pf_tui.config import Config
from pf_tui.core import wiring
from pf_tui.core.fleet import FleetState
from pf_tui.core.poller import Poller


@dataclass
class Engine:
    """The live parts: close the client when done."""

    client: PurpleFleaClient
    poller: Poller
    fleet: FleetState

    async def aclose(self) -> None:
        """Stop polling and close every connection pool."""
        await self.poller.stop()
        await self.client.aclose()


def build_engine(config: Config, clock: Clock, *, seed: int | None = None) -> Engine:
    """Client, poller and fleet state for every agent of ``config`` (polling not started)."""
    api = config.api
    bases = ServiceBases(
        casino=api.casino, escrow=api.escrow, faucet=api.faucet,
        trading=api.trading, wallet=api.wallet, docs=api.docs,
    )
    client = PurpleFleaClient(bases, timeout=api.timeout, transport=api.transport, clock=clock)
    poller, fleet = wiring.build_engine(client, config, clock=clock, seed=seed)
    return Engine(client, poller, fleet)
