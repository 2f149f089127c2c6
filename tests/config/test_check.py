"""`pf-tui check` against the simulator over 127.0.0.1: sources, modes, reachability, exit codes."""

from __future__ import annotations

import io
import os
import socket
from pathlib import Path

import httpx
import pytest

from pf_tui.check import run_check
from pf_tui.config import SERVICES, SIM_MOUNTS, Config
from pf_tui.demo import fetch_demo_agents

from .helpers import write_config

CANARY = "sk_live_CHECKCANARY42"


def api_section(url: str) -> str:
    return "[api]\n" + "".join(f'{name} = "{url}{mount}"\n' for name, mount in SIM_MOUNTS.items())


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def agents_section(tmp_path: Path) -> str:
    key = tmp_path / "trading.key"
    key.write_text(CANARY + "\n")
    os.chmod(key, 0o400)
    return (
        '[[agents]]\nid = "ag_0123456789ab"\nlabel = "alpha"\ncasino_key_env = "PF_CHECK_CASINO"\n'
        f'trading_key_file = "{key}"\nwallet_key = "{CANARY}"\n'
        '[[agents]]\nid = "ag_fedcba987654"\n'
    )


def check(path: Path | None, **kw: float) -> tuple[int, str]:
    out = io.StringIO()
    code = run_check(path, out, **kw)
    return code, out.getvalue()


def test_all_reachable(tmp_path: Path, sim_server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PF_CHECK_CASINO", CANARY)
    path = write_config(tmp_path, api_section(sim_server.url) + agents_section(tmp_path))
    code, text = check(path)
    assert code == 0, text
    assert f"config: {path} (mode 0600, private: ok)" in text
    assert "  ag_0123456789ab (alpha)\n    casino: env:PF_CHECK_CASINO; escrow uses it\n" in text
    assert f"    trading: file:{tmp_path / 'trading.key'} (mode 0400)\n" in text
    assert (
        "    wallet: config; no base_address or solana_address, so on-chain USDC is not polled\n"
        in text
    )
    assert (
        "  ag_fedcba987654\n    casino: not configured (not polled); escrow not polled either\n"
        in text
    )
    for service in ("casino", "escrow", "faucet", "trading", "wallet"):
        root = SIM_MOUNTS[service].removesuffix("/api/v1").removesuffix("/v1")
        assert f"{sim_server.url}{root}/health  reachable (HTTP 200)" in text
    assert f"{sim_server.url}/health  reachable (HTTP" in text  # docs: any HTTP answer counts
    assert text.endswith("result: ok\n")
    assert CANARY not in text


def test_unreachable_service_exits_1(tmp_path: Path, sim_server) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    text = api_section(sim_server.url).replace(f'trading = "{sim_server.url}', f'trading = "{dead}')
    code, out = check(write_config(tmp_path, text))
    assert code == 1
    assert f"  trading  {dead}/trading/health  unreachable: " in out
    assert out.endswith("result: config ok; unreachable: trading\n")


def test_timeout_is_unreachable(tmp_path: Path) -> None:
    # A listening socket that never accepts: the connection opens, no reply ever comes.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        silent = f"http://127.0.0.1:{sock.getsockname()[1]}"
        code, out = check(write_config(tmp_path, api_section(silent)), timeout=0.3)
    assert code == 1
    assert "unreachable: no answer within 0.3 s" in out
    assert out.endswith("unreachable: " + ", ".join(SERVICES) + "\n")


def test_bad_config_exits_2(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[polling]\nbalence = 1\n")
    code, out = check(path)
    assert code == 2
    assert out == f"error: {path}: polling.balence: unknown key; did you mean 'balance'?\n"


def test_open_mode_exits_2(tmp_path: Path) -> None:
    path = write_config(tmp_path, "", mode=0o644)
    code, out = check(path)
    assert code == 2 and f"has mode 0644: group or others can read it; run chmod 600 {path}" in out


def test_missing_config_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PF_TUI_CONFIG", str(tmp_path / "nope.toml"))
    code, out = check(None)
    assert code == 2 and out.startswith(
        f"error: no config at {tmp_path / 'nope.toml'}; run `pf-tui init`"
    )


def test_secret_errors_do_not_leak(tmp_path: Path) -> None:
    text = f'[[agents]]\nid = "ag_0123456789ab"\ncasino_key = "{CANARY}"\ncasino_key_env = "X"\n'
    code, out = check(write_config(tmp_path, text))
    assert code == 2 and CANARY not in out


def test_demo_config_against_sim(sim_server) -> None:
    agents = fetch_demo_agents(sim_server.url)
    config = Config.demo(sim_server.url, agents)
    assert len(config.agents) == len(agents) > 0
    agent = config.agents[0]
    assert agent.casino_key is not None
    reply = httpx.get(
        f"{config.api.casino}/auth/balance",
        headers={"Authorization": f"Bearer {agent.casino_key.reveal()}"},
        timeout=5,
    )
    assert reply.status_code == 200 and reply.json()["agent_id"] == agent.id
