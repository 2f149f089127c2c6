"""The console polls and reads its journal without importing aiohttp or httpx.

``pf-tui --demo`` spent about 0.2 s of its cold start importing the HTTP stack (aiohttp, httpx,
httpx-aiohttp and the CA bundle aiohttp loads at import) before its first figure, though the poll
engine's reads never touch it (:mod:`pf_tui.api.http1`) and the money client sends nothing until
the operator acts. This runs the console's start in a fresh interpreter against the simulator,
over real HTTP on 127.0.0.1, and looks at what was loaded: then it sends a write, which must load
the stack and work.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pf_tui.api.bases import ServiceBases
from pf_tui.api.client import PurpleFleaClient

STACK = ("aiohttp", "httpx", "httpx_aiohttp", "yarl")


def probe(code: str) -> Any:
    """Run ``code`` in a fresh interpreter; what its last line of output says (JSON)."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


PROBE = """
import asyncio, json, sys
from decimal import Decimal
from pathlib import Path

import pf_tui.tui.app  # the console's own modules
from pf_tui.config import Config
from pf_tui.demo import fetch_demo_agents
from pf_tui.sim.http.server import SimServer
from pf_tui.wiring import build_poll_engine, open_money

STACK = {stack!r}


def loaded():
    return sorted(m for m in STACK if m in sys.modules)


async def main(url):
    config = Config.demo(url, fetch_demo_agents(url), store_path=Path({store!r}))
    engine = build_poll_engine(config)
    engine.poller.start()
    results = await engine.poller.batch()
    money = open_money(config)
    unsettled = money.engine.journal.unsettled_intents()
    after_start = loaded()
    agent = config.agents[0]
    view = money.client.agent(agent.id, casino_key=agent.casino_key)
    bet = await view.coin_flip("heads", Decimal("0.01"), idempotency_key="probe-1")
    after_write = loaded()
    await engine.aclose()
    await money.aclose()
    return {{
        "results": len(results),
        "ok": sum(1 for r in results if r.ok),
        "unsettled": len(unsettled),
        "after_start": after_start,
        "bet": bet.bet_id is not None,
        "after_write": after_write,
    }}


server = SimServer(host="127.0.0.1", port=0, seed=42, agents=3, motion=False)
server.start()
try:
    print(json.dumps(asyncio.run(main(server.url))))
finally:
    server.stop()
"""


def test_polls_and_the_journal_need_no_http_stack_and_a_write_loads_it(tmp_path: Path) -> None:
    seen = probe(PROBE.format(stack=STACK, store=str(tmp_path / "store.db")))
    assert seen["results"] >= 1 and seen["ok"] == seen["results"], seen  # real replies, parsed
    assert seen["unsettled"] == 0
    assert seen["after_start"] == [], f"loaded before anything was sent: {seen['after_start']}"
    assert seen["bet"] and "aiohttp" in seen["after_write"], seen


def test_an_unknown_transport_is_refused_when_the_client_is_made() -> None:
    """The pools are made on the first request, but a misspelt transport still fails at once,
    where the config is read, not at the first poll."""
    with pytest.raises(ValueError, match="aiohtp"):
        PurpleFleaClient(ServiceBases.for_simulator("http://127.0.0.1:9"), transport="aiohtp")


WARM = """
import json, sys
from pf_tui.tui.app import warm_http_stack
STACK = {stack!r}
before = sorted(m for m in STACK if m in sys.modules)
warm_http_stack().join(30)
print(json.dumps([before, sorted(m for m in STACK if m in sys.modules)]))
"""


def test_the_console_warms_the_stack_in_the_background() -> None:
    """A few seconds after mount the console imports the stack in a thread, so the operator's
    first money action does not wait for it (``WARM_HTTP_S``)."""
    before, after = probe(WARM.format(stack=STACK))
    assert before == [] and after == sorted(STACK)


async def test_an_injected_transport_is_closed_with_the_client_even_unused() -> None:
    import httpx

    closed: list[int] = []

    class Counting(httpx.MockTransport):
        async def aclose(self) -> None:
            closed.append(1)

    client = PurpleFleaClient(
        ServiceBases.for_simulator("http://127.0.0.1:9"),
        transport=Counting(lambda request: httpx.Response(200)),
    )
    await client.aclose()
    await client.aclose()
    assert closed == [1]


TLS = """
import json, ssl, sys
from pf_tui.api.exchange import verifying_context
from pf_tui.api.http1 import build_http1
pool = build_http1(max_connections=4, tls=True)._pool("https", "api.example", 443)
ctx = verifying_context()
print(json.dumps([
    pool.tls is ctx,
    ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname,
    len(ctx.get_ca_certs()) > 50,
    sorted(m for m in {stack!r} if m in sys.modules),
]))
"""


def test_an_https_pool_verifies_with_the_ca_bundle_without_loading_the_stack() -> None:
    """Real deployments poll ``https://`` bases: their first GET makes the verifying context
    from certifi's bundle (as httpx would) and still imports neither aiohttp nor httpx."""
    shared, verifying, bundle, loaded = probe(TLS.format(stack=STACK))
    assert shared and verifying and bundle and loaded == []
