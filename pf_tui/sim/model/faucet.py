"""The faucet: $1 once per agent and once per IP a day, checked in production's order.

docs/api.md §4 has the order.
"""

from __future__ import annotations

from decimal import Decimal

from pf_tui.sim.model.accounts import Accounts
from pf_tui.sim.model.errors import ApiError
from pf_tui.sim.model.ids import Ids
from pf_tui.usd import JSON

GRANT = Decimal(1)
IP_WINDOW_S = 86400
REGISTRATION_BUCKET = "internal:registration"


class Faucet:
    """Grants come from outside the system: they are the only way the money total grows."""

    def __init__(self, accounts: Accounts, ids: Ids) -> None:
        self.accounts = accounts
        self.ids = ids
        self.ip_claims: dict[str, float] = {}
        self.claims = 0

    def claim(self, body: JSON, ip: str, at: float) -> dict[str, JSON]:
        """Checks in order: 400 invalid_request, 429 ip_rate_limited, 404 agent_not_found,
        409 already_claimed, 403 has_deposits."""
        agent_id = body.get("agent_casino_id") if isinstance(body, dict) else None
        if not isinstance(agent_id, str) or not agent_id.startswith("ag_"):
            raise ApiError(400, "invalid_request", "agent_casino_id must be an agent id (ag_...)")
        last = self.ip_claims.get(ip)
        if last is not None and at - last < IP_WINDOW_S:
            raise ApiError(
                429, "ip_rate_limited", "this address already claimed in the last 24 hours"
            )
        agent = self.accounts.agents.get(agent_id)
        if agent is None:
            raise ApiError(404, "agent_not_found", f"no agent {agent_id}")
        if agent.faucet_claimed:
            raise ApiError(409, "already_claimed", "this agent already claimed")
        if agent.has_deposits:
            raise ApiError(403, "has_deposits", "the faucet is for agents that have not deposited")
        code = body.get("referral_code")
        if agent.referred_by is None and isinstance(code, str):
            ref = self.accounts.by_code.get(code)
            if ref is not None and ref is not agent:
                agent.referred_by = ref.agent_id
                ref.referrals.append((agent.agent_id, at))
                ref.touch()
        self.ip_claims[ip] = at
        agent.faucet_claimed = True
        claim_id = self.ids.claim()
        self.accounts.post(
            agent, GRANT, "faucet", at, reason="faucet grant", reference=claim_id, service="faucet"
        )
        self.accounts.granted += GRANT
        self.claims += 1
        return {"credited": 1, "claim_id": claim_id, "agent_id": agent_id}
