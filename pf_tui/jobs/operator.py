"""The Job operator's loop: a Job that ended in, a release or a dispute, an annotation out.

Every money action goes through :class:`~pf_tui.ops.session.OpsSession` (the console's money
desk over the :class:`~pf_tui.core.money.engine.ActionEngine`): the journal before the request,
the idempotency keys, the limits, read-only, the brake and the reconciliation of unknown
outcomes. Exactly once: the intent's idempotency key is the Job's uid and how it ended
(:func:`~pf_tui.jobs.contract.idempotency_key`), so a replayed watch event, a second event
before the annotation lands, or a restart after a crash finds the journaled intent and sends
nothing new (the session replays it, reconciling it first if its outcome was unknown); then the
annotation is written (again). Jobs are handled one at a time, in the order they are seen.

What is not final is retried at the next resync (every Job is listed again): a Job whose
outcome is ``unknown``, and a Job left alone for a reason that passes (an escrow read failed,
another action on the escrow in flight, the brake, an escrow that moved since its preview).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass

from pf_tui.api.models import Dialect
from pf_tui.config import Config
from pf_tui.core.money.types import (
    ActionInFlightError,
    ActionKind,
    BrakeEngagedError,
    DisputeEscrow,
    LimitExceededError,
    ReadOnlyError,
    ReleaseEscrow,
    StalePreviewError,
)
from pf_tui.jobs import contract
from pf_tui.jobs.contract import JobEnd, JobInfo, Step
from pf_tui.jobs.kube import BatchApi, JobWatch, JsonObject, patch_annotations
from pf_tui.ops.outcome import OpsError, Outcome, Status
from pf_tui.ops.session import EscrowRow, OpsSession, intent_key

log = logging.getLogger("pf_tui.jobs")

COMMAND = "watch-jobs"
"""The operator name journaled with every intent (the audit view's ``by``)."""
RETRY_LATER = {ActionInFlightError.__name__, BrakeEngagedError.__name__, StalePreviewError.__name__}
"""Refusals that pass: the Job is left unannotated and tried again at the next resync."""
REFUSAL_SLUGS = {ReadOnlyError.__name__: "read-only", LimitExceededError.__name__: "limit"}


@dataclass(frozen=True, slots=True)
class Verdict:
    """How one Job's money ended: an outcome to write, or ``retry`` (write nothing now)."""

    outcome: str
    message: str
    key: str | None = None
    retry: bool = False


def _retry(message: str) -> Verdict:
    return Verdict("", message, retry=True)


def intent_for(
    job: JobInfo, end: JobEnd, row: EscrowRow
) -> ReleaseEscrow | DisputeEscrow | Verdict:
    """The release (Complete) or dispute (Failed) of ``row``'s escrow, or why there is none."""
    escrow = row.escrow
    if end is JobEnd.COMPLETE:
        if row.role == "payee":
            return Verdict(
                contract.refused("not-creator"),
                f"agent {row.agent_id} is the payee of escrow {escrow.escrow_id}; only its "
                "creator can release it",
            )
        return ReleaseEscrow(row.agent_id, escrow.escrow_id, row.dialect)
    reason = f"Kubernetes Job {job.ref} failed (uid {job.uid})"
    return DisputeEscrow(
        row.agent_id, escrow.escrow_id, reason, dialect=row.dialect, stream_id=row.stream_id
    )


def verdict_of(end: JobEnd, outcome: Outcome, what: str = "") -> Verdict:
    """The annotation an :class:`Outcome` of the session maps to (``what``: the escrow and
    agent, for the message)."""
    done = contract.RELEASED if end is JobEnd.COMPLETE else contract.DISPUTED
    message = outcome.message or outcome.status.value
    if outcome.status is Status.DONE:
        replayed = " (replayed from the journal: nothing sent again)" if outcome.replayed else ""
        return Verdict(done, f"{done} {what}{replayed}".replace("  ", " "), outcome.key)
    if outcome.status is Status.UNKNOWN:
        return Verdict(contract.UNKNOWN, message, outcome.key)
    if outcome.reason in RETRY_LATER:
        return _retry(message)
    if outcome.status is Status.REFUSED:
        slug = REFUSAL_SLUGS.get(outcome.reason or "", "refused")
        return Verdict(contract.refused(slug), message, outcome.key)
    if outcome.status is Status.USAGE:
        return Verdict(contract.refused("invalid"), message, outcome.key)
    if outcome.status is Status.FAILED and outcome.result is not None:
        return Verdict(contract.failed("server"), message, outcome.key)
    return _retry(message)  # a failure before anything was sent that names no refusal


class JobOperator:
    """Handles one Job object at a time against one :class:`OpsSession`."""

    def __init__(
        self, ops: OpsSession, api: BatchApi, namespace: str, *, resync_s: float = 60.0
    ) -> None:
        self.ops = ops
        self.api = api
        self.namespace = namespace
        self.resync_s = resync_s
        self.settled: dict[str, str] = {}
        """Job uid -> the final outcome written in this run (later events are skipped)."""
        self.not_before: dict[str, float] = {}
        """Job uid -> when (monotonic) a Job that ended unknown or was left may be tried again:
        half a resync on, so the next listing retries it but the event our own ``unknown``
        annotation causes does not (no loop of reconciliations while a service is down)."""

    async def handle(self, obj: JsonObject) -> Verdict | None:
        """Act on one Job as a watch event showed it; ``None`` when there was nothing to do."""
        job = contract.job_info(obj)
        if job is None:
            return None
        what = contract.step(job)
        if what is not Step.ACT or job.uid in self.settled:
            return None
        if time.monotonic() < self.not_before.get(job.uid, 0.0):
            return None
        assert job.end is not None
        verdict = await self._settle(job, job.end)
        if verdict.retry or not contract.is_final(verdict.outcome):
            self.not_before[job.uid] = time.monotonic() + self.resync_s / 2
        else:
            self.not_before.pop(job.uid, None)
        fields = {
            "job": job.ref,
            "uid": job.uid,
            "ended": job.end.value,
            "escrow_id": job.escrow_id,
            "outcome": verdict.outcome or None,
            "key": verdict.key,
            "why": verdict.message,
        }
        if verdict.retry:
            log.warning("job left for the next resync", extra={"fields": fields})
            return verdict
        try:
            await asyncio.to_thread(
                patch_annotations,
                self.api,
                job.namespace,
                job.name,
                job.uid,
                contract.outcome_annotations(verdict.outcome, verdict.key, verdict.message),
            )
        except Exception as exc:
            fields["error"] = f"{type(exc).__name__}: {exc}"[:500]
            log.warning(
                "annotation not written; retried at the next resync", extra={"fields": fields}
            )
            return verdict
        if contract.is_final(verdict.outcome):
            self.settled[job.uid] = verdict.outcome
        level = (
            logging.INFO
            if verdict.outcome in (contract.RELEASED, contract.DISPUTED)
            else (logging.WARNING)
        )
        log.log(level, "job settled", extra={"fields": fields})
        return verdict

    async def _settle(self, job: JobInfo, end: JobEnd) -> Verdict:
        escrow_id = job.escrow_id
        problem = contract.escrow_id_problem(escrow_id)
        if problem is not None or escrow_id is None:
            return Verdict(contract.refused("bad-escrow-id"), problem or "no escrow id")
        key = contract.idempotency_key(job, end)
        journaled = self._journaled(key, escrow_id)
        if journaled is not None:
            return await self._run(end, journaled, key, escrow_id)
        if job.agent is not None:
            try:
                self.ops.agent(job.agent)
            except OpsError:
                return Verdict(
                    contract.refused("unknown-agent"),
                    f"no configured agent has the id or label {job.agent!r}"
                    " (or more than one has that label)",
                )
        try:
            row = await self.ops.find_escrow(escrow_id, job.agent)
        except OpsError as exc:
            if exc.status is Status.FAILED:
                return _retry(str(exc))  # a read failed: try again
            return Verdict(
                contract.refused("not-a-party"),
                f"no fleet agent{' ' + job.agent if job.agent else ''} is a party of escrow "
                f"{escrow_id}",
            )
        intent = intent_for(job, end, row)
        if isinstance(intent, Verdict):
            return intent
        return await self._run(end, intent, key, escrow_id)

    async def _run(
        self, end: JobEnd, intent: ReleaseEscrow | DisputeEscrow, key: str, escrow_id: str
    ) -> Verdict:
        try:
            outcome = await self.ops.run(COMMAND, intent, idempotency_key=key)
        except OpsError as exc:
            return Verdict(contract.refused("invalid"), str(exc))
        return verdict_of(end, outcome, f"escrow {escrow_id} by agent {intent.agent_id}")

    def _journaled(self, key: str, escrow_id: str) -> ReleaseEscrow | DisputeEscrow | None:
        """The intent this Job's key already journaled (a restart, a replayed event), if any.
        It is replayed without reading the escrow first, so what is written is what was done,
        whatever the escrow looks like now (only the kind and the agent matter to a replay)."""
        if not self.ops.desk.journal_exists():
            return None
        rows = self.ops.desk.engine.journal.rows(intent_key(key))
        if not rows:
            return None
        first = rows[0]
        if first.kind is ActionKind.RELEASE_ESCROW:
            return ReleaseEscrow(first.agent_id, escrow_id, Dialect.CLASSIC)
        if first.kind is ActionKind.DISPUTE_ESCROW:
            return DisputeEscrow(
                first.agent_id, escrow_id, "(journaled)", stream_id=first.stream_id
            )
        return None


async def run_operator(
    config: Config,
    api: BatchApi,
    namespace: str,
    *,
    resync_s: float = 60.0,
    stop: asyncio.Event | None = None,
    signals: bool = True,
) -> int:
    """Watch ``namespace`` until SIGTERM or SIGINT (``signals``) or ``stop`` is set; returns the
    exit code. A signal lets the Job in hand finish (its request journaled and settled or
    unknown) before the loop ends."""
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    handled = (signal.SIGTERM, signal.SIGINT) if signals else ()
    for sig in handled:
        loop.add_signal_handler(sig, stop.set)
    queue: asyncio.Queue[JsonObject] = asyncio.Queue()

    def emit(obj: JsonObject) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, obj)
        except RuntimeError:
            pass  # the loop is closing: the process is on its way out

    watcher = JobWatch(api, namespace, emit, resync_s=resync_s)
    fields: Mapping[str, object] = {"namespace": namespace, "resync_s": resync_s}
    log.info("watching jobs", extra={"fields": dict(fields)})
    async with OpsSession(config, operator=COMMAND) as ops:
        operator = JobOperator(ops, api, namespace, resync_s=resync_s)
        watcher.start()
        try:
            while not stop.is_set():
                got = asyncio.ensure_future(queue.get())
                stopped = asyncio.ensure_future(stop.wait())
                done, _ = await asyncio.wait({got, stopped}, return_when=asyncio.FIRST_COMPLETED)
                if got not in done:
                    got.cancel()
                    break
                stopped.cancel()
                try:
                    await operator.handle(got.result())  # a signal waits for the Job in hand
                except Exception:
                    log.exception("job not handled; retried at the next resync")
        finally:
            watcher.stop()
            for sig in handled:
                loop.remove_signal_handler(sig)
    log.info("stopped", extra={"fields": {"namespace": namespace}})
    return 0


def main(
    config: Config, *, namespace: str | None, kube_url: str | None, resync_s: float = 60.0
) -> int:
    """``pf-tui watch-jobs``: JSON-line logs on stderr, the watch, the loop; the exit code."""
    from pf_tui.daemon.logs import JsonFormatter, setup_logging
    from pf_tui.jobs.kube import KubeConfigError, build_api, default_namespace
    from pf_tui.wiring import config_redactor

    setup_logging(config)
    # The Kubernetes client's own warnings, in the same JSON lines (never its debug output,
    # which can carry request headers).
    for name in ("kubernetes", "urllib3"):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter(config_redactor(config)))
        other = logging.getLogger(name)
        other.handlers = [handler]
        other.setLevel(logging.WARNING)
        other.propagate = False
    try:
        api = build_api(kube_url)
    except KubeConfigError as exc:
        log.error("no kubernetes", extra={"fields": {"error": str(exc)}})
        return 2
    return asyncio.run(
        run_operator(config, api, namespace or default_namespace(), resync_s=resync_s)
    )
