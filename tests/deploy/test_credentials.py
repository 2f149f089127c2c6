"""Keys through systemd credentials: `<name>_credential` is `$CREDENTIALS_DIRECTORY/<name>`."""

from __future__ import annotations

from pathlib import Path

import pytest

from pf_tui.config import ConfigError
from tests.config.helpers import load_text

KEY = "sk_live_" + "c" * 48
AGENT = """
[[agents]]
id = "ag_0123456789ab"
casino_key_credential = "agent-1-casino"
"""


def _credentials(tmp_path: Path, mode: int = 0o400) -> Path:
    folder = tmp_path / "credentials"
    folder.mkdir(mode=0o700)
    key = folder / "agent-1-casino"
    key.write_text(KEY + "\n")
    key.chmod(mode)
    return folder


def test_key_from_the_credentials_directory(tmp_path: Path) -> None:
    folder = _credentials(tmp_path)
    config = load_text(tmp_path, AGENT, env={"CREDENTIALS_DIRECTORY": str(folder)})
    key = config.agents[0].casino_key
    assert key is not None and key.reveal() == KEY
    assert key.source == "credential:agent-1-casino" and KEY not in repr(config)


@pytest.mark.parametrize(
    ("env", "name", "message"),
    [
        ({}, "agent-1-casino", "$CREDENTIALS_DIRECTORY is not set; run pf-tui under systemd"),
        (None, "../agent-1-casino", "is not a credential name"),
        (None, "missing", "does not exist"),
    ],
)
def test_credential_errors(
    tmp_path: Path, env: dict[str, str] | None, name: str, message: str
) -> None:
    folder = _credentials(tmp_path)
    environment = {"CREDENTIALS_DIRECTORY": str(folder)} if env is None else env
    with pytest.raises(ConfigError, match=message.replace("$", r"\$")) as info:
        load_text(tmp_path, AGENT.replace("agent-1-casino", name), env=environment)
    assert KEY not in str(info.value)


def test_an_exposed_credential_file_is_refused(tmp_path: Path) -> None:
    folder = _credentials(tmp_path, mode=0o644)
    with pytest.raises(ConfigError, match="group or others can read it"):
        load_text(tmp_path, AGENT, env={"CREDENTIALS_DIRECTORY": str(folder)})
