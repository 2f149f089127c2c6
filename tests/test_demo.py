"""`--demo`: a private store gone when the demo ends, however it ends; the story's outage pages.

The exit tests run the real command in a pseudo-terminal (as a terminal emulator or tmux would),
wait until the alert daemon the demo runs beside the console has written its heartbeat, press the
quit keys or send the signals, and check the exit code, the terminal restored and the private
temp folder left empty.
"""

from __future__ import annotations

import asyncio
import os
import pty
import select
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from pf_tui.config import Config
from pf_tui.config.demo import DEMO_ERROR_RATE_FOR_S, DEMO_ERROR_WINDOW_S, DEMO_MAX_BACKOFF_S
from pf_tui.core.alerts.heartbeat import read_heartbeat
from pf_tui.daemon.loop import DaemonOptions, run_daemon
from pf_tui.demo import (
    demo_session,
    fetch_demo_agents,
    process_start_time,
    remove_stale_demo_folders,
)
from pf_tui.sim.http.server import SimServer
from pf_tui.sim.model.state import Simulator
from pf_tui.sim.model.story import CASH_OUT, OUTAGE

# Minutes of pilots and subprocesses on a 2-core machine: the slow set runs them (CI too), so
# the quick suite keeps its five-minute promise.
pytestmark = pytest.mark.slow

START = 1_767_268_800.0
LEAVE_ALT_SCREEN = b"\x1b[?1049l"
"""What Textual writes last when it restores the terminal (back from the alternate screen)."""


def test_each_demo_has_its_own_private_store() -> None:
    with demo_session(agents=2, motion=False) as first:
        store = first.store.path
        assert store.parent.exists()
        assert stat.S_IMODE(store.parent.stat().st_mode) == 0o700  # a journal is nobody else's
        with demo_session(agents=2, motion=False) as second:
            assert second.store.path != store
    assert not store.parent.exists()  # an earlier demo's journal never meets a new simulator


def test_a_demo_can_use_a_running_simulator(sim_server: SimServer) -> None:
    """``--demo --sim URL``: the config points at that simulator and nothing else is started."""
    with demo_session(sim_url=sim_server.url + "/") as config:
        assert config.api.casino.startswith(sim_server.url + "/casino")
        assert [a.id for a in config.agents] == [
            a["agent_id"] for a in httpx.get(f"{sim_server.url}/_sim/agents").json()["agents"]
        ]


def test_a_missing_simulator_is_a_clear_error() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pf_tui",
            "--headless",
            "--once",
            "--demo",
            "--sim",
            "http://127.0.0.1:9",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert "no simulator answers GET http://127.0.0.1:9/_sim/agents" in result.stderr
    assert "pf-tui sim" in result.stderr


class SimTime:
    """The simulator's clock as the daemon's: its polls fall due, its error window rolls and its
    rules' ``for`` runs only as the test moves simulated time. A sleep is a short real one."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def now(self) -> float:
        return self.sim.now()

    def monotonic(self) -> float:
        return self.sim.now() - START

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(min(max(0.0, seconds), 0.02))


def _alert_states(store: Path, rule: str, agent: str | None) -> set[str]:
    """The states of ``rule``'s rows in the store (of one agent's, when given)."""
    with closing(sqlite3.connect(store)) as conn:
        rows = conn.execute(
            "SELECT state FROM alerts WHERE rule = ? AND (? IS NULL OR agent = ?)",
            (rule, agent, agent),
        )
        return {s for (s,) in rows}


async def _settled(server: SimServer) -> None:
    """Wait (bounded, real time) until the daemon's polls for this simulated second are done."""
    last, quiet = server.sim.request_seq, 0
    for _ in range(100):
        await asyncio.sleep(0.05)
        seq = server.sim.request_seq
        quiet = quiet + 1 if seq == last else 0
        last = seq
        if quiet >= 4:
            return


@pytest.mark.slow
async def test_the_story_outage_fires_error_rate_and_it_resolves_after(tmp_path: Path) -> None:
    """The demo's daemon, on simulated time: during the story's casino outage its ``error_rate``
    fires (the demo's 10 s ``for``), and once the outage's failures leave the demo's one-minute
    error window it resolves on its own; then the cash-out's ``low_balance`` fires and resolves.

    Breaking it looks like: ``error_rate`` only after the outage (the rule waiting for healthy
    figures), never resolving (the production 5-minute window: the next outage comes first), or
    the cash-out before the daemon reads the casino's figures again (no alert at all).
    """
    server = SimServer(seed=42, agents=8, motion=False, start_time=START)
    server.sim.set_motion(True)
    store = tmp_path / "store.db"
    grinder = next(a.agent_id for a in server.sim.fleet.members if a.strategy == "casino-grinder")
    watched = {"error_rate": None, "low_balance": grinder}  # the newcomer's $0 never resolves
    fired: dict[str, float] = {}
    resolved: dict[str, float] = {}
    with server:
        config = Config.demo(server.url, fetch_demo_agents(server.url), store_path=store)
        assert config.alerts.rule("error_rate").for_s == DEMO_ERROR_RATE_FOR_S
        assert config.polling.error_window == DEMO_ERROR_WINDOW_S
        stop, polled = asyncio.Event(), asyncio.Event()
        options = DaemonOptions(on_first_poll=lambda _t: polled.set())
        daemon = asyncio.create_task(
            run_daemon(config, clock=SimTime(server.sim), stop=stop, options=options)
        )
        try:
            await asyncio.wait_for(polled.wait(), 60)  # simulated time waits for the daemon
            await _settled(server)
            end = max(OUTAGE[1] + DEMO_ERROR_WINDOW_S, CASH_OUT[1]) + 30
            while server.sim.now() - START < end and len(resolved) < 2:
                server.sim.advance(1)
                await _settled(server)
                at = server.sim.now() - START
                for rule, agent in watched.items():
                    states = _alert_states(store, rule, agent)
                    if "firing" in states:
                        fired.setdefault(rule, at)
                    if rule in fired and "firing" not in states and "resolved" in states:
                        resolved.setdefault(rule, at)
        finally:
            stop.set()
            await daemon
    assert OUTAGE[0] < fired["error_rate"] < OUTAGE[1], ("during the outage", fired)
    assert OUTAGE[1] < resolved["error_rate"] <= OUTAGE[1] + DEMO_ERROR_WINDOW_S + 20, resolved
    assert CASH_OUT[0] <= fired["low_balance"] < resolved["low_balance"] <= CASH_OUT[1] + 15


def test_the_outage_ends_on_screen_before_the_next_incident(sim_server: SimServer) -> None:
    """A failed figure is asked for again within the demo's longest backoff, so the outage's end
    shows before the cash-out: a newcomer sees one incident end before the next begins.

    Breaking it looks like: the production backoff (2 minutes) in the demo, so the casino
    figures stay stale (and their alerts open) long after the outage, into the next incident.
    """
    config = Config.demo(sim_server.url, fetch_demo_agents(sim_server.url))
    assert config.polling.max_backoff == DEMO_MAX_BACKOFF_S
    assert CASH_OUT[0] - OUTAGE[1] > DEMO_MAX_BACKOFF_S, "the casino is read again before it"


# ---- exits ------------------------------------------------------------------------------------


def _read_until(fd: int, needle: bytes, timeout_s: float) -> bytes:
    """Read the terminal's output until ``needle`` shows (or the child closed it)."""
    seen = b""
    deadline = time.monotonic() + timeout_s
    while needle not in seen and time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    return seen


@dataclass
class Console:
    """``pf-tui --demo`` running in a pseudo-terminal."""

    pid: int
    fd: int
    private: Path
    """Its temp dir (``TMPDIR``): the demo's store folder lives here while it runs."""
    open: bool = True

    def hang_up(self) -> None:
        """Close the terminal's other end: the kernel sends the child SIGHUP."""
        os.close(self.fd)
        self.open = False

    def wait(self, timeout_s: float) -> tuple[bytes, int | None]:
        """What it wrote until it exited, and its exit code (None: still running)."""
        out = b""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            chunk = b""
            if self.open:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:  # EIO: the child closed the terminal
                    chunk = b""
                out += chunk
            if done:
                if self.open:
                    out += _read_until(self.fd, b"\x00never", 0.2)
                return out, os.waitstatus_to_exitcode(status)
            if not chunk:
                time.sleep(0.05)
        return out, None


def _daemon_beat(private: Path, fd: int, timeout_s: float) -> bytes | None:
    """Wait until the demo's own daemon wrote a heartbeat into its store (under ``private``);
    ``None`` when it did, else what the terminal showed meanwhile (it is read all along, so the
    console never blocks on a full pty)."""
    seen = b""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        while select.select([fd], [], [], 0)[0]:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                chunk = b""
            if not chunk:
                return seen or b"(the console closed its terminal)"
            seen = (seen + chunk)[-2000:]
        for store in private.glob("pf-tui-demo-*/demo.db"):
            try:
                with closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as conn:
                    if read_heartbeat(conn) is not None:
                        return None
            except sqlite3.Error:
                pass  # the schema not written yet
        time.sleep(0.05)
    return seen or b"(nothing)"


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    """``pf-tui --demo --agents 3`` in an 80x24 pseudo-terminal with a temp dir of its own,
    its first screen drawn and the daemon beside it running (so each exit has a daemon thread
    to stop); killed afterwards if a test left it running."""
    private = tmp_path / "tmp"
    private.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PF_")}
    env.update(TMPDIR=str(private), TERM="xterm-256color", COLUMNS="80", LINES="24")
    pid, fd = pty.fork()
    if pid == 0:  # the child: a session leader whose controlling terminal is the pty
        os.execve(sys.executable, [sys.executable, "-m", "pf_tui", "--demo", "--agents", "3"], env)
    child = Console(pid, fd, private)
    try:
        first = _read_until(fd, b"Overview", 60)
        assert b"Overview" in first, first[-500:]
        assert list(private.iterdir()), "the demo keeps its store in the temp dir"
        silent = _daemon_beat(private, fd, 60)
        assert silent is None, f"the demo's daemon never wrote its heartbeat: {silent[-500:]!r}"
        yield child
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        if child.open:
            os.close(fd)


def _assert_clean(console: Console, how: str, out: bytes, code: int | None) -> None:
    assert code == 0, f"{how}: exit {code} (None: still running); tail {out[-300:]!r}"
    assert list(console.private.iterdir()) == [], f"{how} left {list(console.private.iterdir())}"


@pytest.mark.parametrize(("how", "keys"), [("q", b"q"), ("ctrl+q", b"\x11"), ("ctrl+c", b"\x03")])
def test_quit_keys_exit_cleanly(console: Console, how: str, keys: bytes) -> None:
    """Each documented key leaves with 0, the terminal restored and nothing in the temp dir."""
    os.write(console.fd, keys)
    out, code = console.wait(30)
    _assert_clean(console, how, out, code)
    assert LEAVE_ALT_SCREEN in out, f"{how}: terminal not restored"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signals_exit_cleanly(console: Console, sig: signal.Signals) -> None:
    """``kill`` (SIGTERM), SIGINT and SIGHUP quit like ``q``: exit 0, terminal restored, temp dir
    empty. (Before, SIGTERM and SIGHUP killed it where it stood, raw mode and store left.)"""
    os.kill(console.pid, sig)
    out, code = console.wait(30)
    _assert_clean(console, sig.name, out, code)
    assert LEAVE_ALT_SCREEN in out, f"{sig.name}: terminal not restored"


def test_terminal_going_away_exits_cleanly(console: Console) -> None:
    """``tmux kill-session``, a dropped SSH: the terminal's other end closes and the kernel sends
    SIGHUP. There is no terminal left to restore; the store must still go."""
    console.hang_up()
    out, code = console.wait(30)
    _assert_clean(console, "hang-up", out, code)


# ---- what a killed demo leaves behind ------------------------------------------------------------


def _demo_folder(base: Path, name: str, owner: str | None) -> Path:
    folder = base / f"pf-tui-demo-{name}"
    folder.mkdir(mode=0o700)
    (folder / "demo.db").write_bytes(b"")
    if owner is not None:
        (folder / "owner.pid").write_text(owner)
    return folder


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_only_folders_whose_owner_is_dead_are_removed(tmp_path: Path) -> None:
    me = os.getpid()
    started = process_start_time(me)
    assert started is not None  # Linux: /proc says when a process started
    dead = _demo_folder(tmp_path, "dead", f"{_dead_pid()} -")
    live = _demo_folder(tmp_path, "live", f"{me} {started}")
    reused = _demo_folder(tmp_path, "reused", f"{me} {int(started) + 1}")  # pid since reused
    unmarked = _demo_folder(tmp_path, "unmarked", None)  # a demo a moment before it wrote its pid
    garbled = _demo_folder(tmp_path, "garbled", "not a pid")
    other = tmp_path / "something-else"
    other.mkdir()
    link = tmp_path / "pf-tui-demo-link"
    link.symlink_to(dead)

    removed = remove_stale_demo_folders(tmp_path)

    assert sorted(removed) == sorted([dead, reused])
    assert not dead.exists() and not reused.exists()
    assert live.exists() and unmarked.exists() and garbled.exists() and other.exists()
    assert link.is_symlink()  # a link is never followed, nor removed


def test_a_killed_headless_demo_leaves_a_folder_the_next_demo_removes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGKILL cannot be caught, so the killed demo's store folder stays; the next demo removes
    it, and never a live demo's. (Before, every killed demo's folder stayed in /tmp for good.)"""
    private = tmp_path / "tmp"
    private.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PF_")}
    env["TMPDIR"] = str(private)
    cmd = [sys.executable, "-m", "pf_tui", "--headless", "--demo", "--agents", "2"]
    killed = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        folders: list[Path] = []
        while not folders and time.monotonic() < deadline and killed.poll() is None:
            folders = [f.parent for f in private.glob("pf-tui-demo-*/owner.pid")]
            time.sleep(0.05)
        assert folders, f"the demo never recorded its folder's owner: {killed.stderr}"
        (theirs,) = folders
        assert (theirs / "owner.pid").read_text().split()[0] == str(killed.pid)
        assert stat.S_IMODE((theirs / "owner.pid").stat().st_mode) == 0o600

        monkeypatch.setattr(tempfile, "tempdir", str(private))
        with demo_session(agents=2, motion=False) as config:
            mine = config.store.path.parent
            assert mine.parent == private and mine != theirs
            assert theirs.exists()  # a live demo's folder is never touched
        assert not mine.exists()

        killed.kill()
        killed.wait(10)
        assert theirs.exists()  # nothing could remove it
        with demo_session(agents=2, motion=False):
            assert not theirs.exists()  # the next demo did
        assert list(private.iterdir()) == []
    finally:
        if killed.poll() is None:
            killed.kill()
            killed.wait(10)
