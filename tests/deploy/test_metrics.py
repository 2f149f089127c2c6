"""The daemon's ``/metrics``: every Overview figure per agent and fleet, named the Prometheus way,
with labels that cannot grow without bound."""

from __future__ import annotations

import math
import re
from decimal import Decimal

from prometheus_client import CollectorRegistry, generate_latest

from pf_tui.daemon.overview_metrics import (
    FIGURES,
    MAX_STREAM_SERIES,
    AgentExtras,
    OverviewMetrics,
    StreamRow,
)
from pf_tui.views.model import AgentView

from .metrics_names import exported_names

UNITS = ("_usd", "_seconds", "_ratio", "_total", "_usd_per_hour", "_bucket", "_sum", "_count")
COUNTS = {
    "pf_agent_open_positions", "pf_fleet_open_positions", "pf_agent_referrals",
    "pf_fleet_referrals", "pf_agent_casino_bets", "pf_fleet_casino_bets", "pf_agent_stale",
    "pf_agent_escrow_queue_depth", "pf_fleet_escrow_queue_depth", "pf_agent_alerts_firing",
    "pf_alerts_firing", "pf_fleet_agents", "pf_fleet_stale_agents", "pf_notify_outbox_depth",
    "pf_notify_dead_letters", "pf_daemon_up", "pf_agent_info", "pf_agent_escrows_disputed",
    "pf_agent_money_actions_unknown", "pf_fleet_streams_open", "pf_money_brake_engaged",
    "pf_stream_idle",
    "pf_agent_referral_funnel_registered", "pf_agent_referral_funnel_transacted",
    "pf_fleet_referral_funnel_registered", "pf_fleet_referral_funnel_transacted",
}  # fmt: skip
"""Dimensionless counts and states: Prometheus names them without a unit."""
LABELS = {"agent", "label", "strategy", "kind", "severity", "receiver", "stream", "le", "shard"}
"""Every label name allowed: ids and pf-tui's own words, never API text (memos, pairs, errors)."""


def test_every_overview_figure_is_exported_per_agent_and_fleet(daemon_metrics: str) -> None:
    names = exported_names(daemon_metrics)
    for figure in FIGURES:
        assert f"pf_agent_{figure.name}" in names
        assert (f"pf_fleet_{figure.name}" in names) is figure.fleet
    for name in (
        "pf_agent_balance_usd", "pf_fleet_balance_usd", "pf_agent_pnl_usd", "pf_fleet_pnl_usd",
        "pf_agent_data_age_seconds", "pf_fleet_data_age_seconds",
        "pf_agent_api_latency_p50_seconds", "pf_agent_api_latency_p95_seconds",
        "pf_agent_api_latency_p99_seconds", "pf_agent_spend_usd_per_hour",
        "pf_fleet_spend_usd_per_hour", "pf_stream_remaining_usd", "pf_stream_owed_usd",
        "pf_stream_timeout_seconds", "pf_agent_escrow_queue_depth", "pf_fleet_escrow_queue_depth",
    ):  # fmt: skip
        assert name in names, name
    # Real figures, not only declarations: the demo fleet's P&L is in.
    assert re.search(r'^pf_agent_pnl_usd\{agent="ag_[0-9a-f]{12}",.*\} -?\d', daemon_metrics, re.M)
    assert re.search(r'^pf_agent_sharpe_7d_ratio\{agent="ag_[0-9a-f]{12}"\} ', daemon_metrics, re.M)


def test_names_carry_units_and_counters_end_in_total(daemon_metrics: str) -> None:
    """A gauge named without its unit (pf_agent_balance) or a counter without _total fails."""
    for line in daemon_metrics.splitlines():
        if not line.startswith("# TYPE pf_"):
            continue
        _, _, name, kind = line.split(" ", 3)
        if kind == "counter":
            assert name.endswith("_total"), name
        elif kind == "gauge" and name not in COUNTS and not name.endswith("_created"):
            assert name.endswith(UNITS), f"{name}: no unit suffix"


def test_labels_are_bounded(daemon_metrics: str) -> None:
    """Only ids and pf-tui's own words as labels: an escrow id or memo label would grow forever."""
    for line in daemon_metrics.splitlines():
        if line.startswith("pf_") and "{" in line:
            labels = re.findall(r'([a-zA-Z_]+)="', line.split("{", 1)[1])
            assert set(labels) <= LABELS, line


def _view(agent: str, **kw: object) -> AgentView:
    return AgentView(agent_id=agent, label=agent[-2:], **kw)  # type: ignore[arg-type]


def _sample(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{name}{{{re.escape(want)}}} (\S+)$" if labels else rf"^{name} (\S+)$"
    match = re.search(pattern, text, re.M)
    assert match, f"{name} {labels} not in output"
    return float(match.group(1))


def test_gauges_hold_the_views_figures_and_forget_departed_agents() -> None:
    registry = CollectorRegistry()
    metrics = OverviewMetrics(registry)
    a = _view(
        "ag_0000000000a1", pnl_today=Decimal("-2.25"), pnl_pct=Decimal("12.5"),
        max_drawdown_pct=8.0, win_rate=0.48, sharpe_7d=1.5, funnel_referrals=4,
    )  # fmt: skip
    b = _view("ag_0000000000b2")
    totals = _view("*", pnl_today=Decimal("-2.25"), max_drawdown_pct=8.0)
    extras = {"ag_0000000000a1": AgentExtras(0.01, 0.2, Decimal("3.5"), disputed=1)}
    metrics.update([a, b], totals, extras, [], now=100.0)
    text = generate_latest(registry).decode()
    agent = {"agent": "ag_0000000000a1"}
    assert _sample(text, "pf_agent_pnl_today_usd", **agent) == -2.25
    assert _sample(text, "pf_agent_pnl_ratio", **agent) == 0.125  # percent -> fraction
    assert _sample(text, "pf_agent_max_drawdown_ratio", **agent) == 0.08
    assert _sample(text, "pf_agent_casino_win_ratio", **agent) == 0.48
    assert _sample(text, "pf_agent_referral_funnel_registered", **agent) == 4
    assert _sample(text, "pf_agent_api_latency_p99_seconds", **agent) == 0.2
    assert _sample(text, "pf_agent_escrows_disputed", **agent) == 1
    assert _sample(text, "pf_fleet_spend_usd_per_hour") == 3.5
    # Unknown is NaN, never a made-up zero.
    assert math.isnan(_sample(text, "pf_agent_pnl_today_usd", agent="ag_0000000000b2"))
    metrics.update([a], totals, extras, [], now=101.0)
    text = generate_latest(registry).decode()
    assert "ag_0000000000b2" not in text


def test_stream_series_are_capped_to_the_ones_holding_most() -> None:
    """More open streams than the cap: the series count stays at the cap, the count is whole."""
    registry = CollectorRegistry()
    metrics = OverviewMetrics(registry)
    rows = [
        StreamRow("ag_0000000000a1", f"st_{i:012x}", Decimal(i), Decimal(0), None)
        for i in range(MAX_STREAM_SERIES + 50)
    ]
    metrics.update([], _view("*"), {}, rows, now=0.0)
    text = generate_latest(registry).decode()
    assert text.count("pf_stream_remaining_usd{") == MAX_STREAM_SERIES
    assert f"st_{MAX_STREAM_SERIES + 49:012x}" in text  # the largest is kept
    assert 'stream="st_000000000000"' not in text  # the smallest is dropped
    assert _sample(text, "pf_fleet_streams_open") == MAX_STREAM_SERIES + 50
    metrics.update([], _view("*"), {}, rows[-1:], now=1.0)
    assert generate_latest(registry).decode().count("pf_stream_owed_usd{") == 1
