"""The network side of money actions: send one planned request, read what reconciliation needs.

:class:`ClientWire` sends through :meth:`PurpleFleaClient.send` with the body exactly as planned
(what the preview showed is what leaves) and the journaled ``Idempotency-Key``; it never retries
(the runner decides, with the same key). Reads (ledger, escrow, balance) use the client's
retrying ``read``. Anything else that speaks :class:`MoneyWire` can stand in (tests' crash
hooks).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Protocol
from urllib.parse import quote

from pf_tui.api import normalize, routes
from pf_tui.api.client import PurpleFleaClient
from pf_tui.api.errors import MissingKeyError, ResponseDecodeError
from pf_tui.api.models import Dialect, Escrow, LedgerEntry
from pf_tui.core.money.routes import ENDPOINTS
from pf_tui.core.money.types import JsonObject, PlannedRequest
from pf_tui.secret import Secret


class MoneyWire(Protocol):
    """What the action runner needs from the network."""

    async def post(self, agent_id: str, request: PlannedRequest, path: str) -> JsonObject:
        """Send ``request`` once to ``path`` with its key; the decoded JSON reply, or a typed
        error."""

    async def escrow(self, agent_id: str, escrow_id: str, dialect: Dialect) -> Escrow:
        """``GET /escrow/{id}`` in ``dialect``."""

    async def ledger(self, agent_id: str) -> tuple[LedgerEntry, ...]:
        """The agent's casino ledger (the 50 newest rows)."""

    async def balance(self, agent_id: str) -> Decimal:
        """The agent's casino balance."""


def _json_object(data: object) -> JsonObject:
    if not isinstance(data, dict):
        raise ResponseDecodeError("reply is not a JSON object")
    return data


class ClientWire:
    """:class:`MoneyWire` over a :class:`~pf_tui.api.client.PurpleFleaClient`.

    ``keys`` maps an agent id to its casino key (escrow moves casino balances, docs/api.md §1).
    """

    def __init__(
        self,
        client: PurpleFleaClient,
        keys: Mapping[str, Secret] | Callable[[str], Secret | None],
    ) -> None:
        self.client = client
        self._keys = keys

    def _key(self, agent_id: str) -> Secret:
        key = self._keys(agent_id) if callable(self._keys) else self._keys.get(agent_id)
        if not key:
            raise MissingKeyError(
                f"agent {agent_id} has no casino key configured", service="casino"
            )
        return key

    def _auth(self, agent_id: str) -> tuple[dict[str, str], list[Secret]]:
        key = self._key(agent_id)
        return {"Authorization": f"Bearer {key.reveal()}"}, [key]

    async def post(self, agent_id: str, request: PlannedRequest, path: str) -> JsonObject:
        """One POST, no retry, with ``Idempotency-Key: request.key``."""
        ep = ENDPOINTS[request.op]
        headers: dict[str, str] = {"Idempotency-Key": request.key}
        secrets: list[Secret] = []
        if ep.key is not None:
            auth, secrets = self._auth(agent_id)
            headers.update(auth)
        return await self.client.send(
            ep,
            _json_object,
            path=path,
            agent_id=agent_id,
            headers=headers,
            body=request.body,
            secrets=secrets,
        )

    async def escrow(self, agent_id: str, escrow_id: str, dialect: Dialect) -> Escrow:
        """The escrow through its own dialect's view."""
        ep = routes.ESCROW if dialect is Dialect.CLASSIC else routes.STREAM
        headers, secrets = self._auth(agent_id)
        return await self.client.read(
            ep,
            lambda d: normalize.escrow(d, dialect),
            path=ep.route.replace("{id}", quote(escrow_id, safe="")),  # untrusted: one segment
            agent_id=agent_id,
            headers=headers,
            secrets=secrets,
        )

    async def ledger(self, agent_id: str) -> tuple[LedgerEntry, ...]:
        """Casino ``GET /auth/ledger``."""
        headers, secrets = self._auth(agent_id)
        return await self.client.read(
            routes.LEDGER, normalize.ledger, agent_id=agent_id, headers=headers, secrets=secrets
        )

    async def balance(self, agent_id: str) -> Decimal:
        """Casino ``GET /auth/balance``."""
        headers, secrets = self._auth(agent_id)
        bal = await self.client.read(
            routes.BALANCE, normalize.balance, agent_id=agent_id, headers=headers, secrets=secrets
        )
        return bal.balance_usd
