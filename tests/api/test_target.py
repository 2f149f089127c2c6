"""``Target`` splits a URL as yarl does, so the http1 pool writes the same request line and
Host header as before, and aiohttp gets the very URL it got before."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from yarl import URL

from pf_tui.api.exchange import Target

URLS = [
    "http://127.0.0.1:8787/v1/wallet/balance",
    "https://api.purpleflea.com/v1/trade/positions?agent=a%20b&limit=50",
    "https://API.PurpleFlea.com/",
    "https://user:pw@api.example:8443/v1",
    "https://api.purpleflea.com",
    "http://[::1]:9000/stats/me?x=%2F",
    "http://[2001:DB8::1]/escrow/esc_1",
    "http://localhost:80/a//b/./c/../d?",
    "https://h.example:443/p?a=1&a=2#frag",
]


@pytest.mark.parametrize("text", URLS)
def test_splits_as_yarl(text: str) -> None:
    target, url = Target(text), URL(text, encoded=True)
    assert target.scheme == url.scheme
    assert target.host == url.raw_host
    assert target.port == url.port
    assert target.explicit_port == url.explicit_port
    assert target.path_qs == url.raw_path_qs
    assert target.url() == url
    assert target.url() is target.url()  # made once


def test_a_non_ascii_host_goes_out_in_its_idna_form() -> None:
    target = Target("https://bücher.example/v1/x?q=%C3%BC")
    assert (target.host, target.path_qs) == ("xn--bcher-kva.example", "/v1/x?q=%C3%BC")


segment = st.text(
    alphabet=st.characters(codec="ascii", categories=("L", "N"), include_characters="-._~%"),
    max_size=12,
)


@given(
    scheme=st.sampled_from(["http", "https"]),
    host=st.sampled_from(["127.0.0.1", "api.example", "[::1]", "Sim.Local"]),
    port=st.one_of(st.none(), st.integers(1, 65535)),
    path=st.lists(segment, max_size=4),
    query=st.lists(st.tuples(segment, segment), max_size=3),
)
def test_any_request_url_splits_as_yarl(
    scheme: str, host: str, port: int | None, path: list[str], query: list[tuple[str, str]]
) -> None:
    """What the client builds: a base, a route of encoded segments, an encoded query."""
    text = f"{scheme}://{host}" + (f":{port}" if port is not None else "") + "/" + "/".join(path)
    if query:
        text += "?" + "&".join(f"{k}={v}" for k, v in query)
    target, url = Target(text), URL(text, encoded=True)
    assert (target.host, target.port, target.explicit_port, target.path_qs) == (
        url.raw_host,
        url.port,
        url.explicit_port,
        url.raw_path_qs,
    )
