"""Real Prometheus and Alertmanager on 127.0.0.1, end to end, against the simulator (slow set).

Everything runs as an operator runs it, on loopback with free ports and data dirs in tmp_path:

- the simulator (one demo agent, motion off) and a webhook this test serves;
- ``pf-tui --headless --metrics-port N`` with a config written here: the agent,
  ``[notify.alertmanager] url`` and the built-in ``open_positions`` rule lowered to the agent's
  current count;
- Debian's ``prometheus`` scraping the daemon every second with a copy of
  deploy/prometheus/rules.yml (the same rule lowered the same way) and alerting to
- Debian's ``prometheus-alertmanager`` (``--cluster.listen-address=`` keeps it off 0.0.0.0) with
  the route tree of deploy/alertmanager/alertmanager.yml, its receivers pointed at the webhook and
  group_wait/group_interval cut to a second.

The test opens a trading position as the agent (the count goes past the threshold), then closes
it, and asserts states, each polled with a generous deadline: Prometheus fires the rule from the
scraped gauge and Alertmanager delivers it to the webhook; the daemon's own push of the same alert
shows in Alertmanager's ``/api/v2/alerts``; when the position closes, both resolve (gone from
Prometheus's and Alertmanager's active alerts, a ``resolved`` notification for each on the
webhook). The daemon holds a firing alert four ``resend_interval`` ahead; with 1 h nothing expires
on its own during the test, so the daemon's resolution seen here is the one it sent.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx
import pytest
import yaml

from pf_tui.config.model import DEFAULT_RULES, POLL_TYPES, SIM_MOUNTS
from pf_tui.sim.http.server import SimServer
from tests.daemon.helpers import Sink, free_port, webhook_sink

from .tools import DEPLOY, need_tool

pytestmark = pytest.mark.slow

HOST = "127.0.0.1"
RULE = "open_positions"
JOB = "pf-tui"
DEADLINE_S = 120.0
"""The longest any one state may take to show up. Generous for 2 loaded cores: each wait ends as
soon as its state holds (about 6 s for Prometheus's first scrape, a few seconds for the rest)."""
POLL_S = 0.25
KEYS, ADDRESSES = ("casino", "trading", "wallet"), ("base", "solana")
STOP_S = 15.0

T = TypeVar("T")
Json = dict[str, Any]


# ---- the processes -------------------------------------------------------------------------


@dataclass
class Proc:
    """One child process and the file its output goes to."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes]

    def tail(self, chars: int = 2500) -> str:
        self.log.flush()
        text = self.log_path.read_bytes()[-chars:].decode(errors="replace")
        return f"--- {self.name} (exit {self.popen.poll()}) ---\n{text}"


@dataclass
class Procs:
    """Every child the test started; :meth:`stop` ends them all (SIGTERM, then SIGKILL)."""

    logs: Path
    running: list[Proc] = field(default_factory=list)

    def start(self, name: str, args: Sequence[str]) -> Proc:
        log_path = self.logs / f"{name}.log"
        log = log_path.open("ab")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        popen = subprocess.Popen(
            list(args), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env
        )
        proc = Proc(name, popen, log_path, log)
        self.running.append(proc)
        return proc

    def check_alive(self) -> None:
        for proc in self.running:
            if proc.popen.poll() is not None:
                pytest.fail(f"{proc.name} exited early\n{self.tails()}")

    def tails(self) -> str:
        return "\n".join(proc.tail() for proc in self.running)

    def stop_one(self, proc: Proc) -> None:
        if proc.popen.poll() is None:
            proc.popen.send_signal(signal.SIGTERM)
            try:
                proc.popen.wait(STOP_S)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait()
        proc.log.close()
        if proc in self.running:
            self.running.remove(proc)

    def stop(self) -> None:
        for proc in reversed(list(self.running)):
            self.stop_one(proc)


@contextmanager
def processes(logs: Path) -> Iterator[Procs]:
    procs = Procs(logs)
    try:
        yield procs
    finally:
        procs.stop()


def wait_for(what: str, probe: Callable[[], T | None], procs: Procs) -> T:
    """Poll ``probe`` until it returns something (not None), failing after :data:`DEADLINE_S`.

    A transport error counts as "not yet"; a child that exits fails at once, with every log.
    """
    deadline = time.monotonic() + DEADLINE_S
    last = ""
    while True:
        procs.check_alive()
        try:
            found = probe()
        except httpx.TransportError as exc:
            found, last = None, f"{type(exc).__name__}: {exc}"
        if found is not None:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} after {DEADLINE_S:.0f} s ({last})\n{procs.tails()}")
        time.sleep(POLL_S)


def launch(
    procs: Procs, name: str, args_for: Callable[[int], list[str]], ready_url: str
) -> tuple[Proc, int]:
    """Start a server on a free port and wait until ``ready_url`` (``{port}`` filled) answers 200.

    A free port can be taken by another run on this machine before the child binds it: then the
    child exits saying so, and it is started again on another port (three tries).
    """
    for _attempt in range(3):
        port = free_port()
        proc = procs.start(name, args_for(port))
        url = ready_url.format(port=port)
        deadline = time.monotonic() + DEADLINE_S
        while proc.popen.poll() is None and time.monotonic() < deadline:
            try:
                if httpx.get(url, timeout=5).status_code == 200:
                    return proc, port
            except httpx.TransportError:
                pass
            time.sleep(POLL_S)
        taken = "address already in use" in proc.tail().lower()
        procs.stop_one(proc)
        if not taken:
            break
    pytest.fail(f"{name} did not become ready at {ready_url}\n{proc.tail()}")


# ---- configs -------------------------------------------------------------------------------


def prometheus_rules(baseline: int) -> Json:
    """deploy/prometheus/rules.yml with open_positions firing above ``baseline`` and clearing at it.

    ``for`` is set to 0 explicitly, as the daemon's own rule is: the first evaluation fires.
    """
    rules: Json = yaml.safe_load((DEPLOY / "prometheus" / "rules.yml").read_text())
    (rule,) = (r for g in rules["groups"] for r in g["rules"] if r.get("alert") == RULE)
    expr = str(rule["expr"])
    defaults = DEFAULT_RULES[RULE]  # the thresholds rules.yml mirrors
    fire, clear = f"> {defaults['threshold']}", f"> {defaults['clear_threshold']}"
    assert expr.count(fire) == 1 and expr.count(clear) == 1, f"rules.yml's {RULE} changed: {expr}"
    rule["expr"] = expr.replace(fire, f"> {baseline}").replace(clear, f"> {baseline}")
    rule["for"] = "0s"
    return rules


def prometheus_config(daemon_port: int, am_port: int) -> Json:
    """deploy/prometheus/prometheus.yml with every interval at 1 s and this test's ports."""
    config: Json = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = ["rules.yml"]
    config["alerting"] = {
        "alertmanagers": [{"static_configs": [{"targets": [f"{HOST}:{am_port}"]}]}]
    }
    (job,) = config["scrape_configs"]
    assert job["job_name"] == JOB, job
    job["static_configs"] = [{"targets": [f"{HOST}:{daemon_port}"]}]
    return config


def alertmanager_config(hook_url: str) -> Json:
    """deploy/alertmanager/alertmanager.yml: its routes and inhibitions, every receiver replaced
    by this test's webhook (resolved notifications on), group_wait and group_interval 1 s."""
    config: Json = yaml.safe_load((DEPLOY / "alertmanager" / "alertmanager.yml").read_text())
    config["route"].update(group_wait="1s", group_interval="1s")
    config["receivers"] = [
        {"name": r["name"], "webhook_configs": [{"url": hook_url, "send_resolved": True}]}
        for r in config["receivers"]
    ]
    return config


def _toml(value: object) -> str:
    """A TOML scalar: JSON's string escapes and numbers are TOML's too."""
    return json.dumps(value)


def daemon_config(sim_url: str, agent: Json, baseline: int, am_url: str, store: Path) -> str:
    """The daemon's config: the simulator, its one agent with inline keys (the file is 0600)."""
    keys, addresses = agent["keys"], agent.get("addresses") or {}
    lines = ['profile = "e2e"', "", "[api]"]
    lines += [f"{service} = {_toml(sim_url + mount)}" for service, mount in SIM_MOUNTS.items()]
    # Every figure every 2 s: the daemon judges a threshold only while no figure is missing or
    # stale, and the first polls are spread over each interval (30 s for referrals by default).
    lines += ["timeout = 5", "", "[polling]", *(f"{kind} = 2" for kind in POLL_TYPES), ""]
    lines += ["[[agents]]"]
    lines += [f"id = {_toml(agent['agent_id'])}", f"label = {_toml(agent['label'])}"]
    lines += [f"initial_balance = {_toml(str(agent['initial_balance']))}"]
    lines += [f"{k}_address = {_toml(v)}" for k, v in addresses.items() if k in ADDRESSES]
    lines += [f"{k}_key = {_toml(v)}" for k, v in keys.items() if k in KEYS]
    lines += [
        "",
        f"[alerts.rules.{RULE}]",
        f"threshold = {baseline}",
        f"clear_threshold = {baseline}",
        'for = "0s"',
        "",
        "[notify.alertmanager]",
        "enabled = true",
        f"url = {_toml(am_url)}",
        # Held 4 x 1 h: nothing expires on its own during the test.
        'resend_interval = "1h"',
        "",
        "[store]",
        f"path = {_toml(str(store))}",
    ]
    return "\n".join(lines) + "\n"


def write_private(path: Path, text: str) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def write_yaml(path: Path, data: Json) -> Path:
    return write_private(path, yaml.safe_dump(data, sort_keys=False))


# ---- what the test reads -------------------------------------------------------------------


def _get(url: str, **params: str) -> Any:
    response = httpx.get(url, params=params, timeout=10)
    response.raise_for_status()
    return response.json()


def from_daemon(alert: Json) -> bool:
    """Prometheus adds the scrape's job and instance; the daemon's own push has neither."""
    return "job" not in alert["labels"]


def notified(sink: Sink, agent: str, status: str, *, daemon: bool) -> Json | None:
    """The first webhook alert entry for the rule and agent with ``status``, from one source."""
    with sink.lock:
        bodies: list[Json] = list(sink.received)
    for body in bodies:
        for alert in body.get("alerts", []):
            labels = alert["labels"]
            if (
                labels.get("alertname") == RULE
                and labels.get("agent") == agent
                and alert["status"] == status
                and from_daemon(alert) is daemon
            ):
                return dict(alert)
    return None


def positions(sim_url: str, key: str) -> int:
    reply = _get_auth(f"{sim_url}{SIM_MOUNTS['trading']}/trade/positions", key)
    return len(reply["positions"])


def _get_auth(url: str, key: str) -> Any:
    response = httpx.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    response.raise_for_status()
    return response.json()


def trade(sim_url: str, key: str, action: str, body: Json) -> Json:
    url = f"{sim_url}{SIM_MOUNTS['trading']}/trade/{action}"
    response = httpx.post(url, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert response.status_code == 200, response.text
    reply: Json = response.json()
    return reply


# ---- the test ------------------------------------------------------------------------------


def test_prometheus_and_the_daemon_page_through_alertmanager(tmp_path: Path) -> None:
    prometheus = need_tool("prometheus", "prometheus")
    alertmanager = need_tool("prometheus-alertmanager", "prometheus-alertmanager")
    with (
        SimServer(host=HOST, port=0, seed=7, agents=1, motion=False) as sim,
        webhook_sink() as sink,
        processes(tmp_path) as procs,
    ):
        (agent,) = httpx.get(f"{sim.url}/_sim/agents", timeout=10).json()["agents"]
        agent_id, trading_key = agent["agent_id"], agent["keys"]["trading"]
        baseline = positions(sim.url, trading_key)

        # Alertmanager, with the shipped route tree delivering to this test's webhook.
        am_yml = write_yaml(tmp_path / "alertmanager.yml", alertmanager_config(sink.url))

        def am_args(port: int) -> list[str]:
            return [
                alertmanager, f"--config.file={am_yml}", f"--web.listen-address={HOST}:{port}",
                "--cluster.listen-address=", f"--storage.path={tmp_path / 'am-data'}",
            ]  # fmt: skip

        _, am_port = launch(procs, "alertmanager", am_args, f"http://{HOST}:{{port}}/-/ready")
        am_url = f"http://{HOST}:{am_port}"

        # The daemon, pushing to it.
        config = write_private(
            tmp_path / "config.toml",
            daemon_config(sim.url, agent, baseline, am_url, tmp_path / "store.db"),
        )

        def daemon_args(port: int) -> list[str]:
            return [
                sys.executable, "-m", "pf_tui", "--headless", "--config", str(config),
                "--metrics-port", str(port),
            ]  # fmt: skip

        _, daemon_port = launch(procs, "daemon", daemon_args, f"http://{HOST}:{{port}}/metrics")

        # Prometheus, scraping the daemon with rules.yml and alerting to Alertmanager.
        prom_dir = tmp_path / "prometheus"
        prom_dir.mkdir(mode=0o700)
        write_yaml(prom_dir / "rules.yml", prometheus_rules(baseline))
        prom_yml = write_yaml(prom_dir / "prometheus.yml", prometheus_config(daemon_port, am_port))

        def prom_args(port: int) -> list[str]:
            return [
                prometheus, f"--config.file={prom_yml}", f"--web.listen-address={HOST}:{port}",
                f"--web.external-url=http://{HOST}:{port}/",
                f"--storage.tsdb.path={prom_dir / 'data'}",
            ]  # fmt: skip

        _, prom_port = launch(procs, "prometheus", prom_args, f"http://{HOST}:{{port}}/-/ready")
        prom_url = f"http://{HOST}:{prom_port}"

        def scraped() -> float | None:
            """The gauge as Prometheus last scraped it (NaN, until the daemon's first poll, is
            not a value yet)."""
            query = f'pf_agent_open_positions{{job="{JOB}",agent="{agent_id}"}}'
            result = _get(f"{prom_url}/api/v1/query", query=query)["data"]["result"]
            value = float(result[0]["value"][1]) if result else math.nan
            return None if math.isnan(value) else value

        def prometheus_alert() -> Json | None:
            alerts = _get(f"{prom_url}/api/v1/alerts")["data"]["alerts"]
            return next(
                (
                    a
                    for a in alerts
                    if a["labels"].get("alertname") == RULE and a["labels"].get("agent") == agent_id
                ),
                None,
            )

        def alertmanager_alert() -> Json | None:
            """The daemon's push of the rule for the agent, as Alertmanager lists it (active,
            suppressed or not yet processed; resolved alerts are not listed)."""
            alerts = _get(f"{am_url}/api/v2/alerts", filter=f'alertname="{RULE}"')
            return next(
                (a for a in alerts if a["labels"].get("agent") == agent_id and from_daemon(a)),
                None,
            )

        # Prometheus has the baseline from its scrapes (the first lands after about 6 s).
        assert wait_for("scraped open-positions gauge", scraped, procs) == baseline

        # The condition: one more open position than the threshold allows.
        opened = trade(
            sim.url, trading_key, "open",
            {"coin": "BTC", "side": "long", "size_usd": 10, "leverage": 1},
        )  # fmt: skip

        # (1) Prometheus fires the rule from the scraped gauge; Alertmanager delivers it.
        firing = wait_for(
            "firing open_positions in Prometheus",
            lambda: a if (a := prometheus_alert()) and a["state"] == "firing" else None,
            procs,
        )
        assert firing["labels"]["job"] == JOB and firing["labels"]["severity"] == "warning"
        assert float(firing["value"]) == baseline + 1
        delivered = wait_for(
            "Prometheus's alert on the webhook",
            lambda: notified(sink, agent_id, "firing", daemon=False),
            procs,
        )
        assert delivered["generatorURL"].startswith(f"{prom_url}/graph?g0.expr=")

        # (2) The daemon's own push is in Alertmanager (and delivered too).
        pushed = wait_for(
            "the daemon's alert active in Alertmanager",
            lambda: a if (a := alertmanager_alert()) and a["status"]["state"] == "active" else None,
            procs,
        )
        assert pushed["labels"]["severity"] == "warning"
        assert pushed["annotations"]["summary"]
        wait_for(
            "the daemon's alert on the webhook",
            lambda: notified(sink, agent_id, "firing", daemon=True),
            procs,
        )

        # The condition clears: both copies resolve.
        trade(sim.url, trading_key, "close", {"position_id": opened["position_id"]})
        assert positions(sim.url, trading_key) == baseline
        wait_for(
            "the daemon's alert resolved in Alertmanager",
            lambda: True if alertmanager_alert() is None else None,
            procs,
        )
        resolved = wait_for(
            "the daemon's resolved notification",
            lambda: notified(sink, agent_id, "resolved", daemon=True),
            procs,
        )
        assert resolved["labels"] == pushed["labels"]
        wait_for(
            "open_positions gone from Prometheus's alerts",
            lambda: True if prometheus_alert() is None else None,
            procs,
        )
        wait_for(
            "Prometheus's resolved notification",
            lambda: notified(sink, agent_id, "resolved", daemon=False),
            procs,
        )
