"""Shared helpers for the client tests: a client over MockTransport with a fake clock."""

from __future__ import annotations

import random
from collections.abc import Callable

import httpx

from pf_tui.api import PurpleFleaClient, RetryPolicy, ServiceBases
from pf_tui.clock import FakeClock

CANARY = "sk_live_CANARY0123456789abcdef0123456789abcdef01234567"
CANARY_TRADE = "sk_trade_CANARY_9f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6b5a4"
CANARY_WALLET = "pk_live_CANARY_00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff"
BALANCE_OK = b'{"agent_id": "ag_0123456789ab", "balance_usd": 5, "_info": {}}'


def mock_client(
    handler: Callable[[httpx.Request], httpx.Response],
    *,
    retry: RetryPolicy | None = None,
    seed: int = 1,
) -> tuple[PurpleFleaClient, FakeClock]:
    """A client whose every service goes to ``handler``; sleeps are recorded on the clock."""
    clock = FakeClock()
    client = PurpleFleaClient(
        ServiceBases.for_simulator("http://sim.test"),
        transport=httpx.MockTransport(handler),
        retry=retry,
        clock=clock,
        rng=random.Random(seed),
    )
    return client, clock


def agent_of(client: PurpleFleaClient):
    """An agent holding the three canary keys."""
    return client.agent(
        "ag_0123456789ab", casino_key=CANARY, trading_key=CANARY_TRADE, wallet_key=CANARY_WALLET
    )
