"""Engine benchmark: poll N simulated agents at the default intervals for S seconds.

    python benchmarks/fleet_poll.py --agents 100,1000 --seconds 60

The simulator runs in its own process (``python -m pf_tui sim --limits off``), so its CPU is not
the engine's. Per N it prints: requests/s achieved against requested, p50/p95 of data age over
the interval, the engine's CPU (% of one core, ``process_time``), RSS, and, against the same
simulator in the same run, the ceilings of plain httpx and raw aiohttp (req/s, CPU per request),
with the engine's CPU per request beside each. A simulator that cannot keep up shows as a raw
aiohttp ceiling close to the requested rate.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from pf_tui.api.bases import ServiceBases
from pf_tui.api.client import PurpleFleaClient
from pf_tui.api.latency import percentile
from pf_tui.api.retry import RetryPolicy
from pf_tui.config import Config
from pf_tui.core.polling.results import DataType
from pf_tui.demo import fetch_demo_agents
from pf_tui.wiring import build_poll_engine

CALLS_PER_POLL = {
    DataType.BALANCE: 2,  # casino balance + on-chain USDC
    DataType.POSITIONS: 1,
    DataType.PNL: 1,
    DataType.CASINO: 1,
    DataType.REFERRALS: 3,
    DataType.ESCROWS: 1,  # plus one read per live escrow found
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_sim(agents: int) -> tuple[subprocess.Popen[bytes], str]:
    """The simulator in its own process; returns it and its URL once it answers."""
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pf_tui",
            "sim",
            "--agents",
            str(agents),
            "--port",
            str(port),
            "--limits",
            "off",
            "--seed",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"simulator exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"{url}/_sim/agents", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("simulator did not start")


def _proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_engine(
    url: str,
    agents: list[dict[str, object]],
    seconds: float,
    transport: str,
    concurrency: int,
    sim_pid: int,
    reply_cache: bool = True,
) -> dict[str, float]:
    """Poll every agent for ``seconds``; return the figures."""
    config = Config.demo(url, agents)
    client = PurpleFleaClient(
        ServiceBases.for_simulator(url),
        transport=transport,  # type: ignore[arg-type]
        retry=RetryPolicy(max_attempts=1),
        timeout=10.0,
        max_connections=64,
        reply_cache=reply_cache,
    )
    engine = build_poll_engine(config, client=client, seed=1, max_concurrency=concurrency)
    poller, fleet = engine.poller, engine.fleet
    requested_polls = 0.0
    requested_calls = 0.0
    for target in poller._initial:
        for kind in target.data_types():
            requested_polls += 1 / poller.intervals[kind]
            requested_calls += CALLS_PER_POLL[kind] / poller.intervals[kind]
    ages: list[float] = []
    polls = 0

    async def consume() -> None:
        nonlocal polls
        while True:
            batch = await poller.batch()
            polls += len(batch)
            fleet.apply_many(batch)
            fleet.drain_samples()

    warm = max(poller.intervals.values())  # every figure fetched once before ages count
    cpu0, t0 = time.process_time(), time.monotonic()
    async with poller:
        consumer = asyncio.create_task(consume())
        await asyncio.sleep(min(warm, seconds / 2))
        polls = 0
        req0 = _total_requests(poller)
        cpu1, t1 = time.process_time(), time.monotonic()
        sim1 = _proc_cpu_s(sim_pid)
        end = t0 + seconds
        while time.monotonic() < end:
            await asyncio.sleep(0.5)
            now = time.time()
            for state in fleet.agents.values():
                for kind, fig in state.figures.items():
                    if fig.fetched_at is not None:
                        ages.append((now - fig.fetched_at) / poller.intervals[kind])
        cpu2, t2 = time.process_time(), time.monotonic()
        sim2 = _proc_cpu_s(sim_pid)
        req = _total_requests(poller) - req0
        consumer.cancel()
    await client.aclose()
    wall = t2 - t1
    cpu = cpu2 - cpu1
    ages.sort()
    return {
        "requested_polls": requested_polls,
        "polls": polls / wall,
        "requested_calls": requested_calls,
        "calls": req / wall,
        "age_p50": percentile(ages, 50) or 0.0,
        "age_p95": percentile(ages, 95) or 0.0,
        "cpu_pct": 100 * cpu / wall,
        "cpu_ms_per_req": 1000 * cpu / max(req, 1),
        "rss_mb": _rss_mb(),
        "sim_cpu_pct": 100 * (sim2 - sim1) / (t2 - t1),
        "warmup_s": t1 - t0,
        "cpu_total_s": cpu2 - cpu0,
    }


def _total_requests(poller: object) -> int:
    stats = poller.stats  # type: ignore[attr-defined]
    return sum(stats.totals(e)[0] for e in stats.endpoints())


async def ceiling_httpx(
    url: str, key: str, concurrency: int, seconds: float
) -> tuple[float, float]:
    """Plain httpx AsyncClient (default pool): req/s and CPU ms per request."""
    async with httpx.AsyncClient(base_url=f"{url}/casino/api/v1") as client:
        return await _hammer(
            lambda: client.get("/auth/balance", headers={"Authorization": f"Bearer {key}"}),
            concurrency,
            seconds,
        )


async def ceiling_aiohttp(
    url: str, key: str, concurrency: int, seconds: float
) -> tuple[float, float]:
    """Raw aiohttp ClientSession: req/s and CPU ms per request."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        target = f"{url}/casino/api/v1/auth/balance"
        headers = {"Authorization": f"Bearer {key}"}

        async def one() -> None:
            async with session.get(target, headers=headers) as resp:
                await resp.read()

        return await _hammer(one, concurrency, seconds)


async def _hammer(fn, concurrency: int, seconds: float) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    done = 0
    end = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal done
        while time.monotonic() < end:
            result = fn()
            if asyncio.iscoroutine(result):
                await result
            done += 1

    cpu0, t0 = time.process_time(), time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu0, time.monotonic() - t0
    return done / wall, 1000 * cpu / max(done, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", default="100,1000", help="comma-separated fleet sizes")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--transport", default="aiohttp", choices=("aiohttp", "httpx"))
    parser.add_argument("--ceiling-seconds", type=float, default=5.0)
    parser.add_argument(
        "--no-reply-cache",
        action="store_true",
        help="decode and normalise every reply, even one byte for byte like the last",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=64,
        help="requests in flight per host (the simulator serves every service from one host)",
    )
    args = parser.parse_args(argv)
    try:
        import uvloop  # the product runs on uvloop when available; measure the same

        uvloop.install()
    except ImportError:
        pass
    print(
        f"# fleet_poll: {args.seconds:.0f}s per size, engine transport {args.transport}, "
        f"{args.concurrency} in flight per host, "
        f"reply cache {'off' if args.no_reply_cache else 'on'}, "
        f"{os.cpu_count()} cores"
    )
    for n in (int(x) for x in args.agents.split(",")):
        proc, url = start_sim(n)
        try:
            agents = fetch_demo_agents(url)
            key = str(agents[0]["keys"]["casino"])  # type: ignore[index]
            r = asyncio.run(
                run_engine(
                    url,
                    agents,
                    args.seconds,
                    args.transport,
                    args.concurrency,
                    proc.pid,
                    not args.no_reply_cache,
                )
            )
            hx_rps, hx_cpu = asyncio.run(ceiling_httpx(url, key, 16, args.ceiling_seconds))
            ai_rps, ai_cpu = asyncio.run(ceiling_aiohttp(url, key, 64, args.ceiling_seconds))
        finally:
            proc.terminate()
            proc.wait(10)
        print(f"\n## {n} agents ({len(agents)} in the simulator)")
        print(f"polls/s     {r['polls']:8.0f}  of {r['requested_polls']:.0f} requested")
        print(
            f"requests/s  {r['calls']:8.0f}  of ~{r['requested_calls']:.0f} requested "
            "(escrow reads come on top)"
        )
        print(
            f"data age / interval  p50 {r['age_p50']:.2f}  p95 {r['age_p95']:.2f}"
            "  (goal p95 <= 1.5)"
        )
        print(
            f"engine CPU  {r['cpu_pct']:6.1f}% of one core  ({r['cpu_ms_per_req']:.3f} ms/request)"
            f"  (goal <= 50%)"
        )
        print(f"simulator CPU {r['sim_cpu_pct']:5.1f}% of one core (its own process)")
        print(f"RSS         {r['rss_mb']:6.0f} MB  (goal <= 250)")
        print(
            f"ceiling plain httpx  (c=16): {hx_rps:8.0f} req/s, {hx_cpu:.3f} ms CPU/req;"
            f" engine/httpx CPU per request {r['cpu_ms_per_req'] / hx_cpu:.2f}x"
        )
        print(
            f"ceiling raw aiohttp  (c=64): {ai_rps:8.0f} req/s, {ai_cpu:.3f} ms CPU/req;"
            f" engine/aiohttp CPU per request {r['cpu_ms_per_req'] / ai_cpu:.2f}x"
        )
        if ai_rps < 1.2 * r["requested_calls"]:
            print(
                "!! the simulator's raw ceiling is near the requested rate: the simulator is the "
                "bottleneck at this size"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
