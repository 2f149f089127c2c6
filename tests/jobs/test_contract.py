"""The Job annotation contract and how a money outcome maps onto it (pure, no I/O)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from pf_tui.cli import build_parser
from pf_tui.core.money.types import (
    ActionInFlightError,
    BrakeEngagedError,
    LimitExceededError,
    ReadOnlyError,
)
from pf_tui.jobs import contract
from pf_tui.jobs.contract import JobEnd, Step
from pf_tui.jobs.operator import verdict_of
from pf_tui.ops.outcome import Outcome, Status

ROOT = Path(__file__).parents[2]


def job(annotations: dict[str, str] | None = None, *conditions: tuple[str, str]) -> Any:
    return {
        "metadata": {"name": "j", "namespace": "ns", "uid": "u-1", "annotations": annotations},
        "status": {"conditions": [{"type": t, "status": s} for t, s in conditions]},
    }


def info(obj: Any) -> contract.JobInfo:
    found = contract.job_info(obj)
    assert found is not None
    return found


ESCROW = {contract.ESCROW_ID: "esc_0123456789abcdef"}


def test_how_a_job_ended() -> None:
    assert info(job(ESCROW)).end is None
    assert info(job(ESCROW, ("Complete", "True"))).end is JobEnd.COMPLETE
    assert info(job(ESCROW, ("Failed", "True"))).end is JobEnd.FAILED
    assert info(job(ESCROW, ("Complete", "False"), ("Suspended", "True"))).end is None
    assert info(job(ESCROW, ("FailureTarget", "True"))).end is None  # not ended until Failed


@pytest.mark.parametrize(
    ("annotations", "conditions", "expected"),
    [
        (None, [("Complete", "True")], Step.IGNORE),
        ({"other": "x"}, [("Complete", "True")], Step.IGNORE),
        (ESCROW, [], Step.RUNNING),
        (ESCROW, [("Complete", "True")], Step.ACT),
        ({**ESCROW, contract.OUTCOME: "unknown"}, [("Failed", "True")], Step.ACT),
        ({**ESCROW, contract.OUTCOME: "released"}, [("Complete", "True")], Step.SETTLED),
        ({**ESCROW, contract.OUTCOME: "refused:limit"}, [("Failed", "True")], Step.SETTLED),
    ],
)
def test_what_is_done_with_a_job(
    annotations: dict[str, str] | None, conditions: list[tuple[str, str]], expected: Step
) -> None:
    assert contract.step(info(job(annotations, *conditions))) is expected


def test_objects_without_a_name_namespace_or_uid_are_skipped() -> None:
    assert contract.job_info({"metadata": {"name": "j", "namespace": "ns"}}) is None
    assert contract.job_info("not a job") is None


def test_the_key_is_the_uid_and_the_end() -> None:
    j = info(job(ESCROW, ("Complete", "True")))
    assert contract.idempotency_key(j, JobEnd.COMPLETE) == "watch-jobs/u-1/complete"
    assert contract.idempotency_key(j, JobEnd.FAILED) != contract.idempotency_key(
        j, JobEnd.COMPLETE
    )


def test_escrow_ids_that_cannot_be_one_are_refused() -> None:
    assert contract.escrow_id_problem("esc_0123456789abcdef") is None
    for bad in (None, "a b", "x" * 200, "esc_\x1b[2J"):
        assert contract.escrow_id_problem(bad) is not None


def test_the_message_is_one_safe_line() -> None:
    written = contract.outcome_annotations("refused:x", None, "line one\nline\x1b[31m two")
    assert written[contract.MESSAGE] == "line one line\\x1b[31m two"
    assert contract.KEY not in written
    assert len(contract.one_line("y" * 5000)) <= contract.MAX_MESSAGE + 1


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [
        (Status.DONE, None, "released"),
        (Status.UNKNOWN, None, "unknown"),
        (Status.REFUSED, ReadOnlyError.__name__, "refused:read-only"),
        (Status.REFUSED, LimitExceededError.__name__, "refused:limit"),
        (Status.USAGE, "ActionValidationError", "refused:invalid"),
        (Status.REFUSED, ActionInFlightError.__name__, None),
        (Status.FAILED, BrakeEngagedError.__name__, None),
    ],
)
def test_outcomes_map_onto_annotations(
    status: Status, reason: str | None, expected: str | None
) -> None:
    verdict = verdict_of(JobEnd.COMPLETE, Outcome("watch-jobs", status, "why", reason=reason))
    if expected is None:
        assert verdict.retry  # left unannotated, tried again at the next resync
    else:
        assert not verdict.retry and verdict.outcome == expected


def test_the_deployments_invocation_parses() -> None:
    """deploy/kubernetes runs ``pf-tui watch-jobs --namespace pf-agents --config ...``."""
    docs = yaml.safe_load_all((ROOT / "deploy/kubernetes/base/operator.yaml").read_text())
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    parsed = build_parser().parse_args(args)
    assert (parsed.command, parsed.namespace, parsed.config, parsed.kube_url) == (
        "watch-jobs",
        "pf-agents",
        "/etc/pf-tui/config.toml",
        None,  # in the cluster: the pod's service account
    )
