"""Faucet (``/faucet``), trading (``/trading/v1``) and wallet (``/wallet/v1``) routes."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from starlette.routing import BaseRoute

from pf_tui.sim.http.pipeline import Ctx, Reply, encode
from pf_tui.sim.http.routing import catch_all, health, int_arg, route
from pf_tui.sim.model.errors import ApiError
from pf_tui.sim.model.num import ZERO, day_start, num
from pf_tui.usd import JSON

if TYPE_CHECKING:
    from pf_tui.sim.model.accounts import Agent
    from pf_tui.sim.model.state import Simulator


class _PricedReply(NamedTuple):
    """A positions reply and the market version (prices) it was built at."""

    version: int
    reply: Reply


class _VersionedReply(NamedTuple):
    """A P&L history reply and what it was built from: (days, UTC day, closed trades)."""

    version: tuple[int, float, int]
    reply: Reply


def faucet_routes(sim: Simulator) -> list[BaseRoute]:
    def claim(ctx: Ctx) -> dict[str, JSON]:
        body = ctx.body(invalid="invalid_request")
        return sim.faucet.claim(body, ctx.ip, ctx.now())

    def stats(ctx: Ctx) -> dict[str, JSON]:
        return {"total_claims": sim.faucet.claims, "total_granted_usd": num(sim.accounts.granted)}

    return [
        health(sim, "faucet"),
        route(
            sim, "faucet", "/faucet/claim", {"POST": claim}, limit="faucet_claim", idempotent=True
        ),
        route(sim, "faucet", "/faucet/stats", {"GET": stats}),
        catch_all(sim, "faucet"),
    ]


def trading_agent(ctx: Ctx) -> Agent:
    return ctx.agent("trading", missing="unauthorized", unknown="invalid_key")


def trading_referrals(agent: Agent) -> dict[str, JSON]:
    return {
        "referral_code": agent.referral_code,
        "total_referrals": len(agent.referrals),
        "total_fees_generated_usd": num(agent.trading_ref_fees),
        "total_earned_usd": num(agent.trading_ref_earned),
    }


def trading_routes(sim: Simulator) -> list[BaseRoute]:
    service = "trading"

    def positions(ctx: Ctx) -> Reply:
        agent = trading_agent(ctx)
        name = "positions_db" if ctx.db_fallback else "positions"
        hit = agent.cache.get(name)
        if isinstance(hit, _PricedReply) and hit.version == sim.market.version:
            return hit.reply
        reply = encode(200, sim.market.positions_wire(agent, ctx.db_fallback), service)
        agent.cache[name] = _PricedReply(sim.market.version, reply)
        return reply

    def pnl_history(ctx: Ctx) -> Reply:
        agent = trading_agent(ctx)
        days = int_arg(ctx, "days", 30, 1, 365)
        now = ctx.now()
        # The reply depends on the closed trades (append-only) and on today's date alone, so it
        # is built once per (days, day, trade count) instead of on every poll: 30 days of
        # buckets and their times were a tenth of the simulator's CPU at fleet scale.
        version = (days, day_start(now), len(agent.trades))
        hit = agent.cache.get("pnl_history")
        if isinstance(hit, _VersionedReply) and hit.version == version:
            return hit.reply
        reply = encode(200, sim.market.pnl_history(agent, days, now), service)
        agent.cache["pnl_history"] = _VersionedReply(version, reply)
        return reply

    def drawdown(ctx: Ctx) -> dict[str, JSON]:
        agent = trading_agent(ctx)
        return sim.market.drawdown(agent, int_arg(ctx, "days", 30, 1, 365), ctx.now())

    def referrals(ctx: Ctx) -> dict[str, JSON]:
        return trading_referrals(trading_agent(ctx))

    def account(ctx: Ctx) -> dict[str, JSON]:
        agent = trading_agent(ctx)
        locked = agent.margin_locked()
        return {
            "balance_usd": num(agent.trading),
            "margin_used_usd": num(locked),
            "free_margin_usd": num(agent.trading - locked),
            "unrealized_pnl": num(sim.market.unrealized(agent)),
        }

    def open_(ctx: Ctx) -> dict[str, JSON]:
        agent = trading_agent(ctx)
        body = ctx.fields()
        pos = sim.market.open(
            agent,
            body.get("coin"),
            body.get("side"),
            body.get("size_usd"),
            body.get("leverage"),
            ctx.now(),
        )
        return {
            "position_id": pos.position_id,
            "coin": pos.coin,
            "side": pos.side,
            "size_usd": num(pos.size_usd),
            "leverage": pos.leverage,
            "margin_usd": num(pos.margin),
            "entry_price": num(pos.entry_price),
            "liquidation_price": num(pos.liquidation_price()),
            "status": "open",
        }

    def close(ctx: Ctx) -> dict[str, JSON]:
        agent = trading_agent(ctx)
        return sim.market.close(agent, ctx.fields().get("position_id"), ctx.now())

    return [
        health(sim, service),
        route(sim, service, "/trade/positions", {"GET": positions}),
        route(sim, service, "/trade/pnl-history", {"GET": pnl_history}),
        route(sim, service, "/trade/drawdown", {"GET": drawdown}),
        route(sim, service, "/trade/open", {"POST": open_}, limit="trade", idempotent=True),
        route(sim, service, "/trade/close", {"POST": close}, limit="trade", idempotent=True),
        route(sim, service, "/referral/stats", {"GET": referrals}),
        route(sim, service, "/account", {"GET": account}),
        catch_all(sim, service),
    ]


def wallet_referrals(agent: Agent) -> dict[str, JSON]:
    return {
        "total_referrals": agent.wallet_ref_count,
        "total_earned_usd": num(agent.wallet_ref_earned),
        "available_usd": num(agent.wallet_ref_earned),
    }


def wallet_routes(sim: Simulator) -> list[BaseRoute]:
    service = "wallet"

    def usdc(ctx: Ctx) -> dict[str, JSON]:
        ctx.agent("wallet")
        balances = []
        total = ZERO
        for chain in ("base", "solana"):
            address = ctx.arg(chain)
            if address:
                amount = sim.fleet.onchain.get(address, ZERO)
                total += amount
                balances.append(
                    {"chain": chain, "wallet_address": address, "usdc_balance": num(amount)}
                )
        if not balances:
            raise ApiError(400, "no_addresses", "pass ?base=0x... and/or ?solana=...")
        return {"total_usd": num(total), "balances": balances}

    def referrals(ctx: Ctx) -> dict[str, JSON]:
        return wallet_referrals(ctx.agent("wallet"))

    return [
        health(sim, service),
        route(sim, service, "/wallet/usdc-balance", {"GET": usdc}),
        route(sim, service, "/referral/stats", {"GET": referrals}),
        catch_all(sim, service),
    ]
