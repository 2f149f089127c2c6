"""deploy/prometheus and deploy/alertmanager, checked by the tools that run them.

``promtool test rules`` drives every built-in rule through firing and clearing
(deploy/prometheus/rules_test.yml); the checks below make sure no built-in rule is missing from
the file and that every metric a rule reads is one the daemon exports.
"""

from __future__ import annotations

import re
import subprocess

import yaml

from pf_tui.config.model import DEFAULT_RULES
from pf_tui.core.alerts.rules import builtin_rules

from .metrics_names import exported_names
from .tools import DEPLOY, need_tool

RULES = DEPLOY / "prometheus" / "rules.yml"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


def test_rule_unit_tests_pass() -> None:
    """Breaking a threshold, a `for` or a clear threshold in rules.yml fails a case here."""
    promtool = need_tool("promtool", "prometheus")
    done = _run(promtool, "test", "rules", str(DEPLOY / "prometheus" / "rules_test.yml"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_rules_and_scrape_config_are_valid() -> None:
    promtool = need_tool("promtool", "prometheus")
    done = _run(promtool, "check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr
    done = _run(promtool, "check", "config", str(DEPLOY / "prometheus" / "prometheus.yml"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_builtin_rule_has_a_prometheus_twin() -> None:
    """A built-in rule added to pf-tui without its PromQL twin fails here."""
    groups = yaml.safe_load(RULES.read_text())["groups"]
    alerts = {r["alert"]: r for g in groups for r in g["rules"]}
    builtin = {r.name: r for r in builtin_rules()}
    assert set(DEFAULT_RULES) | set(builtin) <= set(alerts)
    for name, spec in builtin.items():
        assert alerts[name]["labels"]["severity"] == spec.severity.value, name
    for name, rule in DEFAULT_RULES.items():
        assert alerts[name]["labels"]["severity"] == rule["severity"], name


def test_every_metric_a_rule_reads_is_exported(daemon_metrics: str) -> None:
    """A renamed gauge would leave a rule reading nothing, which never fires: caught here."""
    groups = yaml.safe_load(RULES.read_text())["groups"]
    exprs = " ".join(r["expr"] for g in groups for r in g["rules"])
    used = set(re.findall(r"\b(pf_[a-z0-9_]+)", exprs))
    assert used, "no pf_ metric found in the rules"
    assert used <= exported_names(daemon_metrics), used - exported_names(daemon_metrics)


def test_alertmanager_example_config_is_valid() -> None:
    amtool = need_tool("amtool", "prometheus-alertmanager")
    done = _run(amtool, "check-config", str(DEPLOY / "alertmanager" / "alertmanager.yml"))
    assert done.returncode == 0, done.stdout + done.stderr
    config = yaml.safe_load((DEPLOY / "alertmanager" / "alertmanager.yml").read_text())
    kinds = {k for r in config["receivers"] for k in r if k.endswith("_configs")}
    assert {"telegram_configs", "webhook_configs"} <= kinds
