"""``pf-tui check``: validate the config, show where each secret comes from, probe each service.

Exit codes: 0 all good; 2 the config is invalid (its one-line error is printed); 1 the config is
valid but a service did not answer. Secrets are shown by source only (``env:PF_CASINO_KEY_1``,
``file:/run/secrets/x``, ``config``), never by value. Reachability is ``GET /health`` at each
service's root with plain httpx (any HTTP status counts as reachable: the host answered).
"""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TextIO

import httpx

from pf_tui.config import (
    SERVICES,
    AgentConfig,
    Config,
    ConfigError,
    load_config,
    resolve_config_path,
)
from pf_tui.secret import Secret
from pf_tui.text import one_line

EXIT_OK = 0
EXIT_UNREACHABLE = 1
EXIT_CONFIG = 2


def _mode(path: Path) -> str:
    """``mode 0600`` of the file ``path`` resolves to (or why it cannot be read)."""
    try:
        return f"mode {stat.S_IMODE(os.stat(os.path.realpath(path)).st_mode):04o}"
    except OSError as exc:
        return f"mode unknown ({exc.strerror})"


def describe_secret(secret: Secret | None) -> str:
    """Where a secret comes from, with the key file's mode; never the value."""
    if secret is None:
        return "not configured (not polled)"
    if secret.source.startswith("file:"):
        return f"{secret.source} ({_mode(Path(secret.source[5:]))})"
    return secret.source


def _agent_lines(agent: AgentConfig) -> list[str]:
    name = f" ({agent.label})" if agent.label else ""
    lines = [f"  {agent.id}{name}"]
    casino = describe_secret(agent.casino_key)
    lines.append(
        f"    casino: {casino}"
        + ("; escrow uses it" if agent.casino_key else "; escrow not polled either")
    )
    lines.append(f"    trading: {describe_secret(agent.trading_key)}")
    wallet = describe_secret(agent.wallet_key)
    if agent.wallet_key is not None and not agent.polls("wallet"):
        wallet += "; no base_address or solana_address, so on-chain USDC is not polled"
    lines.append(f"    wallet: {wallet}")
    return lines


def _notify_lines(config: Config) -> list[str]:
    tg, wh, lg = config.notify.telegram, config.notify.webhook, config.notify.log
    lines = ["notify:"]
    if tg.enabled:
        lines.append(
            f"  telegram: enabled, chat {tg.chat_id}, "
            f"token from {describe_secret(tg.token)}, api {tg.api_base}"
        )
    else:
        lines.append("  telegram: disabled")
    if wh.enabled:
        lines.append(
            f"  webhook: enabled, URL from {describe_secret(wh.url)} "
            "(not probed: the URL is a secret)"
        )
    else:
        lines.append("  webhook: disabled")
    lines.append(f"  log: {lg.path}" if lg.path is not None else "  log: off")
    return lines


def probe(client: httpx.Client, url: str, timeout: float) -> tuple[bool, str]:
    """``(reachable, what happened)`` for one ``GET url``."""
    try:
        reply = client.get(url)
    except httpx.TimeoutException:
        return False, f"unreachable: no answer within {timeout:g} s"
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        return False, f"unreachable: {reason}"
    return True, f"reachable (HTTP {reply.status_code})"


def check_services(config: Config, *, timeout: float = 3.0) -> list[tuple[str, str, bool, str]]:
    """``(name, url, reachable, what happened)`` for each service base, and Telegram if enabled."""
    targets = [(service, config.api.health_url(service)) for service in SERVICES]
    if config.notify.telegram.enabled:
        targets.append(("telegram", config.notify.telegram.api_base))
    with (
        httpx.Client(timeout=timeout, follow_redirects=False) as client,
        ThreadPoolExecutor(len(targets)) as pool,
    ):
        results = list(pool.map(lambda t: probe(client, t[1], timeout), targets))
    return [(name, url, ok, what) for (name, url), (ok, what) in zip(targets, results, strict=True)]


def run_check(config_path: Path | None, out: TextIO, *, timeout: float = 3.0) -> int:
    """Check the config at ``config_path`` (``None``: the usual lookup); report to ``out``.

    Returns 0 when the config is valid and every service answered, 1 when one did not, 2 when
    the config is invalid or missing.
    """
    path = config_path if config_path is not None else resolve_config_path(None)

    def say(line: str) -> None:
        out.write(one_line(line, limit=1000) + "\n")

    try:
        config = load_config(path)
    except ConfigError as exc:
        say(f"error: {exc}")
        return EXIT_CONFIG
    say(f"config: {path} ({_mode(path)}, private: ok)")
    say(f"profile: {config.profile}")
    say(f"state file: {config.state_path}")
    say(f"store: {config.store.path} (retention {config.store.retention_days} days)")
    say(f"agents: {len(config.agents)}")
    for agent in config.agents:
        for line in _agent_lines(agent):
            say(line)
    for line in _notify_lines(config):
        say(line)
    say(f"services (GET /health, timeout {timeout:g} s):")
    results = check_services(config, timeout=timeout)
    width = max(len(name) for name, *_ in results)
    for name, url, _ok, what in results:
        say(f"  {name:<{width}}  {url}  {what}")
    down = [name for name, _url, ok, _what in results if not ok]
    if down:
        say(f"result: config ok; unreachable: {', '.join(down)}")
        return EXIT_UNREACHABLE
    say("result: ok")
    return EXIT_OK
