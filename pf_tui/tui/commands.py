"""The command palette's provider: the same actions the keys run, found by name."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode

from pf_tui.tui.keymap import EVERY_BINDING, effective_keys


def literal(text: str) -> str:
    """``text`` as Textual markup that renders exactly as ``text``.

    The palette parses a hit's help as markup. Rich's and Textual's ``escape`` only escape a
    bracket followed by a lower-case letter, so ``[S]`` (the key of an upper-case binding) was
    read as a style tag and vanished; every ``[`` is escaped here instead.
    """
    return text.replace("[", "\\[")


def command_help(binding: Binding, keymap: dict[str, str]) -> str:
    """What the palette says under a command, as plain text: its tooltip and its keys."""
    return f"{binding.tooltip}  [{effective_keys(binding, keymap)}]"


@dataclass(frozen=True, slots=True)
class Command:
    """One key's action as the palette offers it, with the node that runs it."""

    name: str
    help: str
    """Markup (every bracket escaped, see :func:`literal`): the palette renders it as markup."""
    action: str
    target: DOMNode
    """The tab on screen for the keys it binds (the money keys), else the app."""


class ActionCommands(Provider):
    """One command per key binding (those that apply to the screen shown)."""

    def commands(self) -> list[Command]:
        """Every key's action that its node offers now."""
        # Imported here: the app module imports this one (its COMMANDS).
        from pf_tui.tui.app import PfApp

        app = self.app
        if not isinstance(app, PfApp):
            return []
        view = app.active_view
        out = []
        for binding in EVERY_BINDING:
            if binding.action == "command_palette":
                continue
            target = _owner(binding, view, app)
            if target is None or target.check_action(binding.action.split("(")[0], ()) is False:
                continue
            name = binding.description
            if binding.id and binding.id.startswith("tab."):
                name = f"Show {binding.description} tab"
            help_text = literal(command_help(binding, app.keymap_overrides))
            out.append(Command(name, help_text, binding.action, target))
        return out

    async def discover(self) -> Hits:
        """Every command, for an empty query."""
        for command in self.commands():
            yield DiscoveryHit(command.name, self._runner(command), help=command.help)

    async def search(self, query: str) -> Hits:
        """Commands whose name matches ``query``."""
        matcher = self.matcher(query)
        for command in self.commands():
            score = matcher.match(command.name)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(command.name),
                    self._runner(command),
                    help=command.help,
                )

    def _runner(self, command: Command) -> Callable[[], Awaitable[bool]]:
        return partial(self.app.run_action, command.action, command.target)


def _owner(binding: Binding, *nodes: DOMNode) -> DOMNode | None:
    """The first of ``nodes`` that binds ``binding`` (the tab before the app)."""
    for node in nodes:
        if binding in node.BINDINGS:
            return node
    return None
