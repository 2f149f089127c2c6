"""The Alerts tab's log, derived from the fleet views until the alert rules are wired in.

Each tick, an agent whose latest poll of some figure failed opens an ``api_error`` event
(``firing``, critical) with the error; a good poll resolves it. An agent whose figures went stale
opens a ``stale_data`` event (warning) with the reason; fresh figures resolve it. A service whose
every poll fails opens ``service_down``.
Acknowledging marks an event seen; silencing an (agent, rule) pair hides its new events for a
while. Pure Python, no Textual: the view renders :attr:`AlertLog.entries`.

The daemon's rule alerts (read from the shared store by :mod:`pf_tui.views.daemon_alerts`) are
merged in with :meth:`AlertLog.merge_daemon`; acknowledging or silencing one of those goes back to
the store through the callbacks given to :meth:`AlertLog.bind_store`, so the daemon stops paging.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from pf_tui.core.alerts.heartbeat import Heartbeat
from pf_tui.views.model import FleetView

MAX_ENTRIES = 2000
"""Past this many, the resolved entries opened first are dropped."""
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
    silenced_until: float | None = None
    """When a silence set from the TUI on this daemon episode ends."""
    source: str = "tui"
    """``tui`` (derived here from the polls) or ``daemon`` (a rule alert from the store)."""
    stream_id: str = ""
    """The stream a daemon alert is about (its ``stream`` label), if any."""
    escrow_id: str = ""
    """The escrow a daemon alert is about (its ``escrow`` label), if any."""

    def duration(self, now: float) -> float:
        """Seconds it has been (or was) open."""
        end = self.resolved_at if self.resolved_at is not None else now
        return max(0.0, end - self.started_at)


class AlertLog:
    """Open and resolved events keyed by (agent, rule)."""

    def __init__(self) -> None:
        self._entries: dict[str, AlertEntry] = {}
        self._resolved = 0
        """How many of :attr:`_entries` are resolved (the only ones :meth:`_trim` removes)."""
        self._open: dict[tuple[str, str], str] = {}
        self._silenced: dict[tuple[str, str], float] = {}
        self._seq = 0
        self._daemon: dict[str, AlertEntry] = {}
        self._ack_sink: Callable[[int], None] | None = None
        self._silence_sink: Callable[[int, float], None] | None = None
        self.heartbeat: Heartbeat | None = None
        """The daemon's last heartbeat (``None``: never ran, or no store)."""
        self.store_reachable = True
        self.dead_letters: tuple[tuple[str, str, int], ...] = ()
        """``(receiver, reason, count)`` of notifications the receivers refused for good."""
        self.daemon_known = False
        """Whether the store was read at least once (before that, the daemon state is unknown)."""
        self.version = 0
        """Bumped on every change, so the view redraws only when something happened."""
        self._firing = (-1, 0)
        """``(version, count)`` of the last :meth:`firing_count`."""

    @property
    def entries(self) -> list[AlertEntry]:
        """Every entry (the TUI's own and the daemon's), newest first."""
        merged = [*self._entries.values(), *self._daemon.values()]
        return sorted(merged, key=lambda e: (e.started_at, e.key), reverse=True)

    def get(self, key: str) -> AlertEntry | None:
        """The entry with ``key``."""
        return self._entries.get(key) or self._daemon.get(key)

    def firing_count(self) -> int:
        """Open, unacknowledged events (counted again only after a change: it is asked every
        tick, and at 5,000 agents the log holds thousands)."""
        if self._firing[0] != self.version:
            count = sum(
                1
                for e in (*self._entries.values(), *self._daemon.values())
                if e.state == "firing" and not e.acknowledged
            )
            self._firing = (self.version, count)
        return self._firing[1]

    # ---- the daemon's alerts --------------------------------------------------------------

    def bind_store(
        self, acknowledge: Callable[[int], None], silence: Callable[[int, float], None]
    ) -> None:
        """Where acks and silences of daemon rows are written (``alerts.id`` and until)."""
        self._ack_sink, self._silence_sink = acknowledge, silence

    def merge_daemon(self, entries: Iterable[AlertEntry]) -> bool:
        """Replace the daemon's rows with a fresh read; True when anything changed."""
        fresh = {e.key: e for e in entries}
        if fresh == self._daemon:
            return False
        self._daemon = fresh
        self.version += 1
        return True

    def set_daemon_status(
        self,
        heartbeat: Heartbeat | None,
        *,
        reachable: bool = True,
        dead_letters: tuple[tuple[str, str, int], ...] | None = None,
    ) -> bool:
        """Record the daemon's heartbeat (and dead letters, when read) from the latest read;
        True when anything changed."""
        known = self.daemon_known
        dead = self.dead_letters if dead_letters is None else dead_letters
        if (heartbeat, reachable, True, dead) == (
            self.heartbeat,
            self.store_reachable,
            known,
            self.dead_letters,
        ):
            return False
        self.heartbeat, self.store_reachable, self.daemon_known = heartbeat, reachable, True
        self.dead_letters = dead
        self.version += 1
        return True

    def observe(self, view: FleetView) -> None:
        """Open and resolve events from one tick's view."""
        now = view.at
        changed = view.changed_views()
        agents = view.agents if changed is None else changed
        for agent in agents:
            if agent.last_error:
                self._fire(
                    agent.agent_id, agent.label, "api_error", agent.last_error, now, "critical"
                )
            else:
                self._resolve((agent.agent_id, "api_error"), now)
            # A figure never fetched yet is start-up, not an incident.
            if agent.stale and not agent.stale_reason.endswith("not fetched yet"):
                self._fire(
                    agent.agent_id, agent.label, "stale_data", agent.stale_reason, now, "warning"
                )
            else:
                self._resolve((agent.agent_id, "stale_data"), now)
        for service in view.services:
            pair = (f"service:{service.name}", "service_down")
            if service.state == "down":
                self._fire(
                    pair[0], service.name, "service_down", "every poll failing", now, "critical"
                )
            elif service.state in ("up", "degraded"):
                self._resolve(pair, now)
        self._trim()  # once a tick, not once an event: at 5,000 agents a tick can open hundreds

    def _fire(
        self, agent_id: str, label: str, rule: str, value: str, now: float, severity: str
    ) -> None:
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

    def _resolve(self, pair: tuple[str, str], now: float) -> None:
        key = self._open.pop(pair, None)
        if key is None:
            return
        self._entries[key] = replace(self._entries[key], state="resolved", resolved_at=now)
        self._resolved += 1
        self.version += 1

    def acknowledge(self, key: str) -> bool:
        """Mark an entry seen; False when there is no such entry.

        A daemon row is written to the store too (the daemon's view of who saw it).
        """
        daemon = self._daemon.get(key)
        if daemon is not None:
            if self._ack_sink is None:
                return False
            self._daemon[key] = replace(daemon, acknowledged=True)
            self._ack_sink(_row_id(key))
            self.version += 1
            return True
        entry = self._entries.get(key)
        if entry is None:
            return False
        self._entries[key] = replace(entry, acknowledged=True)
        self.version += 1
        return True

    def silence(self, key: str, now: float, seconds: float = SILENCE_S) -> bool:
        """Mute this entry for ``seconds`` and acknowledge it.

        The TUI's own entries mute their (agent, rule) here; a daemon row gets ``silenced_until``
        in the store, which mutes that episode's notifications in the daemon.
        """
        daemon = self._daemon.get(key)
        if daemon is not None:
            if self._silence_sink is None:
                return False
            self._daemon[key] = replace(daemon, acknowledged=True, silenced_until=now + seconds)
            self._silence_sink(_row_id(key), now + seconds)
            self.version += 1
            return True
        entry = self._entries.get(key)
        if entry is None:
            return False
        self._silenced[(entry.agent_id, entry.rule)] = now + seconds
        return self.acknowledge(key)

    def silenced_until(self, agent_id: str, rule: str) -> float | None:
        """When the silence on (agent, rule) ends, if any."""
        return self._silenced.get((agent_id, rule))

    def silences(self, now: float) -> dict[tuple[str, str], float]:
        """The TUI's own silences still in force at ``now`` (for the state file)."""
        return {pair: until for pair, until in self._silenced.items() if until > now}

    def restore_silences(self, silences: Iterable[tuple[str, str, float]], now: float) -> None:
        """Silences from the state file; expired ones are dropped."""
        for agent_id, rule, until in silences:
            if until > now:
                self._silenced[(agent_id, rule)] = until

    def _trim(self) -> None:
        excess = len(self._entries) - MAX_ENTRIES
        if excess <= 0 or not self._resolved:
            return  # only resolved entries go, and none is: no walk of thousands a tick
        # Entries are kept in the order they were opened (a replace keeps an entry's place), so
        # the oldest resolved ones are the first found: no sort of 2,000 entries per event (at
        # 5,000 agents, dozens of events a tick).
        gone = []
        for key, entry in self._entries.items():
            if entry.state == "resolved":
                gone.append(key)
                if len(gone) == excess:
                    break
        for key in gone:
            del self._entries[key]
        self._resolved -= len(gone)
        if gone:
            self.version += 1


def _row_id(key: str) -> int:
    # Daemon keys are ``db:<alerts.id>`` (see pf_tui.views.daemon_alerts.row_key).
    return int(key.removeprefix("db:"))
