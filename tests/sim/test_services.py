"""Shapes of the production and docs replies, determinism, Telegram stand-in, controls, CLI."""

from __future__ import annotations

import argparse
from decimal import Decimal
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from pf_tui.sim.http.app import create_app
from pf_tui.sim.http.server import SimServer, load_faults, main
from pf_tui.sim.model.casino import dice_multiplier
from pf_tui.sim.model.telegram import html_error
from tests.conftest import asgi_client

from .helpers import auth, body

START = 1_767_225_600.0


async def agents_of(c: httpx.AsyncClient) -> list[dict[str, Any]]:
    return (await c.get("/_sim/agents")).json()["agents"]


async def test_agents_keys_and_addresses(sim_client: httpx.AsyncClient) -> None:
    agents = await agents_of(sim_client)
    assert len(agents) == 8
    strategies = {a["strategy"] for a in agents}
    assert strategies == {
        "trend",
        "mean-revert",
        "casino-grinder",
        "data-buyer",
        "compute-seller",
        "newcomer",
    }
    assert agents[-1]["strategy"] == "newcomer"  # the last one: the faucet works for it
    assert agents[-1]["initial_balance"] == 0
    a = agents[0]
    assert a["keys"]["casino"].startswith("sk_live_") and len(a["keys"]["casino"]) == 56
    assert a["keys"]["trading"].startswith("sk_trade_") and len(a["keys"]["trading"]) == 57
    assert a["keys"]["wallet"].startswith("pk_live_") and len(a["keys"]["wallet"]) == 56
    assert a["addresses"]["base"].startswith("0x") and len(a["addresses"]["base"]) == 42


async def test_every_service_health_and_info(sim_client: httpx.AsyncClient) -> None:
    for path in (
        "/casino/health",
        "/escrow/health",
        "/faucet/health",
        "/trading/health",
        "/wallet/health",
        "/casino/api/v1/health",
        "/trading/v1/health",
        "/wallet/v1/health",
        "/api/v1/health",
        "/escrow/api/v1/health",
    ):
        r = await sim_client.get(path)
        assert r.status_code == 200 and r.json()["status"] == "ok", path
        assert isinstance(r.json()["_info"], dict)
    r = await sim_client.get("/nowhere")
    assert (r.status_code, r.json()["error"]) == (404, "not_found")
    r = await sim_client.post("/casino/api/v1/auth/register", content=b"{oops")
    assert (r.status_code, r.json()["error"]) == (400, "invalid_json")


async def test_casino_reads_and_games(sim_client: httpx.AsyncClient) -> None:
    # A trader: unlike the demo's grinders it has no bets from before the simulation started.
    player = (await agents_of(sim_client))[0]
    h = auth(player["keys"]["casino"])
    start = body(await sim_client.get("/casino/api/v1/auth/balance", headers=h))["balance_usd"]
    for case, code in (
        ({"amount": "abc"}, "invalid_amount"),
        ({"amount": "0.009"}, "minimum_bet"),
        ({"amount": "99999"}, "insufficient_balance"),
    ):
        r = await sim_client.post(
            "/casino/api/v1/games/coin-flip", json={"side": "heads", **case}, headers=h
        )
        assert (r.status_code, r.json()["error"]) == (400, code)
    r = await sim_client.post(
        "/casino/api/v1/games/coin-flip", json={"side": "heads", "amount": "2"}, headers=h
    )
    flip = body(r)
    assert flip["payout_multiplier"] == Decimal("1.99")
    assert flip["amount_won"] == (Decimal("3.98") if flip["won"] else 0)
    r = await sim_client.post(
        "/casino/api/v1/games/dice",
        json={"direction": "under", "threshold": 30, "amount": 1},
        headers=h,
    )
    dice = body(r)
    assert dice["payout_multiplier"] == Decimal("3.3166")
    end = body(await sim_client.get("/casino/api/v1/auth/balance", headers=h))
    assert end["balance_usd"] == start - 3 + flip["amount_won"] + dice["amount_won"]
    assert end["recent_activity"][0]["type"] in ("bet", "win")
    ledger = body(await sim_client.get("/casino/api/v1/auth/ledger", headers=h))["entries"]
    assert ledger[0]["id"] > ledger[-1]["id"]
    bets = [e for e in ledger if e["type"] == "bet"]
    assert len(bets) == 2 and all(e["amount"] < 0 for e in bets)
    stats = body(await sim_client.get("/casino/api/v1/stats/me", headers=h))
    assert stats["lifetime"]["total_bets"] == 2 and {g["game"] for g in stats["by_game"]} == {
        "coin-flip",
        "dice",
    }
    assert 0 <= stats["lifetime"]["win_rate"] <= 100
    hist = body(await sim_client.get("/casino/api/v1/bets/history?limit=1", headers=h))
    assert hist["pagination"] == {"total": 2, "limit": 1, "offset": 0, "has_more": True}
    assert hist["bets"][0]["game"] == "dice"
    docs = body(await sim_client.get("/api/v1/casino/stats", headers=h))
    assert docs["bets_today"] == 2 and 0 <= docs["win_rate"] <= 1
    recent = body(await sim_client.get("/api/v1/casino/recent", headers=h))
    assert len(recent["bets"]) == 2


def test_dice_multiplier_rounds_down() -> None:
    assert dice_multiplier("over", 50) == Decimal("1.99")
    assert dice_multiplier("under", 30) == Decimal("3.3166")
    assert dice_multiplier("over", 98) == Decimal("49.75")


async def test_ledger_keeps_fifty_newest(sim_app: Starlette) -> None:
    sim = sim_app.state.sim
    grinder = list(sim.accounts.agents.values())[2]
    for _ in range(40):
        sim.casino.coin_flip(grinder, "heads", Decimal("0.01"), sim.now())
    async with asgi_client(sim_app) as c:
        entries = (
            await c.get("/casino/api/v1/auth/ledger", headers=auth(grinder.keys["casino"]))
        ).json()["entries"]
    assert len(entries) == 50
    assert {e["type"] for e in entries} <= {"bet", "win"}


async def test_trading_and_docs_views_agree(sim_client: httpx.AsyncClient) -> None:
    trader = (await agents_of(sim_client))[0]
    h = auth(trader["keys"]["trading"])
    hist = body(await sim_client.get("/trading/v1/trade/pnl-history?days=30", headers=h))
    assert len(hist["chart"]) == 30 and hist["summary"]["total_trades"] > 0
    assert hist["chart"][-1]["cumulative_pnl"] == hist["summary"]["net_pnl"]
    dd = body(await sim_client.get("/trading/v1/trade/drawdown?days=30", headers=h))
    assert dd["summary"]["max_drawdown_pct"] >= 0
    opened = body(
        await sim_client.post(
            "/trading/v1/trade/open",
            json={"coin": "SOL", "side": "long", "size_usd": 100, "leverage": 5},
            headers=h,
        )
    )
    assert opened["position_id"].startswith("pos_")
    docs = body(await sim_client.get("/api/v1/trading/positions", headers=h))
    assert docs["count"] == 1 and docs["items"][0]["pair"] == "SOL-USD"
    pnl = body(await sim_client.get("/api/v1/portfolio/pnl", headers=h))
    assert Decimal(pnl["total_usd"]) == hist["summary"]["net_pnl"]
    closed = body(
        await sim_client.post(
            "/trading/v1/trade/close", json={"position_id": opened["position_id"]}, headers=h
        )
    )
    assert closed["status"] == "closed"
    assert (
        await sim_client.post(
            "/trading/v1/trade/close", json={"position_id": opened["position_id"]}, headers=h
        )
    ).status_code == 404
    assert (
        "total_fees_generated_usd"
        in (await sim_client.get("/trading/v1/referral/stats", headers=h)).json()
    )


async def test_wallet_and_docs_balance(sim_client: httpx.AsyncClient) -> None:
    a = (await agents_of(sim_client))[0]
    h = auth(a["keys"]["wallet"])
    r = await sim_client.get(
        f"/wallet/v1/wallet/usdc-balance?base={a['addresses']['base']}"
        f"&solana={a['addresses']['solana']}",
        headers=h,
    )
    out = body(r)
    assert out["total_usd"] == sum(b["usdc_balance"] for b in out["balances"])
    r = await sim_client.get("/wallet/v1/wallet/usdc-balance", headers=h)
    assert (r.status_code, r.json()["error"]) == (400, "no_addresses")
    assert set((await sim_client.get("/wallet/v1/referral/stats", headers=h)).json()) >= {
        "total_referrals",
        "total_earned_usd",
        "available_usd",
    }
    docs = (await sim_client.get("/api/v1/wallet/balance", headers=h)).json()
    prod = body(
        await sim_client.get("/casino/api/v1/auth/balance", headers=auth(a["keys"]["casino"]))
    )
    assert Decimal(docs["usd"]) == prod["balance_usd"] and isinstance(docs["usd"], str)
    refs = (await sim_client.get("/api/v1/referrals/stats", headers=h)).json()
    assert set(refs) >= {"total", "today"}
    errs = (await sim_client.get("/api/v1/agent/error-stats", headers=h)).json()
    assert errs["requests"] >= 1 and errs["errors"] == 1  # the no_addresses call


async def run_fixed(seed: int) -> Any:
    app = create_app(seed=seed, agents=10, motion=False, start_time=START)
    async with asgi_client(app) as c:
        assert (await c.post("/_sim/config", json={"motion": True})).json()["motion"] is True
        await c.post("/_sim/clock", json={"advance_s": 900})
        await c.post("/_sim/clock", json={"advance_s": 1800})
        return body(await c.get("/_sim/state")), (await c.get("/_sim/agents")).json()


async def test_determinism() -> None:
    first, second, other = await run_fixed(5), await run_fixed(5), await run_fixed(6)
    assert first == second
    assert first[0]["now"] == START + 2700
    assert first[0]["escrows"] and first != other


async def test_clock_controls(sim_client: httpx.AsyncClient) -> None:
    t0 = (await sim_client.get("/_sim/clock")).json()
    assert t0["paused"] is True
    t1 = (await sim_client.post("/_sim/clock", json={"advance_s": 30})).json()
    assert t1["now"] == t0["now"] + 30
    assert (await sim_client.post("/_sim/clock", json={"advance_s": -1})).status_code == 400
    assert (await sim_client.post("/_sim/resume")).json()["paused"] is False
    assert (await sim_client.post("/_sim/pause")).json()["paused"] is True
    since = (await sim_client.get("/_sim/requests")).json()["last_seq"]
    await sim_client.get("/casino/health", headers={"X-Real-IP": "10.7.7.7"})
    rows = (await sim_client.get(f"/_sim/requests?since_seq={since}")).json()["requests"]
    assert [(r["path"], r["ip"], r["status"]) for r in rows] == [
        ("/casino/health", "10.7.7.7", 200)
    ]


async def test_telegram_stand_in(sim_client: httpx.AsyncClient) -> None:
    url = "/telegram/bot123:SECRET/sendMessage"
    ok = await sim_client.post(
        url, json={"chat_id": 42, "text": "<b>alert</b> &amp; more", "parse_mode": "HTML"}
    )
    assert (
        ok.status_code == 200
        and ok.json()["ok"] is True
        and ok.json()["result"]["chat"]["id"] == 42
    )
    bad = await sim_client.post(
        url, json={"chat_id": 42, "text": "<script>x</script>", "parse_mode": "HTML"}
    )
    assert bad.status_code == 400 and bad.json()["description"].startswith(
        "Bad Request: can't parse entities"
    )
    unbalanced = await sim_client.post(
        url, json={"chat_id": 42, "text": "<b>x", "parse_mode": "HTML"}
    )
    assert unbalanced.status_code == 400
    assert (
        await sim_client.post("/telegram/_faults", json={"every_n": 2, "retry_after": 3})
    ).status_code == 200
    first = await sim_client.post(url, json={"chat_id": 1, "text": "one"})
    limited = await sim_client.post(url, json={"chat_id": 1, "text": "two"})
    assert first.status_code == 200
    assert limited.status_code == 429 and limited.json()["parameters"]["retry_after"] == 3
    sent = (await sim_client.get("/telegram/_sent")).json()["result"]
    assert [m["text"] for m in sent] == ["<b>alert</b> &amp; more", "one"]
    assert all("SECRET" not in str(m) for m in sent)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("plain", True),
        ("<i>a</i><code>b</code>", True),
        ("a < b", False),
        ("<b><i>x</b></i>", False),
        ("&bogus;", False),
        ('<a href="https://x">l</a>', True),
        ("<u>", False),
    ],
)
def test_html_validation(text: str, ok: bool) -> None:
    assert (html_error(text) is None) is ok


def test_reset_restores_start(sim_server: SimServer) -> None:
    with httpx.Client(base_url=sim_server.url) as c:
        before = c.get("/_sim/state").json()
        c.post("/casino/api/v1/auth/register", json={})
        assert len(c.get("/_sim/state").json()["agents"]) == len(before["agents"]) + 1
        c.post("/_sim/reset")
        assert c.get("/_sim/state").json()["agents"] == before["agents"]


def test_cli_rejects_bad_specs(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(
        host="127.0.0.1", port=0, agents=2, seed=1, faults='[{"kind": "nope"}]', limits="production"
    )
    assert main(args) == 2
    assert "rule 1" in capsys.readouterr().err
    args.faults, args.limits = None, "x0"
    assert main(args) == 2
    path = tmp_path / "faults.json"
    path.write_text('[{"route": "/escrow/*", "kind": "latency", "latency_ms": 5}]')
    assert load_faults(str(path))[0]["kind"] == "latency"
    with pytest.raises(ValueError):
        load_faults(str(tmp_path / "missing.json"))


def test_sim_server_url_and_start_time() -> None:
    with SimServer(agents=2, seed=3, motion=False, start_time=START) as server:
        assert server.url.startswith("http://127.0.0.1:") and server.port > 0
        assert httpx.get(f"{server.url}/_sim/clock").json()["now"] == START
