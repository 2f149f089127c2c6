"""deploy/grafana: the fleet dashboard is current, fits Grafana's published types (the
grafana-foundation-sdk models), every query parses as PromQL and reads only metrics the daemon
serves."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from .metrics_names import exported_names
from .tools import DEPLOY, need_tool

JSON = DEPLOY / "grafana" / "pf-tui-fleet.json"


def _dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(JSON.read_text())
    return data


def _exprs() -> list[str]:
    return [t["expr"] for p in _dashboard()["panels"] for t in p["targets"]]


def test_json_is_what_the_builder_writes() -> None:
    spec = importlib.util.spec_from_file_location(
        "build", DEPLOY / "grafana" / "build_dashboard.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.dashboard() == _dashboard(), "run python deploy/grafana/build_dashboard.py"


def _lost(mine: object, theirs: object, path: str = "") -> list[str]:
    if isinstance(mine, dict):
        if not isinstance(theirs, dict):
            return [path]
        return [
            p
            for k, v in mine.items()
            for p in ([f"{path}/{k}"] if k not in theirs else _lost(v, theirs[k], f"{path}/{k}"))
        ]
    if isinstance(mine, list):
        assert isinstance(theirs, list) and len(mine) == len(theirs), path
        return [
            p
            for i, (a, b) in enumerate(zip(mine, theirs, strict=True))
            for p in _lost(a, b, f"{path}[{i}]")
        ]
    return [] if mine == theirs else [f"{path} ({mine!r} -> {theirs!r})"]


def test_fits_grafanas_types() -> None:
    """Read through the SDK's Dashboard model and written back: a field Grafana's schema does not
    have (a typo like gridpos) is dropped on the way, and shows up here."""
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models.dashboard import Dashboard

    mine = _dashboard()
    theirs = json.loads(JSONEncoder().encode(Dashboard.from_json(mine)))
    assert _lost(mine, theirs) == []


def test_every_query_parses(tmp_path: Path) -> None:
    promtool = need_tool("promtool", "prometheus")
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:q{i}", "expr": e.replace("$agent", ".*")}
                    for i, e in enumerate(_exprs())
                ],
            }
        ]
    }
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump(rules))
    done = subprocess.run(
        [promtool, "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_metric_is_served(daemon_metrics: str) -> None:
    used = {m for e in _exprs() for m in re.findall(r"\b(pf_[a-z0-9_]+)", e)}
    assert used - exported_names(daemon_metrics) == set()
    for needed in (
        "pf_fleet_balance_usd",
        "pf_agent_pnl_usd",
        "pf_agent_data_age_seconds",
        "pf_api_latency_seconds_bucket",
        "pf_alerts_firing",
        "pf_notify_outbox_depth",
        "pf_fleet_escrow_exposure_usd",
        "pf_stream_remaining_usd",
    ):
        assert needed in used, needed


def test_agent_drill_down() -> None:
    variables = {v["name"]: v for v in _dashboard()["templating"]["list"]}
    assert variables["agent"]["query"] == "label_values(pf_agent_info, agent)"
    assert variables["agent"]["multi"] and variables["agent"]["includeAll"]
    for expr in _exprs():
        if "pf_agent_" in expr or "pf_stream_" in expr:
            assert 'agent=~"$agent"' in expr, expr
