"""Serve the simulator with uvicorn: :class:`SimServer` (a background thread), the CLI ``main``."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import Unpack

import uvicorn
from starlette.applications import Starlette

from pf_tui import event_loop
from pf_tui.sim.http.app import AppOptions, create_app
from pf_tui.sim.http.pipeline import SimulatedReset
from pf_tui.sim.http.protocol import SimProtocol
from pf_tui.sim.model.faults import RuleError, parse_rule
from pf_tui.sim.model.limits import parse_limits
from pf_tui.sim.model.state import Simulator
from pf_tui.usd import JSON, loads

START_TIMEOUT_S = 10.0
FULL_PASS_EVERY = 1000
"""Generation-1 passes between two full collections in ``pf-tui sim`` (CPython's: 10)."""


class _QuietResets(logging.Filter):
    """Injected connection resets are intended; keep their tracebacks out of the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, SimulatedReset)


def _install_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietResets) for f in logger.filters):
        logger.addFilter(_QuietResets())


def _config(app: Starlette, host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=1,
        # uvicorn's httptools protocol, plain reads answered from the parser (protocol.py).
        http=SimProtocol,
        loop="auto",
        # Plain HTTP only: no route speaks WebSocket, and loading uvicorn's WebSocket protocol
        # (the websockets package) cost the demo's cold start about 30 ms.
        ws="none",
        # The pipeline reads X-Forwarded-For itself (docs/api.md §1); uvicorn's own pass over
        # the headers of every request would change nothing it uses.
        proxy_headers=False,
    )


class SimServer:
    """The simulator on a real port, in a background thread with its own event loop.

    ``port=0`` picks a free port; ``.url`` tells which. Use as a context manager or call
    :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, **options: Unpack[AppOptions]
    ) -> None:
        self.host = host
        self.port = port
        self.app = create_app(**options)
        self.sim: Simulator = self.app.state.sim
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SimServer:
        _install_filter()
        self._server = uvicorn.Server(_config(self.app, self.host, self.port, "warning"))
        self._thread = threading.Thread(target=self._server.run, name="pf-tui-sim", daemon=True)
        self._thread.start()
        deadline = START_TIMEOUT_S
        step = 0.01
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the simulator could not start on {self.host}:{self.port}")
            if deadline <= 0:
                raise RuntimeError("the simulator did not start in time")
            threading.Event().wait(step)
            deadline -= step
        sockets = [s for server in self._server.servers for s in server.sockets]
        port = sockets[0].getsockname()[1]
        host = self.host if ":" not in self.host else f"[{self.host}]"
        self.port = port
        self.url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def load_faults(spec: str | None) -> list[JSON]:
    """``--faults``: a JSON list of rules, or a path to a file of one; ValueError says why not."""
    if not spec:
        return []
    text = spec
    if not spec.lstrip().startswith(("[", "{")):
        path = Path(spec)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"--faults: cannot read {spec}: {exc.strerror or exc}") from None
    try:
        rules = loads(text)
    except ValueError as exc:
        raise ValueError(f"--faults: not valid JSON: {exc}") from None
    if isinstance(rules, dict):
        rules = [rules]
    if not isinstance(rules, list):
        raise ValueError("--faults: expected a JSON list of rules")
    for i, rule in enumerate(rules):
        try:
            parse_rule(rule)
        except RuleError as exc:
            raise ValueError(f"--faults: rule {i + 1}: {exc}") from None
    return rules


def banner(url: str, *, agents: int, seed: int, limits: str, story: bool) -> str:
    """What ``pf-tui sim`` prints once it listens: where, and how to use this simulator.

    ``pf-tui --demo`` alone starts a simulator of its own, so the banner names ``--sim URL``,
    which points the console or the daemon at this one instead.
    """
    fault = '{"route": "/casino/api/v1/*", "kind": "error", "status": 503}'
    return "\n".join(
        (
            f"Purple Flea simulator on {url} ({agents} demo agents, seed {seed}, "
            f"limits {limits}, story {'on' if story else 'off'})",
            f"  console:  pf-tui --demo --sim {url}",
            f"  daemon:   pf-tui --headless --demo --sim {url}",
            f"  break:    curl -X POST {url}/_sim/faults -d '{fault}'",
            f"  mend:     curl -X DELETE {url}/_sim/faults",
            "  controls: /_sim/agents, /_sim/state, /_sim/story, /_sim/faults, /_sim/config, "
            "/_sim/clock (pf-tui sim --help)",
            "Ctrl-C stops.",
        )
    )


def main(args: argparse.Namespace) -> int:
    """``pf-tui sim``: serve until SIGINT, SIGTERM or SIGHUP; the exit code (2: bad usage)."""
    host = getattr(args, "host", None) or "127.0.0.1"
    port = getattr(args, "port", None)
    port = 8787 if port is None else port
    agents = getattr(args, "agents", None)
    agents = 8 if agents is None else agents
    seed = getattr(args, "seed", None) or 0
    limits = getattr(args, "limits", None) or "production"
    try:
        faults = load_faults(getattr(args, "faults", None))
        parse_limits(limits)
        if agents < 0:
            raise ValueError("--agents must be 0 or more")
        if not 0 <= port <= 65535:
            raise ValueError("--port must be 0..65535")
    except ValueError as exc:
        print(f"pf-tui sim: {exc}", file=sys.stderr)
        return 2
    story = getattr(args, "story", True)
    # Building the fleet makes objects that all live on: the collector's passes over them while
    # it grows found nothing and took about 0.7 s of a 10,000-agent start.
    gc.disable()
    try:
        app = create_app(
            seed=seed,
            agents=agents,
            faults=faults,
            limits=limits,
            motion=getattr(args, "motion", True),
            story=story,
        )
    finally:
        gc.enable()
    _install_filter()
    server = uvicorn.Server(_config(app, host, port, "warning"))
    # The fleet just built lives as long as the process: frozen, no collection walks it again.
    # What serving makes that lasts (each agent's cached replies, trades, the request log) is
    # walked by full passes a hundred times less often than CPython's default (minutes apart
    # under load). At 10,000 agents a full pass took 90-130 ms, a stall of every reply, every
    # 13 s or so (docs/performance.md, "Goals 1 and 2, night"). Short-lived garbage still dies
    # young, and nearly all of it by reference counting.
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_PASS_EVERY)

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            try:
                loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
            except (NotImplementedError, RuntimeError):
                pass
        task = asyncio.create_task(server.serve())
        # uvicorn says it has started only through this flag: there is no event to wait on.
        while not server.started and not task.done():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        if server.started:
            bound = next(s for srv in server.servers for s in srv.sockets).getsockname()[1]
            url = f"http://{host if ':' not in host else f'[{host}]'}:{bound}"
            print(banner(url, agents=agents, seed=seed, limits=limits, story=story), flush=True)
        await task

    try:
        # uvicorn installs uvloop only when it runs the loop itself (Server.run); this loop is
        # ours, so ask for uvloop the same way: about a sixth less CPU per request served.
        event_loop.run(serve())
    except OSError as exc:
        print(f"pf-tui sim: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0 if server.started else 1


__all__ = ["SimServer", "banner", "load_faults", "main"]
