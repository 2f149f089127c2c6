"""Engine benchmark: poll N simulated agents at the default intervals for S seconds.

    python benchmarks/fleet_poll.py --agents 1000,5000 --seconds 40
    python benchmarks/fleet_poll.py --agents 10000 --shards 2 --seconds 40

The simulator runs in its own process (``python -m pf_tui sim --limits off``), so its CPU is not
the engine's. Per N it prints: requests/s achieved against requested, p50/p95 of data age over
the interval, the engine's CPU (% of one core, ``process_time``), the CPU spent in garbage
collection, RSS, and, against the same simulator in the same run, the ceilings of plain httpx and
raw aiohttp (req/s, CPU per request), with the engine's CPU per request beside each. Each figure
is printed beside its goal (docs/performance.md, "The goals"). A simulator that cannot keep up
shows as a raw aiohttp ceiling close to the requested rate.

``--shards N`` runs N engine processes, each polling its shard of the fleet (``--shard i/N``,
the same filter the daemon and the console use), against one simulator process; with ``--pin``
shard i runs on core i. Ages are merged over the shards; CPU and RSS are per shard. Goal 2 is
measured unpinned: pinned, the shards and the simulator left 40% of both cores idle and served
under half as much (docs/performance.md, "Goals 1 and 2, night").
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import _process
import httpx

from pf_tui import event_loop
from pf_tui.api.bases import ServiceBases
from pf_tui.api.client import PurpleFleaClient
from pf_tui.api.retry import RetryPolicy
from pf_tui.config import Config
from pf_tui.core.polling.results import DataType, PollFailure
from pf_tui.daemon.gc_policy import EngineGc
from pf_tui.demo import fetch_demo_agents
from pf_tui.shard import parse_shard
from pf_tui.wiring import build_poll_engine, poll_latency, poll_transport, shard_config

GOAL_AGE_P95 = 1.5
"""p95 data age, in polling intervals (issue 15 goals 1 and 2)."""
GOAL_CPU_PCT = 70.0
"""The engine's CPU at 5,000 agents, % of one core."""
GOAL_VS_AIOHTTP = 2.0
"""The engine's CPU per request over raw aiohttp's, measured in the same run."""
GOAL_RSS_MB = 400.0
"""The engine process's resident memory at 5,000 agents."""
AGE_BINS_PER_INTERVAL = 100
AGE_MAX_INTERVALS = 30

CALLS_PER_POLL = {
    DataType.BALANCE: 2,  # casino balance + on-chain USDC
    DataType.POSITIONS: 1,
    DataType.PNL: 1,
    DataType.CASINO: 1,
    DataType.REFERRALS: 3,
    DataType.ESCROWS: 1,  # plus one read per live escrow found
}


def start_sim(agents: int, nice: int = 0) -> tuple[subprocess.Popen[bytes], str]:
    """The simulator in its own process (seeded); returns it and its URL once it answers.

    Without the demo story: its casino outage (12-40 s of every 240) would fail a third of a
    40-second run's polls and put the outage's data age in the figures.
    """
    return _process.start_sim(agents, "--seed", "1", "--no-story", nice=nice)


class AgeHistogram:
    """Data ages in hundredths of an interval, in fixed memory.

    A list of every sample (5,000 agents x 6 figures, twice a second) grew past 100 MB in a
    40-second run and was charged to the engine's RSS; the histogram holds 3,001 counters and
    answers percentiles to 0.01 of an interval.
    """

    def __init__(self, counts: list[int] | None = None) -> None:
        size = AGE_MAX_INTERVALS * AGE_BINS_PER_INTERVAL + 1
        self.counts = counts if counts is not None else [0] * size

    def add(self, age_over_interval: float) -> None:
        """Count one sample (ages past the last bin land in it)."""
        i = int(age_over_interval * AGE_BINS_PER_INTERVAL)
        self.counts[min(max(i, 0), len(self.counts) - 1)] += 1

    def merge(self, other: AgeHistogram) -> None:
        """Add another histogram's counts (one per shard)."""
        for i, n in enumerate(other.counts):
            self.counts[i] += n

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile, as the upper edge of its bin (0.0 with no samples)."""
        total = sum(self.counts)
        if not total:
            return 0.0
        rank = max(1, -(-q * total // 100))
        seen = 0
        for i, n in enumerate(self.counts):
            seen += n
            if seen >= rank:
                return (i + 1) / AGE_BINS_PER_INTERVAL
        return AGE_MAX_INTERVALS


class GcMeter:
    """CPU time inside the garbage collector, per generation, while installed."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.runs = [0, 0, 0]
        self._start = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.process_time()
        else:
            gen = info["generation"]
            self.seconds[gen] += time.process_time() - self._start
            self.runs[gen] += 1

    def __enter__(self) -> GcMeter:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)


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
    shard: str | None = None,
    gc_mode: str = "daemon",
) -> dict[str, object]:
    """Poll every agent (of ``shard``, if given) for ``seconds``; return the figures.

    ``gc_mode`` ``daemon`` runs the collector as ``pf-tui --headless`` does (``EngineGc``);
    ``auto`` leaves CPython's automatic collector on.
    """
    config = shard_config(Config.demo(url, agents), None if shard is None else parse_shard(shard))
    client = PurpleFleaClient(
        ServiceBases.for_simulator(url),
        transport=poll_transport(transport),  # as wiring.build_poll_engine builds its client
        retry=RetryPolicy(max_attempts=1),
        timeout=10.0,
        max_connections=64,
        reply_cache=reply_cache,
        latency=poll_latency(),
    )
    engine = build_poll_engine(
        config, client=client, seed=1, max_concurrency=concurrency, keep_samples=True
    )  # as the daemon runs it
    poller, fleet = engine.poller, engine.fleet
    requested_polls = 0.0
    requested_calls = 0.0
    for target in poller._initial:
        for kind in target.data_types():
            requested_polls += 1 / poller.intervals[kind]
            requested_calls += CALLS_PER_POLL[kind] / poller.intervals[kind]
    ages = AgeHistogram()
    polls = 0
    failures = 0
    first_error = ""

    collector = EngineGc()

    async def consume() -> None:
        nonlocal polls, failures, first_error
        while True:
            batch = await poller.batch()
            polls += len(batch)
            for result in batch:
                if isinstance(result, PollFailure):
                    failures += 1
                    first_error = first_error or f"{result.kind.value}: {result.error!r}"[:200]
            fleet.apply_many(batch)
            fleet.drain_samples()
            collector.tick(time.monotonic())

    warm = max(poller.intervals.values())  # every figure fetched once before ages count
    cpu0, t0 = time.process_time(), time.monotonic()
    if gc_mode == "daemon":
        collector.start(t0)
    async with poller:
        consumer = asyncio.create_task(consume())
        await asyncio.sleep(min(warm, seconds / 2))
        polls = failures = 0
        req0 = _total_requests(poller)
        cpu1, t1 = time.process_time(), time.monotonic()
        sim1 = _proc_cpu_s(sim_pid)
        end = t0 + seconds
        sampling = 0.0
        with GcMeter() as gcm:
            while time.monotonic() < end:
                await asyncio.sleep(0.5)
                # The sampling is the benchmark's work, not the engine's: its CPU is taken out.
                s0 = time.process_time()
                now = time.time()
                intervals = poller.intervals
                for state in fleet.agents.values():
                    for kind, fig in state.figures.items():
                        if fig.fetched_at is not None:
                            ages.add((now - fig.fetched_at) / intervals[kind])
                sampling += time.process_time() - s0
        cpu2, t2 = time.process_time(), time.monotonic()
        sim2 = _proc_cpu_s(sim_pid)
        req = _total_requests(poller) - req0
        consumer.cancel()
    collector.stop()
    await client.aclose()
    wall = t2 - t1
    cpu = cpu2 - cpu1 - sampling
    return {
        "agents": len(config.agents),
        "requested_polls": requested_polls,
        "polls": polls / wall,
        "failed": failures / wall,
        "first_error": first_error,
        "requested_calls": requested_calls,
        "calls": req / wall,
        "ages": ages.counts,
        "cpu_pct": 100 * cpu / wall,
        "cpu_ms_per_req": 1000 * cpu / max(req, 1),
        "gc_pct": 100 * sum(gcm.seconds) / wall,
        "gc_full_runs": gcm.runs[2],
        "gc_full_ms": 1000 * gcm.seconds[2] / max(gcm.runs[2], 1),
        "rss_mb": _process.rss_mb(),
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


def _verdict(ok: bool) -> str:
    return "OK" if ok else "OVER"


def _worker(args: argparse.Namespace) -> int:
    """One shard's engine (``--worker i/n``): poll, then print the figures as one JSON line."""
    if args.pin:
        index = parse_shard(args.worker).index
        os.sched_setaffinity(0, {index % (os.cpu_count() or 1)})
    agents = fetch_demo_agents(args.url)
    r = event_loop.run(
        run_engine(
            args.url,
            agents,
            args.seconds,
            args.transport,
            args.concurrency,
            args.sim_pid,
            not args.no_reply_cache,
            shard=args.worker,
            gc_mode=args.gc,
        )
    )
    print(json.dumps(r))
    return 0


def _run_shards(
    args: argparse.Namespace, n: int, url: str, sim_pid: int
) -> list[dict[str, object]]:
    """Start ``--shards`` worker processes at once, wait for all, return their figures."""
    procs = []
    for i in range(args.shards):
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            f"{i}/{args.shards}",
            "--url",
            url,
            "--sim-pid",
            str(sim_pid),
            "--seconds",
            str(args.seconds),
            "--transport",
            args.transport,
            "--concurrency",
            str(args.concurrency),
            "--gc",
            args.gc,
        ]
        if args.no_reply_cache:
            cmd.append("--no-reply-cache")
        if args.pin:
            cmd.append("--pin")
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True))
    out = []
    for proc in procs:
        stdout, _ = proc.communicate(timeout=args.seconds + 300)
        if proc.returncode != 0:
            raise RuntimeError(f"a shard failed (exit {proc.returncode})")
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def _report(
    n: int,
    shards: list[dict[str, object]],
    ceilings: tuple[float, float, float, float],
    in_sim: int,
) -> None:
    hx_rps, hx_cpu, ai_rps, ai_cpu = ceilings
    ages = AgeHistogram()
    for r in shards:
        ages.merge(AgeHistogram(list(r["ages"])))  # type: ignore[call-overload]
    total = {
        k: sum(float(str(r[k])) for r in shards)
        for k in ("requested_polls", "polls", "requested_calls", "calls")
    }
    p50, p95 = ages.percentile(50), ages.percentile(95)
    sampled = sum(ages.counts) > 0
    failed = sum(float(str(r["failed"])) for r in shards)
    title = f"{n} agents ({in_sim} in the simulator)"
    if len(shards) > 1:
        title += f", {len(shards)} shards"
    print(f"\n## {title}")
    print(f"polls/s     {total['polls']:8.0f}  of {total['requested_polls']:.0f} requested")
    print(
        f"requests/s  {total['calls']:8.0f}  of ~{total['requested_calls']:.0f} requested "
        "(escrow reads come on top)"
    )
    if failed:
        # A poll that failed is not data: a run where most polls fail (a missing module, a
        # refused connection) must not read as fresh figures.
        errors = sorted({str(r["first_error"]) for r in shards if r["first_error"]})
        print(f"!! failed polls/s {failed:.0f} of {total['polls']:.0f}; first: {'; '.join(errors)}")
    if sampled:
        print(
            f"data age / interval  p50 {p50:.2f}  p95 {p95:.2f}  "
            f"(goal p95 <= {GOAL_AGE_P95}: {_verdict(p95 <= GOAL_AGE_P95)})"
        )
    else:
        print(f"data age / interval  no figure arrived (goal p95 <= {GOAL_AGE_P95}: FAIL)")
    for i, r in enumerate(shards):
        who = "engine" if len(shards) == 1 else f"shard {i}/{len(shards)} ({r['agents']} agents)"
        cpu, per_req = float(r["cpu_pct"]), float(r["cpu_ms_per_req"])  # type: ignore[arg-type]
        rss = float(r["rss_mb"])  # type: ignore[arg-type]
        ratio = per_req / ai_cpu
        print(
            f"{who} CPU {cpu:5.1f}% of one core (goal <= {GOAL_CPU_PCT:.0f}%: "
            f"{_verdict(cpu <= GOAL_CPU_PCT)}); {per_req:.3f} ms/request, "
            f"{ratio:.2f}x raw aiohttp's (goal <= {GOAL_VS_AIOHTTP:.0f}x: "
            f"{_verdict(ratio <= GOAL_VS_AIOHTTP)})"
        )
        print(
            f"{who} GC {float(r['gc_pct']):.1f}% of one core, "  # type: ignore[arg-type]
            f"{r['gc_full_runs']} full collections of {float(r['gc_full_ms']):.0f} ms; "  # type: ignore[arg-type]
            f"RSS {rss:.0f} MB (goal <= {GOAL_RSS_MB:.0f}: {_verdict(rss <= GOAL_RSS_MB)})"
        )
    sim_cpu = max(float(r["sim_cpu_pct"]) for r in shards)  # type: ignore[arg-type]
    print(f"simulator CPU {sim_cpu:5.1f}% of one core (its own process)")
    print(f"ceiling plain httpx  (c=16): {hx_rps:8.0f} req/s, {hx_cpu:.3f} ms CPU/req")
    print(f"ceiling raw aiohttp  (c=64): {ai_rps:8.0f} req/s, {ai_cpu:.3f} ms CPU/req")
    if ai_rps < 1.2 * total["requested_calls"]:
        print(
            "!! the simulator's raw ceiling is near the requested rate: the simulator is the "
            "bottleneck at this size"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", default="1000,5000", help="comma-separated fleet sizes")
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument(
        "--transport",
        default="aiohttp",
        choices=("aiohttp", "httpx", "http1"),
        help="[api] transport (aiohttp: the poll engine's GETs take the http1 path, as in "
        "pf-tui); http1 names that path explicitly",
    )
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
    parser.add_argument(
        "--shards", type=int, default=1, help="engine processes, each polling its shard"
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="with --shards: shard i on core i (slower here: see the module's docstring)",
    )
    parser.add_argument(
        "--gc",
        default="daemon",
        choices=("daemon", "auto"),
        help="daemon: collect as pf-tui --headless does (default); auto: CPython's collector",
    )
    parser.add_argument("--worker", metavar="I/N", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--sim-pid", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _worker(args)
    print(
        f"# fleet_poll: {args.seconds:.0f}s per size, engine transport {args.transport}, "
        f"{args.concurrency} in flight per host, "
        f"reply cache {'off' if args.no_reply_cache else 'on'}, {args.shards} shard(s), "
        f"gc {args.gc}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start"
    )
    for n in (int(x) for x in args.agents.split(",")):
        proc, url = start_sim(n)
        try:
            agents = fetch_demo_agents(url)
            key = str(agents[0]["keys"]["casino"])  # type: ignore[index]
            if args.shards > 1:
                results = _run_shards(args, n, url, proc.pid)
            else:
                results = [
                    event_loop.run(
                        run_engine(
                            url,
                            agents,
                            args.seconds,
                            args.transport,
                            args.concurrency,
                            proc.pid,
                            not args.no_reply_cache,
                            gc_mode=args.gc,
                        )
                    )
                ]
            hx_rps, hx_cpu = event_loop.run(ceiling_httpx(url, key, 16, args.ceiling_seconds))
            ai_rps, ai_cpu = event_loop.run(ceiling_aiohttp(url, key, 64, args.ceiling_seconds))
        finally:
            proc.terminate()
            proc.wait(10)
        _report(n, results, (hx_rps, hx_cpu, ai_rps, ai_cpu), len(agents))
    print(f"# load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
