"""Finding the real tools the deploy tests drive (promtool, amtool, systemd-analyze, ...).

``.ci/run`` installs every one of them from Debian; on a developer's machine a missing tool
skips the test that needs it, saying which package brings it. Under CI (``CI=true``) a missing
tool fails instead, so a broken install step cannot turn these tests into silent skips.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"


def need_tool(name: str, package: str) -> str:
    """The path of ``name``; skip (or, under CI, fail) when it is not installed."""
    path = shutil.which(name)
    if path is not None:
        return path
    message = f"{name} is not installed (Debian package {package}; .ci/run installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)
