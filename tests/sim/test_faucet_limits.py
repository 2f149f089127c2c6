"""Faucet check order, registration's own claim, and production's per-IP limiter."""

from __future__ import annotations

from decimal import Decimal

import httpx

from .helpers import auth, balance, body, demo_agents


def register(client: httpx.Client, ip: str = "10.9.9.9") -> dict[str, str]:
    r = client.post("/casino/api/v1/auth/register", json={}, headers={"X-Forwarded-For": ip})
    assert r.status_code == 201
    out = r.json()
    assert (out["balance"], out["tier"]) == (0, "free")
    assert out["api_key"].startswith("sk_live_") and len(out["api_key"]) == 8 + 48
    assert out["agent_id"].startswith("ag_") and len(out["agent_id"]) == 15
    assert out["referral_code"].startswith("ref_") and len(out["referral_code"]) == 12
    return out


def claim(client: httpx.Client, agent_id: object, ip: str) -> httpx.Response:
    return client.post(
        "/faucet/faucet/claim", json={"agent_casino_id": agent_id}, headers={"X-Forwarded-For": ip}
    )


def test_registration_claims_once_per_day_through_one_bucket(client: httpx.Client) -> None:
    first, second = register(client, "10.0.0.1"), register(client, "10.0.0.2")
    assert balance(client, first["api_key"]) == 1
    assert balance(client, second["api_key"]) == 0
    client.post("/_sim/clock", json={"advance_s": 86400})
    third = register(client, "10.0.0.3")
    assert balance(client, third["api_key"]) == 1
    state = body(client.get("/_sim/state"))
    assert state["faucet_granted_usd"] == 2 and state["conserved"] is True


def test_faucet_order(client: httpx.Client) -> None:
    register(client)
    agent = register(client)
    r = claim(client, agent["agent_id"], "10.1.0.1")
    assert r.status_code == 200
    assert r.json()["credited"] == 1 and r.json()["agent_id"] == agent["agent_id"]
    assert balance(client, agent["api_key"]) == Decimal(1)
    # Same IP again: ip_rate_limited, checked before agent existence.
    r = claim(client, "ag_000000000000", "10.1.0.1")
    assert (r.status_code, r.json()["error"]) == (429, "ip_rate_limited")
    r = claim(client, agent["agent_id"], "10.1.0.2")
    assert (r.status_code, r.json()["error"]) == (409, "already_claimed")
    r = claim(client, "bob", "10.1.0.3")
    assert (r.status_code, r.json()["error"]) == (400, "invalid_request")
    r = client.post("/faucet/faucet/claim", content=b"{", headers={"X-Forwarded-For": "10.1.0.3"})
    assert (r.status_code, r.json()["error"]) == (400, "invalid_request")
    r = claim(client, "ag_000000000000", "10.1.0.4")
    assert (r.status_code, r.json()["error"]) == (404, "agent_not_found")
    demo = demo_agents(client)[0]
    r = claim(client, demo["agent_id"], "10.1.0.5")
    assert (r.status_code, r.json()["error"]) == (403, "has_deposits")
    # The IP's 24 h follow simulator time.
    other = register(client)
    client.post("/_sim/clock", json={"advance_s": 86400})
    assert claim(client, other["agent_id"], "10.1.0.1").status_code == 200


def test_faucet_limit_runs_first_and_has_no_retry_after(client: httpx.Client) -> None:
    for _ in range(5):
        assert claim(client, "bad", "10.2.0.1").status_code == 400
    r = claim(client, "bad", "10.2.0.1")
    assert (r.status_code, r.json()["error"]) == (429, "rate_limited")
    assert "retry-after" not in r.headers
    # Another host has its own window; the window resets after 60 simulated seconds.
    assert claim(client, "bad", "10.2.0.2").status_code == 400
    client.post("/_sim/clock", json={"advance_s": 60})
    assert claim(client, "bad", "10.2.0.1").status_code == 400


def test_escrow_limiter_runs_before_auth_and_per_path(client: httpx.Client) -> None:
    for _ in range(10):
        r = client.post(
            "/escrow/escrow/dispute/esc_0000000000000001", headers={"X-Forwarded-For": "10.3.0.1"}
        )
        assert r.status_code == 401
    r = client.post(
        "/escrow/escrow/dispute/esc_0000000000000001", headers={"X-Forwarded-For": "10.3.0.1"}
    )
    assert (r.status_code, r.json()["error"]) == (429, "rate_limited")
    # The escrow id is part of the key.
    r = client.post(
        "/escrow/escrow/dispute/esc_0000000000000002", headers={"X-Forwarded-For": "10.3.0.1"}
    )
    assert r.status_code == 401
    # Reads are not limited.
    for _ in range(40):
        assert (
            client.get("/escrow/escrow/stats", headers={"X-Forwarded-For": "10.3.0.1"}).status_code
            == 200
        )


def test_limits_config_off_and_multiplied(client: httpx.Client) -> None:
    assert client.post("/_sim/config", json={"limits": "off"}).json()["limits"] == "off"
    for _ in range(12):
        assert claim(client, "bad", "10.4.0.1").status_code == 400
    client.post("/_sim/config", json={"limits": "x2"})
    codes = [claim(client, "bad", "10.4.0.2").status_code for _ in range(11)]
    assert codes == [400] * 10 + [429]
    assert client.post("/_sim/config", json={"limits": "lots"}).status_code == 400


def test_bets_history_shares_sixty_per_host_and_game_plays_limit_per_agent(
    client: httpx.Client,
) -> None:
    agents = demo_agents(client)
    codes = [
        client.get(
            "/casino/api/v1/bets/history",
            headers=auth(agents[i % 8]["keys"]["casino"], **{"X-Forwarded-For": "10.5.0.1"}),
        ).status_code
        for i in range(61)
    ]
    assert codes == [200] * 60 + [429]
    key = agents[2]["keys"]["casino"]  # the casino grinder has casino money
    plays = [
        client.post(
            "/casino/api/v1/games/coin-flip",
            json={"side": "heads", "amount": "0.01"},
            headers=auth(key),
        )
        for _ in range(61)
    ]
    assert [p.status_code for p in plays[:60]] == [200] * 60
    assert (plays[60].status_code, plays[60].json()["error"]) == (429, "rate_limit_exceeded")
    assert plays[60].json()["reset_at"].endswith("Z")
