"""A simulator on 127.0.0.1, a store in a temp dir, and an ActionEngine wired to both."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from pf_tui import usd
from pf_tui.api.bases import ServiceBases
from pf_tui.api.client import PurpleFleaClient
from pf_tui.api.retry import RetryPolicy
from pf_tui.clock import FakeClock
from pf_tui.core.money.engine import ActionEngine
from pf_tui.core.money.wire import ClientWire
from pf_tui.core.store.db import Store
from pf_tui.secret import Secret


def sim_get(url: str, path: str) -> Any:
    """A control-route GET with money decoded as Decimal."""
    reply = httpx.get(f"{url}{path}", timeout=10)
    reply.raise_for_status()
    return usd.loads(reply.content)


def sim_post(url: str, path: str, body: Any) -> Any:
    """A control-route POST."""
    reply = httpx.post(
        f"{url}{path}",
        content=usd.dumps(body),
        timeout=10,
        headers={"Content-Type": "application/json"},
    )
    reply.raise_for_status()
    return usd.loads(reply.content)


def agents(url: str) -> list[dict[str, Any]]:
    """The simulator's demo agents with their keys."""
    return sim_get(url, "/_sim/agents")["agents"]  # type: ignore[no-any-return]


def casino_balance(url: str, agent_id: str) -> Decimal:
    """An agent's casino balance as the simulator's state has it."""
    for a in sim_get(url, "/_sim/state")["agents"]:
        if a["agent_id"] == agent_id:
            return Decimal(str(a["casino_usd"]))
    raise KeyError(agent_id)


def money_requests(url: str, since_seq: int = 0) -> list[dict[str, Any]]:
    """Every logged request after ``since_seq``."""
    return sim_get(url, f"/_sim/requests?since_seq={since_seq}")["requests"]  # type: ignore[no-any-return]


class Harness:
    """An engine against a running simulator (one per test; close it)."""

    def __init__(
        self, url: str, db: Path, *, clock: FakeClock | None = None, seed: int = 1, **engine: Any
    ) -> None:
        self.url = url
        self.clock = clock or FakeClock()
        self.store = Store(db, clock=self.clock)
        self.conn = self.store.journal_connection()
        self.keys = {a["agent_id"]: Secret(a["keys"]["casino"], "sim") for a in agents(url)}
        self.client = PurpleFleaClient(
            ServiceBases.for_simulator(url),
            transport="httpx",
            clock=self.clock,
            timeout=10.0,
            retry=RetryPolicy(max_attempts=6),
            rng=random.Random(seed),
        )
        self.wire = ClientWire(self.client, self.keys)
        self.engine = ActionEngine(
            self.conn, self.wire, clock=self.clock, rng=random.Random(seed), **engine
        )

    def add_key(self, agent_id: str, key: str) -> None:
        """Register a key for an agent made during the test."""
        self.keys[agent_id] = Secret(key, "test")

    async def aclose(self) -> None:
        """Close the client, the journal connection and the store."""
        await self.client.aclose()
        self.conn.close()
        self.store.close()
