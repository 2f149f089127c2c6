"""The scripted commands: ``pf-tui escrow``, ``stream``, ``faucet claim`` and ``payroll``.

Each builds an intent from its flags and hands it to :class:`~pf_tui.ops.session.OpsSession`,
the same money core the console uses. On a terminal a money command shows the console's preview
and asks; off a terminal it needs ``--yes``. ``--json`` prints one object of the schema in
docs/cli.md; the exit code says how it ended (:mod:`pf_tui.ops.outcome`). Only ``argparse`` is
imported with this module (``pf-tui --help`` stays quick); each command imports what it runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, TextIO, TypeVar

if TYPE_CHECKING:
    from pf_tui.clock import Clock
    from pf_tui.config import Config
    from pf_tui.core.money.types import ActionPreview, Intent
    from pf_tui.ops.outcome import Outcome
    from pf_tui.ops.session import Confirm, OpsSession

    Handler = Callable[[OpsSession, argparse.Namespace, "Io", str], Awaitable[int]]

_P = TypeVar("_P", bound=argparse.ArgumentParser)

COMMANDS = ("escrow", "stream", "faucet", "payroll")
"""The top-level subcommands this module adds."""

_EXIT_CODES = """\
exit codes: 0 done (also: nothing to do, a faucet that is not claimable, a dry run)
            1 failed (the server refused it, or a read failed)
            2 bad usage or config
            4 refused before sending: a limit, the brake, read-only, an action in flight
            5 sent, outcome unknown: rerun with the same --idempotency-key to reconcile
--json prints one object (schema pf-tui/1, docs/cli.md); money is a decimal string.
"""


@dataclass
class Io:
    """Where a command writes and reads; tests pass their own."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    terminal: bool | None = None
    """Whether a person can answer a prompt (default: stdin and stderr are terminals)."""

    @property
    def interactive(self) -> bool:
        """Whether to ask (a terminal on stdin and stderr)."""
        if self.terminal is not None:
            return self.terminal
        return self.stdin.isatty() and self.err.isatty()


# ---- the parsers ---------------------------------------------------------------------------


def _common(
    p: argparse.ArgumentParser, add_config: Callable[[argparse.ArgumentParser], None]
) -> None:
    add_config(p)
    p.add_argument("--json", action="store_true", help="print one JSON object (docs/cli.md)")


def _money(p: argparse.ArgumentParser) -> None:
    p.add_argument("--yes", action="store_true", help="send without asking (needed off a terminal)")
    p.add_argument(
        "--idempotency-key",
        metavar="KEY",
        help="the same KEY on a rerun reuses its action: nothing is sent twice",
    )
    p.add_argument("--dry-run", action="store_true", help="show the preview only; send nothing")


def _shard(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--shard", metavar="I/N", help="only the agents of shard I of N (0-based; see --help)"
    )


def _group(
    sub: argparse._SubParsersAction[_P], name: str, help_: str, description: str | None
) -> argparse._SubParsersAction[_P]:
    """A command whose actions are subcommands (``escrow``, ``stream``, ``faucet``)."""
    group = sub.add_parser(
        name,
        help=help_,
        description=description,
        epilog=_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return group.add_subparsers(dest="action", metavar="ACTION", required=True)


def _command(
    sub: argparse._SubParsersAction[_P],
    name: str,
    help_: str,
    add_config: Callable[[argparse.ArgumentParser], None],
    *,
    money: bool = False,
) -> argparse.ArgumentParser:
    """One subcommand: its help, the exit codes, ``--config`` and ``--json``; a money command's
    ``--yes``, ``--idempotency-key`` and ``--dry-run`` too."""
    p = sub.add_parser(
        name, help=help_, epilog=_EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    _common(p, add_config)
    if money:
        _money(p)
    return p


def _escrow_action(
    sub: argparse._SubParsersAction[_P],
    name: str,
    help_: str,
    add_config: Callable[[argparse.ArgumentParser], None],
    role: str,
) -> argparse.ArgumentParser:
    """A money action on one escrow by id, acted on by ``--agent`` (default: the escrow's
    ``role`` when it is in the fleet)."""
    p = _command(sub, name, help_, add_config, money=True)
    p.add_argument("escrow_id")
    p.add_argument("--agent", help=role)
    return p


def add_parsers(
    sub: argparse._SubParsersAction[_P],
    add_config: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Add ``escrow``, ``stream``, ``faucet`` and ``payroll`` to ``pf-tui``'s subcommands."""
    fmt = argparse.RawDescriptionHelpFormatter
    creator = "the creator (default: the fleet's creator of the escrow)"

    esub = _group(
        sub,
        "escrow",
        "list, show and act on the fleet's escrows",
        "The fleet's escrows: read them, or act on one by id.",
    )
    p = _command(esub, "list", "every escrow of the fleet (or one agent)", add_config)
    _shard(p)
    p.add_argument("--agent", help="one agent, by label or id")
    p.add_argument(
        "--status",
        action="append",
        choices=("funded", "completed", "released", "disputed", "refunded", "closed"),
        help="only escrows in this status (repeatable)",
    )
    p = _command(esub, "show", "one escrow by id", add_config)
    p.add_argument("escrow_id")
    p.add_argument("--agent", help="look only among this agent's escrows (label or id)")

    p = _command(esub, "dispute", "dispute an escrow (either party)", add_config, money=True)
    p.add_argument("escrow_id")
    p.add_argument("--reason", required=True, help="why, in at least 10 characters")
    p.add_argument("--agent", help="the party that disputes (default: the fleet's party)")

    _escrow_action(
        esub,
        "complete",
        "as the payee, mark a classic escrow's work done",
        add_config,
        "the payee (default: the fleet's payee of the escrow)",
    )

    p = _command(
        esub,
        "create",
        "fund an escrow from an agent to a payee (no stream)",
        add_config,
        money=True,
    )
    p.add_argument("--agent", required=True, help="the creator, who funds it (label or id)")
    p.add_argument("--payee", required=True, help="a configured agent, or any ag_ id")
    p.add_argument("--amount", required=True, help="dollars to lock (at least 0.10)")
    p.add_argument(
        "--dialect",
        choices=("classic", "streaming"),
        help="classic (whole releases; a timeout refunds you) or streaming (partial releases; "
        "a timeout pays the payee); default: [api] escrow_dialect, classic under auto",
    )
    p.add_argument("--memo", default="", help="the escrow's description")
    p.add_argument("--timeout-hours", type=int, default=24, help="1..720 (default 24)")

    _escrow_action(
        esub,
        "release",
        "as its creator, release an escrow in full to its payee",
        add_config,
        creator,
    )

    p = _command(
        esub,
        "release-partial",
        "release part of a streaming escrow (or of a pf-tui stream's)",
        add_config,
        money=True,
    )
    p.add_argument("escrow_id")
    p.add_argument("--amount", required=True, help="dollars to release (gross, at most 6 dp)")
    p.add_argument("--agent", help=creator)

    p = _escrow_action(
        esub,
        "close",
        "close a streaming escrow (a pf-tui stream's: pays what is owed, refunds the rest)",
        add_config,
        creator,
    )
    _close_flags(p)

    ssub = _group(
        sub,
        "stream",
        "open and run pf-tui's payment streams",
        "pf-tui's payment streams (docs/api.md, Streams in pf-tui).",
    )
    p = _command(ssub, "open", "open a stream from an agent to a payee", add_config, money=True)
    p.add_argument("--agent", required=True, help="the payer, by label or id")
    p.add_argument("--payee", required=True, help="the payee: a configured agent, or any ag_ id")
    p.add_argument("--rate", required=True, help="dollars per unit")
    p.add_argument("--unit", required=True, choices=("call", "hour", "data_point"))
    p.add_argument("--budget", required=True, help="dollars in all")
    p.add_argument("--batch", help="tranche mode: dollars funded ahead (default: the budget)")
    p.add_argument("--mode", choices=("native", "tranche"), help="default: what the dialect allows")
    p.add_argument("--memo", default="", help="a note kept with the escrow")
    p.add_argument("--timeout-hours", type=int, default=24, help="1..720 (default 24)")

    p = _command(ssub, "release", "pay what a stream owes", add_config, money=True)
    p.add_argument("stream_id")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--count", help="units delivered (per-call and per-data-point streams)")
    group.add_argument("--amount", help="an explicit amount instead of what is owed")

    for name, words in (("pause", "stop a per-hour stream accruing"), ("resume", "accrue again")):
        p = _command(ssub, name, f"{words} (nothing is sent)", add_config)
        p.add_argument("stream_id")

    p = _command(ssub, "close", "pay what is owed and stop", add_config, money=True)
    p.add_argument("stream_id")
    _close_flags(p)

    fsub = _group(sub, "faucet", "claim the faucet's $1 for a new agent", None)
    p = _command(
        fsub,
        "claim",
        "claim for one agent; 'not claimable' (409, 429, 403) exits 0 with its reason",
        add_config,
        money=True,
    )
    p.add_argument("--agent", required=True, help="the agent, by label or id")
    p.add_argument("--referral-code", help="a referral code to claim with")

    payroll = sub.add_parser(
        "payroll",
        help="release every escrow the fleet created that is older than a duration",
        description=(
            "Release, as their creators, the fleet's funded or completed escrows older than "
            "--older-than (escrows that back a pf-tui stream are skipped: the stream pays them). "
            "Each release's idempotency key is the escrow id and the UTC hour, so reruns within "
            "the hour release nothing twice; what a lost reply left unknown is reconciled first."
        ),
        epilog=_EXIT_CODES,
        formatter_class=fmt,
    )
    _common(payroll, add_config)
    _shard(payroll)
    payroll.add_argument(
        "--older-than", required=True, metavar="DURATION", help="e.g. 50m, 1h, 2h30m"
    )
    payroll.add_argument("--agent", help="only this creator, by label or id")
    payroll.add_argument(
        "--yes", action="store_true", help="send without asking (needed off a terminal)"
    )
    payroll.add_argument("--dry-run", action="store_true", help="list and preview; send nothing")


def _close_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--count", help="units delivered since the last release (counted streams)")
    p.add_argument(
        "--unearned",
        choices=("overpay", "dispute", "leave"),
        help="tranche streams: what to do with a funded tranche not earned in full",
    )
    p.add_argument("--reason", default="", help="with --unearned dispute: why")


# ---- running ----------------------------------------------------------------------------------


def run_command(
    args: argparse.Namespace,
    config: Config,
    *,
    io: Io | None = None,
    read_only: bool = False,
    clock: Clock | None = None,
) -> int:
    """Run one scripted command with ``config``; the process exit code. ``clock``: tests'."""
    import asyncio

    return asyncio.run(_run(args, config, io or Io(), read_only, clock))


async def _run(
    args: argparse.Namespace, config: Config, io: Io, read_only: bool, clock: Clock | None
) -> int:
    from pf_tui.clock import SYSTEM_CLOCK
    from pf_tui.ops.outcome import OpsError, Outcome
    from pf_tui.ops.session import OpsSession

    command = f"{args.command} {getattr(args, 'action', '') or ''}".strip()
    try:
        session = OpsSession(
            config, read_only=read_only, operator="cli", clock=clock or SYSTEM_CLOCK
        )
        async with session as ops:
            handler = _HANDLERS[(args.command, getattr(args, "action", None))]
            return await handler(ops, args, io, command)
    except OpsError as exc:
        outcome = Outcome(command, exc.status, str(exc))
        return _report(outcome, args, io)


def _report(outcome: Outcome, args: argparse.Namespace, io: Io) -> int:
    from pf_tui.ops.outcome import Status
    from pf_tui.ops.output import outcome_lines, write_json

    if args.json:
        write_json(io.out, outcome.to_json())
    else:
        lines = outcome_lines(outcome)
        ok = outcome.status in (Status.DONE, Status.NOT_CLAIMABLE, Status.PREVIEW, Status.NOTHING)
        (io.out if ok else io.err).write("\n".join(lines) + "\n")
    return outcome.exit_code


def _need_yes(args: argparse.Namespace, io: Io) -> None:
    """Off a terminal a money command needs ``--yes`` (a dry run needs nothing)."""
    from pf_tui.ops.outcome import OpsError

    if not args.yes and not args.dry_run and not io.interactive:
        raise OpsError("not a terminal, so nothing can be confirmed: add --yes to send")


def _confirm(ops: OpsSession, args: argparse.Namespace, io: Io) -> Confirm | None:
    """The console's preview and question, on the terminal (``None`` with ``--yes``)."""
    if args.yes:
        return None

    async def ask(preview: ActionPreview) -> bool:
        from pf_tui.ops.preview import preview_lines
        from pf_tui.usd import format_usd6

        io.err.write("\n".join(preview_lines(preview)) + "\n\n")
        if preview.needs_choice:
            io.err.write("choose --unearned overpay, dispute or leave first\n")
            return False
        if ops.desk.needs_typed_confirm(preview.amount):
            io.err.write(f"Type the amount ({format_usd6(preview.amount)}) to send it: ")
            io.err.flush()
            typed = io.stdin.readline().strip().lstrip("$").replace(",", "")
            try:
                return Decimal(typed) == preview.amount
            except InvalidOperation:
                return False
        io.err.write("Send? [y/N] ")
        io.err.flush()
        return io.stdin.readline().strip().lower() in ("y", "yes")

    return ask


async def _money_run(
    ops: OpsSession, args: argparse.Namespace, io: Io, command: str, intent: Intent
) -> int:
    _need_yes(args, io)
    outcome = await ops.run(
        command,
        intent,
        idempotency_key=args.idempotency_key,
        confirm=_confirm(ops, args, io),
        dry_run=args.dry_run,
    )
    if args.dry_run and not args.json and outcome.preview is not None:
        from pf_tui.ops.preview import preview_lines

        io.out.write("\n".join(preview_lines(outcome.preview)) + "\n\n")
    return _report(outcome, args, io)


# ---- escrow ------------------------------------------------------------------------------------


def _labels(ops: OpsSession) -> dict[str, str]:
    return {a.id: a.display_name for a in ops.agents}


async def _escrow_list(ops: OpsSession, args: argparse.Namespace, io: Io, command: str) -> int:
    from pf_tui.ops.outcome import Status
    from pf_tui.ops.output import document, escrow_json, escrow_table, write_json
    from pf_tui.shard import parse_shard

    shard = None if args.shard is None else parse_shard(args.shard)
    fleet = await ops.escrows(ops.select(args.agent, shard))
    rows = [r for r in fleet.rows if not args.status or r.escrow.status.value in args.status]
    now = ops.clock.now()
    status = Status.FAILED if fleet.errors else Status.DONE
    if args.json:
        write_json(
            io.out,
            document(
                command,
                status,
                escrows=[escrow_json(r, now) for r in rows],
                errors=fleet.errors,
            ),
        )
    else:
        io.out.write("\n".join(escrow_table(rows, _labels(ops), now)) + "\n")
        for agent_id, error in fleet.errors.items():
            io.err.write(f"pf-tui: the escrows of {agent_id} could not be read: {error}\n")
    return status.exit_code


async def _escrow_show(ops: OpsSession, args: argparse.Namespace, io: Io, command: str) -> int:
    from pf_tui.ops.outcome import Status
    from pf_tui.ops.output import document, escrow_detail, escrow_json, write_json

    row = await ops.find_escrow(args.escrow_id, args.agent)
    now = ops.clock.now()
    if args.json:
        write_json(io.out, document(command, Status.DONE, escrow=escrow_json(row, now)))
    else:
        io.out.write("\n".join(escrow_detail(row, _labels(ops), now)) + "\n")
    return 0


async def _escrow_dispute(ops: OpsSession, args: argparse.Namespace, io: Io, command: str) -> int:
    from pf_tui.core.money.types import DisputeEscrow

    row = await ops.find_escrow(args.escrow_id, args.agent)
    agent_id = _acting(ops, args, row.agent_id, "party")
    intent = DisputeEscrow(
        agent_id, row.escrow.escrow_id, args.reason, dialect=row.dialect, stream_id=row.stream_id
    )
    return await _money_run(ops, args, io, command, intent)


async def _escrow_complete(ops: OpsSession, args: argparse.Namespace, io: Io, command: str) -> int:
    from pf_tui.core.money.types import MarkComplete

    row = await ops.find_escrow(args.escrow_id, args.agent)
    agent_id = _acting(ops, args, row.escrow.counterparty_id, "payee")
    intent = MarkComplete(agent_id, row.escrow.escrow_id, dialect=row.dialect)
    return await _money_run(ops, args, io, command, intent)


def _acting(ops: OpsSession, args: argparse.Namespace, default: str | None, role: str) -> str:
    """The agent that acts: ``--agent``, else the escrow's ``role`` when it is in the fleet."""
    from pf_tui.ops.outcome import OpsError

    if args.agent:
        return ops.agent(args.agent).id
    if default and default in {a.id for a in ops.agents}:
        return default
    raise OpsError(f"escrow {args.escrow_id}: its {role} is not a configured agent; give --agent")


def _live_stream(ops: OpsSession, escrow_id: str) -> str | None:
    """The live pf-tui stream an escrow backs (its actions go through the stream), if any."""
    for stream in ops.streams():
        if stream.escrow_id == escrow_id and not stream.state.final:
            return stream.id
    return None


async def _escrow_create(ops: OpsSession, args: argparse.Namespace, io: Io, command: str) -> int:
    from pf_tui.api.models import Dialect
    from pf_tui.core.money.types import CreateEscrow

    configured = ops.config.api.escrow_dialect
    dialect = args.dialect or ("streaming" if configured == "streaming" else "classic")
    intent = CreateEscrow(
        agent_id=ops.agent(args.agent).id,
        payee=ops.party(args.payee),
        amount=args.amount,
        dialect=Dialect(dialect),
        memo=args.memo,
        timeout_hours=args.timeout_hours,
    )
    return await _money_run(ops, args, io, command, intent)


async def _escrow_release(ops: OpsSession, args: argparse.Namespace, io: Io, command: str) -> int:
    from pf_tui.core.money.types import ReleaseEscrow

    row = await ops.find_escrow(args.escrow_id, args.agent)
    agent_id = _acting(ops, args, row.escrow.creator_id, "creator")
    intent = ReleaseEscrow(agent_id, row.escrow.escrow_id, row.dialect)
    return await _money_run(ops, args, io, command, intent)


async def _escrow_release_partial(
    ops: OpsSession, args: argparse.Namespace, io: Io, command: str
) -> int:
    from pf_tui.core.money.types import ReleaseEscrow, ReleasePartial

    stream_id = _live_stream(ops, args.escrow_id)
    if stream_id is not None:
        intent: Intent = ReleasePartial(stream_id, amount=args.amount)
    else:
        row = await ops.find_escrow(args.escrow_id, args.agent)
        agent_id = _acting(ops, args, row.escrow.creator_id, "creator")
        intent = ReleaseEscrow(agent_id, row.escrow.escrow_id, row.dialect, amount=args.amount)
    return await _money_run(ops, args, io, command, intent)


async def _escrow_close(ops: OpsSession, args: argparse.Namespace, io: Io, command: str) -> int:
    from pf_tui.core.money.types import CloseEscrow

    stream_id = _live_stream(ops, args.escrow_id)
    if stream_id is not None:
        return await _money_run(ops, args, io, command, _close_intent(stream_id, args))
    row = await ops.find_escrow(args.escrow_id, args.agent)
    agent_id = _acting(ops, args, row.escrow.creator_id, "creator")
    intent = CloseEscrow(agent_id, row.escrow.escrow_id, dialect=row.dialect)
    return await _money_run(ops, args, io, command, intent)


# ---- stream ------------------------------------------------------------------------------------


def _close_intent(stream_id: str, args: argparse.Namespace) -> Intent:
    from pf_tui.core.money.types import CloseChoice, CloseStream

    return CloseStream(
        stream_id,
        count=args.count,
        unearned=None if args.unearned is None else CloseChoice(args.unearned),
        reason=args.reason,
    )


async def _stream_open(ops: OpsSession, args: argparse.Namespace, io: Io, command: str) -> int:
    from pf_tui.core.money.types import OpenStream, StreamMode, StreamUnit

    mode = StreamMode(args.mode) if args.mode else ops.desk.modes()[0]
    intent = OpenStream(
        agent_id=ops.agent(args.agent).id,
        payee=ops.party(args.payee),
        rate=args.rate,
        unit=StreamUnit(args.unit),
        budget=args.budget,
        batch=args.batch or args.budget,
        memo=args.memo,
        mode=mode,
        timeout_hours=args.timeout_hours,
    )
    return await _money_run(ops, args, io, command, intent)


async def _stream_release(ops: OpsSession, args: argparse.Namespace, io: Io, command: str) -> int:
    from pf_tui.core.money.types import ReleasePartial

    stream = ops.stream(args.stream_id)
    intent = ReleasePartial(stream.id, count=args.count, amount=args.amount)
    return await _money_run(ops, args, io, command, intent)


async def _stream_close(ops: OpsSession, args: argparse.Namespace, io: Io, command: str) -> int:
    stream = ops.stream(args.stream_id)
    return await _money_run(ops, args, io, command, _close_intent(stream.id, args))


async def _stream_pause(ops: OpsSession, args: argparse.Namespace, io: Io, command: str) -> int:
    stream = ops.stream(args.stream_id)
    engine = ops.desk.engine
    change = engine.pause if args.action == "pause" else engine.resume
    return _report(ops.local(command, lambda: change(stream.id)), args, io)


# ---- faucet ------------------------------------------------------------------------------------


async def _faucet_claim(ops: OpsSession, args: argparse.Namespace, io: Io, command: str) -> int:
    from pf_tui.core.money.types import ClaimFaucet

    intent = ClaimFaucet(ops.agent(args.agent).id, args.referral_code or None)
    return await _money_run(ops, args, io, command, intent)


# ---- payroll -----------------------------------------------------------------------------------

_RANK = {"done": 0, "preview": 0, "nothing": 0, "not_claimable": 0, "cancelled": 1, "failed": 1}
_RANK.update(usage=1, refused=2, unknown=3)


async def _payroll(ops: OpsSession, args: argparse.Namespace, io: Io, command: str) -> int:
    from pf_tui.api.models import EscrowStatus
    from pf_tui.config.schema import parse_duration
    from pf_tui.core.money.types import ReleaseEscrow
    from pf_tui.ops.outcome import OpsError, Status
    from pf_tui.ops.output import age_text, document, outcome_lines, write_json
    from pf_tui.ops.session import payroll_key
    from pf_tui.shard import parse_shard
    from pf_tui.text import escape_text
    from pf_tui.usd import format_usd6

    older = parse_duration(args.older_than)
    if older is None or older <= 0:
        raise OpsError(f"--older-than {args.older_than!r}: a duration like 50m, 1h or 2h30m")
    args.idempotency_key = None
    _need_yes(args, io)
    if not args.dry_run:
        await ops.desk.reconcile()  # what an earlier run left unknown settles first, same keys
    shard = None if args.shard is None else parse_shard(args.shard)
    fleet = await ops.escrows(ops.select(args.agent, shard))
    now = ops.clock.now()
    due, skipped = [], []
    for row in fleet.rows:
        e = row.escrow
        if row.role != "creator" or e.status not in (EscrowStatus.FUNDED, EscrowStatus.COMPLETED):
            continue
        if e.created_at is None or now - e.created_at.timestamp() < older:
            continue
        stream_id = _live_stream(ops, e.escrow_id)
        if stream_id is not None:
            skipped.append(
                {
                    "escrow_id": escape_text(e.escrow_id),
                    "agent_id": row.agent_id,
                    "reason": f"backs stream {stream_id}: the stream pays it",
                }
            )
            continue
        due.append(row)
    outcomes = []
    confirm = _confirm(ops, args, io)
    for row in due:
        e = row.escrow
        outcomes.append(
            await ops.run(
                command,
                ReleaseEscrow(row.agent_id, e.escrow_id, row.dialect),
                idempotency_key=payroll_key(e.escrow_id, now),
                confirm=confirm,
                dry_run=args.dry_run,
            )
        )
    worst = max((o.status.value for o in outcomes), key=lambda v: _RANK[v], default="nothing")
    if fleet.errors and _RANK[worst] < 1:
        worst = "failed"
    status = Status.FAILED if worst in ("usage", "cancelled") else Status(worst)
    if worst in ("done", "preview") and not any(o.status is Status.DONE for o in outcomes):
        status = Status.PREVIEW if args.dry_run else Status.NOTHING
    if args.json:
        write_json(
            io.out,
            document(
                command,
                status,
                older_than_s=int(older),
                hour=payroll_key("", now).rsplit("/", 1)[1],
                due=len(due),
                actions=[o.to_json() for o in outcomes],
                skipped=skipped,
                errors=fleet.errors,
            ),
        )
    else:
        labels = _labels(ops)
        io.out.write(f"payroll: {len(due)} escrow(s) older than {age_text(older)} due\n")
        for row, outcome in zip(due, outcomes, strict=True):
            e = row.escrow
            age = None if e.created_at is None else now - e.created_at.timestamp()
            io.out.write(
                f"  {escape_text(e.escrow_id)}  {escape_text(labels.get(row.agent_id, ''))}  "
                f"{format_usd6(e.remaining if e.remaining is not None else e.amount)}  "
                f"age {age_text(age)}  {outcome.status.value}\n"
            )
            if outcome.status not in (Status.DONE, Status.PREVIEW):
                io.out.write("\n".join("    " + line for line in outcome_lines(outcome)) + "\n")
        for item in skipped:
            io.out.write(f"  {item['escrow_id']}  skipped: {item['reason']}\n")
        for agent_id, error in fleet.errors.items():
            io.err.write(f"pf-tui: the escrows of {agent_id} could not be read: {error}\n")
    return status.exit_code


_HANDLERS: dict[tuple[str, str | None], Handler] = {
    ("escrow", "list"): _escrow_list,
    ("escrow", "show"): _escrow_show,
    ("escrow", "dispute"): _escrow_dispute,
    ("escrow", "complete"): _escrow_complete,
    ("escrow", "release"): _escrow_release,
    ("escrow", "create"): _escrow_create,
    ("escrow", "release-partial"): _escrow_release_partial,
    ("escrow", "close"): _escrow_close,
    ("stream", "open"): _stream_open,
    ("stream", "release"): _stream_release,
    ("stream", "pause"): _stream_pause,
    ("stream", "resume"): _stream_pause,
    ("stream", "close"): _stream_close,
    ("faucet", "claim"): _faucet_claim,
    ("payroll", None): _payroll,
}
