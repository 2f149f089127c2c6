"""Only the TUI loads Textual or Rich, proven by importing everything else in a fresh interpreter.

The import-linter contracts in ``pyproject.toml`` check the finer boundaries, but they read
pf-tui's own import graph only: they cannot see a module that a third-party package imports on
pf-tui's behalf (httpx imports Rich through its command-line tool whenever Rich is installed,
which ``pf_tui/__init__.py`` switches off). This test looks at what a real interpreter loaded.

The module list comes from walking the package, so a module added, moved or renamed is checked
without anyone editing this file, and nothing here can skip.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pf_tui

FORBIDDEN = ("textual", "rich")
"""Only ``pf_tui.tui`` draws.

The daemon, the simulator, ``pf-tui check`` and ``pf-tui sim`` run on servers and in scripts where
a screen library buys nothing: Textual and Rich together are hundreds of modules, paid on every
start of ``--headless`` (the daemon's start-up is benchmarked), and a view model that reaches for
them cannot be tested or reused without a terminal. ``pf_tui.cli`` imports the app lazily, only
when the console itself is asked for, so it is checked here like the rest.
"""

TUI = "pf_tui.tui"
PACKAGE_DIR = Path(pf_tui.__file__).parent

# Runs in the fresh interpreter: import each module named on stdin, in order, and say which one
# first brought in each forbidden package (the first importer is the one to fix).
PROBE = """
import importlib, json, sys
forbidden, names = json.load(sys.stdin)
def loaded():
    return {m.partition(".")[0] for m in sys.modules} & set(forbidden)
first = {}
for name in names:
    before = loaded()
    importlib.import_module(name)
    for package in sorted(loaded() - before):
        first[package] = name
print(json.dumps(first))
"""


def _raise(name: str) -> None:
    # pkgutil.walk_packages skips a package whose __init__ fails to import unless told otherwise;
    # a package this test cannot list would go unchecked.
    raise ImportError(f"cannot walk {name}")


def checked(name: str) -> bool:
    """Whether FORBIDDEN applies to ``name``: all but the TUI and ``__main__`` (it runs the CLI)."""
    return name != TUI and not name.startswith(TUI + ".") and not name.endswith(".__main__")


def modules_outside_the_tui() -> list[str]:
    """Every module of ``pf_tui`` that :func:`checked` keeps, found by walking the package."""
    walked = pkgutil.walk_packages(pf_tui.__path__, prefix="pf_tui.", onerror=_raise)
    return [name for name in ["pf_tui", *(info.name for info in walked)] if checked(name)]


def module_name(path: Path) -> str:
    """The dotted name of a source file under the package directory."""
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_nothing_outside_the_tui_loads_textual_or_rich() -> None:
    names = modules_outside_the_tui()
    # A folder without __init__.py is not a package to pkgutil: its modules would drop out of
    # the check without a word.
    on_disk = {module_name(path) for path in PACKAGE_DIR.rglob("*.py")}
    unreached = sorted(name for name in on_disk - set(names) if checked(name))
    assert not unreached, f"not reachable as modules (a folder without __init__.py?): {unreached}"
    proc = subprocess.run(
        [sys.executable, "-c", PROBE],
        input=json.dumps([FORBIDDEN, names]),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"importing pf_tui's modules failed:\n{proc.stderr}"
    first = json.loads(proc.stdout)
    assert not first, "; ".join(
        f"{package} was loaded, first by {module}" for package, module in sorted(first.items())
    )


DEMO_START = ("pf_tui.cli", "pf_tui.demo", "pf_tui.sim.http.server", "pf_tui.daemon.embedded")
"""What ``pf-tui --demo`` imports before its first screen (beside the console itself)."""
NOT_BEFORE_FIRST_SCREEN = ("pf_tui.daemon.loop", "prometheus_client", "websockets")
"""The embedded daemon's own modules load in its thread after its start delay, and the
simulator serves no WebSocket: neither belongs on the demo's cold start (docs/performance.md)."""


def loaded_after(names: list[str], then: str = "") -> set[str]:
    """Every module a fresh interpreter holds after importing ``names`` and running ``then``."""
    probe = (
        "import importlib, json, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        f"{then}"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout))


def test_the_demo_start_leaves_the_daemon_and_websockets_for_later() -> None:
    loaded = loaded_after(
        list(DEMO_START),
        "from pf_tui.sim.http.server import SimServer\n"
        "with SimServer(agents=2) as sim:\n"
        "    pass\n",
    )
    assert "pf_tui.daemon.embedded" in loaded and "uvicorn" in loaded  # the probe ran
    early = [name for name in NOT_BEFORE_FIRST_SCREEN if name in loaded]
    assert not early, f"loaded before the demo's first screen: {early}"


CONSOLE_LATER = (
    "aiohttp",
    "httpx",
    "yarl",
    "pf_tui.core.alerts.engine",
    "pf_tui.core.notify.receivers",
)
"""What the console's own modules do without: the HTTP stack, yarl's URLs included (its polls
take the http1 path, and it warms the stack in the background after mount) and the alert engine
and its receivers (it never evaluates rules: it reads the daemon's rows, dead letters included)."""


def test_the_console_imports_neither_the_http_stack_nor_the_alert_engine() -> None:
    loaded = loaded_after([*DEMO_START, "pf_tui.tui.app"])
    assert "pf_tui.tui.app" in loaded and "textual" in loaded  # the probe ran
    early = [name for name in CONSOLE_LATER if name in loaded]
    assert not early, f"the console's modules loaded: {early}"
