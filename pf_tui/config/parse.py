"""TOML document -> :class:`~pf_tui.config.model.Config`, section by section.

Errors stop at the first problem found (sections in file order of the schema: top level, api,
polling, agents, alerts, notify, ui, store) so the message is about one key and says how to fix it.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, get_args

from pf_tui.config.errors import ConfigError, MissingConfigError
from pf_tui.config.model import (
    DEFAULT_RULES,
    FLEET_METRICS,
    METRIC_RANGES,
    METRICS,
    POLL_TYPES,
    PRODUCTION_BASES,
    SERVICES,
    STREAM_METRICS,
    AgentConfig,
    AlertmanagerConfig,
    AlertRule,
    AlertsConfig,
    ApiConfig,
    Config,
    EscrowDialect,
    HeartbeatConfig,
    LogNotifyConfig,
    McpConfig,
    NotifyConfig,
    Op,
    PollEngineMode,
    PollingConfig,
    RuleDefaults,
    RuleScope,
    SeverityName,
    SilenceConfig,
    StoreConfig,
    TelegramConfig,
    Transport,
    UiConfig,
    WebhookConfig,
)
from pf_tui.config.paths import default_store_path, state_path_for
from pf_tui.config.schema import (
    SCHEMA,
    Context,
    Section,
    did_you_mean,
    key_path,
    printable,
    shown_url,
    toml_float,
    url_problem,
)
from pf_tui.config.secrets import mode_problem, read_secret

AGENT_ID = re.compile(r"ag_[0-9a-fA-F]{12}")
BASE_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
SOLANA_ADDRESS = re.compile(r"[1-9A-HJ-NP-Za-km-z]{32,44}")
RULE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
BINDING_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
OPS: tuple[Op, ...] = get_args(Op)
SEVERITIES: tuple[SeverityName, ...] = get_args(SeverityName)
ESCROW_DIALECTS: tuple[EscrowDialect, ...] = get_args(EscrowDialect)
TRANSPORTS: tuple[Transport, ...] = get_args(Transport)
POLL_ENGINES: tuple[PollEngineMode, ...] = get_args(PollEngineMode)
SCOPES: tuple[RuleScope, ...] = get_args(RuleScope)
MAX_ACTION_USD = Decimal(1_000_000)
"""The most ``[ui] max_action_usd`` may be: a limit above a million USD a click is no limit."""
_POLL_DEFAULTS = PollingConfig()


def load_config(path: Path | str, *, env: Mapping[str, str] | None = None) -> Config:
    """Read, check and type the config at ``path``.

    Raises :class:`MissingConfigError` when there is no file, and :class:`ConfigError` for a file
    open to group or others, invalid TOML, or any invalid key. ``env`` replaces ``os.environ``
    for ``*_env`` lookups (tests).
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise MissingConfigError(path)
    if not path.is_file():
        raise ConfigError(
            path, "", "is not a file", "point --config or PF_TUI_CONFIG at a TOML file"
        )
    problem = mode_problem(path)
    if problem is not None:
        raise ConfigError(path, "", *problem)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(path, "", "is not UTF-8 text", "save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(
            path, "", f"cannot be read: {exc.strerror}", "check its owner and mode"
        ) from None
    return parse_config(text, path=path, env=env)


def parse_config(
    text: str, *, path: Path | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Type a config from TOML ``text`` (``path`` names the file and anchors relative paths)."""
    try:
        data = tomllib.loads(text, parse_float=toml_float)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "", f"not valid TOML: {exc}", "fix the syntax there") from None
    base_dir = path.parent if path is not None else Path.cwd()
    ctx = Context(path=path, base_dir=base_dir, env=os.environ if env is None else env)
    return build_config(ctx, data)


def build_config(ctx: Context, data: dict[str, Any]) -> Config:
    """The typed config from a parsed TOML document."""
    top = Section(ctx, "", data, "")
    profile = top.string("profile", "default", max_len=40)
    if profile is None or not profile.strip():
        raise top.error("profile", "is empty", 'give the profile a name like "prod"')
    agents = _agents(ctx, top.raw("agents", []))
    ui = _ui(Section(ctx, "ui", top.raw("ui", {}), "ui"))
    return Config(
        profile=profile,
        api=_api(Section(ctx, "api", top.raw("api", {}), "api")),
        polling=_polling(Section(ctx, "polling", top.raw("polling", {}), "polling")),
        agents=agents,
        alerts=_alerts(Section(ctx, "alerts", top.raw("alerts", {}), "alerts")),
        notify=_notify(Section(ctx, "notify", top.raw("notify", {}), "notify")),
        ui=ui,
        mcp=_mcp(Section(ctx, "mcp", top.raw("mcp", {}), "mcp"), agents),
        store=_store(Section(ctx, "store", top.raw("store", {}), "store")),
        source=ctx.path,
        state_path=state_path_for(ctx.path) if ctx.path is not None else None,
    )


def _api(s: Section) -> ApiConfig:
    bases = {name: s.url(name, PRODUCTION_BASES[name]) for name in SERVICES}
    return ApiConfig(
        **bases,
        timeout=s.number("timeout", 10.0, 0.1, 300),
        escrow_dialect=s.choice("escrow_dialect", "auto", ESCROW_DIALECTS),
        transport=s.choice("transport", "aiohttp", TRANSPORTS),
    )


def _polling(s: Section) -> PollingConfig:
    intervals = {
        name: s.number(name, _POLL_DEFAULTS.interval(name), 0.5, 86400) for name in POLL_TYPES
    }
    return PollingConfig(
        **intervals,
        max_backoff=s.number("max_backoff", 120.0, 1, 86400),
        error_window=s.number("error_window", 300.0, 10, 86400),
        max_concurrency=s.integer("max_concurrency", 16, 1, 1024, unit="requests"),
        engine=s.choice("engine", "auto", POLL_ENGINES),
        worker_nice=s.integer("worker_nice", 10, 0, 19, unit="(nice increments)"),
    )


def _agents(ctx: Context, raw: object) -> tuple[AgentConfig, ...]:
    if not isinstance(raw, list):
        raise ctx.error("agents", "expected an array of tables", "write each agent as [[agents]]")
    agents: list[AgentConfig] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(raw):
        where = f"agents[{index}]"
        if not isinstance(item, dict):
            raise ctx.error(where, "expected a table", "write each agent as [[agents]]")
        agent = _agent(Section(ctx, where, item, "agents[]"))
        folded = agent.id.lower()
        if folded in seen:
            raise ctx.error(
                key_path(where, "id"),
                f"{agent.id} is already agents[{seen[folded]}]",
                "give each agent its own id, or remove the duplicate",
            )
        seen[folded] = index
        agents.append(agent)
    return tuple(agents)


def _agent(s: Section) -> AgentConfig:
    agent_id = s.required_string("id", 'add id = "ag_" followed by 12 hex digits')
    if not AGENT_ID.fullmatch(agent_id):
        raise s.error(
            "id",
            f"{agent_id!r} is not an agent id",
            "use ag_ followed by 12 hex digits, as the casino issued it",
        )
    base = s.string("base_address")
    if base is not None and not BASE_ADDRESS.fullmatch(base):
        raise s.error(
            "base_address", f"{base!r} is not a Base address", "use 0x followed by 40 hex digits"
        )
    solana = s.string("solana_address")
    if solana is not None and not SOLANA_ADDRESS.fullmatch(solana):
        raise s.error(
            "solana_address",
            f"{solana!r} is not a Solana address",
            "use the base58 address (32-44 characters)",
        )
    return AgentConfig(
        id=agent_id,
        label=s.string("label", "", max_len=64) or "",
        strategy=s.string("strategy", "", max_len=64) or "",
        initial_balance=s.money("initial_balance", None),
        base_address=base,
        solana_address=solana,
        casino_key=read_secret(s, "casino_key", what="casino key"),
        trading_key=read_secret(s, "trading_key", what="trading key"),
        wallet_key=read_secret(s, "wallet_key", what="wallet key"),
    )


MIN_TIMEOUT_LEAD_S = 60.0
"""``[alerts] stream_timeout_lead`` below a minute would page too late to act."""
MAX_TIMEOUT_LEAD_S = 30 * 86400.0
"""... and above the longest escrow timeout (720 h) it would page at once."""


def _alerts(s: Section) -> AlertsConfig:
    rules_raw = s.raw("rules", {})
    if not isinstance(rules_raw, dict):
        raise s.error(
            "rules", "expected a table of rules", "write each rule as [alerts.rules.<name>]"
        )
    rules: dict[str, AlertRule] = {}
    for name, default in DEFAULT_RULES.items():
        if name not in rules_raw:
            rules[name] = _rule(
                Section(s.ctx, key_path("alerts.rules", name), {}, "alerts.rules.*"), name, default
            )
    for name, body in rules_raw.items():
        where = key_path("alerts.rules", name)
        if not RULE_NAME.fullmatch(name):
            raise s.ctx.error(
                where, "rule names use letters, digits, _ and - only", "rename the table"
            )
        rules[name] = _rule(
            Section(s.ctx, where, body, "alerts.rules.*"), name, DEFAULT_RULES.get(name)
        )
    ordered = [rules[n] for n in DEFAULT_RULES if n in rules] + [
        r for n, r in rules.items() if n not in DEFAULT_RULES
    ]
    silences_raw = s.raw("silences", [])
    if not isinstance(silences_raw, list):
        raise s.error(
            "silences", "expected an array of tables", "write each silence as [[alerts.silences]]"
        )
    silences = tuple(
        _silence(Section(s.ctx, f"alerts.silences[{i}]", item, "alerts.silences[]"))
        for i, item in enumerate(silences_raw)
    )
    lead = None
    if s.has("stream_timeout_lead"):
        lead = s.duration("stream_timeout_lead", 3600.0, MAX_TIMEOUT_LEAD_S)
        if lead < MIN_TIMEOUT_LEAD_S:
            raise s.error(
                "stream_timeout_lead",
                f"{lead:g} seconds is too short to act on",
                'use at least "1m", or leave it unset for 1h (a quarter of shorter timeouts)',
            )
    return AlertsConfig(rules=tuple(ordered), silences=silences, stream_timeout_lead_s=lead)


def _rule(s: Section, name: str, default: RuleDefaults | None) -> AlertRule:
    base: RuleDefaults = default or {}
    if default is None:
        for key in ("metric", "op", "threshold"):
            if not s.has(key):
                raise s.error(
                    key,
                    "missing",
                    "a new rule needs metric, op and threshold"
                    f" (defaults: {', '.join(DEFAULT_RULES)})",
                )
    metric = s.string("metric", str(base.get("metric", ""))) or ""
    if metric not in METRICS:
        raise s.error(
            "metric", f"{metric!r} is not a known metric", did_you_mean(metric, list(METRICS))
        )
    scope = s.choice("scope", "agent", SCOPES)
    allowed = {"stream": STREAM_METRICS, "fleet": FLEET_METRICS}.get(scope)
    if allowed is not None and metric not in allowed:
        raise s.error(
            "scope",
            f"a {scope} rule cannot watch {metric}",
            f'use one of {", ".join(sorted(allowed))}, or scope = "agent"',
        )
    op = s.choice("op", base.get("op", ">"), OPS)
    lo, hi = METRIC_RANGES[metric]
    threshold = s.decimal("threshold", base.get("threshold"), lo=lo, hi=hi)
    assert threshold is not None
    # Moving only the threshold of a default rule moves its clear point with it.
    default_clear = threshold if s.has("threshold") else base.get("clear_threshold", threshold)
    clear = s.decimal("clear_threshold", default_clear, lo=lo, hi=hi)
    assert clear is not None
    if op in (">", ">=") and clear > threshold:
        raise s.error(
            "clear_threshold",
            f"{clear} is above threshold {threshold} (op {op})",
            f"set it at or below {threshold}",
        )
    if op in ("<", "<=") and clear < threshold:
        raise s.error(
            "clear_threshold",
            f"{clear} is below threshold {threshold} (op {op})",
            f"set it at or above {threshold}",
        )
    return AlertRule(
        name=name,
        metric=metric,
        op=op,
        threshold=threshold,
        clear_threshold=clear,
        for_s=s.duration("for", float(base.get("for", 0)), 7 * 86400),
        repeat_interval_s=s.duration(
            "repeat_interval", float(base.get("repeat_interval", 3600)), 30 * 86400
        ),
        severity=s.choice("severity", base.get("severity", "warning"), SEVERITIES),
        enabled=s.boolean("enabled", True),
        scope=scope,
    )


def _silence(s: Section) -> SilenceConfig:
    if not s.has("matcher"):
        raise s.error(
            "matcher", "missing", 'add matcher = { rule = "low_balance", agent = "ag_..." }'
        )
    m = Section(s.ctx, s.path("matcher"), s.raw("matcher"), "alerts.silences[].matcher")
    pairs = tuple(
        (label, m.required_string(label, "give a name or a glob like ag_*")) for label in m.data
    )
    if not pairs:
        raise s.error("matcher", "is empty", "name at least one of rule, agent, severity")
    if not s.has("expires"):
        raise s.error("expires", "missing", "add expires = 2030-01-01T00:00:00Z")
    expires = s.raw("expires")
    if not isinstance(expires, datetime):
        raise s.error(
            "expires", "expected a date-time", "write it like 2030-01-01T00:00:00Z (no quotes)"
        )
    if expires.tzinfo is None:
        raise s.error("expires", "has no timezone", "add Z or an offset like +02:00")
    return SilenceConfig(
        matcher=pairs, expires=expires, comment=s.string("comment", "", max_len=500) or ""
    )


def _notify(s: Section) -> NotifyConfig:
    tg = Section(s.ctx, "notify.telegram", s.raw("telegram", {}), "notify.telegram")
    enabled = tg.boolean("enabled", False)
    token = read_secret(tg, "token", what="bot token", resolve=enabled)
    chat = tg.raw("chat_id", None)
    if chat is not None and (isinstance(chat, bool) or not isinstance(chat, (int, str))):
        raise tg.error(
            "chat_id", "expected an integer or a string", 'write the numeric id, or "@channelname"'
        )
    chat_id = (
        tg.string("chat_id", "") if isinstance(chat, str) else str(chat) if chat is not None else ""
    )
    if enabled and token is None:
        raise tg.ctx.error(
            "notify.telegram", "enabled but no bot token", "set token_env, token_file or token"
        )
    if enabled and not (chat_id or "").strip():
        raise tg.error("chat_id", "missing", "set chat_id to the chat's numeric id or @channelname")
    per_minute = (
        tg.integer("per_minute", 60, 1, 60, unit="messages a minute")
        if tg.has("per_minute")
        else None
    )
    telegram = TelegramConfig(
        enabled=enabled,
        token=token,
        chat_id=chat_id or "",
        api_base=tg.url("api_base", "https://api.telegram.org"),
        per_minute=per_minute,
    )
    wh = Section(s.ctx, "notify.webhook", s.raw("webhook", {}), "notify.webhook")
    wh_enabled = wh.boolean("enabled", False)
    url = read_secret(wh, "url", what="webhook URL", resolve=wh_enabled)
    if wh_enabled and url is None:
        raise wh.ctx.error("notify.webhook", "enabled but no URL", "set url_env, url_file or url")
    if url is not None:
        problem = url_problem(url.reveal(), base=False)
        if problem:
            raise wh.ctx.error(
                "notify.webhook", f"the URL from {url.source} {problem}", "give an https:// URL"
            )
    webhook = WebhookConfig(
        enabled=wh_enabled, url=url, timeout=wh.number("timeout", 10.0, 0.1, 300)
    )
    lg = Section(s.ctx, "notify.log", s.raw("log", {}), "notify.log")
    return NotifyConfig(
        telegram=telegram,
        webhook=webhook,
        log=LogNotifyConfig(path=lg.path_value("path")),
        alertmanager=_alertmanager(s),
        heartbeat=_heartbeat(
            Section(s.ctx, "notify.heartbeat", s.raw("heartbeat", {}), "notify.heartbeat")
        ),
    )


def _alertmanager(s: Section) -> AlertmanagerConfig:
    am = Section(s.ctx, "notify.alertmanager", s.raw("alertmanager", {}), "notify.alertmanager")
    enabled = am.boolean("enabled", False)
    url = (am.string("url", "", max_len=2048) or "").strip()
    problem = url_problem(url) if url else ""
    if problem:
        raise am.error(
            "url",
            f"{shown_url(url)} {problem}",  # never echoes a password or a query
            'write Alertmanager\'s base, like "http://127.0.0.1:9093"',
        )
    url = url.rstrip("/")
    if enabled and not url:
        raise am.error("url", "missing", 'set url = "http://127.0.0.1:9093" (Alertmanager\'s base)')
    return AlertmanagerConfig(
        enabled=enabled,
        url=url,
        timeout=am.number("timeout", 10.0, 0.1, 300),
        resend_interval=am.duration("resend_interval", 60.0, 3600.0),
    )


def _heartbeat(s: Section) -> HeartbeatConfig:
    interval = s.duration("interval", 6 * 3600.0, 7 * 86400)
    if 0 < interval < 60:
        raise s.error(
            "interval",
            f"{interval:g} seconds is too often for a still-alive message",
            'use 0 (off) or from "1m" to "7d"',
        )
    url = read_secret(s, "deadman_url", what="dead man's switch URL")
    if url is not None:
        problem = url_problem(url.reveal(), base=False)
        if problem:
            raise s.error(
                "deadman_url", f"the URL from {url.source} {problem}", "give an https:// URL"
            )
    every = s.duration("deadman_interval", 60.0, 3600)
    if every < 1:
        raise s.error("deadman_interval", "is under 1 second", 'use "1s" to "1h"')
    return HeartbeatConfig(interval=interval, deadman_url=url, deadman_interval=every)


def _ui(s: Section) -> UiConfig:
    keymap_raw = s.raw("keymap", {})
    if not isinstance(keymap_raw, dict):
        raise s.error(
            "keymap",
            "expected a table",
            'write it as [ui.keymap] with lines like refresh = "ctrl+r"',
        )
    keymap: list[tuple[str, str]] = []
    for binding, keys in keymap_raw.items():
        where = key_path("ui.keymap", binding)
        if not BINDING_ID.fullmatch(binding):
            raise s.ctx.error(
                where, "is not a binding id", "use the id shown in the help screen (?)"
            )
        if not isinstance(keys, str) or not keys.strip() or not keys.isprintable():
            raise s.ctx.error(
                where, "expected keys as a string", 'write keys like "ctrl+r" or "f5,ctrl+r"'
            )
        keymap.append((binding, keys))
    max_usd = s.money("max_action_usd", Decimal("100"), positive=True, hi=MAX_ACTION_USD)
    typed = s.money("typed_confirm_usd", Decimal("10"), hi=MAX_ACTION_USD)
    assert max_usd is not None and typed is not None
    if typed > max_usd:
        raise s.error(
            "typed_confirm_usd",
            f"{typed} is above max_action_usd {max_usd}",
            "set it at or below max_action_usd",
        )
    theme = (
        s.required_string("theme", 'name a Textual theme like "textual-dark"')
        if s.has("theme")
        else "textual-dark"
    )
    return UiConfig(
        theme=theme,
        keymap=tuple(keymap),
        read_only=s.boolean("read_only", False),
        max_action_usd=max_usd,
        typed_confirm_usd=typed,
    )


def _mcp(s: Section, agents: tuple[AgentConfig, ...]) -> McpConfig:
    raw = s.raw("write_agents", [])
    fix = 'list agent ids or labels from [[agents]], like write_agents = ["ag_0123456789ab"]'
    if not isinstance(raw, list) or not all(isinstance(name, str) for name in raw):
        raise s.error("write_agents", "expected an array of strings", fix)
    chosen: list[str] = []
    for name in raw:
        matches = [a.id for a in agents if name.strip() and name in (a.id, a.label)]
        if len(set(matches)) != 1:
            shown = repr(name) if printable(name) and len(name) <= 64 else "an entry"
            problem = "names no agent" if not matches else "is the label of several agents"
            raise s.error("write_agents", f"{shown} {problem} in [[agents]]", fix)
        if matches[0] not in chosen:
            chosen.append(matches[0])
    per_call = s.money("max_call_usd", Decimal("10"), positive=True, hi=MAX_ACTION_USD)
    per_hour = s.money("max_hour_usd", Decimal("50"), positive=True, hi=MAX_ACTION_USD)
    assert per_call is not None and per_hour is not None
    if per_call > per_hour:
        raise s.error(
            "max_call_usd",
            f"{per_call} is above max_hour_usd {per_hour}",
            "set it at or below max_hour_usd",
        )
    return McpConfig(write_agents=tuple(chosen), max_call_usd=per_call, max_hour_usd=per_hour)


def _store(s: Section) -> StoreConfig:
    return StoreConfig(
        path=s.path_value("path") or default_store_path(),
        retention_days=s.integer("retention_days", 30, 1, 3650, unit="days"),
    )


def default_alert_rules() -> tuple[AlertRule, ...]:
    """The seed's alert rules (:data:`DEFAULT_RULES`) as typed rules."""
    ctx = Context(path=None, base_dir=Path.cwd(), env={})
    return tuple(
        _rule(Section(ctx, key_path("alerts.rules", name), {}, "alerts.rules.*"), name, default)
        for name, default in DEFAULT_RULES.items()
    )


def all_schema_keys() -> list[tuple[str, str]]:
    """Every ``(section, key)`` pf-tui knows, for the example-config test and ``check``."""
    return [(section, key) for section, keys in SCHEMA.items() for key in keys]
