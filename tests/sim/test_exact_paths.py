"""The simulator's router shortcut (issue 15: one simulator process for a sharded fleet): a path
the router resolved once goes straight to its endpoint, with the very reply the router gives."""

from __future__ import annotations

import httpx

from pf_tui.sim.http.pipeline import Endpoint, ExactPaths
from pf_tui.sim.http.server import SimServer

from .helpers import auth, demo_agents


def _exact(sim_server: SimServer) -> dict[str, Endpoint]:
    for layer in _layers(sim_server.app.middleware_stack):
        if isinstance(layer, ExactPaths):
            return layer.paths
    raise AssertionError("no ExactPaths in the simulator's middleware")


def _layers(app: object) -> list[object]:
    out = []
    while app is not None:
        out.append(app)
        app = getattr(app, "app", None)
    return out


def test_second_request_skips_the_router_and_answers_the_same(
    client: httpx.Client, sim_server: SimServer
) -> None:
    """Breaking it: a shortcut that sends a path to another endpoint than the router would, or
    that learns paths with parameters (escrow ids) or the catch-all's 404s."""
    key = demo_agents(client)[0]["keys"]["casino"]
    paths = _exact(sim_server)
    first = client.get("/casino/api/v1/auth/balance", headers=auth(key))
    assert "/casino/api/v1/auth/balance" in paths
    second = client.get("/casino/api/v1/auth/balance", headers=auth(key))
    assert (
        (first.status_code, first.content)
        == (second.status_code, second.content)
        == (
            200,
            first.content,
        )
    )
    # the same path with another method reaches the same endpoint, which refuses it as before
    assert client.post("/casino/api/v1/auth/balance", headers=auth(key)).status_code == 405
    missing = client.get("/casino/api/v1/no/such/route", headers=auth(key))
    assert missing.status_code == 404 and "/casino/api/v1/no/such/route" not in paths
    one = client.get("/escrow/escrow/esc_0000000000000000", headers=auth(key))
    assert one.status_code == 404
    assert not any(p.startswith("/escrow/escrow/esc_") for p in paths)
    again = client.get("/casino/api/v1/no/such/route", headers=auth(key))
    assert again.content == missing.content
