"""The simulator's cached P&L history (issue 15) is rebuilt whenever what it shows changes: a
trade closes, or the UTC day turns."""

from __future__ import annotations

import httpx

from .helpers import auth, body, demo_agents

PNL = "/trading/v1/trade/pnl-history?days=30"


def test_pnl_history_follows_trades_and_the_day(client: httpx.Client) -> None:
    """Breaking it: a cache keyed on too little shows yesterday's chart or misses a trade."""
    agent = next(a for a in demo_agents(client) if a["keys"].get("trading"))
    key = agent["keys"]["trading"]
    first = client.get(PNL, headers=auth(key))
    assert first.status_code == 200
    assert client.get(PNL, headers=auth(key)).content == first.content  # nothing changed
    opened = client.post(
        "/trading/v1/trade/open",
        json={"coin": "BTC", "side": "long", "size_usd": 100, "leverage": 2},
        headers=auth(key),
    )
    assert opened.status_code == 200, opened.text
    closed = client.post(
        "/trading/v1/trade/close",
        json={"position_id": opened.json()["position_id"]},
        headers=auth(key),
    )
    assert closed.status_code == 200, closed.text
    after_trade = body(client.get(PNL, headers=auth(key)))
    assert after_trade["summary"]["total_trades"] == body(first)["summary"]["total_trades"] + 1
    assert client.post("/_sim/clock", json={"advance_s": 86400}).status_code == 200
    next_day = body(client.get(PNL, headers=auth(key)))
    assert next_day["chart"][-1]["date"] > after_trade["chart"][-1]["date"]
    assert next_day["chart"][-2]["date"] == after_trade["chart"][-1]["date"]
