"""A Telegram Bot API stand-in: validates HTML like Telegram does, 429s on demand, records sends."""

from __future__ import annotations

import re

from pf_tui.usd import JSON

ALLOWED_TAGS = frozenset({"b", "strong", "i", "em", "u", "s", "code", "pre", "a"})
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s[^<>]*)?)>")
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#\d{1,7}|#x[0-9a-fA-F]{1,6});")
MAX_TEXT = 4096


def html_error(text: str) -> str | None:
    """``None`` when ``text`` is valid Telegram HTML, else the reason Telegram would give."""
    stack: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "<":
            match = _TAG.match(text, i)
            if match is None:
                return f"Unsupported start tag at byte offset {i}"
            closing, name = match[1] == "/", match[2].lower()
            if name not in ALLOWED_TAGS:
                return f'Unsupported start tag "{name}" at byte offset {i}'
            if closing:
                if not stack or stack[-1] != name:
                    return f"Unexpected end tag at byte offset {i}"
                stack.pop()
            else:
                stack.append(name)
            i = match.end()
        elif ch == "&":
            match = _ENTITY.match(text, i)
            if match is None:
                return f"Unsupported entity at byte offset {i}"
            i = match.end()
        elif ch == ">":
            return f"Unexpected character '>' at byte offset {i}"
        else:
            i += 1
    if stack:
        return f'Can\'t find end tag corresponding to start tag "{stack[-1]}"'
    return None


class TelegramStandIn:
    """State behind ``/telegram``: sent messages, the every-n-th 429 knob, message ids."""

    def __init__(self) -> None:
        self.sent: list[dict[str, JSON]] = []
        self.every_n = 0
        self.retry_after = 1
        self.calls = 0
        self._message_id = 0

    def configure(self, body: JSON) -> dict[str, JSON]:
        if not isinstance(body, dict):
            raise ValueError("body must be a JSON object")
        every_n = body.get("every_n", 0)
        retry_after = body.get("retry_after", 1)
        if isinstance(every_n, bool) or not isinstance(every_n, int) or every_n < 0:
            raise ValueError("every_n must be a whole number >= 0")
        if isinstance(retry_after, bool) or not isinstance(retry_after, int) or retry_after < 0:
            raise ValueError("retry_after must be a whole number of seconds")
        self.every_n, self.retry_after, self.calls = every_n, retry_after, 0
        return {"ok": True, "every_n": every_n, "retry_after": retry_after}

    def send(self, token: str, body: JSON, at: float) -> tuple[int, dict[str, JSON]]:
        """Status and Telegram-shaped reply for one ``sendMessage``."""
        self.calls += 1
        if self.every_n and self.calls % self.every_n == 0:
            return 429, {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {self.retry_after}",
                "parameters": {"retry_after": self.retry_after},
            }
        if not isinstance(body, dict):
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: invalid JSON"}
        chat_id = body.get("chat_id")
        text = body.get("text")
        if chat_id is None or chat_id == "":
            return 400, {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: chat_id is empty",
            }
        if not isinstance(text, str) or not text.strip():
            return 400, {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: message text is empty",
            }
        if len(text) > MAX_TEXT:
            return 400, {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: message is too long",
            }
        parse_mode = body.get("parse_mode")
        if isinstance(parse_mode, str) and parse_mode.upper() == "HTML":
            reason = html_error(text)
            if reason is not None:
                return 400, {
                    "ok": False,
                    "error_code": 400,
                    "description": f"Bad Request: can't parse entities: {reason}",
                }
        self._message_id += 1
        record = {
            "message_id": self._message_id,
            "bot_id": token.split(":", 1)[0],
            "chat_id": chat_id,
            "text": text,
            "parse_mode": parse_mode,
            "date": int(at),
        }
        for extra in ("disable_web_page_preview", "disable_notification"):
            if extra in body:
                record[extra] = body[extra]
        self.sent.append(record)
        return 200, {
            "ok": True,
            "result": {
                "message_id": self._message_id,
                "chat": {"id": chat_id},
                "date": int(at),
                "text": text,
            },
        }
