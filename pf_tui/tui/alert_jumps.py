"""Enter on an Alerts-tab row: go to what the alert is about, the suggested key one press away.

:func:`pf_tui.views.alert_jump.jump_for` says where (a stream's or escrow's row on the Escrows
tab, else the agent, drilled into, on the Fleet tab) and which money actions to offer there;
:class:`AlertJumps` moves the screen, hands a dispute reason to the money flow, and keeps the hint
the status bar shows (``next: x close stream st_1, d dispute it: the server pays the payee $4.95
at 13:00 UTC (in 14m)``) while the row it landed on is under the cursor. The keys stay behind
their usual preview and confirmation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.screen import ModalScreen

from pf_tui.tui.keymap import CONSOLE_BINDINGS, ESCROW_BINDINGS, effective_keys
from pf_tui.tui.tabs.table_tab import TableTab
from pf_tui.views.alert_jump import Jump, jump_for
from pf_tui.views.model import EscrowAction

if TYPE_CHECKING:
    from pf_tui.tui.app import PfApp

PAUSED_HEAD = "pf-tui releases nothing more, but "
"""How a paused row's timeout sentence starts; the hint leaves it out (the row says paused)."""


class AlertJumps:
    """The app's jumps from an alert (see the module docstring)."""

    def __init__(self, app: PfApp) -> None:
        self.app = app
        self.landed: tuple[str, str, str] | None = None
        """The last jump: (tab, row key, hint), until the cursor or the tab moves on."""

    def open(self, key: str) -> None:
        """Go to what the alert ``key`` is about."""
        app = self.app
        entry = app.alert_log.get(key)
        if entry is None:
            return
        jump = jump_for(entry, app.fleet_view)
        if isinstance(jump, str):
            app.notify(jump, markup=False, timeout=3)
            return
        if jump.escrow is not None:
            if app.selected is not None and app.selected != jump.agent_id:
                app.selected = None  # the row would be filtered out
        else:
            app.selected = jump.agent_id
        app.refresh_bindings()
        app.action_show_tab(jump.tab)
        view = app.views[jump.tab]
        view.show(app.frame())  # this tab's rows now, so the cursor can go to the row
        if not isinstance(view, TableTab) or not view.select_key(jump.key):
            app.notify(f"{jump.about} is not on the {jump.tab} tab", markup=False, timeout=3)
            return
        if jump.reason and jump.escrow is not None and jump.escrow.escrow_id:
            app.money_flow.reasons = {jump.escrow.escrow_id: jump.reason}
        self.landed = (jump.tab, jump.key, self.text(jump))
        app.redraw()

    def hint(self) -> str:
        """The suggested keys while the row the jump landed on is under the cursor; once the
        cursor or the tab moves on, gone for good (a dialog over the row keeps it)."""
        if self.landed is None:
            return ""
        app = self.app
        tab, key, hint = self.landed
        view = app.views.get(tab)
        if isinstance(app.screen, ModalScreen):
            return ""
        if app.active_tab == tab and isinstance(view, TableTab) and view.table.cursor_key == key:
            return hint
        self.landed = None
        return ""

    def text(self, jump: Jump) -> str:
        """``x close stream st_1, d dispute it: the server pays the payee $4.95 at 13:00 UTC (in
        14m)`` / ``agent a: 4 its escrows and streams, esc the whole fleet``."""
        app = self.app
        keys = {
            b.id: effective_keys(b, app.keymap_overrides)
            for b in (*ESCROW_BINDINGS, *CONSOLE_BINDINGS)
        }
        if jump.escrow is None:
            agent = app.fleet_view.agent(jump.agent_id)
            return (
                f"agent {agent.label if agent else jump.agent_id}:"
                f" {keys['tab.escrows']} its escrows and streams,"
                f" {keys['app.back']} the whole fleet"
            )
        words = {
            EscrowAction.CLOSE: (keys["money.close"], "close"),
            EscrowAction.DISPUTE: (keys["money.dispute"], "dispute"),
        }
        offered = [words[a] for a in jump.actions if a in words]
        if not offered:
            return f"{jump.about}: no money action applies"
        (key, word), rest = offered[0], offered[1:]
        text = ", ".join([f"{key} {word} {jump.about}", *(f"{k} {w} it" for k, w in rest)])
        timeout = jump.escrow.timeout
        if timeout is not None and timeout.moves_money:
            # What the row's timeout will do, and when: the keys above are how to stop it.
            said = timeout.sentence(app.clock.now()).removeprefix(PAUSED_HEAD)
            text += ": " + said.split(" unless you ")[0]
        return text
