"""Writes: an Idempotency-Key on each money POST, bodies per docs/api.md, no retries, refusals.

Faucet refusals (409, IP-limited, has deposits) are answers, not failures.
"""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from pf_tui.api import RetryPolicy
from pf_tui.api import errors as e
from pf_tui.api.models import Dialect, EscrowStatus
from pf_tui.usd import loads
from tests.api import fixtures as fx
from tests.api.helpers import CANARY, CANARY_TRADE, agent_of, mock_client

ESC = "esc_0123456789abcdef"
STREAM_REPLY = fx.DOCS_STREAM.encode()


def replies(request: httpx.Request) -> httpx.Response:
    """A plausible reply for every write route."""
    path = request.url.path
    if request.method == "GET" and path.endswith(f"/escrow/escrow/{ESC}"):
        return httpx.Response(200, content=fx.PROD_ESCROW.encode())
    if path.endswith("/escrow/create"):
        return httpx.Response(201, content=fx.PROD_ESCROW.encode())
    if "/escrow/escrow/" in path and not path.startswith("/escrow/api"):
        return httpx.Response(200, json={"escrow_id": ESC, "status": "released"})
    if path.startswith("/escrow/api/v1/"):
        return httpx.Response(201 if path.endswith("/escrow") else 200, content=STREAM_REPLY)
    if path.endswith("/faucet/claim"):
        return httpx.Response(
            200, json={"credited": 1, "claim_id": "c1", "agent_id": "ag_0123456789ab"}
        )
    if path.endswith("/auth/register"):
        return httpx.Response(
            201,
            json={
                "agent_id": "ag_new",
                "api_key": "sk_live_new",
                "referral_code": "ref_1",
                "balance": 0,
                "tier": "free",
            },
        )
    if "/games/" in path:
        return httpx.Response(
            200,
            json={
                "bet_id": "b1",
                "won": True,
                "amount_won": 1.99,
                "new_balance": 10.99,
                "payout_multiplier": 1.99,
            },
        )
    if path.endswith("/trade/open"):
        return httpx.Response(
            200, content=fx.PROD_POSITIONS_HL.split("[", 1)[1].rsplit("]", 1)[0].encode()
        )
    if path.endswith("/trade/close"):
        return httpx.Response(
            200,
            json={
                "position_id": "pos_6f1c",
                "coin": "BTC",
                "status": "closed",
                "exit_price": 101000,
                "realized_pnl": 1,
                "fee": 0.1,
                "net_pnl": 0.9,
            },
        )
    return httpx.Response(404, json={"error": "not_found"})


MONEY_WRITES = [
    (
        "create_escrow",
        lambda a, k: a.create_escrow(
            "ag_ba9876543210", Decimal("10.00"), "data feed", idempotency_key=k
        ),
        "/escrow/escrow/create",
        {
            "amount_usd": Decimal("10.00"),
            "description": "data feed",
            "counterparty_agent_id": "ag_ba9876543210",
            "timeout_hours": 24,
        },
    ),
    (
        "complete_escrow",
        lambda a, k: a.complete_escrow(ESC, idempotency_key=k),
        f"/escrow/escrow/complete/{ESC}",
        {},
    ),
    (
        "release_escrow",
        lambda a, k: a.release_escrow(ESC, idempotency_key=k),
        f"/escrow/escrow/release/{ESC}",
        {},
    ),
    (
        "dispute_escrow",
        lambda a, k: a.dispute_escrow(ESC, "no data", idempotency_key=k),
        f"/escrow/escrow/dispute/{ESC}",
        {"reason": "no data"},
    ),
    (
        "create_stream",
        lambda a, k: a.create_stream("ag_ba9876543210", Decimal("10"), "memo", idempotency_key=k),
        "/escrow/api/v1/escrow",
        {
            "to_agent_id": "ag_ba9876543210",
            "amount": "10.00",
            "memo": "memo",
            "auto_release_hours": 24,
        },
    ),
    (
        "release_partial",
        lambda a, k: a.release_partial(ESC, Decimal("0.125"), "tick", idempotency_key=k),
        f"/escrow/api/v1/escrow/{ESC}/release-partial",
        {"amount": "0.125", "memo": "tick"},
    ),
    (
        "close_stream",
        lambda a, k: a.close_stream(ESC, idempotency_key=k),
        f"/escrow/api/v1/escrow/{ESC}/close",
        {},
    ),
    (
        "dispute_stream",
        lambda a, k: a.dispute_stream(ESC, "late", idempotency_key=k),
        f"/escrow/api/v1/escrow/{ESC}/dispute",
        {"reason": "late"},
    ),
    (
        "claim_faucet",
        lambda a, k: a.claim_faucet("ag_0123456789ab", idempotency_key=k),
        "/faucet/faucet/claim",
        {"agent_casino_id": "ag_0123456789ab"},
    ),
    (
        "coin_flip",
        lambda a, k: a.coin_flip("heads", Decimal("1.00"), idempotency_key=k),
        "/casino/api/v1/games/coin-flip",
        {"side": "heads", "amount": Decimal("1.00")},
    ),
    (
        "dice",
        lambda a, k: a.dice("over", 50, Decimal("0.5"), idempotency_key=k),
        "/casino/api/v1/games/dice",
        {"direction": "over", "threshold": 50, "amount": Decimal("0.5")},
    ),
    (
        "open_position",
        lambda a, k: a.open_position("BTC", "long", Decimal("100"), 5, idempotency_key=k),
        "/trading/v1/trade/open",
        {"coin": "BTC", "side": "long", "size_usd": Decimal("100"), "leverage": 5},
    ),
    (
        "close_position",
        lambda a, k: a.close_position("pos_6f1c", idempotency_key=k),
        "/trading/v1/trade/close",
        {"position_id": "pos_6f1c"},
    ),
]


@pytest.mark.parametrize(
    ("name", "call", "path", "body"), MONEY_WRITES, ids=[w[0] for w in MONEY_WRITES]
)
async def test_money_post_carries_the_key_and_its_body(name, call, path, body) -> None:
    sent: list[httpx.Request] = []
    client, _ = mock_client(lambda r: sent.append(r) or replies(r))
    result = await call(agent_of(client), "3f0c-intent/1")
    await client.aclose()
    posts = [r for r in sent if r.method == "POST"]
    assert len(posts) == 1
    post = posts[0]
    assert post.url.path == path
    assert post.headers["Idempotency-Key"] == "3f0c-intent/1"
    assert loads(post.content) == body
    if path.startswith(("/escrow", "/casino")) and "faucet" not in path:
        assert post.headers["Authorization"] == f"Bearer {CANARY}"
    if path.startswith("/trading"):
        assert post.headers["Authorization"] == f"Bearer {CANARY_TRADE}"
    if path.startswith("/faucet"):
        assert "Authorization" not in post.headers
    assert result is not None


@pytest.mark.parametrize(
    ("name", "call", "path", "body"), MONEY_WRITES, ids=[w[0] for w in MONEY_WRITES]
)
async def test_money_post_is_never_retried(name, call, path, body) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.method == "POST":
            return httpx.Response(503, headers={"Retry-After": "1"}, json={"error": "unavailable"})
        return replies(request)

    client, clock = mock_client(handler, retry=RetryPolicy(max_attempts=10, budget=100))
    with pytest.raises(e.ServiceUnavailableError):
        await call(agent_of(client), "k-1")
    await client.aclose()
    assert [r.method for r in sent] == ["POST"] and clock.sleeps == []


@pytest.mark.parametrize("name", [w[0] for w in MONEY_WRITES])
def test_money_writes_require_the_key(name) -> None:
    import inspect

    from pf_tui.api.agent import AgentClient

    param = inspect.signature(getattr(AgentClient, name)).parameters["idempotency_key"]
    assert param.kind is inspect.Parameter.KEYWORD_ONLY and param.default is inspect.Parameter.empty


async def test_connection_loss_on_post_is_not_retried() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        raise httpx.ReadTimeout("lost reply")

    client, clock = mock_client(handler, retry=RetryPolicy(max_attempts=5))
    with pytest.raises(e.APITimeoutError):
        await agent_of(client).create_escrow(
            "ag_ba9876543210", Decimal("1"), "abc", idempotency_key="k"
        )
    await client.aclose()
    assert len(sent) == 1 and clock.sleeps == []


async def test_classic_transition_reads_the_escrow_back() -> None:
    sent: list[httpx.Request] = []
    client, _ = mock_client(lambda r: sent.append(r) or replies(r))
    escrow = await agent_of(client).release_escrow(ESC, idempotency_key="k")
    await client.aclose()
    assert [(r.method, r.url.path) for r in sent] == [
        ("POST", f"/escrow/escrow/release/{ESC}"),
        ("GET", f"/escrow/escrow/{ESC}"),
    ]
    assert escrow.escrow_id == ESC and escrow.amount == Decimal(10)


async def test_stream_writes_return_the_stream_object() -> None:
    client, _ = mock_client(replies)
    escrow = await agent_of(client).create_stream(
        "ag_ba9876543210", Decimal("10"), "m", idempotency_key="k"
    )
    await client.aclose()
    assert escrow.dialect is Dialect.STREAMING and escrow.status is EscrowStatus.FUNDED


@pytest.mark.parametrize(
    ("status", "code"), [(409, "already_claimed"), (429, "ip_rate_limited"), (403, "has_deposits")]
)
async def test_faucet_not_claimable_is_a_value(status: int, code: str) -> None:
    client, _ = mock_client(lambda r: httpx.Response(status, json={"error": code, "message": "no"}))
    claim = await agent_of(client).claim_faucet("ag_0123456789ab", idempotency_key="k")
    await client.aclose()
    assert claim.not_claimable == code and claim.credited == 0


@pytest.mark.parametrize(
    ("status", "code", "exc"),
    [
        (429, "rate_limited", e.RateLimitError),
        (404, "agent_not_found", e.NotFoundError),
        (400, "invalid_request", e.BadRequestError),
    ],
)
async def test_faucet_failures_stay_errors(status: int, code: str, exc: type) -> None:
    client, _ = mock_client(lambda r: httpx.Response(status, json={"error": code}))
    with pytest.raises(exc):
        await agent_of(client).claim_faucet("ag_0123456789ab", idempotency_key="k")
    await client.aclose()


async def test_register_sends_no_auth_and_hides_the_new_key() -> None:
    sent: list[httpx.Request] = []
    client, _ = mock_client(lambda r: sent.append(r) or replies(r))
    reg = await client.agent(None, casino_key=None).register("ref_1")
    await client.aclose()
    assert reg.agent_id == "ag_new" and "sk_live_new" not in repr(reg)
    assert "Authorization" not in sent[0].headers and loads(sent[0].content) == {
        "referral_code": "ref_1"
    }


async def test_a_float_amount_is_refused_before_sending() -> None:
    sent: list[httpx.Request] = []
    client, _ = mock_client(lambda r: sent.append(r) or replies(r))
    with pytest.raises(TypeError):
        await agent_of(client).coin_flip("heads", 0.1, idempotency_key="k")  # type: ignore[arg-type]
    await client.aclose()
    assert sent == []
