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
    ReadOnlyError,
    ReleasePartial,
    Resource,
    StreamMode,
)
from pf_tui.sim.http.server import SimServer

from .helpers import Harness, last_seq, money_requests, open_intent

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
    async with Harness(sim.url, tmp_path / "s.sqlite3", max_action_usd=LIMIT) as h:
        before = last_seq(sim.url)
        with pytest.raises(ActionValidationError) as info:
            await h.engine.preview(open_intent(sim.url, budget=text, batch="0.10"))
        assert expected in str(info.value)
        assert info.value.field == "budget"
        if expected == "over the limit":
            assert isinstance(info.value, LimitExceededError)
        assert money_requests(sim.url, before) == []  # not even a balance read


async def test_good_amounts_parse_to_decimal(sim: SimServer, tmp_path: Path) -> None:
    async with Harness(sim.url, tmp_path / "s.sqlite3", max_action_usd=LIMIT) as h:
        assert h.engine.parse_amount("0.1", "amount") == Decimal("0.1")
        assert h.engine.parse_amount("50", "amount") == Decimal("50")
        preview = await h.engine.preview(
            open_intent(sim.url, budget="0.1", batch="0.1", mode=StreamMode.TRANCHE)
        )
        assert preview.amount == Decimal("0.1") and isinstance(preview.amount, Decimal)
        body = preview.requests[0].body
        assert body is not None and body["amount_usd"] == Decimal("0.1")
        assert preview.balance_before is not None
        assert preview.balance_after == preview.balance_before - Decimal("0.1")


async def test_over_limit_release_never_leaves(sim: SimServer, tmp_path: Path) -> None:
    async with Harness(sim.url, tmp_path / "s.sqlite3", max_action_usd=Decimal("1")) as h:
        stream = await h.open_stream(
            open_intent(sim.url, rate="0.5", budget="3", batch="0.5", mode=StreamMode.TRANCHE)
        )
        before = last_seq(sim.url)
        with pytest.raises(LimitExceededError):
            await h.engine.preview(ReleasePartial(stream.id, count=3))  # $1.50 owed > $1 limit
        with pytest.raises(ActionValidationError, match="reason"):
            await h.engine.preview(
                DisputeEscrow(stream.agent_id, "esc_0000000000000000", "too short")
            )
        assert money_requests(sim.url, before) == []


async def test_read_only_refuses_everything(sim: SimServer, tmp_path: Path) -> None:
    async with Harness(sim.url, tmp_path / "s.sqlite3", read_only=True) as h:
        with pytest.raises(ReadOnlyError):
            await h.engine.preview(open_intent(sim.url))


async def test_one_action_at_a_time_per_stream(harness: Harness) -> None:
    stream = await harness.open_stream(open_intent(harness.url))
    first = await harness.engine.preview(ReleasePartial(stream.id, count=1))
    harness.engine._busy[Resource.stream(stream.id)] = first.key
    with pytest.raises(ActionInFlightError, match="in flight"):
        await harness.engine.preview(ReleasePartial(stream.id, count=1))
    harness.engine._busy.clear()
    # Two identical intents are two payments with two keys; re-executing one preview is not.
    second = await harness.engine.preview(ReleasePartial(stream.id, count=1))
    assert first.key != second.key
    assert (await harness.engine.execute(first)).done
    again = await harness.engine.execute(first)
    assert again.done and again.key == first.key
    assert harness.engine.stream(stream.id).released == Decimal("0.01")


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
