"""Alert rules: what each rule reads, its thresholds with hysteresis, and the built-in set.

A :class:`RuleSpec` is one configured rule. :func:`rules_from_config` turns ``[alerts]`` into the
engine's rules (the config's metric thresholds first, then :func:`builtin_rules`) and silences.
Conditions are evaluated by :mod:`pf_tui.core.alerts.engine`.
"""

from __future__ import annotations

import enum
import fnmatch
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from pf_tui.config import AlertsConfig, default_alert_rules

_OPS: dict[str, Callable[[Decimal, Decimal], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}

FLEET = "fleet"
"""The scope key of fleet-wide alert instances."""
STREAM = "stream"
"""The scope of rules evaluated once per open stream (labels ``stream`` and ``payee``)."""
SCOPES = ("agent", STREAM, FLEET)


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
    STREAM_TIMEOUT = "stream_timeout"  # a paused or idle stream's escrow times out soon


@dataclass(frozen=True)
class RuleSpec:
    """One alert rule, as configured.

    ``op`` (``>``, ``>=``, ``<``, ``<=``) fires when ``value op threshold`` holds and clears once
    ``value op clear`` no longer holds (hysteresis). ``clear`` defaults to ``threshold``.
    """

    name: str
    kind: RuleKind
    severity: Severity = Severity.WARNING
    scope: str = "agent"  # "agent", "stream" (threshold rules only) or "fleet"
    metric: str = ""
    op: str = ">"
    threshold: Decimal = Decimal(0)
    clear: Decimal | None = None
    for_s: float = 0.0
    repeat_s: float = 4 * 3600.0
    factor: Decimal = Decimal(3)  # stream_silent: silent for factor x expected interval
    summary: str = ""
    enabled: bool = True
    lead_s: float | None = None
    """stream_timeout: how long before the timeout it fires (``None``: :func:`timeout_lead`)."""

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ValueError(f"rule {self.name}: op must be one of > >= < <=, got {self.op!r}")
        if self.scope not in SCOPES:
            raise ValueError(f"rule {self.name}: scope must be one of {', '.join(SCOPES)}")
        if self.scope == STREAM and self.kind is not RuleKind.THRESHOLD:
            raise ValueError(f"rule {self.name}: only a threshold rule can have scope stream")
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
        RuleSpec(
            "spend_rate_high",
            RuleKind.THRESHOLD,
            Severity.WARNING,
            metric="spend_usd_per_hour",
            op=">",
            threshold=d(100),
            clear=d(80),
            for_s=5 * m,
            repeat_s=h,
            summary="spend per hour",
        ),
        RuleSpec(
            "data_stale",
            RuleKind.STALE,
            Severity.WARNING,
            for_s=2 * m,
            repeat_s=4 * h,
            summary="no fresh data",
        ),
        RuleSpec(
            "api_down",
            RuleKind.DOWN,
            Severity.CRITICAL,
            for_s=2 * m,
            repeat_s=h,
            summary="API failing",
        ),
        RuleSpec(
            "stream_silent",
            RuleKind.STREAM_SILENT,
            Severity.WARNING,
            factor=d(3),
            repeat_s=4 * h,
            summary="payee not paid",
        ),
        RuleSpec(
            "dispute_opened",
            RuleKind.DISPUTE,
            Severity.CRITICAL,
            repeat_s=24 * h,
            summary="escrow disputed",
        ),
        RuleSpec(
            "stream_timeout",
            RuleKind.STREAM_TIMEOUT,
            Severity.CRITICAL,
            repeat_s=30 * m,
            summary="stream timeout moves money",
        ),
        RuleSpec(
            "unknown_action",
            RuleKind.UNKNOWN_ACTION,
            Severity.CRITICAL,
            repeat_s=4 * h,
            summary="money action outcome unknown",
        ),
        RuleSpec(
            "fleet_error_rate",
            RuleKind.THRESHOLD,
            Severity.CRITICAL,
            scope=FLEET,
            metric="error_rate_pct",
            op=">",
            threshold=d(5),
            clear=d(3),
            for_s=5 * m,
            repeat_s=h,
            summary="fleet API error rate",
        ),
        RuleSpec(
            "fleet_spend_rate_high",
            RuleKind.THRESHOLD,
            Severity.WARNING,
            scope=FLEET,
            metric="spend_usd_per_hour",
            op=">",
            threshold=d(1000),
            clear=d(800),
            for_s=5 * m,
            repeat_s=h,
            summary="fleet spend per hour",
        ),
    )


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


DEFAULT_TIMEOUT_LEAD_S = 3600.0
"""The stream_timeout rule fires this long before a timeout, or at a quarter of a shorter one."""


def timeout_lead(rule: RuleSpec, timeout_hours: int | None) -> float:
    """How long before an escrow's timeout ``rule`` fires: the configured lead, else 1 hour or
    a quarter of the escrow's timeout when that is shorter."""
    if rule.lead_s is not None:
        return rule.lead_s
    if timeout_hours is None:
        return DEFAULT_TIMEOUT_LEAD_S
    return min(DEFAULT_TIMEOUT_LEAD_S, timeout_hours * 3600 / 4)


# A condition is True (bad), False (good) or None (unknown: keep the current state).
Condition = tuple[bool | None, bool | None, str]  # (trigger, cleared, value text)


_CENTS = Decimal("0.01")


def value_text(value: Decimal) -> str:
    """A rule's figure as the alert log, the Alerts tab and every notification show it: a whole
    number as it is, anything else to two places (``10112.67``, not the 28 digits a division left,
    ``14.29`` for a rate of ``14.2857``). The rule itself compares the exact figure."""
    if not value.is_finite():
        return str(value)
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return str(value.quantize(_CENTS, rounding=ROUND_HALF_UP))


def threshold_condition(rule: RuleSpec, value: Decimal | None) -> Condition:
    """Whether ``value`` fires ``rule`` and whether it clears it (both unknown without a value);
    the figure's text is :func:`value_text`."""
    if value is None:
        return None, None, ""
    test = _OPS[rule.op]
    return test(value, rule.threshold), not test(value, rule.clear_at), value_text(value)


def describe(rule: RuleSpec, value: str) -> str:
    """A threshold alert's description: the figure, the threshold and where it clears."""
    if not value:
        return f"{rule.summary or rule.metric}: no data"
    word = "above" if rule.op[0] == ">" else "below"
    return (
        f"{rule.summary or rule.metric} {value} {word} {rule.threshold} (clears at {rule.clear_at})"
    )


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
    "spend_usd_per_hour": "spend per hour USD",
}


def rules_from_config(alerts: AlertsConfig) -> tuple[tuple[RuleSpec, ...], tuple[Silence, ...]]:
    """The config's ``[alerts]`` as the engine's rules and silences.

    The rules are the config's metric rules, then those of :func:`builtin_rules` it does not name.

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
            scope=r.scope,
        )
        for r in alerts.rules
    ]
    names = {r.name for r in rules}
    rules += [
        replace(r, lead_s=alerts.stream_timeout_lead_s) if r.kind is RuleKind.STREAM_TIMEOUT else r
        for r in builtin_rules()
        if r.name not in names
    ]
    silences = tuple(
        Silence(
            {("alertname" if k == "rule" else k): v for k, v in s.matcher},
            ends_at=s.expires.timestamp(),
            comment=s.comment,
        )
        for s in alerts.silences
    )
    return tuple(rules), silences


def default_rule_specs() -> tuple[RuleSpec, ...]:
    """The rules of a config that sets none: the seed's thresholds, then :func:`builtin_rules`.

    The thresholds are the config's own defaults (:func:`~pf_tui.config.default_alert_rules`)
    read through :func:`rules_from_config`, so they are written once.
    """
    return rules_from_config(AlertsConfig(rules=default_alert_rules()))[0]
