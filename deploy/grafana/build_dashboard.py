"""Write deploy/grafana/pf-tui-fleet.json: pf-tui's fleet dashboard, kept as code.

    python deploy/grafana/build_dashboard.py    # rewrites the JSON; a test checks it is current

Panels read the daemon's /metrics (README, "Metrics"); `$agent` drills every per-agent panel
down to the agents picked. Import the JSON in Grafana (Dashboards > New > Import) and pick the
Prometheus data source.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("pf-tui-fleet.json")
DS = {"type": "prometheus", "uid": "${datasource}"}
AGENT = 'agent=~"$agent"'


def _panel(
    pid: int,
    title: str,
    kind: str,
    exprs: list[tuple[str, str]],
    unit: str,
    x: int,
    y: int,
    w: int = 6,
    h: int = 6,
) -> dict[str, Any]:
    return {
        "id": pid,
        "type": kind,
        "title": title,
        "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
        "targets": [
            {"refId": chr(65 + i), "datasource": DS, "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(exprs)
        ],
    }


def dashboard() -> dict[str, Any]:
    """The dashboard as Grafana's JSON model."""
    p = [
        _panel(
            1,
            "Fleet balance",
            "stat",
            [("sum(pf_fleet_balance_usd)", "balance")],
            "currencyUSD",
            0,
            0,
        ),
        _panel(
            2,
            "Fleet P&L",
            "stat",
            [("sum(pf_fleet_pnl_usd)", "total"), ("sum(pf_fleet_pnl_today_usd)", "today")],
            "currencyUSD",
            6,
            0,
        ),
        _panel(
            3,
            "Alerts firing",
            "stat",
            [("sum by (severity) (pf_alerts_firing)", "{{severity}}")],
            "none",
            12,
            0,
        ),
        _panel(
            4,
            "Escrow exposure",
            "stat",
            [
                ("sum(pf_fleet_escrow_exposure_usd)", "held"),
                ("sum(pf_fleet_escrow_queue_depth)", "queue"),
            ],
            "currencyUSD",
            18,
            0,
        ),
        _panel(
            5,
            "Balance by agent",
            "timeseries",
            [(f"pf_agent_balance_usd{{{AGENT}}}", "{{label}}")],
            "currencyUSD",
            0,
            6,
            12,
            8,
        ),
        _panel(
            6,
            "P&L by agent",
            "timeseries",
            [(f"pf_agent_pnl_usd{{{AGENT}}}", "{{label}}")],
            "currencyUSD",
            12,
            6,
            12,
            8,
        ),
        _panel(
            7,
            "Data age",
            "timeseries",
            [
                (f"pf_agent_data_age_seconds{{{AGENT}}}", "{{label}}"),
                ("pf_fleet_data_age_seconds", "oldest in fleet"),
            ],
            "s",
            0,
            14,
            12,
            8,
        ),
        _panel(
            8,
            "API latency",
            "timeseries",
            [
                (
                    "histogram_quantile(0.5, sum by (le) (rate(pf_api_latency_seconds_bucket[5m])))",
                    "fleet p50",
                ),
                (
                    "histogram_quantile(0.99, sum by (le) (rate(pf_api_latency_seconds_bucket[5m])))",
                    "fleet p99",
                ),
                (f"pf_agent_api_latency_p99_seconds{{{AGENT}}}", "p99 {{agent}}"),
            ],
            "s",
            12,
            14,
            12,
            8,
        ),
        _panel(
            9,
            "API error ratio",
            "timeseries",
            [
                (
                    f"rate(pf_agent_api_errors_total{{{AGENT}}}[5m]) / rate(pf_agent_api_polls_total{{{AGENT}}}[5m])",
                    "{{agent}}",
                )
            ],
            "percentunit",
            0,
            22,
            12,
            8,
        ),
        _panel(
            10,
            "Outbox and dead letters",
            "timeseries",
            [
                ("pf_notify_outbox_depth", "queued {{receiver}}"),
                ("pf_notify_dead_letters", "dead {{receiver}}"),
            ],
            "none",
            12,
            22,
            12,
            8,
        ),
        _panel(
            11,
            "Streams: remaining and owed",
            "timeseries",
            [
                (f"pf_stream_remaining_usd{{{AGENT}}}", "left {{stream}}"),
                (f"pf_stream_owed_usd{{{AGENT}}}", "owed {{stream}}"),
            ],
            "currencyUSD",
            0,
            30,
            12,
            8,
        ),
        _panel(
            12,
            "Streams: time to timeout",
            "timeseries",
            [(f"pf_stream_timeout_seconds{{{AGENT}}}", "{{stream}}")],
            "s",
            12,
            30,
            12,
            8,
        ),
        _panel(
            13,
            "Sharpe 7d and drawdown",
            "timeseries",
            [
                (f"pf_agent_sharpe_7d_ratio{{{AGENT}}}", "sharpe {{agent}}"),
                (f"pf_agent_max_drawdown_ratio{{{AGENT}}}", "drawdown {{agent}}"),
            ],
            "none",
            0,
            38,
            12,
            8,
        ),
        _panel(
            14,
            "Casino win rate vs expected",
            "timeseries",
            [
                (
                    f"pf_agent_casino_win_ratio{{{AGENT}}} - pf_agent_casino_expected_win_ratio{{{AGENT}}}",
                    "{{agent}}",
                )
            ],
            "percentunit",
            12,
            38,
            12,
            8,
        ),
        _panel(
            15,
            "Spend per hour",
            "timeseries",
            [
                (f"pf_agent_spend_usd_per_hour{{{AGENT}}}", "{{agent}}"),
                ("sum(pf_fleet_spend_usd_per_hour)", "fleet"),
            ],
            "currencyUSD",
            0,
            46,
            12,
            8,
        ),
        _panel(
            16,
            "Referral funnel",
            "timeseries",
            [
                (f"pf_agent_referral_funnel_registered{{{AGENT}}}", "registered {{agent}}"),
                (f"pf_agent_referral_funnel_transacted{{{AGENT}}}", "transacted {{agent}}"),
            ],
            "none",
            12,
            46,
            12,
            8,
        ),
    ]
    return {
        "uid": "pf-tui-fleet",
        "title": "pf-tui fleet",
        "description": "Purple Flea fleet watched by pf-tui: money, data freshness, API, alerts.",
        "tags": ["pf-tui", "purple-flea"],
        "timezone": "utc",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "type": "datasource",
                    "name": "datasource",
                    "label": "Prometheus",
                    "query": "prometheus",
                    "hide": 0,
                    "multi": False,
                    "includeAll": False,
                    "skipUrlSync": False,
                    "refresh": 1,
                },
                {
                    "type": "query",
                    "name": "agent",
                    "label": "Agent",
                    "datasource": DS,
                    "query": "label_values(pf_agent_info, agent)",
                    "refresh": 2,
                    "multi": True,
                    "includeAll": True,
                    "hide": 0,
                    "skipUrlSync": False,
                    "sort": 1,
                    "allValue": ".*",
                },
            ]
        },
        "annotations": {"list": []},
        "panels": p,
    }


def main() -> None:
    """Rewrite the JSON next to this file."""
    OUT.write_text(json.dumps(dashboard(), indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
