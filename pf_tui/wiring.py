"""The composition root: everything pf-tui runs is built from a :class:`~pf_tui.config.Config` here.

The TUI, the daemon and every later caller (CLI commands, the MCP server, the browser view) build
their parts with these functions, so they poll the same way, speak to the same bases, journal to
the same store and mask the same secrets. Nothing here starts anything: callers start the poller
and close what they opened (each built part has an ``aclose``).

- :func:`build_client`: the Purple Flea client (one pooled connection set per service base).
- :func:`build_poll_engine`: client, poller and fleet state for the configured agents
  (:func:`build_poll_client`, :func:`build_poller` and :func:`build_fleet` build each alone).
- :func:`open_money`: the store's journal connection, a client of its own and the
  :class:`~pf_tui.core.money.engine.ActionEngine` (every money action goes through it).
- :func:`open_store`: the SQLite store ``[store]`` names.
- :func:`build_receivers`: the configured alert receivers (Telegram, webhook, JSON log).
- :func:`open_alerts`: the alert engine with its saved state, the alert book and the dispatcher
  that delivers its outbox (what the daemon runs on).
- :func:`config_secrets`: every secret the config holds; :func:`config_redactor` masks them all,
  in every form, for the client, the receivers and the log filter.
- :func:`shard_config`: the config of one shard (``--shard i/n``): its agents and its own store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from sqlite3 import Connection
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from pf_tui.api.bases import ServiceBases
from pf_tui.api.client import PurpleFleaClient
from pf_tui.api.latency import LatencyRecorder, NoLatency
from pf_tui.api.models import Dialect
from pf_tui.clock import SYSTEM_CLOCK, Clock
from pf_tui.config import Config
from pf_tui.config.model import AgentConfig, ApiConfig, PollingConfig
from pf_tui.core.fleet.state import HISTORY_METRICS, AgentInfo, FleetState
from pf_tui.core.money.engine import ActionEngine
from pf_tui.core.money.runner import Checkpoint
from pf_tui.core.money.wire import ClientWire
from pf_tui.core.polling.callstats import CallStats
from pf_tui.core.polling.fetch import PollTarget
from pf_tui.core.polling.poller import Poller
from pf_tui.core.polling.results import DataType, PollResult
from pf_tui.core.store.db import EVAL_BUSY_TIMEOUT_S, Store
from pf_tui.secret import Redactor, Secret
from pf_tui.shard import Shard

if TYPE_CHECKING:
    # The alert parts are imported where they are built: the receivers bring httpx, which the
    # console (it never evaluates alerts) starts without (docs/performance.md, "Start-up").
    from pf_tui.core.alerts.engine import AlertEngine
    from pf_tui.core.notify.alert_book import AlertBook
    from pf_tui.core.notify.outbox import Dispatcher
    from pf_tui.core.notify.receivers import Receiver

SERVICES = ("casino", "escrow", "trading", "wallet", "docs")
"""The services the poller reads (the faucet is written to, never polled)."""


# ---- the API client ---------------------------------------------------------------------------


def service_bases(api: ApiConfig) -> ServiceBases:
    """``[api]``'s base URLs as the client's :class:`ServiceBases`."""
    return ServiceBases(
        casino=api.casino,
        escrow=api.escrow,
        faucet=api.faucet,
        trading=api.trading,
        wallet=api.wallet,
        docs=api.docs,
    )


def build_client(
    config: Config,
    clock: Clock = SYSTEM_CLOCK,
    *,
    latency: LatencyRecorder | None = None,
    transport: str | None = None,
) -> PurpleFleaClient:
    """The Purple Flea client for ``config``'s service bases, timeout and transport.

    It masks every secret of the config (not only the calling agent's keys) in every reply.
    ``latency`` replaces the client's own recorder (the poll engine's keeps no per-agent series);
    ``transport`` replaces ``[api] transport`` (the poll engine's reads, :func:`poll_transport`).
    """
    api = config.api
    return PurpleFleaClient(
        service_bases(api),
        timeout=api.timeout,
        transport=transport or api.transport,
        clock=clock,
        redactor=config_redactor(config),
        latency=latency,
    )


def poll_transport(configured: str) -> str:
    """The poll engine's transport for ``[api] transport``: with ``aiohttp`` (the default) its
    GETs take the lean HTTP/1.1 path (``http1``, :mod:`pf_tui.api.http1`); ``httpx`` stays
    ``httpx``. Money is sent by a client of its own (:func:`open_money`), never this one."""
    return "http1" if configured == "aiohttp" else configured


def poll_latency() -> LatencyRecorder:
    """The poll engine client's recorder: none (:class:`~pf_tui.api.latency.NoLatency`).

    The poller times and counts every call itself, per endpoint and per agent
    (``Poller.stats``); the client's own rings would be a second copy nobody reads (per agent,
    about 10 rings an agent, 50,000 at 5,000 agents).
    """
    return NoLatency()


# ---- polling -------------------------------------------------------------------------------------


def hosts_from_api(api: ApiConfig) -> dict[str, str]:
    """Service name -> ``host:port`` of its base, so services sharing a host share its limit."""
    hosts: dict[str, str] = {}
    for service in SERVICES:
        base = getattr(api, service, None)
        if isinstance(base, str) and base:
            hosts[service] = urlsplit(base).netloc or service
    return hosts


def target_for(
    client: PurpleFleaClient, agent: AgentConfig, escrow_dialect: str = "auto"
) -> PollTarget:
    """A poll target for one ``[[agents]]`` entry through ``client.agent(...)``."""
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


def agent_info(agent: AgentConfig) -> AgentInfo:
    """The fleet's view of one ``[[agents]]`` entry."""
    return AgentInfo(agent.id, agent.display_name, agent.strategy, agent.initial_balance)


def intervals_of(polling: PollingConfig) -> dict[str, float]:
    """``[polling]`` intervals by data type name."""
    names = ("balance", "positions", "pnl", "casino", "referrals", "escrows")
    return {name: float(getattr(polling, name)) for name in names}


class PollSource(Protocol):
    """What the console and its ticker need of a poller: the in-process :class:`Poller`, or the
    console's poll worker in a process of its own (:class:`pf_tui.poll_worker.RemotePoller`)."""

    @property
    def stats(self) -> CallStats:
        """Every call's latency and outcome (the fleet's API health and error rates)."""
        ...

    @property
    def paused(self) -> bool:
        """Whether polling is paused."""
        ...

    def start(self) -> None:
        """Start polling in the running loop."""

    async def stop(self) -> None:
        """Stop polling."""

    def refresh_now(self) -> None:
        """Poll everything now."""

    def refresh(self, agent_id: str, kinds: Iterable[DataType]) -> None:
        """Poll one agent's ``kinds`` now (after a money action)."""

    def pause(self) -> None:
        """Stop starting polls."""

    def resume(self) -> None:
        """Start polling again."""

    def set_tracked_escrows(self, tracked: Mapping[str, Mapping[str, Dialect]]) -> None:
        """Replace every agent's tracked escrows."""

    async def batch(self) -> list[PollResult]:
        """Wait for at least one result, then return every result ready."""
        ...

    def drain(self) -> list[PollResult]:
        """Every result ready now, without waiting."""
        ...

    def pending(self) -> int:
        """How many of the results ready now change what the screen shows."""
        ...

    def trouble(self) -> str | None:
        """Why polling is not running as it should (a worker that died), or ``None``."""
        ...


class ConsoleEngine(Protocol):
    """The polling parts the console runs on: a poller and the fleet state it feeds."""

    @property
    def poller(self) -> PollSource: ...

    @property
    def fleet(self) -> FleetState: ...

    async def aclose(self) -> None:
        """Stop polling and close what polling opened."""


@dataclass
class PollEngine:
    """The live polling parts: the client, the poller over it and the fleet state it feeds."""

    client: PurpleFleaClient
    poller: Poller
    fleet: FleetState

    async def aclose(self) -> None:
        """Stop polling and close every connection pool."""
        await self.poller.stop()
        await self.client.aclose()


def build_poller(
    config: Config,
    client: PurpleFleaClient,
    clock: Clock = SYSTEM_CLOCK,
    *,
    agents: Iterable[AgentConfig] | None = None,
    seed: int | None = None,
    max_concurrency: int | None = None,
    stats: CallStats | None = None,
) -> Poller:
    """The poller of ``config``'s agents (or ``agents``) over ``client``; not started."""
    chosen = config.agents if agents is None else agents
    return Poller(
        [target_for(client, a, config.api.escrow_dialect) for a in chosen],
        intervals=intervals_of(config.polling),
        max_backoff=float(config.polling.max_backoff),
        error_window=float(config.polling.error_window),
        max_concurrency=int(max_concurrency or config.polling.max_concurrency),
        hosts=hosts_from_api(config.api),
        clock=clock,
        seed=seed,
        stats=stats,
    )


def build_poll_client(config: Config, clock: Clock = SYSTEM_CLOCK) -> PurpleFleaClient:
    """The poll engine's client: the lean read path; no latency of its own (the poller's
    ``CallStats`` times every call)."""
    return build_client(
        config,
        clock,
        latency=poll_latency(),
        transport=poll_transport(config.api.transport),
    )


def build_poll_engine(
    config: Config,
    clock: Clock = SYSTEM_CLOCK,
    *,
    client: PurpleFleaClient | None = None,
    agents: Iterable[AgentConfig] | None = None,
    seed: int | None = None,
    max_concurrency: int | None = None,
    keep_samples: bool = False,
    history_metrics: Iterable[str] = HISTORY_METRICS,
) -> PollEngine:
    """Client, poller and fleet state for ``config``'s agents (or ``agents``); not started.

    ``client`` shares an existing client (benchmarks compare transports that way); by default a
    new one is built from ``[api]``. ``keep_samples``: the fleet keeps its history points for
    :meth:`FleetState.drain_samples` (the daemon, which stores them, drains them);
    ``history_metrics``: the metrics it keeps a history of (the console: fewer).
    """
    client = client or build_poll_client(config, clock)
    chosen = list(config.agents if agents is None else agents)
    poller = build_poller(
        config, client, clock, agents=chosen, seed=seed, max_concurrency=max_concurrency
    )
    fleet = build_fleet(
        config,
        poller.stats,
        clock,
        agents=chosen,
        keep_samples=keep_samples,
        history_metrics=history_metrics,
    )
    return PollEngine(client, poller, fleet)


def build_fleet(
    config: Config,
    calls: CallStats,
    clock: Clock = SYSTEM_CLOCK,
    *,
    agents: Iterable[AgentConfig] | None = None,
    keep_samples: bool = False,
    history_metrics: Iterable[str] = HISTORY_METRICS,
) -> FleetState:
    """The fleet state of ``config``'s agents (or ``agents``), its error rates read from
    ``calls`` (the poller's call counts, wherever the poller runs); ``keep_samples`` and
    ``history_metrics`` as in :class:`FleetState`."""
    chosen = config.agents if agents is None else agents
    return FleetState(
        [agent_info(a) for a in chosen],
        intervals=intervals_of(config.polling),
        clock=clock,
        calls=calls,
        keep_samples=keep_samples,
        history_metrics=history_metrics,
    )


# ---- the store ---------------------------------------------------------------------------------


def open_store(config: Config, clock: Clock = SYSTEM_CLOCK) -> Store:
    """The SQLite store at ``[store] path`` (migrated on open), keeping ``retention_days`` of
    sample history (the daemon prunes it); the caller closes it."""
    return Store(config.store.path, clock=clock, retention_s=config.store.retention_days * 86_400.0)


# ---- money actions -----------------------------------------------------------------------------


def casino_keys(config: Config) -> dict[str, Secret]:
    """Agent id -> its casino key (which is also its escrow key), for agents that have one."""
    return {a.id: a.casino_key for a in config.agents if a.casino_key is not None}


@dataclass
class MoneyParts:
    """What a money caller holds open: the store, its journal connection, a client, the engine."""

    store: Store
    conn: Connection
    client: PurpleFleaClient
    engine: ActionEngine
    closed: bool = field(default=False, init=False)

    async def aclose(self) -> None:
        """Close the client, the journal connection and the store (idempotent)."""
        if self.closed:
            return
        self.closed = True
        await self.client.aclose()
        self.conn.close()
        await self.store.aclose()


def open_money(
    config: Config,
    clock: Clock = SYSTEM_CLOCK,
    *,
    read_only: bool = False,
    max_action_usd: Decimal | None = None,
    operator: str | None = None,
    max_attempts: int = 12,
    checkpoint: Checkpoint | None = None,
) -> MoneyParts:
    """The money core for ``config``: journal on the store, its own client, limits from ``[ui]``.

    Money requests get a client of their own so they never queue behind the poller's reads.
    ``read_only`` adds to ``[ui] read_only``; ``max_action_usd`` defaults to ``[ui]``'s.
    """
    keys = casino_keys(config)
    store = open_store(config, clock)
    conn = store.journal_connection()
    client = build_client(config, clock)
    engine = ActionEngine(
        conn,
        ClientWire(client, keys.get),
        clock=clock,
        read_only=read_only or config.ui.read_only,
        max_action_usd=config.ui.max_action_usd if max_action_usd is None else max_action_usd,
        operator=operator,
        max_attempts=max_attempts,
        checkpoint=checkpoint,
    )
    return MoneyParts(store, conn, client, engine)


# ---- the store and alerts ----------------------------------------------------------------------


@dataclass
class AlertParts:
    """What an alert evaluator holds open on a store it does not own (the caller closes that).

    ``engine`` starts from the state ``book`` saved last; ``dispatcher`` delivers ``book``'s
    outbox to the receivers.
    """

    conn: Connection
    book: AlertBook
    engine: AlertEngine
    dispatcher: Dispatcher
    closed: bool = field(default=False, init=False)

    @property
    def receiver_names(self) -> list[str]:
        """The receivers' names, in config order (the outbox keeps one queue per name)."""
        return list(self.dispatcher.receivers)

    async def aclose(self) -> None:
        """Close the receivers' HTTP clients and the connection (idempotent)."""
        if self.closed:
            return
        self.closed = True
        await self.dispatcher.close()
        self.conn.close()


def open_alerts(
    config: Config, store: Store, *, receivers: Sequence[Receiver] | None = None
) -> AlertParts:
    """The alert core for ``config`` on ``store``; see :class:`AlertParts`.

    Rules and silences come from ``[alerts]``, the engine's state from the last run, and the
    receivers from ``[notify.*]`` unless ``receivers`` is given (tests pass recording ones).
    """
    from pf_tui.core.alerts.engine import AlertEngine
    from pf_tui.core.alerts.rules import rules_from_config
    from pf_tui.core.notify.alert_book import AlertBook
    from pf_tui.core.notify.outbox import Dispatcher

    conn = store.connect(busy_timeout_s=EVAL_BUSY_TIMEOUT_S)
    book = AlertBook(conn)
    rules, silences = rules_from_config(config.alerts)
    engine = AlertEngine(rules, silences=silences, state=book.load_instances())
    chosen = build_receivers(config) if receivers is None else receivers
    return AlertParts(conn, book, engine, Dispatcher(book.outbox, chosen))


def build_receivers(config: Config) -> list[Receiver]:
    """One receiver per configured destination (``[notify.*]``)."""
    from pf_tui.core.notify.alertmanager import AlertmanagerReceiver
    from pf_tui.core.notify.receivers import LogReceiver, TelegramReceiver, WebhookReceiver

    out: list[Receiver] = []
    redactor = config_redactor(config)
    tg = config.notify.telegram
    if tg.enabled and tg.token is not None:
        out.append(TelegramReceiver(tg.token, tg.chat_id, api_base=tg.api_base, redactor=redactor))
    wh = config.notify.webhook
    if wh.enabled and wh.url is not None:
        out.append(WebhookReceiver(wh.url, timeout=wh.timeout, redactor=redactor))
    if config.notify.log.path is not None:
        out.append(LogReceiver(config.notify.log.path))
    am = config.notify.alertmanager
    if am.enabled and am.url:
        out.append(
            AlertmanagerReceiver(
                am.url,
                resend_interval_s=am.resend_interval,
                timeout_s=am.timeout,
                redactor=redactor,
            )
        )
    return out


def config_secrets(config: Config) -> list[Secret]:
    """Every secret ``config`` holds: agents' keys, the bot token, the webhook and dead-man URLs."""
    out: list[Secret] = []
    for agent in config.agents:
        out += [k for k in (agent.casino_key, agent.trading_key, agent.wallet_key) if k]
    notify = config.notify
    out += [
        s for s in (notify.telegram.token, notify.webhook.url, notify.heartbeat.deadman_url) if s
    ]
    return out


def config_redactor(config: Config) -> Redactor:
    """A :class:`Redactor` of every secret in ``config`` (each in all its forms)."""
    return Redactor(config_secrets(config))


# ---- shards ---------------------------------------------------------------------------------


def shard_config(config: Config, shard: Shard | None) -> Config:
    """The config one shard runs on: only its agents, and a store of its own.

    Every face applies ``--shard i/n`` here (the daemon, the console, read commands), so they
    agree on which agents a shard has (:mod:`pf_tui.shard`). Each shard keeps its own SQLite
    file, ``<stem>.shard-<i>-of-<n><suffix>`` beside the configured one: the alert engine's
    state, the heartbeat and the money journal belong to one process's agents, and several
    daemons started from one config on one machine must not share them. A console started with
    the same ``--shard`` opens the same file, so it sees its daemon's alerts. ``Config.shard``
    says which shard it is (the console's header shows it). ``None`` (no ``--shard``) returns
    ``config`` unchanged.
    """
    if shard is None:
        return config
    path = config.store.path
    store = replace(
        config.store,
        path=path.with_name(f"{path.stem}.shard-{shard.index}-of-{shard.count}{path.suffix}"),
    )
    agents = tuple(shard.select(config.agents, lambda a: a.id))
    return replace(config, agents=agents, store=store, shard=str(shard))
