"""Small helpers the ``routes_*`` modules share to declare routes over the pipeline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Unpack

from starlette.routing import Route

from pf_tui.sim.http.pipeline import Ctx, Endpoint, Handler, Knobs
from pf_tui.sim.model.errors import ApiError
from pf_tui.usd import JSON

if TYPE_CHECKING:
    from pf_tui.sim.model.state import Simulator


def route(
    sim: Simulator,
    service: str | None,
    path: str,
    handlers: dict[str, Handler],
    *,
    limit: str | None = None,
    **knobs: Unpack[Knobs],
) -> Route:
    """A Starlette route whose endpoint is the simulator pipeline (any method reaches it)."""
    return Route(path, Endpoint(sim, service, handlers, limit=limit, **knobs))


def _not_found(ctx: Ctx) -> dict[str, JSON]:
    raise ApiError(404, "not_found", f"no route {ctx.method} {ctx.path}")


def catch_all(sim: Simulator, service: str | None) -> Route:
    """Unknown paths under a mount: 404 ``not_found`` as JSON, for every method."""
    methods = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
    return route(sim, service, "/{rest:path}", dict.fromkeys(methods, _not_found))


def health(sim: Simulator, service: str, path: str = "/health") -> Route:
    return route(sim, service, path, {"GET": lambda ctx: {"status": "ok", "service": service}})


def int_arg(ctx: Ctx, name: str, default: int, lo: int, hi: int) -> int:
    """A whole-number query argument, clamped into ``lo..hi``; unparsable means ``default``."""
    raw = ctx.arg(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        return default
    return max(lo, min(hi, value))
