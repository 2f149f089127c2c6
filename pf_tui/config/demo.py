"""The config ``pf-tui --demo`` runs with, built from the simulator's demo fleet.

The simulator's ``GET /_sim/agents`` reply is still input from another process, so each agent is
checked like a config entry (a malformed one is a :class:`ConfigError` naming ``/_sim/agents``),
its keys become ``Secret(value, "demo")`` and every service base points at the simulator's mounts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from platformdirs import user_data_dir

from pf_tui.config.errors import ConfigError
from pf_tui.config.model import (
    SIM_MOUNTS,
    AgentConfig,
    AlertsConfig,
    ApiConfig,
    Config,
    NotifyConfig,
    PollingConfig,
    StoreConfig,
    TelegramConfig,
)
from pf_tui.config.parse import AGENT_ID, default_alert_rules
from pf_tui.config.schema import url_problem
from pf_tui.secret import Secret
from pf_tui.usd import MoneyError, parse_money

_SOURCE = "GET /_sim/agents"


def _text(where: str, key: str, value: object, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.isprintable() or len(value) > 200:
        raise ConfigError(
            _SOURCE, f"{where}.{key}", "expected a printable string", "check the simulator version"
        )
    return value


def _key(where: str, keys: Mapping[str, object], service: str) -> Secret | None:
    value = keys.get(service)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not value.isprintable():
        raise ConfigError(
            _SOURCE,
            f"{where}.keys.{service}",
            "expected a key string",
            "check the simulator version",
        )
    return Secret(value, "demo")


def _agent(index: int, item: object) -> AgentConfig:
    where = f"agents[{index}]"
    if not isinstance(item, dict):
        raise ConfigError(_SOURCE, where, "expected an object", "check the simulator version")
    agent_id = _text(where, "agent_id", item.get("agent_id"))
    assert agent_id is not None
    if not AGENT_ID.fullmatch(agent_id):
        raise ConfigError(
            _SOURCE,
            f"{where}.agent_id",
            f"{agent_id!r} is not an agent id",
            "check the simulator version",
        )
    balance = item.get("initial_balance")
    try:
        initial = (
            None
            if balance is None
            else parse_money(balance, field="initial_balance", allow_negative=False)
        )
    except MoneyError as exc:
        raise ConfigError(
            _SOURCE, f"{where}.initial_balance", str(exc), "check the simulator version"
        ) from None
    keys = item.get("keys") or {}
    addresses = item.get("addresses") or {}
    if not isinstance(keys, dict) or not isinstance(addresses, dict):
        raise ConfigError(
            _SOURCE, where, "keys and addresses must be objects", "check the simulator version"
        )
    return AgentConfig(
        id=agent_id,
        label=_text(where, "label", item.get("label"), required=False) or "",
        strategy=_text(where, "strategy", item.get("strategy"), required=False) or "",
        initial_balance=initial,
        base_address=_text(where, "addresses.base", addresses.get("base"), required=False) or None,
        solana_address=_text(where, "addresses.solana", addresses.get("solana"), required=False)
        or None,
        casino_key=_key(where, keys, "casino"),
        trading_key=_key(where, keys, "trading"),
        wallet_key=_key(where, keys, "wallet"),
    )


DEMO_CHAT = "@pf_tui_demo"
DEMO_ERROR_RATE_FOR_S = 10.0
"""The demo's ``error_rate`` rule waits 10 s, not the default 2 minutes: the demo story's casino
outage lasts 28 s (pf_tui/sim/model/story.py), and the rule should fire during it."""
DEMO_ERROR_WINDOW_S = 60.0
"""The demo's error rate counts the last minute of calls, not the default 5 minutes: the failures
of the story's outage leave it a minute after the outage ends and ``error_rate`` resolves then.
(With 5 minutes it could not: the next cycle's outage comes 4 minutes after the last.)"""
DEMO_MAX_BACKOFF_S = 10.0
"""The demo's polls back off at most 10 s after failures, not the default 2 minutes: the end of
the story's casino outage then shows on screen within seconds, instead of a minute of figures
kept stale by a backoff that outlived the outage."""


def demo_alert_rules() -> AlertsConfig:
    """The default rules, with ``error_rate`` quick enough for the demo story's outage."""
    return AlertsConfig(
        rules=tuple(
            replace(rule, for_s=DEMO_ERROR_RATE_FOR_S) if rule.name == "error_rate" else rule
            for rule in default_alert_rules()
        )
    )


def build_demo(sim_url: str, agents: Sequence[object], *, store_path: Path | None = None) -> Config:
    """See :meth:`Config.demo`. ``store_path`` defaults to ``<user data dir>/demo.db``."""
    url = sim_url.rstrip("/")
    problem = url_problem(url)
    if problem:
        raise ConfigError(
            None, "sim_url", f"{url!r} {problem}", "pass the simulator's http://127.0.0.1:PORT"
        )
    typed = tuple(_agent(i, item) for i, item in enumerate(agents))
    seen: set[str] = set()
    for index, agent in enumerate(typed):
        if agent.id in seen:
            raise ConfigError(
                _SOURCE,
                f"agents[{index}].agent_id",
                f"{agent.id} appears twice",
                "check the simulator",
            )
        seen.add(agent.id)
    return Config(
        profile="demo",
        api=ApiConfig(
            casino=url + SIM_MOUNTS["casino"],
            escrow=url + SIM_MOUNTS["escrow"],
            faucet=url + SIM_MOUNTS["faucet"],
            trading=url + SIM_MOUNTS["trading"],
            wallet=url + SIM_MOUNTS["wallet"],
            docs=url + SIM_MOUNTS["docs"],
        ),
        agents=typed,
        polling=PollingConfig(max_backoff=DEMO_MAX_BACKOFF_S, error_window=DEMO_ERROR_WINDOW_S),
        alerts=demo_alert_rules(),
        # Paging works in the demo too: the simulator's Telegram stand-in takes any token and
        # keeps what it was sent (GET <sim>/telegram/_sent).
        notify=NotifyConfig(
            telegram=TelegramConfig(
                enabled=True,
                token=Secret("demo-bot-token", source="demo"),
                chat_id=DEMO_CHAT,
                api_base=url + "/telegram",
            )
        ),
        store=StoreConfig(path=store_path or Path(user_data_dir("pf-tui")) / "demo.db"),
    )
