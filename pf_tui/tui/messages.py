"""Messages the engine workers post to the app.

Data goes up as messages (docs/conventions.md, convention 4).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from pf_tui.views.model import FleetView


@dataclass
class FleetUpdated(Message):
    """A poll tick was applied: the newest view of the fleet."""

    view: FleetView

    def can_replace(self, message: Message) -> bool:
        """A newer view makes an older one still in the queue worthless."""
        return isinstance(message, FleetUpdated)


@dataclass
class AgentChosen(Message):
    """The operator drilled into one agent (``None``: back to the whole fleet)."""

    agent_id: str | None
