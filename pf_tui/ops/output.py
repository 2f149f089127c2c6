"""What the scripted commands print: plain tables for people, JSON objects for scripts.

Every JSON object has ``schema`` (``pf-tui/1``), ``command``, ``status`` and ``exit_code``
(docs/cli.md). Money is a decimal string, times are ISO 8601 in UTC, and every text that came
from the server or another agent (memos, ids, error bodies) is escaped, in a table and in JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TextIO

from pf_tui import usd
from pf_tui.ops.outcome import SCHEMA, Outcome, Status, money, safe
from pf_tui.ops.session import EscrowRow
from pf_tui.text import escape_text, one_line
from pf_tui.usd import format_usd6


def iso(value: datetime | None) -> str | None:
    """An aware time as ISO 8601 (``None`` stays ``None``)."""
    return None if value is None else value.isoformat()


def escrow_json(row: EscrowRow, now: float) -> dict[str, Any]:
    """One escrow as ``escrow list`` and ``escrow show`` write it (docs/cli.md, "escrow")."""
    e = row.escrow
    created = e.created_at.timestamp() if e.created_at else None
    return {
        "escrow_id": safe(e.escrow_id),
        "status": e.status.value,
        "dialect": row.dialect.value,
        "amount": money(e.amount),
        "released": money(e.released),
        "remaining": money(e.remaining),
        "creator_id": safe(e.creator_id),
        "payee_id": safe(e.counterparty_id),
        "agent_id": safe(row.agent_id),
        "role": row.role,
        "stream_id": safe(row.stream_id),
        "description": safe(e.description),
        "timeout_hours": e.timeout_hours,
        "created_at": iso(e.created_at),
        "auto_release_at": iso(e.auto_release_at),
        "age_s": None if created is None else max(0, round(now - created)),
    }


def document(command: str, status: Status, **fields: Any) -> dict[str, Any]:
    """A JSON object with the fields every scripted command writes first."""
    return {
        "schema": SCHEMA,
        "command": command,
        "status": status.value,
        "exit_code": status.exit_code,
        **fields,
    }


def write_json(out: TextIO, obj: Mapping[str, Any]) -> None:
    """One JSON object on one line (``Decimal`` refused as float: money is already a string)."""
    out.write(usd.dumps(dict(obj)) + "\n")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns two spaces apart (cells are escaped already)."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return lines


def age_text(seconds: float | None) -> str:
    """``42s``, ``17m``, ``3h05m``, ``2d04h``."""
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def escrow_table(rows: Sequence[EscrowRow], labels: Mapping[str, str], now: float) -> list[str]:
    """The human table of ``escrow list``."""
    body = []
    for row in rows:
        e = row.escrow
        created = e.created_at.timestamp() if e.created_at else None
        other = e.counterparty_id if row.role == "creator" else e.creator_id
        body.append(
            [
                escape_text(e.escrow_id),
                e.status.value,
                row.dialect.value,
                format_usd6(e.amount),
                format_usd6(e.remaining),
                escape_text(labels.get(row.agent_id, row.agent_id), limit=40),
                row.role,
                escape_text(labels.get(other or "", other or "-"), limit=40),
                age_text(None if created is None else now - created),
                escape_text(row.stream_id or "-"),
            ]
        )
    headers = [
        "ESCROW",
        "STATUS",
        "DIALECT",
        "AMOUNT",
        "REMAINING",
        "AGENT",
        "ROLE",
        "OTHER PARTY",
        "AGE",
        "STREAM",
    ]
    return table(headers, body)


def escrow_detail(row: EscrowRow, labels: Mapping[str, str], now: float) -> list[str]:
    """The human form of ``escrow show``."""
    data = escrow_json(row, now)
    names = {
        "creator_id": labels.get(row.escrow.creator_id or "", ""),
        "payee_id": labels.get(row.escrow.counterparty_id or "", ""),
        "agent_id": labels.get(row.agent_id, ""),
    }
    lines = []
    for key, value in data.items():
        shown = "-" if value is None else str(value)
        if names.get(key):
            shown += f" ({escape_text(names[key], limit=40)})"
        if key in ("amount", "released", "remaining") and value is not None:
            shown = format_usd6(row.escrow.amount if key == "amount" else getattr(row.escrow, key))
        lines.append(f"{key:<16} {shown}")
    for event in row.escrow.events:
        lines.append(f"{'event':<16} {escape_text(one_line(repr(event)), limit=200)}")
    return lines


def outcome_lines(outcome: Outcome) -> list[str]:
    """The human report of a money command: one status line, then each request's state."""
    data = outcome.to_json()
    head = f"{outcome.status.value}: {outcome.command}"
    what = [str(data[k]) for k in ("kind", "agent_id", "escrow_id", "stream_id") if data.get(k)]
    if what:
        head += " (" + " ".join(what) + ")"
    lines = [head]
    if outcome.message and outcome.message != outcome.status.value:
        lines.append(f"  {escape_text(outcome.message)}")
    if outcome.reason:
        lines.append(f"  reason: {outcome.reason}")
    if outcome.replayed:
        lines.append("  replayed: this idempotency key's action was already journaled")
    if outcome.preview is not None and outcome.status in (Status.DONE, Status.PREVIEW):
        p = outcome.preview
        lines.append(
            f"  amount {format_usd6(p.amount)}  fee {format_usd6(p.fee)}  "
            f"payee nets {format_usd6(p.payee_nets)}"
        )
    for request in data["requests"]:
        line = f"  {request['seq']}. {request['op']} {request['state']}"
        if request["escrow_id"]:
            line += f" {request['escrow_id']}"
        if request["error"]:
            line += f": {request['error']}"
        lines.append(line)
    if outcome.key:
        lines.append(f"  key {outcome.key}")
    return lines
