"""Retries of reads under a FakeClock: full jitter, budget, Retry-After, reset_at; never POSTs."""

from __future__ import annotations

import random
from email.utils import format_datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pf_tui.api import RetryPolicy
from pf_tui.api import errors as e
from pf_tui.api.retry import parse_reset_at, parse_retry_after
from pf_tui.clock import utc
from tests.api.helpers import BALANCE_OK, agent_of, mock_client


def failing_then_ok(failures: int, response: httpx.Response | None = None):
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) <= failures:
            return response or httpx.Response(503, json={"error": "unavailable"})
        return httpx.Response(200, content=BALANCE_OK)

    return handler, calls


@given(st.integers(min_value=0, max_value=80), st.integers(min_value=0, max_value=2**32))
def test_backoff_is_full_jitter_within_the_cap(attempt: int, seed: int) -> None:
    policy = RetryPolicy(base=0.25, cap=8.0)
    wait = policy.backoff(attempt, random.Random(seed))
    assert 0.0 <= wait <= min(8.0, 0.25 * 2**attempt)


async def test_sleeps_stay_within_bounds_and_then_succeed() -> None:
    policy = RetryPolicy(max_attempts=6, base=0.5, cap=3.0, budget=100.0)
    handler, calls = failing_then_ok(5)
    client, clock = mock_client(handler, retry=policy)
    balance = await agent_of(client).balance()
    await client.aclose()
    assert balance.balance_usd == 5 and len(calls) == 6
    assert len(clock.sleeps) == 5
    for n, slept in enumerate(clock.sleeps):
        assert 0.0 <= slept <= min(3.0, 0.5 * 2**n)
    assert len(set(clock.sleeps)) > 1  # jittered, not a fixed ladder


async def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    handler, calls = failing_then_ok(100)
    client, clock = mock_client(handler, retry=RetryPolicy(max_attempts=4, budget=1000))
    with pytest.raises(e.ServiceUnavailableError):
        await agent_of(client).casino_stats()
    await client.aclose()
    assert len(calls) == 4 and len(clock.sleeps) == 3


async def test_total_budget_is_respected() -> None:
    policy = RetryPolicy(max_attempts=1000, base=1.0, cap=4.0, budget=10.0)
    handler, calls = failing_then_ok(10_000)
    client, clock = mock_client(handler, retry=policy)
    with pytest.raises(e.ServiceUnavailableError):
        await agent_of(client).balance()
    await client.aclose()
    assert sum(clock.sleeps) <= 10.0
    assert len(calls) == len(clock.sleeps) + 1
    assert clock.monotonic() <= 10.0


async def test_retry_after_seconds_is_honoured() -> None:
    handler, _ = failing_then_ok(
        2, httpx.Response(429, headers={"Retry-After": "7"}, json={"error": "rate_limited"})
    )
    client, clock = mock_client(handler, retry=RetryPolicy(max_attempts=3, budget=60))
    assert (await agent_of(client).balance()).balance_usd == 5
    await client.aclose()
    assert clock.sleeps == [7.0, 7.0]


async def test_retry_after_http_date_is_honoured() -> None:
    # The fake clock starts at 2026-01-01T00:00:00Z; the server asks to come back 12 s later.
    date = format_datetime(utc(1_767_225_600 + 12), usegmt=True)
    handler, _ = failing_then_ok(
        1, httpx.Response(503, headers={"Retry-After": date}, json={"error": "busy"})
    )
    client, clock = mock_client(handler, retry=RetryPolicy(max_attempts=2, budget=60))
    await agent_of(client).balance()
    await client.aclose()
    assert clock.sleeps == [12.0]


async def test_reset_at_in_the_body_is_honoured() -> None:
    body = {"error": "rate_limit_exceeded", "message": "slow", "reset_at": "2026-01-01T00:00:30Z"}
    handler, _ = failing_then_ok(1, httpx.Response(429, json=body))
    client, clock = mock_client(handler, retry=RetryPolicy(max_attempts=2, budget=60))
    await agent_of(client).balance()
    await client.aclose()
    assert clock.sleeps == [30.0]


async def test_a_hint_past_the_budget_is_raised_at_once_with_retry_after() -> None:
    handler, calls = failing_then_ok(
        5, httpx.Response(429, headers={"Retry-After": "45"}, json={"error": "rate_limited"})
    )
    client, clock = mock_client(handler, retry=RetryPolicy(max_attempts=5, budget=20))
    with pytest.raises(e.RateLimitError) as info:
        await agent_of(client).balance()
    await client.aclose()
    assert info.value.retry_after == 45.0 and clock.sleeps == [] and len(calls) == 1


async def test_non_retryable_errors_are_not_retried() -> None:
    handler, calls = failing_then_ok(5, httpx.Response(404, json={"error": "not_found"}))
    client, clock = mock_client(handler, retry=RetryPolicy(max_attempts=5))
    with pytest.raises(e.NotFoundError):
        await agent_of(client).escrow("esc_0123456789abcdef")
    await client.aclose()
    assert len(calls) == 1 and clock.sleeps == []


async def test_connection_errors_are_retried() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) < 3:
            raise httpx.ConnectError("refused")
        return httpx.Response(200, content=BALANCE_OK)

    client, clock = mock_client(handler, retry=RetryPolicy(max_attempts=3))
    assert (await agent_of(client).balance()).balance_usd == 5
    await client.aclose()
    assert len(clock.sleeps) == 2


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("0", 0.0),
        ("3", 3.0),
        ("1.5", 1.5),
        ("-2", 0.0),
        ("", None),
        ("soon", None),
        (None, None),
        ("Thu, 01 Jan 2026 00:00:10 GMT", 10.0),
        ("Wed, 31 Dec 2025 23:00:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, 1_767_225_600.0) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-01-01T00:01:00Z", 60.0),
        ("2026-01-01T00:01:00+00:00", 60.0),
        ("2026-01-01T00:01:00", 60.0),
        (1_767_225_605, 5.0),
        (1_767_225_605_000, 5.0),
        ("2025-01-01T00:00:00Z", 0.0),
        ("never", None),
        (None, None),
        (True, None),
    ],
)
def test_parse_reset_at(value: object, expected: float | None) -> None:
    assert parse_reset_at(value, 1_767_225_600.0) == expected
