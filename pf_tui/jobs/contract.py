"""The Job annotation contract, as pure functions (README, "Kubernetes Job operator").

What a Job asks for:

- ``purpleflea.com/escrow-id: <id>``: the escrow this Job's work is paid from. A Job without it
  is ignored.
- ``purpleflea.com/agent: <label or id>`` (optional): the fleet agent that acts. Without it, the
  fleet agent that is a party of the escrow (its creator when both parties are in the fleet).

What the operator writes back, once the Job has ended (condition ``Complete`` or ``Failed`` is
``True``):

- ``purpleflea.com/escrow-outcome``: ``released`` (Complete), ``disputed`` (Failed),
  ``refused:<why>`` (nothing was sent: not a party, not the creator, a limit, read-only, an
  escrow not in a state to act on), ``failed:<why>`` (the server turned the request down; nothing
  moved), or ``unknown`` (sent, reply lost: reconciled with the same keys at the next resync).
- ``purpleflea.com/escrow-key``: the intent's key in pf-tui's journal (``pf-tui`` audit view).
- ``purpleflea.com/escrow-message``: one line saying why, secrets masked, unsafe text escaped.

A Job carrying an outcome other than ``unknown`` is never acted on again. The intent's
idempotency key is derived from the Job's uid and how it ended (:func:`idempotency_key`), so a
replayed watch event or a restart finds the journaled intent and sends nothing new.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from pf_tui.text import escape_text

PREFIX = "purpleflea.com/"
ESCROW_ID = PREFIX + "escrow-id"
AGENT = PREFIX + "agent"
OUTCOME = PREFIX + "escrow-outcome"
KEY = PREFIX + "escrow-key"
MESSAGE = PREFIX + "escrow-message"

RELEASED = "released"
DISPUTED = "disputed"
UNKNOWN = "unknown"
MAX_MESSAGE = 500
"""Longest ``escrow-message`` written (characters, after escaping)."""
MAX_ESCROW_ID = 128


class JobEnd(str, enum.Enum):
    """How a Job ended (its ``Complete`` or ``Failed`` condition is ``True``)."""

    COMPLETE = "complete"
    FAILED = "failed"


class Step(str, enum.Enum):
    """What the operator does with one Job as it is now."""

    IGNORE = "ignore"
    """No ``escrow-id`` annotation: not ours."""
    RUNNING = "running"
    """Annotated, not ended yet."""
    SETTLED = "settled"
    """An outcome other than ``unknown`` is already written: never again."""
    ACT = "act"
    """Ended, annotated, no final outcome: release or dispute (or reconcile an unknown one)."""


@dataclass(frozen=True, slots=True)
class JobInfo:
    """The parts of a ``batch/v1`` Job the operator reads."""

    namespace: str
    name: str
    uid: str
    annotations: Mapping[str, str]
    end: JobEnd | None

    @property
    def ref(self) -> str:
        """``namespace/name`` (for logs and the dispute's reason)."""
        return f"{self.namespace}/{self.name}"

    @property
    def escrow_id(self) -> str | None:
        """The ``escrow-id`` annotation, stripped (``None`` when absent or blank)."""
        value = self.annotations.get(ESCROW_ID, "").strip()
        return value or None

    @property
    def agent(self) -> str | None:
        """The ``agent`` annotation, stripped (``None`` when absent or blank)."""
        value = self.annotations.get(AGENT, "").strip()
        return value or None

    @property
    def outcome(self) -> str | None:
        """The outcome already written, if any."""
        return self.annotations.get(OUTCOME)


def job_end(status: object) -> JobEnd | None:
    """How a Job ended, from its ``status.conditions`` (``None`` while it runs)."""
    if not isinstance(status, Mapping):
        return None
    conditions = status.get("conditions")
    if not isinstance(conditions, list):
        return None
    ended = {
        c.get("type")
        for c in conditions
        if isinstance(c, Mapping) and str(c.get("status", "")).lower() == "true"
    }
    if "Failed" in ended:
        return JobEnd.FAILED
    if "Complete" in ended:
        return JobEnd.COMPLETE
    return None


def job_info(obj: object) -> JobInfo | None:
    """A Job's parts from its JSON object (``None`` when it has no name, namespace or uid)."""
    if not isinstance(obj, Mapping):
        return None
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping):
        return None
    name, namespace, uid = meta.get("name"), meta.get("namespace"), meta.get("uid")
    if not (isinstance(name, str) and isinstance(namespace, str) and isinstance(uid, str)):
        return None
    if not (name and namespace and uid):
        return None
    raw = meta.get("annotations")
    annotations = (
        {k: v for k, v in raw.items() if isinstance(k, str) and isinstance(v, str)}
        if isinstance(raw, Mapping)
        else {}
    )
    return JobInfo(namespace, name, uid, annotations, job_end(obj.get("status")))


def step(job: JobInfo) -> Step:
    """What to do with ``job`` now."""
    if ESCROW_ID not in job.annotations:
        return Step.IGNORE
    if job.outcome is not None and job.outcome != UNKNOWN:
        return Step.SETTLED
    if job.end is None:
        return Step.RUNNING
    return Step.ACT


def escrow_id_problem(escrow_id: str | None) -> str | None:
    """Why an ``escrow-id`` annotation cannot name an escrow (``None``: it can)."""
    if escrow_id is None:
        return "the escrow-id annotation is empty"
    if len(escrow_id) > MAX_ESCROW_ID or not escrow_id.isprintable() or " " in escrow_id:
        return "the escrow-id annotation is not an escrow id"
    return None


def idempotency_key(job: JobInfo, end: JobEnd) -> str:
    """The money intent's idempotency key: the Job's uid and how it ended. A Job re-created
    under the same name has a new uid, so it is a new intent; the same Job is always the same."""
    return f"watch-jobs/{job.uid}/{end.value}"


def refused(why: str) -> str:
    """The outcome value for a refusal (``refused:<why>``)."""
    return f"refused:{why}"


def failed(why: str) -> str:
    """The outcome value for a request the server turned down (``failed:<why>``)."""
    return f"failed:{why}"


def is_final(outcome: str) -> bool:
    """Whether an outcome ends the Job's story (everything but ``unknown``)."""
    return outcome != UNKNOWN


def one_line(text: str) -> str:
    """``text`` as one safe annotation line: escaped, flattened, cut to :data:`MAX_MESSAGE`."""
    flat = " ".join(text.split())
    return escape_text(flat, limit=MAX_MESSAGE)


def outcome_annotations(outcome: str, key: str | None, message: str) -> dict[str, str]:
    """The annotations written back for one outcome."""
    out = {OUTCOME: outcome, MESSAGE: one_line(message)}
    if key is not None:
        out[KEY] = key
    return out
