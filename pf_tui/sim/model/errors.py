"""The one exception pure state raises to say "answer the caller with this error"."""

from __future__ import annotations

from pf_tui.usd import JSON


class ApiError(Exception):
    """An error reply: HTTP ``status``, JSON ``{error: code, message, **extra}``."""

    def __init__(self, status: int, code: str, message: str | None = None, **extra: JSON) -> None:
        super().__init__(f"{status} {code}: {message or ''}")
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, JSON]:
        """The JSON object sent to the caller."""
        out: dict[str, JSON] = {"error": self.code}
        if self.message:
            out["message"] = self.message
        out.update(self.extra)
        return out
