"""``pf-tui watch-jobs`` end to end: the real command in a subprocess, a fake Kubernetes API server
on 127.0.0.1 (kmock's ``KubernetesEmulator``, served in this test's event loop) and the simulator.

Checked: a Job that completes has its escrow released (one release request reaches the
simulator), a failed one has it disputed, an unannotated Job is left alone, the outcome is
written back as annotations, refusals send nothing, SIGTERM stops it cleanly (the real command,
in a subprocess), and a restart with the same Jobs (their annotations lost, as after a crash
before the patch) sends nothing twice (the operator in this process: three runs in seconds).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from kmock import KubernetesEmulator

from pf_tui.api.models import Dialect
from pf_tui.config import Config, load_config
from pf_tui.jobs import contract
from pf_tui.jobs.kube import build_api
from pf_tui.jobs.operator import run_operator
from pf_tui.sim.http.server import SimServer
from tests.actions.helpers import agent_escrow, last_seq, posts, sim_get, sim_post
from tests.ops.helpers import sim_agents, write_sim_config

NS = "pf-agents"
JOBS = f"/apis/batch/v1/namespaces/{NS}/jobs"
WAIT_S = 30.0


@pytest.fixture
def kube(kmock: KubernetesEmulator) -> KubernetesEmulator:
    """The fake API server, serving batch/v1 Jobs (listable before the first one exists)."""
    kmock.resources["batch/v1/jobs"] = kmock.ResourceInfo(
        kind="Job", namespaced=True, verbs={"list", "watch", "get", "patch"}
    )
    return kmock


def job_body(name: str, uid: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": NS, "uid": uid}
    if annotations is not None:
        meta["annotations"] = annotations
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": {}, "status": {}}


async def create(kube: KubernetesEmulator, body: dict[str, Any]) -> None:
    async with kube.post(JOBS, json=body) as reply:
        assert reply.status < 300, await reply.text()


async def end(kube: KubernetesEmulator, name: str, condition: str) -> None:
    """Mark a Job ended the way the Job controller does (its condition ``True``)."""
    status = {"conditions": [{"type": condition, "status": "True"}]}
    async with kube.patch(f"{JOBS}/{name}", json={"status": status}) as reply:
        assert reply.status < 300, await reply.text()


async def delete(kube: KubernetesEmulator, name: str) -> None:
    async with kube.delete(f"{JOBS}/{name}") as reply:
        assert reply.status < 300, await reply.text()


async def annotations(kube: KubernetesEmulator, name: str) -> dict[str, str]:
    async with kube.get(f"{JOBS}/{name}") as reply:
        obj = await reply.json()
    found: dict[str, str] = obj["metadata"].get("annotations") or {}
    return found


async def outcome(kube: KubernetesEmulator, name: str) -> str | None:
    return (await annotations(kube, name)).get(contract.OUTCOME)


async def wait_for(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


class Operator:
    """``pf-tui watch-jobs`` as the Deployment runs it, plus ``--kube-url``."""

    def __init__(self, config: Path, url: str, log: Path) -> None:
        self.config, self.url, self.log = config, url, log
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        """Start it and wait until it says it is watching (SIGTERM is handled from then on)."""
        with self.log.open("ab") as err:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "pf_tui",
                "watch-jobs",
                "--namespace",
                NS,
                "--config",
                str(self.config),
                "--kube-url",
                self.url,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=err,
            )
        await self.ready()

    async def ready(self) -> None:
        """Wait until it has said it is watching (its signal handlers are in place by then)."""

        async def watching() -> bool:
            assert self.proc is not None and self.proc.returncode is None, self.log.read_text()
            return self.log.exists() and "watching jobs" in self.log.read_text()

        await wait_for(watching, "the operator to start")

    async def stop(self) -> int:
        """SIGTERM, and the exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.proc.wait(), 20)
        self.proc = None
        return code

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    def records(self) -> list[dict[str, Any]]:
        """Every stderr line, each of which must be one JSON object."""
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]


@pytest.fixture
async def operator(kube: KubernetesEmulator, sim_server: SimServer, tmp_path: Path) -> Any:
    config = write_sim_config(sim_server.url, tmp_path / "pf")
    op = Operator(config, str(kube.url).rstrip("/"), tmp_path / "operator.log")
    yield op
    await op.kill()


def secrets(url: str) -> list[str]:
    return [k for a in sim_agents(url) for k in (a.get("keys") or {}).values() if k]


def executed(url: str, since: int, route: str) -> list[dict[str, Any]]:
    """POSTs to ``route`` (a path fragment) the server ran and did not refuse."""
    return [
        r
        for r in posts(url, since)
        if route in r["path"] and r["executed"] and 200 <= r["status"] < 300
    ]


def escrow_status(url: str, escrow_id: str) -> str:
    state = {e["escrow_id"]: e for e in sim_get(url, "/_sim/state")["escrows"]}
    return str(state[escrow_id]["status"])


@pytest.mark.slow
async def test_complete_releases_failed_disputes_refusals_send_nothing(
    kube: KubernetesEmulator, operator: Operator, sim_server: SimServer
) -> None:
    url = sim_server.url
    paid, _a, _b = agent_escrow(url, Dialect.CLASSIC, amount="2", creator=0, payee=1)
    contested, _a, _c = agent_escrow(url, Dialect.CLASSIC, amount="3", creator=0, payee=2)
    # A streaming escrow: its payee finds it in its own list (a classic one shows only in the
    # creator's ledger, so to the payee alone it would be "not-a-party").
    streamed, _a, payee = agent_escrow(url, Dialect.STREAMING, amount="2", creator=0, payee=3)
    since = last_seq(url)
    await create(kube, job_body("train-ok", "uid-ok", {contract.ESCROW_ID: paid}))
    await create(kube, job_body("train-bad", "uid-bad", {contract.ESCROW_ID: contested}))
    await create(kube, job_body("plain", "uid-plain"))
    refusals = {
        "as-payee": ({contract.ESCROW_ID: streamed, contract.AGENT: payee["label"]}, "not-creator"),
        "stranger": ({contract.ESCROW_ID: "esc_" + "0" * 16}, "not-a-party"),
        "ghost": ({contract.ESCROW_ID: streamed, contract.AGENT: "no-such-agent"}, "unknown-agent"),
        "bad-id": ({contract.ESCROW_ID: "esc 1; rm"}, "bad-escrow-id"),
    }
    for i, (name, (notes, _why)) in enumerate(refusals.items()):
        await create(kube, job_body(name, f"uid-{i}", notes))
        await end(kube, name, "Complete")
    await create(kube, job_body("running", "uid-running", {contract.ESCROW_ID: streamed}))
    await end(kube, "plain", "Complete")
    await operator.start()

    await end(kube, "train-ok", "Complete")  # while the operator watches
    await end(kube, "train-bad", "Failed")
    names = ["train-ok", "train-bad", *refusals]

    async def all_settled() -> bool:
        return None not in [await outcome(kube, name) for name in names]

    await wait_for(all_settled, "every outcome")
    ok, bad = await annotations(kube, "train-ok"), await annotations(kube, "train-bad")
    assert ok[contract.OUTCOME] == "released" and ok[contract.KEY]
    assert bad[contract.OUTCOME] == "disputed" and bad[contract.KEY] != ok[contract.KEY]
    for name, (_notes, why) in refusals.items():
        written = await annotations(kube, name)
        assert written[contract.OUTCOME] == f"refused:{why}", (name, written)
        assert written[contract.MESSAGE]
    assert await annotations(kube, "plain") == {}  # unannotated: ignored
    assert contract.OUTCOME not in await annotations(kube, "running")  # not ended yet
    assert escrow_status(url, paid) == "released"
    assert escrow_status(url, contested) == "disputed"
    assert escrow_status(url, streamed) not in ("released", "disputed")
    assert len(executed(url, since, f"/release/{paid}")) == 1
    assert len(executed(url, since, f"/dispute/{contested}")) == 1
    assert len(posts(url, since)) == 2  # nothing else was sent: the refusals sent nothing
    assert await operator.stop() == 0  # SIGTERM: a clean exit

    records = operator.records()  # every line is one JSON object
    assert {r["msg"] for r in records} >= {"watching jobs", "job settled", "stopped"}
    settled = [r for r in records if r["msg"] == "job settled"]
    assert {r["job"] for r in settled} >= {f"{NS}/{name}" for name in names}
    text = operator.log.read_text()
    assert all(key not in text for key in secrets(url))


async def run_until(
    config: Config,
    kube: KubernetesEmulator,
    check: Callable[[], Awaitable[bool]],
    *,
    resync_s: float = 60.0,
    meanwhile: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """The operator in this process (its loop is the test's) until ``check`` holds; then
    ``meanwhile`` and, if given, until ``check`` holds again."""
    stop = asyncio.Event()
    api = build_api(str(kube.url).rstrip("/"))
    run = run_operator(config, api, NS, stop=stop, signals=False, resync_s=resync_s)
    task = asyncio.create_task(run)
    try:
        await wait_for(check, "the operator")
        if meanwhile is not None:
            await meanwhile()
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 20) == 0


async def test_a_restart_with_the_same_jobs_sends_nothing_twice(
    kube: KubernetesEmulator, sim_server: SimServer, tmp_path: Path
) -> None:
    url = sim_server.url
    config = load_config(write_sim_config(url, tmp_path / "pf"))
    paid, _a, _b = agent_escrow(url, Dialect.CLASSIC, amount="2", creator=0, payee=1)
    contested, _a, _c = agent_escrow(url, Dialect.CLASSIC, amount="3", creator=0, payee=2)
    jobs = (("train-ok", paid, "Complete"), ("train-bad", contested, "Failed"))

    async def make_jobs() -> None:
        for name, escrow_id, condition in jobs:
            await create(kube, job_body(name, f"uid-{name}", {contract.ESCROW_ID: escrow_id}))
            await end(kube, name, condition)

    async def both_settled() -> bool:
        return None not in [await outcome(kube, name) for name, _e, _c in jobs]

    await make_jobs()
    since = last_seq(url)
    await run_until(config, kube, both_settled)
    first = {name: await annotations(kube, name) for name, _e, _c in jobs}
    assert [first[n][contract.OUTCOME] for n, _e, _c in jobs] == ["released", "disputed"]
    assert len(posts(url, since)) == 2

    # A crash after the money moved but before the annotations landed: the same Jobs (same
    # uids) without them. The restart replays the journaled intents (same keys): no request.
    for name, _e, _c in jobs:
        await delete(kube, name)
    await make_jobs()
    replayed_from = last_seq(url)
    await run_until(config, kube, both_settled)
    for name, _e, _c in jobs:
        again = await annotations(kube, name)
        assert again[contract.OUTCOME] == first[name][contract.OUTCOME]
        assert again[contract.KEY] == first[name][contract.KEY]
        assert "replayed" in again[contract.MESSAGE]
    assert posts(url, replayed_from) == []

    # A third start with the outcomes in place: every Job is listed and skipped.
    quiet_from, seen = last_seq(url), len(list(kube))

    async def watched() -> bool:
        return any(r.action == kube.action.WATCH for r in list(kube)[seen:])

    await run_until(config, kube, watched)
    assert posts(url, quiet_from) == []
    assert escrow_status(url, paid) == "released"
    assert escrow_status(url, contested) == "disputed"


def clear_faults(url: str) -> None:
    httpx.delete(f"{url}/_sim/faults", timeout=10).raise_for_status()


@pytest.mark.slow  # ~8 s: the runner's tries against a 503, then a resync
async def test_an_unknown_outcome_is_written_then_reconciled_at_the_next_resync(
    kube: KubernetesEmulator, sim_server: SimServer, tmp_path: Path
) -> None:
    url = sim_server.url
    config = load_config(write_sim_config(url, tmp_path / "pf"))
    paid, _a, _b = agent_escrow(url, Dialect.CLASSIC, amount="2", creator=0, payee=1)
    releases = {"route": f"/escrow/escrow/release/{paid}", "method": "POST"}
    sim_post(url, "/_sim/faults", [{**releases, "kind": "error", "status": 503}])
    await create(kube, job_body("train", "uid-train", {contract.ESCROW_ID: paid}))
    await end(kube, "train", "Complete")
    since = last_seq(url)

    async def unknown() -> bool:
        return await outcome(kube, "train") == "unknown"

    async def released() -> bool:
        return await outcome(kube, "train") == "released"

    async def mend() -> None:
        first = await annotations(kube, "train")
        assert first[contract.KEY]
        assert escrow_status(url, paid) == "funded"
        clear_faults(url)
        await wait_for(released, "the resync to reconcile it")
        assert (await annotations(kube, "train"))[contract.KEY] == first[contract.KEY]

    await run_until(config, kube, unknown, resync_s=1.0, meanwhile=mend)
    assert escrow_status(url, paid) == "released"
    sent = [r for r in posts(url, since) if f"/release/{paid}" in r["path"]]
    assert len({r["idempotency_key"] for r in sent}) == 1  # every try carried the one key
    assert len(executed(url, since, f"/release/{paid}")) == 1
