"""The docs aggregate (``/api/v1``): the guides' shapes over the same state (docs/api.md §2, §7)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

from pf_tui.sim.http.pipeline import Ctx
from pf_tui.sim.http.routes.casino import bets_page
from pf_tui.sim.http.routes.escrow import docs_routes
from pf_tui.sim.http.routing import catch_all, health, route
from pf_tui.sim.model.num import ZERO, day_start, dstr, num, q2
from pf_tui.usd import JSON

if TYPE_CHECKING:
    from pf_tui.sim.model.state import Simulator

SERVICE = "docs"
ERROR_WINDOW_S = 3600


def routes(sim: Simulator) -> list[BaseRoute]:

    def wallet_balance(ctx: Ctx) -> dict[str, JSON]:
        agent = ctx.agent(None)
        return {"agent_id": agent.agent_id, "usd": dstr(agent.casino), "chain": "base"}

    def portfolio_pnl(ctx: Ctx) -> dict[str, JSON]:
        agent = ctx.agent(None)
        now = ctx.now()
        trading = sim.market.pnl_history(agent, 30, now)["summary"]["net_pnl"]
        dd = sim.market.drawdown(agent, 30, now).get("summary", {}).get("max_drawdown_pct", ZERO)
        total = Decimal(trading) + agent.won - agent.wagered
        return {"total_usd": dstr(q2(total)), "max_drawdown_pct": dstr(Decimal(dd))}

    def positions(ctx: Ctx) -> dict[str, JSON]:
        agent = ctx.agent(None)
        items = []
        for pos in agent.positions.values():
            price = sim.market.prices[pos.coin]
            items.append(
                {
                    "id": pos.position_id,
                    "pair": f"{pos.coin}-USD",
                    "side": pos.side,
                    "size": dstr(pos.size_usd),
                    "leverage": pos.leverage,
                    "entry_price": dstr(pos.entry_price),
                    "current_price": dstr(price),
                    "pnl_usd": dstr(pos.pnl(price)),
                }
            )
        return {"count": len(items), "items": items}

    def referrals(ctx: Ctx) -> dict[str, JSON]:
        agent = ctx.agent(None)
        midnight = day_start(ctx.now())
        today = sum(1 for _, t in agent.referrals if t >= midnight)
        # Casino and trading referrals are both counted, as production reports them per service.
        return {"total": 2 * len(agent.referrals) + agent.wallet_ref_count, "today": 2 * today}

    def casino_stats(ctx: Ctx) -> dict[str, JSON]:
        agent = ctx.agent(None)
        midnight = day_start(ctx.now())
        today = sum(1 for t, _ in agent.bets if t >= midnight)
        rate = Decimal(agent.wins) / agent.total_bets if agent.total_bets else ZERO
        return {
            "win_rate": num(rate.quantize(Decimal("0.0001"))),
            "bets_today": today,
            "total_bets": agent.total_bets,
            "net_profit": dstr(agent.won - agent.wagered),
        }

    def casino_recent(ctx: Ctx) -> dict[str, JSON]:
        agent = ctx.agent(None)
        return {"bets": bets_page(ctx, agent)["bets"]}

    def error_stats(ctx: Ctx) -> dict[str, JSON]:
        agent = ctx.agent(None)
        since = ctx.now() - ERROR_WINDOW_S
        seen = [err for t, err in agent.requests if t >= since]
        errors = sum(seen)
        pct = q2(Decimal(errors * 100) / len(seen)) if seen else ZERO
        return {"error_rate_pct": num(pct), "requests": len(seen), "errors": errors}

    return [
        health(sim, SERVICE),
        route(sim, SERVICE, "/wallet/balance", {"GET": wallet_balance}),
        route(sim, SERVICE, "/portfolio/pnl", {"GET": portfolio_pnl}),
        route(sim, SERVICE, "/trading/positions", {"GET": positions}),
        route(sim, SERVICE, "/referrals/stats", {"GET": referrals}),
        route(sim, SERVICE, "/casino/stats", {"GET": casino_stats}),
        route(sim, SERVICE, "/casino/recent", {"GET": casino_recent}),
        route(sim, SERVICE, "/agent/error-stats", {"GET": error_stats}),
        *docs_routes(sim, service=SERVICE, any_key=True),
        catch_all(sim, SERVICE),
    ]
