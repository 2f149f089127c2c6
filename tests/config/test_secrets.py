"""Secrets from env, files (including Kubernetes Secret mounts) and inline; modes; no leaks."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from pf_tui.config import ConfigError, load_config

from .helpers import AGENT, load_text, write_config

A = "[[agents]]\n" + AGENT
CANARY = "sk_live_CANARY0123456789abcdef"


def key_file(folder: Path, name: str, content: str, mode: int) -> Path:
    path = folder / name
    path.write_text(content, encoding="utf-8")
    os.chmod(path, mode)
    return path


def k8s_mount(root: Path, content: str, mode: int) -> Path:
    """A Kubernetes Secret volume: key -> ..data/key, ..data -> ..2024_01_01_00_00_00.1/."""
    versioned = root / "..2024_01_01_00_00_00.1"
    versioned.mkdir(parents=True)
    key_file(versioned, "casino", content, mode)
    (root / "..data").symlink_to(versioned.name)
    (root / "casino").symlink_to("..data/casino")
    return root / "casino"


class TestSources:
    def test_env(self, tmp_path: Path) -> None:
        config = load_text(tmp_path, A + 'casino_key_env = "PF_C"', env={"PF_C": CANARY})
        key = config.agents[0].casino_key
        assert key is not None and key.reveal() == CANARY and key.source == "env:PF_C"

    def test_file_strips_one_newline(self, tmp_path: Path) -> None:
        key_file(tmp_path, "casino.key", CANARY + "\n", 0o600)
        config = load_text(tmp_path, A + 'casino_key_file = "casino.key"')
        key = config.agents[0].casino_key
        assert key is not None and key.reveal() == CANARY
        assert key.source == f"file:{tmp_path / 'casino.key'}"

    def test_file_crlf(self, tmp_path: Path) -> None:
        key_file(tmp_path, "k", CANARY + "\r\n", 0o400)
        key = load_text(tmp_path, A + 'trading_key_file = "k"').agents[0].trading_key
        assert key is not None and key.reveal() == CANARY

    def test_file_two_newlines_refused(self, tmp_path: Path) -> None:
        key_file(tmp_path, "k", CANARY + "\n\n", 0o600)
        with pytest.raises(
            ConfigError, match="line break, a control character or surrounding spaces"
        ) as info:
            load_text(tmp_path, A + 'casino_key_file = "k"')
        assert CANARY not in str(info.value)

    def test_inline(self, tmp_path: Path) -> None:
        key = load_text(tmp_path, A + f'wallet_key = "{CANARY}"').agents[0].wallet_key
        assert key is not None and key.reveal() == CANARY and key.source == "config"

    def test_missing_key_means_not_polled(self, tmp_path: Path) -> None:
        agent = load_text(tmp_path, A + 'casino_key_env = "PF_C"', env={"PF_C": "x"}).agents[0]
        assert agent.polls("casino") and agent.polls("escrow")
        assert not agent.polls("trading") and not agent.polls("wallet")
        assert agent.key_for("escrow") is agent.casino_key

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError) as info:
            load_text(tmp_path, A + 'casino_key_file = "/nonexistent/k"')
        assert str(info.value).endswith(
            "agents[0].casino_key_file: /nonexistent/k does not exist; "
            "create it with mode 600, or fix the path"
        )

    def test_disabled_notifier_env_not_required(self, tmp_path: Path) -> None:
        config = load_text(tmp_path, '[notify.telegram]\ntoken_env = "PF_NOPE"\n')
        assert config.notify.telegram.token is None

    def test_enabled_notifier_secrets(self, tmp_path: Path) -> None:
        text = (
            '[notify.telegram]\nenabled = true\ntoken_env = "PF_T"\nchat_id = -100\n'
            '[notify.webhook]\nenabled = true\nurl_env = "PF_W"\n'
        )
        config = load_text(
            tmp_path, text, env={"PF_T": "123:abc", "PF_W": "https://h.example/x?t=1"}
        )
        assert (
            config.notify.telegram.token is not None
            and config.notify.telegram.token.source == "env:PF_T"
        )
        assert config.notify.telegram.chat_id == "-100"
        assert (
            config.notify.webhook.url is not None
            and config.notify.webhook.url.reveal() == "https://h.example/x?t=1"
        )


ACCEPTED = [0o600, 0o400]
REFUSED = [0o640, 0o644, 0o604, 0o660, 0o606]


class TestModes:
    @pytest.mark.parametrize("mode", ACCEPTED)
    def test_config_accepted(self, tmp_path: Path, mode: int) -> None:
        assert (
            load_config(write_config(tmp_path, 'profile = "p"\n', mode=mode), env={}).profile == "p"
        )

    @pytest.mark.parametrize("mode", REFUSED)
    def test_config_refused(self, tmp_path: Path, mode: int) -> None:
        path = write_config(tmp_path, 'profile = "p"\n', mode=mode)
        with pytest.raises(ConfigError) as info:
            load_config(path, env={})
        assert str(info.value) == (
            f"{path}: {path} has mode {mode:04o}: group or others can read it; "
            f"run chmod 600 {path} (a Kubernetes Secret volume: set defaultMode: 0400)"
        )

    @pytest.mark.parametrize("mode", ACCEPTED)
    def test_key_file_accepted(self, tmp_path: Path, mode: int) -> None:
        key_file(tmp_path, "k", CANARY, mode)
        assert load_text(tmp_path, A + 'casino_key_file = "k"').agents[0].casino_key is not None

    @pytest.mark.parametrize("mode", REFUSED)
    def test_key_file_refused(self, tmp_path: Path, mode: int) -> None:
        path = key_file(tmp_path, "k", CANARY, mode)
        with pytest.raises(ConfigError) as info:
            load_text(tmp_path, A + 'casino_key_file = "k"')
        assert str(info.value) == (
            f"{tmp_path / 'config.toml'}: agents[0].casino_key_file: {path} has mode {mode:04o}: "
            f"group or others can read it; run chmod 600 {path} "
            "(a Kubernetes Secret volume: set defaultMode: 0400)"
        )
        assert CANARY not in str(info.value)

    @pytest.mark.parametrize("mode", ACCEPTED)
    def test_kubernetes_mount_accepted(self, tmp_path: Path, mode: int) -> None:
        link = k8s_mount(tmp_path / "secrets", CANARY + "\n", mode)
        assert os.lstat(link).st_mode & 0o777 == 0o777  # the link itself is always open
        config = load_text(tmp_path, A + f'casino_key_file = "{link}"')
        key = config.agents[0].casino_key
        assert key is not None and key.reveal() == CANARY and key.source == f"file:{link}"

    @pytest.mark.parametrize("mode", REFUSED)
    def test_kubernetes_mount_refused_names_resolved_file(self, tmp_path: Path, mode: int) -> None:
        link = k8s_mount(tmp_path / "secrets", CANARY, mode)
        real = Path(os.path.realpath(link))
        with pytest.raises(ConfigError) as info:
            load_text(tmp_path, A + f'casino_key_file = "{link}"')
        assert f"{link} (resolved to {real}) has mode {mode:04o}" in str(info.value)
        assert f"run chmod 600 {real}" in str(info.value)


class TestNoLeaks:
    def test_repr_and_str_of_config(self, tmp_path: Path) -> None:
        key_file(tmp_path, "k", CANARY, 0o600)
        text = (
            A + 'casino_key_file = "k"\ntrading_key_env = "PF_T"\nwallet_key = "' + CANARY + '"\n'
            '[notify.telegram]\nenabled = true\ntoken = "' + CANARY + '"\nchat_id = 1\n'
            '[notify.webhook]\nenabled = true\nurl = "https://x.example/' + CANARY + '"\n'
        )
        config = load_text(tmp_path, text, env={"PF_T": CANARY})
        for shown in (
            repr(config),
            str(config),
            f"{config}",
            repr(config.agents),
            repr(config.notify),
        ):
            assert CANARY not in shown
        assert (
            config.agents[0].trading_key is not None
            and config.agents[0].trading_key.reveal() == CANARY
        )

    def test_logs(self, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.DEBUG)
        key_file(tmp_path, "k", CANARY, 0o600)
        load_text(
            tmp_path, A + 'casino_key_file = "k"\ntrading_key_env = "PF_T"\n', env={"PF_T": CANARY}
        )
        assert "casino_key from file:" in caplog.text  # it did log, by source
        assert CANARY not in caplog.text

    @pytest.mark.parametrize(
        "text",
        [
            A + f'casino_kee = "{CANARY}"',  # unknown key holding a secret
            A + f'casino_key = "{CANARY}\\n"',  # control character inside
            A + f'casino_key = " {CANARY}"',  # surrounding space
            A + f'casino_key = "{CANARY}"\ncasino_key_env = "PF_T"',  # two sources
            A + f'casino_key = "{CANARY}"\n[api]\ntimeout = -1',  # a later, unrelated error
            f'[notify.webhook]\nenabled = true\nurl = "ftp://{CANARY}"',
            f'[notify.telegram]\nenabled = true\ntoken = "{CANARY}"\nchat_id = true',
        ],
    )
    def test_error_messages(self, tmp_path: Path, text: str) -> None:
        with pytest.raises(ConfigError) as info:
            load_text(tmp_path, text, env={"PF_T": CANARY})
        assert CANARY not in str(info.value)
        assert CANARY not in repr(info.value)
