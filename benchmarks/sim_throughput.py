"""Throughput and client CPU of the API client against the simulator (prints figures; not a test).

The simulator runs in its own process (``python -m pf_tui sim --limits off --no-motion``, uvicorn,
one worker), so ``time.process_time()`` here counts the client's CPU only. Four clients fetch
``GET /casino/api/v1/auth/balance`` with ``--concurrency`` requests in flight:

(a) the project's client, aiohttp transport (``AgentClient.balance()``: decode, normalise, record);
    the reply is the same every time, so its reply cache skips decoding after the first
(a') the same with ``reply_cache=False``: every reply decoded and normalised
(b) the project's client, plain httpx transport
(c) a plain ``httpx.AsyncClient`` with its default pool (``pf_tui.usd.loads`` of the body)
(d) a raw ``aiohttp.ClientSession`` (``pf_tui.usd.loads`` of the body)

Each is run ``--repeat`` times; the median req/s and client CPU ms per request are printed, with
ratios against raw aiohttp. Usage: ``.venv/bin/python benchmarks/sim_throughput.py [-n 3000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import httpx

from pf_tui import event_loop
from pf_tui.api import PurpleFleaClient, RetryPolicy, ServiceBases
from pf_tui.usd import loads

PATH = "/casino/api/v1/auth/balance"


@dataclass
class Run:
    """One timed run of one client."""

    rps: float
    cpu_ms: float


def start_simulator() -> tuple[subprocess.Popen[str], str]:
    """``pf-tui sim`` on a free port in a child process; returns it and its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pf_tui", "sim", "--port", "0", "--limits", "off", "--no-motion"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if "simulator on http://" in line:
            url = line.split(" on ", 1)[1].split()[0]
            return proc, url
    proc.kill()
    raise SystemExit("the simulator did not start")


async def drive(request: Callable[[], Awaitable[object]], total: int, concurrency: int) -> Run:
    """``total`` requests with ``concurrency`` in flight; wall rate and this process's CPU."""
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await request()

    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return Run(rps=total / wall, cpu_ms=cpu * 1000 / total)


async def measure(name: str, url: str, key: str, total: int, concurrency: int) -> Run:
    """One run of client ``name`` (a warm-up of one round first, so pools are open)."""
    auth = {"Authorization": f"Bearer {key}"}
    if name.startswith("pf-tui"):
        transport = "httpx" if name.endswith("httpx") else "aiohttp"
        async with PurpleFleaClient(
            ServiceBases.for_simulator(url),
            transport=transport,
            retry=RetryPolicy(max_attempts=1),
            max_connections=concurrency,
            reply_cache=not name.endswith("no cache"),
        ) as client:
            agent = client.agent("bench", casino_key=key)
            await drive(agent.balance, concurrency, concurrency)
            return await drive(agent.balance, total, concurrency)
    if name == "httpx default":
        async with httpx.AsyncClient(base_url=url) as plain:

            async def get_httpx() -> object:
                response = await plain.get(PATH, headers=auth)
                return loads(response.content)

            await drive(get_httpx, concurrency, concurrency)
            return await drive(get_httpx, total, concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        full = url + PATH

        async def get_aiohttp() -> object:
            async with session.get(full, headers=auth) as response:
                return loads(await response.read())

        await drive(get_aiohttp, concurrency, concurrency)
        return await drive(get_aiohttp, total, concurrency)


CLIENTS = ("pf-tui aiohttp", "pf-tui no cache", "pf-tui httpx", "httpx default", "raw aiohttp")


def main() -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "-n", "--requests", type=int, default=3000, help="requests per run (default 3000)"
    )
    parser.add_argument("-r", "--repeat", type=int, default=5, help="runs per client (default 5)")
    parser.add_argument(
        "-c", "--concurrency", type=int, default=64, help="requests in flight (default 64)"
    )
    args = parser.parse_args()
    try:
        import uvloop  # noqa: F401  (only asked whether it is there: event_loop.run uses it)

        loop_name = "uvloop"
    except ImportError:
        loop_name = "asyncio"

    proc, url = start_simulator()
    try:
        with urllib.request.urlopen(f"{url}/_sim/agents", timeout=10) as reply:
            key = json.loads(reply.read())["agents"][0]["keys"]["casino"]
        runs: dict[str, list[Run]] = {name: [] for name in CLIENTS}
        for _ in range(args.repeat):
            for name in CLIENTS:  # interleaved, so drift in a noisy machine hits every client alike
                runs[name].append(
                    event_loop.run(measure(name, url, key, args.requests, args.concurrency))
                )
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    medians = {
        name: (statistics.median(r.rps for r in rs), statistics.median(r.cpu_ms for r in rs))
        for name, rs in runs.items()
    }
    base_rps, base_cpu = medians["raw aiohttp"]
    print(
        f"GET {PATH}: {args.requests} requests x {args.repeat} runs, "
        f"concurrency {args.concurrency}, "
        f"client loop {loop_name}, {os.cpu_count()} CPUs; simulator in its own process"
    )
    print(f"{'client':<16} {'req/s':>8} {'CPU ms/req':>11} {'req/s vs raw':>13} {'CPU vs raw':>11}")
    for name, (rps, cpu) in medians.items():
        print(
            f"{name:<16} {rps:>8.0f} {cpu:>11.3f} {rps / base_rps:>12.2f}x {cpu / base_cpu:>10.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
