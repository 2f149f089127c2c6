"""Small helpers for simulator tests over real HTTP."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from pf_tui.usd import loads


def demo_agents(client: httpx.Client) -> list[dict[str, Any]]:
    response = client.get("/_sim/agents")
    assert response.status_code == 200
    return response.json()["agents"]


def auth(key: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **extra}


def body(response: httpx.Response) -> Any:
    """The reply decoded with Decimals (never floats)."""
    return loads(response.content)


def balance(client: httpx.Client, key: str) -> Decimal:
    response = client.get("/casino/api/v1/auth/balance", headers=auth(key))
    assert response.status_code == 200
    return body(response)["balance_usd"]


def state(client: httpx.Client) -> Any:
    return body(client.get("/_sim/state"))
