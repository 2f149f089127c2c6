"""The command palette's provider: the same actions the keys run, found by name."""

from __future__ import annotations

from functools import partial

from rich.markup import escape
from textual.command import DiscoveryHit, Hit, Hits, Provider

from pf_tui.tui.keymap import APP_BINDINGS, effective_keys


class ActionCommands(Provider):
    """One command per key binding (those that apply to the screen shown)."""

    def _commands(self) -> list[tuple[str, str, str]]:
        app = self.app
        keymap = getattr(app, "keymap_overrides", {})
        out = []
        for binding in APP_BINDINGS:
            if binding.action in ("command_palette",):
                continue
            if app.check_action(binding.action.split("(")[0], ()) is False:
                continue
            name = binding.description
            if binding.id and binding.id.startswith("tab."):
                name = f"Show {binding.description} tab"
            # Textual parses a hit's help as markup; "[/]" (the filter key) would raise MarkupError.
            help_text = escape(f"{binding.tooltip}  [{effective_keys(binding, keymap)}]")
            out.append((name, help_text, binding.action))
        return out

    async def discover(self) -> Hits:
        """Every command, for an empty query."""
        for name, help_text, action in self._commands():
            yield DiscoveryHit(name, partial(self.app.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        """Commands whose name matches ``query``."""
        matcher = self.matcher(query)
        for name, help_text, action in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(name),
                    partial(self.app.run_action, action),
                    help=help_text,
                )
