"""Start ``pf-tui mcp --config <file>`` as a real subprocess and speak to it with the SDK's own
client over stdio (``mcp.client.stdio`` and ``ClientSession``), against the simulator."""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.types import CallToolResult, Implementation

from pf_tui import usd
from pf_tui.config import SIM_MOUNTS

CLIENT = "claude-test-agent"
"""The client info name the tests' MCP client sends (the journal's operator: ``mcp:`` + it)."""


def sim_agents(url: str) -> list[dict[str, Any]]:
    """The simulator's demo fleet with keys."""
    found: list[dict[str, Any]] = usd.loads(httpx.get(f"{url}/_sim/agents", timeout=10).content)[
        "agents"
    ]
    return found


def limits_off(url: str) -> None:
    """The simulator without rate limits (several calls in a second are the point here)."""
    httpx.post(f"{url}/_sim/config", json={"limits": "off"}, timeout=10).raise_for_status()


def write_config(
    folder: Path,
    url: str,
    *,
    write_agents: Sequence[str] = (),
    max_call: str = "10",
    max_hour: str = "50",
    agents: int = 3,
    extra: str = "",
) -> Path:
    """A private config for the simulator at ``url``: its first ``agents`` agents (keys inline),
    the store in ``folder``, and ``[mcp]`` as given."""
    lines = ["[api]"]
    lines += [f'{name} = "{url}{mount}"' for name, mount in SIM_MOUNTS.items()]
    fleet = sim_agents(url)
    for agent in [*fleet[:agents], fleet[-1]]:  # the last one is the faucet's newcomer
        lines += [
            "[[agents]]",
            f'id = "{agent["agent_id"]}"',
            f'label = "{agent["label"]}"',
            f'casino_key = "{agent["keys"]["casino"]}"',
        ]
    names = ", ".join(f'"{name}"' for name in write_agents)
    lines += ["[mcp]", f"write_agents = [{names}]", f'max_call_usd = "{max_call}"']
    lines += [f'max_hour_usd = "{max_hour}"', "[store]", f'path = "{folder / "pf-tui.db"}"']
    path = folder / "config.toml"
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    os.chmod(path, 0o600)
    return path


def server_params(config: Path, *extra: str) -> StdioServerParameters:
    """``pf-tui mcp --config <config>``: the installed script beside this interpreter."""
    script = Path(sys.executable).with_name("pf-tui")
    command, args = (str(script), []) if script.exists() else (sys.executable, ["-m", "pf_tui"])
    return StdioServerParameters(
        command=command,
        args=[*args, "mcp", "--config", str(config), *extra],
        env=dict(os.environ),
    )


@asynccontextmanager
async def mcp_client(
    config: Path, *extra: str, name: str = CLIENT, errlog: Any = None
) -> AsyncIterator[ClientSession]:
    """An initialized SDK client session with ``pf-tui mcp`` over stdio."""
    params = server_params(config, *extra)
    opened = stdio_client(params) if errlog is None else stdio_client(params, errlog=errlog)
    async with opened as (read, write):
        info = Implementation(name=name, version="1.0")
        async with ClientSession(read, write, client_info=info) as session:
            await session.initialize()
            yield session


def structured(result: CallToolResult) -> dict[str, Any]:
    """A successful call's structured content."""
    assert not result.is_error, text_of(result)
    assert isinstance(result.structured_content, dict)
    return result.structured_content


def text_of(result: CallToolResult) -> str:
    """All text content of a result."""
    return "\n".join(getattr(c, "text", "") for c in result.content)


def journal(folder: Path) -> list[tuple[str, str, str, str | None, str]]:
    """``(idempotency_key, kind, operator, amount, state)`` of every journaled request."""
    with sqlite3.connect(folder / "pf-tui.db") as conn:
        return list(
            conn.execute(
                "SELECT idempotency_key, kind, operator, amount, state FROM actions ORDER BY id"
            )
        )


def posts(url: str, path_part: str) -> list[dict[str, Any]]:
    """The simulator's logged POSTs whose path holds ``path_part``."""
    logged = usd.loads(httpx.get(f"{url}/_sim/requests?since_seq=0", timeout=10).content)
    return [
        r
        for r in logged["requests"]
        if r["method"] == "POST" and path_part in r["path"] and not r["path"].startswith("/_sim")
    ]


def money(value: object) -> Decimal:
    """A result's money string as a Decimal (and never a float on the wire)."""
    assert isinstance(value, str), value
    return Decimal(value)
