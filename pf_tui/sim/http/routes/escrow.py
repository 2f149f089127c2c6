"""Escrow routes in both dialects: classic under ``/escrow``, streaming under ``/escrow/api/v1``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

from pf_tui.sim.http.pipeline import Ctx, Knobs, Reply, encode
from pf_tui.sim.http.routing import catch_all, health, route
from pf_tui.sim.model.escrow import CLASSIC, DOCS
from pf_tui.usd import JSON

if TYPE_CHECKING:
    from pf_tui.sim.model.state import Simulator

SERVICE = "escrow"


def classic_routes(sim: Simulator) -> list[BaseRoute]:

    def create(ctx: Ctx) -> Reply:
        creator = ctx.agent("casino")
        body = ctx.fields(invalid=None)  # unparsable JSON counts as {} (so 400 invalid_amount)
        esc = sim.create_escrow(
            creator,
            dialect=CLASSIC,
            raw_amount=body.get("amount_usd"),
            description=body.get("description"),
            payee_id=body.get("counterparty_agent_id"),
            raw_timeout=body.get("timeout_hours"),
            referral_code=body.get("referral_code"),
        )
        view = sim.escrows.classic_view(esc, False)
        keys = (
            "escrow_id",
            "amount_usd",
            "commission_usd",
            "net_to_counterparty",
            "description",
            "creator_id",
            "counterparty_id",
            "status",
            "timeout_hours",
            "auto_release_at",
        )
        return encode(201, {k: view[k] for k in keys}, SERVICE)

    def complete(ctx: Ctx) -> dict[str, JSON]:
        agent = ctx.agent("casino")
        esc = sim.escrows.get(ctx.params["escrow_id"])
        sim.escrows.complete(esc, agent, ctx.now())
        return {
            "escrow_id": esc.escrow_id,
            "status": "completed",
            "auto_release_at": sim.escrows.classic_view(esc, False)["auto_release_at"],
        }

    def release(ctx: Ctx) -> dict[str, JSON]:
        agent = ctx.agent("casino")
        esc = sim.escrows.get(ctx.params["escrow_id"])
        return sim.escrows.release(esc, agent, ctx.now())

    def dispute(ctx: Ctx) -> dict[str, JSON]:
        agent = ctx.agent("casino")
        reason = ctx.fields(invalid=None).get("reason")
        esc = sim.escrows.get(ctx.params["escrow_id"])
        sim.escrows.dispute(esc, agent, reason, CLASSIC, ctx.now())
        return {"escrow_id": esc.escrow_id, "status": "disputed", "reason": esc.reason}

    def read(ctx: Ctx) -> dict[str, JSON]:
        esc = sim.escrows.get(ctx.params["escrow_id"])
        caller = ctx.caller[0].agent_id if ctx.caller else None
        return sim.escrows.classic_view(esc, caller in (esc.creator_id, esc.payee_id))

    def stats(ctx: Ctx) -> dict[str, JSON]:
        return sim.escrows.stats()

    knobs: Knobs = {"idempotent": True, "classic": True}
    return [
        health(sim, SERVICE),
        route(sim, SERVICE, "/escrow/create", {"POST": create}, limit="escrow_create", **knobs),
        route(
            sim,
            SERVICE,
            "/escrow/complete/{escrow_id}",
            {"POST": complete},
            limit="escrow_release",
            **knobs,
        ),
        route(
            sim,
            SERVICE,
            "/escrow/release/{escrow_id}",
            {"POST": release},
            limit="escrow_release",
            **knobs,
        ),
        route(
            sim,
            SERVICE,
            "/escrow/dispute/{escrow_id}",
            {"POST": dispute},
            limit="escrow_dispute",
            **knobs,
        ),
        route(sim, SERVICE, "/escrow/stats", {"GET": stats}),
        route(sim, SERVICE, "/escrow/{escrow_id}", {"GET": read}),
        catch_all(sim, SERVICE),
    ]


def docs_routes(
    sim: Simulator, *, service: str = SERVICE, any_key: bool = False
) -> list[BaseRoute]:
    """The streaming dialect; ``any_key`` lets the docs aggregate take any of the agent's keys."""
    kind = None if any_key else "casino"

    def create(ctx: Ctx) -> Reply:
        creator = ctx.agent(kind)
        body = ctx.fields(invalid=None)
        esc = sim.create_escrow(
            creator,
            dialect=DOCS,
            raw_amount=body.get("amount"),
            description=body.get("memo"),
            payee_id=body.get("to_agent_id"),
            raw_timeout=body.get("auto_release_hours"),
            referral_code=body.get("referral_code"),
        )
        return encode(201, sim.escrows.docs_view(esc), service)

    def partial(ctx: Ctx) -> dict[str, JSON]:
        agent = ctx.agent(kind)
        body = ctx.fields(invalid=None)
        esc = sim.escrows.get(ctx.params["escrow_id"])
        sim.escrows.release_partial(esc, agent, body.get("amount"), ctx.now())
        return sim.escrows.docs_view(esc)

    def close(ctx: Ctx) -> dict[str, JSON]:
        agent = ctx.agent(kind)
        esc = sim.escrows.get(ctx.params["escrow_id"])
        sim.escrows.close(esc, agent, ctx.now())
        return sim.escrows.docs_view(esc)

    def dispute(ctx: Ctx) -> dict[str, JSON]:
        agent = ctx.agent(kind)
        reason = ctx.fields(invalid=None).get("reason")
        esc = sim.escrows.get(ctx.params["escrow_id"])
        sim.escrows.dispute(esc, agent, reason, DOCS, ctx.now())
        return sim.escrows.docs_view(esc)

    def read(ctx: Ctx) -> dict[str, JSON]:
        return sim.escrows.docs_view(sim.escrows.get(ctx.params["escrow_id"]))

    def listing(ctx: Ctx) -> dict[str, JSON]:
        # A guides deployment lists what its streaming API created: the caller's streams, as
        # creator or payee. Classic escrows are not listed (production has no list at all), so
        # a client finds them in the casino ledger and knows each escrow's dialect by where it
        # found it (docs/api.md §3, §7).
        agent = ctx.agent(kind)
        wanted = ctx.arg("status")
        book = sim.escrows.escrows
        views = [
            sim.escrows.docs_view(book[e]) for e in agent.escrow_ids if book[e].dialect == DOCS
        ]
        if wanted:
            views = [v for v in views if v["status"] == wanted]
        return {"escrows": views[::-1]}

    knobs: Knobs = {"idempotent": True, "docs_limits": True}
    return [
        route(sim, service, "/escrow", {"POST": create}, limit="escrow_create", **knobs),
        route(sim, service, "/escrows", {"GET": listing}),
        route(
            sim,
            service,
            "/escrow/{escrow_id}/release-partial",
            {"POST": partial},
            limit="escrow_release",
            **knobs,
        ),
        route(
            sim,
            service,
            "/escrow/{escrow_id}/close",
            {"POST": close},
            limit="escrow_release",
            **knobs,
        ),
        route(
            sim,
            service,
            "/escrow/{escrow_id}/dispute",
            {"POST": dispute},
            limit="escrow_dispute",
            **knobs,
        ),
        route(sim, service, "/escrow/{escrow_id}", {"GET": read}),
    ]


def docs_escrow_mount_routes(sim: Simulator) -> list[BaseRoute]:
    return [health(sim, SERVICE), *docs_routes(sim), catch_all(sim, SERVICE)]
