"""How the outbox marks a notification it gave up on, for its readers as well as for itself.

Kept apart from :mod:`pf_tui.core.notify.outbox` (which builds on the alert engine's events): the
console reads the dead letters (the Alerts tab says which receiver refused what) and starts
without importing the alert engine (docs/performance.md, "Start-up").
"""

from __future__ import annotations

__all__ = ["DEAD_AT", "dead_reason"]

DEAD_AT = 9.0e18
"""``next_attempt_at`` of a dead-lettered row: never due again."""


def dead_reason(last_error: str) -> str:
    """The reason code of a dead-lettered row's ``last_error`` (``dead: http_400: ...``).

    Rows dead-lettered before reason codes were kept read as ``refused``.
    """
    head, _, rest = last_error.removeprefix("dead: ").partition(": ")
    if rest and head and head.replace("_", "").isalnum() and len(head) <= 32:
        return head
    return "refused"
