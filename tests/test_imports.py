"""The core never imports Textual or Rich (STYLE.md convention 1), proven in a fresh interpreter."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

CORE_MODULES = [
    "pf_tui.usd",
    "pf_tui.secret",
    "pf_tui.clock",
    "pf_tui.config",
    "pf_tui.api",
    "pf_tui.api.client",
    "pf_tui.sim",
    "pf_tui.sim.http.app",
    "pf_tui.sim.http.server",
    "pf_tui.core",
    "pf_tui.core.polling.poller",
    "pf_tui.core.fleet.state",
    "pf_tui.core.fleet.derived",
    "pf_tui.core.store.db",
    "pf_tui.core.alerts.engine",
    "pf_tui.core.notify.outbox",
    "pf_tui.core.money.engine",
    "pf_tui.daemon.loop",
    "pf_tui.cli",
]


def _present(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_imports_without_textual_or_rich(module: str) -> None:
    if not _present(module):
        pytest.skip(f"{module} is not built yet")
    code = (
        "import sys, importlib\n"
        f"importlib.import_module({module!r})\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "", f"{module} pulled in {result.stdout.strip()}"
