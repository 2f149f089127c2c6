"""`--demo`: the embedded simulator on loopback, and a config that points pf-tui at it.

The simulator runs in a thread of this process with its own event loop and serves real HTTP on
127.0.0.1 (a free port), so the demo exercises exactly the code paths a real deployment uses:
the same client, the same transport, the same parsing.

Each demo's store lives in a private ``pf-tui-demo-*`` folder of the temporary directory, removed
when the demo ends. A demo killed outright (SIGKILL, a power cut) cannot remove its own, so the
folder records its owner (``owner.pid``: the process id and its start time) and every demo, on
start, removes the folders whose owner is gone (:func:`remove_stale_demo_folders`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from pf_tui import usd

if TYPE_CHECKING:
    from pf_tui.config import Config

DEMO_PREFIX = "pf-tui-demo-"
"""The name every demo's private store folder starts with."""
OWNER_FILE = "owner.pid"
"""In a demo folder: ``<pid> <start time>`` of the process whose demo it is."""


def process_start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (``/proc/<pid>/stat`` field 22), which
    tells a reused pid from the process that had it; ``None`` where /proc does not say."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # the name before ")" may hold spaces
    return fields[19] if len(fields) > 19 else None


def _alive(pid: int, started: str | None) -> bool:
    """Whether process ``pid`` (started at ``started``, when recorded) still runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: it exists
    now = process_start_time(pid)
    return started is None or now is None or now == started


def mark_owner(folder: Path) -> None:
    """Record this process as ``folder``'s owner (written whole, then renamed: a demo sweeping
    never reads half a record)."""
    pid = os.getpid()
    record = f"{pid} {process_start_time(pid) or '-'}\n"
    partial = folder / f".{OWNER_FILE}.{pid}"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(record)
    os.replace(partial, folder / OWNER_FILE)


def _owner_gone(folder: Path) -> bool:
    """Whether ``folder``'s recorded owner is no longer running. A folder with no record (one
    made a moment ago, before its owner wrote it, or by a pf-tui older than the record) is
    never called gone."""
    try:
        pid_text, _, started = (folder / OWNER_FILE).read_text().strip().partition(" ")
        pid = int(pid_text)
    except (OSError, ValueError):
        return False
    if pid <= 0:
        return False
    return not _alive(pid, None if started in ("", "-") else started)


def remove_stale_demo_folders(base: Path | None = None) -> list[Path]:
    """Remove the ``pf-tui-demo-*`` folders of ``base`` (default: the temporary directory) that
    belong to this user and whose owning process is dead; the folders removed. A live demo's
    folder, another user's, a link, or one without an owner record is left alone."""
    root = Path(base if base is not None else tempfile.gettempdir())
    removed: list[Path] = []
    try:
        candidates = [p for p in root.iterdir() if p.name.startswith(DEMO_PREFIX)]
    except OSError:
        return removed
    uid = os.getuid()
    for folder in candidates:
        try:
            info = folder.lstat()
        except OSError:
            continue
        if not folder.is_dir() or folder.is_symlink() or info.st_uid != uid:
            continue
        if _owner_gone(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def fetch_demo_agents(sim_url: str, *, timeout: float = 5.0) -> list[dict[str, object]]:
    """The simulator's demo fleet (`GET /_sim/agents`), with money decoded as Decimal.

    Plain urllib: the simulator is on ``http://`` loopback, and an httpx client would load the
    CA bundle first (about 25 ms of the demo's cold start) for a request that never uses TLS.
    """
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
    with direct.open(f"{sim_url}/_sim/agents", timeout=timeout) as reply:
        body = reply.read()
    agents = usd.loads(body)["agents"]
    if not isinstance(agents, list):
        raise RuntimeError("the simulator's /_sim/agents reply has no agent list")
    return agents


@contextmanager
def demo_session(
    *, agents: int = 8, seed: int = 42, motion: bool = True, sim_url: str | None = None
) -> Iterator[Config]:
    """Start the simulator (or use the one at ``sim_url``), yield a demo Config for it, and stop
    what was started on exit.

    Each demo gets a store of its own in a temporary directory, removed on exit: its journal and
    streams describe this simulator's escrows only. A store kept between demos would reconcile
    an earlier demo's unsettled actions against a new simulator that never saw them. The
    directory is removed however the block ends (``q``, a signal turned into a quit, an error);
    what a killed demo left behind is removed by the next one (:func:`remove_stale_demo_folders`).
    """
    from pf_tui.config import Config
    from pf_tui.sim.http.server import SimServer

    server = None
    if sim_url is None:
        server = SimServer(host="127.0.0.1", port=0, seed=seed, agents=agents, motion=motion)
        server.start()
        sim_url = server.url
    try:
        fleet = _fetch_fleet(sim_url)
        remove_stale_demo_folders()
        with tempfile.TemporaryDirectory(prefix=DEMO_PREFIX) as scratch:
            mark_owner(Path(scratch))
            yield Config.demo(sim_url, fleet, store_path=Path(scratch) / "demo.db")
    finally:
        if server is not None:
            server.stop()


def _fetch_fleet(sim_url: str) -> list[dict[str, object]]:
    """The fleet of the simulator at ``sim_url``; a :class:`ConfigError` says why not."""
    from pf_tui.config import ConfigError

    url = sim_url.rstrip("/")
    try:
        return fetch_demo_agents(url)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise ConfigError(
            None,
            "--sim",
            f"no simulator answers GET {url}/_sim/agents ({type(exc).__name__}: {exc})",
            "start one with 'pf-tui sim' and pass the URL it prints",
        ) from None
