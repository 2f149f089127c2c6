"""The typed configuration: frozen dataclasses, one per TOML section, a docstring on every field.

These are what the rest of pf-tui reads. They are built by :func:`pf_tui.config.load_config` from a
validated TOML file, or by :meth:`Config.demo` from the simulator's demo fleet. Secrets are
:class:`~pf_tui.secret.Secret` objects, so a ``repr`` of any of these never shows a key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal, TypedDict

from pf_tui.secret import Secret

SERVICES: tuple[str, ...] = ("casino", "escrow", "faucet", "trading", "wallet", "docs")
"""The Purple Flea services pf-tui talks to (docs/api.md §1), in display order."""

KEYED_SERVICES: tuple[str, ...] = ("casino", "trading", "wallet")
"""Services an agent holds its own key for; escrow uses the casino key, the faucet none."""

PRODUCTION_BASES: dict[str, str] = {
    "casino": "https://casino.purpleflea.com/api/v1",
    "escrow": "https://escrow.purpleflea.com",
    "faucet": "https://faucet.purpleflea.com",
    "trading": "https://trading.purpleflea.com/v1",
    "wallet": "https://wallet.purpleflea.com/v1",
    "docs": "https://purpleflea.com/api/v1",
}
"""Production base URL per service (docs/api.md §1)."""

SIM_MOUNTS: dict[str, str] = {
    "casino": "/casino/api/v1",
    "escrow": "/escrow",
    "faucet": "/faucet",
    "trading": "/trading/v1",
    "wallet": "/wallet/v1",
    "docs": "/api/v1",
}
"""Where the simulator mounts each service under its one origin (docs/api.md §1)."""

_API_PREFIX: dict[str, str] = {
    "casino": "/api/v1",
    "trading": "/v1",
    "wallet": "/v1",
    "docs": "/api/v1",
}

EscrowDialect = Literal["auto", "streaming", "classic"]
Transport = Literal["aiohttp", "httpx"]
PollEngineMode = Literal["auto", "process", "inline"]
SeverityName = Literal["info", "warning", "critical"]
Op = Literal[">", ">=", "<", "<="]
RuleScope = Literal["agent", "stream", "fleet"]


@dataclass(frozen=True)
class ApiConfig:
    """``[api]``: where each service lives and how long to wait for it."""

    casino: str = PRODUCTION_BASES["casino"]
    """Casino base URL (custodial balance, ledger, stats, referrals)."""
    escrow: str = PRODUCTION_BASES["escrow"]
    """Escrow base URL (no prefix in production; the docs dialect adds ``/api/v1`` itself)."""
    faucet: str = PRODUCTION_BASES["faucet"]
    """Faucet base URL."""
    trading: str = PRODUCTION_BASES["trading"]
    """Trading base URL (positions, P&L, drawdown)."""
    wallet: str = PRODUCTION_BASES["wallet"]
    """Wallet base URL (on-chain USDC balances)."""
    docs: str = PRODUCTION_BASES["docs"]
    """Docs aggregate base URL (the guides' shape)."""
    timeout: float = 10.0
    """Seconds to wait for one HTTP request before it counts as failed."""
    escrow_dialect: EscrowDialect = "auto"
    """``auto`` probes ``GET /api/v1/escrows``, else classic; or force one (docs/api.md §3)."""
    transport: Transport = "aiohttp"
    """httpx transport: ``aiohttp`` (fast, docs/performance.md) or plain ``httpx``."""

    def base(self, service: str) -> str:
        """The base URL of ``service`` (one of :data:`SERVICES`)."""
        if service not in SERVICES:
            raise KeyError(service)
        return str(getattr(self, service))

    def health_url(self, service: str) -> str:
        """``GET /health`` at the service's root: its base without the API prefix (docs/api.md
        §7)."""
        base = self.base(service)
        prefix = _API_PREFIX.get(service, "")
        if prefix and base.endswith(prefix):
            base = base[: -len(prefix)]
        return base.rstrip("/") + "/health"


@dataclass(frozen=True)
class PollingConfig:
    """``[polling]``: seconds between polls per data type and agent, and how hard to push a host."""

    balance: float = 10.0
    """Casino balance and wallet USDC."""
    positions: float = 5.0
    """Open trading positions."""
    pnl: float = 3.0
    """Trading P&L series and drawdown."""
    casino: float = 2.0
    """Casino stats (``/stats/me``)."""
    referrals: float = 30.0
    """Referral stats of casino, trading and wallet."""
    errors: float = 5.0
    """Recomputing error rates from pf-tui's own request counters."""
    escrows: float = 5.0
    """Escrows pf-tui knows of (its own and those found in the ledger)."""
    max_backoff: float = 120.0
    """Longest wait after repeated failures or 429s without Retry-After."""
    error_window: float = 300.0
    """Seconds of recent calls an agent's error rate (``error_rate_pct``) counts."""
    max_concurrency: int = 16
    """Requests in flight at once per host."""
    engine: PollEngineMode = "auto"
    """Where the console polls: ``process`` in a worker process of its own, so polling never
    takes the screen's time; ``inline`` on the screen's own event loop; ``auto`` the worker
    from :data:`PROCESS_ENGINE_FROM` agents. The daemon always polls in its own loop."""
    worker_nice: int = 10
    """How much lower the console's poll worker runs than the console (a nice increment, 0 to
    19): when the cores are busy the screen and the keys go first, and polling, whose figures
    may arrive a few milliseconds late without harm, waits. 0 runs it as the console."""

    def interval(self, data_type: str) -> float:
        """Seconds between polls of ``data_type`` (a field name such as ``balance``)."""
        if data_type not in POLL_TYPES:
            raise KeyError(data_type)
        return float(getattr(self, data_type))


PROCESS_ENGINE_FROM = 200
"""``[polling] engine = "auto"`` polls in a worker process from this many agents: at 1,000 agents
polling takes about a quarter of a core, half the console's CPU (docs/performance.md)."""


POLL_TYPES: tuple[str, ...] = (
    "balance",
    "positions",
    "pnl",
    "casino",
    "referrals",
    "errors",
    "escrows",
)
"""The data types that have a polling interval."""


@dataclass(frozen=True)
class AgentConfig:
    """One ``[[agents]]`` entry: an agent to watch and the keys to watch it with."""

    id: str
    """Casino agent id, ``ag_`` + 12 hex."""
    label: str = ""
    """Short name shown in tables (defaults to the id)."""
    strategy: str = ""
    """Free text: what the agent does (trend, casino grinder, ...)."""
    initial_balance: Decimal | None = None
    """USD the agent started with; the baseline for its P&L and drawdown."""
    base_address: str | None = None
    """Base (EVM) wallet address for on-chain USDC, ``0x`` + 40 hex."""
    solana_address: str | None = None
    """Solana wallet address for on-chain USDC (base58)."""
    casino_key: Secret | None = None
    """Casino key, also the escrow key. ``None``: this agent's casino and escrow are not polled."""
    trading_key: Secret | None = None
    """Trading key. ``None``: trading is not polled for this agent."""
    wallet_key: Secret | None = None
    """Wallet key. ``None``: the wallet is not polled for this agent."""

    @property
    def display_name(self) -> str:
        """The label, or the id when there is none."""
        return self.label or self.id

    def key_for(self, service: str) -> Secret | None:
        """The key that authenticates this agent to ``service``.

        Escrow takes the casino key; the faucet and the docs take any.
        """
        if service in ("casino", "escrow"):
            return self.casino_key
        if service == "trading":
            return self.trading_key
        if service == "wallet":
            return self.wallet_key
        if service == "docs":
            return self.casino_key or self.trading_key or self.wallet_key
        if service == "faucet":
            return None
        raise KeyError(service)

    def polls(self, service: str) -> bool:
        """Whether ``service`` is polled for this agent (it has the key the service needs)."""
        if service == "faucet":
            return False
        if service == "wallet":
            return self.wallet_key is not None and bool(self.base_address or self.solana_address)
        return self.key_for(service) is not None


@dataclass(frozen=True)
class AlertRule:
    """One ``[alerts.rules.<name>]``: fires when ``metric op threshold`` holds for ``for_s``."""

    name: str
    """The rule's table name, used in notifications, silences and the alert log."""
    metric: str
    """What is compared (one of :data:`METRICS`), per agent."""
    op: Op
    """Comparison that means trouble: ``>``, ``>=``, ``<`` or ``<=``."""
    threshold: Decimal
    """The value that fires the rule."""
    clear_threshold: Decimal
    """The value the metric must get back past before the alert resolves (hysteresis)."""
    for_s: float = 0.0
    """Seconds the condition must hold before pending becomes firing (TOML key ``for``)."""
    repeat_interval_s: float = 3600.0
    """Seconds between repeated notifications of a still-firing alert (TOML ``repeat_interval``)."""
    severity: SeverityName = "warning"
    """``info``, ``warning`` or ``critical``."""
    enabled: bool = True
    """``false`` switches the rule off (also the way to drop a default rule)."""
    scope: RuleScope = "agent"
    """What one alert is about: each ``agent``, each open ``stream`` (only metrics in
    :data:`STREAM_METRICS`), or the whole ``fleet`` (only metrics in :data:`FLEET_METRICS`)."""


METRICS: dict[str, str] = {
    "max_drawdown_pct": "largest peak-to-trough fall of the agent's equity over the 30-day P&L"
    " chart, in percent (it stays high until the fall leaves the chart)",
    "drawdown_pct": "current fall of the agent's equity from its peak on the 30-day P&L chart, in"
    " percent (0 once the agent is back at its peak)",
    "balance_usd": "casino (custodial) balance in USD",
    "equity_usd": "casino balance + on-chain USDC + unrealised trading P&L, in USD",
    "pnl_usd": "profit or loss against initial_balance, in USD",
    "unrealized_pnl_usd": "sum of open positions' unrealised P&L, in USD",
    "open_positions": "number of open trading positions",
    "error_rate_pct": "share of failed calls to the agent's worst service over the last 5 minutes"
    " ([polling] error_window; a service whose every call in that time failed, or that is backed"
    " off after a failure, counts as 100), in percent",
    "stale_s": "seconds since the agent's last successful poll",
    "casino_net_usd": "casino lifetime net profit, in USD",
    "spend_usd_per_hour": "money leaving the agent (or the stream, or the fleet) over the last"
    " hour, in USD per hour",
}
"""Metrics an alert rule may watch (per agent unless the rule's ``scope`` says otherwise)."""

STREAM_METRICS: frozenset[str] = frozenset({"spend_usd_per_hour"})
"""Metrics a ``scope = "stream"`` rule may watch: per open stream, over its journal."""
FLEET_METRICS: frozenset[str] = frozenset({"spend_usd_per_hour", "error_rate_pct"})
"""Metrics a ``scope = "fleet"`` rule may watch: summed or rated over the whole fleet."""

METRIC_RANGES: dict[str, tuple[Decimal, Decimal]] = {
    "max_drawdown_pct": (Decimal(0), Decimal(100)),
    "drawdown_pct": (Decimal(0), Decimal(100)),
    "error_rate_pct": (Decimal(0), Decimal(100)),
    "balance_usd": (Decimal(0), Decimal(10**9)),
    "equity_usd": (Decimal(-(10**9)), Decimal(10**9)),
    "pnl_usd": (Decimal(-(10**9)), Decimal(10**9)),
    "unrealized_pnl_usd": (Decimal(-(10**9)), Decimal(10**9)),
    "casino_net_usd": (Decimal(-(10**9)), Decimal(10**9)),
    "spend_usd_per_hour": (Decimal(0), Decimal(10**9)),
    "open_positions": (Decimal(0), Decimal(100_000)),
    "stale_s": (Decimal(0), Decimal(30 * 86_400)),
}
"""The range a rule's ``threshold`` and ``clear_threshold`` must lie in, per metric: a percent is
0 to 100, money within a billion USD, a count or an age within what a fleet can reach."""

RuleDefaults = TypedDict(
    "RuleDefaults",
    {
        "metric": str,
        "op": Op,
        "threshold": Decimal,
        "clear_threshold": Decimal,
        "for": float,
        "repeat_interval": float,
        "severity": SeverityName,
    },
    total=False,
)
"""A rule's keys as ``[alerts.rules.<name>]`` writes them (``for`` is a Python keyword, hence
the functional form); a default rule has them all."""

DEFAULT_RULES: dict[str, RuleDefaults] = {
    "max_drawdown": {
        # The worst fall on the 30-day chart: it cannot clear until that fall leaves the chart,
        # so it says so once a day, as a warning; the current drawdown below is what pages.
        "metric": "max_drawdown_pct",
        "op": ">",
        "threshold": Decimal("10"),
        "clear_threshold": Decimal("8"),
        "for": 60,
        "repeat_interval": 86400,
        "severity": "warning",
    },
    "drawdown": {
        "metric": "drawdown_pct",
        "op": ">",
        "threshold": Decimal("10"),
        "clear_threshold": Decimal("8"),
        "for": 60,
        "repeat_interval": 3600,
        "severity": "critical",
    },
    "low_balance": {
        "metric": "balance_usd",
        "op": "<",
        "threshold": Decimal("50"),
        "clear_threshold": Decimal("55"),
        "for": 0,
        "repeat_interval": 3600,
        "severity": "warning",
    },
    "error_rate": {
        "metric": "error_rate_pct",
        "op": ">",
        "threshold": Decimal("5"),
        "clear_threshold": Decimal("3"),
        "for": 120,
        "repeat_interval": 3600,
        "severity": "warning",
    },
    "open_positions": {
        "metric": "open_positions",
        "op": ">",
        "threshold": Decimal("20"),
        "clear_threshold": Decimal("18"),
        "for": 0,
        "repeat_interval": 3600,
        "severity": "warning",
    },
}
"""The seed's rules (drawdown > 10%, now and at worst over the chart; balance < $50; error rate
> 5%; positions > 20), always present unless a ``[alerts.rules.<name>]`` of the same name
overrides or disables them."""

SILENCE_LABELS: tuple[str, ...] = ("rule", "agent", "severity")
"""Labels a silence matcher may name."""


@dataclass(frozen=True)
class SilenceConfig:
    """One ``[[alerts.silences]]``: mute alerts whose labels match, until ``expires``."""

    matcher: tuple[tuple[str, str], ...]
    """``(label, pattern)`` pairs; all must match. Patterns are shell globs (``ag_*``)."""
    expires: datetime
    """When the silence ends (timezone-aware)."""
    comment: str = ""
    """Why it was silenced, for the alert log."""


@dataclass(frozen=True)
class AlertsConfig:
    """``[alerts]``: rules by name and silences."""

    rules: tuple[AlertRule, ...] = ()
    """Every rule: the defaults first (in :data:`DEFAULT_RULES` order), then the config's own."""
    silences: tuple[SilenceConfig, ...] = ()
    """Silences from the config file (the TUI adds its own to the state file)."""
    stream_timeout_lead_s: float | None = None
    """How long before a paused or idle stream's escrow times out (and the server moves its
    money on its own) the ``stream_timeout`` alert fires (TOML ``stream_timeout_lead``).
    ``None``: 1 hour, or a quarter of the escrow's timeout when that is shorter."""

    def rule(self, name: str) -> AlertRule:
        """The rule called ``name``."""
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(name)


@dataclass(frozen=True)
class TelegramConfig:
    """``[notify.telegram]``: alerts to a Telegram chat through a bot."""

    enabled: bool = False
    """Send alerts to Telegram."""
    token: Secret | None = None
    """Bot token (from ``token_env``, ``token_file`` or ``token``); set when enabled."""
    chat_id: str = ""
    """Chat to post to: a numeric id (as text) or ``@channelname``."""
    api_base: str = "https://api.telegram.org"
    """Bot API base; the simulator's stand-in is ``<sim>/telegram``."""
    per_minute: int | None = None
    """Messages a minute to the chat. ``None``: Telegram's limits, 60 to a private chat (one a
    second) and 20 to a group or channel (an id starting with ``-``, or ``@name``). Alerts that
    arrive faster are grouped into fewer messages, never dropped."""

    @property
    def rate_per_minute(self) -> int:
        """:attr:`per_minute`, or Telegram's limit for this kind of chat."""
        if self.per_minute is not None:
            return self.per_minute
        return 20 if self.chat_id.startswith(("-", "@")) else 60


@dataclass(frozen=True)
class WebhookConfig:
    """``[notify.webhook]``: alerts as JSON POSTs (Alertmanager-compatible fields)."""

    enabled: bool = False
    """POST alerts to the webhook."""
    url: Secret | None = None
    """Target URL, a secret because such URLs often embed a token; set when enabled."""
    timeout: float = 10.0
    """Seconds to wait for the webhook to answer."""


@dataclass(frozen=True)
class AlertmanagerConfig:
    """``[notify.alertmanager]``: alerts pushed to an Alertmanager (``POST /api/v2/alerts``)."""

    enabled: bool = False
    """Push alerts to the Alertmanager at ``url``."""
    url: str = ""
    """Alertmanager's base URL, e.g. ``http://127.0.0.1:9093`` (no credentials in it)."""
    timeout: float = 10.0
    """Seconds to wait for Alertmanager to answer."""
    resend_interval: float = 60.0
    """Seconds between re-sends of every firing alert; each is held for 4 of them."""


@dataclass(frozen=True)
class LogNotifyConfig:
    """``[notify.log]``: alerts appended to a JSON-lines file."""

    path: Path | None = None
    """File to append one JSON object per alert event to; ``None``: off."""


@dataclass(frozen=True)
class HeartbeatConfig:
    """``[notify.heartbeat]``: how the daemon shows it is alive."""

    interval: float = 6 * 3600.0
    """Seconds between "still alive" messages to every receiver (``0``: none)."""
    deadman_url: Secret | None = None
    """A dead man's switch (healthchecks-style): called with a GET after each healthy evaluation,
    at most once per :attr:`deadman_interval`. When the daemon dies, hangs or cannot write its
    store, the calls stop and that service pages. A secret: such URLs carry a token."""
    deadman_interval: float = 60.0
    """Fewest seconds between two dead-man calls."""


@dataclass(frozen=True)
class NotifyConfig:
    """``[notify]``: where alerts go."""

    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    """Telegram bot settings."""
    webhook: WebhookConfig = field(default_factory=WebhookConfig)
    """Webhook settings."""
    log: LogNotifyConfig = field(default_factory=LogNotifyConfig)
    """JSON-lines log settings."""
    alertmanager: AlertmanagerConfig = field(default_factory=AlertmanagerConfig)
    """Alertmanager settings."""
    heartbeat: HeartbeatConfig = field(default_factory=HeartbeatConfig)
    """Heartbeat message and dead man's switch."""


@dataclass(frozen=True)
class UiConfig:
    """``[ui]``: the TUI's look and its safety limits on money actions."""

    theme: str = "textual-dark"
    """Textual theme name."""
    keymap: tuple[tuple[str, str], ...] = ()
    """Key overrides: ``(binding id, keys)`` pairs, keys comma-separated (``"ctrl+r,f5"``)."""
    read_only: bool = False
    """Hide and refuse every money action (``--read-only`` forces it on)."""
    max_action_usd: Decimal = Decimal("100")
    """Largest amount one escrow action may move; larger ones are refused."""
    typed_confirm_usd: Decimal = Decimal("10")
    """From this amount up, the operator must type the amount to confirm."""

    @property
    def keymap_dict(self) -> dict[str, str]:
        """:attr:`keymap` as a dict, ready for Textual's ``App.set_keymap``."""
        return dict(self.keymap)


@dataclass(frozen=True)
class McpConfig:
    """``[mcp]``: what ``pf-tui mcp`` lets an AI agent's MCP client do with money.

    Reads are always served; writes are refused unless the acting agent is named here, and then
    only within both limits (on top of ``[ui] read_only`` and ``[ui] max_action_usd``)."""

    write_agents: tuple[str, ...] = ()
    """Ids of the agents MCP clients may move money for (given as ids or labels in the file);
    empty: every write tool is refused."""
    max_call_usd: Decimal = Decimal("10")
    """The most one MCP tool call may move (gross USD)."""
    max_hour_usd: Decimal = Decimal("50")
    """The most all MCP tool calls together may move in any 60 minutes (gross USD, journaled
    actions that were not refused), across restarts."""


@dataclass(frozen=True)
class StoreConfig:
    """``[store]``: the SQLite file (history, alert log, outbox, money journal)."""

    path: Path
    """The SQLite file; default ``<user data dir>/pf-tui.db``."""
    retention_days: int = 30
    """Days of samples history to keep (older samples are pruned at start and every hour by the
    daemon); the alert log and the money journal are kept."""


@dataclass(frozen=True)
class Config:
    """The whole configuration of one pf-tui profile."""

    store: StoreConfig
    """Where the SQLite store lives."""
    profile: str = "default"
    """Profile name shown in the TUI header (which says ``demo`` for ``--demo`` instead)."""
    api: ApiConfig = field(default_factory=ApiConfig)
    """Service bases and request settings."""
    polling: PollingConfig = field(default_factory=PollingConfig)
    """Polling intervals and concurrency."""
    agents: tuple[AgentConfig, ...] = ()
    """The agents to watch, in config order."""
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    """Alert rules and silences."""
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    """Alert destinations."""
    ui: UiConfig = field(default_factory=UiConfig)
    """TUI settings."""
    mcp: McpConfig = field(default_factory=McpConfig)
    """What ``pf-tui mcp`` allows MCP clients to do."""
    source: Path | None = None
    """The file this came from (``None`` for the demo)."""
    state_path: Path | None = None
    """Where the TUI keeps run-time state (beside the config; ``None``: not saved)."""
    shard: str | None = None
    """Which shard of the fleet this config watches (``i/n``, from ``--shard``); ``None``: all
    of it. Set by ``pf_tui.wiring.shard_config`` and shown in the console's header."""

    def agent(self, agent_id: str) -> AgentConfig:
        """The agent with ``agent_id``."""
        for agent in self.agents:
            if agent.id == agent_id:
                return agent
        raise KeyError(agent_id)

    @classmethod
    def demo(
        cls, sim_url: str, agents: list[dict[str, object]], *, store_path: Path | None = None
    ) -> Config:
        """The config ``pf-tui --demo`` uses, from the simulator's ``GET /_sim/agents`` reply."""
        from pf_tui.config.demo import build_demo

        return build_demo(sim_url, agents, store_path=store_path)
