"""The client against the simulator over real HTTP on 127.0.0.1, through both transports."""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx
import pytest

from pf_tui.api import PurpleFleaClient, RetryPolicy, ServiceBases
from pf_tui.api import errors as e
from pf_tui.api.models import Dialect, EscrowStatus
from pf_tui.secret import Secret
from pf_tui.usd import loads

TRANSPORTS = ["aiohttp", "httpx"]


def demo_agents(url: str) -> list[dict]:
    return loads(httpx.get(f"{url}/_sim/agents", timeout=10).content)["agents"]


def add_fault(url: str, **rule: object) -> None:
    httpx.post(f"{url}/_sim/faults", json={"rate": 1, **rule}, timeout=10).raise_for_status()


@pytest.fixture(params=TRANSPORTS)
async def client(request, sim_server):
    async with PurpleFleaClient(
        ServiceBases.for_simulator(sim_server.url),
        transport=request.param,
        timeout=2.0,
        retry=RetryPolicy(max_attempts=1),
    ) as c:
        yield c


def agent_client(client: PurpleFleaClient, info: dict):
    keys = info["keys"]
    return client.agent(
        info["agent_id"],
        casino_key=Secret(keys["casino"]),
        trading_key=Secret(keys["trading"]),
        wallet_key=Secret(keys["wallet"]),
    )


async def test_every_read_of_every_agent(client: PurpleFleaClient, sim_server) -> None:
    agents = demo_agents(sim_server.url)
    assert len(agents) == 8
    for info in agents:
        a = agent_client(client, info)
        balance = await a.balance()
        assert balance.agent_id == info["agent_id"] and isinstance(balance.balance_usd, Decimal)
        assert (await a.docs_balance()).balance_usd == balance.balance_usd
        await a.ledger()
        stats = await a.casino_stats()
        docs_stats = await a.docs_casino_stats()
        if docs_stats.win_rate is None:
            assert stats.total_bets is not None
        else:
            assert docs_stats.win_rate <= 1
        await a.bets(limit=5)
        await a.docs_recent()
        await a.casino_referrals()
        await a.trading_referrals()
        await a.wallet_referrals()
        docs_refs = await a.docs_referrals()
        assert docs_refs.total_referrals >= 0
        positions = await a.positions()
        docs_positions = await a.docs_positions()
        assert len(positions.items) == len(docs_positions.items)
        await a.pnl_history(days=30)
        await a.drawdown(days=30)
        await a.docs_pnl()
        await a.docs_error_stats()
        addresses = info["addresses"]
        wallet = await a.wallet_balance(addresses.get("base"), addresses.get("solana"))
        assert wallet.total_usd == sum((b.usdc_balance for b in wallet.balances), Decimal(0))
        assert await a.streams() == tuple(await a.streams())
    assert (await agent_client(client, agents[0]).escrow_stats()).total_created >= 0
    for service in ("casino", "escrow", "faucet", "trading", "wallet", "docs"):
        assert await agent_client(client, agents[0]).health(service), service
    assert client.latency.stats("casino GET /auth/balance").ok == 8


async def test_escrow_round_trip_both_dialects(client: PurpleFleaClient, sim_server) -> None:
    first, second = demo_agents(sim_server.url)[:2]
    payer, payee = agent_client(client, first), agent_client(client, second)
    assert await payer.probe_escrow_dialect() is Dialect.STREAMING
    created = await payer.create_escrow(
        second["agent_id"],
        Decimal("0.50"),
        "api test pf:0000abcd",
        idempotency_key=str(uuid.uuid4()),
    )
    assert created.status is EscrowStatus.FUNDED and created.amount == Decimal("0.5")
    via_docs = await payer.escrow(created.escrow_id, Dialect.STREAMING)
    assert via_docs.status is EscrowStatus.FUNDED and via_docs.amount == created.amount
    done = await payee.complete_escrow(created.escrow_id, idempotency_key=str(uuid.uuid4()))
    assert done.status is EscrowStatus.COMPLETED
    released = await payer.release_escrow(created.escrow_id, idempotency_key=str(uuid.uuid4()))
    assert released.status is EscrowStatus.RELEASED
    with pytest.raises(e.ConflictError) as info:
        await payer.release_escrow(created.escrow_id, idempotency_key=str(uuid.uuid4()))
    assert info.value.code == "invalid_status"

    stream = await payer.create_stream(
        second["agent_id"], Decimal("1"), "stream pf:0000beef", idempotency_key=str(uuid.uuid4())
    )
    assert stream.dialect is Dialect.STREAMING and stream.remaining == Decimal(1)
    part = await payer.release_partial(
        stream.escrow_id, Decimal("0.25"), "tick", idempotency_key=str(uuid.uuid4())
    )
    assert part.released == Decimal("0.25") and part.status is EscrowStatus.FUNDED
    closed = await payer.close_stream(stream.escrow_id, idempotency_key=str(uuid.uuid4()))
    assert closed.status is EscrowStatus.CLOSED
    assert stream.escrow_id in {s.escrow_id for s in await payer.streams()}


async def test_same_idempotency_key_replays(client: PurpleFleaClient, sim_server) -> None:
    first, second = demo_agents(sim_server.url)[:2]
    payer = agent_client(client, first)
    key = str(uuid.uuid4())
    one = await payer.create_stream(second["agent_id"], Decimal("0.2"), "m", idempotency_key=key)
    two = await payer.create_stream(second["agent_id"], Decimal("0.2"), "m", idempotency_key=key)
    assert one == two
    with pytest.raises(e.UnprocessableEntityError):
        await payer.create_stream(second["agent_id"], Decimal("0.3"), "m", idempotency_key=key)


async def test_casino_and_trading_writes(client: PurpleFleaClient, sim_server) -> None:
    info = demo_agents(sim_server.url)[0]
    a = agent_client(client, info)
    flip = await a.coin_flip("heads", Decimal("0.10"), idempotency_key=str(uuid.uuid4()))
    assert flip.amount_won in (Decimal(0), Decimal("0.2"), Decimal("0.20")) or flip.amount_won >= 0
    roll = await a.dice("over", 50, Decimal("0.10"), idempotency_key=str(uuid.uuid4()))
    assert roll.new_balance >= 0
    opened = await a.open_position(
        "BTC", "long", Decimal("10"), 2, idempotency_key=str(uuid.uuid4())
    )
    assert opened.position_id in {p.position_id for p in (await a.positions()).items}
    closed = await a.close_position(opened.position_id, idempotency_key=str(uuid.uuid4()))
    assert closed.position_id == opened.position_id
    reg = await client.agent(None, casino_key=None).register()
    assert reg.agent_id.startswith("ag_") and reg.api_key


async def test_faucet_claim(client: PurpleFleaClient, sim_server) -> None:
    a = agent_client(client, demo_agents(sim_server.url)[0])
    anon = client.agent(None, casino_key=None)
    await anon.register()  # the day's first registration takes the internal bucket's dollar (§7)
    reg = await anon.register()
    # Production serves POST /faucet/claim on the faucet host: /faucet/faucet/claim under the mount.
    claim = await a.claim_faucet(reg.agent_id, idempotency_key=str(uuid.uuid4()))
    assert claim.not_claimable is None and claim.credited == 1 and claim.agent_id == reg.agent_id
    again = await a.claim_faucet(reg.agent_id, idempotency_key=str(uuid.uuid4()))
    assert again.not_claimable == "ip_rate_limited" and again.credited == 0


FAULTS = [
    ("error", {}, e.ServiceUnavailableError),
    ("error", {"status": 500, "body": "<b>\x1b[2Jboom</b>"}, e.InternalServerError),
    ("rate_limit", {"retry_after_s": 3}, e.RateLimitError),
    ("html", {}, e.InternalServerError),
    ("html", {"status": 200}, e.ResponseDecodeError),
    ("malformed", {}, e.ResponseDecodeError),
    ("truncate", {}, e.ResponseDecodeError),
    ("empty", {}, e.ResponseDecodeError),
    ("reset", {}, e.APIConnectionError),
    ("hang", {}, e.APITimeoutError),
]


@pytest.mark.parametrize(
    ("kind", "extra", "expected"), FAULTS, ids=[f"{f[0]}-{i}" for i, f in enumerate(FAULTS)]
)
async def test_faults_map_to_typed_errors(
    sim_server, kind: str, extra: dict, expected: type
) -> None:
    info = demo_agents(sim_server.url)[0]
    add_fault(sim_server.url, route="/casino/api/v1/auth/balance", kind=kind, **extra)
    for transport in TRANSPORTS:
        async with PurpleFleaClient(
            ServiceBases.for_simulator(sim_server.url),
            transport=transport,
            timeout=0.3,
            retry=RetryPolicy(max_attempts=1),
        ) as c:
            with pytest.raises(e.PurpleFleaError) as caught:
                await agent_client(c, info).balance()
        assert type(caught.value) is expected, (transport, caught.value)
        assert caught.value.endpoint == "GET /auth/balance"
        assert info["keys"]["casino"] not in repr(caught.value)
        if kind == "rate_limit":
            assert caught.value.retry_after == 3.0  # type: ignore[attr-defined]
        if kind == "empty":
            assert caught.value.field == "balance_usd"  # type: ignore[attr-defined]
        if kind == "error" and "body" in extra:
            assert "\x1b" not in str(caught.value)


async def test_connection_refused_maps_for_both_transports() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for transport in TRANSPORTS:
        async with PurpleFleaClient(
            ServiceBases.for_simulator(f"http://127.0.0.1:{port}"),
            transport=transport,
            timeout=1.0,
            retry=RetryPolicy(max_attempts=1),
        ) as c:
            with pytest.raises(e.APIConnectionError) as caught:
                await c.agent("ag_x", casino_key="k").balance()
        assert type(caught.value) is e.APIConnectionError and "connect" in str(caught.value)
