"""Casino routes (``/casino/api/v1``): register, balance, ledger, stats, bets, referrals, games."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

from pf_tui.sim.http.pipeline import Ctx, Reply, encode
from pf_tui.sim.http.routing import catch_all, health, int_arg, route
from pf_tui.sim.model.num import ZERO, num, parse_iso, q2
from pf_tui.usd import JSON

if TYPE_CHECKING:
    from pf_tui.sim.model.accounts import Agent
    from pf_tui.sim.model.state import Simulator

SERVICE = "casino"


def balance_reply(agent: Agent) -> dict[str, JSON]:
    return {
        "agent_id": agent.agent_id,
        "balance_usd": num(agent.casino),
        "lifetime": {
            "total_deposited": num(agent.deposited),
            "total_withdrawn": num(agent.withdrawn),
            "total_wagered": num(agent.wagered),
            "total_won": num(agent.won),
            "net_profit": num(agent.won - agent.wagered),
        },
        "recent_activity": [
            {
                "type": r.type,
                "amount": num(r.amount),
                "balance_after": num(r.balance_after),
                "reason": r.reason,
                "service": r.service,
                "at": r.wire()["at"],
            }
            for r in list(agent.ledger)[-10:][::-1]
        ],
    }


def stats_reply(agent: Agent) -> dict[str, JSON]:
    def rate(wins: int, bets: int) -> Decimal:
        return num(q2(Decimal(wins * 100) / bets)) if bets else ZERO

    return {
        "agent_id": agent.agent_id,
        "lifetime": {
            "total_bets": agent.total_bets,
            "total_wagered": num(agent.wagered),
            "total_won": num(agent.won),
            "net_profit": num(agent.won - agent.wagered),
            "win_rate": rate(agent.wins, agent.total_bets),
        },
        "by_game": [
            {
                "game": game,
                "bets": tally.bets,
                "wagered": num(tally.wagered),
                "won": num(tally.won),
                "net": num(tally.won - tally.wagered),
                "win_rate": rate(tally.wins, tally.bets),
            }
            for game, tally in agent.by_game.items()
        ],
    }


def referral_reply(agent: Agent, now: float) -> dict[str, JSON]:
    from pf_tui.sim.model.num import iso

    earned = sum((a for _, a in agent.referral_income), ZERO)
    recent = sum((a for t, a in agent.referral_income if t >= now - 30 * 86400), ZERO)
    return {
        "referral_code": agent.referral_code,
        "total_referrals": len(agent.referrals),
        "total_earned_usd": num(earned),
        "last_30_days_usd": num(recent),
        "referrals": [
            {"referred_agent": a, "level": 1, "since": iso(t)} for a, t in agent.referrals
        ],
    }


def bets_page(ctx: Ctx, agent: Agent) -> dict[str, JSON]:
    limit = int_arg(ctx, "limit", 20, 1, 100)
    offset = int_arg(ctx, "offset", 0, 0, 1_000_000)
    since_raw = ctx.arg("since")
    since = parse_iso(since_raw) if since_raw else None
    rows = [b for t, b in reversed(agent.bets) if since is None or t >= since]
    page = rows[offset : offset + limit]
    wins = sum(1 for b in rows if b["won"])
    net = sum((b["net"] for b in rows), ZERO)
    return {
        "bets": page,
        "pagination": {
            "total": len(rows),
            "limit": limit,
            "offset": offset,
            "has_more": offset + limit < len(rows),
        },
        "summary": {
            "total_bets": len(rows),
            "net_pnl": num(net),
            "win_rate_pct": num(q2(Decimal(wins * 100) / len(rows))) if rows else 0,
        },
    }


def routes(sim: Simulator) -> list[BaseRoute]:
    def register(ctx: Ctx) -> Reply:
        body = ctx.fields()
        agent, key = sim.register(body.get("referral_code"))
        return encode(
            201,
            {
                "agent_id": agent.agent_id,
                "api_key": key,
                "referral_code": agent.referral_code,
                "balance": 0,
                "tier": "free",
            },
            SERVICE,
        )

    def cached(ctx: Ctx, name: str, build: Callable[[Agent], dict[str, JSON]]) -> Reply:
        agent = ctx.agent("casino")
        hit = agent.cache.get(name)
        if isinstance(hit, Reply):
            return hit
        reply = agent.cache[name] = encode(200, build(agent), SERVICE)
        return reply

    def balance(ctx: Ctx) -> Reply:
        return cached(ctx, "balance", balance_reply)

    def ledger(ctx: Ctx) -> Reply:
        return cached(ctx, "ledger", lambda a: {"entries": [r.wire() for r in reversed(a.ledger)]})

    def stats(ctx: Ctx) -> Reply:
        return cached(ctx, "stats", stats_reply)

    def history(ctx: Ctx) -> dict[str, JSON]:
        return bets_page(ctx, ctx.agent("casino"))

    def referrals(ctx: Ctx) -> dict[str, JSON]:
        return referral_reply(ctx.agent("casino"), ctx.now())

    def coin_flip(ctx: Ctx) -> dict[str, JSON]:
        agent = ctx.agent("casino")
        body = ctx.fields()
        sim.casino.check_play_rate(agent, ctx.now())
        return sim.casino.coin_flip(agent, body.get("side"), body.get("amount"), ctx.now())

    def dice(ctx: Ctx) -> dict[str, JSON]:
        agent = ctx.agent("casino")
        body = ctx.fields()
        sim.casino.check_play_rate(agent, ctx.now())
        return sim.casino.dice(
            agent, body.get("direction"), body.get("threshold"), body.get("amount"), ctx.now()
        )

    return [
        health(sim, SERVICE),
        route(
            sim, SERVICE, "/auth/register", {"POST": register}, limit="register", idempotent=True
        ),
        route(sim, SERVICE, "/auth/balance", {"GET": balance}),
        route(sim, SERVICE, "/auth/ledger", {"GET": ledger}),
        route(sim, SERVICE, "/auth/referral/stats", {"GET": referrals}),
        route(sim, SERVICE, "/stats/me", {"GET": stats}),
        route(sim, SERVICE, "/bets/history", {"GET": history}, limit="bets"),
        route(sim, SERVICE, "/games/coin-flip", {"POST": coin_flip}, idempotent=True),
        route(sim, SERVICE, "/games/dice", {"POST": dice}, idempotent=True),
        catch_all(sim, SERVICE),
    ]
