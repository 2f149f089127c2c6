"""Shared fixtures: the simulator in-process (``sim_app``) and on a real loopback port
(``sim_server``); and the check that a run leaves no ``pf-tui*`` folder in the temp dir."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path

# Before pf_tui is imported: the run's dataclass code cache (pf_tui/dataclass_code.py) is kept
# apart from the developer's own, which holds only what pf-tui itself defines.
os.environ.setdefault(
    "PF_TUI_DATACLASS_CACHE",
    str(Path(tempfile.gettempdir()) / f"pytest-pf-tui-dataclass-code-{os.getuid()}"),
)

import httpx
import pytest
from hypothesis import HealthCheck, settings
from starlette.applications import Starlette

from pf_tui.sim.http.app import create_app
from pf_tui.sim.http.server import SimServer

settings.register_profile(
    "ci",
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=False,
)
settings.register_profile(
    "thorough", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

SIM_SEED = 7
SIM_AGENTS = 8


def asgi_client(
    app: Starlette, *, client_ip: str = "127.0.0.1", **kwargs: object
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` that talks to ``app`` in-process (no socket), base URL ``http://sim``."""
    transport = httpx.ASGITransport(app=app, client=(client_ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://sim", **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def sim_app() -> Starlette:
    """The simulator app in-process: seed 7, 8 demo agents, motion off (clock paused)."""
    return create_app(seed=SIM_SEED, agents=SIM_AGENTS, motion=False)


@pytest.fixture
async def sim_client(sim_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client bound to ``sim_app``."""
    async with asgi_client(sim_app) as client:
        yield client


@pytest.fixture(scope="session")
def _sim_server_session() -> Iterator[SimServer]:
    server = SimServer(host="127.0.0.1", port=0, seed=SIM_SEED, agents=SIM_AGENTS, motion=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sim_server(_sim_server_session: SimServer) -> SimServer:
    """The simulator served by uvicorn on 127.0.0.1 (``.url``, ``.sim``), reset before each test."""
    response = httpx.post(f"{_sim_server_session.url}/_sim/reset", timeout=10)
    response.raise_for_status()
    return _sim_server_session


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The `slow` set (1,000 actions, kill loops) gets a longer per-test timeout than the rest;
    a `starts_first` test (the 5-minute soak) is handed to a worker first, so the other files run
    beside it rather than after it (xdist's loadfile deals files out in collection order)."""
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(600))
    items.sort(key=lambda item: item.get_closest_marker("starts_first") is None)


@pytest.fixture(autouse=True)
def _restore_pf_tui_logger() -> Iterator[None]:
    """The daemon's setup_logging takes over the ``pf_tui`` logger (its own handler, no
    propagation); put it back after each test so later tests' ``caplog`` still sees records."""
    logger = logging.getLogger("pf_tui")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers, logger.level, logger.propagate = saved[0], saved[1], saved[2]


# --- a run leaves no temp folders behind --------------------------------------------------------
#
# The run gets a private temp dir: the controller makes it and points TMPDIR (and tempfile) at it,
# each xdist worker takes a folder of its own inside it, and subprocesses inherit TMPDIR. Several
# engineers' runs share this machine's /tmp, so a listing of /tmp itself would blame one run for
# another's folders; inside the private dir, a folder that appears during a test was made by
# that test (or its fixtures). pytest's own tmp_path stays in the system temp dir
# (PYTEST_DEBUG_TEMPROOT), with its usual retention. The private dir is removed at the end.

LEAK_GLOB = "pf-tui*"
"""What pf-tui names its temp folders (stores, demo journals); each goes when its user is done."""
_ROOT_ENV = "PF_TUI_TESTS_TEMP_ROOT"
_LEAK_PROPERTY = "pf_tui_temp_leaks"
_before = pytest.StashKey[set[str]]()
_left_by: dict[str, str] = {}
"""Controller: each leaked folder (relative to the run's temp dir) and the test that left it."""
_report = pytest.StashKey[list[str]]()


def _temp_root() -> Path:
    return Path(os.environ[_ROOT_ENV])


def _leftovers() -> set[str]:
    """The ``pf-tui*`` folders in this process's temp dir, relative to the run's temp dir."""
    here = Path(tempfile.gettempdir())
    return {str(path.relative_to(_temp_root())) for path in here.glob(LEAK_GLOB)}


def pytest_configure(config: pytest.Config) -> None:
    """Give the run (and each worker) a private temp dir; see the comment above."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        system = tempfile.gettempdir()
        os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", system)
        os.environ[_ROOT_ENV] = tempfile.mkdtemp(prefix="pytest-pf-tui-run-", dir=system)
        here = _temp_root()
    else:
        here = _temp_root() / workerinput["workerid"]
        here.mkdir(mode=0o700)
    os.environ["TMPDIR"] = str(here)
    tempfile.tempdir = str(here)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    """Note the folders present before the test's fixtures run."""
    item.stash[_before] = _leftovers()
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    """Name the test on any folder that appeared during it (the teardown report carries it)."""
    try:
        return (yield)
    finally:
        new = sorted(_leftovers() - item.stash.get(_before, set()))
        if new:
            item.user_properties.append((_LEAK_PROPERTY, new))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Controller: collect the leaks each test's report names (reports come from every worker)."""
    for name, value in report.user_properties:
        if name == _LEAK_PROPERTY:
            _left_by.update(dict.fromkeys(value, report.nodeid))


def _contents(folder: Path) -> str:
    """A hint at what made ``folder``: the first few names inside it."""
    inside = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    shown = ", ".join(inside[:4]) + (", ..." if len(inside) > 4 else "")
    return f" (holds {shown})" if inside else ""


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Controller, after every worker has finished: fail the run if any folder was left."""
    if hasattr(session.config, "workerinput"):
        return
    root = _temp_root()
    places = [root, *(d for d in root.iterdir() if d.is_dir() and d.name.startswith("gw"))]
    leaked = sorted(str(p.relative_to(root)) for place in places for p in place.glob(LEAK_GLOB))
    if not leaked:
        return
    lines = [
        f"{name}{_contents(root / name)}: left by {_left_by.get(name, '?')}" for name in leaked
    ]
    session.config.stash[_report] = lines
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Name every folder left behind and the test that left it; the run has failed for them."""
    lines = terminalreporter.config.stash.get(_report, [])
    if not lines:
        return
    terminalreporter.section("temp folders left behind", sep="=", red=True, bold=True)
    terminalreporter.write_line(
        f"FAILED: {len(lines)} {LEAK_GLOB} folder(s) left in the temp dir; whatever makes one "
        "must remove it (the run's temp dir was private, so each was made by this run):",
        red=True,
    )
    for line in lines:
        terminalreporter.write_line(f"  {line}")


def pytest_unconfigure(config: pytest.Config) -> None:
    """Controller: remove the run's temp dir, leaks included (they are reported above)."""
    if not hasattr(config, "workerinput") and _ROOT_ENV in os.environ:
        shutil.rmtree(_temp_root(), ignore_errors=True)
