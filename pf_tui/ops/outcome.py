"""What a scripted money call ends as: a status, an exit code, and a JSON object of a fixed shape.

Every non-TUI caller (the ``pf-tui`` commands, the MCP server) reports an :class:`Outcome`. Its
JSON form (:meth:`Outcome.to_json`) is the stable schema of docs/cli.md: keys are never renamed
or removed within ``schema`` version 1, money is a decimal string (never a float), and every text
that came from the server or another agent is escaped (:func:`pf_tui.text.escape_text`).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pf_tui.core.money.types import (
    ActionError,
    ActionInFlightError,
    ActionPreview,
    ActionResult,
    ActionValidationError,
    BrakeEngagedError,
    LimitExceededError,
    Op,
    ReadOnlyError,
    RequestState,
)
from pf_tui.text import escape_text

SCHEMA = "pf-tui/1"
"""The ``schema`` field of every JSON object the scripted commands print."""

EXIT_DONE = 0
"""Done (or nothing to do; or a faucet that was not claimable, with its reason)."""
EXIT_FAILED = 1
"""Failed: the server refused it for good, or a read failed; nothing more will happen."""
EXIT_USAGE = 2
"""Bad usage or config: a flag, an agent or escrow that does not exist, a short reason."""
EXIT_REFUSED = 4
"""Refused before anything was sent: a limit, the brake, read-only, another action in flight."""
EXIT_UNKNOWN = 5
"""Sent, but the outcome is not known yet: run the same command with the same
``--idempotency-key`` to reconcile it (same keys, never new ones)."""


class Status(str, enum.Enum):
    """Where a call ended (``status`` in the JSON)."""

    DONE = "done"
    FAILED = "failed"
    USAGE = "usage"
    REFUSED = "refused"
    UNKNOWN = "unknown"
    NOT_CLAIMABLE = "not_claimable"
    """A faucet claim the server turned down as not claimable (exit 0: nothing to do)."""
    PREVIEW = "preview"
    """A dry run: the preview only, nothing sent."""
    CANCELLED = "cancelled"
    """The operator answered no at the prompt; nothing sent."""
    NOTHING = "nothing"
    """Nothing to do (payroll found no escrow due)."""

    @property
    def exit_code(self) -> int:
        """The process exit code for this status (docs/cli.md, Exit codes)."""
        return _EXIT[self]


_EXIT: dict[Status, int] = {
    Status.DONE: EXIT_DONE,
    Status.NOT_CLAIMABLE: EXIT_DONE,
    Status.PREVIEW: EXIT_DONE,
    Status.NOTHING: EXIT_DONE,
    Status.FAILED: EXIT_FAILED,
    Status.CANCELLED: EXIT_FAILED,
    Status.USAGE: EXIT_USAGE,
    Status.REFUSED: EXIT_REFUSED,
    Status.UNKNOWN: EXIT_UNKNOWN,
}

NOT_CLAIMABLE = ("already_claimed", "ip_rate_limited", "has_deposits")
"""The faucet's "not claimable" codes (409, 429, 403): an initContainer treats them as success."""
_HTTP_CODE = re.compile(r"HTTP (\d{3}): ([a-z_]+)")

REFUSALS: tuple[type[ActionError], ...] = (
    ReadOnlyError,
    BrakeEngagedError,
    LimitExceededError,
    ActionInFlightError,
)
"""Refusals of the money core that say "not now, not by you" rather than "bad input"."""


class OpsError(Exception):
    """A scripted call that cannot go on; ``status`` says how (usage, failed, refused)."""

    def __init__(self, message: str, status: Status = Status.USAGE) -> None:
        super().__init__(message)
        self.status = status


def money(value: Decimal | None) -> str | None:
    """A JSON money value: the exact decimal as a string (``"1.5"``), or ``None``."""
    return None if value is None else format(value, "f")


def safe(text: str | None) -> str | None:
    """Untrusted text made safe for a terminal or a log (visible escapes), or ``None``."""
    return None if text is None else escape_text(text)


def status_of_error(exc: ActionError) -> Status:
    """The status a refusal of the money core maps to (a limit before bad input)."""
    if isinstance(exc, REFUSALS):
        return Status.REFUSED
    if isinstance(exc, ActionValidationError):
        return Status.USAGE
    return Status.FAILED  # a stale preview: nothing was sent, run it again


def not_claimable(result: ActionResult) -> str | None:
    """The faucet's "not claimable" code of a claim, if the server said so: in a failed
    claim's journal error, or the ``already_claimed`` note the core settles a 409 with."""
    for request in result.requests:
        if request.op is Op.FAUCET_CLAIM and (request.response or {}).get("note") in NOT_CLAIMABLE:
            return str((request.response or {})["note"])
        match = _HTTP_CODE.search(request.error or "")
        if match and match.group(2) in NOT_CLAIMABLE:
            return match.group(2)
    return None


@dataclass
class Outcome:
    """One scripted call's result, for a table or ``--json``."""

    command: str
    status: Status
    message: str = ""
    key: str | None = None
    """The intent's key in the journal (``None`` when nothing was previewed)."""
    idempotency_key: str | None = None
    """The caller's ``--idempotency-key`` (the intent's key is derived from it)."""
    replayed: bool = False
    """True when the journal already held this intent: nothing new was sent for it."""
    preview: ActionPreview | None = None
    result: ActionResult | None = None
    reason: str | None = None
    """A machine-readable reason: the faucet's code, the refusal's class."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """The process exit code."""
        return self.status.exit_code

    def to_json(self) -> dict[str, Any]:
        """The stable JSON object (docs/cli.md, "The money outcome")."""
        p = self.preview
        out: dict[str, Any] = {
            "schema": SCHEMA,
            "command": self.command,
            "status": self.status.value,
            "exit_code": self.exit_code,
            "message": safe(self.message),
            "reason": self.reason,
            "key": self.key,
            "idempotency_key": safe(self.idempotency_key),
            "replayed": self.replayed,
            "kind": None,
            "agent_id": None,
            "escrow_id": None,
            "stream_id": None,
            "amount": None,
            "fee": None,
            "payee_nets": None,
            "requests": [],
        }
        if p is not None:
            out.update(
                kind=p.kind.value,
                agent_id=safe(p.agent_id),
                escrow_id=safe(p.escrow_id),
                stream_id=safe(p.stream_id),
                amount=money(p.amount),
                fee=money(p.fee),
                payee_nets=money(p.payee_nets),
                requests=[
                    {
                        "seq": r.seq,
                        "op": r.op.value,
                        "method": r.method,
                        "path": safe(r.path),
                        "idempotency_key": r.key,
                        "state": "planned",
                        "escrow_id": None,
                        "error": None,
                    }
                    for r in p.requests
                ],
            )
        if self.result is not None:
            out["kind"] = self.result.kind.value
            out["requests"] = [
                {
                    "seq": r.seq,
                    "op": r.op.value,
                    "method": None,
                    "path": None,
                    "idempotency_key": r.key,
                    "state": r.state.value,
                    "escrow_id": safe(r.escrow_id),
                    "error": safe(r.error),
                }
                for r in self.result.requests
            ]
            if p is not None:  # what the preview knew of each request, beside its state
                planned = {r.seq: r for r in p.requests}
                for row in out["requests"]:
                    if row["seq"] in planned:
                        row["method"] = planned[row["seq"]].method
                        row["path"] = safe(planned[row["seq"]].path)
        out.update(self.extra)
        return out


def outcome_of_result(
    command: str,
    result: ActionResult,
    *,
    preview: ActionPreview | None = None,
    idempotency_key: str | None = None,
    replayed: bool = False,
) -> Outcome:
    """The outcome of an executed (or replayed) intent."""
    reason = None
    if result.state is RequestState.DONE:
        reason = not_claimable(result)
        status = Status.NOT_CLAIMABLE if reason else Status.DONE
    elif result.state is RequestState.UNKNOWN:
        status = Status.UNKNOWN
    else:
        reason = not_claimable(result)
        status = Status.NOT_CLAIMABLE if reason else Status.FAILED
    return Outcome(
        command,
        status,
        result.message,
        key=result.key,
        idempotency_key=idempotency_key,
        replayed=replayed,
        preview=preview,
        result=result,
        reason=reason,
    )
