"""The ``Secret`` type under Hypothesis: every way Python shows a value shows the mask.

The property: for any value, each rendering (repr, str, format with any spec that works,
%-formatting, f-strings, json, logging, exception args, containers, tracebacks with locals) of
``Secret(value)`` is *identical* to that of a different secret with the same source: nothing of
the value can leak through it, not even its length. Broken looks like a rendering that differs,
e.g. ``format(secret, "")`` falling through to the value, or ``==`` raising on non-ASCII.
"""

from __future__ import annotations

import io
import json
import logging
import pprint
import traceback

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pf_tui.daemon.logs import JsonFormatter
from pf_tui.secret import MASK, Redactor, Secret

REFERENCE = Secret("reference-value-that-is-not-the-one", source="env:PF_KEY")
values = st.text(min_size=1, max_size=200)


def renderings(secret: Secret) -> list[str]:
    out = [
        repr(secret),
        str(secret),
        format(secret),
        format(secret, ">30"),
        f"{secret}",
        f"{secret!r}",
        f"{secret!s:^12}",
        "%s" % secret,  # noqa: UP031 - the old operator is one of the ways under test
        "%r" % secret,  # noqa: UP031
        "{}".format(secret),  # noqa: UP032
        str([secret]),
        str({"key": secret}),
        str((secret,)),
        pprint.pformat({"key": secret}),
        str(ValueError(secret)),
        repr(ValueError("bad key", secret)),
        str(RuntimeError(f"bad key {secret}")),
        json.dumps({"key": secret}, default=str),
    ]
    try:
        json.dumps({"key": secret})
    except TypeError as exc:
        out.append(str(exc))
    try:
        raise KeyError(secret)
    except KeyError:
        out.append(traceback.format_exc(limit=1))
        out.append("".join(_locals_traceback()))
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(message)s %(args)s"))
    logger = logging.getLogger("tests.secret.properties")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("key %s %r", secret, secret)
        logger.warning(secret)
    finally:
        logger.removeHandler(handler)
    out.append(buffer.getvalue())
    record = logging.LogRecord("pf_tui", logging.INFO, __file__, 1, "key", (), None)
    record.fields = {"key": secret, "nested": [secret]}
    out.append(JsonFormatter().format(record).split('"logger"', 1)[1])
    return out


def _locals_traceback() -> list[str]:
    import sys

    exc = sys.exc_info()[1]
    assert exc is not None
    return list(traceback.TracebackException.from_exception(exc, capture_locals=True).format())


@settings(max_examples=150, deadline=None)
@given(value=values)
def test_every_rendering_is_the_mask(value: str) -> None:
    secret = Secret(value, source="env:PF_KEY")
    mine, reference = renderings(secret), renderings(REFERENCE)
    # Tracebacks name the local `secret`'s repr and line numbers alike; compare them whole.
    assert mine == reference
    assert MASK in str(secret)


@settings(max_examples=150, deadline=None)
@given(value=values, other=values)
def test_equality_is_by_value_and_never_raises(value: str, other: str) -> None:
    """Broken: ``hmac.compare_digest`` raised TypeError on non-ASCII text."""
    assert (Secret(value) == Secret(value)) is True
    assert (Secret(value) == Secret(other)) is (value == other)
    assert Secret(value) != value  # never equal to its plain text


def test_a_secret_cannot_be_pickled_or_changed() -> None:
    import pickle

    secret = Secret("sk_live_CANARY_pickle")
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    with pytest.raises(AttributeError):
        secret._value = "x"  # type: ignore[misc]


@settings(max_examples=150, deadline=None)
@given(
    value=st.text(min_size=4, max_size=80), prefix=st.text(max_size=20), suffix=st.text(max_size=20)
)
def test_the_redactor_masks_a_secret_wherever_it_sits(value: str, prefix: str, suffix: str) -> None:
    """Whatever surrounds it, the scrubbed text holds no copy of the value."""
    scrubbed = Redactor([Secret(value)]).scrub(prefix + value + suffix)
    assert value not in scrubbed or value in MASK
