"""deploy/systemd/pf-tui.service: clean under `systemd-analyze verify`, exposure at most 2.0, and
the daemon reads its keys from the credentials the unit loads."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from .tools import DEPLOY, need_tool

UNIT = DEPLOY / "systemd" / "pf-tui.service"
INSTALLED = "/usr/local/bin/pf-tui"


def _installed_copy(tmp_path: Path) -> Path:
    """The unit as installed, with ExecStart at this checkout's pf-tui (verify checks it exists)."""
    pf_tui = shutil.which("pf-tui") or str(Path(sys.executable).with_name("pf-tui"))
    unit = tmp_path / "pf-tui.service"
    unit.write_text(UNIT.read_text().replace(INSTALLED, pf_tui))
    return unit


def test_verify_prints_nothing(tmp_path: Path) -> None:
    """systemd-analyze verify warns with exit 0: any output at all is a finding."""
    analyze = need_tool("systemd-analyze", "systemd")
    done = subprocess.run(
        [analyze, "verify", str(_installed_copy(tmp_path))],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_security_exposure_at_most_2(tmp_path: Path) -> None:
    analyze = need_tool("systemd-analyze", "systemd")
    done = subprocess.run(
        [analyze, "security", "--offline=yes", str(_installed_copy(tmp_path))],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    match = re.search(r"Overall exposure level for pf-tui.service: (\d+\.\d+)", done.stdout)
    assert match, done.stdout + done.stderr
    assert float(match.group(1)) <= 2.0, done.stdout


def test_unit_shape() -> None:
    """The promises the README makes about the unit."""
    text = UNIT.read_text()
    for line in (
        "DynamicUser=yes", "StateDirectory=pf-tui", "ProtectSystem=strict", "UMask=0077",
        "NoNewPrivileges=yes", "CapabilityBoundingSet=",
        "LoadCredential=config.toml:/etc/pf-tui/config.toml",
    ):  # fmt: skip
        assert re.search(rf"^{re.escape(line)}$", text, re.M), line
    assert re.search(r"^ExecStart=\S+ --headless --config %d/config.toml ", text, re.M)
    assert "Environment=PF_" not in text  # keys never in the unit's environment
