"""A config file for a simulator on 127.0.0.1: what a cron job or a pod would be given."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from pf_tui.config.model import SIM_MOUNTS


def sim_agents(url: str) -> list[dict[str, Any]]:
    """The simulator's demo agents with their keys."""
    reply = httpx.get(f"{url}/_sim/agents", timeout=10)
    reply.raise_for_status()
    found: list[dict[str, Any]] = reply.json()["agents"]
    return found


def write_sim_config(
    url: str,
    folder: Path,
    *,
    max_action_usd: str = "100",
    read_only: bool = False,
    labels: dict[str, str] | None = None,
) -> Path:
    """A config (mode 0600) for every demo agent of the simulator at ``url``, keys inline, with
    its store in ``folder`` (made 0700); ``labels`` renames agents (simulator label -> new)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    lines = ['profile = "test"', "", "[api]"]
    for service, mount in SIM_MOUNTS.items():
        lines.append(f'{service} = "{url}{mount}"')
    lines += ['transport = "httpx"', "timeout = 5", ""]
    typed = min(Decimal(max_action_usd), Decimal(10))
    lines += ["[ui]", f'max_action_usd = "{max_action_usd}"', f'typed_confirm_usd = "{typed}"']
    lines += [f"read_only = {'true' if read_only else 'false'}", ""]
    lines += ["[store]", f'path = "{folder / "store.sqlite3"}"', ""]
    for agent in sim_agents(url):
        label = (labels or {}).get(agent["label"], agent["label"])
        lines += ["[[agents]]", f'id = "{agent["agent_id"]}"', f'label = "{label}"']
        for service in ("casino", "trading", "wallet"):
            key = (agent.get("keys") or {}).get(service)
            if key:
                lines.append(f'{service}_key = "{key}"')
        lines.append("")
    path = folder / "config.toml"
    path.write_text("\n".join(lines))
    path.chmod(0o600)
    return path
