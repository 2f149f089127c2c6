"""Config path resolution, first run, `pf-tui init`, the state file and the example config."""

from __future__ import annotations

import os
import re
import stat
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from pf_tui.config import (
    SCHEMA,
    ConfigError,
    MissingConfigError,
    default_config_path,
    example_config_text,
    load_config,
    load_state,
    parse_config,
    resolve_config_path,
    save_state,
    state_path_for,
    write_starter_config,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_ENV = {
    "PF_CASINO_KEY_1": "a",
    "PF_TRADING_KEY_1": "b",
    "PF_WALLET_KEY_1": "c",
    "PF_CASINO_KEY_2": "d",
}


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class TestResolvePath:
    def test_cli_wins_over_env(self, tmp_path: Path) -> None:
        env = {"PF_TUI_CONFIG": str(tmp_path / "env.toml")}
        assert resolve_config_path(str(tmp_path / "cli.toml"), env=env) == tmp_path / "cli.toml"

    def test_env_over_default(self, tmp_path: Path) -> None:
        assert (
            resolve_config_path(None, env={"PF_TUI_CONFIG": str(tmp_path / "e.toml")})
            == tmp_path / "e.toml"
        )

    def test_default_from_platformdirs(self) -> None:
        path = resolve_config_path(None, env={"PF_TUI_CONFIG": "  "})
        assert path == default_config_path()
        assert path.name == "config.toml" and path.parent.name == "pf-tui"

    def test_reads_os_environ(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PF_TUI_CONFIG", str(tmp_path / "x.toml"))
        assert resolve_config_path(None) == tmp_path / "x.toml"

    def test_tilde(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        monkeypatch.setenv("HOME", str(tmp_path))
        assert resolve_config_path("~/c.toml") == tmp_path / "c.toml"

    def test_state_beside_config(self, tmp_path: Path) -> None:
        assert state_path_for(tmp_path / "config.toml") == tmp_path / "state.toml"
        assert state_path_for(tmp_path / "prod.toml") == tmp_path / "prod.state.toml"


def test_first_run_message(tmp_path: Path) -> None:
    path = tmp_path / "none" / "config.toml"
    with pytest.raises(MissingConfigError) as info:
        load_config(path)
    assert isinstance(info.value, ConfigError)
    assert str(info.value) == (
        f"no config at {path}; run `pf-tui init` to write one, or `pf-tui --demo` to try it "
        "against the simulator"
    )


class TestStarterConfig:
    def test_writes_example_0600_in_0700_dirs(self, tmp_path: Path) -> None:
        path = tmp_path / "a" / "b" / "config.toml"
        assert write_starter_config(path) == path
        assert mode_of(path) == 0o600
        assert mode_of(path.parent) == 0o700 and mode_of(path.parent.parent) == 0o700
        assert path.read_text(encoding="utf-8") == example_config_text()
        assert "# Profile name" in path.read_text(encoding="utf-8")  # comments kept

    def test_mode_exact_under_open_umask(self, tmp_path: Path) -> None:
        old = os.umask(0)
        try:
            path = write_starter_config(tmp_path / "config.toml")
        finally:
            os.umask(old)
        assert mode_of(path) == 0o600

    def test_refuses_overwrite(self, tmp_path: Path) -> None:
        path = tmp_path / "config.toml"
        path.write_text("mine = 1\n")
        with pytest.raises(ConfigError) as info:
            write_starter_config(path)
        assert (
            str(info.value)
            == f"{path}: already exists; edit it, or run `pf-tui init --force` to replace it"
        )
        assert path.read_text() == "mine = 1\n"

    def test_force_replaces(self, tmp_path: Path) -> None:
        path = tmp_path / "config.toml"
        path.write_text("mine = 1\n")
        os.chmod(path, 0o644)
        write_starter_config(path, force=True)
        assert path.read_text(encoding="utf-8") == example_config_text()
        assert mode_of(path) == 0o600
        assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]  # no temp file left

    def test_written_config_loads(self, tmp_path: Path) -> None:
        config = load_config(write_starter_config(tmp_path / "config.toml"), env=EXAMPLE_ENV)
        assert [a.id for a in config.agents] == ["ag_0123456789ab", "ag_fedcba987654"]
        assert config.state_path == tmp_path / "state.toml"


class TestState:
    def test_round_trip(self, tmp_path: Path) -> None:
        path = tmp_path / "state" / "state.toml"
        state = {
            "theme": "nord",
            "positions": {"sort": "pnl", "reverse": True, "filter": "ag_0*"},
            "fleet": {"columns": ["id", "balance"], "min_balance": Decimal("12.50")},
            "silences": [
                {
                    "matcher": {"rule": "low_balance"},
                    "expires": datetime(2030, 1, 1, tzinfo=UTC),
                }
            ],
        }
        save_state(path, state)
        assert mode_of(path) == 0o600
        assert load_state(path) == state

    def test_replace_is_atomic_and_private(self, tmp_path: Path) -> None:
        path = tmp_path / "state.toml"
        save_state(path, {"a": 1})
        os.chmod(path, 0o644)
        save_state(path, {"a": 2})
        assert load_state(path) == {"a": 2} and mode_of(path) == 0o600
        assert sorted(p.name for p in tmp_path.iterdir()) == ["state.toml"]

    def test_unserialisable_writes_nothing(self, tmp_path: Path) -> None:
        path = tmp_path / "state.toml"
        save_state(path, {"a": 1})
        with pytest.raises(TypeError):
            save_state(path, {"a": object()})
        assert load_state(path) == {"a": 1}

    def test_missing_is_empty(self, tmp_path: Path) -> None:
        assert load_state(tmp_path / "nope.toml") == {}

    def test_corrupt_moved_aside(self, tmp_path: Path) -> None:
        path = tmp_path / "state.toml"
        path.write_text("theme = \n")
        assert load_state(path) == {}
        assert (tmp_path / "state.toml.corrupt").read_text() == "theme = \n"
        assert not path.exists()


class TestExample:
    def test_packaged_and_top_level_identical(self) -> None:
        packaged = REPO / "pf_tui" / "config.example.toml"
        assert packaged.read_bytes() == (REPO / "config.example.toml").read_bytes()
        assert example_config_text() == packaged.read_text(encoding="utf-8")

    def test_valid_with_its_env(self) -> None:
        config = parse_config(example_config_text(), env=EXAMPLE_ENV)
        assert config.profile == "default"
        assert (
            config.agents[0].casino_key is not None
            and config.agents[0].casino_key.source == "env:PF_CASINO_KEY_1"
        )
        assert config.agents[1].initial_balance == Decimal("50.00")
        assert {r.name for r in config.alerts.rules} >= {
            "max_drawdown",
            "low_balance",
            "error_rate",
            "open_positions",
        }

    def test_needs_its_env(self) -> None:
        with pytest.raises(ConfigError, match="PF_CASINO_KEY_1 is not set"):
            parse_config(example_config_text(), env={})

    def test_no_real_secrets(self) -> None:
        text = example_config_text()
        assert not re.search(r"(sk_live_|sk_trade_|pk_live_)[0-9a-f]{8,}", text)
        assert not re.search(
            r"^\s*(casino|trading|wallet)_key\s*=", text, re.M
        )  # inline keys only in comments
        assert not re.search(r"^\s*(token|url)\s*=", text, re.M)

    def test_every_schema_key_documented(self) -> None:
        """Walk SCHEMA: every key appears (set or commented out) in its section, after a comment."""
        found: dict[str, set[str]] = {}
        section = ""
        for raw in example_config_text().splitlines():
            line = raw.lstrip("# ").rstrip()
            header = re.fullmatch(r"\[\[?([A-Za-z0-9_.\-]+)\]?\]", line)
            if header:
                section = header[1]
                parts = section.split(".")
                for i in range(len(parts)):  # a header also documents its parents' table keys
                    found.setdefault(".".join(parts[:i]), set()).add(parts[i])
                continue
            key = re.match(r"([A-Za-z0-9_]+)\s*=", line)
            if key:
                found.setdefault(section, set()).add(key[1])
                for inner in re.findall(r"([A-Za-z0-9_]+)\s*=", line.split("=", 1)[1]):
                    found.setdefault(section + "." + key[1], set()).add(inner)

        def documented(pattern: str) -> set[str]:
            if pattern == "agents[]":
                return found.get("agents", set())
            if pattern == "alerts.rules.*":
                names = [s for s in found if s.startswith("alerts.rules.") and s.count(".") == 2]
                return set().union(*(found[n] for n in names))
            return found.get(pattern.replace("[]", ""), set())

        missing = [f"{p}.{k}" for p, keys in SCHEMA.items() for k in keys if k not in documented(p)]
        assert missing == []
