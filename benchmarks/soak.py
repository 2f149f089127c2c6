"""Soak: the daemon polling a fleet every second against a faulty simulator, for a long time.

    python benchmarks/soak.py --minutes 120            # the 2-hour soak
    python benchmarks/soak.py --minutes 5 --json       # what the slow test runs

The simulator runs in its own process (``python -m pf_tui sim --limits off``) with 5% of all
requests faulty (503s, resets, malformed bodies, hangs). In this process the whole daemon runs
(``run_daemon``: the poller with every figure of every agent every second, the alert rules, the
store, a JSON-lines receiver), and every ``--sample-s`` seconds the process's RSS, open file
descriptors and asyncio tasks are sampled. It prints those figures at the end of the warm-up and
at the end, and the drift between them; ``--json`` prints one JSON object instead.

The goal (``docs/performance.md``): after warm-up the three are flat. RSS may move within
allocator noise; open files and tasks must not grow at all beyond a few in flight. Every buffer
pf-tui keeps is bounded, but the history rings (360 samples per agent and figure) take six
minutes to fill at one poll a second, and RSS rises until they are full: ``--history N`` makes
the rings N long so that a short run's warm-up covers their filling (the 5-minute slow test uses
30); the 2-hour run keeps the real 360.

Where a slow rise comes from: each sample also carries SQLite's own allocations
(``sqlite3_memory_used``) and glibc malloc's bytes in use and free-but-kept (``mallinfo2``), and
``--trace N`` traces Python's allocations (tracemalloc: ``traced_mb`` per sample, and the N source
lines that grew most between warm-up and the end). Tracing slows the daemon, and its snapshot at
the end of warm-up adds tens of MB to RSS, so compare RSS only between untraced runs.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import ctypes.util
import dataclasses
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import _process

from pf_tui.config import Config
from pf_tui.config.model import LogNotifyConfig, PollingConfig
from pf_tui.core.fleet.state import FleetState
from pf_tui.daemon.loop import DaemonOptions, run_daemon
from pf_tui.demo import fetch_demo_agents


def faults(rate: float) -> list[dict[str, object]]:
    """``rate`` of all requests fail, split over the kinds a real outage brings."""
    return [
        {"route": "/*", "kind": "error", "status": 503, "rate": rate * 0.4},
        {"route": "/*", "kind": "reset", "rate": rate * 0.2},
        {"route": "/*", "kind": "malformed", "rate": rate * 0.2},
        {"route": "/*", "kind": "rate_limit", "rate": rate * 0.15, "retry_after_s": 2},
        {"route": "/*", "kind": "hang", "rate": rate * 0.05},
    ]


def start_sim(agents: int, fault_rate: float) -> tuple[subprocess.Popen[bytes], str]:
    """The simulator in its own process, ``fault_rate`` of its replies faulty."""
    return _process.start_sim(agents, "--faults", json.dumps(faults(fault_rate)), wait_s=60)


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
            "fsmblks", "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


def _native() -> tuple[Any, Any]:
    """SQLite's and glibc's own counters, where this machine has them (else None)."""
    sqlite = malloc = None
    name = ctypes.util.find_library("sqlite3")
    if name:
        sqlite = ctypes.CDLL(name).sqlite3_memory_used  # the library _sqlite3 already loaded
        sqlite.restype = ctypes.c_int64
    libc = ctypes.CDLL(None)
    if hasattr(libc, "mallinfo2"):
        malloc = libc.mallinfo2
        malloc.restype = _Mallinfo2
    return sqlite, malloc


_SQLITE_USED, _MALLINFO = _native()


def native_mb() -> dict[str, float]:
    """Where resident memory outside Python's objects is: SQLite's allocations (page caches,
    statements), and glibc malloc's bytes in use and free but kept in its arenas."""
    out: dict[str, float] = {}
    if _SQLITE_USED is not None:
        out["sqlite_mb"] = round(_SQLITE_USED() / 2**20, 1)
    if _MALLINFO is not None:
        info = _MALLINFO()
        out["malloc_used_mb"] = round((info.uordblks + info.hblkhd) / 2**20, 1)
        out["malloc_free_mb"] = round(info.fordblks / 2**20, 1)
    return out


def fleet_config(url: str, folder: Path) -> Config:
    """The demo fleet's config with every figure polled every second and a JSON alert log."""
    config = Config.demo(url, fetch_demo_agents(url), store_path=folder / "soak.db")
    every_second = PollingConfig(
        balance=1, positions=1, pnl=1, casino=1, referrals=1, escrows=1, max_backoff=30
    )
    notify = dataclasses.replace(config.notify, log=LogNotifyConfig(path=folder / "alerts.jsonl"))
    return dataclasses.replace(config, polling=every_second, notify=notify)


def traced_growth(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, top: int) -> list[str]:
    """The ``top`` source lines whose live Python allocations grew most between two snapshots."""
    keep = [tracemalloc.Filter(False, tracemalloc.__file__)]
    stats = after.filter_traces(keep).compare_to(before.filter_traces(keep), "lineno")
    return [
        f"{stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  {stat.traceback[0]}"
        for stat in stats[:top]
    ]


async def soak(
    url: str, folder: Path, seconds: float, sample_s: float, warmup_s: float, trace: int
) -> tuple[list[dict[str, float]], list[str]]:
    config = fleet_config(url, folder)
    stop = asyncio.Event()
    samples: list[dict[str, float]] = []
    started = time.monotonic()
    snapshots: list[tracemalloc.Snapshot] = []

    async def sampler() -> None:
        while not stop.is_set():
            await asyncio.sleep(sample_s)
            elapsed = time.monotonic() - started
            sample = {
                "t": round(elapsed, 1),
                "rss_mb": round(_process.rss_mb(), 1),
                "fds": open_files(),
                "tasks": len(asyncio.all_tasks()),
                **native_mb(),
            }
            if trace:
                sample["traced_mb"] = round(tracemalloc.get_traced_memory()[0] / 2**20, 1)
                if not snapshots and elapsed >= warmup_s:
                    snapshots.append(tracemalloc.take_snapshot())
            samples.append(sample)
            if elapsed >= seconds:
                stop.set()

    watcher = asyncio.create_task(sampler())
    code = await run_daemon(config, stop=stop, options=DaemonOptions())
    await watcher
    if code != 0:
        raise RuntimeError(f"daemon exited {code}")
    growth = traced_growth(snapshots[0], tracemalloc.take_snapshot(), trace) if snapshots else []
    return samples, growth


def report(samples: list[dict[str, float]], warmup_s: float) -> dict[str, object]:
    after = [s for s in samples if s["t"] >= warmup_s] or samples[-1:]
    first, last = after[0], after[-1]
    return {
        "samples": len(samples),
        "warmup_s": warmup_s,
        "rss_mb_at_warmup": first["rss_mb"],
        "rss_mb_end": last["rss_mb"],
        "rss_mb_max_after_warmup": max(s["rss_mb"] for s in after),
        "rss_growth_mb": round(last["rss_mb"] - first["rss_mb"], 1),
        "fds_at_warmup": first["fds"],
        "fds_end": last["fds"],
        "fds_max_after_warmup": max(s["fds"] for s in after),
        "tasks_at_warmup": first["tasks"],
        "tasks_end": last["tasks"],
        "tasks_max_after_warmup": max(s["tasks"] for s in after),
        **{
            f"{key}_{when}": sample[key]
            for key in ("traced_mb", "sqlite_mb", "malloc_used_mb", "malloc_free_mb")
            for when, sample in (("at_warmup", first), ("end", last))
            if key in sample
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=120.0)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--fault-rate", type=float, default=0.05)
    parser.add_argument("--warmup-s", type=float, default=None, help="default: a fifth of the run")
    parser.add_argument("--sample-s", type=float, default=10.0)
    parser.add_argument("--history", type=int, default=None, help="history ring length")
    parser.add_argument(
        "--trace",
        type=int,
        default=0,
        metavar="N",
        help="trace Python allocations and print the N lines that grew most after warm-up",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.history is not None:
        # A benchmark knob: the daemon builds its FleetState with the default ring length.
        defaults = FleetState.__init__.__kwdefaults__
        assert defaults is not None
        defaults["history_len"] = args.history
    # The daemon's JSON lines would go to stderr through logging's last resort: keep them quiet.
    quiet = logging.getLogger("pf_tui")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    seconds = args.minutes * 60
    warmup = args.warmup_s if args.warmup_s is not None else seconds / 5
    sim, url = start_sim(args.agents, args.fault_rate)
    if args.trace:
        tracemalloc.start()
    try:
        with tempfile.TemporaryDirectory(prefix="soak-") as folder:
            samples, growth = asyncio.run(
                soak(url, Path(folder), seconds, args.sample_s, warmup, args.trace)
            )
    finally:
        sim.terminate()
        sim.wait(timeout=10)
    result = report(samples, warmup)
    result.update(
        agents=args.agents,
        fault_rate=args.fault_rate,
        minutes=args.minutes,
        history=args.history or "default (360)",
    )
    if args.json:
        print(json.dumps({"report": result, "samples": samples, "traced_growth": growth}))
    else:
        for key, value in result.items():
            print(f"{key:>24}: {value}")
        if growth:
            print("Python allocations that grew most after warm-up:")
            print("\n".join(growth))
    return 0


if __name__ == "__main__":
    sys.exit(main())
