"""The scripted commands against the simulator over HTTP: one execution per intent, reruns with
the same key send nothing new, the JSON against docs/cli.schema.json, every exit code."""

from __future__ import annotations

import asyncio
import os
import stat
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from pf_tui.clock import FakeClock
from pf_tui.sim.http.server import SimServer
from tests.actions.helpers import last_seq, posts, sim_get, sim_post

from .conftest import Runner, check_schema
from .helpers import sim_agents, write_sim_config

DATA_BUYER = "delta-data-buyer-004"
"""Creator of the demo's one streaming escrow (its payee: ember-compute-seller-005)."""
SELLER = "ember-compute-seller-005"
NEWCOMER = "harbor-newcomer-008"
"""No deposit yet: the faucet pays it."""
REASON = "the feed stopped delivering prices"
ESCROW_POSTS = {"route": "/escrow/api/v1/escrow/*", "method": "POST"}
"""A fault rule's match for the streaming escrow's actions."""


def executed(url: str, since: int) -> list[dict[str, Any]]:
    """POSTs after ``since`` that the server ran and did not refuse (money moved)."""
    return [
        r
        for r in posts(url, since)
        if r["executed"] and (r["status"] == 0 or 200 <= r["status"] < 300)
    ]


def demo_escrow(url: str) -> str:
    escrows = sim_get(url, "/_sim/state")["escrows"]
    assert len(escrows) == 1
    return str(escrows[0]["escrow_id"])


def open_stream(pf: Runner, key: str = "open-1", **flags: str) -> dict[str, Any]:
    argv = ["stream", "open", "--agent", DATA_BUYER, "--payee", SELLER, "--rate", "0.01"]
    argv += ["--unit", "call", "--budget", flags.get("budget", "1"), "--yes", "--json"]
    argv += ["--idempotency-key", key]
    ran = pf(*argv)
    assert ran.code == 0, ran
    return ran.json


# ---- reads ------------------------------------------------------------------------------------


def test_escrow_list_json_and_table(pf: Runner, sim_server: SimServer) -> None:
    ran = pf("escrow", "list", "--json")
    assert ran.code == 0
    doc = ran.json
    check_schema(doc, "escrow_list")
    (row,) = doc["escrows"]
    assert row["escrow_id"] == demo_escrow(sim_server.url)
    assert (row["role"], row["dialect"]) == ("creator", "streaming")
    assert (Decimal(row["amount"]), Decimal(row["remaining"])) == (10, 8)
    table = pf("escrow", "list")
    assert table.code == 0
    assert table.out.splitlines()[0].split()[:3] == ["ESCROW", "STATUS", "DIALECT"]
    assert DATA_BUYER in table.out and SELLER in table.out
    # --agent by label or id; --status filters; a shard of 8 agents holds a part of the fleet.
    seller = next(a["agent_id"] for a in sim_agents(sim_server.url) if a["label"] == SELLER)
    assert len(pf("escrow", "list", "--agent", seller, "--json").json["escrows"]) == 1
    assert pf("escrow", "list", "--status", "released", "--json").json["escrows"] == []
    shards = [pf("escrow", "list", "--shard", f"{i}/2", "--json").json for i in range(2)]
    assert sum(len(s["escrows"]) for s in shards) == 1


def test_escrow_show(pf: Runner, sim_server: SimServer) -> None:
    escrow_id = demo_escrow(sim_server.url)
    ran = pf("escrow", "show", escrow_id, "--json")
    assert ran.code == 0
    check_schema(ran.json, "escrow_show")
    assert ran.json["escrow"]["payee_id"].startswith("ag_")
    human = pf("escrow", "show", escrow_id)
    assert "creator_id" in human.out and f"({DATA_BUYER})" in human.out
    missing = pf("escrow", "show", "esc_0000000000000000", "--json")
    assert missing.code == 2
    check_schema(missing.json, "outcome")
    assert missing.json["status"] == "usage"


def test_untrusted_memo_is_escaped_in_table_and_json(pf: Runner, sim_server: SimServer) -> None:
    argv = ["stream", "open", "--agent", DATA_BUYER, "--payee", SELLER, "--rate", "0.01"]
    argv += ["--unit", "call", "--budget", "1", "--yes", "--json", "--memo", "a\x1b[31mred"]
    hostile = pf(*argv)
    assert hostile.code == 0, hostile
    table, as_json = pf("escrow", "list"), pf("escrow", "list", "--json")
    assert "\x1b" not in table.out and "\x1b" not in as_json.out
    assert any("a\\x1b[31mred" in e["description"] for e in as_json.json["escrows"])


# ---- money: once per intent, reruns send nothing -------------------------------------------


def test_stream_open_once_and_a_rerun_sends_nothing(pf: Runner, sim_server: SimServer) -> None:
    url = sim_server.url
    start = last_seq(url)
    first = open_stream(pf, "cron-open-1")
    check_schema(first, "outcome")
    assert first["status"] == "done" and first["replayed"] is False
    assert Decimal(first["amount"]) == 1 and first["kind"] == "open_stream"
    assert len(executed(url, start)) == 1
    again_from = last_seq(url)
    again = open_stream(pf, "cron-open-1")
    check_schema(again, "outcome")
    assert again["replayed"] is True and again["status"] == "done"
    assert again["key"] == first["key"]
    assert posts(url, again_from) == []  # nothing sent at all


def test_key_reused_for_another_action_is_refused(pf: Runner) -> None:
    open_stream(pf, "k-7")
    ran = pf("faucet", "claim", "--agent", NEWCOMER, "--yes", "--json", "--idempotency-key", "k-7")
    assert ran.code == 2
    assert "different action" in ran.json["message"]


def test_stream_release_pause_resume_close(pf: Runner, sim_server: SimServer) -> None:
    url = sim_server.url
    opened = open_stream(pf)
    stream_id = opened["stream_id"]
    start = last_seq(url)
    release = pf("stream", "release", stream_id, "--count", "10", "--yes", "--json")
    assert release.code == 0, release
    check_schema(release.json, "outcome")
    assert Decimal(release.json["amount"]) == Decimal("0.1")
    close = pf("stream", "close", stream_id, "--count", "5", "--yes", "--json")
    assert close.code == 0, close
    assert [r["op"] for r in close.json["requests"]] == ["release_partial", "close"]
    assert len(executed(url, start)) == 3
    closed_again = pf("stream", "close", stream_id, "--yes", "--json")
    assert closed_again.code == 2 and "closed" in closed_again.json["message"]


def test_hourly_stream_pause_and_resume_send_nothing(pf: Runner, sim_server: SimServer) -> None:
    argv = ["stream", "open", "--agent", DATA_BUYER, "--payee", SELLER, "--rate", "0.5"]
    ran = pf(*argv, "--unit", "hour", "--budget", "2", "--yes", "--json")
    assert ran.code == 0, ran
    stream_id = ran.json["stream_id"]
    start = last_seq(sim_server.url)
    paused = pf("stream", "pause", stream_id, "--json")
    assert paused.code == 0 and paused.json["stream_state"] == "paused"
    check_schema(paused.json, "outcome")
    resumed = pf("stream", "resume", stream_id)
    assert resumed.code == 0 and "open" in resumed.out
    assert posts(sim_server.url, start) == []


def test_escrow_release_partial_and_close_of_a_stream_escrow(
    pf: Runner, sim_server: SimServer
) -> None:
    opened = open_stream(pf)
    escrow_id = opened["requests"][0]["escrow_id"]
    part = pf("escrow", "release-partial", escrow_id, "--amount", "0.25", "--yes", "--json")
    assert part.code == 0, part
    assert Decimal(part.json["amount"]) == Decimal("0.25")
    assert part.json["stream_id"] == opened["stream_id"]
    close = pf("escrow", "close", escrow_id, "--yes", "--json")
    assert close.code == 0, close
    state = {e["escrow_id"]: e for e in sim_get(sim_server.url, "/_sim/state")["escrows"]}
    assert state[escrow_id]["status"] == "closed"
    assert Decimal(str(state[escrow_id]["released_usd"])) == Decimal("0.25")


def test_dispute_and_complete(pf: Runner, sim_server: SimServer) -> None:
    url = sim_server.url
    escrow_id = demo_escrow(url)
    short = pf("escrow", "dispute", escrow_id, "--reason", "bad", "--yes", "--json")
    assert short.code == 2 and short.json["status"] == "usage"
    start = last_seq(url)
    ran = pf("escrow", "dispute", escrow_id, "--reason", REASON, "--yes", "--json")
    assert ran.code == 0, ran
    check_schema(ran.json, "outcome")
    assert ran.json["requests"][0]["op"] == "stream_dispute"
    assert len(executed(url, start)) == 1
    assert sim_get(url, "/_sim/state")["escrows"][0]["status"] == "disputed"
    # complete is the payee's, on a classic escrow: the core refuses it here, sending nothing.
    start = last_seq(url)
    refused = pf("escrow", "complete", escrow_id, "--yes", "--json")
    assert refused.code == 2, refused
    assert posts(url, start) == []


def test_complete_then_release_a_classic_escrow(pf: Runner, sim_server: SimServer) -> None:
    from .test_payroll import classic_escrow

    url = sim_server.url
    escrow_id = classic_escrow(url, "1.25")
    start = last_seq(url)
    done = pf("escrow", "complete", escrow_id, "--yes", "--json")  # the payee, found in the fleet
    assert done.code == 0, done
    assert done.json["agent_id"] != done.json["requests"][0]["idempotency_key"]
    released = pf("escrow", "release", escrow_id, "--yes", "--json", "--idempotency-key", "job-7")
    assert released.code == 0, released
    check_schema(released.json, "outcome")
    assert Decimal(released.json["amount"]) == Decimal("1.25")
    assert [r["op"] for r in released.json["requests"]] == ["release"]
    assert sim_get(url, "/_sim/state")["escrows"][-1]["status"] == "released"
    assert len(executed(url, start)) == 2
    again = pf("escrow", "release", escrow_id, "--yes", "--json", "--idempotency-key", "job-7")
    assert (again.code, again.json["replayed"], again.json["escrow_id"]) == (0, True, escrow_id)
    assert len(executed(url, start)) == 2


def test_create_once_then_release(pf: Runner, sim_server: SimServer) -> None:
    url = sim_server.url
    argv = ["escrow", "create", "--agent", DATA_BUYER, "--payee", SELLER, "--amount", "2.5"]
    argv += ["--memo", "job 7: label 1k images", "--yes", "--json", "--idempotency-key", "job-7"]
    start = last_seq(url)
    created = pf(*argv)
    assert created.code == 0, created
    check_schema(created.json, "outcome")
    assert (created.json["kind"], created.json["requests"][0]["op"]) == ("create_escrow", "create")
    escrow_id = created.json["requests"][0]["escrow_id"]
    assert escrow_id.startswith("esc_")
    again = pf(*argv)  # a retried job: the same key, nothing new is created
    assert (again.code, again.json["replayed"], again.json["escrow_id"]) == (0, True, escrow_id)
    assert len(executed(url, start)) == 1
    row = pf("escrow", "show", escrow_id, "--json").json["escrow"]
    assert (row["dialect"], row["role"], Decimal(row["amount"])) == ("classic", "creator", 2.5)
    assert row["description"].startswith("job 7: label 1k images pf:")
    released = pf("escrow", "release", escrow_id, "--yes", "--json")
    assert released.code == 0, released
    assert len(executed(url, start)) == 2


def test_create_streaming_and_release_in_parts(pf: Runner, sim_server: SimServer) -> None:
    argv = ["escrow", "create", "--agent", DATA_BUYER, "--payee", SELLER, "--amount", "3"]
    created = pf(*argv, "--dialect", "streaming", "--yes", "--json")
    assert created.code == 0, created
    assert created.json["requests"][0]["op"] == "stream_create"
    escrow_id = created.json["requests"][0]["escrow_id"]
    part = pf("escrow", "release-partial", escrow_id, "--amount", "1", "--yes", "--json")
    assert part.code == 0, part
    assert part.json["requests"][0]["op"] == "release_partial"
    small = pf(*argv[:-1], "0.05", "--yes", "--json")
    assert small.code == 2 and "at least" in small.json["message"]


def test_release_partial_and_close_of_an_agents_streaming_escrow(
    pf: Runner, sim_server: SimServer
) -> None:
    url = sim_server.url
    escrow_id = demo_escrow(url)
    part = pf("escrow", "release-partial", escrow_id, "--amount", "1.5", "--yes", "--json")
    assert part.code == 0, part
    assert [r["op"] for r in part.json["requests"]] == ["release_partial"]
    close = pf("escrow", "close", escrow_id, "--yes", "--json")
    assert close.code == 0, close
    escrow = sim_get(url, "/_sim/state")["escrows"][0]
    assert escrow["status"] == "closed"
    assert Decimal(str(escrow["released_usd"])) == Decimal("3.5")


def test_a_failed_read_exits_1(pf: Runner, sim_server: SimServer) -> None:
    sim_post(
        sim_server.url,
        "/_sim/faults",
        [{"route": "/escrow/api/v1/escrows*", "kind": "error", "status": 403}],
    )
    ran = pf("escrow", "list", "--json")
    assert ran.code == 1
    check_schema(ran.json, "escrow_list")
    assert ran.json["status"] == "failed" and len(ran.json["errors"]) == 8


# ---- faucet ------------------------------------------------------------------------------------


def test_faucet_not_claimable_exits_0_with_its_reason(pf: Runner, sim_server: SimServer) -> None:
    url = sim_server.url
    newcomer = next(a["agent_id"] for a in sim_agents(url) if a["label"] == NEWCOMER)
    # The newcomer claimed already, from another address (so this one is not IP-limited).
    httpx.post(
        f"{url}/faucet/faucet/claim",
        json={"agent_casino_id": newcomer},
        headers={"X-Forwarded-For": "10.9.8.7"},
        timeout=10,
    ).raise_for_status()
    again = pf("faucet", "claim", "--agent", NEWCOMER, "--yes", "--json")
    assert again.code == 0, again
    check_schema(again.json, "outcome")
    assert (again.json["status"], again.json["reason"]) == ("not_claimable", "already_claimed")
    # 403 has deposits: an agent with money.
    rich = pf("faucet", "claim", "--agent", DATA_BUYER, "--yes", "--json")
    assert (rich.code, rich.json["reason"]) == (0, "has_deposits")
    human = pf("faucet", "claim", "--agent", DATA_BUYER, "--yes")
    assert human.code == 0 and "not_claimable" in human.out and "has_deposits" in human.out


def test_faucet_claim_then_ip_limited_exits_0(pf: Runner, sim_server: SimServer) -> None:
    first = pf("faucet", "claim", "--agent", NEWCOMER, "--yes", "--json")
    assert first.code == 0, first
    check_schema(first.json, "outcome")
    assert first.json["status"] == "done"
    ran = pf("faucet", "claim", "--agent", SELLER, "--yes", "--json")
    assert (ran.code, ran.json["reason"]) == (0, "ip_rate_limited")


# ---- exit codes --------------------------------------------------------------------------------


def test_off_a_terminal_without_yes_is_usage_and_sends_nothing(
    pf: Runner, sim_server: SimServer
) -> None:
    start = last_seq(sim_server.url)
    ran = pf("faucet", "claim", "--agent", NEWCOMER, "--json")
    assert ran.code == 2
    assert "--yes" in ran.json["message"]
    assert posts(sim_server.url, start) == []
    assert pf("faucet", "claim", "--agent", "nobody", "--yes").code == 2


def test_on_a_terminal_it_shows_the_preview_and_asks(pf: Runner, sim_server: SimServer) -> None:
    start = last_seq(sim_server.url)
    no = pf("faucet", "claim", "--agent", NEWCOMER, stdin="n\n")
    assert no.code == 1 and "Claim the faucet" in no.err and "Idempotency-Key" in no.err
    assert posts(sim_server.url, start) == []
    yes = pf("faucet", "claim", "--agent", NEWCOMER, "--json", stdin="y\n")
    assert yes.code == 0 and yes.json["status"] == "done"
    assert "Send? [y/N]" in yes.err


def test_dry_run_sends_nothing(pf: Runner, sim_server: SimServer) -> None:
    start = last_seq(sim_server.url)
    argv = ["stream", "open", "--agent", DATA_BUYER, "--payee", SELLER, "--rate", "0.01"]
    ran = pf(*argv, "--unit", "call", "--budget", "1", "--dry-run")
    assert ran.code == 0 and "Open a stream" in ran.out and "Will send" in ran.out
    assert posts(sim_server.url, start) == []


def test_limit_and_read_only_refuse_with_4(
    pf: Runner, sim_server: SimServer, tmp_path: Path
) -> None:
    limited = write_sim_config(sim_server.url, tmp_path / "lim", max_action_usd="0.5")
    start = last_seq(sim_server.url)
    argv = ["stream", "open", "--agent", DATA_BUYER, "--payee", SELLER, "--rate", "0.01"]
    ran = pf(*argv, "--unit", "call", "--budget", "1", "--yes", "--json", config=limited)
    assert ran.code == 4 and ran.json["status"] == "refused"
    assert ran.json["reason"] == "LimitExceededError"
    read_only = write_sim_config(sim_server.url, tmp_path / "ro", read_only=True)
    ro = pf("faucet", "claim", "--agent", NEWCOMER, "--yes", "--json", config=read_only)
    assert (ro.code, ro.json["reason"]) == (4, "ReadOnlyError")
    assert posts(sim_server.url, start) == []


def test_the_brake_refuses_with_4(pf: Runner, sim_server: SimServer, cli_config: Path) -> None:
    """Another process on the store engaged the stop-all brake: nothing is sent."""
    from pf_tui.config import load_config
    from pf_tui.wiring import open_money

    parts = open_money(load_config(cli_config))
    try:
        parts.engine.engage_brake(parts.engine.preview_brake(), "incident 42: audit")
    finally:
        asyncio.run(parts.aclose())
    start = last_seq(sim_server.url)
    ran = pf("faucet", "claim", "--agent", NEWCOMER, "--yes", "--json")
    assert (ran.code, ran.json["status"], ran.json["reason"]) == (4, "refused", "BrakeEngagedError")
    assert "incident 42" in ran.json["message"]
    assert posts(sim_server.url, start) == []


def test_lost_reply_is_settled_with_the_same_key_and_runs_once(
    pf: Runner, sim_server: SimServer
) -> None:
    url = sim_server.url
    escrow_id = demo_escrow(url)
    # The server disputes, then the connection drops before the reply: the resend with the
    # same key gets the stored reply, so the dispute ran once.
    sim_post(url, "/_sim/faults", [{**ESCROW_POSTS, "kind": "reset", "when": "after"}])
    start = last_seq(url)
    ran = pf("escrow", "dispute", escrow_id, "--reason", REASON, "--yes", "--json")
    assert ran.code == 0, ran
    log = posts(url, start)
    assert any(r["fault"] == "reset" and r["executed"] for r in log)
    assert {r["idempotency_key"] for r in log} == {ran.json["key"]}
    assert len([r for r in log if r["executed"] and r["status"] in (0, 200)]) == 1


def test_unknown_outcome_exits_5_then_a_rerun_reconciles_once(
    pf: Runner, sim_server: SimServer
) -> None:
    url = sim_server.url
    escrow_id = demo_escrow(url)
    sim_post(url, "/_sim/faults", [{**ESCROW_POSTS, "kind": "error", "status": 503}])
    start = last_seq(url)
    argv = ["escrow", "dispute", escrow_id, "--reason", REASON, "--yes", "--json"]
    clock = FakeClock(time.time())  # the backoff between resends passes at once
    lost = pf(*argv, "--idempotency-key", "dispute-1", clock=clock)
    assert lost.code == 5, lost
    assert clock.sleeps  # it did retry, with the same key, before giving up
    check_schema(lost.json, "outcome")
    assert lost.json["status"] == "unknown"
    assert sim_get(url, "/_sim/state")["escrows"][0]["status"] == "funded"
    httpx_delete(url)
    again = pf(*argv, "--idempotency-key", "dispute-1")
    assert again.code == 0, again
    assert again.json["replayed"] is True and again.json["status"] == "done"
    assert again.json["key"] == lost.json["key"]
    assert sim_get(url, "/_sim/state")["escrows"][0]["status"] == "disputed"
    # Every send carried the one key, and the server ran the dispute once.
    log = posts(url, start)
    assert {r["idempotency_key"] for r in log} == {lost.json["key"]}
    assert len([r for r in log if r["executed"] and r["status"] == 200]) == 1
    third = pf(*argv, "--idempotency-key", "dispute-1")
    assert third.code == 0 and third.json["replayed"] is True
    assert len(posts(url, start)) == len(log)


def httpx_delete(url: str) -> None:
    httpx.delete(f"{url}/_sim/faults", timeout=10).raise_for_status()


def test_store_files_are_private(pf: Runner, cli_config: Path) -> None:
    assert pf("faucet", "claim", "--agent", NEWCOMER, "--yes").code == 0
    folder = cli_config.parent
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    for path in folder.iterdir():
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
