"""Digits that are not ASCII: ``"¹".isdigit()`` is True and ``int("¹")`` raises ValueError.

The reliability fuzz found a timestamp of ``"¹"`` crashing the decoder with a bare ValueError
instead of a ResponseDecodeError naming the field; Retry-After, counts and row ids had the same
test. Each must answer as for any other bad value.
"""

from __future__ import annotations

import pytest

from pf_tui.api import fields
from pf_tui.api.errors import ResponseDecodeError
from pf_tui.api.retry import parse_reset_at, parse_retry_after

NOT_ASCII = ("¹", "²³", "٣", "１２", "৪")


@pytest.mark.parametrize("text", NOT_ASCII)
def test_a_time_of_unicode_digits_is_a_decode_error_naming_the_field(text: str) -> None:
    with pytest.raises(ResponseDecodeError, match="field at"):
        fields.timestamp({"at": text}, "at")


@pytest.mark.parametrize("text", NOT_ASCII)
def test_a_count_of_unicode_digits_is_a_decode_error(text: str) -> None:
    with pytest.raises(ResponseDecodeError):
        fields.opt_int({"n": text}, "n")


@pytest.mark.parametrize("text", NOT_ASCII)
def test_retry_after_of_unicode_digits_never_crashes(text: str) -> None:
    # Python's float() reads other scripts' decimal digits ("٣" is 3.0): fine as a wait, but
    # "¹" is a digit to isdigit() and to nothing else, and int() raised on it.
    wait = parse_retry_after(text, 0.0)
    assert wait is None or wait >= 0
    parse_reset_at(text, 0.0)  # no exception, as for any unparsable text
    assert parse_retry_after("¹", 0.0) is None
