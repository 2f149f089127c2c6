"""The daemon's logs: JSON lines on stderr, every configured secret masked on the way out.

Every record is one JSON object (``ts``, ``level``, ``logger``, ``msg`` and the record's
``fields``). The formatter masks every secret of the config (each in all its forms:
:class:`pf_tui.secret.Redactor`) in the message, the fields and an exception's text, and shows
control, escape, C1 and bidi characters as visible escapes (``\\x1b``, ``\\x9b``, ``\\u202e``),
so a record can neither leak a key nor drive the terminal or the log viewer it lands in. Belt and
braces: nothing should put a secret or raw control text in a record in the first place.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import TextIO

from pf_tui.config import Config
from pf_tui.secret import Redactor
from pf_tui.text import escape_text
from pf_tui.wiring import config_redactor

log = logging.getLogger("pf_tui.daemon")

_DAEMON_HANDLER = "_pf_daemon"
"""Attribute that marks the handler :func:`setup_logging` installed (replaced on a second call)."""
MAX_FIELD = 4096
"""Longest string kept in one log field; a longer one ends in ``…``."""


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``ts``, ``level``, ``logger``, ``msg``, then its fields."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self.redactor = redactor if redactor is not None else Redactor()

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
        return json.dumps(self._clean(data), ensure_ascii=False)

    def _clean(self, value: object) -> object:
        """Masked and escaped, recursively; anything JSON cannot hold becomes its ``str``."""
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, dict):
            return {self._text(str(k)): self._clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self._clean(v) for v in value]
        return self._text(value if isinstance(value, str) else str(value))

    def _text(self, text: str) -> str:
        # Mask first, on the raw text: an escape must not split a secret into pieces.
        return escape_text(self.redactor.scrub(text), limit=MAX_FIELD)


def setup_logging(config: Config, stream: TextIO | None = None) -> logging.Handler:
    """JSON-lines logging on stderr with every configured secret masked; returns the handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(config_redactor(config)))
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
