"""``pf-tui mcp`` over stdio with the SDK's own client, against the simulator on 127.0.0.1.

Two server processes in all (each start costs seconds): one with writes on for one agent and
small limits, where every tool is listed and called; one with writes off.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from mcp.types import CallToolResult

from pf_tui.api.models import Dialect
from pf_tui.sim.http.server import SimServer
from tests.actions.helpers import agent_escrow

from .helpers import (
    CLIENT,
    journal,
    limits_off,
    mcp_client,
    money,
    posts,
    sim_agents,
    structured,
    text_of,
    write_config,
)

READS = {"fleet_status", "agent_status", "escrow_list", "escrow_status"}
WRITES = {"escrow_create", "escrow_release", "escrow_close", "escrow_dispute", "faucet_claim"}


async def test_tools_listed_and_called(tmp_path: Path, sim_server: SimServer) -> None:
    url = sim_server.url
    limits_off(url)
    fleet = sim_agents(url)
    payer, payee, other = fleet[0], fleet[1], fleet[2]
    config = write_config(tmp_path, url, write_agents=[payer["label"]], max_call="2", max_hour="5")
    outputs: list[str] = []
    async with mcp_client(config) as client:

        async def call(name: str, args: dict[str, Any]) -> CallToolResult:
            result = await client.call_tool(name, args)
            outputs.append(text_of(result) + json.dumps(result.structured_content))
            return result

        listed = {t.name: t for t in (await client.list_tools()).tools}
        assert set(listed) == READS | WRITES
        for name in READS:
            hints = listed[name].annotations
            assert hints is not None and hints.read_only_hint is True
            assert hints.idempotent_hint is True
        for name in WRITES:
            hints = listed[name].annotations
            assert hints is not None and hints.read_only_hint is False
            assert hints.destructive_hint is not None and hints.idempotent_hint is not None
            assert "idempotency_key" in listed[name].input_schema["properties"]
        assert listed["escrow_release"].annotations.destructive_hint is True  # type: ignore[union-attr]
        assert listed["faucet_claim"].annotations.destructive_hint is False  # type: ignore[union-attr]
        for tool in listed.values():
            assert tool.output_schema is not None and tool.output_schema["type"] == "object"

        status = structured(await call("fleet_status", {}))
        assert [a["agent_id"] for a in status["agents"]][:3] == [
            payer["agent_id"],
            payee["agent_id"],
            other["agent_id"],
        ]
        assert money(status["agents"][0]["balance_usd"]) > 0
        assert [a["writable"] for a in status["agents"]][:3] == [True, False, False]
        assert status["limits"]["max_call_usd"] == "2" and status["limits"]["used_hour_usd"] == "0"

        # A write for an agent [mcp] does not name is refused before anything is read or sent.
        refused = await call(
            "escrow_create", {"agent": other["label"], "payee": payee["agent_id"], "amount": "1"}
        )
        assert refused.is_error
        assert "not in [mcp] write_agents" in text_of(refused)
        # Over the per-call limit: refused after the preview, nothing journaled or sent.
        refused = await call(
            "escrow_create", {"agent": payer["label"], "payee": payee["agent_id"], "amount": "2.5"}
        )
        assert refused.is_error and "max_call_usd" in text_of(refused)
        assert posts(url, "/escrow") == []

        args = {
            "agent": payer["label"],
            "payee": payee["agent_id"],
            "amount": "1.25",
            "description": "feed\x1b[2J for an hour",
            "dialect": "streaming",
            "idempotency_key": "create-1",
        }
        created = structured(await call("escrow_create", args))
        assert created["status"] == "done" and created["replayed"] is False
        assert created["amount"] == "1.25" and created["operator"] == f"mcp:{CLIENT}"
        escrow_id = created["requests"][0]["escrow_id"]
        again = structured(await call("escrow_create", args))
        assert again["replayed"] is True and again["status"] == "done"
        assert len(posts(url, "/escrow")) == 1  # one execution for one key
        reused = await call(
            "faucet_claim", {"agent": payer["label"], "idempotency_key": "create-1"}
        )
        assert reused.is_error
        assert "idempotency_key 'create-1' was used for a different action" in text_of(reused)

        info = structured(await call("escrow_status", {"escrow_id": escrow_id}))
        assert info["amount"] == "1.25" and info["dialect"] == "streaming"
        assert "\\x1b[2J" in info["description"] and "\x1b" not in text_of(
            await call("escrow_status", {"escrow_id": escrow_id})
        )
        listed_escrows = structured(await call("escrow_list", {"agent": payer["label"]}))
        assert escrow_id in [e["escrow_id"] for e in listed_escrows["escrows"]]
        agent = structured(await call("agent_status", {"agent": payer["agent_id"]}))
        assert agent["agent"]["writable"] is True and agent["streams"] == []
        assert agent["limits"]["used_hour_usd"] == "1.25"

        released = structured(
            await call(
                "escrow_release", {"escrow_id": escrow_id, "amount": "0.5", "idempotency_key": "r1"}
            )
        )
        assert released["status"] == "done" and released["amount"] == "0.5"
        disputed = structured(
            await call(
                "escrow_dispute", {"escrow_id": escrow_id, "reason": "the feed never arrived"}
            )
        )
        assert disputed["status"] == "done" and disputed["kind"] == "dispute_escrow"
        # A second escrow of 0.5, closed at once: what it holds goes back to the payer.
        second = structured(
            await call(
                "escrow_create",
                {
                    "agent": payer["label"],
                    "payee": payee["agent_id"],
                    "amount": "0.5",
                    "dialect": "streaming",
                },
            )
        )
        closed = structured(
            await call("escrow_close", {"escrow_id": second["requests"][0]["escrow_id"]})
        )
        assert closed["status"] == "done" and closed["kind"] == "close_escrow"
        gone = await call("escrow_close", {"escrow_id": escrow_id})
        assert gone.is_error and "disputed" in text_of(gone)

        # Escrows the payer's own code created (not pf-tui): a classic one released in full, a
        # streaming one released in part and closed, each in the dialect that created it.
        classic, _, _ = agent_escrow(url, Dialect.CLASSIC, amount="1")
        full = structured(await call("escrow_release", {"escrow_id": classic}))
        assert full["status"] == "done" and full["kind"] == "release_escrow"
        assert full["amount"] == "1"
        streaming, _, _ = agent_escrow(url, Dialect.STREAMING, amount="2")
        seen = structured(await call("escrow_status", {"escrow_id": streaming}))
        assert seen["dialect"] == "streaming" and "pays the payee" in seen["on_timeout"]
        part = structured(await call("escrow_release", {"escrow_id": streaming, "amount": "0.25"}))
        assert part["status"] == "done" and part["amount"] == "0.25"
        shut = structured(await call("escrow_close", {"escrow_id": streaming}))
        assert shut["status"] == "done" and shut["kind"] == "close_escrow"

        # Over the hour: what MCP calls moved so far (counted from the journal) plus 2 > 5.
        status = structured(await call("fleet_status", {}))
        assert Decimal(status["limits"]["used_hour_usd"]) >= Decimal("3.25")
        over = await call(
            "escrow_create", {"agent": payer["label"], "payee": payee["agent_id"], "amount": "2"}
        )
        assert over.is_error and "max_hour_usd" in text_of(over)

        newcomer = fleet[-1]
        refused = await call("faucet_claim", {"agent": newcomer["agent_id"]})
        assert refused.is_error and "not in [mcp] write_agents" in text_of(refused)

    keys = [a["keys"][k] for a in fleet for k in ("casino", "trading", "wallet")]
    assert not any(key in text for key in keys for text in outputs)  # no secret in any output
    rows = journal(tmp_path)
    assert rows and {operator for _, _, operator, _, _ in rows} == {f"mcp:{CLIENT}"}
    assert sum(Decimal(a) for _, _, _, a, s in rows if a and s == "done") >= Decimal("1.25")


async def test_writes_off(tmp_path: Path, sim_server: SimServer) -> None:
    url = sim_server.url
    payer, payee = sim_agents(url)[:2]
    async with mcp_client(write_config(tmp_path, url)) as client:
        for name, args in (
            ("escrow_create", {"agent": payer["label"], "payee": payee["agent_id"], "amount": "1"}),
            ("faucet_claim", {"agent": payer["agent_id"]}),
            ("escrow_release", {"escrow_id": "esc_000000000000"}),
        ):
            refused = await client.call_tool(name, args)
            assert refused.is_error
            assert "writes are off for MCP clients" in text_of(refused)
        status = structured(await client.call_tool("fleet_status", {}))
        assert not any(a["writable"] for a in status["agents"])
    assert posts(url, "/escrow") == [] and posts(url, "/faucet") == []
    assert not (tmp_path / "pf-tui.db").exists() or journal(tmp_path) == []
