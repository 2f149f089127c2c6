"""The escrow contract over real HTTP on 127.0.0.1: negative matrix, timeouts, both views."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from .helpers import auth, balance, body, demo_agents, state


@pytest.fixture
def pair(client: httpx.Client) -> tuple[dict[str, Any], dict[str, Any]]:
    agents = demo_agents(client)
    return agents[0], agents[1]


def create(
    client: httpx.Client, creator: dict[str, Any], payee_id: str, amount: Any = 10, **extra: Any
) -> httpx.Response:
    payload = {
        "amount_usd": amount,
        "description": "integration test",
        "counterparty_agent_id": payee_id,
        **extra,
    }
    return client.post(
        "/escrow/escrow/create", json=payload, headers=auth(creator["keys"]["casino"])
    )


def test_create_matrix(client: httpx.Client, pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    a, b = pair
    cases = [
        ({"amount": "0.09"}, 400, "invalid_amount"),
        ({"amount": "0.1234567"}, 400, "invalid_amount"),
        ({"amount": 10, "description": "ab"}, 400, "invalid_description"),
        ({"payee": "bob"}, 400, "invalid_counterparty"),
        ({"payee": a["agent_id"]}, 400, "self_escrow"),
        ({"payee": "ag_000000000000"}, 404, "counterparty_not_found"),
        ({"amount": "1000000"}, 402, "insufficient_balance"),
    ]
    for case, status, code in cases:
        payload = {
            "amount_usd": case.get("amount", 10),
            "description": case.get("description", "integration test"),
            "counterparty_agent_id": case.get("payee", b["agent_id"]),
        }
        r = client.post("/escrow/escrow/create", json=payload, headers=auth(a["keys"]["casino"]))
        assert (r.status_code, r.json()["error"]) == (status, code), case
    r = client.post("/escrow/escrow/create", json={"amount_usd": 10}, headers={})
    assert (r.status_code, r.json()["error"]) == (401, "unauthorized")
    r = client.post(
        "/escrow/escrow/create", content=b"{not json", headers=auth(a["keys"]["casino"])
    )
    assert (r.status_code, r.json()["error"]) == (400, "invalid_amount")
    low = client.post(
        "/escrow/escrow/create",
        json={
            "amount_usd": "1000000",
            "description": "x" * 5,
            "counterparty_agent_id": b["agent_id"],
        },
        headers=auth(a["keys"]["casino"]),
    )
    assert body(low)["balance"] == balance(client, a["keys"]["casino"])


def test_transition_matrix(
    client: httpx.Client, pair: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    a, b = pair
    ka, kb = a["keys"]["casino"], b["keys"]["casino"]
    r = create(client, a, b["agent_id"], "10")
    assert r.status_code == 201
    created = body(r)
    assert created["status"] == "funded"
    assert created["commission_usd"] == Decimal("0.1") and created[
        "net_to_counterparty"
    ] == Decimal("9.9")
    eid = created["escrow_id"]
    assert eid.startswith("esc_") and len(eid) == 20
    r = client.post(f"/escrow/escrow/complete/{eid}", headers=auth(ka))
    assert (r.status_code, r.json()["error"]) == (403, "forbidden")
    r = client.post(f"/escrow/escrow/release/{eid}", headers=auth(kb))
    assert (r.status_code, r.json()["error"]) == (403, "forbidden")
    r = client.post(f"/escrow/escrow/complete/{eid}", headers=auth(kb))
    assert r.status_code == 200 and r.json()["status"] == "completed"
    before_b = balance(client, kb)
    r = client.post(f"/escrow/escrow/release/{eid}", headers=auth(ka))
    assert r.status_code == 200
    released = body(r)
    assert released["amount_released"] == Decimal("9.9") and released["commission"] == Decimal(
        "0.1"
    )
    assert balance(client, kb) - before_b == Decimal("9.9")
    r = client.post(f"/escrow/escrow/release/{eid}", headers=auth(ka))
    assert (r.status_code, r.json()["error"]) == (409, "invalid_status")
    r = client.post(f"/escrow/escrow/dispute/{eid}", json={"reason": "late"}, headers=auth(kb))
    assert (r.status_code, r.json()["error"]) == (409, "invalid_status")
    for route in ("release", "complete", "dispute"):
        r = client.post(f"/escrow/escrow/{route}/esc_0000000000000000", headers=auth(ka))
        assert (r.status_code, r.json()["error"]) == (404, "not_found")
    r = client.get("/escrow/escrow/esc_0000000000000000")
    assert (r.status_code, r.json()["error"]) == (404, "not_found")
    # Events only for a party.
    assert "events" in client.get(f"/escrow/escrow/{eid}", headers=auth(ka)).json()
    assert "events" not in client.get(f"/escrow/escrow/{eid}").json()
    assert state(client)["conserved"] is True


def test_referrer_gets_fifteen_percent_of_fee(client: httpx.Client) -> None:
    agents = demo_agents(client)
    a, b, ref = agents[0], agents[1], agents[2]
    eid = create(client, a, b["agent_id"], "10", referral_code=ref["referral_code"]).json()[
        "escrow_id"
    ]
    before = balance(client, ref["keys"]["casino"])
    r = body(client.post(f"/escrow/escrow/release/{eid}", headers=auth(a["keys"]["casino"])))
    assert r["referral_commission"] == Decimal("0.015")
    assert balance(client, ref["keys"]["casino"]) - before == Decimal("0.015")
    # A code that matches nobody means no referrer at all.
    eid = create(client, a, b["agent_id"], "10", referral_code="ref_nobody00").json()["escrow_id"]
    r = body(client.post(f"/escrow/escrow/release/{eid}", headers=auth(a["keys"]["casino"])))
    assert r["referral_commission"] == 0


def test_dispute_freezes_and_pays_no_referrer(
    client: httpx.Client, pair: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    a, b = pair
    eid = create(client, a, b["agent_id"], "5").json()["escrow_id"]
    r = client.post(
        f"/escrow/escrow/dispute/{eid}",
        json={"reason": "no delivery"},
        headers=auth(b["keys"]["casino"]),
    )
    assert r.json() == {**r.json(), "status": "disputed", "reason": "no delivery"}
    r = client.post(f"/escrow/escrow/release/{eid}", headers=auth(a["keys"]["casino"]))
    assert r.status_code == 409
    held = next(e for e in state(client)["escrows"] if e["escrow_id"] == eid)
    assert held["held_usd"] == Decimal("5")


def test_timeout_refunds_creator_99_percent_even_after_complete(
    client: httpx.Client, pair: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    a, b = pair
    ka, kb = a["keys"]["casino"], b["keys"]["casino"]
    start_a, start_b = balance(client, ka), balance(client, kb)
    r = create(client, a, b["agent_id"], "20", timeout_hours=1.9)
    assert r.json()["timeout_hours"] == 1
    eid = r.json()["escrow_id"]
    assert client.post(f"/escrow/escrow/complete/{eid}", headers=auth(kb)).status_code == 200
    client.post("/_sim/clock", json={"advance_s": 3599})
    assert client.get(f"/escrow/escrow/{eid}").json()["status"] == "completed"
    client.post("/_sim/clock", json={"advance_s": 1})
    assert client.get(f"/escrow/escrow/{eid}").json()["status"] == "refunded"
    assert balance(client, ka) == start_a - Decimal("0.2")
    assert balance(client, kb) == start_b
    r = client.post(f"/escrow/escrow/release/{eid}", headers=auth(ka))
    assert r.status_code == 409


def test_timeout_hours_clamped(
    client: httpx.Client, pair: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    a, b = pair
    assert create(client, a, b["agent_id"], timeout_hours=0).json()["timeout_hours"] == 1
    assert create(client, a, b["agent_id"], timeout_hours=5000).json()["timeout_hours"] == 720
    assert create(client, a, b["agent_id"], timeout_hours="soon").json()["timeout_hours"] == 24


def test_docs_stream_partials_close_and_timeout(
    client: httpx.Client, pair: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    a, b = pair
    ka, kb = a["keys"]["casino"], b["keys"]["casino"]
    start_a, start_b = balance(client, ka), balance(client, kb)
    r = client.post(
        "/escrow/api/v1/escrow",
        json={
            "to_agent_id": b["agent_id"],
            "amount": "10.00",
            "memo": "feed",
            "auto_release_hours": 2,
        },
        headers=auth(ka),
    )
    assert r.status_code == 201
    stream = r.json()
    assert (stream["status"], stream["amount"], stream["released"], stream["remaining"]) == (
        "locked",
        "10.00",
        "0.00",
        "10.00",
    )
    sid = stream["escrow_id"]
    r = client.post(
        f"/escrow/api/v1/escrow/{sid}/release-partial", json={"amount": "2.5"}, headers=auth(ka)
    )
    assert (r.json()["status"], r.json()["released"], r.json()["remaining"]) == (
        "locked",
        "2.50",
        "7.50",
    )
    assert balance(client, kb) - start_b == Decimal("2.475")
    r = client.post(
        f"/escrow/api/v1/escrow/{sid}/release-partial", json={"amount": "7.51"}, headers=auth(ka)
    )
    assert r.status_code == 409
    r = client.post(
        f"/escrow/api/v1/escrow/{sid}/release-partial", json={"amount": "1"}, headers=auth(kb)
    )
    assert r.status_code == 403
    # The classic view of the same escrow, and a classic write on it: 409.
    classic = client.get(f"/escrow/escrow/{sid}").json()
    assert classic["status"] == "funded" and classic["amount_usd"] == 10
    assert client.post(f"/escrow/escrow/release/{sid}", headers=auth(ka)).status_code == 409
    listing = client.get("/escrow/api/v1/escrows?status=locked", headers=auth(kb)).json()["escrows"]
    assert [s["escrow_id"] for s in listing] == [sid]
    # Timeout: the docs dialect pays the remainder to the payee.
    client.post("/_sim/clock", json={"advance_s": 2 * 3600})
    done = client.get(f"/escrow/api/v1/escrow/{sid}").json()
    assert (done["status"], done["released"], done["remaining"]) == ("released", "10.00", "0.00")
    assert balance(client, kb) - start_b == Decimal("9.9")
    assert balance(client, ka) == start_a - 10
    # Close refunds the remainder in full; classic shows it as refunded.
    sid2 = client.post(
        "/escrow/api/v1/escrow",
        json={"to_agent_id": b["agent_id"], "amount": "4"},
        headers=auth(ka),
    ).json()["escrow_id"]
    client.post(
        f"/escrow/api/v1/escrow/{sid2}/release-partial", json={"amount": "1"}, headers=auth(ka)
    )
    closed = client.post(f"/escrow/api/v1/escrow/{sid2}/close", json={}, headers=auth(ka)).json()
    assert (closed["status"], closed["released"]) == ("closed", "1.00")
    assert balance(client, ka) == start_a - 10 - 1
    assert client.get(f"/escrow/escrow/{sid2}").json()["status"] == "refunded"
    assert (
        client.post(
            f"/escrow/api/v1/escrow/{sid2}/dispute", json={"reason": "x"}, headers=auth(kb)
        ).status_code
        == 409
    )
    assert state(client)["conserved"] is True


def test_classic_escrow_in_docs_view(
    client: httpx.Client, pair: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    a, b = pair
    eid = create(client, a, b["agent_id"], "3").json()["escrow_id"]
    view = client.get(f"/escrow/api/v1/escrow/{eid}").json()
    assert (view["status"], view["amount"], view["memo"]) == ("locked", "3.00", "integration test")
    assert (
        client.post(
            f"/escrow/api/v1/escrow/{eid}/close", json={}, headers=auth(a["keys"]["casino"])
        ).status_code
        == 409
    )
    client.post("/_sim/clock", json={"advance_s": 24 * 3600})
    assert client.get(f"/escrow/api/v1/escrow/{eid}").json()["status"] == "closed"
    stats = client.get("/escrow/escrow/stats").json()
    assert stats["total_created"] >= 1 and "total_commission_usd" in stats


def test_the_streaming_list_shows_only_what_the_streaming_api_created(
    client: httpx.Client, pair: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    """As a guides deployment would: the creator's and the payee's lists show the stream and not
    the classic escrow, which is found in the creator's ledger instead (docs/api.md §3). A list
    of every escrow would make a client read classic escrows as streams."""
    a, b = pair
    ka, kb = a["keys"]["casino"], b["keys"]["casino"]
    classic = create(client, a, b["agent_id"], amount=2).json()["escrow_id"]
    stream = client.post(
        "/escrow/api/v1/escrow",
        json={"to_agent_id": b["agent_id"], "amount": "3"},
        headers=auth(ka),
    ).json()["escrow_id"]
    for key in (ka, kb):
        listed = client.get("/escrow/api/v1/escrows", headers=auth(key)).json()["escrows"]
        ids = [s["escrow_id"] for s in listed]
        assert stream in ids and classic not in ids
    ledger = client.get("/casino/api/v1/auth/ledger", headers=auth(ka)).json()["entries"]
    locks = {r["reference"].split(":")[0] for r in ledger if r["type"] == "escrow_lock"}
    assert {classic, stream} <= locks
