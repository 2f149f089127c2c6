"""Idempotency-Key semantics and every fault knob, over real HTTP (in-flight through ASGI)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from pf_tui.sim.http.pipeline import SimulatedReset
from tests.conftest import asgi_client

from .helpers import auth, balance, body, demo_agents


def escrow_payload(payee: str, amount: str = "1") -> dict[str, Any]:
    return {"amount_usd": amount, "description": "idempotent", "counterparty_agent_id": payee}


def executions(client: httpx.Client, key: str) -> list[dict[str, Any]]:
    rows = client.get("/_sim/requests").json()["requests"]
    return [r for r in rows if r["idempotency_key"] == key]


def test_same_key_same_body_replays_once(client: httpx.Client) -> None:
    a, b = demo_agents(client)[:2]
    headers = auth(a["keys"]["casino"], **{"Idempotency-Key": "k-1"})
    start = balance(client, a["keys"]["casino"])
    first = client.post(
        "/escrow/escrow/create", json=escrow_payload(b["agent_id"]), headers=headers
    )
    again = client.post(
        "/escrow/escrow/create", json=escrow_payload(b["agent_id"]), headers=headers
    )
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert balance(client, a["keys"]["casino"]) == start - 1
    rows = executions(client, "k-1")
    assert [r["executed"] for r in rows] == [True, False]
    assert rows[0]["agent_id"] == a["agent_id"]
    other = client.post(
        "/escrow/escrow/create", json=escrow_payload(b["agent_id"], "2"), headers=headers
    )
    assert (other.status_code, other.json()["error"]) == (422, "idempotency_mismatch")
    # Another caller's key scopes its own entry.
    c = demo_agents(client)[3]
    mine = client.post(
        "/escrow/escrow/create",
        json=escrow_payload(b["agent_id"]),
        headers=auth(c["keys"]["casino"], **{"Idempotency-Key": "k-1"}),
    )
    assert mine.status_code == 201 and mine.json()["escrow_id"] != first.json()["escrow_id"]


def test_classic_can_ignore_the_header(client: httpx.Client) -> None:
    a, b = demo_agents(client)[:2]
    client.post("/_sim/config", json={"idempotency_on_classic": False})
    headers = auth(a["keys"]["casino"], **{"Idempotency-Key": "k-2"})
    ids = {
        client.post(
            "/escrow/escrow/create", json=escrow_payload(b["agent_id"]), headers=headers
        ).json()["escrow_id"]
        for _ in range(2)
    }
    assert len(ids) == 2


def test_lost_reply_with_fault_after_then_replay(client: httpx.Client) -> None:
    a, b = demo_agents(client)[:2]
    before = len(body(client.get("/_sim/state"))["escrows"])  # the demo's streams already open
    client.post(
        "/_sim/faults", json={"route": "/escrow/escrow/create", "kind": "error", "when": "after"}
    )
    headers = auth(a["keys"]["casino"], **{"Idempotency-Key": "k-3"})
    lost = client.post("/escrow/escrow/create", json=escrow_payload(b["agent_id"]), headers=headers)
    assert lost.status_code == 503
    client.delete("/_sim/faults")
    replay = client.post(
        "/escrow/escrow/create", json=escrow_payload(b["agent_id"]), headers=headers
    )
    assert replay.status_code == 201
    rows = executions(client, "k-3")
    assert [(r["executed"], r["fault"]) for r in rows] == [(True, "error"), (False, None)]
    assert len(body(client.get("/_sim/state"))["escrows"]) == before + 1


async def test_in_flight_duplicate_is_409(sim_app: Starlette) -> None:
    sim = sim_app.state.sim
    a, b = sim.fleet.wire()[:2]
    before = len(sim.escrows.escrows)
    sim.faults.add(
        {"route": "/escrow/escrow/create", "kind": "latency", "latency_ms": 150, "when": "after"}
    )
    headers = auth(a["keys"]["casino"], **{"Idempotency-Key": "k-4"})
    async with asgi_client(sim_app) as c:
        first, second = await asyncio.gather(
            c.post("/escrow/escrow/create", json=escrow_payload(b["agent_id"]), headers=headers),
            c.post("/escrow/escrow/create", json=escrow_payload(b["agent_id"]), headers=headers),
        )
    codes = sorted([first.status_code, second.status_code])
    assert codes == [201, 409]
    dup = first if first.status_code == 409 else second
    assert dup.json()["error"] == "idempotency_in_flight"
    assert len(sim.escrows.escrows) == before + 1


def fault(client: httpx.Client, **rule: Any) -> None:
    client.delete("/_sim/faults")
    assert (
        client.post(
            "/_sim/faults", json={"route": "/casino/api/v1/auth/balance", **rule}
        ).status_code
        == 200
    )


def test_each_fault_kind(client: httpx.Client) -> None:
    key = demo_agents(client)[0]["keys"]["casino"]
    url = "/casino/api/v1/auth/balance"
    fault(client, kind="error", status=500, body="<b>boom</b>\x1b[31m")
    r = client.get(url, headers=auth(key))
    assert (r.status_code, r.text) == (500, "<b>boom</b>\x1b[31m")
    fault(client, kind="error")
    assert client.get(url, headers=auth(key)).status_code == 503
    fault(client, kind="rate_limit", retry_after_s=7)
    r = client.get(url, headers=auth(key))
    assert (r.status_code, r.headers["retry-after"]) == (429, "7")
    fault(client, kind="rate_limit")
    assert "retry-after" not in client.get(url, headers=auth(key)).headers
    fault(client, kind="html")
    r = client.get(url, headers=auth(key))
    assert r.status_code == 502 and r.headers["content-type"].startswith("text/html")
    fault(client, kind="empty")
    assert client.get(url, headers=auth(key)).json() == {}
    fault(client, kind="malformed")
    with pytest.raises(ValueError):
        client.get(url, headers=auth(key)).json()
    fault(client, kind="truncate", when="after")
    r = client.get(url, headers=auth(key))
    whole = len(
        client.get("/casino/api/v1/stats/me", headers=auth(key)).content
    )  # unaffected route
    assert r.status_code == 200 and whole > 0
    with pytest.raises(ValueError):
        r.json()
    fault(client, kind="reset")
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(url, headers=auth(key))
    fault(client, kind="hang")
    with pytest.raises(httpx.ReadTimeout):
        client.get(url, headers=auth(key), timeout=0.2)
    fault(client, kind="latency", latency_ms=120)
    r = client.get(url, headers=auth(key))
    assert r.status_code == 200 and r.elapsed.total_seconds() >= 0.1
    fault(client, kind="error", method="POST")
    assert client.get(url, headers=auth(key)).status_code == 200
    fault(client, kind="error", rate=0)
    assert client.get(url, headers=auth(key)).status_code == 200
    client.delete("/_sim/faults")
    assert client.get(url, headers=auth(key)).status_code == 200
    faults = [r["fault"] for r in client.get("/_sim/requests").json()["requests"]]
    assert {
        "error",
        "rate_limit",
        "html",
        "empty",
        "malformed",
        "truncate",
        "reset",
        "hang",
    } <= set(faults)
    assert client.post("/_sim/faults", json={"route": "*", "kind": "explode"}).status_code == 400


def test_rate_is_seeded_and_partial(client: httpx.Client) -> None:
    key = demo_agents(client)[0]["keys"]["casino"]
    fault(client, kind="error", rate=0.5)
    codes = [
        client.get("/casino/api/v1/auth/balance", headers=auth(key)).status_code for _ in range(60)
    ]
    assert 10 < codes.count(503) < 50


def test_db_fallback_positions_shape(client: httpx.Client) -> None:
    trader = demo_agents(client)[0]
    key = trader["keys"]["trading"]
    r = client.post(
        "/trading/v1/trade/open",
        json={"coin": "BTC", "side": "long", "size_usd": 100, "leverage": 2},
        headers=auth(key),
    )
    assert r.status_code == 200
    live = client.get("/trading/v1/trade/positions", headers=auth(key)).json()
    assert live["source"] == "hyperliquid" and set(live["positions"][0]) >= {
        "position_id",
        "size_usd",
        "unrealized_pnl",
    }
    client.post(
        "/_sim/faults", json={"route": "/trading/v1/trade/positions", "kind": "db_fallback"}
    )
    db = client.get("/trading/v1/trade/positions", headers=auth(key)).json()
    assert db["source"] == "database"
    assert set(db["positions"][0]) >= {
        "id",
        "sizeUsd",
        "entryPrice",
        "unrealizedPnl",
        "openedAt",
        "current_price",
    }


async def test_reset_in_process_raises_for_the_transport(sim_app: Starlette) -> None:
    sim_app.state.sim.faults.add({"route": "/casino/health", "kind": "reset"})
    async with asgi_client(sim_app) as c:
        with pytest.raises(SimulatedReset):
            await c.get("/casino/health")


def test_trading_auth_codes(client: httpx.Client) -> None:
    r = client.get("/trading/v1/trade/positions")
    assert (r.status_code, r.json()["error"]) == (401, "unauthorized")
    r = client.get("/trading/v1/trade/positions", headers=auth("sk_trade_nope"))
    assert (r.status_code, r.json()["error"]) == (401, "invalid_key")
    casino_key = demo_agents(client)[0]["keys"]["casino"]
    assert client.get("/trading/v1/trade/positions", headers=auth(casino_key)).status_code == 401
    assert balance(client, casino_key) > Decimal(0)
