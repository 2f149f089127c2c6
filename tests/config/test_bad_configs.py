"""A table of bad configs, each with the exact one-line message it must produce."""

from __future__ import annotations

from pathlib import Path

import pytest

from pf_tui.config import ConfigError

from .helpers import AGENT, load_text

A = "[[agents]]\n" + AGENT
NEW_RULE_FIX = (
    "a new rule needs metric, op and threshold (defaults: max_drawdown, drawdown, low_balance, "
    "error_rate, open_positions)"
)

CASES: list[tuple[str, str, str]] = [
    ("top typo", 'profle = "x"', "profle: unknown key; did you mean 'profile'?"),
    ("empty profile", 'profile = ""', 'profile: is empty; give the profile a name like "prod"'),
    ("api typo", "[api]\ntimout = 5", "api.timout: unknown key; did you mean 'timeout'?"),
    (
        "section unknown",
        "[notify.email]\nto = 1",
        "notify.email: unknown key; expected one of: telegram, webhook, log, heartbeat,"
        " alertmanager",
    ),
    ("api not a table", 'api = "x"', "api: expected a table, got a string; write it as [api]"),
    (
        "dialect typo",
        '[api]\nescrow_dialect = "streming"',
        "api.escrow_dialect: 'streming' is not one of auto, streaming, classic; "
        "did you mean 'streaming'?",
    ),
    (
        "transport",
        '[api]\ntransport = "curl"',
        "api.transport: 'curl' is not one of aiohttp, httpx; expected one of: aiohttp, httpx",
    ),
    (
        "url scheme",
        '[api]\ncasino = "ftp://x"',
        "api.casino: 'ftp://x' is not an http(s) URL; write it like https://casino.purpleflea.com/api/v1",
    ),
    (
        "url credentials",
        '[api]\ntrading = "https://bob:hunter2@t.example/v1"',
        "api.trading: must not carry a user name or password; "
        "put credentials in a key, not in the URL",
    ),
    (
        "timeout range",
        "[api]\ntimeout = 0",
        "api.timeout: 0 is out of range; use 0.1 to 300 seconds",
    ),
    (
        "polling typo",
        "[polling]\nbalence = 5",
        "polling.balence: unknown key; did you mean 'balance'?",
    ),
    (
        "polling type",
        '[polling]\nbalance = "fast"',
        "polling.balance: expected a number, got a string",
    ),
    (
        "polling bool",
        "[polling]\nbalance = true",
        "polling.balance: expected a number, got a boolean",
    ),
    (
        "polling range",
        "[polling]\npnl = 0.1",
        "polling.pnl: 0.1 is out of range; use 0.5 to 86400 seconds",
    ),
    (
        "worker nice range",
        "[polling]\nworker_nice = 20",
        "polling.worker_nice: 20 is out of range; use 0 to 19 (nice increments)",
    ),
    (
        "concurrency int",
        "[polling]\nmax_concurrency = 2.5",
        "polling.max_concurrency: expected an integer, got a number",
    ),
    (
        "agents table",
        '[agents]\nid = "x"',
        "agents: expected an array of tables; write each agent as [[agents]]",
    ),
    (
        "agent no id",
        '[[agents]]\nlabel = "a"',
        'agents[0].id: missing; add id = "ag_" followed by 12 hex digits',
    ),
    (
        "agent bad id",
        '[[agents]]\nid = "ag_123"',
        "agents[0].id: 'ag_123' is not an agent id; use ag_ followed by 12 hex digits, as the "
        "casino issued it",
    ),
    (
        "duplicate ids",
        A + A.replace("ab", "AB"),
        "agents[1].id: ag_0123456789AB is already agents[0]; "
        "give each agent its own id, or remove the duplicate",
    ),
    (
        "agent key typo",
        A + 'casino_kye_env = "X"',
        "agents[0].casino_kye_env: unknown key; did you mean 'casino_key_env'?",
    ),
    (
        "two sources",
        A + 'casino_key_env = "PF_X"\ncasino_key = "k"',
        "agents[0]: casino_key_env and casino_key are both set; "
        "keep exactly one of casino_key_env, casino_key_file, casino_key_credential, casino_key"
        " for the casino key",
    ),
    (
        "env unset",
        A + 'casino_key_env = "PF_KEY_X"',
        "agents[0].casino_key_env: PF_KEY_X is not set; export it or use casino_key_file",
    ),
    (
        "env empty",
        A + 'trading_key_env = "PF_EMPTY"',
        "agents[0].trading_key_env: PF_EMPTY is empty; put the trading key there",
    ),
    (
        "inline empty",
        A + 'wallet_key = ""',
        "agents[0].wallet_key: is empty; put the wallet key there",
    ),
    (
        "key wrong type",
        A + "casino_key = 12345",
        "agents[0].casino_key: expected a string, got an integer",
    ),
    (
        "negative balance",
        A + "initial_balance = -5",
        "agents[0].initial_balance: '-5' is negative; write a plain amount like 100 or \"100.00\"",
    ),
    (
        "exponent balance",
        A + 'initial_balance = "1e3"',
        "agents[0].initial_balance: '1e3' uses an exponent; write the amount out in full",
    ),
    (
        "balance dp",
        A + "initial_balance = 1.1234567",
        "agents[0].initial_balance: '1.1234567' has more than 6 decimal places; "
        'write a plain amount like 100 or "100.00"',
    ),
    (
        "base address",
        A + 'base_address = "0x12"',
        "agents[0].base_address: '0x12' is not a Base address; use 0x followed by 40 hex digits",
    ),
    (
        "label control",
        A + 'label = "a\\u001b[31mb"',
        "agents[0].label: contains a control character or line break; write it on one line",
    ),
    (
        "metric typo",
        '[alerts.rules.x]\nmetric = "balanse_usd"\nop = "<"\nthreshold = 5',
        "alerts.rules.x.metric: 'balanse_usd' is not a known metric; did you mean 'balance_usd'?",
    ),
    (
        "new rule no op",
        '[alerts.rules.x]\nmetric = "balance_usd"\nthreshold = 5',
        "alerts.rules.x.op: missing; " + NEW_RULE_FIX,
    ),
    (
        "rule key typo",
        "[alerts.rules.low_balance]\nthreshhold = 5",
        "alerts.rules.low_balance.threshhold: unknown key; did you mean 'threshold'?",
    ),
    (
        "clear wrong side",
        "[alerts.rules.max_drawdown]\nclear_threshold = 12",
        "alerts.rules.max_drawdown.clear_threshold: 12 is above threshold 10 (op >); "
        "set it at or below 10",
    ),
    (
        "clear below",
        "[alerts.rules.low_balance]\nclear_threshold = 40",
        "alerts.rules.low_balance.clear_threshold: 40 is below threshold 50 (op <); "
        "set it at or above 50",
    ),
    (
        "bad duration",
        '[alerts.rules.low_balance]\nfor = "5 minutes"',
        "alerts.rules.low_balance.for: '5 minutes' is not a duration; "
        'write seconds (90) or "90s", "5m", "1h30m"',
    ),
    (
        "severity typo",
        '[alerts.rules.error_rate]\nseverity = "critcal"',
        "alerts.rules.error_rate.severity: 'critcal' is not one of info, warning, critical; "
        "did you mean 'critical'?",
    ),
    (
        "silence naive",
        '[[alerts.silences]]\nmatcher = { rule = "low_balance" }\nexpires = 2030-01-01T00:00:00',
        "alerts.silences[0].expires: has no timezone; add Z or an offset like +02:00",
    ),
    (
        "silence label",
        '[[alerts.silences]]\nmatcher = { agnt = "ag_*" }\nexpires = 2030-01-01T00:00:00Z',
        "alerts.silences[0].matcher.agnt: unknown key; did you mean 'agent'?",
    ),
    (
        "silence no expiry",
        '[[alerts.silences]]\nmatcher = { rule = "x" }',
        "alerts.silences[0].expires: missing; add expires = 2030-01-01T00:00:00Z",
    ),
    (
        "telegram no token",
        "[notify.telegram]\nenabled = true\nchat_id = 5",
        "notify.telegram: enabled but no bot token; set token_env, token_file or token",
    ),
    (
        "telegram no chat",
        '[notify.telegram]\nenabled = true\ntoken = "123:token-abc"',
        "notify.telegram.chat_id: missing; set chat_id to the chat's numeric id or @channelname",
    ),
    (
        "webhook bad url",
        '[notify.webhook]\nenabled = true\nurl = "not a url"',
        "notify.webhook: the URL from config is not an http(s) URL; give an https:// URL",
    ),
    (
        "webhook no url",
        "[notify.webhook]\nenabled = true",
        "notify.webhook: enabled but no URL; set url_env, url_file or url",
    ),
    (
        "read_only type",
        '[ui]\nread_only = "yes"',
        "ui.read_only: expected true or false, got a string",
    ),
    (
        "typed above max",
        "[ui]\nmax_action_usd = 100\ntyped_confirm_usd = 200",
        "ui.typed_confirm_usd: 200 is above max_action_usd 100; set it at or below max_action_usd",
    ),
    (
        "keymap type",
        "[ui.keymap]\nrefresh = 5",
        'ui.keymap.refresh: expected keys as a string; write keys like "ctrl+r" or "f5,ctrl+r"',
    ),
    (
        "retention range",
        "[store]\nretention_days = 0",
        "store.retention_days: 0 is out of range; use 1 to 3650 days",
    ),
    (
        "timeout lead too short",
        '[alerts]\nstream_timeout_lead = "30s"',
        'alerts.stream_timeout_lead: 30 seconds is too short to act on; use at least "1m", or '
        "leave it unset for 1h (a quarter of shorter timeouts)",
    ),
    (
        "timeout lead not a duration",
        '[alerts]\nstream_timeout_lead = "soon"',
        "alerts.stream_timeout_lead: 'soon' is not a duration; write seconds (90) or \"90s\", "
        '"5m", "1h30m"',
    ),
    (
        "bad toml",
        "[api",
        "not valid TOML: Expected ']' at the end of a table declaration (at end of document); "
        "fix the syntax there",
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [(t, e) for _, t, e in CASES], ids=[c[0] for c in CASES]
)
def test_bad_config_message(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "config.toml"
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text, env={"PF_X": "k", "PF_EMPTY": ""})
    assert str(info.value) == f"{path}: {expected}"
    assert "\n" not in str(info.value)
    assert info.value.path == path


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 20


def test_error_fields() -> None:
    err = ConfigError(
        Path("/x/config.toml"),
        "agents[2].casino_key_env",
        "PF_KEY_X is not set",
        "export it or use casino_key_file",
    )
    assert (
        str(err) == "/x/config.toml: agents[2].casino_key_env: PF_KEY_X is not set; "
        "export it or use casino_key_file"
    )
    assert (err.key, err.message, err.fix) == (
        "agents[2].casino_key_env",
        "PF_KEY_X is not set",
        "export it or use casino_key_file",
    )


def test_error_is_one_safe_line() -> None:
    err = ConfigError(Path("/x/a\nb\x1b[31m.toml"), "k", "m")
    assert str(err) == "/x/a?b?[31m.toml: k: m"
