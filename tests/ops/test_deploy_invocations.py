"""The exact command lines deploy/kubernetes runs work as its comments say they do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import yaml

from pf_tui.sim.http.server import SimServer
from tests.actions.helpers import last_seq, posts

from .conftest import Runner, check_schema
from .helpers import write_sim_config
from .test_commands import NEWCOMER
from .test_payroll import classic_escrow, later

BASE = Path(__file__).parents[2] / "deploy" / "kubernetes" / "base"


def _docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((BASE / name).read_text()) if d]


def _without_config(args: list[str]) -> list[str]:
    """The manifest's args minus ``--config PATH`` (the test gives its own config)."""
    i = args.index("--config")
    return args[:i] + args[i + 2 :]


def init_container_args() -> list[str]:
    deployment = next(d for d in _docs("daemon.yaml") if d["kind"] == "Deployment")
    (init,) = deployment["spec"]["template"]["spec"]["initContainers"]
    return _without_config([str(a) for a in init["args"]])


def cronjob_args() -> list[str]:
    cron = next(d for d in _docs("payroll.yaml") if d["kind"] == "CronJob")
    (container,) = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    return _without_config([str(a) for a in container["args"]])


def test_the_init_container_claims_then_treats_a_second_claim_as_success(
    pf: Runner, sim_server: SimServer, tmp_path: Path
) -> None:
    args = init_container_args()
    assert args[:4] == ["faucet", "claim", "--agent", "agent-1"]
    config = write_sim_config(sim_server.url, tmp_path / "k8s", labels={NEWCOMER: "agent-1"})
    first = pf(*args, config=config)
    assert first.code == 0, first
    check_schema(first.json, "outcome")
    assert first.json["status"] == "done"
    # The pod restarts: the init container runs again and must not block the daemon.
    again = pf(*args, config=config)
    assert again.code == 0
    assert again.json["status"] == "not_claimable"
    assert again.json["reason"] in ("ip_rate_limited", "already_claimed")


def test_the_cronjob_runs_payroll_once_per_hour(pf: Runner, sim_server: SimServer) -> None:
    args = cronjob_args()
    assert args == ["payroll", "--older-than", "50m", "--yes", "--json"]
    url = sim_server.url
    escrow_id = classic_escrow(url, "4")
    clock = later()
    ran = pf(*args, clock=clock)
    assert ran.code == 0, ran
    check_schema(ran.json, "payroll")
    assert escrow_id in {a["escrow_id"] for a in ran.json["actions"]}
    start = last_seq(url)
    clock.advance(1200)
    rerun = pf(*args, clock=clock)  # the Job's backoffLimit retries, or a manual rerun
    assert (rerun.code, rerun.json["status"]) == (0, "nothing")
    assert posts(url, start) == []
    state = httpx.get(f"{url}/_sim/state", timeout=10).json()
    assert {e["escrow_id"]: e["status"] for e in state["escrows"]}[escrow_id] == "released"


def _scripting_blocks(lang: str) -> list[str]:
    readme = (BASE.parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Scripting", 1)[1].split("\n## ", 1)[0]
    return [b.split("\n", 1)[1] for b in section.split("```")[1::2] if b.startswith(lang)]


def test_the_readme_examples_are_the_manifests_invocations() -> None:
    from croniter import croniter

    (cron,) = _scripting_blocks("cron")
    fields = cron.split()
    assert croniter.is_valid(" ".join(fields[:5]))
    assert fields[5:11] == ["pf-tui", *cronjob_args()]
    init_block, cron_block = (yaml.safe_load(b) for b in _scripting_blocks("yaml"))
    assert _without_config(init_block["initContainers"][0]["args"]) == init_container_args()
    job = cron_block["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert _without_config(job["containers"][0]["args"]) == cronjob_args()
