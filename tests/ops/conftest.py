"""Fixtures: a config file for the shared simulator, and a way to run a command in-process."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from pf_tui.cli import build_parser
from pf_tui.clock import FakeClock
from pf_tui.config import load_config
from pf_tui.ops.commands import Io, run_command
from pf_tui.sim.http.server import SimServer

from .helpers import write_sim_config

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "cli.schema.json").read_text())


def check_schema(obj: dict[str, Any], definition: str) -> None:
    """Validate ``obj`` against ``$defs/<definition>`` of docs/cli.schema.json."""
    schema = {"$ref": f"#/$defs/{definition}", "$defs": SCHEMA["$defs"]}
    Draft202012Validator(schema).validate(obj)


@dataclass
class Ran:
    """One command's exit code, output and, with ``--json``, its object."""

    code: int
    out: str
    err: str

    @property
    def json(self) -> dict[str, Any]:
        lines = [line for line in self.out.splitlines() if line.strip()]
        assert len(lines) == 1, self.out
        obj: dict[str, Any] = json.loads(lines[0])
        return obj


Runner = Callable[..., Ran]


def sim_agents_of(config: Path) -> list[list[str]]:
    """Each configured agent's key values (what must never be printed)."""
    return [
        [k.reveal() for k in (a.casino_key, a.trading_key, a.wallet_key) if k is not None]
        for a in load_config(config).agents
    ]


@pytest.fixture
def cli_config(sim_server: SimServer, tmp_path: Path) -> Path:
    """A config (0600, store in a 0700 folder) for the shared simulator's demo agents."""
    return write_sim_config(sim_server.url, tmp_path / "pf")


@pytest.fixture
def pf(cli_config: Path) -> Runner:
    """Run ``pf-tui <argv>`` in-process with the simulator's config; stdin is not a terminal
    unless ``stdin=`` is given (then it is, and answers with that text). No agent's key ever
    appears in what a command prints."""
    keys = [k for a in sim_agents_of(cli_config) for k in a]

    def run(
        *argv: str,
        stdin: str | None = None,
        config: Path | None = None,
        clock: FakeClock | None = None,
    ) -> Ran:
        parser = build_parser()
        args = parser.parse_args([*argv, "--config", str(config or cli_config)])
        out, err = io.StringIO(), io.StringIO()
        terminal = stdin is not None
        channel = Io(out=out, err=err, stdin=io.StringIO(stdin or ""), terminal=terminal)
        cfg = load_config(Path(args.config))
        code = run_command(args, cfg, io=channel, read_only=args.read_only, clock=clock)
        for key in keys:
            assert key not in out.getvalue() and key not in err.getvalue()
        return Ran(code, out.getvalue(), err.getvalue())

    return run
