"""``pf-tui mcp`` over stdio, the longer runs: lost replies and 503s with an idempotency key, the
hour's limit across a restart, the faucet, ``--read-only``, and a stdout that is protocol only."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

import httpx
import pytest

from pf_tui import usd
from pf_tui.sim.http.server import SimServer

from .helpers import (
    limits_off,
    mcp_client,
    server_params,
    sim_agents,
    structured,
    text_of,
    write_config,
)

pytestmark = pytest.mark.slow


def set_faults(url: str, rules: list[dict[str, object]] | None) -> None:
    """Replace the simulator's fault rules (``None``: clear them)."""
    if rules is None:
        httpx.delete(f"{url}/_sim/faults", timeout=10).raise_for_status()
    else:
        body = usd.dumps(rules)
        headers = {"Content-Type": "application/json"}
        httpx.post(f"{url}/_sim/faults", content=body, headers=headers, timeout=10)


def executions(url: str, path_part: str) -> Counter[str]:
    """Idempotency key -> how many times the server executed a POST with it."""
    logged = usd.loads(httpx.get(f"{url}/_sim/requests?since_seq=0", timeout=10).content)
    return Counter(
        r["idempotency_key"]
        for r in logged["requests"]
        if r["method"] == "POST"
        and path_part in r["path"]
        and r["executed"]
        and (r["status"] == 0 or 200 <= r["status"] < 300)
    )


@pytest.mark.parametrize(
    "fault",
    [
        {"route": "/escrow/*", "method": "POST", "kind": "reset", "when": "after"},
        {"route": "/escrow/*", "method": "POST", "kind": "error", "status": 503},
    ],
    ids=["lost-reply", "503"],
)
async def test_one_execution_per_idempotency_key(
    tmp_path: Path, sim_server: SimServer, fault: dict[str, object]
) -> None:
    url = sim_server.url
    limits_off(url)
    payer, payee = sim_agents(url)[:2]
    config = write_config(tmp_path, url, write_agents=[payer["agent_id"]])
    args = {
        "agent": payer["agent_id"],
        "payee": payee["agent_id"],
        "amount": "1",
        "idempotency_key": "agent-retry-7",
    }
    async with mcp_client(config) as client:
        set_faults(url, [fault])
        first = await client.call_tool("escrow_create", args)
        # Settled by reconciliation (the escrow found by its tag), or left unknown: never sent
        # twice. A 503 on every try may also end it as refused (nothing moved).
        if not first.is_error:
            assert structured(first)["status"] in ("done", "unknown")
        set_faults(url, None)
        retried = structured(await client.call_tool("escrow_create", args))
        assert retried["status"] == "done" and retried["replayed"] is True
        again = structured(await client.call_tool("escrow_create", args))
        assert again["replayed"] is True and again["key"] == retried["key"]
    ran = executions(url, "/escrow")
    assert list(ran.values()) == [1], ran  # one intent, executed once on the server


async def test_hour_limit_survives_a_restart(tmp_path: Path, sim_server: SimServer) -> None:
    url = sim_server.url
    limits_off(url)
    payer, payee = sim_agents(url)[:2]
    config = write_config(
        tmp_path, url, write_agents=[payer["agent_id"]], max_call="1", max_hour="1.5"
    )
    args = {"agent": payer["agent_id"], "payee": payee["agent_id"], "amount": "1"}
    async with mcp_client(config) as client:
        assert structured(await client.call_tool("escrow_create", args))["status"] == "done"
    async with mcp_client(config, name="another-client") as client:
        refused = await client.call_tool("escrow_create", args)
        assert refused.is_error and "max_hour_usd" in text_of(refused)
        status = structured(await client.call_tool("fleet_status", {}))
        assert status["limits"]["used_hour_usd"] == "1"


async def test_faucet_and_read_only(tmp_path: Path, sim_server: SimServer) -> None:
    url = sim_server.url
    limits_off(url)
    newcomer = sim_agents(url)[-1]
    config = write_config(tmp_path, url, write_agents=[newcomer["label"]])
    async with mcp_client(config, "--read-only") as client:
        refused = await client.call_tool("faucet_claim", {"agent": newcomer["label"]})
        assert refused.is_error and "read-only" in text_of(refused)
    async with mcp_client(config) as client:
        claimed = structured(await client.call_tool("faucet_claim", {"agent": newcomer["label"]}))
        assert claimed["status"] == "done" and claimed["kind"] == "claim_faucet"
        again = structured(await client.call_tool("faucet_claim", {"agent": newcomer["label"]}))
        assert again["status"] == "not_claimable", again
        assert again["reason"] in ("already_claimed", "ip_rate_limited"), again
    assert sum(executions(url, "/faucet").values()) == 1


def test_stdout_is_protocol_only_and_logs_hold_no_secret(
    tmp_path: Path, sim_server: SimServer
) -> None:
    url = sim_server.url
    keys = [a["keys"]["casino"] for a in sim_agents(url)]
    config = write_config(tmp_path, url)
    params = server_params(config)
    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "raw-client", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "fleet_status"}},
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/call",
            "params": {"name": "escrow_status", "arguments": {"escrow_id": "esc_missing"}},
        },
    ]
    proc = subprocess.Popen(
        [params.command, *params.args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=params.env,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdin.write("".join(json.dumps(m) + "\n" for m in messages))
    proc.stdin.flush()
    lines: list[str] = []
    while len([line for line in lines if '"id":' in line]) < 3:
        line = proc.stdout.readline()
        assert line, "the server closed stdout before answering"
        lines.append(line)
    proc.stdin.close()  # the client hangs up: the server ends, exit 0
    lines += proc.stdout.read().splitlines()
    stderr = proc.stderr.read()
    assert proc.wait(timeout=60) == 0, stderr
    stdout = "\n".join(lines)
    replies = [json.loads(line) for line in lines if line.strip()]
    assert all(r.get("jsonrpc") == "2.0" for r in replies)
    by_id = {r["id"]: r for r in replies if "id" in r}
    assert set(by_id) == {1, 2, 3}
    assert by_id[3]["result"]["isError"] is True
    assert not any(key in stdout or key in stderr for key in keys)
