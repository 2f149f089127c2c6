"""pf-tui's configuration: TOML in, typed frozen dataclasses out, secrets kept secret.

``load_config(resolve_config_path(cli_path))`` is the whole story for the CLI; every problem is a
:class:`ConfigError` whose ``str`` is one line naming the file, the key and the fix (exit 2).
"""

from __future__ import annotations

from pf_tui.config.errors import ConfigError, MissingConfigError
from pf_tui.config.model import (
    DEFAULT_RULES,
    KEYED_SERVICES,
    METRICS,
    POLL_TYPES,
    PRODUCTION_BASES,
    SERVICES,
    SIM_MOUNTS,
    AgentConfig,
    AlertRule,
    AlertsConfig,
    ApiConfig,
    Config,
    HeartbeatConfig,
    LogNotifyConfig,
    McpConfig,
    NotifyConfig,
    PollingConfig,
    SilenceConfig,
    StoreConfig,
    TelegramConfig,
    UiConfig,
    WebhookConfig,
)
from pf_tui.config.parse import default_alert_rules, load_config, parse_config
from pf_tui.config.paths import (
    CONFIG_ENV,
    default_config_path,
    default_store_path,
    example_config_text,
    load_state,
    resolve_config_path,
    save_state,
    state_path_for,
    write_starter_config,
)
from pf_tui.config.schema import SCHEMA
from pf_tui.config.secrets import mode_problem

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_RULES",
    "KEYED_SERVICES",
    "METRICS",
    "POLL_TYPES",
    "PRODUCTION_BASES",
    "SCHEMA",
    "SERVICES",
    "SIM_MOUNTS",
    "AgentConfig",
    "AlertRule",
    "AlertsConfig",
    "ApiConfig",
    "Config",
    "ConfigError",
    "HeartbeatConfig",
    "LogNotifyConfig",
    "McpConfig",
    "MissingConfigError",
    "NotifyConfig",
    "PollingConfig",
    "SilenceConfig",
    "StoreConfig",
    "TelegramConfig",
    "UiConfig",
    "WebhookConfig",
    "default_alert_rules",
    "default_config_path",
    "default_store_path",
    "example_config_text",
    "load_config",
    "load_state",
    "mode_problem",
    "parse_config",
    "resolve_config_path",
    "save_state",
    "state_path_for",
    "write_starter_config",
]
