"""Fault rules (docs/api.md §6): matched in order by path glob and method, fired by a seeded RNG."""

from __future__ import annotations

import fnmatch
import random
import re
from dataclasses import dataclass

from pf_tui.usd import JSON

KINDS = frozenset(
    {
        "latency",
        "error",
        "rate_limit",
        "reset",
        "hang",
        "truncate",
        "malformed",
        "html",
        "empty",
        "db_fallback",
    }
)


class RuleError(ValueError):
    """A fault rule that cannot be used; the message says which field is wrong."""


@dataclass(slots=True)
class FaultRule:
    """One fault knob."""

    route: str
    kind: str
    method: str | None = None
    rate: float = 1.0
    when: str = "before"
    status: int | None = None
    retry_after_s: float | None = None
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    body: str | None = None
    _regex: re.Pattern[str] | None = None

    def matches(self, path: str, method: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        assert self._regex is not None
        return self._regex.match(path) is not None

    def wire(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {
            "route": self.route,
            "kind": self.kind,
            "rate": self.rate,
            "when": self.when,
        }
        for name in ("method", "status", "retry_after_s", "body"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.latency_ms:
            out["latency_ms"] = self.latency_ms
        if self.jitter_ms:
            out["jitter_ms"] = self.jitter_ms
        return out


def _number(
    raw: dict[str, JSON], name: str, default: float | None, lo: float, hi: float
) -> float | None:
    value = raw.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or (
        not isinstance(value, (int, float)) and not hasattr(value, "as_tuple")
    ):
        raise RuleError(f"{name} must be a number")
    number = float(value)
    if not lo <= number <= hi:
        raise RuleError(f"{name} must be between {lo:g} and {hi:g}")
    return number


def parse_rule(raw: JSON) -> FaultRule:
    """A rule from its JSON form; :class:`RuleError` says what is wrong."""
    if not isinstance(raw, dict):
        raise RuleError("a fault rule is a JSON object")
    route = raw.get("route", "*")
    if not isinstance(route, str) or not route:
        raise RuleError("route must be a path glob such as /escrow/escrow/release/*")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise RuleError(f"kind must be one of {', '.join(sorted(KINDS))}")
    method = raw.get("method")
    if method is not None and not isinstance(method, str):
        raise RuleError("method must be text such as POST")
    when = raw.get("when", "before")
    if when not in ("before", "after"):
        raise RuleError("when must be before or after")
    status = raw.get("status")
    if status is not None and (
        isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599
    ):
        raise RuleError("status must be an HTTP status code")
    body = raw.get("body")
    if body is not None and not isinstance(body, str):
        raise RuleError("body must be text")
    rule = FaultRule(
        route=route,
        kind=kind,
        method=method.upper() if method else None,
        rate=_number(raw, "rate", 1.0, 0.0, 1.0) or 0.0,
        when=when,
        status=status,
        retry_after_s=_number(raw, "retry_after_s", None, 0.0, 86400.0),
        latency_ms=_number(raw, "latency_ms", 0.0, 0.0, 600_000.0) or 0.0,
        jitter_ms=_number(raw, "jitter_ms", 0.0, 0.0, 600_000.0) or 0.0,
        body=body,
    )
    rule._regex = re.compile(fnmatch.translate(route))
    return rule


class Faults:
    """The active rules, in the order they were added."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.rules: list[FaultRule] = []

    def add(self, raw: JSON) -> list[FaultRule]:
        """Add one rule or a list of rules (all validated before any is added)."""
        items = raw if isinstance(raw, list) else [raw]
        rules = [parse_rule(item) for item in items]
        self.rules.extend(rules)
        return rules

    def fired(self, path: str, method: str) -> list[FaultRule]:
        """The rules that match this request and fire this time (each draws from the RNG once)."""
        out = []
        for rule in self.rules:
            if rule.matches(path, method) and (rule.rate >= 1.0 or self.rng.random() < rule.rate):
                out.append(rule)
        return out

    def clear(self) -> None:
        self.rules.clear()
