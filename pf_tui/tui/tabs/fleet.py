"""Fleet tab: one row per agent, usable at 1,000 agents; Enter drills into the agent, the
faucet key claims for the agent under the cursor."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType

from pf_tui.tui import format as fmt
from pf_tui.tui.dialogs.money.flow import MoneyFlow
from pf_tui.tui.keymap import FAUCET_BINDING
from pf_tui.tui.messages import AgentChosen
from pf_tui.tui.sanitize import safe
from pf_tui.tui.tabs.frame import Frame
from pf_tui.tui.tabs.table_tab import TableTab
from pf_tui.tui.widgets.keyed_table import Column, KeyedTable, Row
from pf_tui.views import times
from pf_tui.views.model import AgentView

COLUMNS = (
    Column("label", "Agent"),
    Column("strategy", "Strategy"),
    Column("balance", "Balance", numeric=True),
    Column("pnl", "P&L", numeric=True),
    Column("pnl_pct", "P&L %", numeric=True),
    Column("positions", "Pos", numeric=True),
    Column("errors", "Err %", numeric=True),
    Column("age", "Age", numeric=True),
    Column("status", "Status"),
)
AGE = 7


class FleetTab(TableTab):
    """All agents; a row is rebuilt only when that agent's view object changed."""

    COLUMNS = COLUMNS
    SORT = "label"
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
        self._cache: dict[str, tuple[AgentView, Row]] = {}
        self._age_cells: dict[tuple[str, bool, Style], Text] = {}
        """One shared cell per distinct age text: a second later hundreds of agents show the
        same ``4s``, and a shared cell is neither built nor compared twice."""

    def rows(self, frame: Frame) -> Mapping[str, Row]:
        """One row per agent; the age cell is the only one recomputed for unchanged agents."""
        tones = frame.tones
        out: dict[str, Row] = {}
        for agent in frame.view.agents:
            hit = self._cache.get(agent.agent_id)
            age_key = (times.age(agent.updated_at, frame.now), agent.stale, tones.warn)
            age_cell = self._age_cells.get(age_key)
            if age_cell is None:
                if len(self._age_cells) > 4096:
                    self._age_cells.clear()
                style = tones.warn if agent.stale else ""
                age_cell = fmt.right(Text(age_key[0], style=style, end=""))
                self._age_cells[age_key] = age_cell
            if hit is not None and hit[0] is agent and hit[1].cells[AGE] is age_cell:
                out[agent.agent_id] = hit[1]
                continue
            if hit is not None and hit[0] is agent:
                cells = (*hit[1].cells[:AGE], age_cell, *hit[1].cells[AGE + 1 :])
                row = Row(
                    cells,
                    (*hit[1].sort[:AGE], agent.updated_at, *hit[1].sort[AGE + 1 :]),
                    hit[1].search,
                )
            else:
                row = self._build(agent, age_cell, frame)
            self._cache[agent.agent_id] = (agent, row)
            out[agent.agent_id] = row
        return out

    @staticmethod
    def _build(agent: AgentView, age_cell: Text, frame: Frame) -> Row:
        tones = frame.tones
        status = agent.status
        status_style = {"ok": tones.good, "stale": tones.warn, "error": tones.bad}.get(
            status, tones.muted
        )
        status_cell = safe(status, style=status_style)
        if agent.stale and agent.stale_reason:
            status_cell.append(": ")
            status_cell.append_text(safe(agent.stale_reason, limit=60))
        cells = (
            safe(agent.label),
            safe(agent.strategy),
            fmt.right(fmt.usd(agent.balance, tones)),
            fmt.right(fmt.usd(agent.pnl_total, tones, signed=True)),
            fmt.right(
                fmt.pct(
                    agent.pnl_pct / 100 if agent.pnl_pct is not None else None, tones, signed=True
                )
            ),
            fmt.right(
                Text("-" if agent.open_positions is None else str(agent.open_positions), end="")
            ),
            fmt.right(fmt.pct(agent.error_rate)),
            age_cell,
            status_cell,
        )
        sort = (
            agent.label.lower(),
            agent.strategy.lower(),
            agent.balance,
            agent.pnl_total,
            agent.pnl_pct,
            agent.open_positions,
            agent.error_rate,
            agent.updated_at,
            status,
        )
        search = f"{agent.label} {agent.agent_id} {agent.strategy} {status}".lower()
        return Row(cells, sort, search)

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
