"""The typed config: defaults, alert rules and silences, the demo config, hints and helpers."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from pf_tui.config import DEFAULT_RULES, SERVICES, Config, ConfigError, parse_config
from pf_tui.config.schema import did_you_mean, parse_duration
from pf_tui.core.alerts.rules import rules_from_config, threshold_condition

from .helpers import load_text

SIM_AGENT = {
    "agent_id": "ag_00000000000a",
    "label": "atlas-trend-001",
    "strategy": "trend",
    "initial_balance": Decimal("1000"),
    "keys": {"casino": "sk_live_c", "trading": "sk_trade_t", "wallet": "pk_live_w"},
    "addresses": {"base": "0x" + "1" * 40, "solana": "So11111111111111111111111111111111111111112"},
}


class TestDefaults:
    def test_empty_file_gives_documented_defaults(self, tmp_path: Path) -> None:
        config = load_text(tmp_path, "")
        assert config.profile == "default"
        assert config.api.escrow_dialect == "auto" and config.api.transport == "aiohttp"
        assert config.api.casino == "https://casino.purpleflea.com/api/v1"
        polling = config.polling
        assert (polling.balance, polling.positions, polling.pnl, polling.casino) == (10, 5, 3, 2)
        assert (polling.referrals, polling.errors, polling.escrows, polling.max_backoff) == (
            30,
            5,
            5,
            120,
        )
        assert config.ui.max_action_usd == Decimal(
            "100"
        ) and config.ui.typed_confirm_usd == Decimal("10")
        assert config.store.retention_days == 30 and config.store.path.name == "pf-tui.db"
        assert config.source == tmp_path / "config.toml"

    def test_frozen(self, tmp_path: Path) -> None:
        config = load_text(tmp_path, "")
        with pytest.raises(dataclasses.FrozenInstanceError):
            config.profile = "x"  # type: ignore[misc]

    def test_every_field_has_a_docstring(self) -> None:
        import ast
        import inspect

        from pf_tui.config import model

        tree = ast.parse(inspect.getsource(model))
        undocumented = []
        for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
            body = cls.body
            for i, node in enumerate(body):
                if isinstance(node, ast.AnnAssign):
                    after = body[i + 1] if i + 1 < len(body) else None
                    if not (isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)):
                        undocumented.append(f"{cls.name}.{ast.unparse(node.target)}")
        assert undocumented == []

    def test_trailing_slash_and_health(self, tmp_path: Path) -> None:
        config = load_text(
            tmp_path,
            '[api]\ncasino = "http://127.0.0.1:9/casino/api/v1/"\nfaucet = "http://h/faucet"',
        )
        assert config.api.casino == "http://127.0.0.1:9/casino/api/v1"
        assert config.api.health_url("casino") == "http://127.0.0.1:9/casino/health"
        assert config.api.health_url("faucet") == "http://h/faucet/health"
        assert config.api.health_url("trading") == "https://trading.purpleflea.com/health"

    def test_relative_paths_from_config_folder(self, tmp_path: Path) -> None:
        config = load_text(
            tmp_path, '[store]\npath = "data/pf.db"\n[notify.log]\npath = "alerts.jsonl"'
        )
        assert config.store.path == tmp_path / "data" / "pf.db"
        assert config.notify.log.path == tmp_path / "alerts.jsonl"

    def test_money_is_decimal(self, tmp_path: Path) -> None:
        config = load_text(
            tmp_path,
            '[[agents]]\nid = "ag_0123456789ab"\ninitial_balance = 0.1\n'
            '[ui]\nmax_action_usd = "250.50"',
        )
        assert config.agents[0].initial_balance == Decimal("0.1")
        assert isinstance(config.agents[0].initial_balance, Decimal)
        assert config.ui.max_action_usd == Decimal("250.50")


class TestAlerts:
    def test_seed_defaults(self, tmp_path: Path) -> None:
        rules = {r.name: r for r in load_text(tmp_path, "").alerts.rules}
        assert list(rules) == list(DEFAULT_RULES)
        assert (
            rules["max_drawdown"].metric,
            rules["max_drawdown"].op,
            rules["max_drawdown"].threshold,
        ) == ("max_drawdown_pct", ">", Decimal("10"))
        assert (rules["low_balance"].op, rules["low_balance"].threshold) == ("<", Decimal("50"))
        assert rules["error_rate"].threshold == Decimal("5")
        assert rules["open_positions"].threshold == Decimal("20")

    def test_override_moves_clear_with_threshold(self, tmp_path: Path) -> None:
        rule = load_text(tmp_path, "[alerts.rules.drawdown]\nthreshold = 5").alerts.rule("drawdown")
        assert (rule.threshold, rule.clear_threshold, rule.severity) == (
            Decimal("5"),
            Decimal("5"),
            "critical",
        )

    def test_disable_and_new_rule(self, tmp_path: Path) -> None:
        text = (
            "[alerts.rules.open_positions]\nenabled = false\n"
            '[alerts.rules.stale]\nmetric = "stale_s"\nop = ">="\nthreshold = 300\nfor = "1h30m"\n'
            'repeat_interval = 0\nseverity = "info"'
        )
        alerts = load_text(tmp_path, text).alerts
        assert alerts.rule("open_positions").enabled is False
        stale = alerts.rule("stale")
        assert (stale.op, stale.for_s, stale.repeat_interval_s, stale.severity) == (
            ">=",
            5400.0,
            0.0,
            "info",
        )
        assert [r.name for r in alerts.rules][-1] == "stale"

    def test_hysteresis_as_the_engine_reads_it(self, tmp_path: Path) -> None:
        alerts = load_text(tmp_path, "").alerts
        rule = alerts.rule("low_balance")
        assert (rule.op, rule.threshold, rule.clear_threshold) == ("<", Decimal(50), Decimal(55))
        spec = next(r for r in rules_from_config(alerts)[0] if r.name == "low_balance")
        # (fires, clears) at each value: 50 does not fire, 52 does not clear yet, 55 does
        assert threshold_condition(spec, Decimal("49.99"))[:2] == (True, False)
        assert threshold_condition(spec, Decimal("50"))[:2] == (False, False)
        assert threshold_condition(spec, Decimal("52"))[:2] == (False, False)
        assert threshold_condition(spec, Decimal("55"))[:2] == (False, True)

    def test_silences(self, tmp_path: Path) -> None:
        text = (
            '[[alerts.silences]]\nmatcher = { rule = "low_balance", agent = "ag_01*" }\n'
            'expires = 2030-01-01T00:00:00+02:00\ncomment = "topping up"'
        )
        alerts = load_text(tmp_path, text).alerts
        (silence,) = alerts.silences
        assert silence.matcher == (("rule", "low_balance"), ("agent", "ag_01*"))
        assert silence.expires == datetime(2029, 12, 31, 22, tzinfo=UTC)
        assert silence.comment == "topping up"
        # the engine reads the matcher's `rule` as the alert's `alertname` label
        (muting,) = rules_from_config(alerts)[1]
        labels = {"alertname": "low_balance", "agent": "ag_0123456789ab", "severity": "warning"}
        assert muting.matches(labels)
        assert not muting.matches({**labels, "agent": "ag_ff23456789ab"})
        ends = silence.expires.timestamp()
        assert muting.active(ends - 1) and not muting.active(ends)

    @pytest.mark.parametrize(
        ("text", "seconds"),
        [
            ("90s", 90.0),
            ("5m", 300.0),
            ("1h30m", 5400.0),
            ("250ms", 0.25),
            ("2d", 172800.0),
            ("1.5h", 5400.0),
        ],
    )
    def test_durations(self, text: str, seconds: float) -> None:
        assert parse_duration(text) == seconds

    @pytest.mark.parametrize("text", ["", "5", "m5", "5 m", "1h 30m", "-5s", "5x"])
    def test_not_durations(self, text: str) -> None:
        assert parse_duration(text) is None


class TestHints:
    def test_close_match(self) -> None:
        assert did_you_mean("trding", ["casino", "trading"]) == "did you mean 'trading'?"

    def test_no_match_lists_choices(self) -> None:
        assert did_you_mean("zzz", ["a", "b"]) == "expected one of: a, b"

    @pytest.mark.parametrize(
        ("text", "hint"),
        [
            ("[ui]\nthem = 'x'", "did you mean 'theme'?"),
            ("[store]\nretention = 5", "did you mean 'retention_days'?"),
            ("[notify.telegram]\nchatid = 1", "did you mean 'chat_id'?"),
            (
                "[[agents]]\nid = 'ag_0123456789ab'\ntrading_key_fle = 'x'",
                "did you mean 'trading_key_file'?",
            ),
            ("[pollng]", "did you mean 'polling'?"),
        ],
    )
    def test_hints_in_messages(self, text: str, hint: str) -> None:
        with pytest.raises(ConfigError) as info:
            parse_config(text, env={})
        assert info.value.fix == hint


class TestDemo:
    def test_from_sim_agents(self) -> None:
        config = Config.demo("http://127.0.0.1:8800/", [SIM_AGENT])
        assert config.profile == "demo" and config.source is None
        assert config.api.casino == "http://127.0.0.1:8800/casino/api/v1"
        assert config.api.escrow == "http://127.0.0.1:8800/escrow"
        assert config.api.faucet == "http://127.0.0.1:8800/faucet"
        assert config.api.trading == "http://127.0.0.1:8800/trading/v1"
        assert config.api.wallet == "http://127.0.0.1:8800/wallet/v1"
        assert config.api.docs == "http://127.0.0.1:8800/api/v1"
        assert config.notify.telegram.api_base == "http://127.0.0.1:8800/telegram"
        (agent,) = config.agents
        assert (agent.id, agent.label, agent.strategy, agent.initial_balance) == (
            "ag_00000000000a",
            "atlas-trend-001",
            "trend",
            Decimal("1000"),
        )
        assert agent.casino_key is not None and agent.casino_key.reveal() == "sk_live_c"
        assert agent.casino_key.source == "demo"
        assert agent.wallet_key is not None and agent.wallet_key.reveal() == "pk_live_w"
        assert agent.base_address == "0x" + "1" * 40
        assert all(agent.polls(s) for s in SERVICES if s != "faucet")
        assert "sk_live_c" not in repr(config)
        assert len(config.alerts.rules) == len(DEFAULT_RULES)

    def test_string_balance_and_missing_keys(self) -> None:
        item = dict(SIM_AGENT, initial_balance="12.50", keys={"casino": "k"}, addresses={})
        (agent,) = Config.demo("http://127.0.0.1:1", [item]).agents
        assert agent.initial_balance == Decimal("12.50") and agent.trading_key is None
        assert agent.base_address is None

    @pytest.mark.parametrize(
        ("item", "key"),
        [
            (dict(SIM_AGENT, agent_id="bob"), "agents[0].agent_id"),
            (dict(SIM_AGENT, initial_balance=1.5), "agents[0].initial_balance"),
            (dict(SIM_AGENT, label="a\x1b[2Jb"), "agents[0].label"),
            (dict(SIM_AGENT, keys=["x"]), "agents[0]"),
            ("not an object", "agents[0]"),
        ],
    )
    def test_malformed_sim_reply(self, item: object, key: str) -> None:
        with pytest.raises(ConfigError) as info:
            Config.demo("http://127.0.0.1:1", [item])  # type: ignore[list-item]
        assert info.value.key == key and info.value.path == "GET /_sim/agents"

    def test_duplicate_agents(self) -> None:
        with pytest.raises(ConfigError, match="appears twice"):
            Config.demo("http://127.0.0.1:1", [SIM_AGENT, SIM_AGENT])
