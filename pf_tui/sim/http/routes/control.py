"""The simulator's own controls (``/_sim``) and the Telegram stand-in (``/telegram``).

See docs/api.md §6.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

from pf_tui.sim.http.pipeline import Ctx, Knobs, Reply, encode
from pf_tui.sim.http.routing import catch_all, route
from pf_tui.sim.model.errors import ApiError
from pf_tui.sim.model.faults import RuleError
from pf_tui.usd import JSON

if TYPE_CHECKING:
    from pf_tui.sim.model.state import Simulator


def control_routes(sim: Simulator) -> list[BaseRoute]:
    def faults(ctx: Ctx) -> dict[str, JSON]:
        if ctx.method == "POST":
            try:
                added = sim.faults.add(ctx.body())
            except RuleError as exc:
                raise ApiError(400, "invalid_rule", str(exc)) from None
            return {
                "added": [r.wire() for r in added],
                "rules": [r.wire() for r in sim.faults.rules],
            }
        if ctx.method == "DELETE":
            sim.faults.clear()
        return {"rules": [r.wire() for r in sim.faults.rules]}

    def config(ctx: Ctx) -> dict[str, JSON]:
        if ctx.method == "POST":
            body = ctx.fields()
            if "limits" in body:
                try:
                    sim.limiter.configure(str(body["limits"]))
                except ValueError as exc:
                    raise ApiError(400, "invalid_config", str(exc)) from None
                sim.limiter.clear()
                sim.casino.play_limit = sim.limiter.limit_of("game_play")
            if "idempotency_on_classic" in body:
                if not isinstance(body["idempotency_on_classic"], bool):
                    raise ApiError(
                        400, "invalid_config", "idempotency_on_classic must be true or false"
                    )
                sim.idempotency_on_classic = body["idempotency_on_classic"]
            if "motion" in body:
                if not isinstance(body["motion"], bool):
                    raise ApiError(400, "invalid_config", "motion must be true or false")
                sim.set_motion(body["motion"])
            if "story" in body:
                if not isinstance(body["story"], bool):
                    raise ApiError(400, "invalid_config", "story must be true or false")
                sim.set_story(body["story"])
        return {
            "limits": sim.limiter.spec,
            "idempotency_on_classic": sim.idempotency_on_classic,
            "motion": sim.motion,
            "story": sim.story.enabled,
        }

    def story(ctx: Ctx) -> dict[str, JSON]:
        return sim.story.wire(sim.now())

    def clock(ctx: Ctx) -> dict[str, JSON]:
        ran = 0
        if ctx.method == "POST":
            raw = ctx.fields().get("advance_s", 0)
            try:
                seconds = float(raw)
            except (TypeError, ValueError):
                raise ApiError(
                    400, "invalid_clock", "advance_s must be a number of seconds"
                ) from None
            if isinstance(raw, bool) or not math.isfinite(seconds) or seconds < 0:
                raise ApiError(400, "invalid_clock", "advance_s must be a finite number >= 0")
            ran = sim.advance(seconds)
        return {"now": sim.now(), "paused": sim.clock.paused, "jobs_run": ran}

    def pause(ctx: Ctx) -> dict[str, JSON]:
        sim.pause()
        return {"now": sim.now(), "paused": True}

    def resume(ctx: Ctx) -> dict[str, JSON]:
        sim.resume()
        return {"now": sim.now(), "paused": False}

    def reset(ctx: Ctx) -> dict[str, JSON]:
        sim.reset()
        return {"ok": True, "now": sim.now()}

    def state(ctx: Ctx) -> dict[str, JSON]:
        sim.tick()
        return sim.state_wire()

    def requests(ctx: Ctx) -> dict[str, JSON]:
        def number(name: str) -> float | None:
            raw = ctx.arg(name)
            if raw is None or raw == "":
                return None
            try:
                return float(raw)
            except ValueError:
                raise ApiError(400, "invalid_query", f"{name} must be a number") from None

        since_seq = number("since_seq")
        return {
            "requests": sim.requests_wire(
                number("since"), int(since_seq) if since_seq is not None else None
            ),
            "last_seq": sim.request_seq,
        }

    def agents(ctx: Ctx) -> dict[str, JSON]:
        return {"agents": sim.fleet.wire()}

    knobs: Knobs = {"controls": True}
    return [
        route(sim, None, "/faults", {"GET": faults, "POST": faults, "DELETE": faults}, **knobs),
        route(sim, None, "/config", {"GET": config, "POST": config}, **knobs),
        route(sim, None, "/clock", {"GET": clock, "POST": clock}, **knobs),
        route(sim, None, "/pause", {"POST": pause}, **knobs),
        route(sim, None, "/resume", {"POST": resume}, **knobs),
        route(sim, None, "/reset", {"POST": reset}, **knobs),
        route(sim, None, "/state", {"GET": state}, **knobs),
        route(sim, None, "/requests", {"GET": requests}, **knobs),
        route(sim, None, "/agents", {"GET": agents}, **knobs),
        route(sim, None, "/story", {"GET": story}, **knobs),
        catch_all(sim, None),
    ]


def telegram_routes(sim: Simulator) -> list[BaseRoute]:
    def send(ctx: Ctx) -> Reply:
        body = ctx.body(invalid=None) if ctx.raw_body.strip() else {}
        status, reply = sim.telegram.send(ctx.params["token"], body, ctx.now())
        headers = (
            [(b"retry-after", str(sim.telegram.retry_after).encode())] if status == 429 else None
        )
        return encode(status, reply, None, headers)

    def faults(ctx: Ctx) -> dict[str, JSON]:
        try:
            return sim.telegram.configure(ctx.body())
        except ValueError as exc:
            raise ApiError(400, "invalid_request", str(exc)) from None

    def sent(ctx: Ctx) -> dict[str, JSON]:
        if ctx.method == "DELETE":
            sim.telegram.sent.clear()
        return {"ok": True, "result": list(sim.telegram.sent)}

    return [
        route(sim, None, "/bot{token}/sendMessage", {"POST": send}),
        route(sim, None, "/_faults", {"POST": faults}, controls=True),
        route(sim, None, "/_sent", {"GET": sent, "DELETE": sent}, controls=True),
        catch_all(sim, None),
    ]
