"""Messages the engine workers post to the app.

Data goes up as messages (docs/conventions.md, convention 4).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from textual.message import Message

from pf_tui.views.model import FleetView


@dataclass
class FleetUpdated(Message):
    """A poll tick was applied: the newest view of the fleet."""

    view: FleetView

    def can_replace(self, message: Message) -> bool:
        """A newer view makes an older one still in the queue worthless, but for the agents
        that changed in it: the newer view takes them over, so what watches the changes only
        (the alert log) misses none."""
        if not isinstance(message, FleetUpdated):
            return False
        mine, theirs = self.view.changed_agents, message.view.changed_agents
        if mine and theirs is not None:
            message.view = replace(message.view, changed_agents=theirs | mine)
        elif mine is None and theirs is not None:
            message.view = replace(message.view, changed_agents=None)
        return True


@dataclass
class AgentChosen(Message):
    """The operator drilled into one agent (``None``: back to the whole fleet)."""

    agent_id: str | None
