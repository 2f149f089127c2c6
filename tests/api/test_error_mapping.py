"""Every status 100-599 and transport failure maps to the right typed error and retry decision."""

from __future__ import annotations

import aiohttp
import httpx
import pytest

from pf_tui.api import RetryPolicy
from pf_tui.api import errors as e
from tests.api.helpers import BALANCE_OK, agent_of, mock_client

NO_RETRY = RetryPolicy(max_attempts=1)


def expected_class(status: int) -> type[e.PurpleFleaError] | None:
    """The table the client must follow (None: success)."""
    if 200 <= status < 300:
        return None
    table = {
        400: e.BadRequestError,
        401: e.AuthenticationError,
        402: e.InsufficientBalanceError,
        403: e.PermissionDeniedError,
        404: e.NotFoundError,
        409: e.ConflictError,
        422: e.UnprocessableEntityError,
        429: e.RateLimitError,
        503: e.ServiceUnavailableError,
    }
    if status in table:
        return table[status]
    if 500 <= status <= 599:
        return e.InternalServerError
    return e.UnexpectedStatusError


def expected_retryable(status: int) -> bool:
    return status in (408, 425, 429) or (500 <= status <= 599 and status not in (501, 505))


async def test_every_status_maps_to_its_class_and_retry_decision() -> None:
    async def run(status: int):
        def handler(request: httpx.Request) -> httpx.Response:
            if 200 <= status < 300:
                return httpx.Response(status, content=BALANCE_OK)
            return httpx.Response(
                status, json={"error": f"code_{status}", "message": f"text {status}"}
            )

        client, _ = mock_client(handler, retry=NO_RETRY)
        try:
            return await agent_of(client).balance()
        except e.PurpleFleaError as exc:
            return exc
        finally:
            await client.aclose()

    for status in range(100, 600):
        result = await run(status)
        cls = expected_class(status)
        if cls is None:
            assert not isinstance(result, Exception), status
            continue
        assert type(result) is cls, (status, result)
        assert isinstance(result, e.APIStatusError)
        assert result.status == status and result.code == f"code_{status}"
        assert result.server_message == f"text {status}"
        assert result.endpoint == "GET /auth/balance" and result.service == "casino"
        assert e.is_retryable(result) is expected_retryable(status), status


def test_402_is_payment_required_and_5xx_are_internal() -> None:
    assert e.PaymentRequiredError is e.InsufficientBalanceError
    assert issubclass(e.ServiceUnavailableError, e.InternalServerError)
    assert issubclass(e.APITimeoutError, e.APIConnectionError)
    assert all(
        issubclass(c, e.PurpleFleaError)
        for c in (e.APIStatusError, e.ResponseDecodeError, e.MissingKeyError)
    )


def _chained(outer: BaseException, inner: BaseException) -> BaseException:
    """What httpx_aiohttp raises: its mapped httpx error, ``from`` the aiohttp one."""
    outer.__cause__ = inner
    return outer


def _server_disconnected() -> BaseException:
    # httpx_aiohttp's table turns every ClientConnectionError into ConnectTimeout: a reset is NOT
    # a timeout.
    return _chained(httpx.ConnectTimeout("Server disconnected"), aiohttp.ServerDisconnectedError())


TRANSPORT_CASES = [
    ("connect refused", httpx.ConnectError("refused"), e.APIConnectionError),
    ("connection reset", httpx.ReadError("reset by peer"), e.APIConnectionError),
    ("read timeout", httpx.ReadTimeout("read"), e.APITimeoutError),
    ("write timeout", httpx.WriteTimeout("write"), e.APITimeoutError),
    ("connect timeout", httpx.ConnectTimeout("connect"), e.APITimeoutError),
    ("pool timeout", httpx.PoolTimeout("pool"), e.APITimeoutError),
    ("remote protocol error", httpx.RemoteProtocolError("bad"), e.APIConnectionError),
    ("aiohttp server disconnected (mapped)", _server_disconnected(), e.APIConnectionError),
    (
        "aiohttp sock read timeout (mapped)",
        _chained(httpx.ReadTimeout("t"), aiohttp.SocketTimeoutError("t")),
        e.APITimeoutError,
    ),
    (
        "aiohttp connect timeout (mapped)",
        _chained(httpx.ConnectTimeout("t"), aiohttp.ConnectionTimeoutError("t")),
        e.APITimeoutError,
    ),
    (
        "aiohttp payload error (mapped)",
        _chained(httpx.ReadError("p"), aiohttp.ClientPayloadError("cut")),
        e.APIConnectionError,
    ),
    (
        "aiohttp response error (unmapped)",
        aiohttp.ClientResponseError(None, (), status=400, message="x"),  # type: ignore[arg-type]
        e.APIConnectionError,
    ),
    (
        "aiohttp connection reset (unmapped)",
        aiohttp.ClientConnectionResetError("reset"),
        e.APIConnectionError,
    ),
    ("aiohttp os error (unmapped)", aiohttp.ClientOSError(104, "reset"), e.APIConnectionError),
    ("bare OSError", ConnectionResetError(104, "reset"), e.APIConnectionError),
    ("asyncio timeout", TimeoutError(), e.APITimeoutError),
]


@pytest.mark.parametrize(
    ("name", "raised", "expected"), TRANSPORT_CASES, ids=[c[0] for c in TRANSPORT_CASES]
)
async def test_transport_failures_map_to_typed_errors(
    name: str, raised: BaseException, expected: type
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise raised

    client, _ = mock_client(handler, retry=NO_RETRY)
    with pytest.raises(e.PurpleFleaError) as info:
        await agent_of(client).positions()
    await client.aclose()
    assert type(info.value) is expected
    assert info.value.endpoint == "GET /trade/positions" and info.value.service == "trading"
    assert e.is_retryable(info.value) is True
    assert info.value.__cause__ is None  # no raw transport exception reaches callers, even chained
    assert info.value.__suppress_context__


@pytest.mark.parametrize(
    ("body", "content_type", "expected_words"),
    [
        (b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", "text/html", "HTML"),
        (b'{"balance_usd": 5, "agent', "application/json", "truncated"),
        (b"{not json", "application/json", "malformed"),
        (b"", "application/json", "empty"),
        (b"hello", "text/plain", "not JSON"),
        (b'{"balance_usd": NaN}', "application/json", "malformed"),
    ],
)
async def test_unreadable_2xx_bodies_are_decode_errors(
    body: bytes, content_type: str, expected_words: str
) -> None:
    client, _ = mock_client(
        lambda r: httpx.Response(200, content=body, headers={"content-type": content_type})
    )
    with pytest.raises(e.ResponseDecodeError) as info:
        await agent_of(client).balance()
    await client.aclose()
    assert expected_words in str(info.value)
    assert info.value.endpoint == "GET /auth/balance" and info.value.status == 200
    assert e.is_retryable(info.value) is False


async def test_empty_object_names_the_missing_field() -> None:
    client, _ = mock_client(lambda r: httpx.Response(200, json={}))
    with pytest.raises(e.ResponseDecodeError) as info:
        await agent_of(client).escrow_stats()
    await client.aclose()
    assert info.value.field == "total_created"
    assert str(info.value) == "escrow GET /escrow/stats: field total_created: missing"


async def test_html_error_page_with_5xx_is_a_status_error_with_text_body() -> None:
    page = "<html><body><h1>502</h1>\x1b[31mred\u202eevil</body></html>"
    client, _ = mock_client(lambda r: httpx.Response(502, text=page), retry=NO_RETRY)
    with pytest.raises(e.InternalServerError) as info:
        await agent_of(client).balance()
    await client.aclose()
    assert info.value.status == 502 and info.value.code is None
    assert isinstance(info.value.body, str) and "<h1>502</h1>" in info.value.body


async def test_untrusted_server_text_is_plain() -> None:
    body = {
        "error": "bad\x1b]52;c;AAAA\x07code",
        "message": "[@click=app.quit] \u202egnp.exe\x00 " + "x" * 1000,
    }
    client, _ = mock_client(lambda r: httpx.Response(400, json=body))
    with pytest.raises(e.BadRequestError) as info:
        await agent_of(client).balance()
    await client.aclose()
    text = str(info.value)
    assert "\x1b" not in text and "\u202e" not in text and "\x00" not in text and "\x07" not in text
    assert len(info.value.server_message or "") <= e.MAX_TEXT
    assert (
        "[@click=app.quit]" in text
    )  # kept as text: escaping for display is the TUI's sanitizer's job


async def test_missing_key_is_typed_and_sends_nothing() -> None:
    sent: list[httpx.Request] = []
    client, _ = mock_client(lambda r: sent.append(r) or httpx.Response(200, content=BALANCE_OK))
    agent = client.agent("ag_1", casino_key=None)
    with pytest.raises(e.MissingKeyError) as info:
        await agent.positions()
    await client.aclose()
    assert sent == [] and "trading key" in str(info.value)
