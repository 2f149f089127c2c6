"""Config errors never echo a credential, and every limit has a documented range."""

from __future__ import annotations

from pathlib import Path

import pytest

from pf_tui.config import ConfigError
from tests.config.helpers import AGENT, load_text

PASSWORD = "pw-CANARY-5f4dcc3b5aa7"
KEY = "sk_live_CANARY_query_0123456789abcdef"


@pytest.mark.parametrize(
    "url",
    [
        f"htps://operator:{PASSWORD}@casino.example.com/api/v1",  # mistyped scheme
        f"https://operator:{PASSWORD}@casino.example.com/api/v1",
        f"https://casino.example.com/api/v1?key={KEY}",  # a key in the query string
        f"ftp://casino.example.com/api/v1?key={KEY}",
        f"https://casino.example.com/api/v1#{KEY}",
    ],
)
def test_a_bad_base_url_is_never_echoed_with_its_credentials(tmp_path: Path, url: str) -> None:
    """Broken: ``'htps://operator:pw...@...' is not an http(s) URL`` printed the password, and a
    key in a query string came back whole in the error."""
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, f'[api]\ncasino = "{url}"\n')
    text = str(info.value)
    assert PASSWORD not in text and KEY not in text and "api.casino" in text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[ui]\nmax_action_usd = 1e12", "max_action_usd: uses an exponent"),
        ("[ui]\nmax_action_usd = 1000000000000", "max_action_usd: 1000000000000 is out of range"),
        ('[ui]\nmax_action_usd = "2000000"', "max_action_usd: 2000000 is out of range"),
        ("[ui]\ntyped_confirm_usd = 1e3", "typed_confirm_usd: uses an exponent"),
        ("[[agents]]\n" + AGENT + "initial_balance = 1e3", "initial_balance: uses an exponent"),
        ("[alerts.rules.low_balance]\nthreshold = 1e3", "threshold: uses an exponent"),
        ("[alerts.rules.drawdown]\nthreshold = 150", "threshold: 150 is out of range"),
        ("[alerts.rules.error_rate]\nclear_threshold = -1", "clear_threshold: -1 is out of range"),
        (
            '[alerts.rules.x]\nscope = "stream"\nmetric = "balance_usd"\nop = "<"\nthreshold = 1',
            "a stream rule cannot watch balance_usd",
        ),
        ("[notify.heartbeat]\ninterval = 5", "too often for a still-alive message"),
        ("[notify.telegram]\nper_minute = 61", "per_minute: 61 is out of range"),
    ],
)
def test_limits_out_of_their_range_are_refused(tmp_path: Path, text: str, message: str) -> None:
    """Broken: ``max_action_usd = 1e12`` was accepted, and a bare TOML ``1e3`` passed where the
    money rules refuse exponents."""
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    assert message in str(info.value)


def test_spend_rules_per_agent_stream_and_fleet_are_accepted(tmp_path: Path) -> None:
    """Broken: ``metric = "spend_usd_per_hour"`` was refused as an unknown metric."""
    text = "".join(
        f'[alerts.rules.spend_{scope}]\nscope = "{scope}"\nmetric = "spend_usd_per_hour"\n'
        f'op = ">"\nthreshold = 25\n'
        for scope in ("agent", "stream", "fleet")
    )
    rules = load_text(tmp_path, text).alerts
    assert [rules.rule(f"spend_{s}").scope for s in ("agent", "stream", "fleet")] == [
        "agent",
        "stream",
        "fleet",
    ]


def test_heartbeat_and_deadman_in_config(tmp_path: Path) -> None:
    """Broken: the heartbeat was fixed at 6 h and there was no dead man's URL."""
    config = load_text(
        tmp_path,
        '[notify.heartbeat]\ninterval = "30m"\ndeadman_url_env = "PF_DM"\ndeadman_interval = 5\n',
        env={"PF_DM": "https://hc.example.com/ping/0f3c-CANARY"},
    )
    beat = config.notify.heartbeat
    assert beat.interval == 1800 and beat.deadman_interval == 5
    assert beat.deadman_url is not None and "CANARY" not in repr(config)
