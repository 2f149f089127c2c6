"""A simulator on 127.0.0.1, a store in a temp dir, and an ActionEngine wired to both."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import pytest

from pf_tui import usd
from pf_tui.api.bases import ServiceBases
from pf_tui.api.client import PurpleFleaClient
from pf_tui.api.models import Dialect
from pf_tui.api.retry import RetryPolicy
from pf_tui.clock import FakeClock
from pf_tui.core.money.engine import ActionEngine
from pf_tui.core.money.streams import Stream
from pf_tui.core.money.types import (
    DisputeEscrow,
    JsonObject,
    OpenStream,
    PlannedRequest,
    StreamMode,
    StreamUnit,
)
from pf_tui.core.money.wire import ClientWire
from pf_tui.core.store.db import Store
from pf_tui.secret import Secret

BOTH_MODES = pytest.mark.parametrize("mode", [StreamMode.NATIVE, StreamMode.TRANCHE])
"""Run a test once per stream mode (native docs-dialect escrow, classic tranches)."""

REASON = "the feed stopped delivering prices"
"""A dispute reason long enough to be accepted."""


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
    found: list[dict[str, Any]] = sim_get(url, "/_sim/agents")["agents"]
    return found


def casino_balance(url: str, agent_id: str) -> Decimal:
    """An agent's casino balance as the simulator's state has it."""
    for a in sim_get(url, "/_sim/state")["agents"]:
        if a["agent_id"] == agent_id:
            return Decimal(str(a["casino_usd"]))
    raise KeyError(agent_id)


def money_requests(url: str, since_seq: int = 0) -> list[dict[str, Any]]:
    """Every logged request after ``since_seq``."""
    found: list[dict[str, Any]] = sim_get(url, f"/_sim/requests?since_seq={since_seq}")["requests"]
    return found


def last_seq(url: str) -> int:
    """The newest logged request's ``seq`` (0 before any): what a test sends comes after it."""
    logged = money_requests(url)
    return int(logged[-1]["seq"]) if logged else 0


def posts(url: str, since_seq: int) -> list[dict[str, Any]]:
    """The POSTs logged after ``since_seq`` (what moved money, or tried to)."""
    return [r for r in money_requests(url, since_seq) if r["method"] == "POST"]


def open_intent(
    url: str,
    *,
    rate: str = "0.01",
    budget: str = "1",
    batch: str = "0.1",
    mode: StreamMode = StreamMode.NATIVE,
    memo: str = "",
) -> OpenStream:
    """A per-call stream from the simulator's first demo agent to its second."""
    fleet = agents(url)
    return OpenStream(
        fleet[0]["agent_id"], fleet[1]["agent_id"], rate, StreamUnit.CALL, budget, batch, memo, mode
    )


def stream_dispute(stream: Stream, escrow_id: str | None = None) -> DisputeEscrow:
    """A dispute of ``stream``'s escrow (or of ``escrow_id``) as the stream's, by its payer."""
    return DisputeEscrow(
        stream.agent_id,
        escrow_id or str(stream.escrow_id),
        REASON,
        dialect=stream.dialect,
        stream_id=stream.id,
    )


class GatedWire(ClientWire):
    """Holds every POST until :attr:`gate` opens, so the action sending it stays in flight."""

    def __init__(self, client: PurpleFleaClient, keys: dict[str, Secret]) -> None:
        super().__init__(client, keys)
        self.sending = asyncio.Event()
        """Set once a POST is waiting at the gate."""
        self.gate = asyncio.Event()

    async def post(self, agent_id: str, request: PlannedRequest, path: str) -> JsonObject:
        self.sending.set()
        await self.gate.wait()
        return await super().post(agent_id, request, path)


class Harness:
    """An engine against a running simulator (``async with``, or the ``harness`` fixture)."""

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

    async def open_stream(self, intent: OpenStream) -> Stream:
        """Preview and execute ``intent``; the new stream's record."""
        preview = await self.engine.preview(intent)
        result = await self.engine.execute(preview)
        assert result.done, result
        assert preview.stream_id is not None
        return self.engine.stream(preview.stream_id)

    async def aclose(self) -> None:
        """Close the client, the journal connection and the store."""
        await self.client.aclose()
        self.conn.close()
        self.store.close()

    async def __aenter__(self) -> Harness:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def agent_post(url: str, path: str, key: str, body: Any) -> Any:
    """A POST an agent's own code makes with its key (not through pf-tui)."""
    reply = httpx.post(
        f"{url}{path}",
        content=usd.dumps(body),
        timeout=10,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
    )
    reply.raise_for_status()
    return usd.loads(reply.content)


def agent_escrow(
    url: str,
    dialect: Dialect,
    *,
    amount: str = "2",
    timeout_hours: int = 24,
    creator: int = 0,
    payee: int = 1,
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """An escrow a demo agent creates from its own code: ``(escrow id, creator, payee)``."""
    fleet = agents(url)
    a, b = fleet[creator], fleet[payee]
    key = a["keys"]["casino"]
    if dialect is Dialect.CLASSIC:
        reply = agent_post(
            url,
            "/escrow/escrow/create",
            key,
            {
                "amount_usd": Decimal(amount),
                "description": "compute job #1",
                "counterparty_agent_id": b["agent_id"],
                "timeout_hours": timeout_hours,
            },
        )
    else:
        reply = agent_post(
            url,
            "/escrow/api/v1/escrow",
            key,
            {
                "to_agent_id": b["agent_id"],
                "amount": amount,
                "memo": "data feed #1",
                "auto_release_hours": timeout_hours,
            },
        )
    return str(reply["escrow_id"]), a, b


class ScriptedFaults(ClientWire):
    """Sets the simulator's fault rules before each POST from a script, one list per attempt
    (an empty list, or the script run out: no fault), so a test says exactly which attempt is
    refused before the handler (503) and which loses its reply after it executed."""

    def __init__(
        self, client: PurpleFleaClient, keys: dict[str, Secret], url: str, script: list[Any]
    ) -> None:
        super().__init__(client, keys)
        self.url = url
        self.script = list(script)

    async def post(self, agent_id: str, request: PlannedRequest, path: str) -> JsonObject:
        set_faults(self.url, self.script.pop(0) if self.script else [])
        try:
            return await super().post(agent_id, request, path)
        finally:
            if not self.script:
                set_faults(self.url, [])


def set_faults(url: str, rules: list[Any]) -> None:
    """Replace the simulator's fault rules with ``rules`` (none: no faults)."""
    httpx.delete(f"{url}/_sim/faults", timeout=10).raise_for_status()
    if rules:
        sim_post(url, "/_sim/faults", rules)


def lost_and_503(route: str) -> list[Any]:
    """Attempt 1 answers 503 before executing; attempt 2 executes and loses its reply."""
    return [
        [{"route": route, "method": "POST", "kind": "error", "status": 503}],
        [{"route": route, "method": "POST", "kind": "reset", "when": "after"}],
    ]
