"""Where each request goes: the API client's endpoint of every :class:`Op`.

The planner renders the path for the preview, the journal renders it again when it rebuilds a
request after a crash, and the wire sends to it: one table, so the three never disagree.
"""

from __future__ import annotations

from urllib.parse import quote

from pf_tui.api import routes
from pf_tui.api.routes import Endpoint
from pf_tui.core.money.types import EscrowTarget, Op

ENDPOINTS: dict[Op, Endpoint] = {
    Op.CLASSIC_CREATE: routes.ESCROW_CREATE,
    Op.CLASSIC_RELEASE: routes.ESCROW_RELEASE,
    Op.CLASSIC_COMPLETE: routes.ESCROW_COMPLETE,
    Op.CLASSIC_DISPUTE: routes.ESCROW_DISPUTE,
    Op.STREAM_CREATE: routes.STREAM_CREATE,
    Op.STREAM_RELEASE_PARTIAL: routes.STREAM_RELEASE_PARTIAL,
    Op.STREAM_CLOSE: routes.STREAM_CLOSE,
    Op.STREAM_DISPUTE: routes.STREAM_DISPUTE,
    Op.FAUCET_CLAIM: routes.FAUCET_CLAIM,
}


def route(op: Op, escrow: EscrowTarget | None) -> tuple[str, str, str]:
    """``(service, method, path)`` of ``op`` on ``escrow`` (an unresolved ref renders as text).

    An escrow id comes from a server reply or a ledger row: untrusted. It is one path segment,
    percent-encoded, so an id such as ``../../wallet/withdraw`` can never reach another route.
    """
    ep = ENDPOINTS[op]
    target = "" if escrow is None else str(escrow)
    if isinstance(escrow, str):
        target = quote(escrow, safe="")
    return ep.service, ep.method, ep.route.replace("{id}", target)
