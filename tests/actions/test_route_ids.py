"""An escrow id is untrusted (a server reply, a ledger row): it is one path segment, always."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pf_tui.core.money.routes import ENDPOINTS, route
from pf_tui.core.money.types import EscrowRef, Op

ID_OPS = [op for op, ep in ENDPOINTS.items() if "{id}" in ep.route]


@pytest.mark.parametrize("op", ID_OPS)
def test_a_hostile_id_never_reaches_another_route(op: Op) -> None:
    _service, _method, path = route(op, "../../wallet/withdraw?to=evil#x")
    template = ENDPOINTS[op].route
    head, _, tail = template.partition("{id}")
    assert path.startswith(head) and path.endswith(tail)
    segment = path[len(head) : len(path) - len(tail)]
    assert "/" not in segment and "?" not in segment and "#" not in segment
    assert segment == "..%2F..%2Fwallet%2Fwithdraw%3Fto%3Devil%23x"


def test_plain_ids_are_unchanged_and_a_ref_renders_as_text() -> None:
    assert route(Op.CLASSIC_RELEASE, "esc_0123abcd")[2] == "/escrow/release/esc_0123abcd"
    assert route(Op.STREAM_CLOSE, EscrowRef(0))[2] == "/escrow/<escrow from #0>/close"


@given(st.text(min_size=1, max_size=40))
def test_any_id_is_exactly_one_segment(escrow_id: str) -> None:
    path = route(Op.CLASSIC_DISPUTE, escrow_id)[2]
    assert path.count("/") == ENDPOINTS[Op.CLASSIC_DISPUTE].route.count("/")
