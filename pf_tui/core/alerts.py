"""Alert rules and their state machine: pure, driven by the timestamps it is given.

Each rule turns facts about an agent (or the fleet) into a condition that is true, false or
unknown. Unknown (no data, API error) never counts as "all good": a firing alert stays firing
while its data is missing, and the separate ``data_stale`` / ``api_down`` rules page for the gap.

Per alert instance the states are ``inactive -> pending -> firing -> inactive``:
- pending until the condition has held for the rule's ``for_s`` (a flap inside it sends nothing);
- firing sends one message, then one per ``repeat_s`` while it keeps firing;
- it clears only when the value crosses the rule's separate clear threshold (hysteresis), and
  then one resolved message is sent (only if a firing message was sent).
Silences (with expiry) and inhibition (an agent's ``api_down`` mutes that agent's other alerts)
suppress messages, not state. The engine's state can be dumped and restored, so a restarted
daemon neither repeats nor forgets a page.
"""

from __future__ import annotations

import enum
import fnmatch
import hashlib
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pf_tui.config.model import AlertsConfig

__all__ = [
    "AgentFacts",
    "AlertEngine",
    "AlertEvent",
    "AlertInstance",
    "EventKind",
    "FleetFacts",
    "Health",
    "RuleKind",
    "RuleSpec",
    "Severity",
    "Silence",
    "StreamFacts",
    "builtin_rules",
    "default_rules",
    "rules_from_config",
    "event_id_for",
]

_OPS: dict[str, Callable[[Decimal, Decimal], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
}

FLEET = "fleet"
"""The scope key of fleet-wide alert instances."""


class Health(str, enum.Enum):
    """How far an agent's figures can be trusted right now."""

    OK = "ok"
    NODATA = "nodata"  # stale: no fresh figures within the staleness window
    ERROR = "error"  # the API is failing for this agent


class Severity(str, enum.Enum):
    """How loudly an alert pages."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


class RuleKind(str, enum.Enum):
    """What a rule looks at."""

    THRESHOLD = "threshold"  # a metric against a threshold, with a clear threshold
    STALE = "stale"  # Health.NODATA
    DOWN = "down"  # Health.ERROR; inhibits the agent's other alerts
    STREAM_SILENT = "stream_silent"  # a payee with no release for factor x its interval
    DISPUTE = "dispute"  # an escrow of the fleet is disputed
    UNKNOWN_ACTION = "unknown_action"  # a money action whose outcome is unknown


class EventKind(str, enum.Enum):
    """Why a notification is sent."""

    FIRING = "firing"
    REPEAT = "repeat"
    RESOLVED = "resolved"
    HEARTBEAT = "heartbeat"  # the daemon's "still alive" message (Alertmanager's Watchdog)


@dataclass(frozen=True)
class StreamFacts:
    """One open stream of an agent: when its payee was last paid and how often it should be."""

    stream_id: str
    payee: str
    expected_interval_s: float
    last_release_at: float


@dataclass(frozen=True)
class AgentFacts:
    """What the rules know about one agent at one moment."""

    agent_id: str
    label: str = ""
    health: Health = Health.OK
    health_reason: str = ""
    metrics: Mapping[str, Decimal | None] = field(default_factory=dict)
    streams: tuple[StreamFacts, ...] = ()
    disputes: tuple[str, ...] = ()  # escrow ids currently disputed
    unknown_actions: tuple[str, ...] = ()  # action keys whose outcome is unknown


@dataclass(frozen=True)
class FleetFacts:
    """Fleet-wide figures (totals, rates) for fleet-scoped rules."""

    metrics: Mapping[str, Decimal | None] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleSpec:
    """One alert rule, as configured.

    ``op`` (``>``, ``>=``, ``<``, ``<=``) fires when ``value op threshold`` holds and clears once
    ``value op clear`` no longer holds (hysteresis). ``clear`` defaults to ``threshold``.
    """

    name: str
    kind: RuleKind
    severity: Severity = Severity.WARNING
    scope: str = "agent"  # "agent" or "fleet"
    metric: str = ""
    op: str = ">"
    threshold: Decimal = Decimal(0)
    clear: Decimal | None = None
    for_s: float = 0.0
    repeat_s: float = 4 * 3600.0
    factor: Decimal = Decimal(3)  # stream_silent: silent for factor x expected interval
    summary: str = ""
    enabled: bool = True

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ValueError(f"rule {self.name}: op must be one of > >= < <=, got {self.op!r}")
        if self.scope not in ("agent", "fleet"):
            raise ValueError(f"rule {self.name}: scope must be 'agent' or 'fleet'")
        if self.kind is RuleKind.THRESHOLD and not self.metric:
            raise ValueError(f"rule {self.name}: a threshold rule needs a metric")
        if self.for_s < 0 or self.repeat_s < 0:
            raise ValueError(f"rule {self.name}: for and repeat_interval must be >= 0")
        clear = self.threshold if self.clear is None else self.clear
        if (self.op[0] == ">" and clear > self.threshold) or (
            self.op[0] == "<" and clear < self.threshold
        ):
            raise ValueError(
                f"rule {self.name}: clear {clear} must be on the safe side of threshold "
                f"{self.threshold} (op {self.op})"
            )

    @property
    def clear_at(self) -> Decimal:
        """The value the metric must cross back over to resolve."""
        return self.threshold if self.clear is None else self.clear


def builtin_rules() -> tuple[RuleSpec, ...]:
    """Rules beyond the config's metric thresholds: health, spend, streams, disputes, actions."""
    d, h, m = Decimal, 3600.0, 60.0
    return (
        RuleSpec("spend_rate_high", RuleKind.THRESHOLD, Severity.WARNING,
                 metric="spend_usd_per_hour", op=">", threshold=d(100), clear=d(80), for_s=5 * m,
                 repeat_s=h, summary="spend per hour"),
        RuleSpec("data_stale", RuleKind.STALE, Severity.WARNING, for_s=2 * m, repeat_s=4 * h,
                 summary="no fresh data"),
        RuleSpec("api_down", RuleKind.DOWN, Severity.CRITICAL, for_s=2 * m, repeat_s=h,
                 summary="API failing"),
        RuleSpec("stream_silent", RuleKind.STREAM_SILENT, Severity.WARNING, factor=d(3),
                 repeat_s=4 * h, summary="payee not paid"),
        RuleSpec("dispute_opened", RuleKind.DISPUTE, Severity.CRITICAL, repeat_s=24 * h,
                 summary="escrow disputed"),
        RuleSpec("unknown_action", RuleKind.UNKNOWN_ACTION, Severity.CRITICAL, repeat_s=4 * h,
                 summary="money action outcome unknown"),
        RuleSpec("fleet_error_rate", RuleKind.THRESHOLD, Severity.CRITICAL, scope=FLEET,
                 metric="error_rate_pct", op=">", threshold=d(5), clear=d(3), for_s=5 * m,
                 repeat_s=h, summary="fleet API error rate"),
        RuleSpec("fleet_spend_rate_high", RuleKind.THRESHOLD, Severity.WARNING, scope=FLEET,
                 metric="spend_usd_per_hour", op=">", threshold=d(1000), clear=d(800),
                 for_s=5 * m, repeat_s=h, summary="fleet spend per hour"),
    )


def default_rules() -> tuple[RuleSpec, ...]:
    """The seed's thresholds (as the config's defaults name them) plus :func:`builtin_rules`."""
    d, h = Decimal, 3600.0
    seed = (
        RuleSpec("max_drawdown", RuleKind.THRESHOLD, Severity.CRITICAL, metric="max_drawdown_pct",
                 op=">", threshold=d(10), clear=d(8), for_s=60, repeat_s=h, summary="max drawdown %"),
        RuleSpec("low_balance", RuleKind.THRESHOLD, Severity.WARNING, metric="balance_usd",
                 op="<", threshold=d(50), clear=d(55), repeat_s=h, summary="balance USD"),
        RuleSpec("error_rate", RuleKind.THRESHOLD, Severity.WARNING, metric="error_rate_pct",
                 op=">", threshold=d(5), clear=d(3), for_s=120, repeat_s=h, summary="API error rate %"),
        RuleSpec("open_positions", RuleKind.THRESHOLD, Severity.WARNING, metric="open_positions",
                 op=">", threshold=d(20), clear=d(18), repeat_s=h, summary="open positions"),
    )
    return seed + builtin_rules()


@dataclass(frozen=True)
class Silence:
    """Mute alerts whose labels match every matcher (shell globs) until ``ends_at``."""

    matchers: Mapping[str, str]
    ends_at: float
    starts_at: float = 0.0
    comment: str = ""

    def active(self, now: float) -> bool:
        """Whether the silence applies at ``now``."""
        return self.starts_at <= now < self.ends_at

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether every matcher matches the label of the same name."""
        return all(fnmatch.fnmatchcase(labels.get(k, ""), v) for k, v in self.matchers.items())


@dataclass
class AlertInstance:
    """The state of one rule for one agent (and stream, escrow or action)."""

    fingerprint: str
    rule: str
    labels: dict[str, str]
    state: str = "inactive"  # inactive | pending | firing
    active_since: float = 0.0  # when the condition began to hold
    starts_at: float = 0.0  # when it began firing
    last_sent: float = 0.0
    sent: int = 0  # notifications sent for this firing episode
    value: str = ""
    nodata: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form, for the store."""
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertInstance:
        """Inverse of :meth:`to_dict`."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


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


# A condition is True (bad), False (good) or None (unknown: keep the current state).
_Cond = tuple[bool | None, bool | None, str]  # (trigger, cleared, value text)


def _threshold(rule: RuleSpec, value: Decimal | None) -> _Cond:
    if value is None:
        return None, None, ""
    test = _OPS[rule.op]
    return test(value, rule.threshold), not test(value, rule.clear_at), str(value)


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
        return [i for i in self.instances.values() if i.state == "firing"]

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
        rules = {r.name: r for r in self.rules}
        seen: dict[str, tuple[RuleSpec, dict[str, str], _Cond, str]] = {}
        covered: set[str] = set()  # agents evaluated this round
        down: set[str] = set()
        for facts in agents:
            covered.add(facts.agent_id)
            for rule in self.rules:
                if rule.scope != "agent":
                    continue
                for labels, cond, desc in self._agent_conditions(rule, facts, now):
                    fp = fingerprint_of(labels)
                    seen[fp] = (rule, labels, cond, desc)
        if fleet is not None:
            for rule in self.rules:
                if rule.scope == FLEET and rule.kind is RuleKind.THRESHOLD:
                    labels = {"alertname": rule.name, "severity": rule.severity.value,
                              "scope": FLEET}
                    cond = _threshold(rule, fleet.metrics.get(rule.metric))
                    seen[fingerprint_of(labels)] = (rule, labels, cond, _describe(rule, cond[2]))
        # Sub-keyed instances (a stream, an escrow, an action) that vanished from an agent that
        # reported normally have cleared; everything else unseen keeps its state.
        for fp, inst in self.instances.items():
            if fp in seen or inst.rule not in rules:
                continue
            agent = inst.labels.get("agent", "")
            if agent in covered and any(k in inst.labels for k in ("stream", "escrow", "action")):
                seen[fp] = (rules[inst.rule], inst.labels, (False, True, ""), "")
        events: list[AlertEvent] = []
        for fp, (rule, labels, cond, desc) in seen.items():
            inst = self.instances.get(fp)
            if inst is None:
                inst = AlertInstance(fp, rule.name, dict(labels))
            step = self._step(rule, inst, cond, desc, now, assume_for)
            if inst.state != "inactive" or step is not None:
                self.instances[fp] = inst
            elif fp in self.instances:
                del self.instances[fp]
            if inst.state == "firing" and rule.kind is RuleKind.DOWN:
                down.add(labels.get("agent", ""))
            if step is not None:
                events.append(step)
        return [e for e in events if self._deliverable(e, now, down)]

    def _deliverable(self, event: AlertEvent, now: float, down: set[str]) -> bool:
        if event.kind is EventKind.RESOLVED:
            return True  # a firing message was sent, so its resolution must follow
        if event.rule != "api_down" and event.labels.get("agent") in down:
            rule = next((r for r in self.rules if r.name == event.rule), None)
            if rule is not None and rule.kind is not RuleKind.DOWN:
                self._unsend(event)
                return False
        if self.muted.get(event.fingerprint, 0.0) > now or any(
            s.active(now) and s.matches(event.labels) for s in self.silences
        ):
            self._unsend(event)
            return False
        return True

    def _unsend(self, event: AlertEvent) -> None:
        # A suppressed message was not sent: the next evaluation may send it once unmuted.
        inst = self.instances.get(event.fingerprint)
        if inst is not None:
            inst.sent -= 1
            inst.last_sent = 0.0 if inst.sent == 0 else inst.last_sent

    def _agent_conditions(
        self, rule: RuleSpec, facts: AgentFacts, now: float
    ) -> Iterable[tuple[dict[str, str], _Cond, str]]:
        base = {"alertname": rule.name, "severity": rule.severity.value, "agent": facts.agent_id}
        if facts.label:
            base["label"] = facts.label
        kind = rule.kind
        if kind is RuleKind.THRESHOLD:
            if facts.health is not Health.OK:
                cond: _Cond = (None, None, "")
            else:
                cond = _threshold(rule, facts.metrics.get(rule.metric))
            yield base, cond, _describe(rule, cond[2])
        elif kind is RuleKind.STALE:
            bad = facts.health is Health.NODATA
            yield base, (bad, not bad, facts.health.value), facts.health_reason or "no fresh data"
        elif kind is RuleKind.DOWN:
            bad = facts.health is Health.ERROR
            yield base, (bad, not bad, facts.health.value), facts.health_reason or "API failing"
        elif kind is RuleKind.STREAM_SILENT:
            for s in facts.streams:
                silent_for = now - s.last_release_at
                limit = float(rule.factor) * s.expected_interval_s
                labels = {**base, "stream": s.stream_id, "payee": s.payee}
                bad = silent_for > limit
                yield labels, (bad, not bad, f"{silent_for:.0f}s"), (
                    f"payee {s.payee} not paid for {silent_for:.0f}s "
                    f"(expected every {s.expected_interval_s:.0f}s)"
                )
        elif kind is RuleKind.DISPUTE:
            for escrow in facts.disputes:
                yield {**base, "escrow": escrow}, (True, False, "disputed"), f"escrow {escrow} disputed"
        elif kind is RuleKind.UNKNOWN_ACTION:
            for key in facts.unknown_actions:
                yield {**base, "action": key}, (True, False, "unknown"), (
                    f"money action {key} has an unknown outcome: check it by hand"
                )

    def _step(
        self,
        rule: RuleSpec,
        inst: AlertInstance,
        cond: _Cond,
        desc: str,
        now: float,
        assume_for: bool,
    ) -> AlertEvent | None:
        trigger, cleared, value = cond
        inst.nodata = trigger is None
        if trigger is None:
            return None  # unknown is not "all good": hold the current state
        inst.value = value
        if inst.state == "inactive":
            if not trigger:
                return None
            inst.state, inst.active_since = "pending", now
        if inst.state == "pending":
            if not trigger:
                inst.state = "inactive"
                return None
            if assume_for or now - inst.active_since >= rule.for_s:
                inst.state, inst.starts_at, inst.sent = "firing", now, 0
                return self._emit(rule, inst, EventKind.FIRING, desc, now)
            return None
        # firing
        if cleared:
            inst.state = "inactive"
            if inst.sent == 0:
                return None
            event = self._emit(rule, inst, EventKind.RESOLVED, desc, now)
            inst.sent = 0
            return event
        if inst.sent == 0:
            return self._emit(rule, inst, EventKind.FIRING, desc, now)
        if rule.repeat_s > 0 and now - inst.last_sent >= rule.repeat_s:
            return self._emit(rule, inst, EventKind.REPEAT, desc, now)
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


def _describe(rule: RuleSpec, value: str) -> str:
    if not value:
        return f"{rule.summary or rule.metric}: no data"
    word = "above" if rule.op[0] == ">" else "below"
    return f"{rule.summary or rule.metric} {value} {word} {rule.threshold} (clears at {rule.clear_at})"



_SUMMARIES = {
    "max_drawdown_pct": "max drawdown %",
    "drawdown_pct": "drawdown %",
    "balance_usd": "balance USD",
    "equity_usd": "equity USD",
    "pnl_usd": "P&L USD",
    "unrealized_pnl_usd": "unrealised P&L USD",
    "open_positions": "open positions",
    "error_rate_pct": "API error rate %",
    "stale_s": "seconds since last poll",
    "casino_net_usd": "casino net USD",
}


def rules_from_config(alerts: AlertsConfig) -> tuple[tuple[RuleSpec, ...], tuple[Silence, ...]]:
    """The config's ``[alerts]`` as rules (its metric rules, then :func:`builtin_rules`) and silences.

    Raises ``ValueError`` for a rule the engine cannot run (the config validates the same, so this
    only guards against drift between the two).
    """
    rules = [
        RuleSpec(
            name=r.name,
            kind=RuleKind.THRESHOLD,
            severity=Severity(r.severity),
            metric=r.metric,
            op=r.op,
            threshold=r.threshold,
            clear=r.clear_threshold,
            for_s=r.for_s,
            repeat_s=r.repeat_interval_s,
            summary=_SUMMARIES.get(r.metric, r.metric),
            enabled=r.enabled,
        )
        for r in alerts.rules
    ]
    names = {r.name for r in rules}
    rules += [r for r in builtin_rules() if r.name not in names]
    silences = tuple(
        Silence(
            {("alertname" if k == "rule" else k): v for k, v in s.matcher},
            ends_at=s.expires.timestamp(),
            comment=s.comment,
        )
        for s in alerts.silences
    )
    return tuple(rules), silences
