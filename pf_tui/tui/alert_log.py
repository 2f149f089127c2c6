"""The Alerts tab's log, derived from the fleet views until the alert rules are wired in.

Each tick, an agent whose latest poll of some figure failed opens an ``api_error`` event
(``firing``, critical) with the error; a good poll resolves it. An agent whose figures went stale
opens a ``stale_data`` event (warning) with the reason; fresh figures resolve it. A service whose
every poll fails opens ``service_down``.
Acknowledging marks an event seen; silencing an (agent, rule) pair hides its new events for a
while. Pure Python, no Textual: the view renders :attr:`AlertLog.entries`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pf_tui.tui.viewmodel import FleetView

MAX_ENTRIES = 2000
"""Oldest resolved entries are dropped past this many."""
SILENCE_S = 3600.0
"""How long the silence key mutes an (agent, rule) pair."""


@dataclass(frozen=True, slots=True)
class AlertEntry:
    """One alert event: when it started, what it is about, and where it stands."""

    key: str
    started_at: float
    severity: str
    agent_id: str
    agent_label: str
    rule: str
    value: str
    """Untrusted: may quote an API error."""
    state: str
    """``firing`` or ``resolved`` (``pending`` is kept for the rule engine's alerts)."""
    resolved_at: float | None = None
    acknowledged: bool = False

    def duration(self, now: float) -> float:
        """Seconds it has been (or was) open."""
        end = self.resolved_at if self.resolved_at is not None else now
        return max(0.0, end - self.started_at)


class AlertLog:
    """Open and resolved events keyed by (agent, rule)."""

    def __init__(self) -> None:
        self._entries: dict[str, AlertEntry] = {}
        self._open: dict[tuple[str, str], str] = {}
        self._silenced: dict[tuple[str, str], float] = {}
        self._seq = 0
        self.version = 0
        """Bumped on every change, so the view redraws only when something happened."""

    @property
    def entries(self) -> list[AlertEntry]:
        """Every entry, newest first."""
        return sorted(self._entries.values(), key=lambda e: (e.started_at, e.key), reverse=True)

    def get(self, key: str) -> AlertEntry | None:
        """The entry with ``key``."""
        return self._entries.get(key)

    def firing_count(self) -> int:
        """Open, unacknowledged events."""
        return sum(1 for e in self._entries.values() if e.state == "firing" and not e.acknowledged)

    def observe(self, view: FleetView) -> None:
        """Open and resolve events from one tick's view."""
        now = view.at
        agents = view.agents if view.changed_agents is None else [
            a for a in view.agents if a.agent_id in view.changed_agents
        ]
        for agent in agents:
            if agent.last_error:
                self._fire(agent.agent_id, agent.label, "api_error", agent.last_error, now, "critical")
            else:
                self._resolve((agent.agent_id, "api_error"), now)
            # A figure never fetched yet is start-up, not an incident.
            if agent.stale and not agent.stale_reason.endswith("not fetched yet"):
                self._fire(agent.agent_id, agent.label, "stale_data", agent.stale_reason, now, "warning")
            else:
                self._resolve((agent.agent_id, "stale_data"), now)
        for service in view.services:
            pair = (f"service:{service.name}", "service_down")
            if service.state == "down":
                self._fire(pair[0], service.name, "service_down", "every poll failing", now, "critical")
            elif service.state in ("up", "degraded"):
                self._resolve(pair, now)

    def _fire(self, agent_id: str, label: str, rule: str, value: str, now: float, severity: str) -> None:
        pair = (agent_id, rule)
        key = self._open.get(pair)
        if key is not None:
            entry = self._entries[key]
            if entry.value != value:
                self._entries[key] = replace(entry, value=value)
                self.version += 1
            return
        until = self._silenced.get(pair)
        if until is not None and now < until:
            return
        self._seq += 1
        key = f"al{self._seq:06d}"
        self._entries[key] = AlertEntry(key, now, severity, agent_id, label, rule, value, "firing")
        self._open[pair] = key
        self.version += 1
        self._trim()

    def _resolve(self, pair: tuple[str, str], now: float) -> None:
        key = self._open.pop(pair, None)
        if key is None:
            return
        self._entries[key] = replace(self._entries[key], state="resolved", resolved_at=now)
        self.version += 1

    def acknowledge(self, key: str) -> bool:
        """Mark an entry seen; False when there is no such entry."""
        entry = self._entries.get(key)
        if entry is None:
            return False
        self._entries[key] = replace(entry, acknowledged=True)
        self.version += 1
        return True

    def silence(self, key: str, now: float, seconds: float = SILENCE_S) -> bool:
        """Mute new events of this entry's (agent, rule) for ``seconds``, and acknowledge it."""
        entry = self._entries.get(key)
        if entry is None:
            return False
        self._silenced[(entry.agent_id, entry.rule)] = now + seconds
        return self.acknowledge(key)

    def silenced_until(self, agent_id: str, rule: str) -> float | None:
        """When the silence on (agent, rule) ends, if any."""
        return self._silenced.get((agent_id, rule))

    def _trim(self) -> None:
        if len(self._entries) <= MAX_ENTRIES:
            return
        resolved = sorted((e for e in self._entries.values() if e.state == "resolved"), key=lambda e: e.started_at)
        for entry in resolved[: len(self._entries) - MAX_ENTRIES]:
            del self._entries[entry.key]
