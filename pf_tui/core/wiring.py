"""Build the engine from a :class:`pf_tui.config.Config`: poll targets, host map, poller, fleet.

The TUI and the daemon both call these, so they poll exactly the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from pf_tui.clock import SYSTEM_CLOCK, Clock
from pf_tui.core.fetch import PollTarget
from pf_tui.core.fleet import AgentInfo, FleetState
from pf_tui.core.poller import Poller

SERVICES = ("casino", "escrow", "trading", "wallet", "docs")


def hosts_from_api(api: Any) -> dict[str, str]:
    """Service name -> ``host:port`` of its base, so services sharing a host share its limit."""
    hosts: dict[str, str] = {}
    for service in SERVICES:
        base = getattr(api, service, None)
        if isinstance(base, str) and base:
            hosts[service] = urlsplit(base).netloc or service
    return hosts


def target_for(client: Any, agent: Any, escrow_dialect: str = "auto") -> PollTarget:
    """A poll target for one ``AgentConfig`` through ``client.agent(...)``."""
    source = client.agent(
        agent.id,
        casino_key=agent.casino_key,
        trading_key=agent.trading_key,
        wallet_key=agent.wallet_key,
    )
    services = frozenset(s for s in ("casino", "trading", "wallet", "escrow") if agent.polls(s))
    return PollTarget(
        agent.id,
        source,
        services=services,
        base_address=agent.base_address,
        solana_address=agent.solana_address,
        escrow_dialect=escrow_dialect,
    )


def agent_info(agent: Any) -> AgentInfo:
    """The fleet's view of one ``AgentConfig``."""
    return AgentInfo(agent.id, agent.display_name, agent.strategy, agent.initial_balance)


def intervals_of(polling: Any) -> dict[str, float]:
    """``[polling]`` intervals by data type name."""
    names = ("balance", "positions", "pnl", "casino", "referrals", "escrows")
    return {name: float(getattr(polling, name)) for name in names}


def build_engine(
    client: Any,
    config: Any,
    *,
    clock: Clock = SYSTEM_CLOCK,
    agents: Iterable[Any] | None = None,
    seed: int | None = None,
    max_concurrency: int | None = None,
) -> tuple[Poller, FleetState]:
    """A poller and a fleet state for ``config``'s agents (or ``agents``), not started yet."""
    chosen = list(config.agents if agents is None else agents)
    intervals = intervals_of(config.polling)
    dialect = getattr(config.api, "escrow_dialect", "auto")
    poller = Poller(
        [target_for(client, a, dialect) for a in chosen],
        intervals=intervals,
        max_backoff=float(config.polling.max_backoff),
        max_concurrency=int(max_concurrency or config.polling.max_concurrency),
        hosts=hosts_from_api(config.api),
        clock=clock,
        seed=seed,
    )
    fleet = FleetState([agent_info(a) for a in chosen], intervals=intervals, clock=clock)
    return poller, fleet
