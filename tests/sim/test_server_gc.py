"""``pf-tui sim`` builds its fleet without the collector, then freezes it and spaces full passes
out (pf_tui/sim/http/server.py): at 10,000 agents full passes over the fleet stalled every reply
for 90-350 ms, every few seconds."""

from __future__ import annotations

import argparse
import gc
import sys

import pytest

from pf_tui.sim.http import server


def test_the_fleet_is_built_without_the_collector_then_frozen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Breaking it: the collector left on while the fleet is built, left off afterwards, the
    fleet not frozen before serving, or full passes at CPython's default rate."""
    seen: dict[str, object] = {}
    create_app = server.create_app

    def create(**options: object) -> object:
        seen["collector on while building"] = gc.isenabled()
        return create_app(**options)  # type: ignore[arg-type]

    class Server:
        """uvicorn's server, seen at the moment it would start serving."""

        def __init__(self, config: object) -> None:
            self.started = self.should_exit = False
            self.servers: list[object] = []

        async def serve(self) -> None:
            seen["frozen"] = gc.get_freeze_count()
            seen["threshold"] = gc.get_threshold()
            seen["collector on while serving"] = gc.isenabled()

    monkeypatch.setattr(server, "create_app", create)
    monkeypatch.setattr(server.uvicorn, "Server", Server)
    threshold = gc.get_threshold()
    args = argparse.Namespace(port=0, agents=3, seed=1, limits="off", story=False, motion=False)
    try:
        assert server.main(args) == 1  # never started: the stand-in serves nothing
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
    assert seen["collector on while building"] is False
    assert seen["collector on while serving"] is True
    assert isinstance(seen["frozen"], int) and seen["frozen"] > 1000
    if sys.version_info < (3, 14):  # 3.14's incremental collector has no third threshold
        assert seen["threshold"] == (threshold[0], threshold[1], server.FULL_PASS_EVERY)
