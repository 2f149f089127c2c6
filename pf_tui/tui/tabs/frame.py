"""What a view needs to draw one tick: the fleet view, the drilled-into agent, the time, tones."""

from __future__ import annotations

from dataclasses import dataclass

from pf_tui.tui.format import Tones
from pf_tui.views.alert_log import AlertLog
from pf_tui.views.model import FleetView


@dataclass(frozen=True, slots=True)
class Frame:
    """One tick's drawing context, handed to the visible tab."""

    view: FleetView
    selected: str | None
    """The agent the operator drilled into, or ``None`` for the whole fleet."""
    now: float
    """The app clock's time: ages and countdowns are measured against it."""
    tones: Tones
    alerts: AlertLog
    ascii_only: bool = False
