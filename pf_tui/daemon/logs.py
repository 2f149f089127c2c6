"""The daemon's logs: JSON lines on stderr, every configured secret masked on the way out.

Every record is one JSON object (``ts``, ``level``, ``logger``, ``msg`` and the record's
``fields``). A filter replaces any configured secret value in the message and the fields, belt and
braces: nothing should put a secret in a record in the first place.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Sequence
from typing import TextIO

from pf_tui.config import Config
from pf_tui.secret import Secret
from pf_tui.wiring import config_secrets

log = logging.getLogger("pf_tui.daemon")

_DAEMON_HANDLER = "_pf_daemon"
"""Attribute that marks the handler :func:`setup_logging` installed (replaced on a second call)."""


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``ts``, ``level``, ``logger``, ``msg``, then its fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            data.update(extra)
        if record.exc_info and record.exc_info[1] is not None:
            data["error"] = f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
        return json.dumps(data, default=str, ensure_ascii=False)


class MaskSecrets(logging.Filter):
    """Replaces any configured secret value in a formatted record (belt and braces)."""

    def __init__(self, secrets: Iterable[Secret]) -> None:
        super().__init__()
        self.values = sorted(
            {s.reveal() for s in secrets if s and len(s.reveal()) >= 4}, key=len, reverse=True
        )

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        fields = getattr(record, "fields", None)
        blob = text + (json.dumps(fields, default=str) if fields else "")
        if any(v in blob for v in self.values):
            record.msg, record.args = mask(text, self.values), ()
            if isinstance(fields, dict):
                record.fields = json.loads(mask(json.dumps(fields, default=str), self.values))
        return True


def mask(text: str, values: Sequence[str]) -> str:
    """``text`` with every one of ``values`` replaced by ``<secret>``."""
    for v in values:
        text = text.replace(v, "<secret>")
    return text


def setup_logging(config: Config, stream: TextIO | None = None) -> logging.Handler:
    """JSON-lines logging on stderr with every configured secret masked; returns the handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(MaskSecrets(config_secrets(config)))
    root = logging.getLogger("pf_tui")
    root.handlers = [h for h in root.handlers if not getattr(h, _DAEMON_HANDLER, False)]
    setattr(handler, _DAEMON_HANDLER, True)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    root.propagate = False
    return handler


def log_event(level: int, msg: str, **fields: object) -> None:
    """Log ``msg`` with structured ``fields`` (they become keys of the JSON line)."""
    log.log(level, msg, extra={"fields": fields})
