"""Fleet tab: one row per agent, usable at 1,000 agents; Enter drills into the agent, the
faucet key claims for the agent under the cursor."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType

from pf_tui.tui import format as fmt
from pf_tui.tui.dialogs.money.flow import MoneyFlow
from pf_tui.tui.format import Tones
from pf_tui.tui.keymap import FAUCET_BINDING
from pf_tui.tui.messages import AgentChosen
from pf_tui.tui.sanitize import safe
from pf_tui.tui.tabs.frame import Frame
from pf_tui.tui.tabs.table_tab import TableTab
from pf_tui.tui.widgets.columns import Column, Cut
from pf_tui.tui.widgets.keyed_table import KeyedTable, Row
from pf_tui.views import times
from pf_tui.views.model import AgentView

COLUMNS = (
    Column("label", "Agent", cut=Cut.MIDDLE, min_width=16),
    Column("strategy", "Strategy", priority=4, cut=Cut.END, min_width=8),
    Column("balance", "Balance", numeric=True),
    Column("pnl", "P&L", numeric=True, priority=1),
    Column("pnl_pct", "P&L %", numeric=True, priority=3),
    Column("positions", "Pos", numeric=True, priority=3),
    Column("errors", "Err %", numeric=True, priority=2),
    Column("age", "Age", numeric=True, priority=2),
    Column("status", "Status", priority=1, cut=Cut.END, min_width=6),
)
"""Balance and the agent never go; then Strategy (it is in most labels), Pos and P&L %, Err % and
Age. Labels lose their middle, so the fleet's numbering (``-003``) stays readable."""


class FleetTab(TableTab):
    """All agents; a row is rebuilt only when that agent's view object changed.

    The age is the table's live column: it changes every second for every agent, so it is
    drawn only for the rows on screen (:attr:`Row.live`), and a tick costs the agents that
    changed, not the fleet.
    """

    COLUMNS = COLUMNS
    SORT = "label"
    LIVE = "age"
    NOUN = "agents"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter",
            "drill",
            "Open agent",
            id="fleet.drill",
            tooltip="Show only this agent on every tab",
        ),
        FAUCET_BINDING,
    ]

    def __init__(self, money_flow: MoneyFlow, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.money_flow = money_flow
        self._cache: dict[str, tuple[AgentView, Tones, Row]] = {}
        self._tones: Tones | None = None
        self._age_cells: dict[tuple[str, bool], Text] = {}
        """One shared cell per distinct age text: a second later hundreds of agents show the
        same ``4s``, and a shared cell is neither built nor compared twice."""
        self._status_cells: dict[tuple[str, str], Text] = {}
        """One shared cell per distinct status: in an outage thousands of agents are
        ``stale: casino: no update for 6.1s`` at once, and each row rebuilt would otherwise
        sanitize, build and cut its own copy (most of a 5,000-agent tick's row work)."""
        self._agents: tuple[AgentView, ...] = ()
        """The agents of the last :meth:`rows`, and their rows."""
        self._out: dict[str, Row] = {}
        self._changed: list[str] | None = None

    def age_cell(self, updated_at: float | None, stale: bool, now: float) -> Text:
        """The age cell of an agent whose figures are from ``updated_at``, at ``now``."""
        key = (times.age(updated_at, now), stale)
        cell = self._age_cells.get(key)
        if cell is None:
            if len(self._age_cells) > 4096:
                self._age_cells.clear()
            tones = self._tones or Tones.plain()
            cell = fmt.right(Text(key[0], style=tones.warn if stale else "", end=""))
            self._age_cells[key] = cell
        return cell

    def status_cell(self, agent: AgentView) -> Text:
        """The status cell of ``agent`` (``stale: <reason>`` when stale), shared by every agent
        with the same status."""
        key = (agent.status, agent.stale_reason if agent.stale else "")
        cell = self._status_cells.get(key)
        if cell is None:
            if len(self._status_cells) > 4096:
                self._status_cells.clear()
            tones = self._tones or Tones.plain()
            style = {"ok": tones.good, "stale": tones.warn, "error": tones.bad}.get(
                key[0], tones.muted
            )
            cell = safe(key[0], style=style)
            if key[1]:
                cell.append(": ")
                cell.append_text(safe(key[1], limit=60))
            self._status_cells[key] = cell
        return cell

    def rows(self, frame: Frame) -> Mapping[str, Row]:
        """One row per agent: the row of an agent whose view did not change is the same object
        (the table skips it without looking at its cells).

        The views hand back an unchanged agent as the same object, in the same place: when the
        agents are the previous call's, place for place, only the rows of the objects that
        differ are rebuilt, and :meth:`changed_keys` names them (a few dozen of 5,000).
        """
        tones = frame.tones
        agents = frame.view.agents
        previous = self._agents
        self._agents = agents
        if tones is self._tones and len(previous) == len(agents) and self._out:
            diff = [(old, new) for old, new in zip(previous, agents, strict=True) if old is not new]
            if all(old.agent_id == new.agent_id for old, new in diff):
                kept = self._out
                for _, agent in diff:
                    row = self._build(agent, frame, self._cache.get(agent.agent_id))
                    self._cache[agent.agent_id] = (agent, tones, row)
                    kept[agent.agent_id] = row
                self._changed = [agent.agent_id for _, agent in diff]
                return kept
        self._changed = None
        if tones is not self._tones:
            self._tones = tones
            self._age_cells.clear()
            self._status_cells.clear()
        cache = self._cache
        out: dict[str, Row] = {}
        for agent in frame.view.agents:
            agent_id = agent.agent_id
            hit = cache.get(agent_id)
            if hit is None or hit[0] is not agent or hit[1] is not tones:
                hit = (agent, tones, self._build(agent, frame, hit))
                cache[agent_id] = hit
            out[agent_id] = hit[2]
        if len(cache) > len(out):
            self._cache = {key: cache[key] for key in out}
        self._out = out
        return out

    def changed_keys(self) -> list[str] | None:
        """The agents whose rows the last :meth:`rows` rebuilt, when it knew (see there)."""
        return self._changed

    def _build(
        self, agent: AgentView, frame: Frame, before: tuple[AgentView, Tones, Row] | None = None
    ) -> Row:
        tones = frame.tones
        # The cells of figures that did not change are the previous row's objects: nothing to
        # format, and the table skips an identical cell without comparing it. Spelled out field
        # by field: at 5,000 agents hundreds of rows are rebuilt a tick.
        old = before[0] if before is not None and before[1] is tones else None
        if old is not None and before is not None:
            kept, kept_sort = before[2].cells, before[2].sort
            same_label = old.label == agent.label
            same_strategy = old.strategy == agent.strategy
        else:
            kept, kept_sort = (), ()
            same_label = same_strategy = False
        pnl_pct = agent.pnl_pct
        positions = agent.open_positions
        cells = (
            kept[0] if same_label else safe(agent.label),
            kept[1] if same_strategy else safe(agent.strategy),
            kept[2]
            if old is not None and old.balance == agent.balance
            else fmt.right(fmt.usd(agent.balance, tones)),
            kept[3]
            if old is not None and old.pnl_total == agent.pnl_total
            else fmt.right(fmt.usd(agent.pnl_total, tones, signed=True)),
            kept[4]
            if old is not None and old.pnl_pct == pnl_pct
            else fmt.right(
                fmt.pct(pnl_pct / 100 if pnl_pct is not None else None, tones, signed=True)
            ),
            kept[5]
            if old is not None and old.open_positions == positions
            else fmt.right(Text("-" if positions is None else str(positions), end="")),
            kept[6]
            if old is not None and old.error_rate == agent.error_rate
            else fmt.right(fmt.pct(agent.error_rate)),
            self.age_cell(agent.updated_at, agent.stale, frame.now),
            self.status_cell(agent),
        )
        status = agent.status
        sort = (
            kept_sort[0] if same_label else agent.label.lower(),
            kept_sort[1] if same_strategy else agent.strategy.lower(),
            agent.balance,
            agent.pnl_total,
            agent.pnl_pct,
            agent.open_positions,
            agent.error_rate,
            agent.updated_at,
            status,
        )
        search = f"{agent.label} {agent.agent_id} {agent.strategy} {status}".lower()
        return Row(cells, sort, search, live=partial(self.age_cell, agent.updated_at, agent.stale))

    def action_drill(self) -> None:
        """Drill into the agent under the cursor."""
        key = self.table.cursor_key
        if key is not None:
            self.post_message(AgentChosen(key))

    def on_data_table_row_selected(self, event: KeyedTable.RowSelected) -> None:
        """Enter (or a click) on a row drills into that agent."""
        event.stop()
        self.post_message(AgentChosen(str(event.row_key.value)))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The faucet only while this tab is on screen and not read-only; off while stale."""
        if action == "money_faucet":
            return self.money_flow.key_state("fleet", self.table.cursor_key)
        return True

    def action_money_faucet(self) -> None:
        """Claim the faucet's dollar for the agent under the cursor (or the one drilled into)."""
        self.money_flow.faucet(self.table.cursor_key)
