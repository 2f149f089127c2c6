"""The alert state machine under a fake clock: for, hysteresis, repeat, resolve, silences,
inhibition, and the state it saves."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC
from decimal import Decimal
from pathlib import Path

import pytest

from pf_tui.core.alerts.engine import (
    AlertEngine,
    AlertInstance,
    AlertState,
    EventKind,
    event_id_for,
    fingerprint_of,
)
from pf_tui.core.alerts.facts import AgentFacts, FleetFacts, Health, StreamFacts
from pf_tui.core.alerts.rules import RuleKind, RuleSpec, Severity, Silence, default_rule_specs
from pf_tui.core.notify.alert_book import STATE_KEY, AlertBook
from pf_tui.core.store.db import read_kv, write_kv
from pf_tui.core.store.schema import migrate

from .helpers import BALANCE_LOW, T0

DOWN = RuleSpec("api_down", RuleKind.DOWN, Severity.CRITICAL, for_s=0, repeat_s=3600)


def agent(balance: str | None, health: Health = Health.OK, **kw: object) -> AgentFacts:
    metrics = {"balance_usd": None if balance is None else Decimal(balance)}
    return AgentFacts("ag_000000000001", "alpha", health, metrics=metrics, **kw)  # type: ignore[arg-type]


def kinds(events: list) -> list[str]:
    return [e.kind.value for e in events]


def test_pending_then_firing_after_for() -> None:
    eng = AlertEngine([BALANCE_LOW])
    assert eng.evaluate([agent("40")], None, T0) == []
    assert eng.evaluate([agent("40")], None, T0 + 299) == []
    ev = eng.evaluate([agent("40")], None, T0 + 300)
    assert kinds(ev) == ["firing"]
    assert ev[0].labels["agent"] == "ag_000000000001" and ev[0].severity is Severity.WARNING
    assert "below 50" in ev[0].description


def test_flap_inside_for_sends_nothing() -> None:
    eng = AlertEngine([BALANCE_LOW])
    for i in range(20):
        bal = "40" if i % 2 == 0 else "60"
        assert eng.evaluate([agent(bal)], None, T0 + i * 100) == []
    assert eng.firing() == []


def test_hysteresis_clear_threshold() -> None:
    eng = AlertEngine([BALANCE_LOW])
    eng.evaluate([agent("40")], None, T0)
    assert kinds(eng.evaluate([agent("40")], None, T0 + 300)) == ["firing"]
    # 52 is above the trigger but below the clear threshold: still firing, no message
    assert eng.evaluate([agent("52")], None, T0 + 400) == []
    assert len(eng.firing()) == 1
    ev = eng.evaluate([agent("56")], None, T0 + 500)
    assert kinds(ev) == ["resolved"] and ev[0].ends_at == T0 + 500
    assert eng.firing() == []


def test_repeat_interval_and_stable_ids() -> None:
    eng = AlertEngine(
        [BALANCE_LOW],
    )
    eng.evaluate([agent("40")], None, T0)
    out = []
    for t in range(300, 3 * 3600 + 301, 60):
        out += eng.evaluate([agent("40")], None, T0 + t)
    assert kinds(out) == ["firing", "repeat", "repeat", "repeat"]
    assert len({e.event_id for e in out}) == 4
    # a restored engine replays the same ids for the same episode (receivers dedup on them)
    state = [AlertInstance.from_dict(i.to_dict()) for i in eng.instances.values()]
    again = AlertEngine([BALANCE_LOW], state=state)
    nxt = again.evaluate([agent("40")], None, T0 + 4 * 3600 + 300)
    assert kinds(nxt) == ["repeat"] and nxt[0].event_id not in {e.event_id for e in out}


def test_nodata_and_error_hold_state_never_resolve() -> None:
    eng = AlertEngine([BALANCE_LOW, DOWN])
    eng.evaluate([agent("40")], None, T0)
    eng.evaluate([agent("40")], None, T0 + 300)
    assert eng.evaluate([agent(None)], None, T0 + 400) == []
    assert eng.evaluate([agent("60", Health.NODATA)], None, T0 + 500) == []
    assert [i.rule for i in eng.firing()] == ["balance_low"]


def test_api_down_inhibits_other_alerts_of_that_agent() -> None:
    eng = AlertEngine([BALANCE_LOW, DOWN])
    down = agent("40", Health.ERROR, health_reason="503 from casino")
    ev = eng.evaluate([down], None, T0)
    assert kinds(ev) == ["firing"] and ev[0].rule == "api_down"
    assert "503 from casino" in ev[0].description
    # balance is unknown while down; once back up the balance rule runs its own course
    ev = eng.evaluate([agent("40")], None, T0 + 60)
    assert kinds(ev) == ["resolved"] and ev[0].rule == "api_down"


def test_inhibition_suppresses_then_releases() -> None:
    rule = RuleSpec(
        "errors", RuleKind.THRESHOLD, metric="error_rate_pct", threshold=Decimal(5), for_s=0
    )
    # a threshold alert fires, then the agent's API goes down
    eng2 = AlertEngine([rule, DOWN])
    hi = AgentFacts("ag_1", metrics={"error_rate_pct": Decimal(9)})
    assert kinds(eng2.evaluate([hi], None, T0)) == ["firing"]
    eng2.evaluate([AgentFacts("ag_1", health=Health.ERROR)], None, T0 + 10)
    # repeat time passes while the agent is down: only api_down repeats
    ev = eng2.evaluate([AgentFacts("ag_1", health=Health.ERROR)], None, T0 + 3 * 3600)
    assert {e.rule for e in ev} == {"api_down"}


def test_silence_with_expiry() -> None:
    sil = Silence({"agent": "ag_0000*", "alertname": "balance_low"}, ends_at=T0 + 1000)
    eng = AlertEngine([BALANCE_LOW], silences=[sil])
    eng.evaluate([agent("40")], None, T0)
    assert eng.evaluate([agent("40")], None, T0 + 300) == []
    assert len(eng.firing()) == 1
    assert eng.evaluate([agent("40")], None, T0 + 900) == []
    ev = eng.evaluate([agent("40")], None, T0 + 1000)
    assert kinds(ev) == ["firing"]


def test_silenced_episode_resolves_silently() -> None:
    sil = Silence({"alertname": "balance_low"}, ends_at=T0 + 10_000)
    eng = AlertEngine([BALANCE_LOW], silences=[sil])
    eng.evaluate([agent("40")], None, T0)
    eng.evaluate([agent("40")], None, T0 + 300)
    assert eng.evaluate([agent("60")], None, T0 + 400) == []
    assert eng.firing() == []


def test_assume_for_fires_at_once() -> None:
    eng = AlertEngine(default_rule_specs())
    facts = AgentFacts(
        "ag_1", metrics={"max_drawdown_pct": Decimal("12.5"), "balance_usd": Decimal(100)}
    )
    ev = eng.evaluate([facts], FleetFacts({"error_rate_pct": Decimal(0)}), T0, assume_for=True)
    assert [e.rule for e in ev] == ["max_drawdown"]


def test_stream_silent_dispute_unknown_action_subkeys() -> None:
    eng = AlertEngine(default_rule_specs())
    s = StreamFacts("st_1", "ag_payee", expected_interval_s=600, last_release_at=T0)
    facts = AgentFacts("ag_1", streams=(s,), disputes=("esc_aa",), unknown_actions=("k1", "k2"))
    ev = eng.evaluate([facts], None, T0 + 1800)  # exactly 3x: not yet
    assert sorted(e.rule for e in ev) == ["dispute_opened", "unknown_action", "unknown_action"]
    ev = eng.evaluate([facts], None, T0 + 1801)
    assert [e.rule for e in ev] == ["stream_silent"]
    # the dispute and one action go away (handled by hand): each resolves once
    facts2 = AgentFacts("ag_1", streams=(s,), unknown_actions=("k2",))
    ev = eng.evaluate([facts2], None, T0 + 1900)
    assert sorted((e.rule, e.kind.value) for e in ev) == [
        ("dispute_opened", "resolved"),
        ("unknown_action", "resolved"),
    ]


def test_fleet_scope() -> None:
    eng = AlertEngine([r for r in default_rule_specs() if r.name == "fleet_error_rate"])
    ev = eng.evaluate([], FleetFacts({"error_rate_pct": Decimal(7)}), T0, assume_for=True)
    assert ev[0].labels == {
        "alertname": "fleet_error_rate",
        "severity": "critical",
        "scope": "fleet",
    }
    assert kinds(eng.evaluate([], FleetFacts({"error_rate_pct": Decimal(2)}), T0 + 1)) == [
        "resolved"
    ]


def test_bad_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="clear"):
        RuleSpec(
            "x", RuleKind.THRESHOLD, metric="m", op=">", threshold=Decimal(5), clear=Decimal(6)
        )
    with pytest.raises(ValueError, match="op"):
        RuleSpec("x", RuleKind.THRESHOLD, metric="m", op="==")


def test_model_24h_message_count() -> None:
    """Persisting, flapping, resolving conditions over 24 h: messages equal the model's count."""
    eng = AlertEngine([BALANCE_LOW])
    step = 60
    sent: list = []
    # 00:00-06:00 low (persisting), 06:00-08:00 flapping every 2 min, 08:00-12:00 ok,
    # 12:00-14:00 low, 14:00 onwards between trigger and clear then ok at 15:00.
    for t in range(0, 24 * 3600, step):
        h = t / 3600
        if h < 6:
            bal = "40"
        elif h < 8:
            bal = "40" if (t // 120) % 2 == 0 else "60"
        elif h < 12:
            bal = "60"
        elif h < 14:
            bal = "40"
        elif h < 15:
            bal = "52"
        else:
            bal = "60"
        sent += eng.evaluate([agent(bal)], None, T0 + t)
    # episode 1: fires at 0:05, repeats at 1:05..5:05 (5), resolves at 6:01 (60 > 55).
    # flap: pending never lasts 300 s. episode 2: fires 12:05, repeats 13:05, 14:05 (52 holds
    # it firing), resolves 15:00.
    assert kinds(sent) == (
        ["firing"] + ["repeat"] * 5 + ["resolved"] + ["firing"] + ["repeat"] * 2 + ["resolved"]
    )


def test_rules_from_config_defaults_and_silences() -> None:
    from datetime import datetime

    from pf_tui.config import AlertsConfig, SilenceConfig, default_alert_rules
    from pf_tui.core.alerts.rules import rules_from_config

    cfg = AlertsConfig(
        rules=default_alert_rules(),
        silences=(
            SilenceConfig(
                (("rule", "low_balance"), ("agent", "ag_*")),
                datetime(2026, 1, 2, tzinfo=UTC),
                "maintenance",
            ),
        ),
    )
    rules, silences = rules_from_config(cfg)
    names = [r.name for r in rules]
    assert names[:5] == [
        "max_drawdown",
        "drawdown",
        "low_balance",
        "error_rate",
        "open_positions",
    ]
    assert {
        "data_stale",
        "api_down",
        "stream_silent",
        "dispute_opened",
        "unknown_action",
        "spend_rate_high",
    } <= set(names)
    low = rules[2]
    assert low.op == "<" and low.threshold == Decimal(50) and low.clear_at == Decimal(55)
    assert silences[0].matchers == {"alertname": "low_balance", "agent": "ag_*"}
    assert silences[0].active(T0) and not silences[0].active(T0 + 86400)


def test_ge_op_clears_when_no_longer_holding() -> None:
    rule = RuleSpec(
        "r", RuleKind.THRESHOLD, metric="m", op=">=", threshold=Decimal(5), clear=Decimal(3)
    )
    eng = AlertEngine([rule])
    f = lambda v: AgentFacts("ag_1", metrics={"m": Decimal(v)})  # noqa: E731
    assert kinds(eng.evaluate([f(5)], None, T0)) == ["firing"]
    assert eng.evaluate([f(3)], None, T0 + 1) == []  # 3 >= 3 still holds the clear condition
    assert kinds(eng.evaluate([f("2.9")], None, T0 + 2)) == ["resolved"]


# ---- suppression is decided before a message is counted ------------------------------------

DISPUTE = RuleSpec("dispute_opened", RuleKind.DISPUTE, Severity.CRITICAL, repeat_s=24 * 3600)


def test_inhibited_firing_is_sent_when_the_api_is_back() -> None:
    eng = AlertEngine([DISPUTE, DOWN])
    down = AgentFacts("ag_1", health=Health.ERROR, disputes=("esc_1",))
    assert [(e.rule, e.kind.value) for e in eng.evaluate([down], None, T0)] == [
        ("api_down", "firing")
    ]
    (held,) = [i for i in eng.firing() if i.rule == "dispute_opened"]
    assert (held.sent, held.last_sent) == (0, 0.0)  # held back, so never counted
    up = AgentFacts("ag_1", disputes=("esc_1",))
    ev = eng.evaluate([up], None, T0 + 60)
    assert [(e.rule, e.kind.value) for e in ev] == [
        ("dispute_opened", "firing"),
        ("api_down", "resolved"),
    ]
    assert ev[0].event_id == event_id_for(held.fingerprint, T0, EventKind.FIRING, 0)
    assert ev[0].starts_at == T0  # the episode began when it began firing, not when it was sent


def test_operator_mute_holds_the_firing_until_it_ends() -> None:
    eng = AlertEngine([BALANCE_LOW])
    eng.evaluate([agent("40")], None, T0)
    fp = next(iter(eng.instances))
    eng.muted = {fp: T0 + 400}
    assert eng.evaluate([agent("40")], None, T0 + 300) == []
    assert eng.instances[fp].sent == 0
    ev = eng.evaluate([agent("40")], None, T0 + 400)
    assert kinds(ev) == ["firing"] and eng.instances[fp].sent == 1


def test_held_repeat_takes_its_turn() -> None:
    sil = Silence({"alertname": "balance_low"}, starts_at=T0 + 3000, ends_at=T0 + 5000)
    eng = AlertEngine([BALANCE_LOW], silences=[sil])
    eng.evaluate([agent("40")], None, T0)
    assert kinds(eng.evaluate([agent("40")], None, T0 + 300)) == ["firing"]
    assert eng.evaluate([agent("40")], None, T0 + 3900) == []  # the repeat falls in the silence
    (inst,) = eng.firing()
    assert (inst.sent, inst.last_sent) == (1, T0 + 3900)
    # the silence ends at T0 + 5000: no repeat then, the next one an interval after the held one
    assert eng.evaluate([agent("40")], None, T0 + 5000) == []
    assert eng.evaluate([agent("40")], None, T0 + 7499) == []
    ev = eng.evaluate([agent("40")], None, T0 + 7500)
    assert kinds(ev) == ["repeat"]
    assert ev[0].event_id == event_id_for(inst.fingerprint, T0 + 300, EventKind.REPEAT, 1)


def test_resolution_of_a_sent_firing_goes_out_through_a_silence() -> None:
    sil = Silence({"alertname": "balance_low"}, starts_at=T0 + 400, ends_at=T0 + 10_000)
    eng = AlertEngine([BALANCE_LOW], silences=[sil])
    eng.evaluate([agent("40")], None, T0)
    assert kinds(eng.evaluate([agent("40")], None, T0 + 300)) == ["firing"]
    assert kinds(eng.evaluate([agent("60")], None, T0 + 500)) == ["resolved"]


# ---- the saved state ---------------------------------------------------------------------------


def test_state_is_an_enum_saved_by_its_value() -> None:
    eng = AlertEngine([BALANCE_LOW])
    eng.evaluate([agent("40")], None, T0)
    (inst,) = eng.instances.values()
    assert inst.state is AlertState.PENDING
    record = inst.to_dict()
    assert record["state"] == "pending" and type(record["state"]) is str
    assert AlertInstance.from_dict(record) == inst


def test_state_saved_by_the_previous_version_still_loads(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    migrate(conn)
    labels = {
        "agent": "ag_000000000001",
        "alertname": "balance_low",
        "label": "alpha",
        "severity": "warning",
    }
    fp = fingerprint_of(labels)
    # the kv row as the version with string states wrote it: json.dumps(..., sort_keys=True)
    saved = {
        "fingerprint": fp,
        "rule": "balance_low",
        "labels": labels,
        "state": "firing",
        "active_since": T0,
        "starts_at": T0 + 300,
        "last_sent": T0 + 300,
        "sent": 1,
        "value": "40",
        "nodata": False,
    }
    write_kv(conn, STATE_KEY, json.dumps([saved], sort_keys=True))
    book = AlertBook(conn)
    (inst,) = book.load_instances()
    assert inst.state is AlertState.FIRING and inst.sent == 1
    eng = AlertEngine([BALANCE_LOW], state=[inst])
    assert eng.evaluate([agent("40")], None, T0 + 600) == []  # already paged: no second firing
    before = AlertBook.snapshot(eng)
    events = eng.evaluate([agent("40")], None, T0 + 3900)
    assert kinds(events) == ["repeat"]
    book.commit(eng, before, events, [], T0 + 3900)
    (record,) = json.loads(read_kv(conn, STATE_KEY) or "[]")
    assert record == {**saved, "last_sent": T0 + 3900, "sent": 2}  # the same shape, by value
    write_kv(conn, STATE_KEY, '[{"state": "firing"}]')
    assert book.load_instances() == []  # unreadable: start clean, never crash
    conn.close()


def test_current_drawdown_clears_on_recovery_while_the_maximum_stays() -> None:
    """Broken: ``drawdown_pct`` was an alias of the 30-day maximum, so a drawdown alert could not
    clear until the fall left the chart, and re-paged every hour."""
    from pf_tui.core.fleet.derived import max_drawdown

    falls = max_drawdown([Decimal(0), Decimal(-20), Decimal(-15)], Decimal(100))
    recovered = max_drawdown([Decimal(0), Decimal(-20), Decimal(5)], Decimal(100))
    assert (falls.max_drawdown_pct, falls.drawdown_pct) == (Decimal(20), Decimal(15))
    assert (recovered.max_drawdown_pct, recovered.drawdown_pct) == (Decimal(20), Decimal(0))

    rules = [r for r in default_rule_specs() if r.name in ("drawdown", "max_drawdown")]
    eng = AlertEngine(rules)

    def facts(dd: Decimal) -> AgentFacts:
        return AgentFacts("ag_1", metrics={"drawdown_pct": dd, "max_drawdown_pct": Decimal(20)})

    fired = eng.evaluate([facts(falls.drawdown_pct)], None, T0, assume_for=True)
    assert sorted(e.rule for e in fired) == ["drawdown", "max_drawdown"]
    later = eng.evaluate([facts(recovered.drawdown_pct)], None, T0 + 120)
    assert [(e.rule, e.kind.value) for e in later] == [("drawdown", "resolved")]
    # The maximum says so once a day, not every hour.
    assert eng.evaluate([facts(Decimal(0))], None, T0 + 3 * 3600) == []
    repeat = eng.evaluate([facts(Decimal(0))], None, T0 + 86400)
    assert [(e.rule, e.kind.value) for e in repeat] == [("max_drawdown", "repeat")]


def test_a_stream_scoped_spend_rule_fires_per_stream() -> None:
    """Broken: no rule could watch one stream's spend; ``scope = "stream"`` did not exist."""
    rule = RuleSpec(
        "stream_spend",
        RuleKind.THRESHOLD,
        scope="stream",
        metric="spend_usd_per_hour",
        op=">",
        threshold=Decimal(20),
        clear=Decimal(15),
    )
    eng = AlertEngine([rule])

    def stream(sid: str, spend: str) -> StreamFacts:
        return StreamFacts(sid, "ag_payee", None, T0, {"spend_usd_per_hour": Decimal(spend)})

    facts = AgentFacts("ag_1", streams=(stream("st_a", "25"), stream("st_b", "5")))
    ev = eng.evaluate([facts], None, T0)
    assert [(e.labels["stream"], e.kind.value) for e in ev] == [("st_a", "firing")]
    assert "stream st_a to ag_payee" in ev[0].description
    ev = eng.evaluate([AgentFacts("ag_1", streams=(stream("st_a", "10"),))], None, T0 + 60)
    assert [(e.labels["stream"], e.kind.value) for e in ev] == [("st_a", "resolved")]


def test_alert_values_are_shown_rounded() -> None:
    """A rule's figure is compared exactly but shown to two places (alert log, Alerts tab and
    notifications all read the same text): a spend rate showed 28 digits of a division."""
    from pf_tui.core.alerts.rules import threshold_condition, value_text

    assert value_text(Decimal("10112.67222507486844586664501")) == "10112.67"
    assert value_text(Decimal("14.2857")) == "14.29"
    assert value_text(Decimal("0")) == "0"
    assert value_text(Decimal("47.99")) == "47.99"
    spend = next(r for r in default_rule_specs() if r.name == "spend_rate_high")
    fired, _cleared, text = threshold_condition(spend, Decimal("100.004"))
    assert fired and text == "100.00"  # fires on the exact figure, shows it rounded
