"""The simulator's JSON writer (``pipeline.to_json``): production's wire form, Decimals as plain
numbers, byte for byte what the straightforward writer it replaced gave."""

from __future__ import annotations

import json
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from pf_tui.sim.http.pipeline import to_json
from pf_tui.usd import JSON, loads


def reference(obj: JSON) -> str:
    """The writer before the type dispatch and the key cache."""
    dumps_str = json.JSONEncoder(ensure_ascii=False).encode
    if isinstance(obj, str):
        return dumps_str(obj)
    if isinstance(obj, dict):
        return "{" + ",".join(dumps_str(str(k)) + ":" + reference(v) for k, v in obj.items()) + "}"
    if isinstance(obj, (list, tuple)):
        return "[" + ",".join(reference(v) for v in obj) + "]"
    if isinstance(obj, Decimal):
        return format(obj, "f")
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if obj is None:
        return "null"
    if isinstance(obj, (int, float)):
        return json.dumps(obj)
    raise TypeError(type(obj).__name__)


# Text as the API's untrusted fields carry it: controls, escapes, bidi marks, lone surrogates.
text = st.text(alphabet=st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF))
money = st.decimals(allow_nan=False, allow_infinity=False, places=None)
leaves = st.none() | st.booleans() | st.integers() | money | text
values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.tuples(inner, inner)
        | st.dictionaries(text | st.sampled_from(["balance_usd", "_info", "id"]), inner, max_size=5)
    ),
    max_leaves=30,
)


@given(values)
def test_writes_what_the_reference_writer_wrote(value: JSON) -> None:
    """Breaking it: a key cached under another key's encoding, a type dispatched to the wrong
    writer (``bool`` is an ``int``, a ``tuple`` a sequence), a Decimal through float."""
    assert to_json(value) == reference(value)
    assert to_json(value) == reference(value)  # the second time from the key cache


@given(st.dictionaries(st.sampled_from(["a", "b"]), money, min_size=1))
def test_money_reads_back_exactly(value: dict[str, Decimal]) -> None:
    """Read back as pf-tui reads it: never through float (a whole amount is written as an
    integer, as production writes it)."""
    back = loads(to_json(value))
    assert back == value
    assert all(isinstance(v, (Decimal, int)) for v in back.values())


def test_keys_that_are_not_strings_are_written_as_their_text() -> None:
    assert to_json({1: True, "1": False}) == '{"1":true,"1":false}'  # type: ignore[dict-item]
    assert to_json({"k": (Decimal("1.50"), None)}) == '{"k":[1.50,null]}'
