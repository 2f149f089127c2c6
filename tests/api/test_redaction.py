"""Every configured secret is masked in everything the client hands back, whatever the status.

The client knows every agent's keys (each view it makes adds them) and whatever the caller passes
as a redactor (in pf-tui every secret of the config), and masks them in 2xx replies, error bodies
and messages, and decode errors, in every form a server may have turned them into.
"""

from __future__ import annotations

import base64
import json
import random
from urllib.parse import quote

import httpx
import pytest

from pf_tui.api import PurpleFleaClient, ServiceBases
from pf_tui.api import errors as e
from pf_tui.api.errors import plain_text
from pf_tui.clock import FakeClock
from pf_tui.secret import MASK, Redactor, Secret
from pf_tui.text import fit
from tests.api.helpers import CANARY, agent_of, mock_client

OTHER = "sk_live_OTHERAGENT_aaaabbbbccccddddeeeeffff000011112222333344"
WEBHOOK = "https://hooks.example.com/services/T0CANARY/B0CANARY/whtokCANARY1234567890"


def encodings(secret: str) -> list[str]:
    """The forms a leak check looks for: raw, base64 (both alphabets), URL- and JSON-encoded."""
    raw = secret.encode()
    return [
        secret,
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        quote(secret, safe=""),
        json.dumps(secret)[1:-1],
    ]


def assert_no_secret(text: str, *secrets: str) -> None:
    for secret in secrets:
        for form in encodings(secret):
            assert form not in text, f"a form of a secret leaked: {form[:12]}..."


def escrow_reply(memo: str) -> dict[str, object]:
    return {
        "escrow_id": "esc_0123456789abcdef",
        "status": "locked",
        "amount": "5.00",
        "released": "0.00",
        "remaining": "5.00",
        "to_agent_id": "ag_0123456789ac",
        "memo": memo,
        "created_at": "2026-01-01T00:00:00Z",
        "auto_release_at": "2026-01-02T00:00:00Z",
    }


def client_with(handler, *, extra: Redactor | None = None) -> PurpleFleaClient:
    return PurpleFleaClient(
        ServiceBases.for_simulator("http://sim.test"),
        transport=httpx.MockTransport(handler),
        clock=FakeClock(),
        rng=random.Random(1),
        redactor=extra,
    )


async def test_a_200_reply_that_echoes_a_key_is_masked_before_the_model() -> None:
    """Broken: a memo holding the agent's key (or another agent's) reaches the Escrow model and
    from there the screen, the store and every alert channel."""
    memo = f"my key is {CANARY} and theirs is {OTHER}"
    client = client_with(lambda r: httpx.Response(200, json=escrow_reply(memo)))
    client.agent("ag_0123456789ac", casino_key=OTHER)  # another agent of the same fleet
    escrow = await agent_of(client).escrow("esc_0123456789abcdef", dialect=_streaming())
    await client.aclose()
    assert escrow.description == f"my key is {MASK} and theirs is {MASK}"


async def test_a_json_escaped_key_in_a_200_reply_is_masked() -> None:
    """Broken: ``\\u0073k_live_...`` passes a byte search and decodes to the key itself."""
    escaped = "\\u0073" + CANARY[1:]
    body = json.dumps(escrow_reply("x")).replace('"memo": "x"', f'"memo": "{escaped}"')
    client = client_with(lambda r: httpx.Response(200, content=body.encode()))
    escrow = await agent_of(client).escrow("esc_0123456789abcdef", dialect=_streaming())
    await client.aclose()
    assert escrow.description == MASK


@pytest.mark.parametrize("status", [400, 401, 404, 409, 422, 429, 500, 503])
async def test_an_error_carrying_another_agents_key_is_masked(status: int) -> None:
    """Broken: only the calling agent's keys were redacted; another agent's, or the webhook's
    token, came back in the error's message and body."""
    body = {"error": f"bad {OTHER}", "message": f"see {WEBHOOK} and {quote(WEBHOOK, safe='')}"}
    client = client_with(
        lambda r: httpx.Response(status, json=body), extra=Redactor([Secret(WEBHOOK)])
    )
    client.agent("ag_0123456789ac", casino_key=OTHER)
    with pytest.raises(e.APIStatusError) as info:
        await agent_of(client).ledger()
    await client.aclose()
    exc = info.value
    shown = " ".join([str(exc), repr(exc), json.dumps(exc.body), str(exc.args)])
    assert_no_secret(shown, OTHER, WEBHOOK, "T0CANARY/B0CANARY/whtokCANARY1234567890")


async def test_a_decode_error_never_quotes_the_value() -> None:
    """Broken: ``field balance_usd: 'sk_live_d41d...' uses an exponent`` (the key has an e), which
    reached the status bar, the alert log and every receiver."""
    unknown_key = "sk_live_e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    client, _ = mock_client(
        lambda r: httpx.Response(
            200, json={"agent_id": "ag_0123456789ab", "balance_usd": unknown_key}
        )
    )
    with pytest.raises(e.ResponseDecodeError) as info:
        await agent_of(client).balance()
    await client.aclose()
    assert unknown_key[:16] not in str(info.value)
    assert "balance_usd" in str(info.value) and "string of 72 characters" in str(info.value)


def test_error_bodies_show_visible_escapes_not_spaces() -> None:
    """Broken: ``HTTP 500: boom [2J``: the ESC became a space and the hostile body looked benign."""
    assert plain_text("boom \x1b[2J\u202eevil\x9b6n") == "boom \\x1b[2J\\u202eevil\\x9b6n"
    assert plain_text("a\n\n  b\tc") == "a b c"
    long = plain_text("x" * 1000 + "\x1b", 50)
    assert len(long) == 50 and long.endswith("…")


def test_fit_ends_with_an_ellipsis_and_never_halves_an_escape() -> None:
    """Broken: a long token overflowed the one-line status bar onto a hidden second line."""
    assert fit("abc", 3) == "abc"
    assert fit("abcd", 3) == "ab…"
    assert fit("ab\x1bcd", 5) == "ab…"  # never 'ab\\x…'
    assert fit("t" * 500, 80) == "t" * 79 + "…"


def test_redactor_masks_every_form_and_the_url_parts() -> None:
    """Broken: only the whole webhook URL was scrubbed, so a 404 page echoing its path leaked
    the token into the outbox's last_error."""
    redactor = Redactor([Secret(WEBHOOK), Secret("123456:ABCdefGHIjklMNOpqrSTUvwx")])
    echoed = [
        "POST /services/T0CANARY/B0CANARY/whtokCANARY1234567890 not found",
        "path=services%2FT0CANARY%2FB0CANARY%2FwhtokCANARY1234567890",
        "token whtokCANARY1234567890",
        base64.b64encode(WEBHOOK.encode()).decode(),
        "xx" + base64.b64encode(b"Bearer " + WEBHOOK.encode()).decode(),
        json.dumps(WEBHOOK.replace("/", "\\/")),
        "bot token ABCdefGHIjklMNOpqrSTUvwx",
    ]
    for text in echoed:
        scrubbed = redactor.scrub(text)
        assert MASK in scrubbed
        assert "whtokCANARY" not in scrubbed and "ABCdefGHI" not in scrubbed
    # Ordinary words of a URL are not secrets: a message about "services" stays readable.
    assert redactor.scrub("hooks for services") == "hooks for services"
    assert redactor.found_in(b"...whtokCANARY1234567890...")
    assert not redactor.found_in(b'{"balance_usd": 5}')


def _streaming():
    from pf_tui.api.models import Dialect

    return Dialect.STREAMING
