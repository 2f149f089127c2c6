"""Inputs are parsed to Decimal or refused before any request; keys are one per intent."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pf_tui.core.money.journal import request_key, tag_for
from pf_tui.core.money.types import (
    ActionInFlightError,
    ActionValidationError,
    DisputeEscrow,
    LimitExceededError,
    OpenStream,
    ReadOnlyError,
    ReleasePartial,
    Resource,
    StreamMode,
    StreamUnit,
)
from pf_tui.sim.http.server import SimServer

from .helpers import Harness, agents, money_requests

LIMIT = Decimal("50")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1e3", "exponent"),
        ("-0", "negative zero"),
        ("NaN", "not a finite amount"),
        ("Infinity", "not a finite amount"),
        ("1" * 40, "too large"),
        ("1,5", "separator"),
        ("50.000001", "over the limit"),
        ("0", "more than 0"),
        ("0.0000001", "decimal places"),
    ],
)
async def test_bad_amounts_refused_before_the_network(
    sim: SimServer, tmp_path: Path, text: str, expected: str
) -> None:
    h = Harness(sim.url, tmp_path / "s.sqlite3", max_action_usd=LIMIT)
    try:
        fleet = agents(sim.url)
        before = money_requests(sim.url)[-1]["seq"] if money_requests(sim.url) else 0
        with pytest.raises(ActionValidationError) as info:
            await h.engine.preview(
                OpenStream(
                    fleet[0]["agent_id"],
                    fleet[1]["agent_id"],
                    "0.01",
                    StreamUnit.CALL,
                    text,
                    "0.10",
                )
            )
        assert expected in str(info.value)
        assert info.value.field == "budget"
        if expected == "over the limit":
            assert isinstance(info.value, LimitExceededError)
        assert money_requests(sim.url, before) == []  # not even a balance read
    finally:
        await h.aclose()


async def test_good_amounts_parse_to_decimal(sim: SimServer, tmp_path: Path) -> None:
    h = Harness(sim.url, tmp_path / "s.sqlite3", max_action_usd=LIMIT)
    try:
        assert h.engine.parse_amount("0.1", "amount") == Decimal("0.1")
        assert h.engine.parse_amount("50", "amount") == Decimal("50")
        fleet = agents(sim.url)
        preview = await h.engine.preview(
            OpenStream(
                fleet[0]["agent_id"],
                fleet[1]["agent_id"],
                "0.01",
                StreamUnit.CALL,
                "0.1",
                "0.1",
                mode=StreamMode.TRANCHE,
            )
        )
        assert preview.amount == Decimal("0.1") and isinstance(preview.amount, Decimal)
        assert preview.requests[0].body is not None and preview.requests[0].body[
            "amount_usd"
        ] == Decimal("0.1")
        assert preview.balance_after == preview.balance_before - Decimal("0.1")  # type: ignore[operator]
    finally:
        await h.aclose()


async def test_over_limit_release_never_leaves(sim: SimServer, tmp_path: Path) -> None:
    h = Harness(sim.url, tmp_path / "s.sqlite3", max_action_usd=Decimal("1"))
    try:
        fleet = agents(sim.url)
        opened = await h.engine.execute(
            await h.engine.preview(
                OpenStream(
                    fleet[0]["agent_id"],
                    fleet[1]["agent_id"],
                    "0.5",
                    StreamUnit.CALL,
                    "3",
                    "0.5",
                    mode=StreamMode.TRANCHE,
                )
            )
        )
        assert opened.done
        sid = h.engine.streams()[0].id
        before = money_requests(sim.url)[-1]["seq"]
        with pytest.raises(LimitExceededError):
            await h.engine.preview(ReleasePartial(sid, count=3))  # $1.50 owed > $1 limit
        with pytest.raises(ActionValidationError, match="reason"):
            await h.engine.preview(
                DisputeEscrow(fleet[0]["agent_id"], "esc_0000000000000000", "too short")
            )
        assert money_requests(sim.url, before) == []
    finally:
        await h.aclose()


async def test_read_only_refuses_everything(sim: SimServer, tmp_path: Path) -> None:
    h = Harness(sim.url, tmp_path / "s.sqlite3", read_only=True)
    try:
        fleet = agents(sim.url)
        with pytest.raises(ReadOnlyError):
            await h.engine.preview(
                OpenStream(
                    fleet[0]["agent_id"], fleet[1]["agent_id"], "0.01", StreamUnit.CALL, "1", "0.1"
                )
            )
    finally:
        await h.aclose()


async def test_one_action_at_a_time_per_stream(sim: SimServer, tmp_path: Path) -> None:
    h = Harness(sim.url, tmp_path / "s.sqlite3")
    try:
        fleet = agents(sim.url)
        await h.engine.execute(
            await h.engine.preview(
                OpenStream(
                    fleet[0]["agent_id"], fleet[1]["agent_id"], "0.01", StreamUnit.CALL, "1", "0.1"
                )
            )
        )
        sid = h.engine.streams()[0].id
        first = await h.engine.preview(ReleasePartial(sid, count=1))
        h.engine._busy[Resource.stream(sid)] = first.key
        with pytest.raises(ActionInFlightError, match="in flight"):
            await h.engine.preview(ReleasePartial(sid, count=1))
        h.engine._busy.clear()
        # Two identical intents are two payments with two keys; re-executing one preview is not.
        second = await h.engine.preview(ReleasePartial(sid, count=1))
        assert first.key != second.key
        assert (await h.engine.execute(first)).done
        again = await h.engine.execute(first)
        assert again.done and again.key == first.key
        assert h.engine.stream(sid).released == Decimal("0.01")
    finally:
        await h.aclose()


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(total=st.integers(min_value=1, max_value=12))
def test_derived_keys_and_tags_are_numbered_in_send_order(total: int) -> None:
    intent = str(uuid.uuid4())
    keys = [request_key(intent, seq, total) for seq in range(1, total + 1)]
    tags = [tag_for(intent, seq, total) for seq in range(1, total + 1)]
    assert len(set(keys)) == total and len(set(tags)) == total
    if total == 1:
        assert keys == [intent] and tags == ["pf:" + intent.replace("-", "")[:8]]
    else:
        assert keys == [f"{intent}/{n}" for n in range(1, total + 1)]
        assert all(
            t.endswith(f"/{n}") and t.startswith("pf:" + intent[:8]) for n, t in enumerate(tags, 1)
        )
