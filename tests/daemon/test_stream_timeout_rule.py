"""The ``stream_timeout`` rule under explicit timestamps: when it fires, what clears it, its lead.

It fires a lead time before a paused or idle stream's escrow times out and moves money on its
own (default: 1 h, or a quarter of a shorter timeout; ``[alerts] stream_timeout_lead`` sets it),
and clears when the stream is acted on: released within the window, closed or disputed (its facts
go away), or its tranche replaced (another escrow, another instance).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pf_tui.api.models import Dialect
from pf_tui.core.alerts.engine import AlertEngine, EventKind
from pf_tui.core.alerts.facts import AgentFacts, StreamTimeoutFacts
from pf_tui.core.alerts.rules import builtin_rules, rules_from_config, timeout_lead
from pf_tui.core.money.escrows import HeldEscrow, timeout_outcome
from tests.config.helpers import load_text

from .helpers import T0

RULE = next(r for r in builtin_rules() if r.name == "stream_timeout")
HOUR = 3600.0


def stream(
    state: str = "paused",
    *,
    timeout_at: float = T0 + 24 * HOUR,
    hours: int = 24,
    paid: float | None = None,
    escrow: str = "esc_" + "a" * 16,
    dialect: Dialect = Dialect.STREAMING,
    held: str = "5",
) -> StreamTimeoutFacts:
    h = HeldEscrow(escrow, dialect, Decimal(held), timeout_at, "ag_payer00000", "ag_payee00000")
    outcome = timeout_outcome(None, h, paused=state == "paused")
    return StreamTimeoutFacts("st_1", state, outcome, hours, paid)


def facts(*timeouts: StreamTimeoutFacts) -> list[AgentFacts]:
    return [AgentFacts("ag_payer00000", "payer", stream_timeouts=timeouts)]


def test_a_paused_stream_fires_an_hour_before_its_timeout_and_says_what_moves() -> None:
    eng = AlertEngine([RULE])
    at = T0 + 24 * HOUR
    assert eng.evaluate(facts(stream(timeout_at=at)), None, at - HOUR - 1) == []
    (event,) = eng.evaluate(facts(stream(timeout_at=at)), None, at - HOUR)
    assert event.kind is EventKind.FIRING and event.severity.value == "critical"
    assert event.labels["stream"] == "st_1" and event.labels["suggest"] == "close"
    assert "the server pays the payee $4.95" in event.description
    assert "unless you close it" in event.description
    # A classic tranche says it refunds the creator instead.
    eng2 = AlertEngine([RULE])
    (classic,) = eng2.evaluate(
        facts(stream(timeout_at=at, dialect=Dialect.CLASSIC, held="1")), None, at - 60
    )
    assert "refunds the creator $0.99" in classic.description


def test_a_short_timeout_gets_a_quarter_of_it_and_the_config_can_say_otherwise(
    tmp_path: Path,
) -> None:
    assert timeout_lead(RULE, 1) == 900.0  # 1 h timeout: 15 min
    assert timeout_lead(RULE, 24) == HOUR
    assert timeout_lead(RULE, None) == HOUR
    config = load_text(tmp_path, '[alerts]\nstream_timeout_lead = "2h"')
    assert config.alerts.stream_timeout_lead_s == 2 * HOUR
    rules, _ = rules_from_config(config.alerts)
    configured = next(r for r in rules if r.name == "stream_timeout")
    assert timeout_lead(configured, 1) == 2 * HOUR
    eng = AlertEngine([configured])
    at = T0 + 24 * HOUR
    assert eng.evaluate(facts(stream(timeout_at=at)), None, at - 2 * HOUR - 1) == []
    assert len(eng.evaluate(facts(stream(timeout_at=at)), None, at - 2 * HOUR)) == 1


def test_an_open_stream_fires_only_while_idle() -> None:
    """An open stream pf-tui keeps releasing from is not idle: no page. One left alone is."""
    at = T0 + 24 * HOUR
    eng = AlertEngine([RULE])
    paid_in_window = stream("open", timeout_at=at, paid=at - 30 * 60)
    assert eng.evaluate(facts(paid_in_window), None, at - 10 * 60) == []
    left_alone = stream("open", timeout_at=at, paid=at - 5 * HOUR)
    assert len(eng.evaluate(facts(left_alone), None, at - 10 * 60)) == 1


def test_acting_on_the_stream_clears_it() -> None:
    at = T0 + 24 * HOUR
    eng = AlertEngine([RULE])
    assert len(eng.evaluate(facts(stream(timeout_at=at)), None, at - 50 * 60)) == 1
    # Released now (open, paid in the window): resolved.
    released = stream("open", timeout_at=at, paid=at - 40 * 60)
    assert [e.kind for e in eng.evaluate(facts(released), None, at - 40 * 60)] == [
        EventKind.RESOLVED
    ]
    # Paused again and closed: the stream has no timeout facts any more.
    assert len(eng.evaluate(facts(stream(timeout_at=at)), None, at - 30 * 60)) == 1
    assert [e.kind for e in eng.evaluate(facts(), None, at - 20 * 60)] == [EventKind.RESOLVED]


def test_a_new_tranche_is_a_new_instance_and_nothing_held_never_fires() -> None:
    at = T0 + 24 * HOUR
    eng = AlertEngine([RULE])
    first = stream(timeout_at=at, dialect=Dialect.CLASSIC, held="1")
    assert len(eng.evaluate(facts(first), None, at - 60)) == 1
    second = stream(
        timeout_at=at + 24 * HOUR, dialect=Dialect.CLASSIC, held="1", escrow="esc_" + "b" * 16
    )
    events = eng.evaluate(facts(second), None, at - 30)
    assert [e.kind for e in events] == [EventKind.RESOLVED]  # the old tranche's instance
    assert eng.evaluate(facts(stream(timeout_at=at, held="0")), None, at - 60) == []
