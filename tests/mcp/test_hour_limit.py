"""``[mcp] max_hour_usd`` across two ``pf-tui mcp`` servers on one store.

Two :class:`~pf_tui.mcp.tools.McpTools` on the same config are what two server processes are to
the store: two connections to one journal. Both calls pass the early check (the hour is empty)
and only then does either journal; the hour's sum and the journaling of the intent share one
``BEGIN IMMEDIATE`` transaction, so the second one finds the first's dollar and is refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp.server.mcpserver.exceptions import ToolError

from pf_tui import usd
from pf_tui.config import load_config
from pf_tui.core.money.types import ActionPreview, ActionResult
from pf_tui.mcp.policy import moved_since
from pf_tui.mcp.tools import McpTools
from pf_tui.sim.http.server import SimServer
from pf_tui.views.money_desk import MoneyDesk
from tests.mcp.helpers import limits_off, sim_agents, write_config

NO_CLIENT_INFO: Any = object()
"""A tool call's context whose client sent no info (the operator is ``mcp:unnamed-client``)."""


def escrow_creates(url: str) -> int:
    """Escrow creations the simulator carried out."""
    logged = usd.loads(httpx.get(f"{url}/_sim/requests", timeout=10).content)["requests"]
    return sum(
        1
        for r in logged
        if r["method"] == "POST" and r["path"].endswith("/create") and r["status"] < 300
    )


async def test_two_servers_cannot_both_spend_the_hours_last_dollar(
    tmp_path: Path, sim_server: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Breaking it: without the check inside the journal's transaction both calls pass the
    early check on an empty hour and both escrows are funded, $2 against a $1.50 hour."""
    url = sim_server.url
    limits_off(url)
    payer, first_payee, second_payee = sim_agents(url)[:3]
    path = write_config(
        tmp_path, url, write_agents=[payer["agent_id"]], max_call="1", max_hour="1.5"
    )
    one, two = McpTools(load_config(path)), McpTools(load_config(path))
    # Each call waits here after its early check until the other has passed its own.
    both_checked = asyncio.Barrier(2)
    execute = MoneyDesk.execute

    async def after_both_checked(desk: MoneyDesk, preview: ActionPreview) -> ActionResult:
        await both_checked.wait()
        return await execute(desk, preview)

    monkeypatch.setattr(MoneyDesk, "execute", after_both_checked)

    def create(tools: McpTools, payee: dict[str, Any]) -> Callable[[], Awaitable[Any]]:
        return lambda: tools.escrow_create(
            NO_CLIENT_INFO, agent=payer["agent_id"], payee=payee["agent_id"], amount="1"
        )

    try:
        results = await asyncio.wait_for(
            asyncio.gather(
                one.guarded(create(one, first_payee)),
                two.guarded(create(two, second_payee)),
                return_exceptions=True,
            ),
            timeout=60,
        )
        done = [r for r in results if not isinstance(r, BaseException)]
        refused = [r for r in results if isinstance(r, ToolError)]
        assert len(done) == 1 and len(refused) == 1, results
        assert done[0].status == "done"
        assert "max_hour_usd" in str(refused[0]) and "nothing was sent" in str(refused[0])
        assert escrow_creates(url) == 1
        session, _ = one.session(NO_CLIENT_INFO)
        conn = session.desk.engine.journal.conn
        assert moved_since(conn, 0) == Decimal(1)  # the refused one journaled nothing
    finally:
        await one.aclose()
        await two.aclose()
