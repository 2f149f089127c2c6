"""Alert rules and their state machine: pure, driven by the timestamps it is given.

Each rule turns facts about an agent (or the fleet) into a condition that is true, false or
unknown. Unknown (no data, API error) never counts as "all good": a firing alert stays firing
while its data is missing, and the separate ``data_stale`` / ``api_down`` rules page for the gap.

Per alert instance the states are ``inactive -> pending -> firing -> inactive``:
- pending until the condition has held for the rule's ``for_s`` (a flap inside it sends nothing);
- firing sends one message, then one per ``repeat_s`` while it keeps firing;
- it clears only when the value crosses the rule's separate clear threshold (hysteresis), and
  then one resolved message is sent (only if a firing message was sent).
Silences (with expiry), the operator's mute of one episode, and inhibition (an agent's ``api_down``
holds back that agent's other alerts) suppress messages, not state. Suppression is decided before a
message is made, so a held message is never counted as sent: a held firing goes out once nothing
holds it any more, and a resolution follows only a firing that was sent. The engine's state can be
dumped and restored, so a restarted daemon neither repeats nor forgets a page.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypedDict

from pf_tui.core.alerts.facts import AgentFacts, FleetFacts, Health, StreamTimeoutFacts
from pf_tui.core.alerts.rules import (
    FLEET,
    STREAM,
    Condition,
    RuleKind,
    RuleSpec,
    Severity,
    Silence,
    describe,
    threshold_condition,
    timeout_lead,
)

HEALTH_METRICS = frozenset({"error_rate_pct", "stale_s"})
"""Metrics about the API's health itself: read even when the agent's figures are stale or
failing (an error-rate rule that waits for healthy figures never fires during an outage)."""


class EventKind(str, enum.Enum):
    """Why a notification is sent."""

    FIRING = "firing"
    REPEAT = "repeat"
    RESOLVED = "resolved"
    HEARTBEAT = "heartbeat"  # the daemon's "still alive" message (Alertmanager's Watchdog)


class AlertState(str, enum.Enum):
    """Where one alert instance is: ``inactive -> pending -> firing -> inactive``."""

    INACTIVE = "inactive"
    PENDING = "pending"  # the condition holds, not yet for the rule's `for`
    FIRING = "firing"


class InstanceRecord(TypedDict):
    """An :class:`AlertInstance` as the store keeps it (JSON; the state by its value)."""

    fingerprint: str
    rule: str
    labels: dict[str, str]
    state: str
    active_since: float
    starts_at: float
    last_sent: float
    sent: int
    value: str
    nodata: bool


@dataclass
class AlertInstance:
    """The state of one rule for one agent (and stream, escrow or action)."""

    fingerprint: str
    rule: str
    labels: dict[str, str]
    state: AlertState = AlertState.INACTIVE
    active_since: float = 0.0  # when the condition began to hold
    starts_at: float = 0.0  # when it began firing
    last_sent: float = 0.0
    sent: int = 0  # notifications sent for this firing episode
    value: str = ""
    nodata: bool = False

    def to_dict(self) -> InstanceRecord:
        """Plain JSON-able form, for the store."""
        return InstanceRecord(
            fingerprint=self.fingerprint,
            rule=self.rule,
            labels=dict(self.labels),
            state=self.state.value,
            active_since=self.active_since,
            starts_at=self.starts_at,
            last_sent=self.last_sent,
            sent=self.sent,
            value=self.value,
            nodata=self.nodata,
        )

    @classmethod
    def from_dict(cls, data: InstanceRecord) -> AlertInstance:
        """Inverse of :meth:`to_dict` (also reads what earlier versions saved: the same keys)."""
        return cls(
            fingerprint=data["fingerprint"],
            rule=data["rule"],
            labels=dict(data["labels"]),
            state=AlertState(data["state"]),
            active_since=data["active_since"],
            starts_at=data["starts_at"],
            last_sent=data["last_sent"],
            sent=data["sent"],
            value=data["value"],
            nodata=data["nodata"],
        )


_Observed = tuple[RuleSpec, dict[str, str], Condition, str]
"""One instance's rule, labels, condition and description in this evaluation (a plain tuple:
the engine makes one per rule per agent each second)."""


@dataclass(frozen=True)
class AlertEvent:
    """A notification to send: a firing, a repeat, or a resolution."""

    event_id: str
    kind: EventKind
    rule: str
    severity: Severity
    fingerprint: str
    labels: Mapping[str, str]
    summary: str
    description: str
    starts_at: float
    ends_at: float | None
    at: float

    @property
    def status(self) -> str:
        """Alertmanager's status: ``firing`` (also for repeats) or ``resolved``."""
        return "resolved" if self.kind is EventKind.RESOLVED else "firing"


def fingerprint_of(labels: Mapping[str, str]) -> str:
    """A stable id for a label set (16 hex, like Alertmanager's)."""
    text = "\x1f".join(f"{k}\x1e{labels[k]}" for k in sorted(labels))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def event_id_for(fingerprint: str, starts_at: float, kind: EventKind, seq: int) -> str:
    """The same notification always gets the same id, across restarts (receivers dedup on it)."""
    raw = f"{fingerprint}|{round(starts_at * 1000)}|{kind.value}|{seq}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def timeout_window(rule: RuleSpec, t: StreamTimeoutFacts) -> tuple[float, bool] | None:
    """When ``rule`` (a ``stream_timeout``) starts watching ``t``'s escrow, and whether the stream
    is idle for it: paused, or nothing released since then. ``None``: its timeout moves nothing.

    The daemon exports the same two figures per stream, so the Prometheus twin of the rule
    (deploy/prometheus/rules.yml) reads exactly what the built-in rule decides on.
    """
    o = t.outcome
    if not o.moves_money or o.at is None:
        return None
    start = o.at - timeout_lead(rule, t.timeout_hours)
    return start, t.paused or t.last_paid_at is None or t.last_paid_at < start


class AlertEngine:
    """Evaluates rules over facts and emits the notifications due; holds every instance's state."""

    def __init__(
        self,
        rules: Iterable[RuleSpec] = (),
        *,
        silences: Iterable[Silence] = (),
        state: Iterable[AlertInstance] = (),
    ) -> None:
        self.rules: tuple[RuleSpec, ...] = tuple(r for r in rules if r.enabled)
        self.silences: tuple[Silence, ...] = tuple(silences)
        self.instances: dict[str, AlertInstance] = {i.fingerprint: i for i in state}
        self.muted: dict[str, float] = {}
        """Fingerprints muted until a time (the operator silenced one episode from the TUI)."""

    def replace_rules(self, rules: Iterable[RuleSpec], silences: Iterable[Silence]) -> None:
        """Swap the rule set (SIGHUP); instances of rules that no longer exist are dropped."""
        self.rules = tuple(r for r in rules if r.enabled)
        self.silences = tuple(silences)
        names = {r.name for r in self.rules}
        self.instances = {k: v for k, v in self.instances.items() if v.rule in names}

    def firing(self) -> list[AlertInstance]:
        """Instances currently firing."""
        return [i for i in self.instances.values() if i.state is AlertState.FIRING]

    def evaluate(
        self,
        agents: Iterable[AgentFacts],
        fleet: FleetFacts | None,
        now: float,
        *,
        assume_for: bool = False,
    ) -> list[AlertEvent]:
        """Advance every instance to ``now`` and return the notifications due, in order.

        ``assume_for`` treats every ``for`` as met (``--once``: fire what holds now).
        """
        observed = self._observe(agents, fleet, now)
        # Down rules are stepped first: an agent whose API is down after this step has its other
        # alerts held back in the same evaluation, before any of them is counted as sent. The
        # second pass steps the rest and lists the notifications in the order observed.
        down_kind = RuleKind.DOWN  # a local: an enum member looked up on its class is slow
        down: set[str] = set()
        stepped: dict[str, AlertEvent | None] = {}
        for fp, obs in observed.items():
            if obs[0].kind is down_kind:
                inst, stepped[fp] = self._step(fp, obs, now, assume_for, down)
                if inst.state is AlertState.FIRING:
                    down.add(inst.labels.get("agent", ""))
        events: list[AlertEvent] = []
        for fp, obs in observed.items():
            if obs[0].kind is down_kind:
                event = stepped[fp]
            else:
                event = self._step(fp, obs, now, assume_for, down)[1]
            if event is not None:
                events.append(event)
        return events

    def _observe(
        self, agents: Iterable[AgentFacts], fleet: FleetFacts | None, now: float
    ) -> dict[str, _Observed]:
        """Every instance's condition this round, by fingerprint, in a stable order."""
        rules = {r.name: r for r in self.rules}
        observed: dict[str, _Observed] = {}
        covered: set[str] = set()  # agents evaluated this round
        for facts in agents:
            covered.add(facts.agent_id)
            for rule in self.rules:
                if rule.scope == "agent":
                    conditions = self._agent_conditions(rule, facts, now)
                elif rule.scope == STREAM and rule.kind is RuleKind.THRESHOLD:
                    conditions = self._stream_conditions(rule, facts)
                else:
                    continue
                for labels, cond, desc in conditions:
                    observed[fingerprint_of(labels)] = (rule, labels, cond, desc)
        if fleet is not None:
            for rule in self.rules:
                if rule.scope == FLEET and rule.kind is RuleKind.THRESHOLD:
                    labels = {
                        "alertname": rule.name,
                        "severity": rule.severity.value,
                        "scope": FLEET,
                    }
                    cond = threshold_condition(rule, fleet.metrics.get(rule.metric))
                    observed[fingerprint_of(labels)] = (rule, labels, cond, describe(rule, cond[2]))
        # Sub-keyed instances (a stream, an escrow, an action) that vanished from an agent that
        # reported normally have cleared; everything else unseen keeps its state.
        for fp, inst in self.instances.items():
            if fp in observed or inst.rule not in rules:
                continue
            agent = inst.labels.get("agent", "")
            if agent in covered and any(k in inst.labels for k in ("stream", "escrow", "action")):
                observed[fp] = (rules[inst.rule], inst.labels, (False, True, ""), "")
        return observed

    def _held(self, rule: RuleSpec, inst: AlertInstance, now: float, down: set[str]) -> bool:
        """Whether a firing or repeat of ``inst`` is held back now (a resolution never is).

        Held when the agent's API is down (inhibition: api_down says it all), when the operator
        muted this episode from the TUI, or when a configured silence matches its labels.
        """
        if rule.kind is not RuleKind.DOWN and inst.labels.get("agent") in down:
            return True
        if self.muted.get(inst.fingerprint, 0.0) > now:
            return True
        return any(s.active(now) and s.matches(inst.labels) for s in self.silences)

    @staticmethod
    def _stream_conditions(
        rule: RuleSpec, facts: AgentFacts
    ) -> Iterable[tuple[dict[str, str], Condition, str]]:
        """A stream-scoped threshold, once per open stream of the agent (labels name it)."""
        base = {"alertname": rule.name, "severity": rule.severity.value, "agent": facts.agent_id}
        if facts.label:
            base["label"] = facts.label
        for s in facts.streams:
            labels = {**base, "stream": s.stream_id, "payee": s.payee}
            cond = threshold_condition(rule, s.metrics.get(rule.metric))
            yield labels, cond, f"stream {s.stream_id} to {s.payee}: " + describe(rule, cond[2])

    def _agent_conditions(
        self, rule: RuleSpec, facts: AgentFacts, now: float
    ) -> Iterable[tuple[dict[str, str], Condition, str]]:
        base = {"alertname": rule.name, "severity": rule.severity.value, "agent": facts.agent_id}
        if facts.label:
            base["label"] = facts.label
        kind = rule.kind
        if kind is RuleKind.THRESHOLD:
            if facts.health is not Health.OK and rule.metric not in HEALTH_METRICS:
                cond: Condition = (None, None, "")
            else:
                cond = threshold_condition(rule, facts.metrics.get(rule.metric))
            yield base, cond, describe(rule, cond[2])
        elif kind is RuleKind.STALE:
            bad = facts.health is Health.NODATA
            yield base, (bad, not bad, facts.health.value), facts.health_reason or "no fresh data"
        elif kind is RuleKind.DOWN:
            bad = facts.health is Health.ERROR
            yield base, (bad, not bad, facts.health.value), facts.health_reason or "API failing"
        elif kind is RuleKind.STREAM_SILENT:
            for s in facts.streams:
                if s.expected_interval_s is None:
                    continue  # paid per call or per data point: no clock to fall behind
                silent_for = now - s.last_release_at
                limit = float(rule.factor) * s.expected_interval_s
                labels = {**base, "stream": s.stream_id, "payee": s.payee}
                bad = silent_for > limit
                yield (
                    labels,
                    (bad, not bad, f"{silent_for:.0f}s"),
                    (
                        f"payee {s.payee} not paid for {silent_for:.0f}s "
                        f"(expected every {s.expected_interval_s:.0f}s)"
                    ),
                )
        elif kind is RuleKind.DISPUTE:
            for escrow in facts.disputes:
                yield (
                    {**base, "escrow": escrow},
                    (True, False, "disputed"),
                    f"escrow {escrow} disputed",
                )
        elif kind is RuleKind.STREAM_TIMEOUT:
            for t in facts.stream_timeouts:
                yield self._timeout_condition(rule, base, t, now)
        elif kind is RuleKind.UNKNOWN_ACTION:
            for key in facts.unknown_actions:
                yield (
                    {**base, "action": key},
                    (True, False, "unknown"),
                    (f"money action {key} has an unknown outcome: check it by hand"),
                )

    @staticmethod
    def _timeout_condition(
        rule: RuleSpec, base: dict[str, str], t: StreamTimeoutFacts, now: float
    ) -> tuple[dict[str, str], Condition, str]:
        """A paused or idle stream whose escrow's timeout, within the lead, moves money.

        Idle: pf-tui has released nothing from it since the lead window began. Releasing,
        closing or disputing the stream clears it (a closed or disputed stream has no facts any
        more; a tranche released makes a new escrow, so a new instance).
        """
        o = t.outcome
        labels = {**base, "stream": t.stream_id, "escrow": o.escrow_id or "-", "suggest": "close"}
        window = timeout_window(rule, t)
        if window is None:
            return labels, (False, True, ""), "nothing moves on its own"
        start, idle = window
        bad = now >= start and idle
        left = o.seconds_left(now) or 0.0
        desc = f"stream {t.stream_id} ({t.state}): {o.sentence(now)}"
        return labels, (bad, not bad, f"{left:.0f}s"), desc

    def _step(
        self, fp: str, obs: _Observed, now: float, assume_for: bool, down: set[str]
    ) -> tuple[AlertInstance, AlertEvent | None]:
        """Advance one instance one evaluation: the instance, and the notification it sends now."""
        rule, labels, cond, desc = obs
        inst = self.instances.get(fp) or AlertInstance(fp, rule.name, dict(labels))
        kind = self._advance(rule, inst, cond, now, assume_for)
        event = None if kind is None else self._notify(rule, inst, kind, desc, now, down)
        if inst.state is not AlertState.INACTIVE or event is not None:
            self.instances[fp] = inst
        else:
            self.instances.pop(fp, None)
        return inst, event

    def _notify(
        self,
        rule: RuleSpec,
        inst: AlertInstance,
        kind: EventKind,
        desc: str,
        now: float,
        down: set[str],
    ) -> AlertEvent | None:
        """The notification ``kind`` of ``inst``, counted as sent; ``None`` if it is held back."""
        if kind is EventKind.RESOLVED:
            event = self._emit(rule, inst, kind, desc, now)
            inst.sent = 0  # the episode is over
            return event
        if self._held(rule, inst, now, down):
            if kind is EventKind.REPEAT:
                # A held repeat still takes its turn, so the next one is a full repeat interval
                # away and the end of a silence does not send one at once.
                inst.last_sent = now
            return None
        return self._emit(rule, inst, kind, desc, now)

    @staticmethod
    def _advance(
        rule: RuleSpec, inst: AlertInstance, cond: Condition, now: float, assume_for: bool
    ) -> EventKind | None:
        """Move ``inst`` through its states; which notification is due, not yet counted."""
        trigger, cleared, value = cond
        inst.nodata = trigger is None
        if trigger is None:
            return None  # unknown is not "all good": hold the current state
        inst.value = value
        if inst.state is AlertState.INACTIVE:
            if not trigger:
                return None
            inst.state, inst.active_since = AlertState.PENDING, now
        if inst.state is AlertState.PENDING:
            if not trigger:
                inst.state = AlertState.INACTIVE
                return None
            if assume_for or now - inst.active_since >= rule.for_s:
                inst.state, inst.starts_at = AlertState.FIRING, now
                inst.sent, inst.last_sent = 0, 0.0  # a new episode: nothing of it is sent yet
                return EventKind.FIRING
            return None
        if cleared:
            inst.state = AlertState.INACTIVE
            # only a sent firing is resolved: a held one never reached anyone
            return EventKind.RESOLVED if inst.sent else None
        if inst.sent == 0:
            return EventKind.FIRING  # the firing was held until now
        if rule.repeat_s > 0 and now - inst.last_sent >= rule.repeat_s:
            return EventKind.REPEAT
        return None

    def _emit(
        self, rule: RuleSpec, inst: AlertInstance, kind: EventKind, desc: str, now: float
    ) -> AlertEvent:
        seq = inst.sent
        inst.sent += 1
        inst.last_sent = now
        who = inst.labels.get("agent", "fleet")
        summary = f"{rule.summary or rule.name} ({who})"
        return AlertEvent(
            event_id=event_id_for(inst.fingerprint, inst.starts_at, kind, seq),
            kind=kind,
            rule=rule.name,
            severity=rule.severity,
            fingerprint=inst.fingerprint,
            labels=dict(inst.labels),
            summary=summary,
            description=desc,
            starts_at=inst.starts_at,
            ends_at=now if kind is EventKind.RESOLVED else None,
            at=now,
        )
