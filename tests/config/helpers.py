"""Shared helpers for the config tests: write a private config file and load it."""

from __future__ import annotations

import os
from pathlib import Path

from pf_tui.config import Config, load_config

AGENT = 'id = "ag_0123456789ab"\n'


def write_config(
    tmp_path: Path, text: str, *, mode: int = 0o600, name: str = "config.toml"
) -> Path:
    """``text`` as a config file with ``mode`` (exactly, whatever the umask)."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)
    return path


def load_text(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Config:
    """Write and load ``text`` with ``env`` as the whole environment."""
    return load_config(write_config(tmp_path, text), env=env or {})
