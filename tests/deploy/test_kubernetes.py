"""deploy/kubernetes: the kustomize base and the Helm chart, rendered and validated offline against
Kubernetes 1.33 with strict schemas (kubernetes-validate ships them: an unknown or misspelt field
fails), plus the checks no schema makes."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from croniter import croniter

from .tools import DEPLOY

K8S = "1.33.0"
BASE = DEPLOY / "kubernetes" / "base"
CHART = DEPLOY / "kubernetes" / "helm" / "pf-tui"
OVERLAY = DEPLOY / "kubernetes" / "overlays" / "example"
Doc = dict[str, Any]


def _kustomize(directory: Path = BASE) -> list[Doc]:
    """``directory`` as `kubectl kustomize` builds it; where kubectl is absent, the same assembly
    in Python. The base uses only `resources` and `namespace`; an overlay only `resources` (a
    folder) and `patches` of JSON6902 `replace` ops on one object (all checked below)."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    kubectl = shutil.which("kubectl")
    if directory == BASE:
        assert set(kustomization) == {"apiVersion", "kind", "namespace", "resources"}
    else:
        assert set(kustomization) == {"apiVersion", "kind", "resources", "patches"}
    if kubectl is not None:
        text = subprocess.run(
            [kubectl, "kustomize", str(directory)], capture_output=True, text=True, check=True
        ).stdout
        return [d for d in yaml.safe_load_all(text) if d]
    if directory != BASE:
        ((folder,),) = [kustomization["resources"]]
        docs = _kustomize((directory / folder).resolve())
        for patch in kustomization["patches"]:
            target = patch["target"]
            (doc,) = [
                d for d in docs if d["kind"] == target["kind"]
                and d["metadata"]["name"] == target["name"]
            ]  # fmt: skip
            for op in yaml.safe_load(patch["patch"]):
                assert op["op"] == "replace", op
                *parents, leaf = op["path"].lstrip("/").split("/")
                place = doc
                for key in parents:
                    place = place[key]
                assert leaf in place, op
                place[leaf] = op["value"]
        return docs
    docs = []
    for name in kustomization["resources"]:
        for doc in yaml.safe_load_all((directory / name).read_text()):
            if doc:
                doc["metadata"].setdefault("namespace", kustomization["namespace"])
                docs.append(doc)
    return docs


def _helm(values: Doc | None = None) -> list[Doc]:
    import helm_python

    chart = helm_python.Chart.load(str(CHART))
    rendered = chart.render(values or {}, name="pf", namespace="pf-agents")
    return [d for text in rendered.values() for d in yaml.safe_load_all(text) if d]


RENDERS = {
    "kustomize": _kustomize,
    "kustomize-overlay": lambda: _kustomize(OVERLAY),
    "helm-defaults": _helm,
    "helm-shards": lambda: _helm({"shards": {"enabled": True, "count": 3}}),
}


@pytest.fixture(params=sorted(RENDERS), scope="module")
def docs(request: pytest.FixtureRequest) -> list[Doc]:
    return RENDERS[request.param]()


def _pods(docs: list[Doc]) -> Iterator[tuple[Doc, Doc]]:
    """(workload, pod spec) for every workload."""
    for doc in docs:
        spec = doc.get("spec", {})
        if doc["kind"] == "CronJob":
            yield doc, spec["jobTemplate"]["spec"]["template"]["spec"]
        elif "template" in spec:
            yield doc, spec["template"]["spec"]


def test_strict_schemas(docs: list[Doc]) -> None:
    """Every object against Kubernetes 1.33's schema, unknown fields refused."""
    for doc in docs:
        if doc["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # a CRD: checked by test_service_monitor_selects_the_metrics_service
        kubernetes_validate.validate(doc, K8S, strict=True)


def test_what_the_issue_asks_for_is_there(docs: list[Doc]) -> None:
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for kind in ("Deployment", "Service", "ServiceMonitor", "CronJob", "Role", "RoleBinding",
                 "ServiceAccount", "HorizontalPodAutoscaler", "ConfigMap"):  # fmt: skip
        assert any(k == kind for k, _ in kinds), kind
    daemon = next(d for d in docs if d["metadata"]["name"] == "pf-tui-daemon")
    init = daemon["spec"]["template"]["spec"]["initContainers"][0]
    assert init["args"][:2] == ["faucet", "claim"] and "--yes" in init["args"]
    cron = next(d for d in docs if d["kind"] == "CronJob")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    payroll = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert payroll[:3] == ["payroll", "--older-than", "50m"]
    operator = next(d for d in docs if d["metadata"]["name"] == "pf-tui-operator" and
                    d["kind"] == "Deployment")  # fmt: skip
    assert operator["spec"]["template"]["spec"]["containers"][0]["args"][0] == "watch-jobs"
    role = next(d for d in docs if d["kind"] == "Role")
    jobs = next(r for r in role["rules"] if "jobs" in r["resources"])
    # Exactly what pf-tui watch-jobs calls (pf_tui/jobs/kube.py): no get, no create, no delete.
    assert set(jobs["verbs"]) == {"list", "watch", "patch"}
    assert [r["resources"] for r in role["rules"]] == [["jobs"]]  # nothing else (no events)


def test_selectors_match_template_labels(docs: list[Doc]) -> None:
    """A selector that misses its pods is valid YAML and a dead workload: no schema catches it."""
    for doc, _ in _pods(docs):
        if doc["kind"] == "CronJob":
            continue
        labels = doc["spec"]["template"]["metadata"]["labels"]
        selector = doc["spec"]["selector"]["matchLabels"]
        assert selector.items() <= labels.items(), doc["metadata"]["name"]
    pods = [d["spec"]["template"]["metadata"]["labels"] for d, _ in _pods(docs)
            if d["kind"] != "CronJob"]  # fmt: skip
    for svc in (d for d in docs if d["kind"] == "Service"):
        assert any(svc["spec"]["selector"].items() <= p.items() for p in pods), svc


def test_service_monitor_selects_the_metrics_service(docs: list[Doc]) -> None:
    monitors = [d for d in docs if d["kind"] == "ServiceMonitor"]
    services = [d for d in docs if d["kind"] == "Service"]
    for monitor in monitors:
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        wanted = monitor["spec"]["selector"]["matchLabels"]
        ports = {e["port"] for e in monitor["spec"]["endpoints"]}
        assert any(
            wanted.items() <= s["metadata"]["labels"].items()
            and ports <= {p["name"] for p in s["spec"]["ports"]}
            for s in services
        )
        assert {e["path"] for e in monitor["spec"]["endpoints"]} == {"/metrics"}


def test_jobs_restart_policy_and_cron_syntax(docs: list[Doc]) -> None:
    for doc, pod in _pods(docs):
        if doc["kind"] in ("CronJob", "Job"):
            assert pod["restartPolicy"] in ("Never", "OnFailure")
        if doc["kind"] == "CronJob":
            schedule = doc["spec"]["schedule"]
            assert croniter.is_valid(schedule), schedule
            first = croniter(schedule, datetime(2026, 1, 1)).get_next(datetime)
            assert first.minute == 5  # hourly, off the top of the hour


def test_keys_are_files_readable_by_the_owner_only(docs: list[Doc]) -> None:
    """pf-tui refuses a key or config file others can read: every mount of them is 0400."""
    for _, pod in _pods(docs):
        for volume in pod.get("volumes", []):
            for source in ("secret", "configMap"):
                if source in volume:
                    assert volume[source]["defaultMode"] == 0o400, volume
        for container in pod["containers"] + pod.get("initContainers", []):
            assert not any("KEY" in e["name"] or "TOKEN" in e["name"]
                           for e in container.get("env", []))  # fmt: skip
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_shards_take_their_ordinal(docs: list[Doc]) -> None:
    """--shard i/n: i is the pod's ordinal, n the replicas (they must change together)."""
    for doc in (d for d in docs if d["kind"] == "StatefulSet"):
        container = doc["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e for e in container["env"]}
        assert env["SHARD"]["valueFrom"]["fieldRef"]["fieldPath"] == (
            "metadata.labels['apps.kubernetes.io/pod-index']"
        )
        assert env["SHARDS"]["value"] == str(doc["spec"]["replicas"])
        i = container["args"].index("--shard")
        assert container["args"][i + 1] == "$(SHARD)/$(SHARDS)"


def test_autoscaler_reads_the_adapter_metric(docs: list[Doc], daemon_metrics: str) -> None:
    """The HPA's external metric is the name the adapter rule exports, from a series pf-tui has."""
    hpa = next(d for d in docs if d["kind"] == "HorizontalPodAutoscaler")
    wanted = hpa["spec"]["metrics"][0]["external"]["metric"]["name"]
    rules = next(d for d in _kustomize() if d["metadata"]["name"] == "pf-tui-adapter-rules")
    (rule,) = yaml.safe_load(rules["data"]["config.yaml"])["externalRules"]
    assert rule["name"]["as"] == wanted
    source = re.fullmatch(r"\^(\w+)\$", rule["name"]["matches"])
    assert source and re.search(rf"^{source.group(1)} ", daemon_metrics, re.M)


def _scale_target(docs: list[Doc]) -> Doc:
    (hpa,) = [d for d in docs if d["kind"] == "HorizontalPodAutoscaler"]
    ref: Doc = hpa["spec"]["scaleTargetRef"]
    return ref


def test_autoscaler_scales_the_agents_workers_not_pf_tui(docs: list[Doc]) -> None:
    """The HPA scales the agents' workers, a Deployment the operator runs and these manifests do
    not: never one of pf-tui's own workloads (the daemon is the single writer of its store)."""
    ref = _scale_target(docs)
    assert (ref["apiVersion"], ref["kind"]) == ("apps/v1", "Deployment")
    assert ref["name"] not in {d["metadata"]["name"] for d, _ in _pods(docs)}


def test_the_workers_deployment_name_is_a_knob() -> None:
    """Helm's autoscaling.target and the kustomize overlay's patch name the workers' Deployment;
    Helm refuses an empty name rather than render an HPA aimed at nothing."""
    assert _scale_target(_kustomize())["name"] == "pf-agent-workers"
    assert _scale_target(_helm())["name"] == "pf-agent-workers"
    assert _scale_target(_kustomize(OVERLAY))["name"] == "my-agent-workers"
    named = _helm({"autoscaling": {"target": "fleet-workers"}})
    assert _scale_target(named)["name"] == "fleet-workers"
    import helm_python

    with pytest.raises(helm_python.HelmError, match=r"autoscaling\.target"):
        _helm({"autoscaling": {"target": ""}})
    off = _helm({"autoscaling": {"enabled": False}})
    assert not any(d["kind"] == "HorizontalPodAutoscaler" for d in off)
