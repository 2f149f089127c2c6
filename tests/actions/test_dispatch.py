"""Every intent type has a kind, a resource and one planner; resources are typed values.

Adding an intent type to the ``Intent`` union without its ``kind``, its ``resource`` or a planner
registered on the engine fails here, before any action could reach it.
"""

from __future__ import annotations

from typing import get_args

import pytest

from pf_tui.api.models import Dialect
from pf_tui.core.money.planners import Planners
from pf_tui.core.money.types import (
    ActionKind,
    AdoptEscrow,
    ClaimFaucet,
    CloseEscrow,
    CloseStream,
    CreateEscrow,
    DisputeEscrow,
    Intent,
    MarkComplete,
    OpenStream,
    ReleaseEscrow,
    ReleasePartial,
    Resource,
    ResourceKind,
    StreamUnit,
)

INTENT_TYPES: tuple[type[Intent], ...] = get_args(Intent)

SAMPLES: dict[type[Intent], Intent] = {
    OpenStream: OpenStream("ag_payer", "ag_payee", "0.01", StreamUnit.CALL, "1", "0.1"),
    ReleasePartial: ReleasePartial("st_1", count=1),
    CloseStream: CloseStream("st_1"),
    DisputeEscrow: DisputeEscrow("ag_payer", "esc_1", "the work was never delivered"),
    MarkComplete: MarkComplete("ag_payee", "esc_1"),
    ClaimFaucet: ClaimFaucet("ag_new"),
    ReleaseEscrow: ReleaseEscrow("ag_payer", "esc_1", Dialect.CLASSIC),
    CloseEscrow: CloseEscrow("ag_payer", "esc_1"),
    AdoptEscrow: AdoptEscrow("ag_payer", "esc_1", Dialect.STREAMING, "0.5", StreamUnit.HOUR),
    CreateEscrow: CreateEscrow("ag_payer", "ag_payee", "1"),
}
"""One intent of each type (the table test below says when a new type needs one)."""


def test_every_intent_type_has_a_sample() -> None:
    assert set(SAMPLES) == set(INTENT_TYPES)


@pytest.mark.parametrize("intent_type", INTENT_TYPES, ids=lambda t: t.__name__)
def test_every_intent_type_has_a_planner(intent_type: type[Intent]) -> None:
    planners = vars(Planners)["plan"].dispatcher
    fallback = planners.dispatch(object)
    assert planners.dispatch(intent_type) is not fallback


def test_kinds_name_the_intent_types_one_to_one() -> None:
    kinds = [t.kind for t in INTENT_TYPES]
    assert all(isinstance(k, ActionKind) for k in kinds)
    assert sorted(kinds) == sorted(ActionKind)


@pytest.mark.parametrize("intent_type", INTENT_TYPES, ids=lambda t: t.__name__)
def test_every_intent_names_a_resource(intent_type: type[Intent]) -> None:
    resource = SAMPLES[intent_type].resource
    assert isinstance(resource, Resource) and resource.id
    assert str(resource) and "{" not in str(resource)


def test_actions_on_one_stream_hold_one_resource() -> None:
    stream = Resource.stream("st_1")
    assert ReleasePartial("st_1").resource == stream
    assert CloseStream("st_1", count=2).resource == stream
    assert DisputeEscrow("ag_1", "esc_9", "the feed stopped", stream_id="st_1").resource == stream
    assert ReleasePartial("st_2").resource != stream


def test_a_streams_escrow_and_a_plain_escrow_are_different_resources() -> None:
    as_stream = DisputeEscrow(
        "ag_1", "esc_9", "the feed stopped", dialect=Dialect.STREAMING, stream_id="st_1"
    )
    as_escrow = DisputeEscrow("ag_1", "esc_9", "the feed stopped", dialect=Dialect.STREAMING)
    assert as_stream.resource == Resource(ResourceKind.STREAM, "st_1")
    assert as_escrow.resource == Resource(ResourceKind.ESCROW, "esc_9")
    assert as_stream.resource != as_escrow.resource
    assert MarkComplete("ag_2", "esc_9").resource == as_escrow.resource


def test_opens_are_held_per_payer_and_payee() -> None:
    def open_to(payee: str) -> OpenStream:
        return OpenStream("ag_1", payee, "0.01", StreamUnit.CALL, "1", "0.1")

    assert open_to("ag_2").resource == open_to("ag_2").resource
    assert open_to("ag_2").resource != open_to("ag_3").resource
    assert ClaimFaucet("ag_1").resource != ClaimFaucet("ag_2").resource


IN_WORDS = [
    (Resource.stream("st_1"), "stream st_1"),
    (Resource.escrow("esc_1"), "escrow esc_1"),
    (Resource.faucet("ag_1"), "the faucet claim of ag_1"),
    (Resource.open("ag_1", "ag_2"), "the new stream or escrow from ag_1 to ag_2"),
    (Resource.intent("1234"), "action 1234"),
]


def test_every_resource_kind_is_said_in_words() -> None:
    assert {resource.kind for resource, _ in IN_WORDS} == set(ResourceKind)


@pytest.mark.parametrize(("resource", "words"), IN_WORDS)
def test_resources_read_as_words(resource: Resource, words: str) -> None:
    assert str(resource) == words
