"""What the benchmarks share about processes: the simulator in a child process, and this one's RSS.

``fleet_poll.py``, ``soak.py``, ``daemon_start.py`` and ``tui_frames.py`` run as scripts, so
this folder is on ``sys.path`` and they import this module as ``_process``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sim(
    agents: int, *flags: str, wait_s: float = 120.0, nice: int = 0
) -> tuple[subprocess.Popen[bytes], str]:
    """``pf-tui sim --limits off`` with ``agents`` agents (and ``flags``) in its own process,
    ``nice`` steps of niceness below this one; returns it and its URL once it answers, within
    ``wait_s``."""
    port = free_port()
    sim = (sys.executable, "-m", "pf_tui", "sim", "--port", str(port), "--agents", str(agents))
    proc = subprocess.Popen(
        [*sim, "--limits", "off", *flags],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    if nice:
        os.setpriority(os.PRIO_PROCESS, proc.pid, os.getpriority(os.PRIO_PROCESS, 0) + nice)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"simulator exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"{url}/_sim/agents", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("simulator did not start")


def rss_mb() -> float:
    """This process's resident set size now, MB (``VmRSS``; NaN where /proc does not say)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")
