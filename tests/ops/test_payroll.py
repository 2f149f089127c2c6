"""pf-tui payroll: releases what is due once per hour, however often cron reruns it."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import httpx

from pf_tui.clock import FakeClock
from pf_tui.sim.http.server import SimServer
from tests.actions.helpers import last_seq, posts, sim_get, sim_post

from .conftest import Runner, check_schema
from .helpers import sim_agents
from .test_commands import DATA_BUYER, SELLER, executed, open_stream


def classic_escrow(url: str, amount: str, creator: str = DATA_BUYER) -> str:
    """A classic escrow an agent created itself (not through pf-tui)."""
    fleet = {a["label"]: a for a in sim_agents(url)}
    reply = httpx.post(
        f"{url}/escrow/escrow/create",
        json={
            "amount_usd": amount,
            "description": "nightly data batch",
            "counterparty_agent_id": fleet[SELLER]["agent_id"],
            "timeout_hours": 24,
        },
        headers={"Authorization": f"Bearer {fleet[creator]['keys']['casino']}"},
        timeout=10,
    )
    reply.raise_for_status()
    return str(reply.json()["escrow_id"])


def later(hours: float = 2.0) -> FakeClock:
    """A clock ``hours`` after now, ten minutes into its UTC hour (no hour boundary mid-test)."""
    start = (time.time() // 3600 + hours) * 3600 + 600
    return FakeClock(start)


def statuses(url: str) -> dict[str, str]:
    return {e["escrow_id"]: e["status"] for e in sim_get(url, "/_sim/state")["escrows"]}


def payroll(pf: Runner, clock: FakeClock, *flags: str) -> dict[str, Any]:
    ran = pf("payroll", "--older-than", "50m", "--yes", "--json", *flags, clock=clock)
    doc = ran.json
    check_schema(doc, "payroll")
    assert doc["exit_code"] == ran.code
    return doc


def test_payroll_releases_once_per_hour(pf: Runner, sim_server: SimServer) -> None:
    url = sim_server.url
    first, second = classic_escrow(url, "1.50"), classic_escrow(url, "2")
    clock = later()
    start = last_seq(url)
    doc = payroll(pf, clock)
    assert (doc["status"], doc["exit_code"], doc["due"]) == ("done", 0, 3)
    assert {a["escrow_id"] for a in doc["actions"]} >= {first, second}
    assert all(a["status"] == "done" for a in doc["actions"])
    assert len(executed(url, start)) == 3  # two classic releases, one streaming release-partial
    assert statuses(url)[first] == statuses(url)[second] == "released"
    # Cron runs it again within the hour: nothing is due, nothing is sent.
    again_from = last_seq(url)
    clock.advance(60)
    again = payroll(pf, clock)
    assert (again["status"], again["exit_code"], again["due"], again["actions"]) == (
        "nothing",
        0,
        0,
        [],
    )
    assert posts(url, again_from) == []


def test_a_rerun_within_the_hour_reuses_the_key(pf: Runner, sim_server: SimServer) -> None:
    """The same escrow due in two runs of one hour: the second replays the first's intent."""
    url = sim_server.url
    escrow_id = classic_escrow(url, "1")
    clock = later()
    sim_post(
        url,
        "/_sim/faults",
        [{"route": "/escrow/escrow/*", "method": "POST", "kind": "error", "status": 503}],
    )
    start = last_seq(url)
    lost = payroll(pf, clock, "--agent", DATA_BUYER)
    assert (lost["status"], lost["exit_code"]) == ("unknown", 5)
    key = next(a["key"] for a in lost["actions"] if a["escrow_id"] == escrow_id)
    assert statuses(url)[escrow_id] == "funded"
    httpx.delete(f"{url}/_sim/faults", timeout=10).raise_for_status()
    clock.advance(300)
    again = payroll(pf, clock, "--agent", DATA_BUYER)
    assert again["exit_code"] == 0, again
    assert statuses(url)[escrow_id] == "released"
    # Every send for that escrow carried the one key; the server released it once.
    mine = [r for r in posts(url, start) if escrow_id in r["path"]]
    assert {r["idempotency_key"] for r in mine} == {key}
    assert len([r for r in mine if r["executed"] and r["status"] == 200]) == 1


def test_payroll_skips_young_and_stream_escrows_and_dry_run_sends_nothing(
    pf: Runner, sim_server: SimServer
) -> None:
    url = sim_server.url
    opened = open_stream(pf, "payroll-stream")
    young = classic_escrow(url, "1")
    start = last_seq(url)
    now = FakeClock(time.time())
    assert payroll(pf, now)["due"] == 0  # nothing is 50 minutes old yet
    clock = later()
    dry = payroll(pf, clock, "--dry-run")
    assert (dry["status"], dry["exit_code"]) == ("preview", 0)
    assert young in {a["escrow_id"] for a in dry["actions"]}
    assert {s["escrow_id"] for s in dry["skipped"]} == {opened["requests"][0]["escrow_id"]}
    assert posts(url, start) == []
    human = pf("payroll", "--older-than", "50m", "--dry-run", clock=clock)
    assert human.code == 0 and young in human.out and "skipped" in human.out
    bad = pf("payroll", "--older-than", "soon", "--yes", "--json", clock=clock)
    assert bad.code == 2
    assert Decimal(dry["actions"][0]["amount"]) > 0
